/* SPDX-License-Identifier: MIT */
/*
 * The local backend: a volume is a directory tree on the host.  Without
 * options its data lives in STATE/volumes/NAME/_data, made by create() and
 * deleted by destroy(); with path= it is an existing host directory that
 * volfs serves and never deletes.
 *
 * open() keeps an O_PATH descriptor of the volume root and every op resolves
 * beneath it: the parent directory with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), the last component with *at() calls that do not
 * follow a final link.  When something on the host swaps a directory for a
 * symlink, ops through it fail instead of leaving the volume.
 *
 * A file handle is the file's open descriptor widened to 64 bits: fd() is a
 * conversion, and an open file costs no allocation.
 *
 * Extended attributes go through "/proc/self/fd/PARENT/NAME" with the l*xattr
 * calls: PARENT was resolved beneath the root and NAME is one component that
 * the l* calls do not follow, and unlike f*xattr() this also reaches
 * symlinks and special files.
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
#include <sys/xattr.h>
#include <unistd.h>
#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#endif

#include "volfs/backend.h"
#include "volfs/backend_util.h"
#include "local.h"

#if defined(HAVE_LINUX_OPENAT2_H) && HAVE_DECL_SYS_OPENAT2
#define LOCAL_HAVE_OPENAT2 1
#endif

_Static_assert(VOLFS_RENAME_NOREPLACE == RENAME_NOREPLACE &&
		       VOLFS_RENAME_EXCHANGE == RENAME_EXCHANGE,
	       "rename flags are passed to renameat2() unchanged");

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
/* "/proc/self/fd/" INT_MAX "/" NAME */
#define LOCAL_PROC_MAX (sizeof("/proc/self/fd//") + 10 + NAME_MAX + 1)

struct local_vol {
	/* O_PATH descriptor of the volume root. */
	int rootfd;
	/* What the volume can do (VOLFS_CAP_EXTERNAL_CHANGES for a host
	 * directory given with path=, which others may change). */
	unsigned caps;
	/* Running as root: new objects are given to their caller. */
	int chown_new;
	uid_t euid;
	gid_t egid;
	/* The state of the module that opened it (volfs_local_open_root). */
	void *owner;
};

/* Where an op acts: the entry name in the directory dirfd. */
struct local_at {
	int dirfd;
	const char *name;
};

/* destroy()'s walk. */
struct local_rm {
	/* The data directory: too deep subtrees are moved up into it. */
	int topfd;
	unsigned long serial;
	/* The first failure and the entry it concerned. */
	int rc;
	char what[NAME_MAX + 1];
};

static int local_is_dot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static int local_fh_fd(uint64_t fh)
{
	return fh > INT_MAX ? -EBADF : (int)fh;
}

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

/*
 * Splits path into its parent directory, opened beneath the root, and its
 * last component.  The root itself is "." in the root.  Release with
 * local_put().
 */
static int local_resolve(struct local_vol *lv, const char *path,
			 struct local_at *at)
{
	char parent[PATH_MAX];
	const char *slash;
	size_t len;
	int fd;

	at->dirfd = lv->rootfd;
	at->name = ".";
	if (!path || !*path || path[0] == '/')
		return -EINVAL;
	if (strcmp(path, ".") == 0)
		return 0;
	slash = strrchr(path, '/');
	at->name = slash ? slash + 1 : path;
	/* A last component of "." or ".." would name a directory other than
	 * the one resolved, possibly above the root. */
	if (!*at->name || local_is_dot(at->name))
		return -EINVAL;
	if (!slash)
		return 0;
	len = (size_t)(slash - path);
	if (len >= sizeof(parent))
		return -ENAMETOOLONG;
	memcpy(parent, path, len);
	parent[len] = '\0';
	fd = local_open_beneath(lv->rootfd, parent, O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return fd;
	at->dirfd = fd;
	return 0;
}

static void local_put(struct local_vol *lv, struct local_at *at)
{
	if (at->dirfd != lv->rootfd)
		close(at->dirfd);
}

/*
 * Gives a new object to its caller: fd when it is open (fd >= 0), else the
 * entry at "at".  Only root can; otherwise the kernel's choice stands.  In a
 * set-group-ID directory the object keeps the group it inherited.
 */
static int local_own(struct local_vol *lv, const struct local_at *at, int fd,
		     mode_t mode, const struct volfs_caller *who)
{
	gid_t gid;
	struct stat st;

	if (!lv->chown_new || !who)
		return 0;
	/* Made by us as the caller's ids: the kernel got it right. */
	if (who->uid == lv->euid && who->gid == lv->egid)
		return 0;
	if (fstat(at->dirfd, &st) < 0)
		return -errno;
	gid = (st.st_mode & S_ISGID) ? (gid_t)-1 : who->gid;
	if (who->uid == lv->euid && gid == (gid_t)-1)
		return 0;
	if (fd < 0) {
		if (fchownat(at->dirfd, at->name, who->uid, gid,
			     AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		return 0;
	}
	if (fchown(fd, who->uid, gid) < 0)
		return -errno;
	/* chown() clears the set-user-ID and set-group-ID bits of a file;
	 * the caller asked for them. */
	if ((mode & (S_ISUID | S_ISGID)) && fstat(fd, &st) == 0 &&
	    (st.st_mode & (S_ISUID | S_ISGID)) != (mode & (S_ISUID | S_ISGID)))
		if (fchmod(fd, (st.st_mode & 07777) |
				       (mode & (S_ISUID | S_ISGID))) < 0)
			return -errno;
	return 0;
}

/* local_own() for an object created by name; removes it on failure. */
static int local_adopt(struct local_vol *lv, const struct local_at *at,
		       const struct volfs_caller *who, int rmflags)
{
	int rc = local_own(lv, at, -1, 0, who);

	if (rc)
		unlinkat(at->dirfd, at->name, rmflags);
	return rc;
}

/* "/proc/self/fd/PARENT/NAME" for the l*xattr() calls. */
static int local_proc_path(struct local_vol *lv, const char *path,
			   struct local_at *at, char *buf, size_t size)
{
	int rc, n;

	rc = local_resolve(lv, path, at);
	if (rc)
		return rc;
	n = snprintf(buf, size, "/proc/self/fd/%d/%s", at->dirfd, at->name);
	if (n < 0 || (size_t)n >= size) {
		local_put(lv, at);
		return -ENAMETOOLONG;
	}
	return 0;
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
		return volfs_be_errf(err, errlen, rc, "out of memory");
	}
	return 0;
}

int volfs_local_open_root(int rootfd, unsigned caps, void *owner, void **vol)
{
	struct local_vol *lv = calloc(1, sizeof(*lv));

	if (!lv)
		return -ENOMEM;
	lv->rootfd = rootfd;
	lv->caps = caps;
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

static int local_getattr(void *vol, const char *path, uint64_t fh,
			 struct stat *st)
{
	struct local_at at;
	int fd, rc;

	if (fh != VOLFS_NO_FH) {
		fd = local_fh_fd(fh);
		if (fd < 0)
			return fd;
		return fstat(fd, st) < 0 ? -errno : 0;
	}
	rc = local_resolve(vol, path, &at);
	if (rc)
		return rc;
	if (fstatat(at.dirfd, at.name, st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	local_put(vol, &at);
	return rc;
}

static int local_readlink(void *vol, const char *path, char *buf, size_t size)
{
	struct local_at at;
	ssize_t n;
	int rc;

	if (size == 0)
		return -EINVAL;
	rc = local_resolve(vol, path, &at);
	if (rc)
		return rc;
	n = readlinkat(at.dirfd, at.name, buf, size - 1);
	if (n < 0)
		rc = -errno;
	else
		buf[n] = '\0';
	local_put(vol, &at);
	return rc;
}

static int local_mknod(void *vol, const char *path, mode_t mode, dev_t rdev,
		       const struct volfs_caller *who)
{
	struct local_at at;
	int rc;

	rc = local_resolve(vol, path, &at);
	if (rc)
		return rc;
	if (mknodat(at.dirfd, at.name, mode, rdev) < 0)
		rc = -errno;
	else
		rc = local_adopt(vol, &at, who, 0);
	local_put(vol, &at);
	return rc;
}

static int local_mkdir(void *vol, const char *path, mode_t mode,
		       const struct volfs_caller *who)
{
	struct local_at at;
	int rc;

	rc = local_resolve(vol, path, &at);
	if (rc)
		return rc;
	if (mkdirat(at.dirfd, at.name, mode) < 0)
		rc = -errno;
	else
		rc = local_adopt(vol, &at, who, AT_REMOVEDIR);
	local_put(vol, &at);
	return rc;
}

static int local_remove(void *vol, const char *path, int flags)
{
	struct local_at at;
	int rc;

	rc = local_resolve(vol, path, &at);
	if (rc)
		return rc;
	if (unlinkat(at.dirfd, at.name, flags) < 0)
		rc = -errno;
	local_put(vol, &at);
	return rc;
}

static int local_unlink(void *vol, const char *path)
{
	return local_remove(vol, path, 0);
}

static int local_rmdir(void *vol, const char *path)
{
	return local_remove(vol, path, AT_REMOVEDIR);
}

static int local_symlink(void *vol, const char *target, const char *path,
			 const struct volfs_caller *who)
{
	struct local_at at;
	int rc;

	rc = local_resolve(vol, path, &at);
	if (rc)
		return rc;
	if (symlinkat(target, at.dirfd, at.name) < 0)
		rc = -errno;
	else
		rc = local_adopt(vol, &at, who, 0);
	local_put(vol, &at);
	return rc;
}

static int local_rename(void *vol, const char *from, const char *to,
			unsigned flags)
{
	struct local_at a, b;
	int rc;

	rc = local_resolve(vol, from, &a);
	if (rc)
		return rc;
	rc = local_resolve(vol, to, &b);
	if (rc)
		goto out_from;
	if (renameat2(a.dirfd, a.name, b.dirfd, b.name, flags) < 0)
		rc = -errno;
	local_put(vol, &b);
out_from:
	local_put(vol, &a);
	return rc;
}

static int local_link(void *vol, const char *from, const char *to)
{
	struct local_at a, b;
	int rc;

	rc = local_resolve(vol, from, &a);
	if (rc)
		return rc;
	rc = local_resolve(vol, to, &b);
	if (rc)
		goto out_from;
	/* No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink. */
	if (linkat(a.dirfd, a.name, b.dirfd, b.name, 0) < 0)
		rc = -errno;
	local_put(vol, &b);
out_from:
	local_put(vol, &a);
	return rc;
}

static int local_chmod(void *vol, const char *path, uint64_t fh, mode_t mode)
{
	char proc[LOCAL_PROC_MAX];
	struct local_at at;
	struct stat st;
	int fd, rc;

	if (fh != VOLFS_NO_FH) {
		fd = local_fh_fd(fh);
		if (fd < 0)
			return fd;
		return fchmod(fd, mode) < 0 ? -errno : 0;
	}
	rc = local_resolve(vol, path, &at);
	if (rc)
		return rc;
	/* fchmodat() cannot leave a final symlink alone: pin the object
	 * first, then change it through its descriptor's proc link. */
	fd = openat(at.dirfd, at.name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
	} else if (S_ISLNK(st.st_mode)) {
		rc = -EOPNOTSUPP;
	} else {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (chmod(proc, mode) < 0)
			rc = -errno;
	}
	close(fd);
out:
	local_put(vol, &at);
	return rc;
}

static int local_chown(void *vol, const char *path, uint64_t fh, uid_t uid,
		       gid_t gid)
{
	struct local_at at;
	int fd, rc;

	if (fh != VOLFS_NO_FH) {
		fd = local_fh_fd(fh);
		if (fd < 0)
			return fd;
		return fchown(fd, uid, gid) < 0 ? -errno : 0;
	}
	rc = local_resolve(vol, path, &at);
	if (rc)
		return rc;
	if (fchownat(at.dirfd, at.name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	local_put(vol, &at);
	return rc;
}

static int local_truncate(void *vol, const char *path, uint64_t fh, off_t size)
{
	struct local_at at;
	int fd, rc;

	if (fh != VOLFS_NO_FH) {
		fd = local_fh_fd(fh);
		if (fd < 0)
			return fd;
		return ftruncate(fd, size) < 0 ? -errno : 0;
	}
	rc = local_resolve(vol, path, &at);
	if (rc)
		return rc;
	/* O_NONBLOCK: a FIFO must not block the caller. */
	fd = openat(at.dirfd, at.name,
		    O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (ftruncate(fd, size) < 0)
		rc = -errno;
	close(fd);
out:
	local_put(vol, &at);
	return rc;
}

static int local_utimens(void *vol, const char *path, uint64_t fh,
			 const struct timespec tv[2])
{
	struct local_at at;
	int fd, rc;

	if (fh != VOLFS_NO_FH) {
		fd = local_fh_fd(fh);
		if (fd < 0)
			return fd;
		return futimens(fd, tv) < 0 ? -errno : 0;
	}
	rc = local_resolve(vol, path, &at);
	if (rc)
		return rc;
	if (utimensat(at.dirfd, at.name, tv, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	local_put(vol, &at);
	return rc;
}

static int local_open_file(void *vol, const char *path, int flags, uint64_t *fh)
{
	struct local_at at;
	int fd, rc;

	rc = local_resolve(vol, path, &at);
	if (rc)
		return rc;
	fd = openat(at.dirfd, at.name,
		    (flags & ~(O_CREAT | O_EXCL)) | O_NOFOLLOW | O_NOCTTY |
			    O_CLOEXEC);
	if (fd < 0)
		rc = -errno;
	else
		*fh = (uint64_t)fd;
	local_put(vol, &at);
	return rc;
}

static int local_create_file(void *vol, const char *path, int flags,
			     mode_t mode, const struct volfs_caller *who,
			     uint64_t *fh)
{
	struct local_at at;
	int fd, rc;

	rc = local_resolve(vol, path, &at);
	if (rc)
		return rc;
	fd = openat(at.dirfd, at.name,
		    flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY |
			    O_CLOEXEC,
		    mode);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = local_own(vol, &at, fd, mode, who);
	if (rc)
		goto err_unlink;
	*fh = (uint64_t)fd;
	goto out;

err_unlink:
	unlinkat(at.dirfd, at.name, 0);
	close(fd);
out:
	local_put(vol, &at);
	return rc;
}

static ssize_t local_read(void *vol, uint64_t fh, void *buf, size_t size,
			  off_t off)
{
	int fd = local_fh_fd(fh);
	ssize_t n;

	if (fd < 0)
		return fd;
	n = pread(fd, buf, size, off);
	return n < 0 ? -errno : n;
}

static ssize_t local_write(void *vol, uint64_t fh, const void *buf, size_t size,
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

static int local_fsync(void *vol, uint64_t fh, int datasync)
{
	int fd = local_fh_fd(fh);

	if (fd < 0)
		return fd;
	if ((datasync ? fdatasync(fd) : fsync(fd)) < 0)
		return -errno;
	return 0;
}

static int local_release(void *vol, uint64_t fh)
{
	int fd = local_fh_fd(fh);

	if (fd < 0)
		return fd;
	/* The descriptor is gone whatever close() says, except EINTR's
	 * meaning is unspecified: report nothing then. */
	if (close(fd) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

static int local_fd(void *vol, uint64_t fh)
{
	return local_fh_fd(fh);
}

static int local_fallocate(void *vol, uint64_t fh, int mode, off_t off,
			   off_t len)
{
	int fd = local_fh_fd(fh);

	if (fd < 0)
		return fd;
	return fallocate(fd, mode, off, len) < 0 ? -errno : 0;
}

static off_t local_lseek(void *vol, uint64_t fh, off_t off, int whence)
{
	int fd = local_fh_fd(fh);
	off_t r;

	if (fd < 0)
		return fd;
	r = lseek(fd, off, whence);
	return r < 0 ? -errno : r;
}

static int local_readdir(void *vol, const char *path, volfs_fill_fn fill,
			 void *ctx)
{
	struct local_at at;
	struct dirent *de;
	struct stat st;
	const struct stat *stp;
	mode_t type;
	int fd, rc;
	DIR *d;

	rc = local_resolve(vol, path, &at);
	if (rc)
		return rc;
	fd = openat(at.dirfd, at.name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		rc = -errno;
	local_put(vol, &at);
	if (rc)
		return rc;
	d = fdopendir(fd);
	if (!d) {
		rc = -errno;
		close(fd);
		return rc;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			rc = errno ? -errno : 0;
			break;
		}
		if (local_is_dot(de->d_name))
			continue;
		type = de->d_type == DT_UNKNOWN ? 0 : DTTOIF(de->d_type);
		stp = NULL;
		if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			stp = &st;
			type = st.st_mode & S_IFMT;
		}
		if (fill(ctx, de->d_name, type, stp))
			break;
	}
	closedir(d);
	return rc;
}

static int local_setxattr(void *vol, const char *path, const char *name,
			  const void *value, size_t size, int flags)
{
	char proc[LOCAL_PROC_MAX];
	struct local_at at;
	int rc;

	rc = local_proc_path(vol, path, &at, proc, sizeof(proc));
	if (rc)
		return rc;
	if (lsetxattr(proc, name, value, size, flags) < 0)
		rc = -errno;
	local_put(vol, &at);
	return rc;
}

static ssize_t local_getxattr(void *vol, const char *path, const char *name,
			      void *value, size_t size)
{
	char proc[LOCAL_PROC_MAX];
	struct local_at at;
	ssize_t n;
	int rc;

	rc = local_proc_path(vol, path, &at, proc, sizeof(proc));
	if (rc)
		return rc;
	n = lgetxattr(proc, name, value, size);
	if (n < 0)
		n = -errno;
	local_put(vol, &at);
	return n;
}

static ssize_t local_listxattr(void *vol, const char *path, char *list,
			       size_t size)
{
	char proc[LOCAL_PROC_MAX];
	struct local_at at;
	ssize_t n;
	int rc;

	rc = local_proc_path(vol, path, &at, proc, sizeof(proc));
	if (rc)
		return rc;
	n = llistxattr(proc, list, size);
	if (n < 0)
		n = -errno;
	local_put(vol, &at);
	return n;
}

static int local_removexattr(void *vol, const char *path, const char *name)
{
	char proc[LOCAL_PROC_MAX];
	struct local_at at;
	int rc;

	rc = local_proc_path(vol, path, &at, proc, sizeof(proc));
	if (rc)
		return rc;
	if (lremovexattr(proc, name) < 0)
		rc = -errno;
	local_put(vol, &at);
	return rc;
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
	.statfs = local_statfs,
	.getattr = local_getattr,
	.readlink = local_readlink,
	.mknod = local_mknod,
	.mkdir = local_mkdir,
	.unlink = local_unlink,
	.rmdir = local_rmdir,
	.symlink = local_symlink,
	.rename = local_rename,
	.link = local_link,
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
	.readdir = local_readdir,
	.setxattr = local_setxattr,
	.getxattr = local_getxattr,
	.listxattr = local_listxattr,
	.removexattr = local_removexattr,
	.volume_caps = local_volume_caps,
};

const struct volfs_backend *volfs_backend_local(void)
{
	return &local_backend;
}
