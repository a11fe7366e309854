/* SPDX-License-Identifier: MIT */
/*
 * The path adapter's table of nodes and their paths, and the ops that
 * make and drop references (see pathfs.h and pathfs_int.h).
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

/* FNV-1a of name, and of the parent's address. */
static size_t pathfs_hash(const struct pathfs_node *parent, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)parent;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 1099511628211ull;
	}
	return (size_t)(h ^ (h >> 32));
}

struct pathfs_node *pathfs_find(struct pathfs_vol *a,
				struct pathfs_node *parent, const char *name)
{
	struct pathfs_node *n;

	n = a->tab[pathfs_hash(parent, name) & (a->nbuckets - 1)];
	for (; n; n = n->next)
		if (n->parent == parent && strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

/* Doubles the table once it holds more nodes than buckets; stays as it is
 * without memory (only chains grow). */
static void pathfs_grow(struct pathfs_vol *a)
{
	size_t nb = a->nbuckets * 2;
	struct pathfs_node **tab;

	if (a->count <= a->nbuckets)
		return;
	tab = calloc(nb, sizeof(*tab));
	if (!tab)
		return;
	for (size_t b = 0; b < a->nbuckets; b++) {
		while (a->tab[b]) {
			struct pathfs_node *n = a->tab[b];
			size_t h = pathfs_hash(n->parent, n->name) & (nb - 1);

			a->tab[b] = n->next;
			n->next = tab[h];
			tab[h] = n;
		}
	}
	free(a->tab);
	a->tab = tab;
	a->nbuckets = nb;
}

void pathfs_hash_add(struct pathfs_vol *a, struct pathfs_node *n)
{
	size_t h = pathfs_hash(n->parent, n->name) & (a->nbuckets - 1);

	n->next = a->tab[h];
	a->tab[h] = n;
	a->count++;
	pathfs_grow(a);
}

void pathfs_hash_del(struct pathfs_vol *a, struct pathfs_node *n)
{
	struct pathfs_node **pp;

	pp = &a->tab[pathfs_hash(n->parent, n->name) & (a->nbuckets - 1)];
	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	a->count--;
}

void pathfs_detach(struct pathfs_vol *a, struct pathfs_node *n)
{
	pathfs_hash_del(a, n);
	n->detached = 1;
}

void pathfs_ref(struct pathfs_vol *a, struct pathfs_node *n)
{
	if (n != &a->root)
		n->refs++;
}

void pathfs_unref(struct pathfs_vol *a, struct pathfs_node *n,
		  uint64_t count)
{
	while (n != &a->root) {
		struct pathfs_node *parent = n->parent;

		n->refs -= count;
		if (n->refs)
			return;
		if (!n->detached)
			pathfs_hash_del(a, n);
		free(n->name);
		free(n);
		n = parent;
		count = 1;
	}
}

struct pathfs_node *pathfs_node_new(const char *name)
{
	struct pathfs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strdup(name);
	if (!n->name) {
		free(n);
		return NULL;
	}
	return n;
}

void pathfs_node_free(struct pathfs_node *n)
{
	if (n) {
		free(n->name);
		free(n);
	}
}

struct pathfs_node *pathfs_hold(struct pathfs_vol *a,
				struct pathfs_node *parent, const char *name,
				struct pathfs_node **fresh)
{
	struct pathfs_node *n = pathfs_find(a, parent, name);

	if (!n) {
		n = *fresh;
		*fresh = NULL;
		n->parent = parent;
		pathfs_ref(a, parent);
		pathfs_hash_add(a, n);
	}
	n->refs++;
	return n;
}

int pathfs_path(struct pathfs_vol *a, struct pathfs_node *n, int any,
		char *buf)
{
	size_t len = 0, pos;

	if (n == &a->root) {
		memcpy(buf, ".", 2);
		return 0;
	}
	for (struct pathfs_node *p = n; p != &a->root; p = p->parent) {
		if (p->detached && !any)
			return -ENOENT;
		len += strlen(p->name) + 1;
	}
	/* len counts a '/' before each name: the first one's is the NUL. */
	if (len > PATH_MAX)
		return -ENAMETOOLONG;
	pos = len - 1;
	buf[pos] = '\0';
	for (struct pathfs_node *p = n; p != &a->root; p = p->parent) {
		size_t l = strlen(p->name);

		pos -= l;
		memcpy(buf + pos, p->name, l);
		if (pos)
			buf[--pos] = '/';
	}
	return 0;
}

int pathfs_child_path(struct pathfs_vol *a, struct pathfs_node *p,
		      const char *name, char *buf)
{
	size_t len, nlen = strlen(name);
	int rc = pathfs_path(a, p, 0, buf);

	if (rc)
		return rc;
	if (p == &a->root) {
		if (nlen >= PATH_MAX)
			return -ENAMETOOLONG;
		memcpy(buf, name, nlen + 1);
		return 0;
	}
	len = strlen(buf);
	if (len + 1 + nlen >= PATH_MAX)
		return -ENAMETOOLONG;
	buf[len] = '/';
	memcpy(buf + len + 1, name, nlen + 1);
	return 0;
}

uint64_t pathfs_stamp(struct pathfs_vol *a)
{
	uint64_t moves = atomic_load(&a->moves);

	/* The counter only grows: it never comes back to moves - 1. */
	return a->busy ? moves - 1 : moves;
}

static void pathfs_at_done_locked(struct pathfs_vol *a, struct pathfs_at *at)
{
	if (--at->borrowed->users == 0)
		pthread_cond_broadcast(&a->unused);
	at->borrowed = NULL;
}

int pathfs_node_at(struct pathfs_vol *a, uint64_t node, uint64_t fh,
		   int borrow, struct pathfs_at *at)
{
	struct pathfs_node *n = pathfs_node(a, node);
	int rc;

	at->fh = pathfs_inner(fh);
	at->borrowed = NULL;
	pthread_mutex_lock(&a->lock);
	at->moves = pathfs_stamp(a);
	rc = pathfs_path(a, n, fh != VOLFS_NO_FH, at->path);
	if (rc == -ENOENT && fh == VOLFS_NO_FH && borrow && n->files) {
		at->borrowed = n->files;
		at->borrowed->users++;
		at->fh = at->borrowed->inner;
		rc = pathfs_path(a, n, 1, at->path);
		if (rc)
			pathfs_at_done_locked(a, at);
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

void pathfs_at_done(struct pathfs_vol *a, struct pathfs_at *at)
{
	if (!at->borrowed)
		return;
	pthread_mutex_lock(&a->lock);
	pathfs_at_done_locked(a, at);
	pthread_mutex_unlock(&a->lock);
}

int pathfs_name_path(struct pathfs_vol *a, uint64_t parent, const char *name,
		     char *buf, uint64_t *moves)
{
	int rc;

	pthread_mutex_lock(&a->lock);
	rc = pathfs_child_path(a, pathfs_node(a, parent), name, buf);
	*moves = pathfs_stamp(a);
	pthread_mutex_unlock(&a->lock);
	return rc;
}

void pathfs_settle(struct pathfs_vol *a, int pin)
{
	pthread_mutex_lock(&a->lock);
	while (a->busy)
		pthread_cond_wait(&a->idle, &a->lock);
	if (pin)
		a->pinned++;
	pthread_mutex_unlock(&a->lock);
}

void pathfs_unpin(struct pathfs_vol *a, int try)
{
	if (!try)
		return;
	pthread_mutex_lock(&a->lock);
	if (--a->pinned == 0)
		pthread_cond_broadcast(&a->idle);
	pthread_mutex_unlock(&a->lock);
}

int pathfs_again(struct pathfs_vol *a, int rc, uint64_t moves, int try)
{
	if (try || (rc != -ENOENT && rc != -ENOTDIR) ||
	    atomic_load(&a->moves) == moves)
		return 0;
	pathfs_settle(a, 1);
	return 1;
}

uint64_t pathfs_move_begin(struct pathfs_vol *a)
{
	uint64_t stamp;

	while (a->pinned)
		pthread_cond_wait(&a->idle, &a->lock);
	stamp = pathfs_stamp(a);
	a->busy++;
	atomic_fetch_add(&a->moves, 1);
	return stamp;
}

void pathfs_move_end(struct pathfs_vol *a)
{
	atomic_fetch_add(&a->moves, 1);
	if (--a->busy == 0)
		pthread_cond_broadcast(&a->idle);
}

int pathfs_new(const struct volfs_pathops *ops, void *vol, void **out)
{
	struct pathfs_vol *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->nbuckets = 256;
	a->tab = calloc(a->nbuckets, sizeof(*a->tab));
	if (!a->tab || pthread_mutex_init(&a->lock, NULL) != 0) {
		free(a->tab);
		free(a);
		return -ENOMEM;
	}
	pthread_cond_init(&a->idle, NULL);
	pthread_cond_init(&a->unused, NULL);
	a->ops = ops;
	a->vol = vol;
	*out = a;
	return 0;
}

void pathfs_close(void *vol)
{
	struct pathfs_vol *a = vol;

	/* Every reference was given back: nodes left are a caller's bug,
	 * freed all the same. */
	for (size_t b = 0; b < a->nbuckets; b++) {
		while (a->tab[b]) {
			struct pathfs_node *n = a->tab[b];

			a->tab[b] = n->next;
			pathfs_node_free(n);
		}
	}
	free(a->tab);
	pthread_cond_destroy(&a->unused);
	pthread_cond_destroy(&a->idle);
	pthread_mutex_destroy(&a->lock);
	if (a->ops->close)
		a->ops->close(a->vol);
	free(a);
}

int pathfs_statfs(void *vol, struct statvfs *sv)
{
	struct pathfs_vol *a = vol;

	return a->ops->statfs(a->vol, sv);
}

int pathfs_lookup(void *vol, uint64_t parent, const char *name,
		  struct volfs_entry *e)
{
	struct pathfs_vol *a = vol;
	struct pathfs_node *fresh = pathfs_node_new(name), *n;
	char path[PATH_MAX];
	uint64_t moves;
	int rc;

	if (!fresh)
		return -ENOMEM;
	for (int try = 0;; try++) {
		rc = pathfs_name_path(a, parent, name, path, &moves);
		if (rc == 0)
			rc = a->ops->getattr(a->vol, path, VOLFS_NO_FH, &e->st);
		pthread_mutex_lock(&a->lock);
		/* Found or not, it may be about a name that was moved. */
		if (try == 0 && atomic_load(&a->moves) != moves &&
		    (rc == 0 || rc == -ENOENT || rc == -ENOTDIR)) {
			pthread_mutex_unlock(&a->lock);
			pathfs_settle(a, 1);
			continue;
		}
		if (rc == 0) {
			n = pathfs_hold(a, pathfs_node(a, parent), name,
					&fresh);
			e->node = pathfs_id(a, n);
		}
		pthread_mutex_unlock(&a->lock);
		pathfs_unpin(a, try);
		break;
	}
	pathfs_node_free(fresh);
	return rc;
}

void pathfs_forget(void *vol, uint64_t node, uint64_t n)
{
	struct pathfs_vol *a = vol;

	pthread_mutex_lock(&a->lock);
	pathfs_unref(a, pathfs_node(a, node), n);
	pthread_mutex_unlock(&a->lock);
}
