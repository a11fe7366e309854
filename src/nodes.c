/* SPDX-License-Identifier: MIT */
/*
 * The inode table (include/volfs/nodes.h): one hash of (volume, backend
 * node) to node, taken only when the kernel learns of a file or forgets
 * one.  Every other request finds its node from the id itself.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "volfs/backend.h"
#include "volfs/nodes.h"

#define NODES_MIN_BUCKETS 1024

struct volfs_nodes {
	pthread_mutex_t lock;
	struct volfs_node root;
	struct volfs_node **buckets;
	size_t nbuckets, count;
	uint64_t next_serial;
};

static size_t nodes_hash(const struct volfs_nodes_vol *vol, uint64_t bnode,
			 size_t nbuckets)
{
	uint64_t h = (uint64_t)(uintptr_t)vol * 0x9e3779b97f4a7c15ull;

	h ^= bnode + 0x7f4a7c159e3779b9ull + (h << 6) + (h >> 2);
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	return (size_t)(h & (nbuckets - 1));
}

struct volfs_nodes *volfs_nodes_new(struct volfs_nodes_vol *vol)
{
	struct volfs_nodes *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nbuckets = NODES_MIN_BUCKETS;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->root.vol = vol;
	t->root.bnode = VOLFS_ROOT_NODE;
	t->root.serial = VOLFS_NODES_ROOT;
	t->root.nlookup = 1;
	t->next_serial = VOLFS_NODES_ROOT + 1;
	t->count = 1;
	return t;
}

void volfs_nodes_free(struct volfs_nodes *t,
		      void (*drop)(struct volfs_nodes_vol *vol, uint64_t bnode,
				   uint64_t refs, void *ctx),
		      void *ctx)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct volfs_node *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->hnext;
			if (drop)
				drop(n->vol, n->bnode,
				     n->bnode == VOLFS_ROOT_NODE ? 0
								 : n->nlookup,
				     ctx);
			free(n);
		}
	}
	free(t->buckets);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

struct volfs_node *volfs_nodes_root(struct volfs_nodes *t)
{
	return &t->root;
}

/* Doubles the buckets once the chains grow long; a failure only leaves
 * them long. */
static void nodes_grow(struct volfs_nodes *t)
{
	size_t nb = t->nbuckets * 2;
	struct volfs_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct volfs_node *n = t->buckets[i], *next;

		for (; n; n = next) {
			size_t h = nodes_hash(n->vol, n->bnode, nb);

			next = n->hnext;
			n->hnext = b[h];
			b[h] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = nb;
}

int volfs_nodes_add(struct volfs_nodes *t, struct volfs_nodes_vol *vol,
		    uint64_t bnode, uint64_t *ino)
{
	struct volfs_node *n, *fresh;
	size_t h;

	/* A single mount's root is the table's root. */
	if (vol == t->root.vol && bnode == VOLFS_ROOT_NODE) {
		*ino = VOLFS_NODES_ROOT;
		return 0;
	}
	/* Allocated outside the lock: most lookups find nothing. */
	fresh = malloc(sizeof(*fresh));
	pthread_mutex_lock(&t->lock);
	h = nodes_hash(vol, bnode, t->nbuckets);
	for (n = t->buckets[h]; n; n = n->hnext)
		if (n->vol == vol && n->bnode == bnode)
			break;
	if (n) {
		n->nlookup++;
		pthread_mutex_unlock(&t->lock);
		free(fresh);
		*ino = (uint64_t)(uintptr_t)n;
		return 0;
	}
	if (!fresh) {
		pthread_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	n = fresh;
	n->vol = vol;
	n->bnode = bnode;
	n->serial = t->next_serial++;
	n->nlookup = 1;
	n->hnext = t->buckets[h];
	t->buckets[h] = n;
	if (vol)
		vol->held++;
	if (++t->count > t->nbuckets * 2)
		nodes_grow(t);
	pthread_mutex_unlock(&t->lock);
	*ino = (uint64_t)(uintptr_t)n;
	return 0;
}

int volfs_nodes_forget(struct volfs_nodes *t, uint64_t ino, uint64_t n,
		       struct volfs_nodes_vol **vol, uint64_t *bnode,
		       uint64_t *refs)
{
	struct volfs_node *node, **pp;
	int gone;

	*refs = 0;
	if (ino == VOLFS_NODES_ROOT || n == 0)
		return 0;
	node = (struct volfs_node *)(uintptr_t)ino;
	pthread_mutex_lock(&t->lock);
	if (n > node->nlookup)
		n = node->nlookup;
	node->nlookup -= n;
	*vol = node->vol;
	*bnode = node->bnode;
	*refs = node->bnode == VOLFS_ROOT_NODE ? 0 : n;
	gone = node->nlookup == 0;
	if (gone) {
		pp = &t->buckets[nodes_hash(node->vol, node->bnode,
					    t->nbuckets)];
		while (*pp != node)
			pp = &(*pp)->hnext;
		*pp = node->hnext;
		t->count--;
		/* The node's place in held is the forget's until done. */
	} else if (*refs && node->vol) {
		node->vol->held++;
	}
	pthread_mutex_unlock(&t->lock);
	if (gone)
		free(node);
	return (gone || *refs) && *vol;
}

int volfs_nodes_done(struct volfs_nodes *t, struct volfs_nodes_vol *vol)
{
	int last;

	pthread_mutex_lock(&t->lock);
	last = --vol->held == 0;
	pthread_mutex_unlock(&t->lock);
	return last;
}

int volfs_nodes_held(struct volfs_nodes *t, struct volfs_nodes_vol *vol)
{
	int held;

	pthread_mutex_lock(&t->lock);
	held = vol->held != 0;
	pthread_mutex_unlock(&t->lock);
	return held;
}

size_t volfs_nodes_count(struct volfs_nodes *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}
