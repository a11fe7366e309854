/* SPDX-License-Identifier: MIT */
/*
 * The FUSE glue's own permission checks, on top of the kernel's
 * (default_permissions).
 *
 * With the uid= or gid= mount options every file shows the mapped owner,
 * and the kernel checks each request against what it is shown: the mapped
 * user passes as the owner of every file.  For the contents that is the
 * point of the mapping: the user reads and writes them as their owner
 * would (and so do user.* attributes, which need only write access).  But
 * the daemon, as root, carries out what passes, and a change that only a
 * file's owner may make (its mode, owner, group, times set to a given
 * value, other attributes, a hard link to a set-ID program) would make the
 * mapped user the owner of the real file: a chmod 4755 of a root-owned
 * program gives root to whoever runs it on the host.  Such changes are
 * decided here again, as the kernel decides them without the mapping:
 * against the file's real owner and group, and the caller's real ids,
 * supplementary groups and capabilities.
 */
#include "config.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_int.h"

/* Groups looked at for one request; a caller in more is asked again. */
#define FS_PERM_GROUPS 64

int fs_caller_cap(fuse_req_t req, int cap)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	unsigned long long caps = 0;
	char path[64], line[256];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)ctx->pid);
	f = ctx->pid > 0 ? fopen(path, "re") : NULL;
	if (!f)
		return ctx->uid == 0;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &caps) == 1;
	fclose(f);
	if (!found)
		return ctx->uid == 0;
	return !!(caps & (1ULL << cap));
}

/*
 * Whether the caller may override an owner's rights with cap.  Only root
 * counts: a capability held in a user namespace covers the files whose
 * owners that namespace maps, which the mapped owner shown may be and the
 * real one not.
 */
static int fs_perm_priv(fuse_req_t req, int cap)
{
	return fuse_req_ctx(req)->uid == 0 && fs_caller_cap(req, cap);
}

/* Whether gid is the caller's group or one of its supplementary groups. */
static int fs_perm_in_group(fuse_req_t req, gid_t gid)
{
	gid_t small[FS_PERM_GROUPS], *list = small;
	int n, size = FS_PERM_GROUPS, found = 0;

	if (fuse_req_ctx(req)->gid == gid)
		return 1;
	n = fuse_req_getgroups(req, size, list);
	if (n > size) {
		size = n;
		list = calloc((size_t)size, sizeof(*list));
		if (!list)
			return 0;
		n = fuse_req_getgroups(req, size, list);
	}
	for (int i = 0; i < n && i < size && !found; i++)
		found = list[i] == gid;
	if (list != small)
		free(list);
	return found;
}

static int fs_perm_mapped(const struct volfs_fs *fs)
{
	return fs->cfg.force_uid || fs->cfg.force_gid;
}

int fs_perm_setattr(fuse_req_t req, struct volfs_fs *fs, struct fs_at *at,
		    uint64_t fh, struct stat *attr, int to_set)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct stat st;
	int owner, times, rc;

	/* A time given, not the present (which comes with its _NOW bit). */
	times = ((to_set & FUSE_SET_ATTR_ATIME) &&
		 !(to_set & FUSE_SET_ATTR_ATIME_NOW)) ||
		((to_set & FUSE_SET_ATTR_MTIME) &&
		 !(to_set & FUSE_SET_ATTR_MTIME_NOW));
	if (!fs_perm_mapped(fs) ||
	    (!(to_set &
	       (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) &&
	     !times))
		return 0;
	rc = fs_getattr_at(at, fh, &st);
	if (rc < 0)
		return rc;
	owner = ctx->uid == st.st_uid;
	if (to_set & FUSE_SET_ATTR_MODE) {
		mode_t now = st.st_mode & 07777, want = attr->st_mode & 07777;
		mode_t setid = S_ISUID | S_ISGID;

		/* Only dropping set-ID bits, as the kernel does before a
		 * write where volfs does not clear them itself: that gives
		 * no one anything. */
		if (!owner && ((want & ~now) || ((now ^ want) & ~setid)) &&
		    !fs_perm_priv(req, CAP_FOWNER))
			return -EPERM;
		/* The kernel drops set-group-ID, not the chmod, for a
		 * caller outside the file's group. */
		if ((attr->st_mode & S_ISGID) &&
		    !fs_perm_in_group(req, st.st_gid) &&
		    !fs_perm_priv(req, CAP_FSETID))
			attr->st_mode &= ~(mode_t)S_ISGID;
	}
	/* An owner may "change" the owner to itself, and the group to one
	 * of its own groups. */
	if ((to_set & FUSE_SET_ATTR_UID) &&
	    (!owner || attr->st_uid != st.st_uid) &&
	    !fs_perm_priv(req, CAP_CHOWN))
		return -EPERM;
	if ((to_set & FUSE_SET_ATTR_GID) &&
	    (!owner || (attr->st_gid != st.st_gid &&
			!fs_perm_in_group(req, attr->st_gid))) &&
	    !fs_perm_priv(req, CAP_CHOWN))
		return -EPERM;
	/* Times set to the present need only write access, which the
	 * mapping gives; given times are the owner's to set. */
	if (times && !owner && !fs_perm_priv(req, CAP_FOWNER))
		return -EPERM;
	return 0;
}

/*
 * The real attributes of the file at when the mount maps owners: 1 with *st
 * filled, 0 when it maps none (the kernel's own checks then suffice), or
 * -errno.
 */
static int fs_perm_real(struct volfs_fs *fs, struct fs_at *at,
			struct stat *st)
{
	int rc;

	if (!fs_perm_mapped(fs))
		return 0;
	rc = fs_getattr_at(at, VOLFS_NO_FH, st);
	return rc < 0 ? rc : 1;
}

/* 0 if the caller owns st for real or may act as its owner, else -EPERM. */
static int fs_perm_owner(fuse_req_t req, const struct stat *st)
{
	if (fuse_req_ctx(req)->uid == st->st_uid ||
	    fs_perm_priv(req, CAP_FOWNER))
		return 0;
	return -EPERM;
}

int fs_perm_xattr(fuse_req_t req, struct volfs_fs *fs, struct fs_at *at,
		  const char *name)
{
	struct stat st;
	int rc = fs_perm_real(fs, at, &st);

	if (rc <= 0)
		return rc;
	/* user.* needs write access, except on a sticky directory (as the
	 * kernel has it); every other namespace needs the owner or a
	 * capability. */
	if (!strncmp(name, "user.", 5) &&
	    !(S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX)))
		return 0;
	return fs_perm_owner(req, &st);
}

int fs_perm_link(fuse_req_t req, struct volfs_fs *fs, struct fs_at *at)
{
	struct stat st;
	int rc = fs_perm_real(fs, at, &st);

	if (rc <= 0)
		return rc;
	/* What the kernel's protected_hardlinks lets only the owner link. */
	if (S_ISREG(st.st_mode) && !(st.st_mode & S_ISUID) &&
	    (st.st_mode & (S_ISGID | S_IXGRP)) != (S_ISGID | S_IXGRP))
		return 0;
	return fs_perm_owner(req, &st);
}
