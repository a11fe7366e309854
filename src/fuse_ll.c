/* SPDX-License-Identifier: MIT */
/*
 * The FUSE glue, on libfuse's low-level API: turns kernel requests on node
 * ids into backend calls on the backends' nodes (the inode table,
 * src/nodes.c, maps one to the other).  With src/ring.c (FUSE over io_uring),
 * the glue (src/fuse_*.c, src/fuse_int.h) is the only code that includes
 * libfuse.  This file answers requests on names, attributes and extended
 * attributes, and holds the table of handlers.
 *
 * A file system serves one volume at its root (`volfs mount`), or every
 * volume of a source as the root's subdirectories (`volfs serve`): the
 * root is then a listing of names, each volume is opened when first looked
 * up and closed once the kernel has forgotten all of its nodes, which a
 * janitor thread provokes for volumes unused for a while or removed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuse_int.h"
#include "metrics.h"

/*
 * The mode bits that a write or truncate by a caller without CAP_FSETID
 * clears: set-user-ID, and set-group-ID where it means "run as the group"
 * (with group execute), as the kernel does for its own file systems.
 */
static mode_t fs_priv_bits(mode_t mode)
{
	mode_t kill = 0;

	if (!S_ISREG(mode))
		return 0;
	if (mode & S_ISUID)
		kill |= S_ISUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		kill |= S_ISGID;
	return kill;
}

void fs_fix_attr(struct volfs_fs *fs, struct fs_vol *v, struct stat *st,
		 fuse_ino_t ino)
{
	/* Every attribute the kernel learns passes here: a file it may
	 * write has been seen here with its current bits. */
	if (fs_priv_bits(st->st_mode) &&
	    !__atomic_load_n(&fs->priv_seen, __ATOMIC_RELAXED))
		__atomic_store_n(&fs->priv_seen, 1, __ATOMIC_RELAXED);
	if (!(v->caps & VOLFS_CAP_STABLE_INO))
		st->st_ino = volfs_nodes_get(fs->nodes, ino)->serial;
	if (fs->cfg.force_uid)
		st->st_uid = fs->cfg.uid;
	if (fs->cfg.force_gid)
		st->st_gid = fs->cfg.gid;
}

int fs_getattr_at(struct fs_at *at, uint64_t fh, struct stat *st)
{
	int rc;

	memset(st, 0, sizeof(*st));
	fs_vlock(at->v);
	rc = at->v->be->getattr(at->v->state, at->node, fh, st);
	fs_vunlock(at->v);
	return rc;
}

/*
 * With FUSE_HANDLE_KILLPRIV_V2 the kernel leaves it to volfs to clear
 * set-user-ID and set-group-ID when a file is written or truncated by a
 * caller without CAP_FSETID (req; NULL when the kernel has already decided
 * the bits must go).  fd is the file's real descriptor or -1; fh its
 * backend handle.  (Capabilities in security.capability are dropped by the
 * backend's own storage, or by the ram backend, on write.)
 */
static int fs_kill_priv(fuse_req_t req, struct volfs_fs *fs, struct fs_vol *v,
			fuse_ino_t ino, uint64_t fh, int fd)
{
	struct fs_at at;
	struct stat st;
	mode_t kill;
	int rc;

	/* A backend without chmod has no bits to clear: not worth asking. */
	if (!fs->killpriv || !v->be->chmod)
		return 0;
	if (!__atomic_load_n(&fs->priv_seen, __ATOMIC_RELAXED) &&
	    !(v->caps & VOLFS_CAP_EXTERNAL_CHANGES))
		return 0;
	rc = fs_at(fs, ino, &at);
	if (rc < 0)
		return rc;
	if (fd >= 0)
		rc = fstat(fd, &st) < 0 ? -errno : 0;
	else
		rc = fs_getattr_at(&at, fh, &st);
	if (rc < 0)
		return rc;
	kill = fs_priv_bits(st.st_mode);
	if (!kill || (req && fs_caller_cap(req, CAP_FSETID)))
		return 0;
	fs_vlock(at.v);
	rc = at.v->be->chmod(at.v->state, at.node, fh,
			     (st.st_mode & 07777) & ~kill);
	fs_vunlock(at.v);
	return rc < 0 ? rc : 1;
}

/*
 * fs_kill_priv() for a request whose reply carries no attributes (OPEN,
 * WRITE): the kernel is told its cached mode is stale.
 */
int fs_kill_priv_notify(fuse_req_t req, struct volfs_fs *fs, struct fs_vol *v,
			fuse_ino_t ino, uint64_t fh, int fd)
{
	int rc = fs_kill_priv(req, fs, v, ino, fh, fd);

	if (rc <= 0)
		return rc;
	fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	return 0;
}

void fs_bforget(struct fs_vol *v, uint64_t bnode, uint64_t n)
{
	if (!n || bnode == VOLFS_ROOT_NODE || !v->be->forget)
		return;
	fs_vlock(v);
	v->be->forget(v->state, bnode, n);
	fs_vunlock(v);
}

void fs_forget_one(struct volfs_fs *fs, fuse_ino_t ino, uint64_t n)
{
	struct volfs_nodes_vol *nv = NULL;
	uint64_t bnode = 0, refs = 0;
	struct fs_vol *v;

	if (!volfs_nodes_forget(fs->nodes, ino, n, &nv, &bnode, &refs))
		return;
	v = fs_vol_of(nv);
	fs_bforget(v, bnode, refs);
	if (volfs_nodes_done(fs->nodes, nv))
		fs_vol_forgotten(fs, v);
}

int fs_entry(struct volfs_fs *fs, struct fs_vol *v, struct volfs_entry *be,
	     struct fuse_entry_param *e, int locked)
{
	uint64_t ino;
	int rc;

	memset(e, 0, sizeof(*e));
	rc = volfs_nodes_add(fs->nodes, &v->nv, be->node, &ino);
	if (rc < 0) {
		if (!locked)
			fs_bforget(v, be->node, 1);
		else if (be->node != VOLFS_ROOT_NODE && v->be->forget)
			v->be->forget(v->state, be->node, 1);
		return rc;
	}
	e->ino = ino;
	e->attr = be->st;
	e->attr_timeout = v->attr_tmo;
	e->entry_timeout = v->entry_tmo;
	fs_fix_attr(fs, v, &e->attr, ino);
	return 0;
}

/* Answers a request that made or found the backend's entry be. */
static void fs_reply_entry(fuse_req_t req, struct volfs_fs *fs,
			   struct fs_vol *v, struct volfs_entry *be)
{
	struct fuse_entry_param e;
	int rc = fs_entry(fs, v, be, &e, 0);

	if (rc < 0) {
		fs_reply_err(req, rc);
		return;
	}
	if (fuse_reply_entry(req, &e) != 0)
		fs_forget_one(fs, e.ino, 1);
}

struct volfs_caller fs_caller(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct volfs_caller who = {
		.uid = ctx->uid,
		.gid = ctx->gid,
		.pid = ctx->pid,
	};

	return who;
}

/*
 * FUSE over io_uring, where the kernel offers it (INIT flags, read by
 * fs_io_read): by default for one volume whose backend answers from this
 * machine; with io_uring=on for any; never with io_uring=off.  Its threads
 * serve one request at a time each, fine for a local disk or memory, too
 * few to wait on a network for many callers.
 */
static int fs_ring_wanted(const struct volfs_fs *fs)
{
	int offered = (fs->init_flags & FUSE_INIT_EXT) &&
		      (fs->init_flags2 & VOLFS_RING_INIT_FLAG2);

	if (fs->cfg.io_uring < 0)
		return 0;
	if (!offered || !volfs_ring_built()) {
		if (fs->cfg.io_uring > 0)
			volfs_log(VOLFS_LOG_WARNING,
				  "%s: io_uring=on, but %s: requests go through "
				  "/dev/fuse",
				  fs->mountpoint,
				  !volfs_ring_built()
					  ? "volfs was built without liburing"
					  : "the kernel does not offer FUSE over "
					    "io_uring (it needs Linux 6.14 or later "
					    "and Y in /sys/module/fuse/parameters/"
					    "enable_uring)");
		return 0;
	}
	if (fs->cfg.io_uring > 0)
		return 1;
	return fs->single && (fs->single->caps & VOLFS_CAP_LOCAL_DATA);
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct volfs_fs *fs = userdata;

	conn->max_write = FS_MAX_IO;
	conn->max_readahead = FS_MAX_IO;
	/* No flock or POSIX lock ops: the kernel keeps both kinds of locks
	 * itself, which is right for a mount served by one process. */
	conn->want &= ~(FUSE_CAP_FLOCK_LOCKS | FUSE_CAP_POSIX_LOCKS);
	/* Reads from backends with a real fd are spliced (fs_read). */
	conn->want |= conn->capable &
		      (FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* Answers through the ring are copied into its buffers, not spliced
	 * (requests through /dev/fuse may still be). */
	if (fs_ring_wanted(fs)) {
		fs->ring_want = 1;
		conn->want &= ~FUSE_CAP_SPLICE_WRITE;
	}
	/* Written data is spliced to a backend's real fd; a backend that
	 * copies it anyway had better get it in the request's buffer than in
	 * a pipe (one read instead of an allocation and two copies). */
	if (fs->single && !(fs->single->caps & VOLFS_CAP_REAL_FD))
		conn->want &= ~FUSE_CAP_SPLICE_READ;
	/*
	 * The data of a volume only this process changes changes only
	 * through the kernel's own page cache: a new mtime after a write
	 * through it need not throw away the pages it just wrote (which is
	 * what libfuse's default, automatic invalidation does).
	 */
	if (fs->single && !(fs->single->caps & VOLFS_CAP_EXTERNAL_CHANGES))
		conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	conn->time_gran = 1;
	/*
	 * On request, a volume only this process changes may have its writes
	 * gathered in the kernel's page cache and sent in large pieces.  Not
	 * for data others change too, nor where a write must meet its size
	 * limit at once, nor under serve, whose volumes differ.  It is not
	 * the default: the kernel then asks for the attributes of every file
	 * being written at each stat() (measured in doc/performance.md).
	 */
	if (fs->cfg.writeback_cache && fs->single &&
	    !(fs->single->caps &
	      (VOLFS_CAP_EXTERNAL_CHANGES | VOLFS_CAP_SIZE_LIMIT)) &&
	    !fs->cfg.readonly && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) {
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
		fs->writeback = 1;
	}
}

/*
 * Opens or creates at: with the writeback cache the kernel reads pages of
 * files opened write-only and places appends itself, so the backend gets
 * read-write access (where allowed) and no O_APPEND.
 */
int fs_open_at(struct volfs_fs *fs, struct fs_at *at, const char *name,
	       int flags, mode_t mode, const struct volfs_caller *who,
	       struct volfs_entry *e, uint64_t *bfh)
{
	const struct volfs_backend *be = at->v->be;
	int wflags = flags, rc;

	if (fs->writeback) {
		wflags &= ~O_APPEND;
		if ((wflags & O_ACCMODE) == O_WRONLY)
			wflags = (wflags & ~O_ACCMODE) | O_RDWR;
	}
	fs_vlock(at->v);
	for (int pass = 0; pass < 2; pass++) {
		if (name)
			rc = be->create_file(at->v->state, at->node, name,
					     wflags | O_CREAT, mode, who, e,
					     bfh);
		else
			rc = be->open_file(at->v->state, at->node, wflags,
					   bfh);
		/* A write-only file stays write-only. */
		if (rc != -EACCES || (wflags & O_ACCMODE) == (flags & O_ACCMODE))
			break;
		wflags = (wflags & ~O_ACCMODE) | (flags & O_ACCMODE);
	}
	fs_vunlock(at->v);
	return rc;
}

/* The attributes of a serve root: a directory only root may change. */
static void fs_list_root_attr(struct volfs_fs *fs, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = VOLFS_NODES_ROOT;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_uid = fs->cfg.force_uid ? fs->cfg.uid : 0;
	st->st_gid = fs->cfg.force_gid ? fs->cfg.gid : 0;
	st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec =
		fs->started;
	st->st_blksize = 4096;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct volfs_entry be;
	struct fs_at at;
	int rc;

	if (fs_is_list_root(fs, parent)) {
		rc = fs_lookup_volume(fs, name, &e);
		FS_CHECK(req, rc);
		if (fuse_reply_entry(req, &e) != 0)
			fs_forget_one(fs, e.ino, 1);
		return;
	}
	rc = fs_at(fs, parent, &at);
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, at, lookup, ENOENT);
	fs_vlock(at.v);
	rc = at.v->be->lookup(at.v->state, at.node, name, &be);
	fs_vunlock(at.v);
	if (rc == -ENOENT && at.v->neg_tmo > 0) {
		/* A negative entry: the kernel remembers the name is free. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = at.v->neg_tmo;
		fuse_reply_entry(req, &e);
		return;
	}
	FS_CHECK(req, rc);
	fs_reply_entry(req, fs, at.v, &be);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_forget_one(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct volfs_fs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++)
		fs_forget_one(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	uint64_t fh = fs_fh(fi);
	struct fs_at at;
	struct stat st;
	int rc;

	if (fs_is_list_root(fs, ino)) {
		fs_list_root_attr(fs, &st);
		fuse_reply_attr(req, &st, FS_TIMEOUT_LIST);
		return;
	}
	rc = fs_at(fs, ino, &at);
	if (rc == 0)
		rc = fs_getattr_at(&at, fh, &st);
	FS_CHECK(req, rc);
	fs_fix_attr(fs, at.v, &st, ino);
	fuse_reply_attr(req, &st, at.v->attr_tmo);
}

static struct timespec fs_time_arg(int set, int now, const struct timespec *t)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = UTIME_OMIT };

	if (now)
		ts.tv_nsec = UTIME_NOW;
	else if (set)
		ts = *t;
	return ts;
}

/* setattr's changes, in the order chmod, chown, truncate, utimens. */
static int fs_apply_attr(struct fs_at *at, uint64_t fh,
			 const struct stat *attr, int to_set)
{
	const struct volfs_backend *be = at->v->be;
	void *vol = at->v->state;
	uint64_t node = at->node;
	int rc = 0;

	if (to_set & FUSE_SET_ATTR_MODE)
		rc = be->chmod ? be->chmod(vol, node, fh, attr->st_mode)
			       : -EPERM;
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		uid_t uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid
						       : (uid_t)-1;
		gid_t gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid
						       : (gid_t)-1;

		rc = be->chown ? be->chown(vol, node, fh, uid, gid) : -EPERM;
	}
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE))
		rc = be->truncate ? be->truncate(vol, node, fh, attr->st_size)
				  : -EPERM;
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
				  FUSE_SET_ATTR_ATIME_NOW |
				  FUSE_SET_ATTR_MTIME_NOW))) {
		struct timespec tv[2];

		tv[0] = fs_time_arg(to_set & FUSE_SET_ATTR_ATIME,
				    to_set & FUSE_SET_ATTR_ATIME_NOW,
				    &attr->st_atim);
		tv[1] = fs_time_arg(to_set & FUSE_SET_ATTR_MTIME,
				    to_set & FUSE_SET_ATTR_MTIME_NOW,
				    &attr->st_mtim);
		rc = be->utimens ? be->utimens(vol, node, fh, tv) : -EPERM;
	}
	return rc;
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	uint64_t fh = fs_fh(fi);
	struct fs_at at;
	struct stat st;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at(fs, ino, &at);
	if (rc == 0)
		rc = fs_perm_setattr(req, fs, &at, fh, attr, to_set);
	FS_CHECK(req, rc);
	if ((to_set & FUSE_SET_ATTR_MODE) &&
	    fs_priv_bits(S_IFREG | attr->st_mode))
		__atomic_store_n(&fs->priv_seen, 1, __ATOMIC_RELAXED);
	fs_vlock(at.v);
	rc = fs_apply_attr(&at, fh, attr, to_set);
	fs_vunlock(at.v);
	/*
	 * FATTR_KILL_SUIDGID, which libfuse passes on in this bit: a
	 * truncate by a caller without CAP_FSETID, or a chown.  A request
	 * that changes nothing is the kernel removing privileges before a
	 * write: done here, so that the reply shows the kernel the new mode
	 * (a WRITE reply carries no attributes).
	 */
	if (rc == 0 && (to_set & FUSE_SET_ATTR_KILL_SUID))
		rc = fs_kill_priv(NULL, fs, at.v, ino, fh, -1);
	else if (rc == 0 && to_set == 0)
		rc = fs_kill_priv(req, fs, at.v, ino, fh, -1);
	if (rc > 0)
		rc = 0;
	if (rc == 0)
		rc = fs_getattr_at(&at, fh, &st);
	FS_CHECK(req, rc);
	fs_fix_attr(fs, at.v, &st, ino);
	fuse_reply_attr(req, &st, at.v->attr_tmo);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct volfs_fs *fs = fs_of(req);
	char target[PATH_MAX];
	struct fs_at at;
	int rc;

	rc = fs_at(fs, ino, &at);
	FS_CHECK(req, rc == -EPERM ? -EINVAL : rc);
	FS_HAVE_OP(req, at, readlink, EINVAL);
	fs_vlock(at.v);
	rc = at.v->be->readlink(at.v->state, at.node, target, sizeof(target));
	fs_vunlock(at.v);
	FS_CHECK(req, rc);
	fuse_reply_readlink(req, target);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct volfs_fs *fs = fs_of(req);
	struct volfs_caller who = fs_caller(req);
	struct volfs_entry be;
	struct fs_at at;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at(fs, parent, &at);
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, at, mknod, EPERM);
	fs_vlock(at.v);
	rc = at.v->be->mknod(at.v->state, at.node, name, mode, rdev, &who,
			     &be);
	fs_vunlock(at.v);
	FS_CHECK(req, rc);
	fs_reply_entry(req, fs, at.v, &be);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct volfs_fs *fs = fs_of(req);
	struct volfs_caller who = fs_caller(req);
	struct volfs_entry be;
	struct fs_at at;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at(fs, parent, &at);
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, at, mkdir, EPERM);
	fs_vlock(at.v);
	rc = at.v->be->mkdir(at.v->state, at.node, name, mode, &who, &be);
	fs_vunlock(at.v);
	FS_CHECK(req, rc);
	fs_reply_entry(req, fs, at.v, &be);
}

static void fs_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	struct volfs_caller who = fs_caller(req);
	struct volfs_entry be;
	struct fs_at at;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at(fs, parent, &at);
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, at, symlink, EPERM);
	fs_vlock(at.v);
	rc = at.v->be->symlink(at.v->state, target, at.node, name, &who, &be);
	fs_vunlock(at.v);
	FS_CHECK(req, rc);
	fs_reply_entry(req, fs, at.v, &be);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct volfs_fs *fs = fs_of(req);
	struct volfs_entry be;
	struct fs_at from, to;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at(fs, ino, &from);
	if (rc == 0)
		rc = fs_at(fs, newparent, &to);
	if (rc == 0 && from.v != to.v)
		rc = -EXDEV;
	if (rc == 0 && from.v->be->link)
		rc = fs_perm_link(req, fs, &from);
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, from, link, EPERM);
	fs_vlock(from.v);
	rc = from.v->be->link(from.v->state, from.node, to.node, newname, &be);
	fs_vunlock(from.v);
	FS_CHECK(req, rc);
	fs_reply_entry(req, fs, from.v, &be);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_at at;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at(fs, parent, &at);
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, at, unlink, EPERM);
	fs_vlock(at.v);
	rc = at.v->be->unlink(at.v->state, at.node, name);
	fs_vunlock(at.v);
	fs_reply_err(req, rc);
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_at at;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at(fs, parent, &at);
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, at, rmdir, EPERM);
	fs_vlock(at.v);
	rc = at.v->be->rmdir(at.v->state, at.node, name);
	fs_vunlock(at.v);
	fs_reply_err(req, rc);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct volfs_fs *fs = fs_of(req);
	unsigned known = VOLFS_RENAME_NOREPLACE | VOLFS_RENAME_EXCHANGE;
	struct fs_at from, to;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at(fs, parent, &from);
	if (rc == 0)
		rc = fs_at(fs, newparent, &to);
	if (rc == 0 && from.v != to.v)
		rc = -EXDEV;
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, from, rename, EPERM);
	if ((flags & ~known) ||
	    (flags && !(from.v->caps & VOLFS_CAP_ATOMIC_RENAME))) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fs_vlock(from.v);
	rc = from.v->be->rename(from.v->state, from.node, name, to.node,
				newname, flags);
	fs_vunlock(from.v);
	fs_reply_err(req, rc);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct volfs_fs *fs = fs_of(req);
	struct statvfs sv;
	struct fs_at at;
	int rc;

	memset(&sv, 0, sizeof(sv));
	sv.f_namemax = 255;
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	rc = fs_at(fs, ino, &at);
	if (rc == -EPERM || (rc == 0 && !at.v->be->statfs)) {
		/* A serve root, or a backend with nothing to say. */
		fuse_reply_statfs(req, &sv);
		return;
	}
	FS_CHECK(req, rc);
	fs_vlock(at.v);
	rc = at.v->be->statfs(at.v->state, &sv);
	fs_vunlock(at.v);
	FS_CHECK(req, rc);
	fuse_reply_statfs(req, &sv);
}

/* Resolves ino for an xattr op: ENOTSUP without xattr support. */
static int fs_xattr_at(struct volfs_fs *fs, fuse_ino_t ino, struct fs_at *at)
{
	int rc = fs_at(fs, ino, at);

	if (rc == 0 && !(at->v->caps & VOLFS_CAP_XATTRS))
		rc = -FS_NO_XATTRS(fs);
	return rc;
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_at at;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_xattr_at(fs, ino, &at);
	if (rc == 0 && at.v->be->setxattr)
		rc = fs_perm_xattr(req, fs, &at, name);
	FS_CHECK(req, rc);
	FS_HAVE_XATTR_OP(req, fs, at, setxattr);
	fs_vlock(at.v);
	rc = at.v->be->setxattr(at.v->state, at.node, name, value, size,
				flags);
	fs_vunlock(at.v);
	fs_reply_err(req, rc);
}

/* getxattr and listxattr: a size query, or a copy into a buffer. */
static void fs_reply_xattr(fuse_req_t req, ssize_t n, const char *buf,
			   size_t size)
{
	if (n < 0)
		fs_reply_err(req, (int)n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct volfs_fs *fs = fs_of(req);
	char *buf = NULL;
	struct fs_at at;
	ssize_t n;

	n = fs_xattr_at(fs, ino, &at);
	if (n == -EPERM)
		n = -ENODATA;
	FS_CHECK(req, (int)n);
	FS_HAVE_XATTR_OP(req, fs, at, getxattr);
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_vlock(at.v);
	n = at.v->be->getxattr(at.v->state, at.node, name, buf, size);
	fs_vunlock(at.v);
	fs_reply_xattr(req, n, buf, size);
	free(buf);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct volfs_fs *fs = fs_of(req);
	char *buf = NULL;
	struct fs_at at;
	ssize_t n;

	n = fs_xattr_at(fs, ino, &at);
	if (n == -EPERM) {
		/* A serve root has no attributes. */
		fs_reply_xattr(req, 0, NULL, size);
		return;
	}
	FS_CHECK(req, (int)n);
	FS_HAVE_XATTR_OP(req, fs, at, listxattr);
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_vlock(at.v);
	n = at.v->be->listxattr(at.v->state, at.node, buf, size);
	fs_vunlock(at.v);
	fs_reply_xattr(req, n, buf, size);
	free(buf);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_at at;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_xattr_at(fs, ino, &at);
	if (rc == 0 && at.v->be->removexattr)
		rc = fs_perm_xattr(req, fs, &at, name);
	FS_CHECK(req, rc);
	FS_HAVE_XATTR_OP(req, fs, at, removexattr);
	fs_vlock(at.v);
	rc = at.v->be->removexattr(at.v->state, at.node, name);
	fs_vunlock(at.v);
	fs_reply_err(req, rc);
}

/*
 * Each handler as libfuse calls it: timed, for the latency histograms of
 * `volfs serve --metrics` (src/metrics.c), from its call until it
 * returns, which for these handlers includes the reply.  Without metrics a
 * request pays one relaxed load for it.
 */
#define FS_TIMED(op, fn, params, args)                                       \
	static void fs_timed_##fn params                                     \
	{                                                                    \
		struct timespec t0;                                          \
									     \
		if (!volfs_metrics_timing()) {                               \
			fs_##fn args;                                        \
			return;                                              \
		}                                                            \
		clock_gettime(CLOCK_MONOTONIC, &t0);                         \
		fs_##fn args;                                                \
		volfs_metrics_fuse_done(op, &t0);                            \
	}

FS_TIMED(VOLFS_FUSE_LOOKUP, lookup,
	 (fuse_req_t req, fuse_ino_t parent, const char *name),
	 (req, parent, name))
FS_TIMED(VOLFS_FUSE_FORGET, forget,
	 (fuse_req_t req, fuse_ino_t ino, uint64_t nlookup),
	 (req, ino, nlookup))
FS_TIMED(VOLFS_FUSE_BATCH_FORGET, forget_multi,
	 (fuse_req_t req, size_t count, struct fuse_forget_data *forgets),
	 (req, count, forgets))
FS_TIMED(VOLFS_FUSE_GETATTR, getattr,
	 (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
	 (req, ino, fi))
FS_TIMED(VOLFS_FUSE_SETATTR, setattr,
	 (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
	  struct fuse_file_info *fi),
	 (req, ino, attr, to_set, fi))
FS_TIMED(VOLFS_FUSE_READLINK, readlink, (fuse_req_t req, fuse_ino_t ino),
	 (req, ino))
FS_TIMED(VOLFS_FUSE_MKNOD, mknod,
	 (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	  dev_t rdev),
	 (req, parent, name, mode, rdev))
FS_TIMED(VOLFS_FUSE_MKDIR, mkdir,
	 (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode),
	 (req, parent, name, mode))
FS_TIMED(VOLFS_FUSE_SYMLINK, symlink,
	 (fuse_req_t req, const char *target, fuse_ino_t parent,
	  const char *name),
	 (req, target, parent, name))
FS_TIMED(VOLFS_FUSE_LINK, link,
	 (fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	  const char *newname),
	 (req, ino, newparent, newname))
FS_TIMED(VOLFS_FUSE_UNLINK, unlink,
	 (fuse_req_t req, fuse_ino_t parent, const char *name),
	 (req, parent, name))
FS_TIMED(VOLFS_FUSE_RMDIR, rmdir,
	 (fuse_req_t req, fuse_ino_t parent, const char *name),
	 (req, parent, name))
FS_TIMED(VOLFS_FUSE_RENAME, rename,
	 (fuse_req_t req, fuse_ino_t parent, const char *name,
	  fuse_ino_t newparent, const char *newname, unsigned int flags),
	 (req, parent, name, newparent, newname, flags))
FS_TIMED(VOLFS_FUSE_OPEN, open,
	 (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
	 (req, ino, fi))
FS_TIMED(VOLFS_FUSE_CREATE, create,
	 (fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	  struct fuse_file_info *fi),
	 (req, parent, name, mode, fi))
FS_TIMED(VOLFS_FUSE_READ, read,
	 (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	  struct fuse_file_info *fi),
	 (req, ino, size, off, fi))
FS_TIMED(VOLFS_FUSE_WRITE, write_buf,
	 (fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in, off_t off,
	  struct fuse_file_info *fi),
	 (req, ino, in, off, fi))
FS_TIMED(VOLFS_FUSE_FLUSH, flush,
	 (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
	 (req, ino, fi))
FS_TIMED(VOLFS_FUSE_RELEASE, release,
	 (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
	 (req, ino, fi))
FS_TIMED(VOLFS_FUSE_FSYNC, fsync,
	 (fuse_req_t req, fuse_ino_t ino, int datasync,
	  struct fuse_file_info *fi),
	 (req, ino, datasync, fi))
FS_TIMED(VOLFS_FUSE_FALLOCATE, fallocate,
	 (fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
	  struct fuse_file_info *fi),
	 (req, ino, mode, off, len, fi))
FS_TIMED(VOLFS_FUSE_LSEEK, lseek,
	 (fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	  struct fuse_file_info *fi),
	 (req, ino, off, whence, fi))
FS_TIMED(VOLFS_FUSE_OPENDIR, opendir,
	 (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
	 (req, ino, fi))
FS_TIMED(VOLFS_FUSE_READDIR, readdir,
	 (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	  struct fuse_file_info *fi),
	 (req, ino, size, off, fi))
FS_TIMED(VOLFS_FUSE_READDIRPLUS, readdirplus,
	 (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	  struct fuse_file_info *fi),
	 (req, ino, size, off, fi))
FS_TIMED(VOLFS_FUSE_RELEASEDIR, releasedir,
	 (fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi),
	 (req, ino, fi))
FS_TIMED(VOLFS_FUSE_FSYNCDIR, fsyncdir,
	 (fuse_req_t req, fuse_ino_t ino, int datasync,
	  struct fuse_file_info *fi),
	 (req, ino, datasync, fi))
FS_TIMED(VOLFS_FUSE_STATFS, statfs, (fuse_req_t req, fuse_ino_t ino),
	 (req, ino))
FS_TIMED(VOLFS_FUSE_SETXATTR, setxattr,
	 (fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
	  size_t size, int flags),
	 (req, ino, name, value, size, flags))
FS_TIMED(VOLFS_FUSE_GETXATTR, getxattr,
	 (fuse_req_t req, fuse_ino_t ino, const char *name, size_t size),
	 (req, ino, name, size))
FS_TIMED(VOLFS_FUSE_LISTXATTR, listxattr,
	 (fuse_req_t req, fuse_ino_t ino, size_t size), (req, ino, size))
FS_TIMED(VOLFS_FUSE_REMOVEXATTR, removexattr,
	 (fuse_req_t req, fuse_ino_t ino, const char *name), (req, ino, name))

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_timed_lookup,
	.forget = fs_timed_forget,
	.forget_multi = fs_timed_forget_multi,
	.getattr = fs_timed_getattr,
	.setattr = fs_timed_setattr,
	.readlink = fs_timed_readlink,
	.mknod = fs_timed_mknod,
	.mkdir = fs_timed_mkdir,
	.symlink = fs_timed_symlink,
	.link = fs_timed_link,
	.unlink = fs_timed_unlink,
	.rmdir = fs_timed_rmdir,
	.rename = fs_timed_rename,
	.open = fs_timed_open,
	.create = fs_timed_create,
	.read = fs_timed_read,
	.write_buf = fs_timed_write_buf,
	.flush = fs_timed_flush,
	.release = fs_timed_release,
	.fsync = fs_timed_fsync,
	.fallocate = fs_timed_fallocate,
	.lseek = fs_timed_lseek,
	.opendir = fs_timed_opendir,
	.readdir = fs_timed_readdir,
	.readdirplus = fs_timed_readdirplus,
	.releasedir = fs_timed_releasedir,
	.fsyncdir = fs_timed_fsyncdir,
	.statfs = fs_timed_statfs,
	.setxattr = fs_timed_setxattr,
	.getxattr = fs_timed_getxattr,
	.listxattr = fs_timed_listxattr,
	.removexattr = fs_timed_removexattr,
};
