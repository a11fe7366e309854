/* SPDX-License-Identifier: MIT */
/*
 * The ram backend's daemon store: directories, hash tables of entries that
 * grow and shrink with the directory, an array of the same entries in the
 * order of their positions (struct ram_dir), both charged to the volume;
 * and the directory handles that list them.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ram_int.h"

uint32_t ram_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 16777619u;
	}
	return h;
}

struct ram_dirent *ram_dir_find(const struct ram_inode *dir, const char *name,
				size_t len)
{
	const struct ram_dir *d = &dir->u.dir;
	struct ram_dirent *de;
	uint32_t h;

	if (!d->nbuckets)
		return NULL;
	h = ram_hash(name, len);
	for (de = d->tab[h & (d->nbuckets - 1)]; de; de = de->next)
		if (de->hash == h && de->len == len &&
		    memcmp(de->name, name, len) == 0)
			return de;
	return NULL;
}

/* Rebuilds dir's table with nb buckets (a power of two). */
static int ram_dir_rehash(struct ram_vol *v, struct ram_inode *dir, size_t nb)
{
	struct ram_dir *d = &dir->u.dir;
	struct ram_dirent **tab, *de, *next;
	size_t old = d->nbuckets;
	int rc;

	if (nb > old) {
		rc = ram_charge(v, (nb - old) * sizeof(*tab));
		if (rc)
			return rc;
	}
	tab = calloc(nb, sizeof(*tab));
	if (!tab) {
		if (nb > old)
			ram_uncharge(v, (nb - old) * sizeof(*tab));
		return -ENOMEM;
	}
	for (size_t i = 0; i < old; i++) {
		for (de = d->tab[i]; de; de = next) {
			next = de->next;
			de->next = tab[de->hash & (nb - 1)];
			tab[de->hash & (nb - 1)] = de;
		}
	}
	free(d->tab);
	d->tab = tab;
	d->nbuckets = nb;
	if (nb < old)
		ram_uncharge(v, (old - nb) * sizeof(*tab));
	return 0;
}

/* The index of the first slot of d numbered above seq (nslots if none). */
static size_t ram_slot_after(const struct ram_dir *d, uint64_t seq)
{
	size_t lo = 0, hi = d->nslots, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (d->slots[mid].seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The slot of entry de of d. */
static struct ram_slot *ram_slot_of(const struct ram_dir *d,
				    const struct ram_dirent *de)
{
	return &d->slots[ram_slot_after(d, de->seq) - 1];
}

/* Moves d's entries to the front of its array, dropping the holes. */
static void ram_slots_compact(struct ram_dir *d)
{
	size_t j = 0;

	for (size_t i = 0; i < d->nslots; i++)
		if (d->slots[i].de)
			d->slots[j++] = d->slots[i];
	d->nslots = j;
}

/* Gives d's array room for cap slots (at least its entries). */
static int ram_slots_resize(struct ram_vol *v, struct ram_dir *d, size_t cap)
{
	size_t old = d->slotcap;
	struct ram_slot *s;
	int rc;

	if (cap > old) {
		rc = ram_charge(v, (cap - old) * sizeof(*s));
		if (rc)
			return rc;
	}
	ram_slots_compact(d);
	s = realloc(d->slots, cap * sizeof(*s));
	if (!s) {
		if (cap > old)
			ram_uncharge(v, (cap - old) * sizeof(*s));
		return -ENOMEM;
	}
	d->slots = s;
	d->slotcap = cap;
	if (cap < old)
		ram_uncharge(v, (old - cap) * sizeof(*s));
	return 0;
}

/*
 * Makes room at the end of dir's array for one more slot.  Holes are
 * squeezed out when they are a quarter of it or more, so what compacting
 * costs is paid back by as many adds; else the array doubles.
 */
static int ram_slots_room(struct ram_vol *v, struct ram_dir *d)
{
	if (d->nslots < d->slotcap)
		return 0;
	if (d->nslots && d->nslots - d->count >= d->nslots / 4) {
		ram_slots_compact(d);
		return 0;
	}
	return ram_slots_resize(v, d,
				d->slotcap ? 2 * d->slotcap : RAM_DIR_MIN);
}

void ram_dir_free(struct ram_vol *v, struct ram_inode *dir)
{
	struct ram_dir *d = &dir->u.dir;

	ram_uncharge(v, d->nbuckets * sizeof(*d->tab) +
				d->slotcap * sizeof(*d->slots));
	free(d->tab);
	free(d->slots);
	d->tab = NULL;
	d->nbuckets = 0;
	d->slots = NULL;
	d->nslots = 0;
	d->slotcap = 0;
}

uint64_t ram_dirent_cost(size_t len)
{
	return sizeof(struct ram_dirent) + len + 1;
}

/*
 * Adds the entry name -> node to dir, whose lock the caller holds.  paid is
 * what the caller already holds charged for it (the old name of a rename):
 * only the difference is charged or given back.
 */
static int ram_dir_add(struct ram_vol *v, struct ram_inode *dir,
		       const char *name, size_t len, struct ram_inode *node,
		       uint64_t paid)
{
	struct ram_dir *d = &dir->u.dir;
	uint64_t cost = ram_dirent_cost(len);
	uint64_t more = cost > paid ? cost - paid : 0;
	struct ram_dirent *de;
	size_t b;
	int rc;

	rc = ram_charge(v, more);
	if (rc)
		return rc;
	if (d->count >= d->nbuckets) {
		rc = ram_dir_rehash(
			v, dir, d->nbuckets ? 2 * d->nbuckets : RAM_DIR_MIN);
		/* A full table only makes lookups slower. */
		if (rc && !d->nbuckets)
			goto err_uncharge;
	}
	rc = ram_slots_room(v, d);
	if (rc)
		goto err_tables;
	de = malloc(cost);
	if (!de) {
		rc = -ENOMEM;
		goto err_tables;
	}
	de->node = node;
	de->seq = d->next_seq++;
	de->hash = ram_hash(name, len);
	de->len = (uint32_t)len;
	memcpy(de->name, name, len);
	de->name[len] = '\0';
	b = de->hash & (d->nbuckets - 1);
	de->next = d->tab[b];
	d->tab[b] = de;
	d->slots[d->nslots].seq = de->seq;
	d->slots[d->nslots].de = de;
	d->nslots++;
	d->count++;
	if (paid > cost)
		ram_uncharge(v, paid - cost);
	return 0;

err_tables:
	/* An empty directory keeps no tables. */
	if (!d->count)
		ram_dir_free(v, dir);
err_uncharge:
	ram_uncharge(v, more);
	return rc;
}

/* Takes de out of its hash chain in d. */
static void ram_dir_unhash(struct ram_dir *d, const struct ram_dirent *de)
{
	struct ram_dirent **pp = &d->tab[de->hash & (d->nbuckets - 1)];

	while (*pp != de)
		pp = &(*pp)->next;
	*pp = de->next;
}

/* Removes de from dir, whose lock the caller holds; refund: give back
 * what the entry was charged (not when ram_dir_add() took it over). */
static void ram_dir_del(struct ram_vol *v, struct ram_inode *dir,
			struct ram_dirent *de, int refund)
{
	struct ram_dir *d = &dir->u.dir;

	ram_dir_unhash(d, de);
	ram_slot_of(d, de)->de = NULL;
	/* Holes at the end are just unused room. */
	while (d->nslots && !d->slots[d->nslots - 1].de)
		d->nslots--;
	d->count--;
	if (refund)
		ram_uncharge(v, ram_dirent_cost(de->len));
	free(de);
	if (d->count == 0) {
		ram_dir_free(v, dir);
		return;
	}
	/* Keeping the bigger tables is fine too. */
	if (d->nbuckets > RAM_DIR_MIN && d->count < d->nbuckets / 8)
		ram_dir_rehash(v, dir, d->nbuckets / 4);
	if (d->slotcap > RAM_DIR_MIN && d->count < d->slotcap / 8)
		ram_slots_resize(v, d, d->slotcap / 4);
	else if (d->nslots - d->count > d->count)
		ram_slots_compact(d);
}

struct ram_dirent *ram_dir_pop(struct ram_inode *dir)
{
	struct ram_dir *d = &dir->u.dir;
	struct ram_dirent *de;

	while (d->nslots) {
		de = d->slots[--d->nslots].de;
		if (de) {
			d->count--;
			return de;
		}
	}
	return NULL;
}

int ram_link_into(struct ram_vol *v, struct ram_inode *dir, const char *name,
		  size_t len, struct ram_inode *node, uint64_t paid,
		  struct timespec now)
{
	int rc;

	pthread_rwlock_wrlock(&dir->lock);
	if (S_ISDIR(node->type) && dir->nlink >= RAM_LINK_MAX) {
		rc = -EMLINK;
	} else {
		rc = ram_dir_add(v, dir, name, len, node, paid);
	}
	if (!rc) {
		if (S_ISDIR(node->type))
			dir->nlink++;
		dir->mtime = dir->ctime = now;
	}
	pthread_rwlock_unlock(&dir->lock);
	return rc;
}

void ram_unlink_from(struct ram_vol *v, struct ram_inode *dir,
		     struct ram_dirent *de, int subdir, int refund,
		     struct timespec now)
{
	pthread_rwlock_wrlock(&dir->lock);
	ram_dir_del(v, dir, de, refund);
	if (subdir)
		dir->nlink--;
	dir->mtime = dir->ctime = now;
	pthread_rwlock_unlock(&dir->lock);
}

int ram_dir_rename(struct ram_vol *v, struct ram_inode *dir,
		   struct ram_dirent *de, const char *name, size_t len,
		   struct timespec now)
{
	struct ram_dir *d = &dir->u.dir;
	uint64_t cost = ram_dirent_cost(len), old = ram_dirent_cost(de->len);
	struct ram_dirent *nde;
	size_t b;
	int rc;

	if (cost > old) {
		rc = ram_charge(v, cost - old);
		if (rc)
			return rc;
	}
	nde = malloc(cost);
	if (!nde) {
		if (cost > old)
			ram_uncharge(v, cost - old);
		return -ENOMEM;
	}
	nde->node = de->node;
	nde->seq = de->seq;
	nde->hash = ram_hash(name, len);
	nde->len = (uint32_t)len;
	memcpy(nde->name, name, len);
	nde->name[len] = '\0';
	pthread_rwlock_wrlock(&dir->lock);
	ram_dir_unhash(d, de);
	b = nde->hash & (d->nbuckets - 1);
	nde->next = d->tab[b];
	d->tab[b] = nde;
	ram_slot_of(d, de)->de = nde;
	dir->mtime = dir->ctime = now;
	pthread_rwlock_unlock(&dir->lock);
	free(de);
	if (old > cost)
		ram_uncharge(v, old - cost);
	return 0;
}

void ram_dir_touch(struct ram_inode *dir, int delta, struct timespec now)
{
	pthread_rwlock_wrlock(&dir->lock);
	dir->nlink = (unsigned)((int)dir->nlink + delta);
	dir->mtime = dir->ctime = now;
	pthread_rwlock_unlock(&dir->lock);
}

void ram_touch_ctime(struct ram_inode *n, struct timespec now)
{
	pthread_rwlock_wrlock(&n->lock);
	n->ctime = now;
	pthread_rwlock_unlock(&n->lock);
}

int ram_is_within(const struct ram_inode *d, const struct ram_inode *top)
{
	for (; d; d = d->parent)
		if (d == top)
			return 1;
	return 0;
}

/* ---- directory handles ---- */

/*
 * A directory handle is the inode's address, as a file handle is: it
 * counts as one of the inode's handles, and a listing needs nothing else,
 * since a position is an entry number that the array finds again.
 */
int ram_opendir(void *vol, uint64_t node, uint64_t *dh)
{
	struct ram_inode *n = ram_inode(vol, node);

	if (!S_ISDIR(n->type))
		return -ENOTDIR;
	pthread_rwlock_wrlock(&n->lock);
	n->opens++;
	pthread_rwlock_unlock(&n->lock);
	*dh = (uint64_t)(uintptr_t)n;
	return 0;
}

int ram_readdir(void *vol, uint64_t dh, off_t off, int plus, volfs_fill_fn fill,
		void *ctx)
{
	struct ram_vol *v = vol;
	struct ram_inode *n = ram_fh_node(dh), *c;
	const struct ram_inode *up;
	const struct ram_dir *d;
	struct ram_dirent *de;
	struct volfs_entry e;

	if (!n)
		return -EBADF;
	if (!S_ISDIR(n->type))
		return -ENOTDIR;
	if (off < 0)
		return -EINVAL;
	/* Entries and parents change only under the exclusive namespace
	 * lock. */
	pthread_rwlock_rdlock(&v->ns);
	if (off < RAM_POS_DOT &&
	    fill(ctx, ".", S_IFDIR, (ino_t)n->ino, RAM_POS_DOT, NULL))
		goto done;
	/* The root's ".." is itself, and so is a removed directory's. */
	up = n->parent ? n->parent : n;
	if (off < RAM_POS_DOTDOT &&
	    fill(ctx, "..", S_IFDIR, (ino_t)up->ino, RAM_POS_DOTDOT, NULL))
		goto done;
	d = &n->u.dir;
	for (size_t i = ram_slot_after(d, (uint64_t)off); i < d->nslots; i++) {
		de = d->slots[i].de;
		if (!de)
			continue;
		c = de->node;
		if (plus)
			ram_entry(c, &e);
		if (fill(ctx, de->name, c->type, (ino_t)c->ino, (off_t)de->seq,
			 plus ? &e : NULL)) {
			/* c keeps its name while the lock is held: the
			 * reference cannot be its last hold. */
			if (plus)
				ram_unref(v, c, 1);
			break;
		}
	}
done:
	pthread_rwlock_unlock(&v->ns);
	ram_access(n);
	return 0;
}

/* Nothing is more durable than memory here. */
int ram_fsyncdir(void *vol, uint64_t dh, int datasync)
{
	return ram_fh_node(dh) ? 0 : -EBADF;
}

int ram_releasedir(void *vol, uint64_t dh)
{
	struct ram_inode *n = ram_fh_node(dh);

	if (!n)
		return -EBADF;
	ram_handle_close(vol, n);
	return 0;
}
