/* SPDX-License-Identifier: MIT */
/*
 * The FUSE glue, on libfuse's low-level API: turns kernel requests on node
 * ids into backend calls on paths.  The only file that includes libfuse.
 */
#define FUSE_USE_VERSION 312
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "volfs/backend.h"
#include "volfs/fs.h"
#include "volfs/nodes.h"
#include "volfs/util.h"

/* Kernel cache lifetimes (seconds) when the mount does not say: for data
 * only volfs changes, and for data others may change too. */
#define FS_TIMEOUT_OWNED 86400.0
#define FS_TIMEOUT_SHARED 1.0
#define FS_MAX_IO (1024 * 1024)

/* An open file: the backend's handle and, for backends with a real fd,
 * the fd the data path uses directly. */
struct fs_file {
	uint64_t bfh;
	int fd;
	fuse_ino_t ino;
	struct fs_file *prev, *next;
};

struct fs_dirent {
	char *name;
	mode_t type;
	int has_st;
	struct stat st;
};

/* A directory handle: a snapshot of the listing, so offsets stay
 * meaningful while the directory changes.  Taken at opendir and again when
 * the reader starts over (rewinddir). */
struct fs_dir {
	struct fs_dirent *ents;
	size_t n, alloc;
	int served;
};

struct volfs_fs {
	struct fuse_session *se;
	struct volfs_open_volume *ov;
	const struct volfs_backend *be;
	struct volfs_nodes *nodes;
	struct volfs_fs_config cfg;
	unsigned caps;
	double entry_tmo, attr_tmo, neg_tmo;
	/* Keep file pages across opens. */
	int keep_cache;
	char *mountpoint;
	int mounted;
	/* Files still open, released at shutdown if the kernel did not. */
	pthread_mutex_t files_lock;
	struct fs_file *files;
};

static struct volfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void fs_lock(struct volfs_fs *fs)
{
	volfs_vol_lock(fs->ov);
}

static void fs_unlock(struct volfs_fs *fs)
{
	volfs_vol_unlock(fs->ov);
}

static int fs_reply_err(fuse_req_t req, int rc)
{
	return fuse_reply_err(req, rc < 0 ? -rc : rc);
}

static uint64_t fs_fh(struct fuse_file_info *fi)
{
	return fi ? ((struct fs_file *)(uintptr_t)fi->fh)->bfh : VOLFS_NO_FH;
}

/*
 * The path of ino.  An unlinked node's last path is good only together with
 * an open handle.
 */
static int fs_path(struct volfs_fs *fs, fuse_ino_t ino, uint64_t fh,
		   char *buf, size_t size)
{
	int rc = volfs_nodes_path(fs->nodes, ino, buf, size);

	if (rc == 1)
		return fh != VOLFS_NO_FH ? 0 : -ENOENT;
	return rc;
}

/*
 * An open handle of ino, for requests about an unlinked file that the
 * kernel sends without one (fstat() of an open, unlinked file).
 */
static uint64_t fs_any_fh(struct volfs_fs *fs, fuse_ino_t ino)
{
	uint64_t fh = VOLFS_NO_FH;

	pthread_mutex_lock(&fs->files_lock);
	for (struct fs_file *f = fs->files; f; f = f->next) {
		if (f->ino == ino) {
			fh = f->bfh;
			break;
		}
	}
	pthread_mutex_unlock(&fs->files_lock);
	return fh;
}

static void fs_fix_attr(struct volfs_fs *fs, struct stat *st, fuse_ino_t ino)
{
	if (!(fs->caps & VOLFS_CAP_STABLE_INO))
		st->st_ino = ino;
	if (fs->cfg.force_uid)
		st->st_uid = fs->cfg.uid;
	if (fs->cfg.force_gid)
		st->st_gid = fs->cfg.gid;
}

static int fs_getattr_path(struct volfs_fs *fs, const char *path, uint64_t fh,
			   struct stat *st)
{
	int rc;

	memset(st, 0, sizeof(*st));
	fs_lock(fs);
	rc = fs->be->getattr(fs->ov->state, path, fh, st);
	fs_unlock(fs);
	return rc;
}

/* Looks name up in parent and fills e, taking one lookup reference. */
static int fs_entry(struct volfs_fs *fs, fuse_ino_t parent, const char *name,
		    uint64_t fh, struct fuse_entry_param *e)
{
	char path[PATH_MAX];
	uint64_t ino;
	int rc;

	memset(e, 0, sizeof(*e));
	rc = volfs_nodes_child_path(fs->nodes, parent, name, path,
				    sizeof(path));
	if (rc < 0)
		return rc;
	rc = fs_getattr_path(fs, path, fh, &e->attr);
	if (rc < 0)
		return rc;
	rc = volfs_nodes_lookup(fs->nodes, parent, name, &e->attr, &ino);
	if (rc < 0)
		return rc;
	e->ino = ino;
	e->attr_timeout = fs->attr_tmo;
	e->entry_timeout = fs->entry_tmo;
	fs_fix_attr(fs, &e->attr, ino);
	return 0;
}

static void fs_reply_entry(fuse_req_t req, struct volfs_fs *fs,
			   fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int rc = fs_entry(fs, parent, name, VOLFS_NO_FH, &e);

	if (rc < 0) {
		fs_reply_err(req, rc);
		return;
	}
	if (fuse_reply_entry(req, &e) != 0)
		volfs_nodes_forget(fs->nodes, e.ino, 1);
}

static struct volfs_caller fs_caller(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct volfs_caller who = {
		.uid = ctx->uid,
		.gid = ctx->gid,
		.pid = ctx->pid,
	};

	return who;
}

#define FS_WRITABLE(fs, req)                                                 \
	do {                                                                 \
		if ((fs)->cfg.readonly) {                                    \
			fuse_reply_err((req), EROFS);                        \
			return;                                              \
		}                                                            \
	} while (0)

#define FS_HAVE_OP(fs, req, op, err)                                         \
	do {                                                                 \
		if (!(fs)->be->op) {                                         \
			fuse_reply_err((req), (err));                        \
			return;                                              \
		}                                                            \
	} while (0)

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct volfs_fs *fs = userdata;

	conn->max_write = FS_MAX_IO;
	conn->max_readahead = FS_MAX_IO;
	/* No flock or POSIX lock ops: the kernel keeps both kinds of locks
	 * itself, which is right for a mount served by one process. */
	conn->want &= ~(FUSE_CAP_FLOCK_LOCKS | FUSE_CAP_POSIX_LOCKS);
	if (fs->caps & VOLFS_CAP_REAL_FD) {
		conn->want |= conn->capable &
			      (FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	}
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	conn->time_gran = 1;
}

static void fs_destroy_cb(void *userdata)
{
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	struct fuse_entry_param e;
	int rc;

	rc = fs_entry(fs, parent, name, VOLFS_NO_FH, &e);
	if (rc == -ENOENT && fs->neg_tmo > 0) {
		/* A negative entry: the kernel remembers the name is free. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->neg_tmo;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc < 0) {
		fs_reply_err(req, rc);
		return;
	}
	if (fuse_reply_entry(req, &e) != 0)
		volfs_nodes_forget(fs->nodes, e.ino, 1);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	volfs_nodes_forget(fs_of(req)->nodes, ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct volfs_fs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++)
		volfs_nodes_forget(fs->nodes, forgets[i].ino,
				   forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	uint64_t fh = fs_fh(fi);
	char path[PATH_MAX];
	struct stat st;
	int rc;

	rc = fs_path(fs, ino, fh, path, sizeof(path));
	if (rc == -ENOENT && fh == VOLFS_NO_FH) {
		fh = fs_any_fh(fs, ino);
		if (fh != VOLFS_NO_FH)
			rc = fs_path(fs, ino, fh, path, sizeof(path));
	}
	if (rc == 0)
		rc = fs_getattr_path(fs, path, fh, &st);
	if (rc < 0) {
		fs_reply_err(req, rc);
		return;
	}
	fs_fix_attr(fs, &st, ino);
	fuse_reply_attr(req, &st, fs->attr_tmo);
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

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	const struct volfs_backend *be = fs->be;
	void *vol = fs->ov->state;
	uint64_t fh = fs_fh(fi);
	char path[PATH_MAX];
	struct stat st;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_path(fs, ino, fh, path, sizeof(path));
	if (rc < 0)
		goto out;
	fs_lock(fs);
	if (to_set & FUSE_SET_ATTR_MODE)
		rc = be->chmod ? be->chmod(vol, path, fh, attr->st_mode)
			       : -EPERM;
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		uid_t uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid
						       : (uid_t)-1;
		gid_t gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid
						       : (gid_t)-1;

		rc = be->chown ? be->chown(vol, path, fh, uid, gid) : -EPERM;
	}
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE))
		rc = be->truncate ? be->truncate(vol, path, fh, attr->st_size)
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
		rc = be->utimens ? be->utimens(vol, path, fh, tv) : -EPERM;
	}
	fs_unlock(fs);
	if (rc == 0)
		rc = fs_getattr_path(fs, path, fh, &st);
out:
	if (rc < 0) {
		fs_reply_err(req, rc);
		return;
	}
	fs_fix_attr(fs, &st, ino);
	fuse_reply_attr(req, &st, fs->attr_tmo);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct volfs_fs *fs = fs_of(req);
	char path[PATH_MAX], target[PATH_MAX];
	int rc;

	FS_HAVE_OP(fs, req, readlink, EINVAL);
	rc = fs_path(fs, ino, VOLFS_NO_FH, path, sizeof(path));
	if (rc == 0) {
		fs_lock(fs);
		rc = fs->be->readlink(fs->ov->state, path, target,
				      sizeof(target));
		fs_unlock(fs);
	}
	if (rc < 0)
		fs_reply_err(req, rc);
	else
		fuse_reply_readlink(req, target);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct volfs_fs *fs = fs_of(req);
	struct volfs_caller who = fs_caller(req);
	char path[PATH_MAX];
	int rc;

	FS_WRITABLE(fs, req);
	FS_HAVE_OP(fs, req, mknod, EPERM);
	rc = volfs_nodes_child_path(fs->nodes, parent, name, path,
				    sizeof(path));
	if (rc == 0) {
		fs_lock(fs);
		rc = fs->be->mknod(fs->ov->state, path, mode, rdev, &who);
		fs_unlock(fs);
	}
	if (rc < 0)
		fs_reply_err(req, rc);
	else
		fs_reply_entry(req, fs, parent, name);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct volfs_fs *fs = fs_of(req);
	struct volfs_caller who = fs_caller(req);
	char path[PATH_MAX];
	int rc;

	FS_WRITABLE(fs, req);
	FS_HAVE_OP(fs, req, mkdir, EPERM);
	rc = volfs_nodes_child_path(fs->nodes, parent, name, path,
				    sizeof(path));
	if (rc == 0) {
		fs_lock(fs);
		rc = fs->be->mkdir(fs->ov->state, path, mode, &who);
		fs_unlock(fs);
	}
	if (rc < 0)
		fs_reply_err(req, rc);
	else
		fs_reply_entry(req, fs, parent, name);
}

static void fs_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	struct volfs_caller who = fs_caller(req);
	char path[PATH_MAX];
	int rc;

	FS_WRITABLE(fs, req);
	FS_HAVE_OP(fs, req, symlink, EPERM);
	rc = volfs_nodes_child_path(fs->nodes, parent, name, path,
				    sizeof(path));
	if (rc == 0) {
		fs_lock(fs);
		rc = fs->be->symlink(fs->ov->state, target, path, &who);
		fs_unlock(fs);
	}
	if (rc < 0)
		fs_reply_err(req, rc);
	else
		fs_reply_entry(req, fs, parent, name);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct volfs_fs *fs = fs_of(req);
	char from[PATH_MAX], to[PATH_MAX];
	int rc;

	FS_WRITABLE(fs, req);
	FS_HAVE_OP(fs, req, link, EPERM);
	rc = fs_path(fs, ino, VOLFS_NO_FH, from, sizeof(from));
	if (rc == 0)
		rc = volfs_nodes_child_path(fs->nodes, newparent, newname, to,
					    sizeof(to));
	if (rc == 0) {
		fs_lock(fs);
		rc = fs->be->link(fs->ov->state, from, to);
		fs_unlock(fs);
	}
	if (rc < 0)
		fs_reply_err(req, rc);
	else
		fs_reply_entry(req, fs, newparent, newname);
}

/* Whether removing path drops the file's last name (0 if unknown). */
static int fs_last_link(struct volfs_fs *fs, const char *path)
{
	struct stat st;

	if (fs_getattr_path(fs, path, VOLFS_NO_FH, &st) < 0)
		return 0;
	return S_ISDIR(st.st_mode) || st.st_nlink <= 1;
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	char path[PATH_MAX];
	int rc, last = 0;

	FS_WRITABLE(fs, req);
	FS_HAVE_OP(fs, req, unlink, EPERM);
	rc = volfs_nodes_child_path(fs->nodes, parent, name, path,
				    sizeof(path));
	if (rc == 0) {
		if (fs->caps & VOLFS_CAP_STABLE_INO)
			last = fs_last_link(fs, path);
		fs_lock(fs);
		rc = fs->be->unlink(fs->ov->state, path);
		fs_unlock(fs);
	}
	if (rc == 0)
		volfs_nodes_unlinked(fs->nodes, parent, name, last);
	fs_reply_err(req, rc);
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	char path[PATH_MAX];
	int rc;

	FS_WRITABLE(fs, req);
	FS_HAVE_OP(fs, req, rmdir, EPERM);
	rc = volfs_nodes_child_path(fs->nodes, parent, name, path,
				    sizeof(path));
	if (rc == 0) {
		fs_lock(fs);
		rc = fs->be->rmdir(fs->ov->state, path);
		fs_unlock(fs);
	}
	if (rc == 0)
		volfs_nodes_unlinked(fs->nodes, parent, name, 1);
	fs_reply_err(req, rc);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct volfs_fs *fs = fs_of(req);
	unsigned known = VOLFS_RENAME_NOREPLACE | VOLFS_RENAME_EXCHANGE;
	char from[PATH_MAX], to[PATH_MAX];
	int rc, last = 0;

	FS_WRITABLE(fs, req);
	FS_HAVE_OP(fs, req, rename, EPERM);
	if ((flags & ~known) ||
	    (flags && !(fs->caps & VOLFS_CAP_ATOMIC_RENAME))) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	rc = volfs_nodes_child_path(fs->nodes, parent, name, from,
				    sizeof(from));
	if (rc == 0)
		rc = volfs_nodes_child_path(fs->nodes, newparent, newname, to,
					    sizeof(to));
	if (rc == 0) {
		if (!(flags & VOLFS_RENAME_EXCHANGE) &&
		    (fs->caps & VOLFS_CAP_STABLE_INO))
			last = fs_last_link(fs, to);
		fs_lock(fs);
		rc = fs->be->rename(fs->ov->state, from, to, flags);
		fs_unlock(fs);
	}
	if (rc == 0)
		volfs_nodes_renamed(fs->nodes, parent, name, newparent,
				    newname, flags & VOLFS_RENAME_EXCHANGE,
				    last);
	fs_reply_err(req, rc);
}

static struct fs_file *fs_file_new(struct volfs_fs *fs, fuse_ino_t ino,
				   uint64_t bfh)
{
	struct fs_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->ino = ino;
	f->bfh = bfh;
	f->fd = -1;
	if ((fs->caps & VOLFS_CAP_REAL_FD) && fs->be->fd)
		f->fd = fs->be->fd(fs->ov->state, bfh);
	pthread_mutex_lock(&fs->files_lock);
	f->next = fs->files;
	if (fs->files)
		fs->files->prev = f;
	fs->files = f;
	pthread_mutex_unlock(&fs->files_lock);
	return f;
}

/* Releases f's backend handle and frees it. */
static int fs_file_free(struct volfs_fs *fs, struct fs_file *f)
{
	int rc = 0;

	pthread_mutex_lock(&fs->files_lock);
	if (f->prev)
		f->prev->next = f->next;
	else
		fs->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&fs->files_lock);
	if (fs->be->release) {
		fs_lock(fs);
		rc = fs->be->release(fs->ov->state, f->bfh);
		fs_unlock(fs);
	}
	free(f);
	return rc;
}

static int fs_wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	int flags = fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY);
	char path[PATH_MAX];
	struct fs_file *f;
	uint64_t bfh;
	int rc;

	if (fs->cfg.readonly && fs_wants_write(flags)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	FS_HAVE_OP(fs, req, open_file, EPERM);
	rc = fs_path(fs, ino, VOLFS_NO_FH, path, sizeof(path));
	if (rc == 0) {
		fs_lock(fs);
		rc = fs->be->open_file(fs->ov->state, path, flags, &bfh);
		fs_unlock(fs);
	}
	if (rc < 0) {
		fs_reply_err(req, rc);
		return;
	}
	f = fs_file_new(fs, ino, bfh);
	if (!f) {
		if (fs->be->release)
			fs->be->release(fs->ov->state, bfh);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)f;
	fi->keep_cache = fs->keep_cache;
	if (fuse_reply_open(req, fi) != 0)
		fs_file_free(fs, f);
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	struct volfs_caller who = fs_caller(req);
	int flags = fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY);
	void *vol = fs->ov->state;
	struct fuse_entry_param e;
	char path[PATH_MAX];
	struct fs_file *f = NULL;
	uint64_t bfh;
	int rc;

	FS_WRITABLE(fs, req);
	FS_HAVE_OP(fs, req, create_file, EPERM);
	rc = volfs_nodes_child_path(fs->nodes, parent, name, path,
				    sizeof(path));
	if (rc < 0)
		goto err;
	fs_lock(fs);
	rc = fs->be->create_file(vol, path, flags, mode, &who, &bfh);
	/* Someone else created it since the kernel looked: without O_EXCL
	 * that is an ordinary open. */
	if (rc == -EEXIST && !(fi->flags & O_EXCL) && fs->be->open_file)
		rc = fs->be->open_file(vol, path, flags, &bfh);
	fs_unlock(fs);
	if (rc < 0)
		goto err;
	rc = fs_entry(fs, parent, name, bfh, &e);
	if (rc == 0) {
		f = fs_file_new(fs, e.ino, bfh);
		if (!f) {
			volfs_nodes_forget(fs->nodes, e.ino, 1);
			rc = -ENOMEM;
		}
	}
	if (rc < 0) {
		if (fs->be->release) {
			fs_lock(fs);
			fs->be->release(vol, bfh);
			fs_unlock(fs);
		}
		goto err;
	}
	fi->fh = (uintptr_t)f;
	fi->keep_cache = fs->keep_cache;
	if (fuse_reply_create(req, &e, fi) != 0) {
		volfs_nodes_forget(fs->nodes, e.ino, 1);
		fs_file_free(fs, f);
	}
	return;
err:
	fs_reply_err(req, rc);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	ssize_t n;
	char *buf;

	if (f->fd >= 0) {
		/* Zero-copy: libfuse splices from the fd into the kernel. */
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = f->fd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	FS_HAVE_OP(fs, req, read, EBADF);
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_lock(fs);
	n = fs->be->read(fs->ov->state, f->bfh, buf, size, off);
	fs_unlock(fs);
	if (n < 0)
		fs_reply_err(req, (int)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void fs_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *in, off_t off,
			 struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	size_t size = fuse_buf_size(in);
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(size);
	ssize_t n;

	FS_WRITABLE(fs, req);
	if (f->fd >= 0) {
		struct fuse_bufvec dst = FUSE_BUFVEC_INIT(size);

		dst.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		dst.buf[0].fd = f->fd;
		dst.buf[0].pos = off;
		n = fuse_buf_copy(&dst, in, 0);
		goto reply;
	}
	FS_HAVE_OP(fs, req, write, EBADF);
	if (in->count == 1 && !(in->buf[0].flags & FUSE_BUF_IS_FD)) {
		mem.buf[0].mem = (char *)in->buf[0].mem + in->off;
	} else {
		mem.buf[0].mem = malloc(size ? size : 1);
		if (!mem.buf[0].mem) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		n = fuse_buf_copy(&mem, in, 0);
		if (n < 0) {
			free(mem.buf[0].mem);
			goto reply;
		}
		size = (size_t)n;
	}
	fs_lock(fs);
	n = fs->be->write(fs->ov->state, f->bfh, mem.buf[0].mem, size, off);
	fs_unlock(fs);
	if (mem.buf[0].mem != (char *)in->buf[0].mem + in->off)
		free(mem.buf[0].mem);
reply:
	if (n < 0)
		fs_reply_err(req, (int)n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	int rc = 0;

	if (fs->be->flush) {
		fs_lock(fs);
		rc = fs->be->flush(fs->ov->state, fs_fh(fi));
		fs_unlock(fs);
	}
	fs_reply_err(req, rc);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);

	fs_reply_err(req, fs_file_free(fs, (struct fs_file *)(uintptr_t)fi->fh));
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	int rc = 0;

	if (fs->be->fsync) {
		fs_lock(fs);
		rc = fs->be->fsync(fs->ov->state, fs_fh(fi), datasync);
		fs_unlock(fs);
	}
	fs_reply_err(req, rc);
}

static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t off, off_t len, struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	int rc;

	FS_WRITABLE(fs, req);
	FS_HAVE_OP(fs, req, fallocate, EOPNOTSUPP);
	fs_lock(fs);
	rc = fs->be->fallocate(fs->ov->state, fs_fh(fi), mode, off, len);
	fs_unlock(fs);
	fs_reply_err(req, rc);
}

static void fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	off_t res;

	FS_HAVE_OP(fs, req, lseek, ENOSYS);
	fs_lock(fs);
	res = fs->be->lseek(fs->ov->state, fs_fh(fi), off, whence);
	fs_unlock(fs);
	if (res < 0)
		fs_reply_err(req, (int)res);
	else
		fuse_reply_lseek(req, res);
}

static int fs_dir_add(void *ctx, const char *name, mode_t type,
		      const struct stat *st)
{
	struct fs_dir *d = ctx;
	struct fs_dirent *e;

	if (d->n == d->alloc) {
		size_t alloc = d->alloc ? d->alloc * 2 : 32;
		struct fs_dirent *ents;

		ents = realloc(d->ents, alloc * sizeof(*ents));
		if (!ents)
			return -ENOMEM;
		d->ents = ents;
		d->alloc = alloc;
	}
	e = &d->ents[d->n];
	memset(e, 0, sizeof(*e));
	e->name = strdup(name);
	if (!e->name)
		return -ENOMEM;
	e->type = type & S_IFMT;
	if (st) {
		e->st = *st;
		e->has_st = 1;
		e->type = st->st_mode & S_IFMT;
	}
	d->n++;
	return 0;
}

static void fs_dir_clear(struct fs_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->ents[i].name);
	d->n = 0;
	d->served = 0;
}

static void fs_dir_free(struct fs_dir *d)
{
	fs_dir_clear(d);
	free(d->ents);
	free(d);
}

/* (Re)reads the listing of directory ino into d. */
static int fs_dir_load(struct volfs_fs *fs, fuse_ino_t ino, struct fs_dir *d)
{
	char path[PATH_MAX];
	int rc;

	fs_dir_clear(d);
	rc = fs_path(fs, ino, VOLFS_NO_FH, path, sizeof(path));
	if (rc == 0)
		rc = fs_dir_add(d, ".", S_IFDIR, NULL);
	if (rc == 0)
		rc = fs_dir_add(d, "..", S_IFDIR, NULL);
	if (rc == 0) {
		fs_lock(fs);
		rc = fs->be->readdir(fs->ov->state, path, fs_dir_add, d);
		fs_unlock(fs);
	}
	return rc;
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_dir *d;
	int rc;

	FS_HAVE_OP(fs, req, readdir, ENOTDIR);
	d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = fs_dir_load(fs, ino, d);
	if (rc < 0) {
		fs_dir_free(d);
		fs_reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0)
		fs_dir_free(d);
}

static int fs_is_dot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static void fs_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi, int plus)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	char *buf, *p;
	size_t rem = size;

	/* Starting over: the reader must see the directory as it is now. */
	if (off == 0 && d->served) {
		int rc = fs_dir_load(fs, ino, d);

		if (rc < 0) {
			fs_reply_err(req, rc);
			return;
		}
	}
	d->served = 1;
	buf = calloc(1, size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p = buf;
	for (size_t i = (size_t)off; i < d->n; i++) {
		struct fs_dirent *ent = &d->ents[i];
		struct fuse_entry_param e;
		size_t len;

		memset(&e, 0, sizeof(e));
		if (!plus || fs_is_dot(ent->name)) {
			e.attr.st_mode = ent->type;
			e.attr.st_ino = ent->has_st ? ent->st.st_ino : 1;
			if (!plus)
				len = fuse_add_direntry(req, p, rem, ent->name,
							&e.attr, (off_t)i + 1);
			else
				len = fuse_add_direntry_plus(req, p, rem,
							     ent->name, &e,
							     (off_t)i + 1);
			if (len > rem)
				break;
			p += len;
			rem -= len;
			continue;
		}
		if (ent->has_st) {
			uint64_t cino;

			e.attr = ent->st;
			if (volfs_nodes_lookup(fs->nodes, ino, ent->name,
					       &e.attr, &cino) < 0)
				continue;
			e.ino = cino;
			e.attr_timeout = fs->attr_tmo;
			e.entry_timeout = fs->entry_tmo;
			fs_fix_attr(fs, &e.attr, cino);
		} else if (fs_entry(fs, ino, ent->name, VOLFS_NO_FH, &e) < 0) {
			/* Gone since the listing was taken. */
			continue;
		}
		len = fuse_add_direntry_plus(req, p, rem, ent->name, &e,
					     (off_t)i + 1);
		if (len > rem) {
			volfs_nodes_forget(fs->nodes, e.ino, 1);
			break;
		}
		p += len;
		rem -= len;
	}
	fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	fs_do_readdir(req, ino, size, off, fi, 0);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	fs_do_readdir(req, ino, size, off, fi, 1);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	fs_dir_free((struct fs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct volfs_fs *fs = fs_of(req);
	struct statvfs sv;
	int rc;

	memset(&sv, 0, sizeof(sv));
	sv.f_namemax = 255;
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	if (!fs->be->statfs) {
		fuse_reply_statfs(req, &sv);
		return;
	}
	fs_lock(fs);
	rc = fs->be->statfs(fs->ov->state, &sv);
	fs_unlock(fs);
	if (rc < 0)
		fs_reply_err(req, rc);
	else
		fuse_reply_statfs(req, &sv);
}

static int fs_xattr_path(fuse_req_t req, struct volfs_fs *fs, fuse_ino_t ino,
			 char *path, size_t size)
{
	if (!(fs->caps & VOLFS_CAP_XATTRS))
		return -ENOTSUP;
	return fs_path(fs, ino, VOLFS_NO_FH, path, size);
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct volfs_fs *fs = fs_of(req);
	char path[PATH_MAX];
	int rc;

	FS_WRITABLE(fs, req);
	FS_HAVE_OP(fs, req, setxattr, ENOTSUP);
	rc = fs_xattr_path(req, fs, ino, path, sizeof(path));
	if (rc == 0) {
		fs_lock(fs);
		rc = fs->be->setxattr(fs->ov->state, path, name, value, size,
				      flags);
		fs_unlock(fs);
	}
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
	char path[PATH_MAX], *buf = NULL;
	ssize_t n;

	FS_HAVE_OP(fs, req, getxattr, ENOTSUP);
	n = fs_xattr_path(req, fs, ino, path, sizeof(path));
	if (n == 0 && size && !(buf = malloc(size)))
		n = -ENOMEM;
	if (n == 0) {
		fs_lock(fs);
		n = fs->be->getxattr(fs->ov->state, path, name, buf, size);
		fs_unlock(fs);
	}
	fs_reply_xattr(req, n, buf, size);
	free(buf);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct volfs_fs *fs = fs_of(req);
	char path[PATH_MAX], *buf = NULL;
	ssize_t n;

	FS_HAVE_OP(fs, req, listxattr, ENOTSUP);
	n = fs_xattr_path(req, fs, ino, path, sizeof(path));
	if (n == 0 && size && !(buf = malloc(size)))
		n = -ENOMEM;
	if (n == 0) {
		fs_lock(fs);
		n = fs->be->listxattr(fs->ov->state, path, buf, size);
		fs_unlock(fs);
	}
	fs_reply_xattr(req, n, buf, size);
	free(buf);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	char path[PATH_MAX];
	int rc;

	FS_WRITABLE(fs, req);
	FS_HAVE_OP(fs, req, removexattr, ENOTSUP);
	rc = fs_xattr_path(req, fs, ino, path, sizeof(path));
	if (rc == 0) {
		fs_lock(fs);
		rc = fs->be->removexattr(fs->ov->state, path, name);
		fs_unlock(fs);
	}
	fs_reply_err(req, rc);
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.destroy = fs_destroy_cb,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.readlink = fs_readlink,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.symlink = fs_symlink,
	.link = fs_link,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.rename = fs_rename,
	.open = fs_open,
	.create = fs_create,
	.read = fs_read,
	.write_buf = fs_write_buf,
	.flush = fs_flush,
	.release = fs_release,
	.fsync = fs_fsync,
	.fallocate = fs_fallocate,
	.lseek = fs_lseek,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.releasedir = fs_releasedir,
	.fsyncdir = fs_fsyncdir,
	.statfs = fs_statfs,
	.setxattr = fs_setxattr,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.removexattr = fs_removexattr,
};

/* libfuse's own messages, through volfs_log; the last error is kept so a
 * failed mount can say why. */
static __thread char fs_last_msg[512];

static void fs_fuse_log(enum fuse_log_level level, const char *fmt,
			va_list ap)
{
	char msg[512];
	size_t len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	if (level <= FUSE_LOG_ERR)
		snprintf(fs_last_msg, sizeof(fs_last_msg), "%s", msg);
	volfs_log((int)level, "fuse: %s", msg);
}

/*
 * Kernel caching from what the backend says of the volume.  When only this
 * process changes the data (every mount of a volume shares one instance),
 * the kernel may keep names, attributes and file pages as long as it likes;
 * when others may change it behind volfs (a host directory, a share), it
 * must ask again soon.
 */
static void fs_pick_caching(struct volfs_fs *fs)
{
	int ours = !(fs->caps & VOLFS_CAP_EXTERNAL_CHANGES);
	double dflt = ours ? FS_TIMEOUT_OWNED : FS_TIMEOUT_SHARED;

	fs->entry_tmo = fs->cfg.entry_timeout >= 0 ? fs->cfg.entry_timeout
						   : dflt;
	fs->attr_tmo = fs->cfg.attr_timeout >= 0 ? fs->cfg.attr_timeout
						 : dflt;
	/* Names others may create must not be hidden by a cached miss. */
	fs->neg_tmo = ours ? fs->entry_tmo : 0;
	fs->keep_cache = ours;
}

int volfs_fs_mount(struct volfs_open_volume *ov, const char *dir,
		   const struct volfs_fs_config *cfg, struct volfs_fs **out,
		   struct volfs_err *err)
{
	char opts[512];
	char *argv[4];
	int argc = 0;
	struct fuse_args args;
	struct volfs_fs *fs;

	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return volfs_err_set(err, -ENOMEM, "out of memory");
	fs->ov = ov;
	fs->be = ov->be;
	fs->cfg = *cfg;
	fs->caps = ov->be->volume_caps ? ov->be->volume_caps(ov->state)
				       : ov->be->caps;
	fs_pick_caching(fs);
	pthread_mutex_init(&fs->files_lock, NULL);
	fs->nodes = volfs_nodes_new(fs->caps & VOLFS_CAP_STABLE_INO);
	fs->mountpoint = strdup(dir);
	if (!fs->nodes || !fs->mountpoint) {
		volfs_err_set(err, -ENOMEM, "out of memory");
		goto err_free;
	}

	/* The kernel applied the caller's umask to every mode it sends; the
	 * daemon's own must not mask them again. */
	umask(0);
	fuse_set_log_func(fs_fuse_log);
	snprintf(opts, sizeof(opts),
		 "fsname=%s,subtype=volfs,default_permissions,auto_unmount%s%s",
		 ov->row.name, cfg->allow_other ? ",allow_other" : "",
		 cfg->readonly ? ",ro" : "");
	argv[argc++] = "volfs";
	argv[argc++] = "-o";
	argv[argc++] = opts;
	if (cfg->debug)
		argv[argc++] = "-d";
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	fs_last_msg[0] = '\0';
	fs->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	/* Parsing may have replaced argv by copies of its own. */
	fuse_opt_free_args(&args);
	if (!fs->se) {
		volfs_err_set(err, -EINVAL,
			      "cannot start a FUSE session for volume '%s': %s",
			      ov->row.name,
			      fs_last_msg[0] ? fs_last_msg : "unknown error");
		goto err_free;
	}
	if (fuse_session_mount(fs->se, dir) != 0) {
		volfs_err_set(err, -EIO,
			      "cannot mount volume '%s' on %s: %s",
			      ov->row.name, dir,
			      fs_last_msg[0] ? fs_last_msg
					     : "the FUSE mount failed (is "
					       "/dev/fuse usable and fuse3 "
					       "installed?)");
		goto err_session;
	}
	fs->mounted = 1;
	*out = fs;
	return 0;

err_session:
	fuse_session_destroy(fs->se);
err_free:
	volfs_nodes_free(fs->nodes);
	free(fs->mountpoint);
	pthread_mutex_destroy(&fs->files_lock);
	free(fs);
	return -EIO;
}

int volfs_fs_run(struct volfs_fs *fs)
{
	struct fuse_loop_config *lc;
	int rc;

	if (fuse_set_signal_handlers(fs->se) != 0)
		return -EIO;
	lc = fuse_loop_cfg_create();
	if (!lc) {
		fuse_remove_signal_handlers(fs->se);
		return -ENOMEM;
	}
	if (fs->cfg.max_threads)
		fuse_loop_cfg_set_max_threads(lc, fs->cfg.max_threads);
	rc = fuse_session_loop_mt(fs->se, lc);
	fuse_loop_cfg_destroy(lc);
	fuse_remove_signal_handlers(fs->se);
	return rc < 0 ? rc : 0;
}

void volfs_fs_destroy(struct volfs_fs *fs)
{
	if (!fs)
		return;
	if (fs->mounted)
		fuse_session_unmount(fs->se);
	fuse_session_destroy(fs->se);
	/* Handles the kernel never released (a forced exit). */
	while (fs->files)
		fs_file_free(fs, fs->files);
	volfs_nodes_free(fs->nodes);
	pthread_mutex_destroy(&fs->files_lock);
	free(fs->mountpoint);
	free(fs);
}
