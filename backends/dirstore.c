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
#include "pathfs.h"
#include "volfs/store.h"

#include "dirstore_int.h"

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

	dfd = ds_parent_of(ds, path, deadline, O_PATH, -EISDIR, &name);
	if (dfd < 0)
		return dfd;
	rc = 0;
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

	dfd = ds_parent_of(ds, path, deadline, O_PATH, -EEXIST, &name);
	if (dfd < 0)
		return dfd;
	rc = 0;
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

	/* The root stays. */
	dfd = ds_parent_of(ds, path, deadline, O_PATH, -EACCES, &name);
	if (dfd < 0)
		return dfd;
	rc = 0;
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
