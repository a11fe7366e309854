/* SPDX-License-Identifier: MIT */
/*
 * The FUSE glue's directory handles: a listing taken at opendir (and again
 * at rewinddir) and served from there, with attributes for readdirplus.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_int.h"

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

static void fs_list_add(void *ctx, const char *name, const char *id)
{
	(void)id;
	fs_dir_add(ctx, name, S_IFDIR, NULL);
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
	if (d->busy)
		fs_vol_opened(d->busy, -1);
	fs_dir_clear(d);
	free(d->ents);
	free(d);
}

/* (Re)reads the listing of directory ino into d. */
static int fs_dir_load(struct volfs_fs *fs, fuse_ino_t ino, struct fs_dir *d)
{
	struct fs_at at;
	int rc;

	fs_dir_clear(d);
	d->loaded = 1;
	rc = fs_dir_add(d, ".", S_IFDIR, NULL);
	if (rc == 0)
		rc = fs_dir_add(d, "..", S_IFDIR, NULL);
	if (rc < 0)
		return rc;
	if (fs_is_list_root(fs, ino)) {
		d->v = NULL;
		rc = fs->src->list(fs->src->ctx, fs_list_add, d);
		return rc < 0 ? rc : 0;
	}
	rc = fs_at(fs, ino, VOLFS_NO_FH, &at);
	if (rc < 0)
		return rc;
	if (!at.v->be->readdir)
		return -ENOTDIR;
	d->v = at.v;
	fs_vlock(at.v);
	rc = at.v->be->readdir(at.v->state, at.path, fs_dir_add, d);
	fs_vunlock(at.v);
	return rc;
}

/*
 * A directory of a volume only volfs changes is listed once and then read
 * from the kernel's cache, across opens, until the kernel sees it change
 * (it drops the cache when an entry is made or removed through it, or the
 * directory's mtime changes).  So opendir only checks the directory; the
 * listing is taken when the kernel first asks for entries.
 */
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_dir *d;
	struct fs_at at;
	struct stat st;
	int rc = 0, cache = 0;

	if (!fs_is_list_root(fs, ino)) {
		rc = fs_at(fs, ino, VOLFS_NO_FH, &at);
		if (rc == 0 && !at.v->be->readdir)
			rc = -ENOTDIR;
		if (rc == 0 && !at.v->keep_cache) {
			/* Others change it: the check is a fresh one. */
			rc = fs_getattr_at(&at, VOLFS_NO_FH, &st);
			if (rc == 0 && !S_ISDIR(st.st_mode))
				rc = -ENOTDIR;
		}
		cache = rc == 0 && at.v->keep_cache;
	}
	FS_CHECK(req, rc);
	d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (!fs_is_list_root(fs, ino)) {
		d->busy = at.v;
		fs_vol_opened(at.v, 1);
	}
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = cache;
	fi->keep_cache = cache;
	if (fuse_reply_open(req, fi) != 0)
		fs_dir_free(d);
}

static int fs_is_dot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/*
 * Fills e for a readdirplus entry, taking a lookup reference: from the
 * listing's attributes when it has them.  -ENOENT when it is gone.
 */
static int fs_dir_entry(struct volfs_fs *fs, fuse_ino_t ino,
			struct fs_dir *d, struct fs_dirent *ent,
			struct fuse_entry_param *e)
{
	uint64_t cino;

	if (!ent->has_st)
		return fs_entry(fs, ino, ent->name, VOLFS_NO_FH, e);
	memset(e, 0, sizeof(*e));
	e->attr = ent->st;
	if (volfs_nodes_lookup(fs->nodes, ino, ent->name, &e->attr, &cino) <
	    0)
		return -ENOENT;
	e->ino = cino;
	e->attr_timeout = d->v->attr_tmo;
	e->entry_timeout = d->v->entry_tmo;
	fs_fix_attr(fs, d->v, &e->attr, cino);
	return 0;
}

static void fs_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi, int plus)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	size_t rem = size;
	char *buf, *p;

	/* The first read, or starting over: the reader must see the
	 * directory as it is now. */
	if (!d->loaded || (off == 0 && d->served)) {
		int rc = fs_dir_load(fs, ino, d);

		FS_CHECK(req, rc);
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
		/* Entries the kernel must not learn here: "." and "..",
		 * and a serve root's volumes (opened only when used). */
		if (!plus || !d->v || fs_is_dot(ent->name)) {
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
		if (fs_dir_entry(fs, ino, d, ent, &e) < 0)
			continue;
		len = fuse_add_direntry_plus(req, p, rem, ent->name, &e,
					     (off_t)i + 1);
		if (len > rem) {
			fs_forget_one(fs, e.ino, 1);
			break;
		}
		p += len;
		rem -= len;
	}
	fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	fs_do_readdir(req, ino, size, off, fi, 0);
}

void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	fs_do_readdir(req, ino, size, off, fi, 1);
}

void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fs_dir_free((struct fs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}
