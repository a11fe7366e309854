/* SPDX-License-Identifier: MIT */
/*
 * The FUSE glue's open files: open and create, reads and writes through
 * the daemon, and FUSE passthrough, where the kernel reads and writes a
 * file's backing file itself.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuse_int.h"

/*
 * The backing id that the reply being sent by this thread (fuse_reply_open
 * or fuse_reply_create, which write it before they return) is to carry.
 */
__thread int fs_tl_backing;

/*
 * Passthrough: registers fd as the backing file of f's inode, or takes
 * another reference on the one registered (the kernel wants one backing
 * file for every open of an inode).  Only for volumes whose files are on
 * this machine and changed by nobody else (local without path=, ram in
 * tmpfs): the kernel then reads and writes them without the daemon
 * seeing it, which a cache that uploads on close must not miss.  On
 * failure the file is served as before, through the daemon.
 */
static void fs_backing_get(struct volfs_fs *fs, struct fs_file *f)
{
	struct fs_backing_map map = { .fd = f->fd };
	struct fs_backing *b, **head;
	int id;

	if (!fs->passthrough || f->fd < 0 ||
	    !(f->v->caps & VOLFS_CAP_LOCAL_DATA) ||
	    (f->v->caps & VOLFS_CAP_EXTERNAL_CHANGES))
		return;
	pthread_mutex_lock(&fs->files_lock);
	head = &fs->backings[f->ino % FS_BACKING_BUCKETS];
	for (b = *head; b; b = b->next)
		if (b->ino == f->ino)
			break;
	if (b) {
		b->refs++;
		f->backing = b->id;
		goto out;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		goto out;
	id = ioctl(fuse_session_fd(fs->se), FS_IOC_BACKING_OPEN, &map);
	if (id <= 0) {
		free(b);
		goto out;
	}
	b->ino = f->ino;
	b->id = id;
	b->refs = 1;
	b->next = *head;
	*head = b;
	f->backing = id;
out:
	pthread_mutex_unlock(&fs->files_lock);
}

static void fs_backing_put(struct volfs_fs *fs, struct fs_file *f)
{
	struct fs_backing **pp, *b = NULL;
	uint32_t id;

	if (!f->backing)
		return;
	pthread_mutex_lock(&fs->files_lock);
	for (pp = &fs->backings[f->ino % FS_BACKING_BUCKETS]; *pp;
	     pp = &(*pp)->next) {
		if ((*pp)->ino == f->ino) {
			if (--(*pp)->refs == 0) {
				b = *pp;
				*pp = b->next;
			}
			break;
		}
	}
	pthread_mutex_unlock(&fs->files_lock);
	if (!b)
		return;
	id = (uint32_t)b->id;
	if (fs->se)
		ioctl(fuse_session_fd(fs->se), FS_IOC_BACKING_CLOSE, &id);
	free(b);
}

/*
 * Answers OPEN (e NULL) or CREATE with the open file f: its handle, how the
 * kernel may cache it, and for passthrough its backing file's id, which
 * fs_io_writev() puts into the reply.  fuse_reply_*()'s result.
 */
static int fs_reply_opened(fuse_req_t req, struct volfs_fs *fs,
			   struct fs_file *f, const struct fuse_entry_param *e,
			   struct fuse_file_info *fi)
{
	int rc;

	fi->fh = (uintptr_t)f;
	fi->keep_cache = f->v->keep_cache;
	/* close() need not wait for a backend with nothing to do then. */
	fi->noflush = !f->v->be->flush;
	fs_backing_get(fs, f);
	fs_tl_backing = f->backing;
	rc = e ? fuse_reply_create(req, e, fi) : fuse_reply_open(req, fi);
	fs_tl_backing = 0;
	return rc;
}

static struct fs_file *fs_file_new(struct volfs_fs *fs, struct fs_vol *v,
				   fuse_ino_t ino, uint64_t bfh)
{
	struct fs_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->v = v;
	f->ino = ino;
	f->bfh = bfh;
	f->fd = -1;
	fs_vol_opened(v, 1);
	if ((v->caps & VOLFS_CAP_REAL_FD) && v->be->fd)
		f->fd = v->be->fd(v->state, bfh);
	pthread_mutex_lock(&fs->files_lock);
	f->next = fs->files;
	if (fs->files)
		fs->files->prev = f;
	fs->files = f;
	pthread_mutex_unlock(&fs->files_lock);
	return f;
}

/* Releases a backend handle that never became an fs_file. */
static void fs_release_bfh(struct fs_vol *v, uint64_t bfh)
{
	if (!v->be->release)
		return;
	fs_vlock(v);
	v->be->release(v->state, bfh);
	fs_vunlock(v);
}

/* Releases f's backend handle and frees it. */
int fs_file_free(struct volfs_fs *fs, struct fs_file *f)
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
	fs_backing_put(fs, f);
	if (f->v->be->release) {
		fs_vlock(f->v);
		rc = f->v->be->release(f->v->state, f->bfh);
		fs_vunlock(f->v);
	}
	fs_vol_opened(f->v, -1);
	free(f);
	return rc;
}

static int fs_wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	int flags = fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY);
	struct fs_file *f;
	struct fs_at at;
	uint64_t bfh;
	int rc;

	if (fs->cfg.readonly && fs_wants_write(flags)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	rc = fs_at(fs, ino, &at);
	FS_CHECK(req, rc == -EPERM ? -EISDIR : rc);
	FS_HAVE_OP(req, at, open_file, EPERM);
	rc = fs_open_at(fs, &at, NULL, flags, 0, NULL, NULL, &bfh);
	FS_CHECK(req, rc);
	f = fs_file_new(fs, at.v, ino, bfh);
	if (!f) {
		fs_release_bfh(at.v, bfh);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* open(O_TRUNC) truncates as a write does. */
	rc = (flags & O_TRUNC)
		     ? fs_kill_priv_notify(req, fs, at.v, ino, bfh, f->fd)
		     : 0;
	if (rc < 0) {
		fs_file_free(fs, f);
		fs_reply_err(req, rc);
		return;
	}
	if (fs_reply_opened(req, fs, f, NULL, fi) != 0)
		fs_file_free(fs, f);
}

void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	struct volfs_caller who = fs_caller(req);
	int flags = fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY);
	struct fuse_entry_param e;
	struct volfs_entry be;
	struct fs_file *f = NULL;
	struct fs_at at;
	uint64_t bfh;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at(fs, parent, &at);
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, at, create_file, EPERM);
	rc = fs_open_at(fs, &at, name, flags | (fi->flags & O_EXCL), mode,
			&who, &be, &bfh);
	FS_CHECK(req, rc);
	rc = fs_entry(fs, at.v, &be, &e, 0);
	if (rc == 0) {
		f = fs_file_new(fs, at.v, e.ino, bfh);
		if (!f) {
			fs_forget_one(fs, e.ino, 1);
			rc = -ENOMEM;
		}
	}
	if (rc < 0) {
		fs_release_bfh(at.v, bfh);
		fs_reply_err(req, rc);
		return;
	}
	if (fs_reply_opened(req, fs, f, &e, fi) != 0) {
		fs_file_free(fs, f);
		fs_forget_one(fs, e.ino, 1);
	}
}

void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi)
{
	struct fs_file *f = fs_file_of(fi);
	struct fs_vol *v = f->v;
	ssize_t n;
	char *buf;

	fs_touch(v);
	if (f->fd >= 0) {
		/* Zero-copy: libfuse splices from the fd into the kernel. */
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = f->fd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	if (!v->be->read) {
		fuse_reply_err(req, EBADF);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_vlock(v);
	n = v->be->read(v->state, f->bfh, buf, size, off);
	fs_vunlock(v);
	if (n < 0)
		fs_reply_err(req, (int)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

void fs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
		  off_t off, struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_file *f = fs_file_of(fi);
	struct fs_vol *v = f->v;
	size_t size = fuse_buf_size(in);
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(size);
	char *copy = NULL;
	ssize_t n;

	FS_WRITABLE(fs, req);
	fs_touch(v);
	n = fs_kill_priv_notify(req, fs, v, f->ino, f->bfh, f->fd);
	if (n < 0)
		goto reply;
	if (f->fd >= 0) {
		struct fuse_bufvec dst = FUSE_BUFVEC_INIT(size);

		dst.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		dst.buf[0].fd = f->fd;
		dst.buf[0].pos = off;
		n = fuse_buf_copy(&dst, in, 0);
		goto reply;
	}
	if (!v->be->write) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (in->count == 1 && !(in->buf[0].flags & FUSE_BUF_IS_FD)) {
		mem.buf[0].mem = (char *)in->buf[0].mem + in->off;
	} else {
		copy = malloc(size ? size : 1);
		if (!copy) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		mem.buf[0].mem = copy;
		n = fuse_buf_copy(&mem, in, 0);
		if (n < 0)
			goto reply;
		size = (size_t)n;
	}
	fs_vlock(v);
	n = v->be->write(v->state, f->bfh, mem.buf[0].mem, size, off);
	fs_vunlock(v);
reply:
	free(copy);
	if (n < 0)
		fs_reply_err(req, (int)n);
	else
		fuse_reply_write(req, (size_t)n);
}

void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_file *f = fs_file_of(fi);
	int rc = 0;

	if (f->v->be->flush) {
		fs_vlock(f->v);
		rc = f->v->be->flush(f->v->state, f->bfh);
		fs_vunlock(f->v);
	}
	fs_reply_err(req, rc);
}

void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_reply_err(req, fs_file_free(fs_of(req), fs_file_of(fi)));
}

void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	      struct fuse_file_info *fi)
{
	struct fs_file *f = fs_file_of(fi);
	int rc = 0;

	if (f->v->be->fsync) {
		fs_vlock(f->v);
		rc = f->v->be->fsync(f->v->state, f->bfh, datasync);
		fs_vunlock(f->v);
	}
	fs_reply_err(req, rc);
}

void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		  off_t len, struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_file *f = fs_file_of(fi);
	int rc;

	FS_WRITABLE(fs, req);
	if (!f->v->be->fallocate) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	fs_vlock(f->v);
	rc = f->v->be->fallocate(f->v->state, f->bfh, mode, off, len);
	fs_vunlock(f->v);
	fs_reply_err(req, rc);
}

void fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	      struct fuse_file_info *fi)
{
	struct fs_file *f = fs_file_of(fi);
	off_t res;

	if (!f->v->be->lseek) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fs_vlock(f->v);
	res = f->v->be->lseek(f->v->state, f->bfh, off, whence);
	fs_vunlock(f->v);
	if (res < 0)
		fs_reply_err(req, (int)res);
	else
		fuse_reply_lseek(req, res);
}
