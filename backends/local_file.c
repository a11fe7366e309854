/* SPDX-License-Identifier: MIT */
/*
 * The local backend's ops on a node or an open file.
 *
 * A node's O_PATH descriptor serves the calls that take an empty path
 * (fstatat, fchownat, readlinkat, utimensat with AT_EMPTY_PATH).  The
 * others (chmod, truncate, the *xattr calls, reopening the file) go
 * through its "/proc/self/fd/N" link: following it reaches exactly the
 * file the descriptor holds, and goes no further even when that is a
 * symlink, so they act on the node's own file whatever became of its
 * names.  An open handle, when the core passes one, is used instead: one
 * call on a descriptor the kernel has at hand.  A node that has a file
 * handle instead of a descriptor is opened from it for the call
 * (local_fd_get()), which fails with ESTALE once the file is deleted.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "volfs/backend.h"
#include "local.h"
#include "local_int.h"

int local_getattr(void *vol, uint64_t node, uint64_t fh, struct stat *st)
{
	int fd, rc = 0;

	if (fh != VOLFS_NO_FH) {
		fd = local_fh_fd(fh);
		if (fd < 0)
			return fd;
		return fstat(fd, st) < 0 ? -errno : 0;
	}
	/*
	 * A handle that no longer opens is a deleted file: ESTALE, as from
	 * the other ops, not ENOENT.  The kernel's path walk retries a call
	 * that met ESTALE once with a fresh lookup of every name, which
	 * finds the file a name has now (the host may have put another file
	 * there); ENOENT would end stat() or open() of a name that exists.
	 */
	fd = local_fd_get(vol, node);
	if (fd < 0)
		return fd;
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	local_fd_put(node, fd);
	return rc;
}

int local_readlink(void *vol, uint64_t node, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	/* readlinkat() of an empty name says ENOENT for anything but a
	 * symlink, where readlink(2) says EINVAL. */
	if (size == 0 || local_node_type(node) != S_IFLNK)
		return -EINVAL;
	fd = local_fd_get(vol, node);
	if (fd < 0)
		return fd;
	n = readlinkat(fd, "", buf, size - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	local_fd_put(node, fd);
	return n < 0 ? (int)n : 0;
}

int local_chmod(void *vol, uint64_t node, uint64_t fh, mode_t mode)
{
	char proc[LOCAL_PROC_MAX];
	int fd, rc;

	if (fh != VOLFS_NO_FH) {
		fd = local_fh_fd(fh);
		if (fd < 0)
			return fd;
		return fchmod(fd, mode) < 0 ? -errno : 0;
	}
	/* A symlink's mode means nothing, and some kernels would set it. */
	if (S_ISLNK(local_node_type(node)))
		return -EOPNOTSUPP;
	fd = local_fd_get(vol, node);
	if (fd < 0)
		return fd;
	local_proc(proc, fd);
	rc = chmod(proc, mode) < 0 ? -errno : 0;
	local_fd_put(node, fd);
	return rc;
}

int local_chown(void *vol, uint64_t node, uint64_t fh, uid_t uid, gid_t gid)
{
	int fd, rc = 0;

	if (fh != VOLFS_NO_FH) {
		fd = local_fh_fd(fh);
		if (fd < 0)
			return fd;
		return fchown(fd, uid, gid) < 0 ? -errno : 0;
	}
	fd = local_fd_get(vol, node);
	if (fd < 0)
		return fd;
	if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	local_fd_put(node, fd);
	return rc;
}

int local_truncate(void *vol, uint64_t node, uint64_t fh, off_t size)
{
	char proc[LOCAL_PROC_MAX];
	int fd, rc;

	if (fh != VOLFS_NO_FH) {
		fd = local_fh_fd(fh);
		if (fd < 0)
			return fd;
		return ftruncate(fd, size) < 0 ? -errno : 0;
	}
	fd = local_fd_get(vol, node);
	if (fd < 0)
		return fd;
	/* truncate() opens nothing: a FIFO fails at once instead of
	 * waiting for a reader. */
	local_proc(proc, fd);
	rc = truncate(proc, size) < 0 ? -errno : 0;
	local_fd_put(node, fd);
	return rc;
}

int local_utimens(void *vol, uint64_t node, uint64_t fh,
		  const struct timespec tv[2])
{
	char proc[LOCAL_PROC_MAX];
	int fd, rc = 0;

	if (fh != VOLFS_NO_FH) {
		fd = local_fh_fd(fh);
		if (fd < 0)
			return fd;
		return futimens(fd, tv) < 0 ? -errno : 0;
	}
	fd = local_fd_get(vol, node);
	if (fd < 0)
		return fd;
	if (utimensat(fd, "", tv, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		/* A kernel without AT_EMPTY_PATH here says EINVAL. */
		if (rc == -EINVAL) {
			local_proc(proc, fd);
			rc = utimensat(AT_FDCWD, proc, tv, 0) < 0 ? -errno : 0;
		}
	}
	local_fd_put(node, fd);
	return rc;
}

int local_open_file(void *vol, uint64_t node, int flags, uint64_t *fh)
{
	int fd;

	/* A symlink fails with ELOOP, as O_NOFOLLOW would on its name. */
	fd = local_node_reopen(vol, node,
			       (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) |
				       O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return fd;
	local_node_opened(vol, node);
	*fh = (uint64_t)fd;
	return 0;
}

ssize_t local_read(void *vol, uint64_t fh, void *buf, size_t size, off_t off)
{
	int fd = local_fh_fd(fh);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = pread(fd, buf, size, off);
	return n < 0 ? -errno : n;
}

ssize_t local_write(void *vol, uint64_t fh, const void *buf, size_t size,
		    off_t off)
{
	int fd = local_fh_fd(fh);
	ssize_t n;

	if (fd < 0)
		return fd;
	/* On an O_APPEND descriptor the kernel writes at the end. */
	n = pwrite(fd, buf, size, off);
	return n < 0 ? -errno : n;
}

int local_fsync(void *vol, uint64_t fh, int datasync)
{
	int fd = local_fh_fd(fh);

	if (fd < 0)
		return fd;
	if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
		return -errno;
	return 0;
}

int local_release(void *vol, uint64_t fh)
{
	int fd = local_fh_fd(fh);

	if (fd < 0)
		return fd;
	local_release_reclaim(vol, fd);
	/* The descriptor is gone whatever close() says, except EINTR's
	 * meaning is unspecified: report nothing then. */
	if (close(fd) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int local_fd(void *vol, uint64_t fh)
{
	return local_fh_fd(fh);
}

int local_fallocate(void *vol, uint64_t fh, int mode, off_t off, off_t len)
{
	int fd = local_fh_fd(fh);

	if (fd < 0)
		return fd;
	return fallocate(fd, mode, off, len) < 0 ? -errno : 0;
}

off_t local_lseek(void *vol, uint64_t fh, off_t off, int whence)
{
	int fd = local_fh_fd(fh);
	off_t r;

	if (fd < 0)
		return fd;
	r = lseek(fd, off, whence);
	return r < 0 ? -errno : r;
}

/*
 * Extended attributes through the node's /proc link with the calls that
 * follow it: unlike the f*xattr() calls on a descriptor, this also reaches
 * symlinks and special files.
 */
int local_setxattr(void *vol, uint64_t node, const char *name,
		   const void *value, size_t size, int flags)
{
	char proc[LOCAL_PROC_MAX];
	int fd = local_fd_get(vol, node);
	int rc;

	if (fd < 0)
		return fd;
	local_proc(proc, fd);
	rc = setxattr(proc, name, value, size, flags) < 0 ? -errno : 0;
	local_fd_put(node, fd);
	return rc;
}

ssize_t local_getxattr(void *vol, uint64_t node, const char *name, void *value,
		       size_t size)
{
	char proc[LOCAL_PROC_MAX];
	int fd = local_fd_get(vol, node);
	ssize_t n;

	if (fd < 0)
		return fd;
	local_proc(proc, fd);
	n = getxattr(proc, name, value, size);
	if (n < 0)
		n = -errno;
	local_fd_put(node, fd);
	return n;
}

ssize_t local_listxattr(void *vol, uint64_t node, char *list, size_t size)
{
	char proc[LOCAL_PROC_MAX];
	int fd = local_fd_get(vol, node);
	ssize_t n;

	if (fd < 0)
		return fd;
	local_proc(proc, fd);
	n = listxattr(proc, list, size);
	if (n < 0)
		n = -errno;
	local_fd_put(node, fd);
	return n;
}

int local_removexattr(void *vol, uint64_t node, const char *name)
{
	char proc[LOCAL_PROC_MAX];
	int fd = local_fd_get(vol, node);
	int rc;

	if (fd < 0)
		return fd;
	local_proc(proc, fd);
	rc = removexattr(proc, name) < 0 ? -errno : 0;
	local_fd_put(node, fd);
	return rc;
}
