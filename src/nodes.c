/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "volfs/nodes.h"

/* Every node sits in up to three hash tables: by node id, by (parent,
 * name) while it has a name, and by backend identity while it has one. */
enum { BY_ID, BY_NAME, BY_KEY, NTABLES };

struct nodes_node {
	uint64_t id;
	uint64_t nlookup;
	/* Nodes whose parent this is: they keep it alive for their paths. */
	uint64_t children;
	struct nodes_node *parent;
	char *name;
	/* The volume the node belongs to, inherited from its parent. */
	void *vol;
	/* Paths are relative to this node: a volume's root. */
	unsigned volroot : 1;
	/* Files of this volume are identified by (st_dev, st_ino). */
	unsigned by_ino : 1;
	int in[NTABLES];
	dev_t dev;
	ino_t bino;
	mode_t type;
	uint64_t hash[NTABLES];
	struct nodes_node *next[NTABLES];
};

struct nodes_table {
	struct nodes_node **bucket;
	size_t nbuckets;
	size_t count;
};

struct volfs_nodes {
	pthread_mutex_t lock;
	uint64_t next_id;
	size_t count;
	struct nodes_node *root;
	struct nodes_table tab[NTABLES];
};

static uint64_t nodes_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t nodes_hash_name(const struct nodes_node *parent,
				const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	return h ^ nodes_mix(parent->id);
}

static uint64_t nodes_hash_key(const void *vol, dev_t dev, ino_t ino)
{
	return nodes_mix((uint64_t)ino ^
			 nodes_mix((uint64_t)dev ^ (uintptr_t)vol));
}

static int nodes_grow(struct nodes_table *tab, int which)
{
	size_t nb = tab->nbuckets ? tab->nbuckets * 2 : 64;
	struct nodes_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < tab->nbuckets; i++) {
		struct nodes_node *n = tab->bucket[i], *next;

		for (; n; n = next) {
			size_t slot = n->hash[which] & (nb - 1);

			next = n->next[which];
			n->next[which] = b[slot];
			b[slot] = n;
		}
	}
	free(tab->bucket);
	tab->bucket = b;
	tab->nbuckets = nb;
	return 0;
}

static void nodes_insert(struct volfs_nodes *t, int which,
			 struct nodes_node *n, uint64_t hash)
{
	struct nodes_table *tab = &t->tab[which];
	size_t slot;

	/* A failed grow leaves longer chains, not a lost node. */
	if (tab->count >= tab->nbuckets)
		nodes_grow(tab, which);
	n->hash[which] = hash;
	slot = hash & (tab->nbuckets - 1);
	n->next[which] = tab->bucket[slot];
	tab->bucket[slot] = n;
	n->in[which] = 1;
	tab->count++;
}

static void nodes_remove(struct volfs_nodes *t, int which,
			 struct nodes_node *n)
{
	struct nodes_table *tab = &t->tab[which];
	struct nodes_node **pp;

	if (!n->in[which])
		return;
	pp = &tab->bucket[n->hash[which] & (tab->nbuckets - 1)];
	while (*pp != n)
		pp = &(*pp)->next[which];
	*pp = n->next[which];
	n->in[which] = 0;
	tab->count--;
}

static struct nodes_node *nodes_find_id(struct volfs_nodes *t, uint64_t id)
{
	struct nodes_table *tab = &t->tab[BY_ID];
	uint64_t h = nodes_mix(id);
	struct nodes_node *n;

	n = tab->bucket[h & (tab->nbuckets - 1)];
	for (; n; n = n->next[BY_ID])
		if (n->id == id)
			return n;
	return NULL;
}

static struct nodes_node *nodes_find_name(struct volfs_nodes *t,
					  struct nodes_node *parent,
					  const char *name)
{
	struct nodes_table *tab = &t->tab[BY_NAME];
	uint64_t h = nodes_hash_name(parent, name);
	struct nodes_node *n;

	if (!tab->nbuckets)
		return NULL;
	n = tab->bucket[h & (tab->nbuckets - 1)];
	for (; n; n = n->next[BY_NAME])
		if (n->hash[BY_NAME] == h && n->parent == parent &&
		    strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

static struct nodes_node *nodes_find_key(struct volfs_nodes *t,
					 const void *vol, dev_t dev,
					 ino_t ino)
{
	struct nodes_table *tab = &t->tab[BY_KEY];
	uint64_t h = nodes_hash_key(vol, dev, ino);
	struct nodes_node *n;

	if (!tab->nbuckets)
		return NULL;
	n = tab->bucket[h & (tab->nbuckets - 1)];
	for (; n; n = n->next[BY_KEY])
		if (n->dev == dev && n->bino == ino && n->vol == vol)
			return n;
	return NULL;
}

/*
 * Frees n, and then its ancestors, once nothing refers to them.  Returns
 * the volume whose root node went with them, if one did.
 */
static void *nodes_maybe_free(struct volfs_nodes *t, struct nodes_node *n)
{
	void *gone = NULL;

	while (n && n != t->root && n->nlookup == 0 && n->children == 0) {
		struct nodes_node *parent = n->parent;

		if (n->volroot)
			gone = n->vol;
		for (int i = 0; i < NTABLES; i++)
			nodes_remove(t, i, n);
		free(n->name);
		free(n);
		t->count--;
		if (!parent)
			break;
		parent->children--;
		n = parent;
	}
	return gone;
}

/* Gives n the name (parent, name), dropping whatever name it had. */
static int nodes_set_name(struct volfs_nodes *t, struct nodes_node *n,
			  struct nodes_node *parent, const char *name)
{
	struct nodes_node *old_parent = n->parent;
	char *copy = strdup(name);

	if (!copy)
		return -ENOMEM;
	nodes_remove(t, BY_NAME, n);
	free(n->name);
	n->name = copy;
	if (old_parent != parent) {
		parent->children++;
		n->parent = parent;
	}
	nodes_insert(t, BY_NAME, n, nodes_hash_name(parent, name));
	if (old_parent && old_parent != parent) {
		old_parent->children--;
		nodes_maybe_free(t, old_parent);
	}
	return 0;
}

struct volfs_nodes *volfs_nodes_new(void *vol, int by_ino)
{
	struct volfs_nodes *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->root = calloc(1, sizeof(*t->root));
	if (!t->root)
		goto err_free;
	for (int i = 0; i < NTABLES; i++)
		if (nodes_grow(&t->tab[i], i) < 0)
			goto err_tables;
	pthread_mutex_init(&t->lock, NULL);
	t->root->id = VOLFS_NODES_ROOT;
	t->root->type = S_IFDIR;
	t->root->vol = vol;
	t->root->volroot = vol != NULL;
	t->root->by_ino = by_ino;
	t->next_id = VOLFS_NODES_ROOT + 1;
	nodes_insert(t, BY_ID, t->root, nodes_mix(t->root->id));
	t->count = 1;
	return t;

err_tables:
	for (int i = 0; i < NTABLES; i++)
		free(t->tab[i].bucket);
	free(t->root);
err_free:
	free(t);
	return NULL;
}

void volfs_nodes_free(struct volfs_nodes *t)
{
	struct nodes_table *tab;

	if (!t)
		return;
	tab = &t->tab[BY_ID];
	for (size_t i = 0; i < tab->nbuckets; i++) {
		struct nodes_node *n = tab->bucket[i], *next;

		for (; n; n = next) {
			next = n->next[BY_ID];
			free(n->name);
			free(n);
		}
	}
	for (int i = 0; i < NTABLES; i++)
		free(t->tab[i].bucket);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/*
 * Writes n's path, relative to its volume's root, into buf, built from the
 * end, and n's volume into *vol.  Returns 1 if a name on the way was
 * unlinked.  Locked by the caller.
 */
static int nodes_build(struct nodes_node *n, const char *leaf, char *buf,
		       size_t size, void **vol)
{
	size_t pos = size;
	int stale = 0;

	if (vol)
		*vol = n->vol;
	if (size == 0)
		return -ENAMETOOLONG;
	buf[--pos] = '\0';
	if (leaf) {
		size_t len = strlen(leaf);

		if (len > pos)
			return -ENAMETOOLONG;
		pos -= len;
		memcpy(buf + pos, leaf, len);
	}
	for (; !n->volroot && n->parent; n = n->parent) {
		size_t len = strlen(n->name);

		if (!n->in[BY_NAME])
			stale = 1;
		if (pos < size - 1) {
			if (pos == 0)
				return -ENAMETOOLONG;
			buf[--pos] = '/';
		}
		if (len > pos)
			return -ENAMETOOLONG;
		pos -= len;
		memcpy(buf + pos, n->name, len);
	}
	/* A volume's root whose name went to another volume stays the root
	 * of its own: whoever is still inside it keeps using it. */
	if (pos == size - 1) {
		if (size < 2)
			return -ENAMETOOLONG;
		memcpy(buf, ".", 2);
		return stale;
	}
	memmove(buf, buf + pos, size - pos);
	return stale;
}

int volfs_nodes_path(struct volfs_nodes *t, uint64_t ino, char *buf,
		     size_t size, void **vol)
{
	struct nodes_node *n;
	int rc;

	pthread_mutex_lock(&t->lock);
	n = nodes_find_id(t, ino);
	rc = n ? nodes_build(n, NULL, buf, size, vol) : -ESTALE;
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int volfs_nodes_child_path(struct volfs_nodes *t, uint64_t parent,
			   const char *name, char *buf, size_t size,
			   void **vol)
{
	struct nodes_node *p;
	int rc;

	pthread_mutex_lock(&t->lock);
	p = nodes_find_id(t, parent);
	rc = p ? nodes_build(p, name, buf, size, vol) : -ESTALE;
	pthread_mutex_unlock(&t->lock);
	/* A child of an unlinked directory cannot be reached by path. */
	return rc > 0 ? -ENOENT : rc;
}

static void nodes_unname(struct volfs_nodes *t, struct nodes_node *n)
{
	nodes_remove(t, BY_NAME, n);
}

/* A new node named name in p, with no lookup reference yet. */
static struct nodes_node *nodes_add(struct volfs_nodes *t,
				    struct nodes_node *p, const char *name,
				    const struct stat *st)
{
	struct nodes_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->id = t->next_id++;
	n->type = st->st_mode & S_IFMT;
	n->dev = st->st_dev;
	n->bino = st->st_ino;
	n->vol = p->vol;
	n->by_ino = p->by_ino;
	if (nodes_set_name(t, n, p, name) < 0) {
		free(n);
		return NULL;
	}
	nodes_insert(t, BY_ID, n, nodes_mix(n->id));
	if (n->by_ino)
		nodes_insert(t, BY_KEY, n,
			     nodes_hash_key(n->vol, n->dev, n->bino));
	t->count++;
	return n;
}

int volfs_nodes_lookup(struct volfs_nodes *t, uint64_t parent,
		       const char *name, const struct stat *st, uint64_t *ino)
{
	mode_t type = st->st_mode & S_IFMT;
	struct nodes_node *p, *n, *other;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	p = nodes_find_id(t, parent);
	if (!p || !p->vol) {
		rc = p ? -ENOENT : -ESTALE;
		goto out;
	}
	if (p->by_ino)
		n = nodes_find_key(t, p->vol, st->st_dev, st->st_ino);
	else
		n = nodes_find_name(t, p, name);
	/* A reused identity of a different type is a different file. */
	if (n && n->type != type) {
		if (p->by_ino)
			nodes_remove(t, BY_KEY, n);
		else
			nodes_unname(t, n);
		n = NULL;
	}
	other = nodes_find_name(t, p, name);
	if (other && other != n)
		nodes_unname(t, other);
	if (!n) {
		n = nodes_add(t, p, name, st);
		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
	} else if (n != other) {
		rc = nodes_set_name(t, n, p, name);
		if (rc < 0)
			goto out;
	}
	n->nlookup++;
	*ino = n->id;
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int volfs_nodes_lookup_volume(struct volfs_nodes *t, const char *name,
			      void *vol, int by_ino, uint64_t *ino)
{
	struct stat st = { .st_mode = S_IFDIR };
	struct nodes_node *n;
	int rc = 0;

	pthread_mutex_lock(&t->lock);
	n = nodes_find_name(t, t->root, name);
	if (n && n->vol != vol) {
		/* The name now stands for another volume. */
		nodes_unname(t, n);
		n = NULL;
	}
	if (!n) {
		n = nodes_add(t, t->root, name, &st);
		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
		n->vol = vol;
		n->volroot = 1;
		n->by_ino = by_ino;
	}
	n->nlookup++;
	*ino = n->id;
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void *volfs_nodes_forget(struct volfs_nodes *t, uint64_t ino,
			 uint64_t nlookup)
{
	struct nodes_node *n;
	void *gone = NULL;

	pthread_mutex_lock(&t->lock);
	n = nodes_find_id(t, ino);
	if (n && n != t->root) {
		n->nlookup -= nlookup < n->nlookup ? nlookup : n->nlookup;
		gone = nodes_maybe_free(t, n);
	}
	pthread_mutex_unlock(&t->lock);
	return gone;
}

int volfs_nodes_has_volume(struct volfs_nodes *t, const char *name,
			   const void *vol)
{
	struct nodes_node *n;
	int found;

	pthread_mutex_lock(&t->lock);
	n = nodes_find_name(t, t->root, name);
	found = n && n->volroot && n->vol == vol;
	pthread_mutex_unlock(&t->lock);
	return found;
}

void volfs_nodes_unlinked(struct volfs_nodes *t, uint64_t parent,
			  const char *name, int last_link)
{
	struct nodes_node *p, *n;

	pthread_mutex_lock(&t->lock);
	p = nodes_find_id(t, parent);
	n = p ? nodes_find_name(t, p, name) : NULL;
	if (n) {
		nodes_unname(t, n);
		if (last_link)
			nodes_remove(t, BY_KEY, n);
	}
	pthread_mutex_unlock(&t->lock);
}

void volfs_nodes_unlinked_alias(struct volfs_nodes *t, uint64_t parent,
				const char *name, const char *other)
{
	struct nodes_node *p, *n, *o;

	pthread_mutex_lock(&t->lock);
	p = nodes_find_id(t, parent);
	n = p ? nodes_find_name(t, p, name) : NULL;
	o = p ? nodes_find_name(t, p, other) : NULL;
	/* Without memory for the name, or with other taken by a node of
	 * its own, the node is left nameless: the next lookup names it. */
	if (n && (o || nodes_set_name(t, n, p, other) < 0))
		nodes_unname(t, n);
	pthread_mutex_unlock(&t->lock);
}

void volfs_nodes_renamed(struct volfs_nodes *t, uint64_t oldparent,
			 const char *oldname, uint64_t newparent,
			 const char *newname, int exchange, int dropped_last)
{
	struct nodes_node *op, *np, *a = NULL, *b = NULL;

	pthread_mutex_lock(&t->lock);
	op = nodes_find_id(t, oldparent);
	np = nodes_find_id(t, newparent);
	if (op)
		a = nodes_find_name(t, op, oldname);
	if (np)
		b = nodes_find_name(t, np, newname);
	if (a == b)
		goto out;
	if (b) {
		nodes_unname(t, b);
		if (!exchange && dropped_last)
			nodes_remove(t, BY_KEY, b);
	}
	/* Renaming needs memory for the new name; if there is none, the node
	 * is left nameless and the kernel's next lookup names it again. */
	if (a && np && nodes_set_name(t, a, np, newname) < 0)
		nodes_unname(t, a);
	if (exchange && b && op && nodes_set_name(t, b, op, oldname) < 0)
		nodes_unname(t, b);
out:
	pthread_mutex_unlock(&t->lock);
}

size_t volfs_nodes_count(struct volfs_nodes *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->count;
	pthread_mutex_unlock(&t->lock);
	return n;
}
