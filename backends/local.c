/* SPDX-License-Identifier: MIT */
/*
 * The local backend: a volume is a directory tree on the host.  Without
 * options its data lives in STATE/volumes/NAME/_data, made by create() and
 * deleted by destroy(); with path= it is an existing host directory that
 * volfs serves and never deletes.
 *
 * open() keeps an O_PATH descriptor of the volume root.  Every other file the
 * core holds is a node (local_node.c) with an O_PATH descriptor of its own,
 * or its file handle once the process's descriptors run short, found by
 * (st_dev, st_ino), so hard links are one node and a node keeps naming its
 * file after renames and removals, at any depth.  A name is one
 * component opened in its parent's descriptor without following a link:
 * when something on the host swaps a directory for a symlink, the node of
 * the directory still names the directory that was moved away, and the
 * symlink is only ever a symlink, so no op leaves the volume.  Ops on a
 * node use its descriptor (opened from the handle for the call), or its
 * /proc link where a call takes no empty path (local_file.c).
 *
 * A file handle is the file's open descriptor widened to 64 bits: fd() is a
 * conversion, and an open file costs no allocation.  A directory handle
 * streams the directory through a fixed buffer (local_dir.c).
 *
 * Opening a volume's root and deleting its data open paths beneath the
 * state directory or "/" with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), or one component at a time where that is missing.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#endif

#include "volfs/backend.h"
#include "volfs/backend_util.h"
#include "local.h"
#include "local_int.h"

#if defined(HAVE_LINUX_OPENAT2_H) && HAVE_DECL_SYS_OPENAT2
#define LOCAL_HAVE_OPENAT2 1
#endif

#define LOCAL_CAPS (VOLFS_LOCAL_TREE_CAPS | VOLFS_CAP_PERSISTENT)

/* The managed data directory inside state_dir. */
#define LOCAL_DATA "_data"
/* openat2() fails with EAGAIN when a rename races with the resolution. */
#define LOCAL_RETRIES 16
/*
 * destroy() holds one descriptor per directory level it is in; a subtree
 * deeper than this is moved up to the top of the data directory and deleted
 * from there, so any tree is deleted with a bounded number of descriptors.
 */
#define LOCAL_RM_DEPTH 32

/* destroy()'s walk. */
struct local_rm {
	/* The data directory: too deep subtrees are moved up into it. */
	int topfd;
	unsigned long serial;
	/* The first failure and the entry it concerned. */
	int rc;
	char what[NAME_MAX + 1];
};

/*
 * Opens path below dirfd one component at a time, never following a link
 * and never going up: used where openat2() is missing.  With noxdev, a
 * component on another device fails with -EXDEV.
 */
static int local_walk(int dirfd, const char *path, int flags, int noxdev)
{
	char comp[NAME_MAX + 1];
	const char *p = path, *end;
	struct stat st;
	dev_t dev = 0;
	int fd = dirfd, next, last, rc;
	size_t len;

	if (noxdev) {
		if (fstat(dirfd, &st) < 0)
			return -errno;
		dev = st.st_dev;
	}
	for (;;) {
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		last = *end == '\0';
		rc = 0;
		if (len == 0)
			rc = -EINVAL;
		else if (len > NAME_MAX)
			rc = -ENAMETOOLONG;
		if (!rc) {
			memcpy(comp, p, len);
			comp[len] = '\0';
			if (strcmp(comp, "..") == 0)
				rc = -EXDEV;
		}
		next = -1;
		if (!rc) {
			next = openat(fd, comp,
				      (last ? flags : O_PATH | O_DIRECTORY) |
					      O_NOFOLLOW | O_CLOEXEC);
			if (next < 0)
				rc = -errno;
		}
		if (!rc && noxdev) {
			if (fstat(next, &st) < 0)
				rc = -errno;
			else if (st.st_dev != dev)
				rc = -EXDEV;
			if (rc)
				close(next);
		}
		if (fd != dirfd)
			close(fd);
		if (rc)
			return rc;
		if (last)
			return next;
		fd = next;
		p = end + 1;
	}
}

/*
 * Opens path (one or more components) beneath dirfd without following any
 * symlink; returns the descriptor or -errno.
 */
static int local_open_beneath(int dirfd, const char *path, int flags,
			      int noxdev)
{
#ifdef LOCAL_HAVE_OPENAT2
	struct open_how how = {
		.flags = (unsigned long long)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	int tries = 0;
	long fd;

	if (noxdev)
		how.resolve |= RESOLVE_NO_XDEV;
	do
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN && ++tries < LOCAL_RETRIES);
	if (fd >= 0)
		return (int)fd;
	if (errno != ENOSYS)
		return -errno;
#endif
	return local_walk(dirfd, path, flags, noxdev);
}

static int local_validate(const struct volfs_volinfo *vi, char *err,
			  size_t errlen)
{
	const char *host = volfs_be_opt(vi, "path");
	struct stat st;
	int rc;

	if (!host)
		return 0;
	if (host[0] != '/')
		return volfs_be_errf(
			err, errlen, -EINVAL,
			"option 'path': '%s' is not an absolute "
			"path: give the host directory's full path, "
			"starting with '/'",
			host);
	if (stat(host, &st) < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			return volfs_be_errf(
				err, errlen, rc,
				"option 'path': %s does not exist: "
				"create the directory first, or "
				"leave out path= to let volfs "
				"manage the data",
				host);
		return volfs_be_errf(err, errlen, rc,
				     "option 'path': cannot use %s: %s: check "
				     "that the directory is reachable by volfs",
				     host, volfs_be_strerror(rc));
	}
	if (!S_ISDIR(st.st_mode))
		return volfs_be_errf(
			err, errlen, -ENOTDIR,
			"option 'path': %s is not a directory: give "
			"a directory, or leave out path= to let "
			"volfs manage the data",
			host);
	if (access(host, R_OK | X_OK) < 0) {
		rc = -errno;
		return volfs_be_errf(err, errlen, rc,
				     "option 'path': cannot read %s: %s: give "
				     "volfs access to the directory",
				     host, volfs_be_strerror(rc));
	}
	return 0;
}

static int local_create(const struct volfs_volinfo *vi, char *err,
			size_t errlen)
{
	int sfd, rc = 0;

	if (volfs_be_opt(vi, "path"))
		return 0;
	sfd = open(vi->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0) {
		rc = -errno;
		return volfs_be_errf(err, errlen, rc,
				     "cannot open its "
				     "state directory %s: %s",
				     vi->state_dir, volfs_be_strerror(rc));
	}
	if (mkdirat(sfd, LOCAL_DATA, 0755) < 0) {
		rc = -errno;
		volfs_be_errf(err, errlen, rc,
			      "cannot make %s/%s: "
			      "%s%s",
			      vi->state_dir, LOCAL_DATA, volfs_be_strerror(rc),
			      rc == -EEXIST
				      ? ": it is left over from an earlier "
					"volume; delete it, then create the "
					"volume again"
				      : "");
		goto out;
	}
	/* Exactly 0755, whatever the daemon's umask. */
	if (fchmodat(sfd, LOCAL_DATA, 0755, 0) < 0) {
		rc = -errno;
		volfs_be_errf(err, errlen, rc,
			      "cannot set the mode of "
			      "%s/%s: %s",
			      vi->state_dir, LOCAL_DATA, volfs_be_strerror(rc));
		goto err_rmdir;
	}
	goto out;

err_rmdir:
	unlinkat(sfd, LOCAL_DATA, AT_REMOVEDIR);
out:
	close(sfd);
	return rc;
}

static int local_rm_fail(struct local_rm *rm, const char *name, int rc)
{
	if (!rm->rc) {
		rm->rc = rc;
		snprintf(rm->what, sizeof(rm->what), "%s", name);
	}
	return rc;
}

/* Moves directory name in dirfd up into the top of the data directory. */
static int local_rm_moveup(struct local_rm *rm, int dirfd, const char *name)
{
	char tmp[48];

	for (int tries = 0; tries < 1000; tries++) {
		snprintf(tmp, sizeof(tmp), ".volfs-rm-%lu", rm->serial++);
		if (renameat2(dirfd, name, rm->topfd, tmp, RENAME_NOREPLACE) ==
		    0)
			return 0;
		if (errno != EEXIST)
			return local_rm_fail(rm, name, -errno);
	}
	return local_rm_fail(rm, name, -EEXIST);
}

static void local_rm_dir(struct local_rm *rm, int fd, int depth);

/* Deletes one entry of the directory dirfd; 0 when it is gone. */
static int local_rm_entry(struct local_rm *rm, int dirfd,
			  const struct dirent *de, int depth)
{
	int isdir = de->d_type == DT_DIR;
	struct stat st;
	int fd;

	if (de->d_type == DT_UNKNOWN) {
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return errno == ENOENT
				       ? 0
				       : local_rm_fail(rm, de->d_name, -errno);
		isdir = S_ISDIR(st.st_mode);
	}
	if (!isdir) {
		if (unlinkat(dirfd, de->d_name, 0) == 0 || errno == ENOENT)
			return 0;
		return local_rm_fail(rm, de->d_name, -errno);
	}
	if (depth + 1 >= LOCAL_RM_DEPTH)
		return local_rm_moveup(rm, dirfd, de->d_name);
	/* Not into a symlink, not into another mount. */
	fd = local_open_beneath(dirfd, de->d_name,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 1);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return local_rm_fail(rm, de->d_name,
				     fd == -EXDEV ? -EBUSY : fd);
	local_rm_dir(rm, fd, depth + 1);
	if (unlinkat(dirfd, de->d_name, AT_REMOVEDIR) == 0 || errno == ENOENT)
		return 0;
	return local_rm_fail(rm, de->d_name, -errno);
}

/*
 * Empties the directory open as fd (which it closes).  It lists the
 * directory again until a pass deletes nothing: entries moved up from deep
 * below appear in the top directory while it is being listed.
 */
static void local_rm_dir(struct local_rm *rm, int fd, int depth)
{
	struct dirent *de;
	int progress;
	DIR *d;

	d = fdopendir(fd);
	if (!d) {
		local_rm_fail(rm, ".", -errno);
		close(fd);
		return;
	}
	if (depth == 0)
		rm->topfd = fd;
	do {
		progress = 0;
		rewinddir(d);
		for (;;) {
			errno = 0;
			de = readdir(d);
			if (!de) {
				if (errno)
					local_rm_fail(rm, ".", -errno);
				break;
			}
			if (local_is_dot(de->d_name))
				continue;
			if (local_rm_entry(rm, fd, de, depth) == 0)
				progress = 1;
		}
	} while (progress);
	closedir(d);
}

static int local_destroy(const struct volfs_volinfo *vi, char *err,
			 size_t errlen)
{
	const char *host = volfs_be_opt(vi, "path");
	struct local_rm rm = {.topfd = -1};
	int sfd, fd, rc = 0;

	if (host) {
		if (vi->log)
			vi->log(VOLFS_LOG_NOTICE,
				"volume '%s' was served from %s: its files "
				"stay there",
				vi->name, host);
		return 0;
	}
	sfd = open(vi->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sfd < 0) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		return volfs_be_errf(err, errlen, rc,
				     "cannot open its "
				     "state directory %s: %s",
				     vi->state_dir, volfs_be_strerror(rc));
	}
	fd = local_open_beneath(sfd, LOCAL_DATA,
				O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 1);
	if (fd == -ENOENT)
		goto out;
	if (fd == -ELOOP || fd == -ENOTDIR) {
		/* Not a directory: delete the entry, never what it names. */
		if (unlinkat(sfd, LOCAL_DATA, 0) < 0 && errno != ENOENT) {
			rc = -errno;
			volfs_be_errf(err, errlen, rc,
				      "cannot remove "
				      "%s/%s: %s",
				      vi->state_dir, LOCAL_DATA,
				      volfs_be_strerror(rc));
		}
		goto out;
	}
	if (fd < 0) {
		rc = fd == -EXDEV ? -EBUSY : fd;
		volfs_be_errf(err, errlen, rc, "cannot open %s/%s: %s%s",
			      vi->state_dir, LOCAL_DATA, volfs_be_strerror(rc),
			      fd == -EXDEV
				      ? ": it is a mount point; unmount it, "
					"then remove the volume again"
				      : "");
		goto out;
	}
	local_rm_dir(&rm, fd, 0);
	if (rm.rc) {
		rc = rm.rc;
		volfs_be_errf(err, errlen, rc,
			      "cannot delete all data in %s/%s: "
			      "'%s': %s%s",
			      vi->state_dir, LOCAL_DATA, rm.what,
			      volfs_be_strerror(rc),
			      rc == -EBUSY
				      ? ": something is mounted there; "
					"unmount it, then remove the volume "
					"again"
				      : "");
		goto out;
	}
	if (unlinkat(sfd, LOCAL_DATA, AT_REMOVEDIR) < 0 && errno != ENOENT) {
		rc = -errno;
		volfs_be_errf(err, errlen, rc, "cannot remove %s/%s: %s",
			      vi->state_dir, LOCAL_DATA, volfs_be_strerror(rc));
	}
out:
	close(sfd);
	return rc;
}

/*
 * Opens the host directory of a path= volume, stored as its real path at
 * create, without following a symlink on the way: one that appeared since
 * (put there by whoever may write a directory above) would have the
 * volume serve another tree.
 */
static int local_open_host(const char *host, char *err, size_t errlen)
{
	char rel[PATH_MAX], *real;
	const char *p = host;
	size_t n = 0;
	int top, fd;

	if (strlen(host) >= sizeof(rel))
		return volfs_be_errf(err, errlen, -ENAMETOOLONG,
				     "option 'path': %s: %s", host,
				     volfs_be_strerror(-ENAMETOOLONG));
	/* Relative to "/", with no empty components. */
	while (*p) {
		while (*p == '/')
			p++;
		while (*p && *p != '/')
			rel[n++] = *p++;
		if (*p && p[strspn(p, "/")])
			rel[n++] = '/';
	}
	rel[n] = '\0';
	top = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		fd = -errno;
	else
		fd = n ? local_open_beneath(top, rel, O_PATH | O_DIRECTORY, 0)
		       : -EINVAL;
	if (top >= 0)
		close(top);
	if (fd >= 0)
		return fd;
	real = realpath(host, NULL);
	if (fd == -ELOOP || (real && strcmp(real, host) != 0)) {
		volfs_be_errf(err, errlen, -ELOOP,
			      "option 'path': %s leads through a symlink, "
			      "which volfs does not follow: put the "
			      "directory back, or create the volume again "
			      "with the directory's real path%s%s",
			      host, real ? " " : "", real ? real : "");
		free(real);
		return -ELOOP;
	}
	free(real);
	return volfs_be_errf(err, errlen, fd,
			     "option 'path': %s: %s: check that the host "
			     "directory still exists",
			     host, volfs_be_strerror(fd));
}

static int local_open(const struct volfs_volinfo *vi, void **vol, char *err,
		      size_t errlen)
{
	const char *host = volfs_be_opt(vi, "path");
	int rootfd, sfd, rc;

	if (host) {
		rootfd = local_open_host(host, err, errlen);
		if (rootfd < 0)
			return rootfd;
	} else {
		sfd = open(vi->state_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0) {
			rc = -errno;
			return volfs_be_errf(err, errlen, rc,
					     "cannot open its state directory "
					     "%s: %s",
					     vi->state_dir,
					     volfs_be_strerror(rc));
		}
		rootfd = local_open_beneath(sfd, LOCAL_DATA,
					    O_PATH | O_DIRECTORY, 0);
		close(sfd);
		if (rootfd < 0)
			return volfs_be_errf(
				err, errlen, rootfd,
				"cannot open its data directory %s/%s: %s: "
				"remove the volume and create it again if its "
				"data is gone",
				vi->state_dir, LOCAL_DATA,
				volfs_be_strerror(rootfd));
	}
	rc = volfs_local_open_root(
		rootfd, LOCAL_CAPS | (host ? VOLFS_CAP_EXTERNAL_CHANGES : 0),
		NULL, vol);
	if (rc) {
		close(rootfd);
		if (rc == -ENOMEM)
			return volfs_be_errf(err, errlen, rc, "out of memory");
		return volfs_be_errf(err, errlen, rc,
				     "cannot read the attributes of its root "
				     "directory: %s",
				     volfs_be_strerror(rc));
	}
	return 0;
}

int volfs_local_open_root(int rootfd, unsigned caps, void *owner, void **vol)
{
	struct local_vol *lv;
	struct stat st;
	int rc;

	if (fstat(rootfd, &st) < 0)
		return -errno;
	lv = calloc(1, sizeof(*lv));
	if (!lv)
		return -ENOMEM;
	lv->rootfd = rootfd;
	lv->rootdev = st.st_dev;
	lv->rootino = st.st_ino;
	rc = local_nodes_init(lv);
	if (rc) {
		free(lv);
		return rc;
	}
	lv->caps = caps;
	lv->reclaim = !!(caps & VOLFS_CAP_SIZE_LIMIT);
	lv->owner = owner;
	lv->euid = geteuid();
	lv->egid = getegid();
	lv->chown_new = lv->euid == 0;
	*vol = lv;
	return 0;
}

void *volfs_local_owner(void *vol)
{
	return ((struct local_vol *)vol)->owner;
}

static void local_close(void *vol)
{
	struct local_vol *lv = vol;

	local_nodes_free(lv);
	close(lv->rootfd);
	free(lv);
}

static unsigned local_volume_caps(void *vol)
{
	struct local_vol *lv = vol;
	unsigned caps = lv->caps;

	/* Without root, new objects belong to the daemon's user whatever
	 * the caller: ownership is not stored. */
	if (!lv->chown_new)
		caps &= ~(unsigned)VOLFS_CAP_OWNERSHIP;
	return caps;
}

static int local_statfs(void *vol, struct statvfs *sv)
{
	struct local_vol *lv = vol;

	return fstatvfs(lv->rootfd, sv) < 0 ? -errno : 0;
}

static const struct volfs_optdesc local_options[] = {
	{
		.key = "path",
		.flags = VOLFS_OPT_HOST_DIR,
		.help = "serve this existing host directory instead of "
			"storage volfs manages (volfs rm leaves it alone)",
	},
	{.key = NULL},
};

static const struct volfs_backend local_backend = {
	.abi_version = VOLFS_BACKEND_ABI,
	.size = sizeof(struct volfs_backend),
	.name = "local",
	.description = "a directory on the host: managed by volfs, or an "
		       "existing one given with path=",
	.caps = LOCAL_CAPS,
	.options = local_options,
	.validate = local_validate,
	.create = local_create,
	.destroy = local_destroy,
	.open = local_open,
	.close = local_close,
	.volume_caps = local_volume_caps,
	.statfs = local_statfs,
	.lookup = local_lookup,
	.forget = local_forget,
	.getattr = local_getattr,
	.readlink = local_readlink,
	.mknod = local_mknod,
	.mkdir = local_mkdir,
	.symlink = local_symlink,
	.link = local_link,
	.unlink = local_unlink,
	.rmdir = local_rmdir,
	.rename = local_rename,
	.chmod = local_chmod,
	.chown = local_chown,
	.truncate = local_truncate,
	.utimens = local_utimens,
	.open_file = local_open_file,
	.create_file = local_create_file,
	.read = local_read,
	.write = local_write,
	.fsync = local_fsync,
	.release = local_release,
	.fd = local_fd,
	.fallocate = local_fallocate,
	.lseek = local_lseek,
	.opendir = local_opendir,
	.readdir = local_readdir,
	.fsyncdir = local_fsyncdir,
	.releasedir = local_releasedir,
	.setxattr = local_setxattr,
	.getxattr = local_getxattr,
	.listxattr = local_listxattr,
	.removexattr = local_removexattr,
	.node_encode = local_node_encode,
	.node_decode = local_node_decode,
};

const struct volfs_backend *volfs_backend_local(void)
{
	return &local_backend;
}
