/* SPDX-License-Identifier: MIT */
/*
 * dirstore: a store (volfs/store.h) over a plain host directory, served as
 * a volume by the staging layer.  It is the reference store: the store
 * conformance suite and the staging layer's tests use it where they need
 * no server, and it serves a slow or network-mounted directory.
 *
 * open() keeps an O_PATH descriptor of the directory given with path=.
 * Each op opens the parent of its object beneath it without following any
 * symbolic link (openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or one
 * component at a time with O_NOFOLLOW where that is missing) and acts with
 * *at() calls in that descriptor.  Only regular files and directories are
 * objects: a symbolic link on the host is shown by stat() and list() as
 * a link (S_IFLNK), removed by remove() (the link, never its target) and
 * refused by every other op, a special file is
 * refused (-EACCES) and never listed, so nothing outside the directory is
 * reached.
 *
 * put() and copy() write a temporary file in the target's directory,
 * fsync it and rename it over the target, so a reader sees the old content
 * or the new.  Temporary names start with DS_TMP; list() never shows them
 * and every op refuses a path with such a component.  The rename, and the
 * check of a conditional put before it, happen under the store's mutex, as
 * do the other ops that replace, move or remove a name: to every op of
 * this store a conditional put is one step (the directory is assumed to be
 * written by volfs alone; another writer on the host can slip between the
 * check and the rename).
 *
 * A version is st_ino, st_size, st_mtim and st_ctim: a put makes a new
 * file while the old one still exists, so its inode differs from the one it
 * replaces, and a change in place moves the change time.  An inode number
 * freed by one put may come back in a later one; the change time tells the
 * two apart as far as the file system's clock resolves them.
 *
 * list() pages by name: a page is the DS_PAGE smallest names (strcmp
 * order) after the cursor, and the cursor is the last name of the page, so
 * a name present through a whole listing is listed exactly once whatever
 * else is added or removed meanwhile.  Each page reads the whole directory;
 * it keeps only the page in memory.
 *
 * Test knobs, read from the environment by open():
 *
 *   VOLFS_DIRSTORE_FAIL=FILE   while FILE exists, every op (and open())
 *                              fails with -EHOSTUNREACH: a server outage.
 *   VOLFS_DIRSTORE_DELAY_MS=N  every op waits N ms first: a server's
 *                              latency.  An op whose deadline comes before
 *                              that waits until the deadline and fails
 *                              with -ETIMEDOUT, as a request to a slow
 *                              server does.
 *
 * Without the delay knob an op ignores its deadline: local calls return
 * quickly.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#endif

#include "volfs/backend.h"
#include "volfs/backend_util.h"
#include "volfs/stage.h"
#include "volfs/store.h"

#if defined(HAVE_LINUX_OPENAT2_H) && HAVE_DECL_SYS_OPENAT2
#define DS_HAVE_OPENAT2 1
#endif

#define DS_CAPS                                                                \
	(VOLFS_STORE_DIRS | VOLFS_STORE_RENAME | VOLFS_STORE_COPY |            \
	 VOLFS_STORE_VERSIONS | VOLFS_STORE_TIMES)

/* Entries per list() page. */
#define DS_PAGE 1000
/* The prefix of temporary files. */
#define DS_TMP ".volfs-tmp-"
#define DS_TMP_LEN (sizeof(DS_TMP) - 1)
#define DS_TMP_MAX 64
/* openat2() fails with EAGAIN when a rename races with the resolution;
 * a temporary name may be left over from an earlier process. */
#define DS_RETRIES 16
/* The buffer of a copy where copy_file_range() cannot be used. */
#define DS_COPY_BUF (128 * 1024)
/* The most VOLFS_DIRSTORE_DELAY_MS may ask for: an hour. */
#define DS_DELAY_MAX 3600000UL
/* The most timeout= may say, in seconds (the staging layer's limit). */
#define DS_TIMEOUT_MAX 600U

struct dirstore {
	/* The directory given with path=, O_PATH. */
	int rootfd;
	/* VOLFS_DIRSTORE_FAIL, or NULL. */
	char *fail_file;
	/* VOLFS_DIRSTORE_DELAY_MS. */
	unsigned delay_ms;
	/* Makes a conditional put's check and rename one step to the other
	 * ops that replace, move or remove a name. */
	pthread_mutex_t lock;
	/* Numbers temporary names. */
	unsigned long serial;
};

/* The one place a system error becomes a store error (store.h). */
static int ds_err(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR:
	case EISDIR:
	case EEXIST:
	case ENOTEMPTY:
	case EACCES:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case EIO:
	case ENOSPC:
	case ENOMEM:
	case EINVAL:
	case ENAMETOOLONG:
		return -e;
	/* A symbolic link in the way (RESOLVE_NO_SYMLINKS, O_NOFOLLOW), a
	 * read-only or busy directory, a move to another mount: refused. */
	case ELOOP:
	case EPERM:
	case EROFS:
	case EBUSY:
	case EXDEV:
	case ETXTBSY:
		return -EACCES;
	case EDQUOT:
	case EFBIG:
		return -ENOSPC;
	case EMFILE:
	case ENFILE:
		return -ENOMEM;
	/* A network file system under the directory lost its server. */
	case ENETUNREACH:
	case ENETDOWN:
	case EHOSTDOWN:
	case ECONNREFUSED:
	case ECONNRESET:
	case ENOTCONN:
		return -EHOSTUNREACH;
	/* ESTALE among them: a stale handle of a network file system is
	 * not a version that failed a condition. */
	default:
		return -EIO;
	}
}

/*
 * Simulates the server (the knobs above); 0 when the op may go on.  Every
 * op calls it first.
 */
static int ds_enter(struct dirstore *ds, int64_t deadline)
{
	struct timespec ts;
	int64_t until;
	int late = 0;

	if (ds->delay_ms) {
		until = volfs_store_deadline(ds->delay_ms);
		if (until > deadline) {
			until = deadline;
			late = 1;
		}
		ts.tv_sec = until / 1000;
		ts.tv_nsec = (until % 1000) * 1000000;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) == EINTR)
			;
		if (late)
			return -ETIMEDOUT;
	}
	if (ds->fail_file && access(ds->fail_file, F_OK) == 0)
		return -EHOSTUNREACH;
	return 0;
}

/*
 * Checks the shape of an object's path (store.h): 0, -EINVAL,
 * -ENAMETOOLONG, or -EACCES for a component that is a temporary name.
 */
static int ds_check(const char *path)
{
	const char *p = path, *end;
	size_t len;

	if (strnlen(path, PATH_MAX) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (!*path)
		return 0;
	for (;;) {
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len == 0 || (len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		if (len >= DS_TMP_LEN && memcmp(p, DS_TMP, DS_TMP_LEN) == 0)
			return -EACCES;
		if (!*end)
			return 0;
		p = end + 1;
	}
}

/* Opens the component of len bytes at p in fd, never following a link. */
static int ds_walk_one(int fd, const char *p, size_t len, int flags)
{
	char comp[NAME_MAX + 1];
	struct stat st;
	int next;

	memcpy(comp, p, len);
	comp[len] = '\0';
	next = openat(fd, comp, flags | O_NOFOLLOW | O_CLOEXEC);
	if (next >= 0)
		return next;
	next = -errno;
	/* O_DIRECTORY meets a link as "not a directory"; say what
	 * openat2() says. */
	if (next == -ENOTDIR &&
	    fstatat(fd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		next = -ELOOP;
	return next;
}

/*
 * Opens path below dirfd one component at a time, never following a link:
 * used where openat2() is missing.  Returns the descriptor or -errno.
 */
static int ds_walk(int dirfd, const char *path, int flags)
{
	const char *p = path, *end;
	int fd = dirfd, next, last;
	size_t len;

	for (;;) {
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		last = *end == '\0';
		if (len > NAME_MAX)
			next = -ENAMETOOLONG;
		else
			next = ds_walk_one(fd, p, len,
					   last ? flags : O_PATH | O_DIRECTORY);
		if (fd != dirfd)
			close(fd);
		if (next < 0 || last)
			return next;
		fd = next;
		p = end + 1;
	}
}

/*
 * Opens path (a checked, non-empty path) beneath the store's root without
 * following any symbolic link; the descriptor or a store error.
 */
static int ds_open_beneath(struct dirstore *ds, const char *path, int flags)
{
	int fd;
#ifdef DS_HAVE_OPENAT2
	struct open_how how = {
		/* No O_NOFOLLOW: with it a final link meets O_DIRECTORY as
		 * "not a directory"; RESOLVE_NO_SYMLINKS refuses it. */
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	int tries = 0;
	long rc;

	do
		rc = syscall(SYS_openat2, ds->rootfd, path, &how, sizeof(how));
	while (rc < 0 && errno == EAGAIN && ++tries < DS_RETRIES);
	if (rc >= 0)
		return (int)rc;
	if (errno != ENOSYS)
		return ds_err(errno);
#endif
	fd = ds_walk(ds->rootfd, path, flags);
	return fd < 0 ? ds_err(-fd) : fd;
}

/*
 * Opens the directory holding path's object (O_PATH or O_RDONLY in flags)
 * and points *name at the object's name in it.  path is checked and not
 * the root.
 */
static int ds_parent(struct dirstore *ds, const char *path, int flags,
		     const char **name)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	int fd;

	if (!slash) {
		*name = path;
		fd = openat(ds->rootfd, ".", flags | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? ds_err(errno) : fd;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	*name = slash + 1;
	return ds_open_beneath(ds, dir, flags | O_DIRECTORY);
}

/* Only regular files and directories are objects. */
static int ds_kind(const struct stat *st)
{
	return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) ? 0 : -EACCES;
}

/* What stat() and list() show: objects, and symbolic links as links (so
 * the volume shows what the host holds), never followed. */
static int ds_shown(const struct stat *st)
{
	return S_ISLNK(st->st_mode) ? 0 : ds_kind(st);
}

static void ds_version(const struct stat *st, char *v)
{
	snprintf(v, VOLFS_STORE_VERSION_MAX, "%llx-%llx-%llx.%lx-%llx.%lx",
		 (unsigned long long)st->st_ino,
		 (unsigned long long)st->st_size,
		 (unsigned long long)st->st_mtim.tv_sec,
		 (unsigned long)st->st_mtim.tv_nsec,
		 (unsigned long long)st->st_ctim.tv_sec,
		 (unsigned long)st->st_ctim.tv_nsec);
}

static void ds_attr(const struct stat *st, struct volfs_store_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->st.st_mode = st->st_mode;
	a->st.st_size = st->st_size;
	a->st.st_mtim = st->st_mtim;
	a->st.st_ctim = st->st_ctim;
	a->st.st_atim = st->st_atim;
	a->st.st_uid = st->st_uid;
	a->st.st_gid = st->st_gid;
	a->st.st_ino = st->st_ino;
	a->st.st_nlink = st->st_nlink;
	ds_version(st, a->version);
}

/* lstat() of a checked path, the root included; a store error. */
static int ds_lstat(struct dirstore *ds, const char *path, struct stat *st)
{
	const char *name;
	int dfd, rc = 0;

	if (!*path)
		return fstat(ds->rootfd, st) < 0 ? ds_err(errno) : 0;
	dfd = ds_parent(ds, path, O_PATH, &name);
	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = ds_err(errno);
	close(dfd);
	return rc;
}

/* Opens a regular file for reading; -EISDIR for a directory. */
static int ds_open_file(struct dirstore *ds, const char *path, struct stat *st)
{
	int fd, rc;

	if (!*path)
		return -EISDIR;
	/* O_NONBLOCK: a FIFO put there on the host must not hang the op
	 * before fstat() refuses it; regular files ignore it. */
	fd = ds_open_beneath(ds, path, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return fd;
	rc = fstat(fd, st) < 0 ? ds_err(errno) : 0;
	if (!rc && S_ISDIR(st->st_mode))
		rc = -EISDIR;
	else if (!rc && !S_ISREG(st->st_mode))
		rc = -EACCES;
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

static ssize_t ds_pwrite_all(int fd, const char *buf, size_t len, off_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pwrite(fd, buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ds_err(errno);
		done += (size_t)n;
	}
	return (ssize_t)done;
}

static ssize_t ds_pread_all(int fd, char *buf, size_t len, off_t off)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ds_err(errno);
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/*
 * Copies up to len bytes of in from ioff into out at ooff, leaving both
 * file offsets alone; the count, short only at in's end.
 */
static ssize_t ds_transfer(int in, off_t ioff, int out, off_t ooff, size_t len)
{
	char *buf = NULL;
	size_t done = 0, want;
	ssize_t n = 0, w;

	while (done < len) {
		want = len - done;
		if (!buf) {
			n = copy_file_range(in, &ioff, out, &ooff, want, 0);
			/* Two file systems, a pipe, a kernel without it: the
			 * bytes go through a buffer instead. */
			if (n < 0 && (errno == EXDEV || errno == EINVAL ||
				      errno == ENOSYS || errno == EOPNOTSUPP)) {
				buf = malloc(DS_COPY_BUF);
				if (!buf)
					return -ENOMEM;
				continue;
			}
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				n = ds_err(errno);
				break;
			}
		} else {
			n = ds_pread_all(
				in, buf,
				want < DS_COPY_BUF ? want : DS_COPY_BUF, ioff);
			if (n <= 0)
				break;
			w = ds_pwrite_all(out, buf, (size_t)n, ooff);
			if (w < 0) {
				n = w;
				break;
			}
			ioff += n;
			ooff += n;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	free(buf);
	return n < 0 ? n : (ssize_t)done;
}

/*
 * Makes a temporary file in dfd, its name in tmp; the descriptor (open
 * for writing) or a store error.
 */
static int ds_tmp_open(struct dirstore *ds, int dfd, char *tmp)
{
	unsigned long serial;
	int fd;

	for (int tries = 0; tries < DS_RETRIES; tries++) {
		serial = __atomic_fetch_add(&ds->serial, 1, __ATOMIC_RELAXED);
		snprintf(tmp, DS_TMP_MAX, DS_TMP "%ld-%lu", (long)getpid(),
			 serial);
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			    0666);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return ds_err(errno);
	}
	return -EIO;
}

/* renameat2(RENAME_NOREPLACE), with the store's lock held. */
static int ds_rename_noreplace(int ofd, const char *oname, int nfd,
			       const char *nname)
{
	struct stat st;

	if (renameat2(ofd, oname, nfd, nname, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL)
		return ds_err(errno);
	/* A file system without the flag (some network ones): the lock
	 * makes the check and the rename one step to this store's ops. */
	if (fstatat(nfd, nname, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	if (errno != ENOENT)
		return ds_err(errno);
	return renameat(ofd, oname, nfd, nname) < 0 ? ds_err(errno) : 0;
}

/*
 * Checks if_version (as put() takes it) against name in dfd and renames
 * the temporary file tmp over it, under the store's lock.
 */
static int ds_commit(struct dirstore *ds, int dfd, const char *tmp,
		     const char *name, const char *if_version)
{
	char v[VOLFS_STORE_VERSION_MAX];
	struct stat st;
	int rc = 0;

	pthread_mutex_lock(&ds->lock);
	if (if_version && !*if_version) {
		rc = ds_rename_noreplace(dfd, tmp, dfd, name);
		goto out;
	}
	if (if_version) {
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			/* No object is not the version asked for. */
			rc = errno == ENOENT ? -ESTALE : ds_err(errno);
			goto out;
		}
		ds_version(&st, v);
		if (strcmp(v, if_version) != 0) {
			rc = -ESTALE;
			goto out;
		}
	}
	if (renameat(dfd, tmp, dfd, name) < 0)
		rc = ds_err(errno);
out:
	pthread_mutex_unlock(&ds->lock);
	return rc;
}

/*
 * The end of put() and copy(): makes the filled temporary file tfd (tmp in
 * dfd) durable, renames it over name and fills *out (when not NULL).  On
 * failure the temporary file is gone.
 */
static int ds_publish(struct dirstore *ds, int dfd, int tfd, const char *tmp,
		      const char *name, const char *if_version,
		      struct volfs_store_attr *out)
{
	struct stat st;
	int rc;

	if (fsync(tfd) < 0) {
		rc = ds_err(errno);
		goto err_unlink;
	}
	rc = ds_commit(ds, dfd, tmp, name, if_version);
	if (rc)
		goto err_unlink;
	/* The new name is durable too when put() returns.  Should this
	 * fail, the object is there already: the caller sees the error and
	 * puts again. */
	if (fsync(dfd) < 0)
		return ds_err(errno);
	if (out) {
		/* The file this put made, whatever replaced it since. */
		if (fstat(tfd, &st) < 0)
			return ds_err(errno);
		ds_attr(&st, out);
	}
	return 0;

err_unlink:
	unlinkat(dfd, tmp, 0);
	return rc;
}

static int ds_open(const struct volfs_volinfo *vi, void **st, char *err,
		   size_t errlen)
{
	const char *path = volfs_be_opt(vi, "path");
	const char *fail = getenv("VOLFS_DIRSTORE_FAIL");
	const char *delay = getenv("VOLFS_DIRSTORE_DELAY_MS");
	struct dirstore *ds;
	unsigned long ms = 0;
	char *end;
	int rc;

	if (!path || path[0] != '/')
		return volfs_be_errf(err, errlen, -EINVAL,
				     "option 'path': give the host directory's "
				     "full path, starting with '/'");
	if (delay && *delay) {
		errno = 0;
		ms = strtoul(delay, &end, 10);
		if (errno || *end || delay[0] < '0' || delay[0] > '9' ||
		    ms > DS_DELAY_MAX)
			return volfs_be_errf(err, errlen, -EINVAL,
					     "VOLFS_DIRSTORE_DELAY_MS: '%s' is "
					     "not a number of milliseconds "
					     "up to %lu",
					     delay, DS_DELAY_MAX);
	}
	ds = calloc(1, sizeof(*ds));
	if (!ds)
		return volfs_be_errf(err, errlen, -ENOMEM, "out of memory");
	ds->delay_ms = (unsigned)ms;
	ds->rootfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ds->rootfd < 0) {
		rc = -errno;
		volfs_be_errf(err, errlen, rc,
			      "option 'path': cannot open %s: %s: check that "
			      "the directory exists and volfs can reach it",
			      path, volfs_be_strerror(rc));
		goto err_free;
	}
	if (fail && *fail) {
		ds->fail_file = strdup(fail);
		if (!ds->fail_file) {
			rc = volfs_be_errf(err, errlen, -ENOMEM,
					   "out of memory");
			goto err_close;
		}
		if (access(fail, F_OK) == 0) {
			rc = volfs_be_errf(err, errlen, -EHOSTUNREACH,
					   "the store at %s cannot be reached "
					   "(VOLFS_DIRSTORE_FAIL: %s exists): "
					   "remove that file",
					   path, fail);
			goto err_free_fail;
		}
	}
	rc = pthread_mutex_init(&ds->lock, NULL);
	if (rc) {
		rc = volfs_be_errf(err, errlen, -rc, "cannot make a mutex: %s",
				   strerror(rc));
		goto err_free_fail;
	}
	if (ds->delay_ms && vi->log)
		vi->log(VOLFS_LOG_NOTICE,
			"dirstore %s: every operation waits %u ms "
			"(VOLFS_DIRSTORE_DELAY_MS)",
			path, ds->delay_ms);
	if (ds->fail_file && vi->log)
		vi->log(VOLFS_LOG_NOTICE,
			"dirstore %s: operations fail while %s exists "
			"(VOLFS_DIRSTORE_FAIL)",
			path, ds->fail_file);
	*st = ds;
	return 0;

err_free_fail:
	free(ds->fail_file);
err_close:
	close(ds->rootfd);
err_free:
	free(ds);
	return rc;
}

static void ds_close(void *st)
{
	struct dirstore *ds = st;

	pthread_mutex_destroy(&ds->lock);
	close(ds->rootfd);
	free(ds->fail_file);
	free(ds);
}

static int ds_statfs(void *st, struct statvfs *sv, int64_t deadline)
{
	struct dirstore *ds = st;
	int rc = ds_enter(ds, deadline);

	if (rc)
		return rc;
	return fstatvfs(ds->rootfd, sv) < 0 ? ds_err(errno) : 0;
}

static int ds_stat(void *st, const char *path, struct volfs_store_attr *a,
		   int64_t deadline)
{
	struct dirstore *ds = st;
	struct stat sb;
	int rc;

	rc = ds_enter(ds, deadline);
	if (!rc)
		rc = ds_check(path);
	if (!rc)
		rc = ds_lstat(ds, path, &sb);
	if (!rc)
		rc = ds_shown(&sb);
	if (!rc)
		ds_attr(&sb, a);
	return rc;
}

/* One list() page: the DS_PAGE smallest names after a cursor. */
struct ds_page {
	/* A max-heap of names while the directory is read, sorted after. */
	char **heap;
	size_t n;
	/* The names after the cursor: more than DS_PAGE means another page
	 * follows. */
	size_t seen;
};

static int ds_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ds_heap_down(char **h, size_t n, size_t i)
{
	size_t l, r, m;
	char *t;

	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < n && strcmp(h[l], h[m]) > 0)
			m = l;
		if (r < n && strcmp(h[r], h[m]) > 0)
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void ds_heap_up(char **h, size_t i)
{
	size_t p;
	char *t;

	while (i > 0) {
		p = (i - 1) / 2;
		if (strcmp(h[p], h[i]) >= 0)
			return;
		t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

/* Offers name to the page (slots: DS_PAGE buffers behind the heap). */
static void ds_page_add(struct ds_page *pg, char (*slots)[NAME_MAX + 1],
			const char *name)
{
	size_t len = strlen(name);

	pg->seen++;
	if (pg->n < DS_PAGE) {
		pg->heap[pg->n] = slots[pg->n];
		memcpy(pg->heap[pg->n], name, len + 1);
		ds_heap_up(pg->heap, pg->n++);
	} else if (strcmp(name, pg->heap[0]) < 0) {
		memcpy(pg->heap[0], name, len + 1);
		ds_heap_down(pg->heap, pg->n, 0);
	}
}

/* Reads directory dir into pg: the names after after, temporary and
 * special files left out. */
static int ds_page_read(DIR *dir, const char *after, struct ds_page *pg,
			char (*slots)[NAME_MAX + 1])
{
	struct dirent *de;

	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (!de)
			return errno ? ds_err(errno) : 0;
		if (de->d_type != DT_REG && de->d_type != DT_DIR &&
		    de->d_type != DT_LNK && de->d_type != DT_UNKNOWN)
			continue;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strncmp(de->d_name, DS_TMP, DS_TMP_LEN) == 0)
			continue;
		if (*after && strcmp(de->d_name, after) <= 0)
			continue;
		ds_page_add(pg, slots, de->d_name);
	}
}

/*
 * The cursor is the name to go on after.  When fill stops the listing, the
 * cursor names the entry before the one it stopped at, so that a listing
 * taken up again gives that entry again (as volfs_fill_fn does with an
 * entry it has no room for).
 */
static int ds_list(void *st, const char *path, char *cursor, size_t cursorlen,
		   volfs_store_fill_fn fill, void *ctx, int64_t deadline)
{
	struct dirstore *ds = st;
	char after[NAME_MAX + 1], (*slots)[NAME_MAX + 1];
	struct ds_page pg = {0};
	struct volfs_store_attr a;
	struct stat sb;
	const char *last;
	size_t len;
	DIR *dir;
	int fd, rc;

	rc = ds_enter(ds, deadline);
	if (!rc)
		rc = ds_check(path);
	if (rc)
		return rc;
	/* The cursor holds a name. */
	len = strnlen(cursor, cursorlen);
	if (cursorlen <= NAME_MAX || len > NAME_MAX || strchr(cursor, '/'))
		return -EINVAL;
	memcpy(after, cursor, len + 1);
	if (*path)
		fd = ds_open_beneath(ds, path, O_RDONLY | O_DIRECTORY);
	else
		fd = openat(ds->rootfd, ".",
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return *path ? fd : ds_err(errno);
	dir = fdopendir(fd);
	if (!dir) {
		rc = ds_err(errno);
		close(fd);
		return rc;
	}
	slots = malloc(DS_PAGE * sizeof(*slots));
	pg.heap = malloc(DS_PAGE * sizeof(*pg.heap));
	if (!slots || !pg.heap) {
		rc = -ENOMEM;
		goto out;
	}
	rc = ds_page_read(dir, after, &pg, slots);
	if (rc)
		goto out;
	qsort(pg.heap, pg.n, sizeof(*pg.heap), ds_name_cmp);
	last = after;
	for (size_t i = 0; i < pg.n; i++) {
		rc = fstatat(dirfd(dir), pg.heap[i], &sb, AT_SYMLINK_NOFOLLOW);
		/* Removed since it was read: not listed. */
		if (rc < 0 && errno == ENOENT)
			continue;
		if (rc < 0) {
			rc = ds_err(errno);
			goto out;
		}
		if (ds_shown(&sb))
			continue;
		ds_attr(&sb, &a);
		if (fill(ctx, pg.heap[i], &a))
			goto out_cursor;
		last = pg.heap[i];
	}
	rc = 0;
	if (pg.seen <= DS_PAGE)
		last = "";
	else
		last = pg.heap[pg.n - 1];
out_cursor:
	memmove(cursor, last, strlen(last) + 1);
out:
	free(pg.heap);
	free(slots);
	closedir(dir);
	return rc;
}

static ssize_t ds_get(void *st, const char *path, const char *version,
		      off_t off, size_t len, int fd, void *buf,
		      int64_t deadline)
{
	struct dirstore *ds = st;
	char v[VOLFS_STORE_VERSION_MAX];
	struct stat sb;
	ssize_t rc;
	int sfd;

	rc = ds_enter(ds, deadline);
	if (!rc)
		rc = ds_check(path);
	if (!rc && (off < 0 || (fd < 0 && !buf && len)))
		rc = -EINVAL;
	if (rc)
		return rc;
	sfd = ds_open_file(ds, path, &sb);
	if (sfd < 0)
		return sfd;
	if (version && *version) {
		ds_version(&sb, v);
		if (strcmp(v, version) != 0) {
			rc = -ESTALE;
			goto out;
		}
	}
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	if (fd >= 0)
		rc = ds_transfer(sfd, off, fd, off, len);
	else
		rc = ds_pread_all(sfd, buf, len, off);
out:
	close(sfd);
	return rc;
}

static int ds_put(void *st, const char *path, int fd, off_t size,
		  const char *if_version, const struct timespec *mtime,
		  struct volfs_store_attr *out, int64_t deadline)
{
	struct dirstore *ds = st;
	const struct timespec times[2] = {
		{.tv_nsec = UTIME_OMIT},
		mtime ? *mtime : (struct timespec){.tv_nsec = UTIME_OMIT},
	};
	char tmp[DS_TMP_MAX];
	const char *name;
	struct stat old;
	int dfd, tfd, rc;
	ssize_t n;

	rc = ds_enter(ds, deadline);
	if (!rc)
		rc = ds_check(path);
	if (!rc && !*path)
		rc = -EISDIR;
	if (!rc && (size < 0 || fd < 0))
		rc = -EINVAL;
	if (rc)
		return rc;
	/* Read-only rather than O_PATH: fsync() makes the rename durable. */
	dfd = ds_parent(ds, path, O_RDONLY, &name);
	if (dfd < 0)
		return dfd;
	tfd = ds_tmp_open(ds, dfd, tmp);
	if (tfd < 0) {
		rc = tfd;
		goto out_dir;
	}
	n = ds_transfer(fd, 0, tfd, 0, (size_t)size);
	if (n >= 0 && n < size)
		/* fd holds fewer than size bytes: nothing is put. */
		n = -EIO;
	if (n < 0) {
		rc = (int)n;
		goto err_unlink;
	}
	/* A replaced file keeps its permissions. */
	if (fstatat(dfd, name, &old, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(old.st_mode) && fchmod(tfd, old.st_mode & 07777) < 0) {
		rc = ds_err(errno);
		goto err_unlink;
	}
	if (mtime && futimens(tfd, times) < 0) {
		rc = ds_err(errno);
		goto err_unlink;
	}
	rc = ds_publish(ds, dfd, tfd, tmp, name, if_version, out);
	goto out_tmp;

err_unlink:
	unlinkat(dfd, tmp, 0);
out_tmp:
	close(tfd);
out_dir:
	close(dfd);
	return rc;
}

static int ds_remove(void *st, const char *path, int64_t deadline)
{
	struct dirstore *ds = st;
	const char *name;
	struct stat sb;
	int dfd, rc;

	rc = ds_enter(ds, deadline);
	if (!rc)
		rc = ds_check(path);
	if (!rc && !*path)
		rc = -EISDIR;
	if (rc)
		return rc;
	dfd = ds_parent(ds, path, O_PATH, &name);
	if (dfd < 0)
		return dfd;
	pthread_mutex_lock(&ds->lock);
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		rc = ds_err(errno);
	else if (S_ISDIR(sb.st_mode))
		rc = -EISDIR;
	else if (!S_ISREG(sb.st_mode) && !S_ISLNK(sb.st_mode))
		rc = -EACCES;
	else if (unlinkat(dfd, name, 0) < 0)
		rc = ds_err(errno);
	pthread_mutex_unlock(&ds->lock);
	close(dfd);
	return rc;
}

static int ds_mkdir(void *st, const char *path, mode_t mode, int64_t deadline)
{
	struct dirstore *ds = st;
	const char *name;
	int dfd, rc;

	rc = ds_enter(ds, deadline);
	if (!rc)
		rc = ds_check(path);
	if (!rc && !*path)
		rc = -EEXIST;
	if (rc)
		return rc;
	dfd = ds_parent(ds, path, O_PATH, &name);
	if (dfd < 0)
		return dfd;
	if (mkdirat(dfd, name, mode & 07777) < 0)
		rc = ds_err(errno);
	close(dfd);
	return rc;
}

static int ds_rmdir(void *st, const char *path, int64_t deadline)
{
	struct dirstore *ds = st;
	const char *name;
	int dfd, rc;

	rc = ds_enter(ds, deadline);
	if (!rc)
		rc = ds_check(path);
	/* The root stays. */
	if (!rc && !*path)
		rc = -EACCES;
	if (rc)
		return rc;
	dfd = ds_parent(ds, path, O_PATH, &name);
	if (dfd < 0)
		return dfd;
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0)
		rc = errno == EEXIST ? -ENOTEMPTY : ds_err(errno);
	close(dfd);
	return rc;
}

static int ds_rename(void *st, const char *from, const char *to, unsigned flags,
		     int64_t deadline)
{
	struct dirstore *ds = st;
	const char *oname, *nname;
	int ofd, nfd, rc;
	struct stat sb;

	rc = ds_enter(ds, deadline);
	if (!rc)
		rc = ds_check(from);
	if (!rc)
		rc = ds_check(to);
	if (!rc && (flags & ~(unsigned)VOLFS_RENAME_NOREPLACE))
		rc = -EINVAL;
	/* The root is neither moved nor replaced. */
	if (!rc && (!*from || !*to))
		rc = -EACCES;
	if (rc)
		return rc;
	ofd = ds_parent(ds, from, O_PATH, &oname);
	if (ofd < 0)
		return ofd;
	nfd = ds_parent(ds, to, O_PATH, &nname);
	if (nfd < 0) {
		rc = nfd;
		goto out_old;
	}
	pthread_mutex_lock(&ds->lock);
	if (fstatat(ofd, oname, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		rc = ds_err(errno);
	else
		rc = ds_kind(&sb);
	if (!rc && (flags & VOLFS_RENAME_NOREPLACE))
		rc = ds_rename_noreplace(ofd, oname, nfd, nname);
	else if (!rc && renameat(ofd, oname, nfd, nname) < 0)
		rc = ds_err(errno);
	pthread_mutex_unlock(&ds->lock);
	close(nfd);
out_old:
	close(ofd);
	return rc;
}

static int ds_copy(void *st, const char *from, const char *to, int64_t deadline)
{
	struct dirstore *ds = st;
	char tmp[DS_TMP_MAX];
	const char *name;
	int sfd, dfd, tfd, rc;
	struct stat sb;
	ssize_t n;

	rc = ds_enter(ds, deadline);
	if (!rc)
		rc = ds_check(from);
	if (!rc)
		rc = ds_check(to);
	if (!rc && !*to)
		rc = -EISDIR;
	if (rc)
		return rc;
	sfd = ds_open_file(ds, from, &sb);
	if (sfd < 0)
		return sfd;
	dfd = ds_parent(ds, to, O_RDONLY, &name);
	if (dfd < 0) {
		rc = dfd;
		goto out_src;
	}
	tfd = ds_tmp_open(ds, dfd, tmp);
	if (tfd < 0) {
		rc = tfd;
		goto out_dir;
	}
	n = ds_transfer(sfd, 0, tfd, 0, SSIZE_MAX);
	if (n < 0) {
		rc = (int)n;
		goto err_unlink;
	}
	if (fchmod(tfd, sb.st_mode & 07777) < 0) {
		rc = ds_err(errno);
		goto err_unlink;
	}
	rc = ds_publish(ds, dfd, tfd, tmp, name, NULL, NULL);
	goto out_tmp;

err_unlink:
	unlinkat(dfd, tmp, 0);
out_tmp:
	close(tfd);
out_dir:
	close(dfd);
out_src:
	close(sfd);
	return rc;
}

static int ds_setattr(void *st, const char *path, unsigned mask,
		      const struct volfs_store_attr *a, int64_t deadline)
{
	struct dirstore *ds = st;
	struct timespec times[2] = {{.tv_nsec = UTIME_OMIT},
				    {.tv_nsec = UTIME_OMIT}};
	const char *name;
	struct stat sb;
	int dfd, rc;

	rc = ds_enter(ds, deadline);
	if (!rc)
		rc = ds_check(path);
	if (!rc &&
	    (mask & ~(unsigned)(VOLFS_STORE_SET_MTIME | VOLFS_STORE_SET_ATIME)))
		rc = -EINVAL;
	if (rc)
		return rc;
	if (mask & VOLFS_STORE_SET_ATIME)
		times[0] = a->st.st_atim;
	if (mask & VOLFS_STORE_SET_MTIME)
		times[1] = a->st.st_mtim;
	if (!*path) {
		/* utimensat() takes no empty path, and O_PATH descriptors
		 * no futimens(). */
		dfd = openat(ds->rootfd, ".",
			     O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return ds_err(errno);
		rc = futimens(dfd, times) < 0 ? ds_err(errno) : 0;
		close(dfd);
		return rc;
	}
	dfd = ds_parent(ds, path, O_PATH, &name);
	if (dfd < 0)
		return dfd;
	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		rc = ds_err(errno);
	else
		rc = ds_kind(&sb);
	if (!rc && utimensat(dfd, name, times, AT_SYMLINK_NOFOLLOW) < 0)
		rc = ds_err(errno);
	close(dfd);
	return rc;
}

static const struct volfs_store dirstore_store = {
	.abi_version = VOLFS_STORE_ABI,
	.size = sizeof(struct volfs_store),
	.name = "dirstore",
	.caps = DS_CAPS,
	.open = ds_open,
	.close = ds_close,
	.statfs = ds_statfs,
	.stat = ds_stat,
	.list = ds_list,
	.get = ds_get,
	.put = ds_put,
	.remove = ds_remove,
	.mkdir = ds_mkdir,
	.rmdir = ds_rmdir,
	.rename = ds_rename,
	.copy = ds_copy,
	.setattr = ds_setattr,
	.refresh = NULL,
};

static int ds_validate(const struct volfs_volinfo *vi, char *err, size_t errlen)
{
	const char *host = volfs_be_opt(vi, "path");
	const char *timeout = volfs_be_opt(vi, "timeout");
	unsigned long secs;
	struct stat st;
	char *end;
	int rc;

	if (!host || host[0] != '/')
		return volfs_be_errf(err, errlen, -EINVAL,
				     "option 'path': '%s' is not an absolute "
				     "path: give the host directory's full "
				     "path, starting with '/'",
				     host ? host : "");
	if (stat(host, &st) < 0) {
		rc = -errno;
		return volfs_be_errf(err, errlen, rc,
				     "option 'path': cannot use %s: %s: give "
				     "an existing directory volfs can reach",
				     host, volfs_be_strerror(rc));
	}
	if (!S_ISDIR(st.st_mode))
		return volfs_be_errf(err, errlen, -ENOTDIR,
				     "option 'path': %s is not a directory: "
				     "give a directory",
				     host);
	if (access(host, R_OK | W_OK | X_OK) < 0) {
		rc = -errno;
		return volfs_be_errf(err, errlen, rc,
				     "option 'path': cannot write to %s: %s: "
				     "give volfs write access to the directory",
				     host, volfs_be_strerror(rc));
	}
	/* Whole seconds, as the staging layer reads it. */
	if (timeout) {
		errno = 0;
		secs = strtoul(timeout, &end, 10);
		if (errno || *end || timeout[0] < '0' || timeout[0] > '9' ||
		    secs < 1 || secs > DS_TIMEOUT_MAX)
			return volfs_be_errf(err, errlen, -EINVAL,
					     "option 'timeout': '%s' is not a "
					     "number of seconds from 1 to %u",
					     timeout, DS_TIMEOUT_MAX);
	}
	return volfs_stage_validate(vi, err, errlen);
}

static int ds_be_open(const struct volfs_volinfo *vi, void **vol, char *err,
		      size_t errlen)
{
	return volfs_stage_open(&dirstore_store, vi, vol, err, errlen);
}

static const struct volfs_optdesc ds_options[] = {
	{
		.key = "path",
		.flags = VOLFS_OPT_REQUIRED | VOLFS_OPT_HOST_DIR,
		.help = "the existing host directory to serve (volfs rm "
			"leaves it alone)",
	},
	VOLFS_STAGE_OPTDESCS,
	{
		.key = "timeout",
		.help = "seconds after which an operation on a slow or "
			"network-mounted directory fails (default 20)",
	},
	{.key = NULL},
};

static const struct volfs_backend dirstore_backend = {
	.abi_version = VOLFS_BACKEND_ABI,
	.size = sizeof(struct volfs_backend),
	.name = "dirstore",
	.description = "a host directory behind the staging cache (reference "
		       "store; a slow or network-mounted directory)",
	.caps = VOLFS_STAGE_CAPS,
	.options = ds_options,
	.validate = ds_validate,
	.open = ds_be_open,
	VOLFS_STAGE_BACKEND_OPS,
};

const struct volfs_store *volfs_store_dirstore(void);
const struct volfs_backend *volfs_backend_dirstore(void);

const struct volfs_store *volfs_store_dirstore(void)
{
	return &dirstore_store;
}

const struct volfs_backend *volfs_backend_dirstore(void)
{
	return &dirstore_backend;
}
