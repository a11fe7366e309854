/* SPDX-License-Identifier: MIT */
/*
 * The staging layer's ops on names and directories.  Names reach the
 * store before an op returns; a staged file that is not on the store yet
 * (created, never uploaded) is the layer's alone: it is listed and found
 * here, a directory holding one is not empty, and its name moves here.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "volfs/backend_util.h"
#include "stage_int.h"

/* Calls fn on every named file at or below dir (lock held); fn may take
 * the file out of the table. */
void stage_each_below(struct stage *s, const char *dir,
			     void (*fn)(struct stage *, struct stage_file *,
					void *),
			     void *ctx)
{
	for (size_t i = 0; i < s->nbuckets; i++) {
		struct stage_file *f, *next;

		for (f = s->tab[i]; f; f = next) {
			next = f->hnext;
			if (stage_below(f->path, dir))
				fn(s, f, ctx);
		}
	}
}

int stage_mkdir(void *vol, const char *path, mode_t mode,
		       const struct volfs_caller *who)
{
	struct stage *s = vol;
	struct stage_file *f;

	(void)who;
	if (!s->store->mkdir)
		return -ENOTSUP;
	pthread_mutex_lock(&s->lock);
	f = stage_find(s, path);
	if (f && stage_file_local(f)) {
		pthread_mutex_unlock(&s->lock);
		return -EEXIST;
	}
	if (stage_parent_file(s, path)) {
		pthread_mutex_unlock(&s->lock);
		return -ENOTDIR;
	}
	pthread_mutex_unlock(&s->lock);
	return s->store->mkdir(s->st, path, mode & 07777, stage_deadline(s));
}

struct stage_any {
	const char *dir;
	int found;
};

static void stage_any_fn(struct stage *s, struct stage_file *f, void *ctx)
{
	struct stage_any *a = ctx;

	(void)s;
	if (strcmp(f->path, a->dir) != 0 && !f->remote)
		a->found = 1;
}

int stage_rmdir(void *vol, const char *path)
{
	struct stage *s = vol;
	struct stage_any any = {.dir = path};
	struct stage_file *f;

	if (!s->store->rmdir)
		return -ENOTSUP;
	/* Files created here and not uploaded yet are in it, or it is
	 * one. */
	pthread_mutex_lock(&s->lock);
	f = stage_find(s, path);
	if ((f && stage_file_local(f)) || stage_parent_file(s, path)) {
		pthread_mutex_unlock(&s->lock);
		return -ENOTDIR;
	}
	stage_each_below(s, path, stage_any_fn, &any);
	pthread_mutex_unlock(&s->lock);
	if (any.found)
		return -ENOTEMPTY;
	return s->store->rmdir(s->st, path, stage_deadline(s));
}

/*
 * Takes file f's name away: waits for its upload under way, removes the
 * object (unless remove is 0 or it was never uploaded) and detaches f.  An
 * open file keeps its data: what of it is still on the store is fetched
 * first.  lock held; let go meanwhile.
 */
static int stage_unname(struct stage *s, struct stage_file *f, int remove,
			const char *path)
{
	int rc = 0;

	f->opens++;
	stage_wait_uploads(s, f->path);
	if (f->opens > 1 && f->present) {
		pthread_mutex_unlock(&s->lock);
		rc = stage_fetch(s, f, 0, f->rsize);
		pthread_mutex_lock(&s->lock);
	}
	if (!rc && remove && f->remote) {
		pthread_mutex_unlock(&s->lock);
		rc = s->store->remove(s->st, path, stage_deadline(s));
		pthread_mutex_lock(&s->lock);
		if (rc == -ENOENT)
			rc = 0;
	}
	if (!rc && f->path)
		stage_file_detach(s, f);
	f->opens--;
	if (!f->opens && !f->path && !f->queued && !f->uploading)
		stage_file_free(s, f);
	return rc;
}

int stage_unlink(void *vol, const char *path)
{
	struct stage *s = vol;
	struct stage_file *f;
	int rc;

	if (!s->store->remove)
		return -EROFS;
	pthread_mutex_lock(&s->lock);
	f = stage_find(s, path);
	if (f) {
		int remote = f->remote;

		stage_names_begin(s);
		rc = stage_unname(s, f, 1, path);
		stage_names_end(s);
		pthread_mutex_unlock(&s->lock);
		if (rc || remote)
			return rc;
		/* Never uploaded: the store may still have an object of
		 * that name made by someone else; it goes too. */
		rc = s->store->remove(s->st, path, stage_deadline(s));
		return rc == -ENOENT ? 0 : rc;
	}
	pthread_mutex_unlock(&s->lock);
	return s->store->remove(s->st, path, stage_deadline(s));
}

struct stage_move {
	const char *from, *to;
	size_t fromlen;
	int failed;
};

static void stage_move_fn(struct stage *s, struct stage_file *f, void *ctx)
{
	struct stage_move *m = ctx;
	size_t tail = strlen(f->path) - m->fromlen;
	size_t tolen = strlen(m->to);
	char *p = malloc(tolen + tail + 1);

	if (!p) {
		m->failed = 1;
		return;
	}
	memcpy(p, m->to, tolen);
	memcpy(p + tolen, f->path + m->fromlen, tail + 1);
	stage_hash_del(s, f);
	free(f->path);
	f->path = p;
	stage_hash_add(s, f);
	if (f->jstate >= 0)
		stage_journal_put(s, f, f->jstate, 0);
}

/* Files at or below from: collected first, since moving them changes the
 * table being walked. */
struct stage_list {
	struct stage_file **v;
	size_t n, cap;
	int failed;
};

static void stage_list_fn(struct stage *s, struct stage_file *f, void *ctx)
{
	struct stage_list *l = ctx;

	(void)s;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct stage_file **v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->failed = 1;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = f;
}

int stage_rename(void *vol, const char *from, const char *to,
			unsigned flags)
{
	struct stage *s = vol;
	struct stage_list l = {0};
	struct stage_move m = {.from = from, .to = to, .fromlen = strlen(from)};
	struct stage_file *src, *dst;
	struct volfs_store_attr moved;
	int rc = 0;

	if (flags & ~VOLFS_RENAME_NOREPLACE)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	/* Nothing below either name is being uploaded while they move. */
	stage_names_begin(s);
	stage_wait_uploads(s, from);
	stage_wait_uploads(s, to);
	src = stage_find(s, from);
	dst = stage_find(s, to);
	if (dst && (flags & VOLFS_RENAME_NOREPLACE)) {
		rc = -EEXIST;
		goto out;
	}
	if (src && !src->remote) {
		/* Only here: the store learns the name at the upload.  An
		 * object the new name replaces goes now, as a rename on
		 * the store would replace it. */
		if (dst && dst != src) {
			rc = stage_unname(s, dst, 1, to);
			if (rc)
				goto out;
		} else if (!dst) {
			struct volfs_store_attr a;

			pthread_mutex_unlock(&s->lock);
			rc = s->store->stat(s->st, to, &a, stage_deadline(s));
			if (rc == 0 && (flags & VOLFS_RENAME_NOREPLACE))
				rc = -EEXIST;
			else if (rc == 0 && S_ISDIR(a.st.st_mode))
				rc = -EISDIR;
			else if (rc == 0)
				rc = s->store->remove(s->st, to,
						      stage_deadline(s));
			if (rc == -ENOENT)
				rc = 0;
			pthread_mutex_lock(&s->lock);
			if (rc)
				goto out;
		}
	} else {
		struct stage_any any = {.dir = to};
		struct volfs_store_attr a;
		int dst_local, src_remote;

		if (!s->store->rename) {
			rc = -EXDEV;
			goto out;
		}
		/* What the store cannot see: a directory whose files are
		 * all still here is not empty, and a file still here is
		 * no directory. */
		stage_each_below(s, to, stage_any_fn, &any);
		if (any.found) {
			rc = -ENOTEMPTY;
			goto out;
		}
		dst_local = dst && stage_file_local(dst) && !dst->remote;
		src_remote = src && src->remote;
		pthread_mutex_unlock(&s->lock);
		rc = 0;
		if (dst_local &&
		    s->store->stat(s->st, from, &a, stage_deadline(s)) == 0 &&
		    S_ISDIR(a.st.st_mode))
			rc = -ENOTDIR;
		if (!rc)
			rc = s->store->rename(s->st, from, to, flags,
					      stage_deadline(s));
		/* A move may give the object a new version (a change time,
		 * a copy's ETag): a staged file takes it. */
		if (!rc && src_remote &&
		    s->store->stat(s->st, to, &a, stage_deadline(s)) == 0)
			moved = a;
		else
			moved.version[0] = '\0';
		pthread_mutex_lock(&s->lock);
		if (rc)
			goto out;
		dst = stage_find(s, to);
		if (dst && dst != src)
			rc = stage_unname(s, dst, 0, to);
		rc = 0;
		src = stage_find(s, from);
		if (src && src->remote && moved.version[0])
			snprintf(src->base, sizeof(src->base), "%s",
				 moved.version);
	}
	stage_each_below(s, from, stage_list_fn, &l);
	for (size_t i = 0; i < l.n; i++)
		stage_move_fn(s, l.v[i], &m);
	if (l.failed || m.failed)
		stage_log(s, VOLFS_LOG_ERR,
			  "out of memory moving staged files "
			  "of '%s'",
			  from);
	free(l.v);
out:
	stage_names_end(s);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* Listings: the store's, with the staged files' attributes over theirs
 * and the files not uploaded yet added. */

struct stage_dirctx {
	struct stage *s;
	const char *dir;
	struct stage_names *names;
	/* How many of names came from the staged files. */
	size_t nlocal;
	int rc;
	char name[PATH_MAX];
};

/* The staged files directly in dir that the store does not have yet,
 * sorted by name. */
struct stage_name {
	char *name;
	struct stat st;
};

struct stage_names {
	const char *dir;
	size_t dirlen;
	struct stage_name *v;
	size_t n, cap;
};

/* Appends an entry to nm (lock not needed: nm is the caller's). */
static int stage_names_add(struct stage_names *nm, const char *name,
			   const struct stat *st)
{
	if (nm->n == nm->cap) {
		size_t cap = nm->cap ? nm->cap * 2 : 64;
		struct stage_name *v = realloc(nm->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		nm->v = v;
		nm->cap = cap;
	}
	nm->v[nm->n].name = strdup(name);
	if (!nm->v[nm->n].name)
		return -ENOMEM;
	nm->v[nm->n++].st = *st;
	return 0;
}

static void stage_names_fn(struct stage *s, struct stage_file *f, void *ctx)
{
	struct stage_names *nm = ctx;
	const char *name = f->path + nm->dirlen + (nm->dirlen ? 1 : 0);
	struct stat st;

	(void)s;
	if (f->remote || !*name || strchr(name, '/'))
		return;
	stage_file_stat(f, &st);
	stage_names_add(nm, name, &st);
}

static int stage_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct stage_name *)a)->name,
		      ((const struct stage_name *)b)->name);
}

static int stage_list_fill(void *ctx, const char *name,
			   const struct volfs_store_attr *a)
{
	struct stage_dirctx *d = ctx;
	struct stage_name key = {.name = (char *)name};
	struct stage_file *f;
	struct stat st = a->st;
	int n;

	/* Taken from the snapshot instead: it was not on the store when
	 * the listing began (it may be by now). */
	if (d->nlocal &&
	    bsearch(&key, d->names->v, d->nlocal, sizeof(key), stage_name_cmp))
		return 0;
	n = snprintf(d->name, sizeof(d->name), "%s%s%s", d->dir,
		     *d->dir ? "/" : "", name);
	if (n > 0 && (size_t)n < sizeof(d->name)) {
		pthread_mutex_lock(&d->s->lock);
		f = stage_find(d->s, d->name);
		if (f && stage_file_local(f))
			stage_file_stat(f, &st);
		pthread_mutex_unlock(&d->s->lock);
	}
	d->rc = stage_names_add(d->names, name, &st);
	return d->rc;
}

/*
 * Lists the store's entries with the staged files not uploaded yet, in
 * the order of their names: a listing made again (a rewind) has the same
 * order as long as the directory has the same names, whichever of them
 * reached the store meanwhile.
 */
int stage_readdir(void *vol, const char *path, volfs_path_fill_fn fill,
			 void *ctx)
{
	struct stage *s = vol;
	struct stage_dirctx *d;
	struct stage_names nm = {0};
	struct stage_file *f;
	char cursor[VOLFS_STORE_CURSOR_MAX] = "";
	int rc;

	path = stage_path(path);
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->s = s;
	d->dir = path;
	d->names = &nm;
	/* The files not uploaded yet are taken first, so one whose upload
	 * ends during the listing is listed once. */
	nm.dir = path;
	nm.dirlen = strlen(path);
	pthread_mutex_lock(&s->lock);
	f = *path ? stage_find(s, path) : NULL;
	if ((f && stage_file_local(f)) || stage_parent_file(s, path)) {
		pthread_mutex_unlock(&s->lock);
		free(d);
		return -ENOTDIR;
	}
	stage_each_below(s, path, stage_names_fn, &nm);
	pthread_mutex_unlock(&s->lock);
	d->nlocal = nm.n;
	if (nm.n)
		qsort(nm.v, nm.n, sizeof(*nm.v), stage_name_cmp);
	do {
		rc = s->store->list(s->st, path, cursor, sizeof(cursor),
				    stage_list_fill, d, stage_deadline(s));
	} while (!rc && cursor[0]);
	if (!rc)
		rc = d->rc;
	if (!rc && nm.n)
		qsort(nm.v, nm.n, sizeof(*nm.v), stage_name_cmp);
	if (!rc) {
		for (size_t i = 0; i < nm.n; i++)
			if (fill(ctx, nm.v[i].name, nm.v[i].st.st_mode & S_IFMT,
				 &nm.v[i].st))
				break;
	}
	for (size_t i = 0; i < nm.n; i++)
		free(nm.v[i].name);
	free(nm.v);
	free(d);
	return rc;
}
