/* SPDX-License-Identifier: MIT */
/*
 * The metadata cache of a path store (see pathcache.h).
 *
 * One hash table of paths, guarded by one mutex that is never held across a
 * call into the inner store.  An entry holds the attributes of its path
 * (or the error getattr gave) and/or the listing of the directory it names,
 * each with its own expiry.  A listing is immutable once stored and
 * reference counted, so it is replayed to the caller without the lock.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pathcache.h"

/* Past this many entries, expired ones are dropped; then, if still too
 * many, all of them. */
#define CACHE_MAX_ENTRIES 65536

struct cache_dirent {
	char *name;
	mode_t type;
	int has_st;
	struct stat st;
};

struct cache_list {
	_Atomic unsigned refs;
	size_t n;
	size_t alloc;
	struct cache_dirent *e;
	/* Past a few entries, names are found through an index (open
	 * addressing, nidx slots): 0 a free slot, CACHE_TOMB one freed,
	 * else the entry's position + 1.  Built and kept under the lock. */
	uint32_t *idx;
	size_t nidx, used;
	/* Entries without attributes. */
	size_t unknown;
};

#define CACHE_TOMB UINT32_MAX
/* Listings this long get an index. */
#define CACHE_LIST_INDEXED 32

struct cache_ent {
	struct cache_ent *next;
	uint64_t hash;
	/* Attributes: valid while attr_exp > now. */
	int64_t attr_exp;
	int attr_rc;
	struct stat st;
	/* Listing: valid while list_exp > now and list != NULL; read again
	 * for a lookup (cache_known()) at most once a TTL, from relist_at. */
	int64_t list_exp;
	int64_t relist_at;
	struct cache_list *list;
	char path[];
};

struct cache_vol {
	/* The table handed out: the inner one's shape, our ops. */
	struct volfs_pathops table;
	const struct volfs_pathops *ops;
	void *vol;
	int64_t ttl_ns;
	pthread_mutex_t lock;
	struct cache_ent **tab;
	size_t nbuckets;
	size_t count;
	/* Bumped by every invalidation. */
	uint64_t gen;
	/* Open handles: the attributes of an open file come from one (for a
	 * remote store, one round trip on the handle instead of a lookup
	 * by path). */
	struct cache_fh *open;
	pthread_cond_t unused;
	_Atomic uint64_t attr_hits, attr_misses, list_hits, list_misses,
		invalidations;
};

/* A handle of ours: the inner handle and the path of its file, which
 * follows renames ("" once the file has no name); under the lock while the
 * handle is listed. */
struct cache_fh {
	struct cache_fh *next;
	uint64_t inner;
	/* getattr calls using inner right now; release waits for none. */
	unsigned users;
	char *path;
};

static int64_t cache_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* FNV-1a. */
static uint64_t cache_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void cache_list_put(struct cache_list *l)
{
	if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	free(l->idx);
	free(l);
}

static void cache_ent_free(struct cache_ent *e)
{
	cache_list_put(e->list);
	free(e);
}

/* The entry of path[0..len), or NULL.  Lock held. */
static struct cache_ent *cache_find(struct cache_vol *c, const char *path,
				    size_t len)
{
	uint64_t h = cache_hash(path, len);
	struct cache_ent *e;

	for (e = c->tab[h & (c->nbuckets - 1)]; e; e = e->next)
		if (e->hash == h && strncmp(e->path, path, len) == 0 &&
		    e->path[len] == '\0')
			return e;
	return NULL;
}

/* Removes e from its chain.  Lock held. */
static void cache_unlink(struct cache_vol *c, struct cache_ent *e)
{
	struct cache_ent **pp = &c->tab[e->hash & (c->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	c->count--;
	cache_ent_free(e);
}

/* Drops expired entries, or everything when that is not enough. */
static void cache_trim(struct cache_vol *c, int64_t now)
{
	for (size_t b = 0; b < c->nbuckets; b++) {
		struct cache_ent **pp = &c->tab[b];

		while (*pp) {
			struct cache_ent *e = *pp;

			if (e->attr_exp <= now && e->list_exp <= now) {
				*pp = e->next;
				c->count--;
				cache_ent_free(e);
			} else {
				pp = &e->next;
			}
		}
	}
	if (c->count < CACHE_MAX_ENTRIES)
		return;
	for (size_t b = 0; b < c->nbuckets; b++) {
		while (c->tab[b]) {
			struct cache_ent *e = c->tab[b];

			c->tab[b] = e->next;
			cache_ent_free(e);
		}
	}
	c->count = 0;
}

/* The entry of path, made if missing; NULL without memory.  Lock held. */
static struct cache_ent *cache_get(struct cache_vol *c, const char *path)
{
	size_t len = strlen(path);
	struct cache_ent *e = cache_find(c, path, len);

	if (e)
		return e;
	if (c->count >= CACHE_MAX_ENTRIES)
		cache_trim(c, cache_now());
	e = calloc(1, sizeof(*e) + len + 1);
	if (!e)
		return NULL;
	memcpy(e->path, path, len + 1);
	e->hash = cache_hash(path, len);
	e->next = c->tab[e->hash & (c->nbuckets - 1)];
	c->tab[e->hash & (c->nbuckets - 1)] = e;
	c->count++;
	return e;
}

/* Forgets path[0..len).  Lock held. */
static void cache_drop(struct cache_vol *c, const char *path, size_t len)
{
	struct cache_ent *e = cache_find(c, path, len);

	if (e)
		cache_unlink(c, e);
}

/* The length of path's parent ("." for a top-level name). */
static void cache_parent(const char *path, const char **parent, size_t *len)
{
	const char *slash = strrchr(path, '/');

	if (!slash || strcmp(path, ".") == 0) {
		*parent = ".";
		*len = 1;
	} else {
		*parent = path;
		*len = (size_t)(slash - path);
	}
}

/*
 * What a change made stale besides path's own entry (cache_invalidate()'s
 * how: these flags, and with CACHE_ADDED the new entry's S_IF* type).
 */
enum {
	/* path's attributes or data changed: the parent's listing, which
	 * carries them, goes; the parent's attributes stay. */
	CACHE_INODE = 0,
	/* A name came (or went) in the parent: its listing, if known, says
	 * so and stays; its times are now (so a lookup of the next new name
	 * and a stat of the directory after each file created in it cost
	 * nothing). */
	CACHE_ADDED = 1,
	CACHE_REMOVED = 2,
	/* The parent's attributes go (its link count may change). */
	CACHE_PARENT = 4,
	/* And everything below path. */
	CACHE_SUBTREE = 8,
};

/* The index slot of name in l: where it is, or the free slot ending its
 * probe. */
static size_t cache_idx_slot(const struct cache_list *l, const char *name)
{
	size_t mask = l->nidx - 1;
	size_t h = (size_t)cache_hash(name, strlen(name)) & mask;

	for (;; h = (h + 1) & mask) {
		uint32_t v = l->idx[h];

		if (!v)
			return h;
		if (v != CACHE_TOMB && strcmp(l->e[v - 1].name, name) == 0)
			return h;
	}
}

/* Records entry i in the index (whose name is not in it). */
static void cache_idx_put(struct cache_list *l, size_t i)
{
	size_t mask = l->nidx - 1;
	size_t h = (size_t)cache_hash(l->e[i].name, strlen(l->e[i].name)) &
		   mask;

	while (l->idx[h] && l->idx[h] != CACHE_TOMB)
		h = (h + 1) & mask;
	if (!l->idx[h])
		l->used++;
	l->idx[h] = (uint32_t)i + 1;
}

/* (Re)builds the index with room for one more entry; without memory,
 * there is none (lookups scan). */
static void cache_idx_build(struct cache_list *l)
{
	size_t n = 64;

	while (n < 4 * (l->n + 1))
		n *= 2;
	free(l->idx);
	l->idx = calloc(n, sizeof(*l->idx));
	l->nidx = l->idx ? n : 0;
	l->used = 0;
	for (size_t i = 0; l->idx && i < l->n; i++)
		cache_idx_put(l, i);
}

/* Index of name in l, or -1. */
static ssize_t cache_list_find(struct cache_list *l, const char *name)
{
	uint32_t v;

	if (!l->idx && l->n >= CACHE_LIST_INDEXED)
		cache_idx_build(l);
	if (!l->idx) {
		for (size_t i = 0; i < l->n; i++)
			if (strcmp(l->e[i].name, name) == 0)
				return (ssize_t)i;
		return -1;
	}
	v = l->idx[cache_idx_slot(l, name)];
	return v ? (ssize_t)v - 1 : -1;
}

/* Takes entry i out of l: the last entry moves into its place. */
static void cache_list_del(struct cache_list *l, size_t i)
{
	size_t last = l->n - 1;

	if (l->idx) {
		l->idx[cache_idx_slot(l, l->e[i].name)] = CACHE_TOMB;
		if (i != last)
			l->idx[cache_idx_slot(l, l->e[last].name)] =
				(uint32_t)i + 1;
	}
	if (!l->e[i].has_st)
		l->unknown--;
	free(l->e[i].name);
	l->e[i] = l->e[last];
	l->n--;
}

/* Appends an entry to l; -ENOMEM leaves l as it was. */
static int cache_list_add(struct cache_list *l, const char *name, mode_t type,
			  const struct stat *st)
{
	struct cache_dirent *d;

	if (l->n == l->alloc) {
		size_t alloc = l->alloc ? 2 * l->alloc : 16;
		struct cache_dirent *e = realloc(l->e, alloc * sizeof(*e));

		if (!e)
			return -ENOMEM;
		l->e = e;
		l->alloc = alloc;
	}
	d = &l->e[l->n];
	d->name = strdup(name);
	if (!d->name)
		return -ENOMEM;
	d->type = type;
	d->has_st = st != NULL;
	if (st)
		d->st = *st;
	else
		l->unknown++;
	l->n++;
	if (l->idx) {
		if (2 * (l->used + 1) > l->nidx)
			cache_idx_build(l);
		else
			cache_idx_put(l, l->n - 1);
	}
	return 0;
}

/* A listing of the entries of l, not shared with anyone yet. */
static struct cache_list *cache_list_copy(const struct cache_list *l)
{
	struct cache_list *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->refs = 1;
	for (size_t i = 0; i < l->n; i++)
		if (cache_list_add(n, l->e[i].name, l->e[i].type,
				   l->e[i].has_st ? &l->e[i].st : NULL) < 0) {
			cache_list_put(n);
			return NULL;
		}
	return n;
}

static void cache_list_forget(struct cache_ent *e)
{
	cache_list_put(e->list);
	e->list = NULL;
	e->list_exp = 0;
}

/*
 * Makes the listing of e (c->lock held) say that name came, of type type
 * (how has CACHE_ADDED), went (CACHE_REMOVED), or changed (neither: the
 * attributes it holds for name are dropped).  A listing being replayed is
 * copied first; when that cannot be done the listing is forgotten.
 */
static void cache_list_edit(struct cache_ent *e, const char *name, int how,
			    mode_t type)
{
	struct cache_list *l = e->list;
	int added = how & CACHE_ADDED;
	ssize_t at;

	if (!l)
		return;
	at = cache_list_find(l, name);
	if (at < 0 && !added)
		return;
	if (at >= 0 && !added && !(how & CACHE_REMOVED) && !l->e[at].has_st)
		return;
	if (atomic_load(&l->refs) != 1) {
		l = cache_list_copy(l);
		if (!l) {
			cache_list_forget(e);
			return;
		}
		cache_list_put(e->list);
		e->list = l;
	}
	if (at >= 0 && !(how & CACHE_REMOVED)) {
		if (added)
			l->e[at].type = type;
		if (l->e[at].has_st)
			l->unknown++;
		l->e[at].has_st = 0;
	} else if (added) {
		if (cache_list_add(l, name, type, NULL) < 0)
			cache_list_forget(e);
	} else {
		cache_list_del(l, (size_t)at);
	}
}

/* The last component of path. */
static const char *cache_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Forgets path and, as how says, more of what its change made stale. */
static void cache_invalidate(struct cache_vol *c, const char *path, int how)
{
	const char *parent;
	size_t plen, len = strlen(path);
	struct cache_ent *pe;

	atomic_fetch_add(&c->invalidations, 1);
	cache_parent(path, &parent, &plen);
	pthread_mutex_lock(&c->lock);
	c->gen++;
	cache_drop(c, path, len);
	pe = strcmp(path, ".") ? cache_find(c, parent, plen) : NULL;
	if (pe && !(how & CACHE_SUBTREE)) {
		cache_list_edit(pe, cache_base(path), how,
				(mode_t)how & S_IFMT);
		if (how & CACHE_PARENT) {
			pe->attr_exp = 0;
		} else if ((how & (CACHE_ADDED | CACHE_REMOVED)) &&
			   pe->attr_rc == 0) {
			struct timespec now;

			clock_gettime(CLOCK_REALTIME, &now);
			pe->st.st_mtim = now;
			pe->st.st_ctim = now;
		}
	} else if (pe) {
		cache_list_forget(pe);
		if (how & CACHE_PARENT)
			pe->attr_exp = 0;
	}
	if (how & CACHE_SUBTREE) {
		int root = strcmp(path, ".") == 0;

		for (size_t b = 0; b < c->nbuckets; b++) {
			struct cache_ent **pp = &c->tab[b];

			while (*pp) {
				struct cache_ent *e = *pp;

				if (root || (strncmp(e->path, path, len) == 0 &&
					     e->path[len] == '/')) {
					*pp = e->next;
					c->count--;
					cache_ent_free(e);
				} else {
					pp = &e->next;
				}
			}
		}
	}
	pthread_mutex_unlock(&c->lock);
}

static uint64_t cache_inner_fh(uint64_t fh)
{
	if (fh == VOLFS_NO_FH)
		return fh;
	return ((struct cache_fh *)(uintptr_t)fh)->inner;
}

static struct cache_fh *cache_fh_new(const char *path)
{
	struct cache_fh *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->path = strdup(path);
	if (!h->path) {
		free(h);
		return NULL;
	}
	return h;
}

static void cache_fh_free(struct cache_fh *h)
{
	free(h->path);
	free(h);
}

/* Whether handle path hp is at path or, with subtree, below it. */
static int cache_fh_at(const char *hp, const char *path, int subtree)
{
	size_t len = strlen(path);

	return strncmp(hp, path, len) == 0 &&
	       (hp[len] == '\0' || (subtree && hp[len] == '/'));
}

/*
 * Handles open at path (and with subtree, below it) no longer stand for
 * that name: it was removed or moved.  Their path becomes "", which names
 * nothing.
 */
static void cache_fh_detach(struct cache_vol *c, const char *path,
			    int subtree)
{
	pthread_mutex_lock(&c->lock);
	for (struct cache_fh *h = c->open; h; h = h->next)
		if (cache_fh_at(h->path, path, subtree))
			h->path[0] = '\0';
	pthread_mutex_unlock(&c->lock);
}

/* Handles open at from, or below it, now stand for to, or below it (those
 * that cannot be given their new path stand for nothing). */
static void cache_fh_move(struct cache_vol *c, const char *from,
			  const char *to)
{
	size_t len = strlen(from);

	pthread_mutex_lock(&c->lock);
	for (struct cache_fh *h = c->open; h; h = h->next) {
		char *np;

		if (!cache_fh_at(h->path, from, 1))
			continue;
		if (asprintf(&np, "%s%s", to, h->path + len) < 0) {
			h->path[0] = '\0';
			continue;
		}
		free(h->path);
		h->path = np;
	}
	pthread_mutex_unlock(&c->lock);
}

/* cache_invalidate() of what h's file is known by now. */
static void cache_fh_invalidate(struct cache_vol *c, struct cache_fh *h,
				int how)
{
	char path[PATH_MAX];

	pthread_mutex_lock(&c->lock);
	snprintf(path, sizeof(path), "%s", h->path);
	pthread_mutex_unlock(&c->lock);
	cache_invalidate(c, path, how);
}

static void cache_fh_add(struct cache_vol *c, struct cache_fh *h)
{
	pthread_mutex_lock(&c->lock);
	h->next = c->open;
	c->open = h;
	pthread_mutex_unlock(&c->lock);
}

/* Unlists h and waits until no getattr uses it. */
static void cache_fh_del(struct cache_vol *c, struct cache_fh *h)
{
	struct cache_fh **pp;

	pthread_mutex_lock(&c->lock);
	for (pp = &c->open; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	while (h->users)
		pthread_cond_wait(&c->unused, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

/* ---- ops ---- */

static void cache_close(void *vol)
{
	struct cache_vol *c = vol;

	if (c->ops->close)
		c->ops->close(c->vol);
	for (size_t b = 0; b < c->nbuckets; b++) {
		while (c->tab[b]) {
			struct cache_ent *e = c->tab[b];

			c->tab[b] = e->next;
			cache_ent_free(e);
		}
	}
	free(c->tab);
	pthread_cond_destroy(&c->unused);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int cache_statfs(void *vol, struct statvfs *sv)
{
	struct cache_vol *c = vol;

	return c->ops->statfs(c->vol, sv);
}

/* Records that directory path, just made here, is empty. */
static void cache_store_empty(struct cache_vol *c, const char *path)
{
	struct cache_list *l = calloc(1, sizeof(*l));
	struct cache_ent *e;

	if (!l)
		return;
	l->refs = 1;
	pthread_mutex_lock(&c->lock);
	e = cache_get(c, path);
	if (e) {
		cache_list_put(e->list);
		e->list = l;
		e->list_exp = cache_now() + c->ttl_ns;
		l = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	cache_list_put(l);
}

/* A parent listing older than its TTL is read again on a lookup up to this
 * size: one listing instead of a round trip per new name (an unpacking or
 * a copy into the directory). */
#define CACHE_RELIST_MAX 8192

/*
 * Answers a lookup of path from what is known (c->lock held): its own
 * attributes, or its absence from its parent's listing.  Returns 1 with
 * *rc (and *st) set, else 0, with *relist set when the parent's listing is
 * known but old and worth reading again (at most once a TTL: a listing
 * read while something changed is not kept, and must not be read again
 * for every lookup).
 */
static int cache_known(struct cache_vol *c, const char *path, int64_t now,
		       struct stat *st, int *rc, int *relist)
{
	struct cache_ent *e = cache_find(c, path, strlen(path));
	const char *parent;
	ssize_t at;
	size_t plen;

	*relist = 0;
	if (e && e->attr_exp > now) {
		*rc = e->attr_rc;
		if (*rc == 0)
			*st = e->st;
		return 1;
	}
	if (strcmp(path, ".") == 0)
		return 0;
	cache_parent(path, &parent, &plen);
	e = cache_find(c, parent, plen);
	if (!e || !e->list)
		return 0;
	if (e->list_exp <= now) {
		*relist = e->list->n <= CACHE_RELIST_MAX &&
			  now - e->relist_at >= c->ttl_ns;
		if (*relist)
			e->relist_at = now;
		return 0;
	}
	at = cache_list_find(e->list, cache_base(path));
	if (at < 0) {
		*rc = -ENOENT;
		return 1;
	}
	/* Listed, without attributes (created or changed here since): when
	 * others in the listing lack theirs too, one listing brings them
	 * all. */
	*relist = !e->list->e[at].has_st && e->list->n <= CACHE_RELIST_MAX &&
		  e->list->unknown > 1 && now - e->relist_at >= c->ttl_ns;
	if (*relist)
		e->relist_at = now;
	return 0;
}

static int cache_list_load(struct cache_vol *c, const char *path,
			   struct cache_list **out);

/* Reads the listing of path's parent again. */
static void cache_relist_parent(struct cache_vol *c, const char *path)
{
	struct cache_list *l;
	const char *parent;
	size_t plen;
	char *dir;

	cache_parent(path, &parent, &plen);
	dir = strndup(parent, plen);
	if (dir && cache_list_load(c, dir, &l) == 0)
		cache_list_put(l);
	free(dir);
}

static int cache_getattr(void *vol, const char *path, uint64_t fh,
			 struct stat *st)
{
	struct cache_vol *c = vol;
	struct cache_fh *h = NULL;
	struct cache_ent *e;
	int64_t now;
	uint64_t gen;
	int rc, known, relist;

	if (fh != VOLFS_NO_FH)
		return c->ops->getattr(c->vol, path, cache_inner_fh(fh), st);
	now = cache_now();
	pthread_mutex_lock(&c->lock);
	known = cache_known(c, path, now, st, &rc, &relist);
	if (!known && relist) {
		pthread_mutex_unlock(&c->lock);
		cache_relist_parent(c, path);
		now = cache_now();
		pthread_mutex_lock(&c->lock);
		known = cache_known(c, path, now, st, &rc, &relist);
	}
	if (known) {
		pthread_mutex_unlock(&c->lock);
		atomic_fetch_add(&c->attr_hits, 1);
		return rc;
	}
	gen = c->gen;
	for (h = c->open; h; h = h->next)
		if (strcmp(h->path, path) == 0) {
			h->users++;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	atomic_fetch_add(&c->attr_misses, 1);

	rc = c->ops->getattr(c->vol, path, h ? h->inner : VOLFS_NO_FH, st);
	if (h) {
		pthread_mutex_lock(&c->lock);
		if (--h->users == 0)
			pthread_cond_broadcast(&c->unused);
		pthread_mutex_unlock(&c->lock);
	}
	/* Only answers worth repeating: found, or certainly not there. */
	if (rc != 0 && rc != -ENOENT && rc != -ENOTDIR)
		return rc;
	pthread_mutex_lock(&c->lock);
	if (c->gen == gen) {
		e = cache_get(c, path);
		if (e) {
			e->attr_rc = rc;
			if (rc == 0)
				e->st = *st;
			e->attr_exp = now + c->ttl_ns;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int cache_readlink(void *vol, const char *path, char *buf, size_t size)
{
	struct cache_vol *c = vol;

	return c->ops->readlink(c->vol, path, buf, size);
}

static int cache_mknod(void *vol, const char *path, mode_t mode, dev_t rdev,
		       const struct volfs_caller *who)
{
	struct cache_vol *c = vol;
	int rc = c->ops->mknod(c->vol, path, mode, rdev, who);

	cache_invalidate(c, path,
			 rc < 0 ? CACHE_INODE
				: CACHE_ADDED | (int)(mode & S_IFMT));
	return rc;
}

static int cache_mkdir(void *vol, const char *path, mode_t mode,
		       const struct volfs_caller *who)
{
	struct cache_vol *c = vol;
	int rc = c->ops->mkdir(c->vol, path, mode, who);

	if (rc < 0) {
		cache_invalidate(c, path, CACHE_INODE);
		return rc;
	}
	cache_invalidate(c, path, CACHE_ADDED | CACHE_PARENT | S_IFDIR);
	/* A new directory is empty: its listing is known. */
	cache_store_empty(c, path);
	return rc;
}

static int cache_unlink_op(void *vol, const char *path)
{
	struct cache_vol *c = vol;
	int rc = c->ops->unlink(c->vol, path);

	if (rc == 0)
		cache_fh_detach(c, path, 0);
	cache_invalidate(c, path, rc < 0 ? CACHE_INODE : CACHE_REMOVED);
	return rc;
}

static int cache_rmdir(void *vol, const char *path)
{
	struct cache_vol *c = vol;
	int rc = c->ops->rmdir(c->vol, path);

	cache_invalidate(c, path,
			 rc < 0 ? CACHE_SUBTREE
				: CACHE_REMOVED | CACHE_PARENT | CACHE_SUBTREE);
	return rc;
}

static int cache_symlink(void *vol, const char *target, const char *path,
			 const struct volfs_caller *who)
{
	struct cache_vol *c = vol;
	int rc = c->ops->symlink(c->vol, target, path, who);

	cache_invalidate(c, path, rc < 0 ? CACHE_INODE : CACHE_ADDED | S_IFLNK);
	return rc;
}

static int cache_rename(void *vol, const char *from, const char *to,
			unsigned flags)
{
	struct cache_vol *c = vol;
	int rc = c->ops->rename(c->vol, from, to, flags);

	if (rc == 0 && (flags & VOLFS_RENAME_EXCHANGE)) {
		cache_fh_detach(c, to, 1);
		cache_fh_detach(c, from, 1);
	} else if (rc == 0) {
		/* A replaced file's handles lose their name; the moved
		 * file's (or those below the moved directory) follow it. */
		cache_fh_detach(c, to, 1);
		cache_fh_move(c, from, to);
	}
	cache_invalidate(c, from, CACHE_PARENT | CACHE_SUBTREE);
	cache_invalidate(c, to, CACHE_PARENT | CACHE_SUBTREE);
	return rc;
}

static int cache_chmod(void *vol, const char *path, uint64_t fh, mode_t mode)
{
	struct cache_vol *c = vol;
	int rc = c->ops->chmod(c->vol, path, cache_inner_fh(fh), mode);

	cache_invalidate(c, path, CACHE_INODE);
	return rc;
}

static int cache_chown(void *vol, const char *path, uint64_t fh, uid_t uid,
		       gid_t gid)
{
	struct cache_vol *c = vol;
	int rc = c->ops->chown(c->vol, path, cache_inner_fh(fh), uid, gid);

	cache_invalidate(c, path, CACHE_INODE);
	return rc;
}

static int cache_truncate(void *vol, const char *path, uint64_t fh,
			  off_t size)
{
	struct cache_vol *c = vol;
	int rc = c->ops->truncate(c->vol, path, cache_inner_fh(fh), size);

	cache_invalidate(c, path, CACHE_INODE);
	return rc;
}

static int cache_utimens(void *vol, const char *path, uint64_t fh,
			 const struct timespec tv[2])
{
	struct cache_vol *c = vol;
	int rc = c->ops->utimens(c->vol, path, cache_inner_fh(fh), tv);

	cache_invalidate(c, path, CACHE_INODE);
	return rc;
}

/*
 * Opens path through the inner store (creates it, with create) and hands
 * out a handle of ours that remembers the path.
 */
static int cache_open_as(struct cache_vol *c, const char *path, int flags,
			 int create, mode_t mode,
			 const struct volfs_caller *who, uint64_t *fh)
{
	struct cache_fh *h = cache_fh_new(path);
	int rc;

	if (!h)
		return -ENOMEM;
	rc = create ? c->ops->create_file(c->vol, path, flags, mode, who,
					 &h->inner)
		    : c->ops->open_file(c->vol, path, flags, &h->inner);
	if (create)
		cache_invalidate(c, path,
				 rc < 0 ? CACHE_INODE : CACHE_ADDED | S_IFREG);
	else if (rc >= 0 && (flags & O_TRUNC))
		/* O_TRUNC changed the size. */
		cache_invalidate(c, path, CACHE_INODE);
	if (rc < 0) {
		cache_fh_free(h);
		return rc;
	}
	cache_fh_add(c, h);
	*fh = (uint64_t)(uintptr_t)h;
	return rc;
}

static int cache_open_file(void *vol, const char *path, int flags,
			   uint64_t *fh)
{
	return cache_open_as(vol, path, flags, 0, 0, NULL, fh);
}

static int cache_create_file(void *vol, const char *path, int flags,
			     mode_t mode, const struct volfs_caller *who,
			     uint64_t *fh)
{
	return cache_open_as(vol, path, flags, 1, mode, who, fh);
}

static ssize_t cache_read(void *vol, uint64_t fh, void *buf, size_t size,
			  off_t off)
{
	struct cache_vol *c = vol;

	return c->ops->read(c->vol, cache_inner_fh(fh), buf, size, off);
}

static ssize_t cache_write(void *vol, uint64_t fh, const void *buf,
			   size_t size, off_t off)
{
	struct cache_vol *c = vol;
	struct cache_fh *h = (struct cache_fh *)(uintptr_t)fh;
	ssize_t n = c->ops->write(c->vol, h->inner, buf, size, off);

	cache_fh_invalidate(c, h, CACHE_INODE);
	return n;
}

static int cache_flush(void *vol, uint64_t fh)
{
	struct cache_vol *c = vol;
	struct cache_fh *h = (struct cache_fh *)(uintptr_t)fh;
	int rc = c->ops->flush(c->vol, h->inner);

	cache_fh_invalidate(c, h, CACHE_INODE);
	return rc;
}

static int cache_fsync(void *vol, uint64_t fh, int datasync)
{
	struct cache_vol *c = vol;
	struct cache_fh *h = (struct cache_fh *)(uintptr_t)fh;
	int rc = c->ops->fsync(c->vol, h->inner, datasync);

	cache_fh_invalidate(c, h, CACHE_INODE);
	return rc;
}

static int cache_release(void *vol, uint64_t fh)
{
	struct cache_vol *c = vol;
	struct cache_fh *h = (struct cache_fh *)(uintptr_t)fh;
	int rc;

	/* The final attributes are not asked for here: a stat that follows
	 * finds them by path, or, for many files written into one listed
	 * directory, by listing it once (cache_known()). */
	cache_fh_del(c, h);
	rc = c->ops->release(c->vol, h->inner);
	cache_fh_free(h);
	return rc;
}

/* The release of a store that has none: free our handle. */
static int cache_release_only(void *vol, uint64_t fh)
{
	struct cache_vol *c = vol;
	struct cache_fh *h = (struct cache_fh *)(uintptr_t)fh;

	cache_fh_del(c, h);
	cache_invalidate(c, h->path, CACHE_INODE);
	cache_fh_free(h);
	return 0;
}

static int cache_fd(void *vol, uint64_t fh)
{
	struct cache_vol *c = vol;

	return c->ops->fd(c->vol, cache_inner_fh(fh));
}

static int cache_fallocate(void *vol, uint64_t fh, int mode, off_t off,
			   off_t len)
{
	struct cache_vol *c = vol;
	struct cache_fh *h = (struct cache_fh *)(uintptr_t)fh;
	int rc = c->ops->fallocate(c->vol, h->inner, mode, off, len);

	cache_fh_invalidate(c, h, CACHE_INODE);
	return rc;
}

static off_t cache_lseek(void *vol, uint64_t fh, off_t off, int whence)
{
	struct cache_vol *c = vol;

	return c->ops->lseek(c->vol, cache_inner_fh(fh), off, whence);
}

/* Collects a listing from the inner store. */
struct cache_collect {
	struct cache_list *l;
	int nomem;
};

static int cache_collect_fill(void *ctx, const char *name, mode_t type,
			      const struct stat *st)
{
	struct cache_collect *cc = ctx;

	if (cache_list_add(cc->l, name, type, st) < 0) {
		cc->nomem = 1;
		return 1;
	}
	return 0;
}

static void cache_replay(const struct cache_list *l, volfs_path_fill_fn fill,
			 void *ctx)
{
	for (size_t i = 0; i < l->n; i++)
		if (fill(ctx, l->e[i].name, l->e[i].type,
			 l->e[i].has_st ? &l->e[i].st : NULL))
			break;
}

/* Stores the children's attributes the listing came with.  Lock held. */
static void cache_store_children(struct cache_vol *c, const char *path,
				 const struct cache_list *l, int64_t exp)
{
	int root = strcmp(path, ".") == 0;
	size_t plen = strlen(path);

	for (size_t i = 0; i < l->n; i++) {
		size_t nlen = strlen(l->e[i].name);
		struct cache_ent *e;
		char *child;

		if (!l->e[i].has_st)
			continue;
		child = malloc(plen + nlen + 2);
		if (!child)
			return;
		if (root) {
			memcpy(child, l->e[i].name, nlen + 1);
		} else {
			memcpy(child, path, plen);
			child[plen] = '/';
			memcpy(child + plen + 1, l->e[i].name, nlen + 1);
		}
		e = cache_get(c, child);
		free(child);
		if (!e)
			return;
		e->attr_rc = 0;
		e->st = l->e[i].st;
		e->attr_exp = exp;
	}
}

/*
 * Lists directory path through the inner store and keeps the listing
 * (unless something changed meanwhile).  *out: the listing, one reference
 * the caller puts.
 */
static int cache_list_load(struct cache_vol *c, const char *path,
			   struct cache_list **out)
{
	struct cache_collect cc = { 0 };
	struct cache_list *l;
	struct cache_ent *e;
	int64_t now = cache_now();
	uint64_t gen;
	int rc;

	pthread_mutex_lock(&c->lock);
	gen = c->gen;
	pthread_mutex_unlock(&c->lock);
	atomic_fetch_add(&c->list_misses, 1);
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->refs = 1;
	cc.l = l;
	rc = c->ops->readdir(c->vol, path, cache_collect_fill, &cc);
	if (rc == 0 && cc.nomem)
		rc = -ENOMEM;
	if (rc < 0) {
		cache_list_put(l);
		return rc;
	}
	pthread_mutex_lock(&c->lock);
	if (c->gen == gen) {
		e = cache_get(c, path);
		if (e) {
			cache_list_put(e->list);
			atomic_fetch_add(&l->refs, 1);
			e->list = l;
			e->list_exp = now + c->ttl_ns;
			cache_store_children(c, path, l, now + c->ttl_ns);
		}
	}
	pthread_mutex_unlock(&c->lock);
	*out = l;
	return 0;
}

static int cache_readdir(void *vol, const char *path, volfs_path_fill_fn fill,
			 void *ctx)
{
	struct cache_vol *c = vol;
	struct cache_list *l;
	struct cache_ent *e;
	int rc;

	pthread_mutex_lock(&c->lock);
	e = cache_find(c, path, strlen(path));
	if (e && e->list && e->list_exp > cache_now()) {
		l = e->list;
		atomic_fetch_add(&l->refs, 1);
		pthread_mutex_unlock(&c->lock);
		atomic_fetch_add(&c->list_hits, 1);
	} else {
		pthread_mutex_unlock(&c->lock);
		rc = cache_list_load(c, path, &l);
		if (rc < 0)
			return rc;
	}
	cache_replay(l, fill, ctx);
	cache_list_put(l);
	return 0;
}

static int cache_setxattr(void *vol, const char *path, const char *name,
			  const void *value, size_t size, int flags)
{
	struct cache_vol *c = vol;
	int rc = c->ops->setxattr(c->vol, path, name, value, size, flags);

	/* ctime changed. */
	cache_invalidate(c, path, CACHE_INODE);
	return rc;
}

static ssize_t cache_getxattr(void *vol, const char *path, const char *name,
			      void *value, size_t size)
{
	struct cache_vol *c = vol;

	return c->ops->getxattr(c->vol, path, name, value, size);
}

static ssize_t cache_listxattr(void *vol, const char *path, char *list,
			       size_t size)
{
	struct cache_vol *c = vol;

	return c->ops->listxattr(c->vol, path, list, size);
}

static int cache_removexattr(void *vol, const char *path, const char *name)
{
	struct cache_vol *c = vol;
	int rc = c->ops->removexattr(c->vol, path, name);

	cache_invalidate(c, path, CACHE_INODE);
	return rc;
}

/* Our op where the inner table has one, else NULL. */
#define CACHE_OP(t, ops, op, fn) ((t)->op = (ops)->op ? (fn) : NULL)

int pathcache_wrap(const struct volfs_pathops *ops, void *vol,
		   unsigned ttl_ms, const struct volfs_pathops **ops_out,
		   void **vol_out)
{
	struct volfs_pathops *t;
	struct cache_vol *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->nbuckets = 1024;
	c->tab = calloc(c->nbuckets, sizeof(*c->tab));
	if (!c->tab) {
		free(c);
		return -ENOMEM;
	}
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->tab);
		free(c);
		return -ENOMEM;
	}
	pthread_cond_init(&c->unused, NULL);
	c->ops = ops;
	c->vol = vol;
	c->ttl_ns = (int64_t)ttl_ms * 1000000;

	t = &c->table;
	t->close = cache_close;
	CACHE_OP(t, ops, statfs, cache_statfs);
	CACHE_OP(t, ops, getattr, cache_getattr);
	CACHE_OP(t, ops, readlink, cache_readlink);
	CACHE_OP(t, ops, mknod, cache_mknod);
	CACHE_OP(t, ops, mkdir, cache_mkdir);
	CACHE_OP(t, ops, unlink, cache_unlink_op);
	CACHE_OP(t, ops, rmdir, cache_rmdir);
	CACHE_OP(t, ops, symlink, cache_symlink);
	CACHE_OP(t, ops, rename, cache_rename);
	CACHE_OP(t, ops, chmod, cache_chmod);
	CACHE_OP(t, ops, chown, cache_chown);
	CACHE_OP(t, ops, truncate, cache_truncate);
	CACHE_OP(t, ops, utimens, cache_utimens);
	CACHE_OP(t, ops, open_file, cache_open_file);
	CACHE_OP(t, ops, create_file, cache_create_file);
	CACHE_OP(t, ops, read, cache_read);
	CACHE_OP(t, ops, write, cache_write);
	CACHE_OP(t, ops, flush, cache_flush);
	CACHE_OP(t, ops, fsync, cache_fsync);
	/* Our handles must be freed even if the inner ones need nothing. */
	t->release = ops->release ? cache_release : cache_release_only;
	CACHE_OP(t, ops, fd, cache_fd);
	CACHE_OP(t, ops, fallocate, cache_fallocate);
	CACHE_OP(t, ops, lseek, cache_lseek);
	CACHE_OP(t, ops, readdir, cache_readdir);
	CACHE_OP(t, ops, setxattr, cache_setxattr);
	CACHE_OP(t, ops, getxattr, cache_getxattr);
	CACHE_OP(t, ops, listxattr, cache_listxattr);
	CACHE_OP(t, ops, removexattr, cache_removexattr);
	*ops_out = t;
	*vol_out = c;
	return 0;
}

void pathcache_get_stats(void *vol, struct pathcache_stats *out)
{
	struct cache_vol *c = vol;

	out->attr_hits = atomic_load(&c->attr_hits);
	out->attr_misses = atomic_load(&c->attr_misses);
	out->list_hits = atomic_load(&c->list_hits);
	out->list_misses = atomic_load(&c->list_misses);
	out->invalidations = atomic_load(&c->invalidations);
}
