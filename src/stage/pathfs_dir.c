/* SPDX-License-Identifier: MIT */
/*
 * The path adapter's directory handles (see pathfs.h): the store lists a
 * directory in one call, so a handle keeps that listing, and positions are
 * places in it.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pathfs_int.h"

/* One entry of a directory handle's listing. */
struct pathfs_ent {
	char *name;
	mode_t type;
	int has_st;
	struct stat st;
};

/*
 * A directory handle: the directory's listing, taken in one call of the
 * store, as it was when the handle was opened or last rewound.  Position
 * k + 1 follows the k-th entry, "." and ".." being the first two.
 */
struct pathfs_dir {
	pthread_mutex_t lock;
	struct pathfs_node *node;
	struct pathfs_ent *e;
	size_t n, alloc;
	/* The moves counter when the listing was taken. */
	uint64_t moves;
	/* readdir() has listed from it: a rewind lists again. */
	int used;
};

static void pathfs_dir_clear(struct pathfs_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->e[i].name);
	free(d->e);
	d->e = NULL;
	d->n = d->alloc = 0;
}

/* Collects the store's listing; a name it cannot keep stops it. */
struct pathfs_collect {
	struct pathfs_dir *d;
	int nomem;
};

static int pathfs_collect_fill(void *ctx, const char *name, mode_t type,
			       const struct stat *st)
{
	struct pathfs_collect *c = ctx;
	struct pathfs_dir *d = c->d;
	struct pathfs_ent *e;

	if (d->n == d->alloc) {
		size_t alloc = d->alloc ? 2 * d->alloc : 64;

		e = realloc(d->e, alloc * sizeof(*e));
		if (!e)
			goto nomem;
		d->e = e;
		d->alloc = alloc;
	}
	e = &d->e[d->n];
	e->name = strdup(name);
	if (!e->name)
		goto nomem;
	e->type = type;
	e->has_st = st != NULL;
	if (st)
		e->st = *st;
	d->n++;
	return 0;

nomem:
	c->nomem = 1;
	return 1;
}

/* (Re)takes d's listing from the store. */
static int pathfs_dir_list(struct pathfs_vol *a, struct pathfs_dir *d)
{
	struct pathfs_collect c = { .d = d };
	struct pathfs_at at;
	int rc;

	for (int try = 0;; try++) {
		pathfs_dir_clear(d);
		c.nomem = 0;
		rc = pathfs_node_at(a, pathfs_id(a, d->node), VOLFS_NO_FH, 0,
				    &at);
		if (rc == 0)
			rc = a->ops->readdir(a->vol, at.path,
					     pathfs_collect_fill, &c);
		if (rc == 0 && c.nomem)
			rc = -ENOMEM;
		pathfs_unpin(a, try);
		if (!pathfs_again(a, rc, at.moves, try))
			break;
	}
	if (rc)
		pathfs_dir_clear(d);
	d->moves = at.moves;
	d->used = 0;
	return rc;
}

int pathfs_opendir(void *vol, uint64_t node, uint64_t *dh)
{
	struct pathfs_vol *a = vol;
	struct pathfs_dir *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	if (pthread_mutex_init(&d->lock, NULL) != 0) {
		free(d);
		return -ENOMEM;
	}
	d->node = pathfs_node(a, node);
	pthread_mutex_lock(&a->lock);
	pathfs_ref(a, d->node);
	pthread_mutex_unlock(&a->lock);
	/* Listing now also tells a directory from anything else. */
	rc = pathfs_dir_list(a, d);
	if (rc) {
		pathfs_releasedir(a, (uint64_t)(uintptr_t)d);
		return rc;
	}
	*dh = (uint64_t)(uintptr_t)d;
	return 0;
}

/*
 * The entry of listing entry e in d's directory, with a reference: from the
 * listing while no rename or removal came since it was taken (and it has
 * attributes), else asked again.  -ENOENT when it went meanwhile.
 */
static int pathfs_dir_entry(struct pathfs_vol *a, struct pathfs_dir *d,
			    const struct pathfs_ent *de, struct volfs_entry *e)
{
	if (de->has_st && atomic_load(&a->moves) == d->moves) {
		struct pathfs_node *fresh = pathfs_node_new(de->name), *n;

		if (!fresh)
			return -ENOMEM;
		pthread_mutex_lock(&a->lock);
		n = pathfs_hold(a, d->node, de->name, &fresh);
		e->node = pathfs_id(a, n);
		pthread_mutex_unlock(&a->lock);
		pathfs_node_free(fresh);
		e->st = de->st;
		return 0;
	}
	return pathfs_lookup(a, pathfs_id(a, d->node), de->name, e);
}

int pathfs_readdir(void *vol, uint64_t dh, off_t off, int plus,
		   volfs_fill_fn fill, void *ctx)
{
	struct pathfs_vol *a = vol;
	struct pathfs_dir *d = (struct pathfs_dir *)(uintptr_t)dh;
	int rc = 0;

	pthread_mutex_lock(&d->lock);
	if (off == 0 && d->used)
		rc = pathfs_dir_list(a, d);
	d->used = 1;
	for (size_t k = off < 0 ? 0 : (size_t)off; rc == 0 && k < d->n + 2;
	     k++) {
		const struct pathfs_ent *de;
		struct volfs_entry e, *ep = NULL;

		if (k < 2) {
			if (fill(ctx, k ? ".." : ".", S_IFDIR, 0,
				 (off_t)k + 1, NULL))
				break;
			continue;
		}
		de = &d->e[k - 2];
		if (plus) {
			rc = pathfs_dir_entry(a, d, de, &e);
			if (rc == -ENOENT || rc == -ENOTDIR) {
				rc = 0;
				continue;
			}
			if (rc)
				break;
			ep = &e;
		}
		if (fill(ctx, de->name, ep ? ep->st.st_mode & S_IFMT : de->type,
			 ep ? ep->st.st_ino : de->has_st ? de->st.st_ino : 0,
			 (off_t)k + 1, ep)) {
			if (ep)
				pathfs_forget(a, ep->node, 1);
			break;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int pathfs_releasedir(void *vol, uint64_t dh)
{
	struct pathfs_vol *a = vol;
	struct pathfs_dir *d = (struct pathfs_dir *)(uintptr_t)dh;

	pthread_mutex_lock(&a->lock);
	pathfs_unref(a, d->node, 1);
	pthread_mutex_unlock(&a->lock);
	pathfs_dir_clear(d);
	pthread_mutex_destroy(&d->lock);
	free(d);
	return 0;
}
