/* SPDX-License-Identifier: MIT */
/*
 * dirstore's helpers: the one place a system error becomes a store error,
 * the test knobs, paths checked and opened beneath the root without
 * following a link, attributes and versions, copies of data, temporary
 * files and their commit (dirstore_int.h).
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

#include "dirstore_int.h"

int ds_err(int e)
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

int ds_enter(struct dirstore *ds, int64_t deadline)
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

int ds_check(const char *path)
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

int ds_open_beneath(struct dirstore *ds, const char *path, int flags)
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

int ds_parent(struct dirstore *ds, const char *path, int flags,
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

int ds_kind(const struct stat *st)
{
	return S_ISREG(st->st_mode) || S_ISDIR(st->st_mode) ? 0 : -EACCES;
}

int ds_shown(const struct stat *st)
{
	return S_ISLNK(st->st_mode) ? 0 : ds_kind(st);
}

void ds_version(const struct stat *st, char *v)
{
	snprintf(v, VOLFS_STORE_VERSION_MAX, "%llx-%llx-%llx.%lx-%llx.%lx",
		 (unsigned long long)st->st_ino,
		 (unsigned long long)st->st_size,
		 (unsigned long long)st->st_mtim.tv_sec,
		 (unsigned long)st->st_mtim.tv_nsec,
		 (unsigned long long)st->st_ctim.tv_sec,
		 (unsigned long)st->st_ctim.tv_nsec);
}

void ds_attr(const struct stat *st, struct volfs_store_attr *a)
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

int ds_lstat(struct dirstore *ds, const char *path, struct stat *st)
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

int ds_open_file(struct dirstore *ds, const char *path, struct stat *st)
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

ssize_t ds_pwrite_all(int fd, const char *buf, size_t len, off_t off)
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

ssize_t ds_pread_all(int fd, char *buf, size_t len, off_t off)
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

ssize_t ds_transfer(int in, off_t ioff, int out, off_t ooff, size_t len)
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

int ds_tmp_open(struct dirstore *ds, int dfd, char *tmp)
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

int ds_rename_noreplace(int ofd, const char *oname, int nfd, const char *nname)
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

int ds_commit(struct dirstore *ds, int dfd, const char *tmp, const char *name,
	      const char *if_version)
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

int ds_publish(struct dirstore *ds, int dfd, int tfd, const char *tmp,
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

int ds_parent_of(struct dirstore *ds, const char *path, int64_t deadline,
		 int flags, int root_rc, const char **name)
{
	int rc = ds_enter(ds, deadline);

	if (!rc)
		rc = ds_check(path);
	if (!rc && !*path)
		rc = root_rc;
	if (rc)
		return rc;
	return ds_parent(ds, path, flags, name);
}
