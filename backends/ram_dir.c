/* SPDX-License-Identifier: MIT */
/*
 * The ram backend's daemon store: directories, hash tables of entries that
 * grow and shrink with the directory, charged to the volume.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
	de = malloc(cost);
	if (!de) {
		rc = -ENOMEM;
		goto err_uncharge;
	}
	de->node = node;
	de->hash = ram_hash(name, len);
	de->len = (uint32_t)len;
	memcpy(de->name, name, len);
	de->name[len] = '\0';
	b = de->hash & (d->nbuckets - 1);
	de->next = d->tab[b];
	d->tab[b] = de;
	d->count++;
	if (paid > cost)
		ram_uncharge(v, paid - cost);
	return 0;

err_uncharge:
	ram_uncharge(v, more);
	return rc;
}

/* Removes de from dir, whose lock the caller holds; refund: give back
 * what the entry was charged (not when ram_dir_add() took it over). */
static void ram_dir_del(struct ram_vol *v, struct ram_inode *dir,
			struct ram_dirent *de, int refund)
{
	struct ram_dir *d = &dir->u.dir;
	struct ram_dirent **pp = &d->tab[de->hash & (d->nbuckets - 1)];

	while (*pp != de)
		pp = &(*pp)->next;
	*pp = de->next;
	d->count--;
	if (refund)
		ram_uncharge(v, ram_dirent_cost(de->len));
	free(de);
	if (d->count == 0) {
		ram_uncharge(v, d->nbuckets * sizeof(*d->tab));
		free(d->tab);
		d->tab = NULL;
		d->nbuckets = 0;
	} else if (d->nbuckets > RAM_DIR_MIN && d->count < d->nbuckets / 8) {
		/* Keeping the bigger table is fine too. */
		ram_dir_rehash(v, dir, d->nbuckets / 4);
	}
}

struct ram_dirent *ram_dir_pop(struct ram_inode *dir)
{
	struct ram_dir *d = &dir->u.dir;
	struct ram_dirent *de;

	for (; d->scan < d->nbuckets; d->scan++) {
		de = d->tab[d->scan];
		if (de) {
			d->tab[d->scan] = de->next;
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
