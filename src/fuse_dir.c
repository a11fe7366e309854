/* SPDX-License-Identifier: MIT */
/*
 * The FUSE glue's directory handles.  A volume's directory is listed by its
 * backend's handle, a buffer at a time, from the position the kernel gives
 * (the backend's own positions): nothing of the listing is kept here, and
 * plain READDIR asks for no attributes.  A serve root lists the volumes'
 * names, a snapshot taken at the first read and at each rewind.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_int.h"

static int fs_names_add(struct fs_dir *d, const char *name)
{
	if (d->n == d->alloc) {
		size_t alloc = d->alloc ? d->alloc * 2 : 32;
		char **names = realloc(d->names, alloc * sizeof(*names));

		if (!names)
			return -ENOMEM;
		d->names = names;
		d->alloc = alloc;
	}
	d->names[d->n] = strdup(name);
	if (!d->names[d->n])
		return -ENOMEM;
	d->n++;
	return 0;
}

static void fs_list_add(void *ctx, const char *name, const char *id)
{
	(void)id;
	fs_names_add(ctx, name);
}

static void fs_names_clear(struct fs_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->names[i]);
	d->n = 0;
	d->served = 0;
}

void fs_dir_free(struct volfs_fs *fs, struct fs_dir *d)
{
	pthread_mutex_lock(&fs->files_lock);
	if (d->prev)
		d->prev->next = d->next;
	else
		fs->dirs = d->next;
	if (d->next)
		d->next->prev = d->prev;
	pthread_mutex_unlock(&fs->files_lock);
	if (d->v) {
		if (d->v->be->releasedir) {
			fs_vlock(d->v);
			d->v->be->releasedir(d->v->state, d->bdh);
			fs_vunlock(d->v);
		}
		fs_vol_opened(d->v, -1);
	}
	fs_names_clear(d);
	free(d->names);
	free(d);
}

/* (Re)reads the names of a serve root into d: ".", "..", the volumes. */
static int fs_names_load(struct volfs_fs *fs, struct fs_dir *d)
{
	int rc;

	fs_names_clear(d);
	d->loaded = 1;
	rc = fs_names_add(d, ".");
	if (rc == 0)
		rc = fs_names_add(d, "..");
	if (rc == 0)
		rc = fs->src->list(fs->src->ctx, fs_list_add, d);
	return rc < 0 ? rc : 0;
}

/*
 * A directory of a volume only volfs changes is listed once and then read
 * from the kernel's cache, across opens, until the kernel sees it change
 * (it drops the cache when an entry is made or removed through it, or the
 * directory's mtime changes).
 */
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_dir *d;
	struct fs_at at = { 0 };
	uint64_t bdh = VOLFS_NO_FH;
	int rc = 0, cache = 0;

	if (!fs_is_list_root(fs, ino)) {
		rc = fs_at(fs, ino, &at);
		FS_CHECK(req, rc);
		FS_HAVE_OP(req, at, opendir, ENOTDIR);
		FS_HAVE_OP(req, at, readdir, ENOTDIR);
		fs_vlock(at.v);
		rc = at.v->be->opendir(at.v->state, at.node, &bdh);
		fs_vunlock(at.v);
		FS_CHECK(req, rc);
		cache = at.v->keep_cache;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		if (at.v && at.v->be->releasedir) {
			fs_vlock(at.v);
			at.v->be->releasedir(at.v->state, bdh);
			fs_vunlock(at.v);
		}
		fuse_reply_err(req, ENOMEM);
		return;
	}
	d->v = at.v;
	d->bdh = bdh;
	if (d->v)
		fs_vol_opened(d->v, 1);
	pthread_mutex_lock(&fs->files_lock);
	d->next = fs->dirs;
	if (fs->dirs)
		fs->dirs->prev = d;
	fs->dirs = d;
	pthread_mutex_unlock(&fs->files_lock);
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = cache;
	fi->keep_cache = cache;
	if (fuse_reply_open(req, fi) != 0)
		fs_dir_free(fs, d);
}

/* A reply being filled by a backend's readdir. */
struct fs_fill {
	fuse_req_t req;
	struct volfs_fs *fs;
	struct fs_vol *v;
	char *p;
	size_t rem;
	int plus;
};

static int fs_fill(void *ctx, const char *name, mode_t type, ino_t ino,
		   off_t next, struct volfs_entry *be)
{
	struct fs_fill *f = ctx;
	struct fuse_entry_param e;
	size_t len;

	memset(&e, 0, sizeof(e));
	e.attr.st_mode = type & S_IFMT;
	e.attr.st_ino = ino ? ino : 1;
	if (!f->plus) {
		len = fuse_add_direntry(f->req, f->p, f->rem, name, &e.attr,
					next);
	} else if (!be) {
		/* "." and "..": the kernel learns no node of them here. */
		len = fuse_add_direntry_plus(f->req, f->p, f->rem, name, &e,
					     next);
	} else {
		if (fuse_add_direntry_plus(f->req, NULL, 0, name, NULL, 0) >
		    f->rem)
			return 1;
		/* The entry vanished from the table: skipped, as one that
		 * vanished from the directory. */
		if (fs_entry(f->fs, f->v, be, &e, 1) < 0)
			return 0;
		len = fuse_add_direntry_plus(f->req, f->p, f->rem, name, &e,
					     next);
	}
	if (len > f->rem)
		return 1;
	f->p += len;
	f->rem -= len;
	return 0;
}

/* A serve root's listing: its volumes are opened only when used, so the
 * kernel learns no node of them here. */
static void fs_list_readdir(fuse_req_t req, struct fs_dir *d, struct fs_fill *f,
			    off_t off)
{
	struct fuse_entry_param e;

	if (!d->loaded || (off == 0 && d->served)) {
		int rc = fs_names_load(f->fs, d);

		if (rc < 0) {
			fs_reply_err(req, rc);
			return;
		}
	}
	d->served = 1;
	for (size_t i = (size_t)off; i < d->n; i++) {
		size_t len;

		memset(&e, 0, sizeof(e));
		e.attr.st_mode = S_IFDIR;
		e.attr.st_ino = 1;
		if (!f->plus)
			len = fuse_add_direntry(req, f->p, f->rem, d->names[i],
						&e.attr, (off_t)i + 1);
		else
			len = fuse_add_direntry_plus(req, f->p, f->rem,
						     d->names[i], &e,
						     (off_t)i + 1);
		if (len > f->rem)
			break;
		f->p += len;
		f->rem -= len;
	}
}

static void fs_do_readdir(fuse_req_t req, size_t size, off_t off,
			  struct fuse_file_info *fi, int plus)
{
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	struct fs_fill f = {
		.req = req,
		.fs = fs_of(req),
		.v = d->v,
		.rem = size,
		.plus = plus,
	};
	char *buf;
	int rc = 0;

	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	f.p = buf;
	if (!d->v) {
		fs_list_readdir(req, d, &f, off);
	} else {
		fs_touch(d->v);
		fs_vlock(d->v);
		rc = d->v->be->readdir(d->v->state, d->bdh, off, plus, fs_fill,
				       &f);
		fs_vunlock(d->v);
	}
	/* What was filled before a failure is sent; the failure, if
	 * nothing was. */
	if (rc < 0 && f.rem == size)
		fs_reply_err(req, rc);
	else
		fuse_reply_buf(req, buf, size - f.rem);
	free(buf);
}

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	(void)ino;
	fs_do_readdir(req, size, off, fi, 0);
}

void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	(void)ino;
	fs_do_readdir(req, size, off, fi, 1);
}

void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fs_dir_free(fs_of(req), (struct fs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	int rc = 0;

	(void)ino;
	if (d->v && d->v->be->fsyncdir) {
		fs_vlock(d->v);
		rc = d->v->be->fsyncdir(d->v->state, d->bdh, datasync);
		fs_vunlock(d->v);
	}
	fs_reply_err(req, rc);
}
