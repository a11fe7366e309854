/* SPDX-License-Identifier: MIT */
/*
 * The ram backend: a volume whose files live in memory as long as the volfs
 * process serving it, like tmpfs or an emptyDir with medium: Memory.  It is
 * not persistent: nothing is written to disk, and the data is gone when that
 * process exits, so a daemon restart (or crash) leaves the volume empty.
 * create() and destroy() have nothing to do.
 *
 * A volume has one of two stores (store=).  The tmpfs store (ram_tmpfs.c),
 * the default where the process may make one, is a tmpfs instance private
 * to the volume: the kernel keeps the files and the core may hand open
 * files to it.  The daemon store, this file with ram_data.c, ram_dir.c and
 * ram_xattr.c (ram_int.h), keeps them in the process's own memory and needs
 * no privilege; open_as() makes an empty root directory and close() frees
 * everything.  The rest of this comment is about the daemon store.
 *
 * File data is kept in 4 KiB pages, the kernel's page size, so a small file
 * costs one page as it would on tmpfs, and the kernel's page-sized writes
 * fill whole pages.  The pages of a file hang off a radix tree indexed by
 * page number, of 64-slot nodes (512 bytes, the fan-out of the kernel's
 * xarray): the index costs 1/512 of the data, yet a file of a few pages or
 * a lone page far out in a sparse file needs only a few hundred bytes of it.
 * A tree of height 0 is the file's first page itself, so a one-page file has
 * no node.  Holes are empty slots and cost nothing; truncate and punching a
 * hole free pages, and then the nodes they leave empty.
 *
 * size= is a hard limit on everything the volume allocates: each inode is
 * charged RAM_INODE_COST, each directory entry its struct and name, each
 * directory its hash table, each xattr its struct, name and value, a symlink
 * its target, a file its pages and tree nodes.  A charge that would pass the
 * limit fails with ENOSPC before anything is allocated; a write places what
 * fits and returns the short count.  Usage is one atomic counter.  Freed
 * memory goes back to malloc, which is asked to return it to the kernel
 * (malloc_trim) once enough has been freed.
 *
 * Locking: one rwlock guards the namespace.  Ops that resolve a path hold it
 * shared throughout; ops that add, remove or move names hold it exclusive.
 * Each inode has an rwlock for its data and attributes: reads share it,
 * writes and attribute changes take it alone.  The order is the namespace
 * lock first, then at most one inode lock at a time, and no lock is taken
 * twice by one thread.  Ops on an open handle take only their inode's lock,
 * so I/O to different files never waits on a common lock, and reads of one
 * file run in parallel.  Where the C library lets us, waiting writers go
 * before new readers, so a stream of lookups cannot starve a create.
 *
 * A handle is the inode's address with the open mode in its low bits.  The
 * inode counts its handles and is freed when both its names and its handles
 * are gone, so an unlinked open file works until release().
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#ifdef HAVE_MALLOC_TRIM
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "volfs/backend.h"
#include "volfs/backend_util.h"
#include "ram.h"
#include "ram_int.h"

/* store= words, in the order of enum ram_store. */
static const char *const ram_stores[] = { "auto", "tmpfs", "daemon", NULL };

/* ---- options ---- */

static int ram_rwlock_init(pthread_rwlock_t *l)
{
#ifdef HAVE_PTHREAD_RWLOCKATTR_SETKIND_NP
	pthread_rwlockattr_t attr;
	int rc;

	rc = pthread_rwlockattr_init(&attr);
	if (rc)
		return -rc;
	pthread_rwlockattr_setkind_np(
		&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	rc = pthread_rwlock_init(l, &attr);
	pthread_rwlockattr_destroy(&attr);
	return -rc;
#else
	return -pthread_rwlock_init(l, NULL);
#endif
}

/* Decimal digits into *out: -EINVAL if s is not that, -ERANGE past max. */
static int ram_parse_uint(const char *s, unsigned base, uint64_t max,
			  uint64_t *out, const char **end)
{
	uint64_t v = 0;
	const char *p = s;
	unsigned d;

	for (; *p >= '0' && *p < (char)('0' + base); p++) {
		d = (unsigned)(*p - '0');
		if (v > (max - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	if (p == s)
		return -EINVAL;
	*out = v;
	*end = p;
	return 0;
}

static int ram_parse_size(const char *s, uint64_t *out)
{
	const char *end;
	unsigned shift = 0;
	uint64_t v;
	int rc;

	rc = ram_parse_uint(s, 10, UINT64_MAX, &v, &end);
	if (rc)
		return rc;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	case 't':
	case 'T':
		shift = 40;
		break;
	}
	if (shift)
		end++;
	if (*end)
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

static int ram_parse_id(const char *s, uint32_t *out)
{
	const char *end;
	uint64_t v;
	int rc;

	/* (uid_t)-1 means "unchanged" to chown: not an owner. */
	rc = ram_parse_uint(s, 10, UINT32_MAX - 1, &v, &end);
	if (rc)
		return rc;
	if (*end)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* Half of the physical memory, tmpfs' default. */
static uint64_t ram_default_size(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long psize = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || psize <= 0)
		return RAM_SIZE_FALLBACK;
	return (uint64_t)pages * (uint64_t)psize / 2;
}

static int ram_params(const struct volfs_volinfo *vi, struct ram_params *p,
		      char *err, size_t errlen)
{
	const char *s, *end;
	uint64_t v;
	uint32_t id;
	int rc;

	p->size = ram_default_size();
	p->mode = RAM_MODE_DEFAULT;
	p->uid = 0;
	p->gid = 0;

	rc = volfs_be_opt_word(vi, "store", ram_stores, RAM_STORE_AUTO, err,
			       errlen);
	if (rc < 0)
		return rc;
	p->store = (enum ram_store)rc;

	s = volfs_be_opt(vi, "size");
	if (s) {
		rc = ram_parse_size(s, &p->size);
		if (rc == -ERANGE)
			return volfs_be_errf(
				err, errlen, -EINVAL,
				"option 'size': '%s' is too large: "
				"use less than 16777216t, e.g. 64g",
				s);
		if (rc)
			return volfs_be_errf(
				err, errlen, -EINVAL,
				"option 'size': '%s' is not a size: "
				"use bytes or a number with k, m, g "
				"or t, e.g. 64m",
				s);
		if (p->size < RAM_SIZE_MIN)
			return volfs_be_errf(
				err, errlen, -EINVAL,
				"option 'size': '%s' is too small: "
				"use at least 16k, e.g. 64m",
				s);
	}
	s = volfs_be_opt(vi, "mode");
	if (s) {
		rc = ram_parse_uint(s, 8, 07777, &v, &end);
		if (rc || *end)
			return volfs_be_errf(
				err, errlen, -EINVAL,
				"option 'mode': '%s' is not a mode: "
				"use octal digits from 0 to 7777, "
				"e.g. 1777 or 755",
				s);
		p->mode = (mode_t)v;
	}
	s = volfs_be_opt(vi, "uid");
	if (s) {
		if (ram_parse_id(s, &id))
			return volfs_be_errf(err, errlen, -EINVAL,
					     "option 'uid': '%s' is not a user "
					     "id: use a number from 0 to "
					     "4294967294, e.g. 1000",
					     s);
		p->uid = (uid_t)id;
	}
	s = volfs_be_opt(vi, "gid");
	if (s) {
		if (ram_parse_id(s, &id))
			return volfs_be_errf(
				err, errlen, -EINVAL,
				"option 'gid': '%s' is not a group "
				"id: use a number from 0 to "
				"4294967294, e.g. 1000",
				s);
		p->gid = (gid_t)id;
	}
	return 0;
}

/* ---- accounting ---- */

int ram_charge(struct ram_vol *v, uint64_t n)
{
	uint64_t cur = atomic_load_explicit(&v->used, memory_order_relaxed);

	do {
		if (n > v->cap - cur)
			return -ENOSPC;
	} while (!atomic_compare_exchange_weak_explicit(&v->used, &cur, cur + n,
							memory_order_relaxed,
							memory_order_relaxed));
	return 0;
}

void ram_uncharge(struct ram_vol *v, uint64_t n)
{
	atomic_fetch_sub_explicit(&v->used, n, memory_order_relaxed);
	atomic_fetch_add_explicit(&v->freed, n, memory_order_relaxed);
}

int ram_take(struct ram_acct *a, uint64_t n)
{
	if (!a->reserved)
		return ram_charge(a->v, n);
	if (n > a->left)
		return -ENOSPC;
	a->left -= n;
	return 0;
}

void ram_untake(struct ram_acct *a, uint64_t n)
{
	if (a->reserved)
		a->left += n;
	else
		ram_uncharge(a->v, n);
}

int ram_reserve(struct ram_acct *a, uint64_t n)
{
	int rc = ram_charge(a->v, n);

	if (rc)
		return rc;
	a->reserved = 1;
	a->left = n;
	return 0;
}

void ram_acct_end(struct ram_acct *a)
{
	if (a->reserved && a->left)
		atomic_fetch_sub_explicit(&a->v->used, a->left,
					  memory_order_relaxed);
	a->reserved = 0;
	a->left = 0;
}

/* Lets malloc give freed memory back once enough was freed.  Called with
 * no lock held. */
static void ram_trim(struct ram_vol *v)
{
#ifdef HAVE_MALLOC_TRIM
	uint64_t freed = atomic_load_explicit(&v->freed, memory_order_relaxed);

	if (freed < RAM_TRIM_BYTES)
		return;
	if (!atomic_compare_exchange_strong(&v->freed, &freed, 0))
		return;
	malloc_trim(0);
#endif
}

/* ---- time ---- */

struct timespec ram_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

static int ram_ts_le(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec ||
	       (a.tv_sec == b.tv_sec && a.tv_nsec <= b.tv_nsec);
}

/* Whether an access now should update atime, as relatime decides.  The
 * caller holds n->lock. */
static int ram_atime_due(const struct ram_inode *n, struct timespec now)
{
	return ram_ts_le(n->atime, n->mtime) || ram_ts_le(n->atime, n->ctime) ||
	       now.tv_sec - n->atime.tv_sec >= RAM_RELATIME;
}

/* Records an access to n, whose lock the caller does not hold. */
static void ram_accessed(struct ram_inode *n)
{
	struct timespec now = ram_now();

	pthread_rwlock_wrlock(&n->lock);
	if (ram_atime_due(n, now))
		n->atime = now;
	pthread_rwlock_unlock(&n->lock);
}

/* ---- inodes ---- */

/* Frees n, which has no names and no handles left. */
static void ram_inode_free(struct ram_vol *v, struct ram_inode *n)
{
	struct ram_xattr *x;

	if (S_ISREG(n->type)) {
		ram_file_free(v, n);
	} else if (S_ISLNK(n->type) && n->u.target) {
		ram_uncharge(v, (uint64_t)n->size + 1);
		free(n->u.target);
	} else if (S_ISDIR(n->type) && n->u.dir.tab) {
		ram_uncharge(v, n->u.dir.nbuckets * sizeof(*n->u.dir.tab));
		free(n->u.dir.tab);
	}
	while ((x = n->xattrs)) {
		n->xattrs = x->next;
		ram_xattr_free(v, x);
	}
	pthread_rwlock_destroy(&n->lock);
	free(n);
	atomic_fetch_sub_explicit(&v->inodes, 1, memory_order_relaxed);
	ram_uncharge(v, RAM_INODE_COST);
}

/*
 * A new inode of type with permission bits perm, owned by who, to be linked
 * into dir: in a set-group-ID directory it takes the directory's group, and
 * a new directory there is set-group-ID too.
 */
static int ram_inode_new(struct ram_vol *v, struct ram_inode *dir, mode_t type,
			 mode_t perm, const struct volfs_caller *who,
			 struct ram_inode **out)
{
	struct ram_inode *n;
	int rc;

	rc = ram_charge(v, RAM_INODE_COST);
	if (rc)
		return rc;
	n = calloc(1, sizeof(*n));
	if (!n) {
		rc = -ENOMEM;
		goto err_uncharge;
	}
	rc = ram_rwlock_init(&n->lock);
	if (rc)
		goto err_free;
	n->ino = atomic_fetch_add_explicit(&v->next_ino, 1,
					   memory_order_relaxed);
	n->type = type;
	n->mode = perm & 07777;
	n->uid = who ? who->uid : 0;
	n->gid = who ? who->gid : 0;
	if (dir) {
		pthread_rwlock_rdlock(&dir->lock);
		if (dir->mode & S_ISGID) {
			n->gid = dir->gid;
			if (S_ISDIR(type))
				n->mode |= S_ISGID;
		}
		pthread_rwlock_unlock(&dir->lock);
	}
	n->nlink = S_ISDIR(type) ? 2 : 1;
	n->atime = n->mtime = n->ctime = ram_now();
	atomic_fetch_add_explicit(&v->inodes, 1, memory_order_relaxed);
	*out = n;
	return 0;

err_free:
	free(n);
err_uncharge:
	ram_uncharge(v, RAM_INODE_COST);
	return rc;
}

/*
 * Drops one name of n (both of a directory's), under the exclusive
 * namespace lock, and frees n when it has neither names nor handles left.
 */
static void ram_drop_link(struct ram_vol *v, struct ram_inode *n,
			  struct timespec now)
{
	int dead;

	pthread_rwlock_wrlock(&n->lock);
	if (S_ISDIR(n->type)) {
		n->nlink = 0;
		n->parent = NULL;
	} else {
		n->nlink--;
	}
	n->ctime = now;
	dead = n->nlink == 0 && n->opens == 0;
	pthread_rwlock_unlock(&n->lock);
	if (dead)
		ram_inode_free(v, n);
}

/* Fills *st from n, whose lock the caller holds. */
static void ram_fill_stat(const struct ram_inode *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = n->type | n->mode;
	st->st_nlink = n->nlink;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_rdev = n->rdev;
	st->st_blksize = RAM_PAGE;
	if (S_ISREG(n->type)) {
		st->st_size = n->size;
		st->st_blocks = (blkcnt_t)(n->u.file.npages * (RAM_PAGE / 512));
	} else if (S_ISDIR(n->type)) {
		st->st_size = (off_t)(n->u.dir.count + 2) * RAM_DIRENT_SIZE;
	} else if (S_ISLNK(n->type)) {
		st->st_size = n->size;
	}
	st->st_atim = n->atime;
	st->st_mtim = n->mtime;
	st->st_ctim = n->ctime;
}

/* ---- paths ---- */

/*
 * Resolves path under the namespace lock (held by the caller) without
 * following any symlink: a link in the middle fails with ELOOP, anything
 * else that is not a directory there with ENOTDIR.  The last component may
 * be missing (at->node NULL).
 */
static int ram_resolve(struct ram_vol *v, const char *path, struct ram_at *at)
{
	struct ram_inode *cur = v->root;
	const char *p = path, *end;
	struct ram_dirent *de;
	size_t len;

	memset(at, 0, sizeof(*at));
	if (!path || !*path || path[0] == '/')
		return -EINVAL;
	if (strcmp(path, ".") == 0) {
		at->node = v->root;
		return 0;
	}
	for (;;) {
		end = strchrnul(p, '/');
		len = (size_t)(end - p);
		if (len == 0 ||
		    (p[0] == '.' && (len == 1 || (len == 2 && p[1] == '.'))))
			return -EINVAL;
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		de = ram_dir_find(cur, p, len);
		if (*end == '\0') {
			at->dir = cur;
			at->name = p;
			at->len = len;
			at->de = de;
			at->node = de ? de->node : NULL;
			return 0;
		}
		if (!de)
			return -ENOENT;
		if (S_ISLNK(de->node->type))
			return -ELOOP;
		if (!S_ISDIR(de->node->type))
			return -ENOTDIR;
		cur = de->node;
		p = end + 1;
	}
}

static struct ram_inode *ram_fh_node(uint64_t fh)
{
	if (fh == VOLFS_NO_FH)
		return NULL;
	return (struct ram_inode *)(uintptr_t)(fh & ~(uint64_t)RAM_FH_TAGS);
}

int ram_node_get(struct ram_vol *v, const char *path, uint64_t fh,
		 struct ram_inode **out)
{
	struct ram_at at;
	int rc;

	if (fh != VOLFS_NO_FH) {
		*out = ram_fh_node(fh);
		return *out ? 0 : -EBADF;
	}
	pthread_rwlock_rdlock(&v->ns);
	rc = ram_resolve(v, path, &at);
	if (!rc && !at.node)
		rc = -ENOENT;
	if (rc) {
		pthread_rwlock_unlock(&v->ns);
		return rc;
	}
	*out = at.node;
	return 0;
}

void ram_node_put(struct ram_vol *v, uint64_t fh)
{
	if (fh == VOLFS_NO_FH)
		pthread_rwlock_unlock(&v->ns);
}

static uint64_t ram_fh_make(struct ram_inode *n, int flags)
{
	uint64_t fh = (uint64_t)(uintptr_t)n;
	int acc = flags & O_ACCMODE;

	if (acc == O_RDONLY || acc == O_RDWR)
		fh |= RAM_FH_READ;
	if (acc == O_WRONLY || acc == O_RDWR)
		fh |= RAM_FH_WRITE;
	if (flags & O_APPEND)
		fh |= RAM_FH_APPEND;
	return fh;
}

/*
 * Creates a node of type at path, which must be free, owned by who.  A
 * symlink gets target.  With opened, the new inode counts one handle from
 * the start and *out gets it.
 */
static int ram_make(struct ram_vol *v, const char *path, mode_t type,
		    mode_t perm, dev_t rdev, const char *target,
		    const struct volfs_caller *who, int opened,
		    struct ram_inode **out)
{
	struct timespec now;
	struct ram_inode *n;
	struct ram_at at;
	size_t tlen;
	int rc;

	pthread_rwlock_wrlock(&v->ns);
	rc = ram_resolve(v, path, &at);
	if (rc)
		goto out;
	if (!at.dir || at.node) {
		rc = -EEXIST;
		goto out;
	}
	rc = ram_inode_new(v, at.dir, type, perm, who, &n);
	if (rc)
		goto out;
	n->rdev = rdev;
	n->opens = opened ? 1 : 0;
	if (target) {
		tlen = strlen(target);
		rc = ram_charge(v, tlen + 1);
		if (rc)
			goto err_free;
		n->u.target = malloc(tlen + 1);
		if (!n->u.target) {
			ram_uncharge(v, tlen + 1);
			rc = -ENOMEM;
			goto err_free;
		}
		memcpy(n->u.target, target, tlen + 1);
		n->size = (off_t)tlen;
	}
	if (S_ISDIR(type))
		n->parent = at.dir;
	now = n->ctime;
	rc = ram_link_into(v, at.dir, at.name, at.len, n, 0, now);
	if (rc)
		goto err_free;
	if (out)
		*out = n;
	goto out;

err_free:
	ram_inode_free(v, n);
out:
	pthread_rwlock_unlock(&v->ns);
	return rc;
}

/* ---- ops ---- */

static int ram_validate(const struct volfs_volinfo *vi, char *err,
			size_t errlen)
{
	struct ram_params p;

	return ram_params(vi, &p, err, errlen);
}

/* The daemon store's state for the volume vi, made from its options p. */
static int ram_daemon_open(const struct volfs_volinfo *vi,
			   const struct ram_params *p, void **vol, char *err,
			   size_t errlen)
{
	struct volfs_caller owner = {0};
	struct ram_vol *v;
	int rc;

	v = calloc(1, sizeof(*v));
	if (!v)
		return volfs_be_errf(err, errlen, -ENOMEM,
				     "cannot open volume '%s': out of memory",
				     vi->name);
	rc = ram_rwlock_init(&v->ns);
	if (rc) {
		volfs_be_errf(err, errlen, rc,
			      "cannot open volume '%s': cannot make a lock: %s",
			      vi->name, volfs_be_strerror(rc));
		goto err_free;
	}
	v->cap = p->size;
	atomic_init(&v->used, 0);
	atomic_init(&v->inodes, 0);
	atomic_init(&v->next_ino, 1);
	atomic_init(&v->freed, 0);
	v->fsid = ram_hash(vi->name, strlen(vi->name));
	owner.uid = p->uid;
	owner.gid = p->gid;
	rc = ram_inode_new(v, NULL, S_IFDIR, p->mode, &owner, &v->root);
	if (rc) {
		volfs_be_errf(err, errlen, rc,
			      "cannot open volume '%s': cannot make its root "
			      "directory: %s",
			      vi->name, volfs_be_strerror(rc));
		goto err_lock;
	}
	if (vi->log)
		vi->log(VOLFS_LOG_DEBUG,
			"ram volume '%s': %llu bytes, root mode %04o, "
			"owner %u:%u",
			vi->name, (unsigned long long)p->size, (unsigned)p->mode,
			(unsigned)p->uid, (unsigned)p->gid);
	*vol = v;
	return 0;

err_lock:
	pthread_rwlock_destroy(&v->ns);
err_free:
	free(v);
	return rc;
}

/* The tmpfs store where asked for or possible, else the daemon store. */
static int ram_open_as(const struct volfs_volinfo *vi, void **vol,
		       const struct volfs_backend **table, char *err,
		       size_t errlen)
{
	struct ram_params p;
	int rc;

	rc = ram_params(vi, &p, err, errlen);
	if (rc)
		return rc;
	if (p.store != RAM_STORE_DAEMON) {
		rc = volfs_ram_tmpfs_open(vi, &p, vol, table, err, errlen);
		if (rc == 0)
			return 0;
		if (p.store == RAM_STORE_TMPFS) {
			size_t len = strlen(err);

			snprintf(err + len, errlen - len,
				 "; use -o store=daemon or store=auto");
			return rc;
		}
		if (vi->log)
			vi->log(VOLFS_LOG_NOTICE,
				"ram volume '%s' is kept in the daemon's "
				"memory (store=daemon): %s",
				vi->name, err);
		err[0] = '\0';
	}
	rc = ram_daemon_open(vi, &p, vol, err, errlen);
	if (rc == 0)
		*table = volfs_backend_ram();
	return rc;
}

/* Frees the whole tree without recursion: any depth is fine. */
static void ram_close(void *vol)
{
	struct ram_vol *v = vol;
	struct ram_inode *dir = v->root, *child, *up;
	struct ram_dirent *de;

	while (dir) {
		de = ram_dir_pop(dir);
		if (!de) {
			up = dir->parent;
			ram_inode_free(v, dir);
			dir = up;
			continue;
		}
		child = de->node;
		ram_uncharge(v, ram_dirent_cost(de->len));
		free(de);
		if (S_ISDIR(child->type))
			dir = child;
		else if (--child->nlink == 0)
			ram_inode_free(v, child);
	}
	pthread_rwlock_destroy(&v->ns);
	free(v);
#ifdef HAVE_MALLOC_TRIM
	malloc_trim(0);
#endif
}

static int ram_statfs(void *vol, struct statvfs *sv)
{
	struct ram_vol *v = vol;
	uint64_t used = atomic_load_explicit(&v->used, memory_order_relaxed);
	uint64_t inodes =
		atomic_load_explicit(&v->inodes, memory_order_relaxed);
	uint64_t free_bytes = used < v->cap ? v->cap - used : 0;
	uint64_t blocks = v->cap / RAM_PAGE;
	/* Any byte in use shows as a block in use. */
	uint64_t used_blocks = (used + RAM_PAGE - 1) / RAM_PAGE;
	uint64_t files = v->cap / RAM_INODE_COST;
	uint64_t ffree = free_bytes / RAM_INODE_COST;

	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = RAM_PAGE;
	sv->f_frsize = RAM_PAGE;
	sv->f_blocks = blocks;
	sv->f_bfree = used_blocks < blocks ? blocks - used_blocks : 0;
	sv->f_bavail = sv->f_bfree;
	sv->f_files = files;
	if (inodes > files)
		ffree = 0;
	else if (ffree > files - inodes)
		ffree = files - inodes;
	sv->f_ffree = ffree;
	sv->f_favail = ffree;
	sv->f_fsid = v->fsid;
	sv->f_namemax = NAME_MAX;
	return 0;
}

static int ram_getattr(void *vol, const char *path, uint64_t fh,
		       struct stat *st)
{
	struct ram_inode *n;
	int rc;

	rc = ram_node_get(vol, path, fh, &n);
	if (rc)
		return rc;
	pthread_rwlock_rdlock(&n->lock);
	ram_fill_stat(n, st);
	pthread_rwlock_unlock(&n->lock);
	ram_node_put(vol, fh);
	return 0;
}

static int ram_readlink(void *vol, const char *path, char *buf, size_t size)
{
	struct ram_vol *v = vol;
	struct ram_inode *n;
	size_t len;
	int rc, due = 0;

	if (size == 0)
		return -EINVAL;
	rc = ram_node_get(v, path, VOLFS_NO_FH, &n);
	if (rc)
		return rc;
	if (S_ISLNK(n->type)) {
		/* The target never changes: no inode lock needed. */
		len = (size_t)n->size < size - 1 ? (size_t)n->size : size - 1;
		memcpy(buf, n->u.target, len);
		buf[len] = '\0';
		pthread_rwlock_rdlock(&n->lock);
		due = ram_atime_due(n, ram_now());
		pthread_rwlock_unlock(&n->lock);
	} else {
		rc = -EINVAL;
	}
	if (due)
		ram_accessed(n);
	ram_node_put(v, VOLFS_NO_FH);
	return rc;
}

static int ram_mknod(void *vol, const char *path, mode_t mode, dev_t rdev,
		     const struct volfs_caller *who)
{
	mode_t type = mode & S_IFMT;

	switch (type) {
	case 0:
		type = S_IFREG;
		break;
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		break;
	case S_IFDIR:
		return -EPERM;
	default:
		return -EINVAL;
	}
	if (!S_ISCHR(type) && !S_ISBLK(type))
		rdev = 0;
	return ram_make(vol, path, type, mode & 07777, rdev, NULL, who, 0,
			NULL);
}

static int ram_mkdir(void *vol, const char *path, mode_t mode,
		     const struct volfs_caller *who)
{
	/* As mkdir(2): set-user-ID and set-group-ID are not taken from the
	 * mode (the latter comes from a set-group-ID parent). */
	return ram_make(vol, path, S_IFDIR, mode & 01777, 0, NULL, who, 0,
			NULL);
}

static int ram_remove(struct ram_vol *v, const char *path, int isdir)
{
	struct timespec now;
	struct ram_at at;
	int rc;

	pthread_rwlock_wrlock(&v->ns);
	rc = ram_resolve(v, path, &at);
	if (rc)
		goto out;
	if (!at.node) {
		rc = -ENOENT;
		goto out;
	}
	if (!at.dir) {
		rc = -EBUSY;
		goto out;
	}
	if (isdir && !S_ISDIR(at.node->type)) {
		rc = -ENOTDIR;
		goto out;
	}
	if (!isdir && S_ISDIR(at.node->type)) {
		rc = -EISDIR;
		goto out;
	}
	if (isdir && at.node->u.dir.count) {
		rc = -ENOTEMPTY;
		goto out;
	}
	now = ram_now();
	ram_unlink_from(v, at.dir, at.de, isdir, 1, now);
	ram_drop_link(v, at.node, now);
out:
	pthread_rwlock_unlock(&v->ns);
	ram_trim(v);
	return rc;
}

static int ram_unlink(void *vol, const char *path)
{
	return ram_remove(vol, path, 0);
}

static int ram_rmdir(void *vol, const char *path)
{
	return ram_remove(vol, path, 1);
}

static int ram_symlink(void *vol, const char *target, const char *path,
		       const struct volfs_caller *who)
{
	size_t len;

	if (!target)
		return -EINVAL;
	len = strlen(target);
	if (len == 0)
		return -ENOENT;
	if (len > RAM_SYMLINK_MAX)
		return -ENAMETOOLONG;
	return ram_make(vol, path, S_IFLNK, 0777, 0, target, who, 0, NULL);
}

/* rename() with RENAME_EXCHANGE: a and b both exist. */
static void ram_exchange(struct ram_at *a, struct ram_at *b,
			 struct timespec now)
{
	struct ram_inode *x = a->node, *y = b->node;
	int xd = S_ISDIR(x->type), yd = S_ISDIR(y->type);

	a->de->node = y;
	b->de->node = x;
	if (a->dir != b->dir) {
		if (xd)
			x->parent = b->dir;
		if (yd)
			y->parent = a->dir;
		ram_dir_touch(a->dir, yd - xd, now);
		ram_dir_touch(b->dir, xd - yd, now);
	} else {
		ram_dir_touch(a->dir, 0, now);
	}
	ram_touch_ctime(x, now);
	ram_touch_ctime(y, now);
}

static int ram_rename(void *vol, const char *from, const char *to,
		      unsigned flags)
{
	const unsigned known = VOLFS_RENAME_NOREPLACE | VOLFS_RENAME_EXCHANGE;
	struct ram_vol *v = vol;
	struct ram_inode *src, *dst;
	struct timespec now;
	struct ram_at a, b;
	int rc, sd;

	if ((flags & ~known) || flags == known)
		return -EINVAL;
	/* The checks come in the order Linux makes them, so each failure
	 * gets the error a local file system gives. */
	pthread_rwlock_wrlock(&v->ns);
	rc = ram_resolve(v, from, &a);
	if (!rc)
		rc = ram_resolve(v, to, &b);
	if (rc)
		goto out;
	if (!a.dir || !b.dir) {
		rc = -EBUSY;
		goto out;
	}
	src = a.node;
	dst = b.node;
	if (!src || ((flags & VOLFS_RENAME_EXCHANGE) && !dst)) {
		rc = -ENOENT;
		goto out;
	}
	if ((flags & VOLFS_RENAME_NOREPLACE) && dst) {
		rc = -EEXIST;
		goto out;
	}
	sd = S_ISDIR(src->type);
	/* A directory cannot go below itself, nor be replaced by what lies
	 * below it. */
	if (sd && ram_is_within(b.dir, src)) {
		rc = -EINVAL;
		goto out;
	}
	if (dst && S_ISDIR(dst->type) && ram_is_within(a.dir, dst)) {
		rc = (flags & VOLFS_RENAME_EXCHANGE) ? -EINVAL : -ENOTEMPTY;
		goto out;
	}
	/* Two names of one file, or the same name: nothing to do. */
	if (src == dst)
		goto out;
	now = ram_now();
	if (flags & VOLFS_RENAME_EXCHANGE) {
		ram_exchange(&a, &b, now);
		goto out;
	}
	if (dst) {
		if (sd && !S_ISDIR(dst->type)) {
			rc = -ENOTDIR;
			goto out;
		}
		if (!sd && S_ISDIR(dst->type)) {
			rc = -EISDIR;
			goto out;
		}
		if (sd && dst->u.dir.count) {
			rc = -ENOTEMPTY;
			goto out;
		}
		/* The target's entry now names src: a replaced directory
		 * leaves b.dir's link count as it was. */
		b.de->node = src;
		ram_dir_touch(b.dir, 0, now);
		ram_unlink_from(v, a.dir, a.de, sd, 1, now);
		ram_drop_link(v, dst, now);
	} else {
		/* The new name takes over the old one's charge: a rename
		 * needs room only for a longer name. */
		rc = ram_link_into(v, b.dir, b.name, b.len, src,
				   ram_dirent_cost(a.len), now);
		if (rc)
			goto out;
		ram_unlink_from(v, a.dir, a.de, sd, 0, now);
	}
	if (sd)
		src->parent = b.dir;
	ram_touch_ctime(src, now);
out:
	pthread_rwlock_unlock(&v->ns);
	ram_trim(v);
	return rc;
}

static int ram_link(void *vol, const char *from, const char *to)
{
	struct ram_vol *v = vol;
	struct timespec now;
	struct ram_at a, b;
	struct ram_inode *n;
	int rc;

	/* In the order of Linux' checks, as in ram_rename(). */
	pthread_rwlock_wrlock(&v->ns);
	rc = ram_resolve(v, from, &a);
	if (rc)
		goto out;
	n = a.node;
	if (!n) {
		rc = -ENOENT;
		goto out;
	}
	rc = ram_resolve(v, to, &b);
	if (rc)
		goto out;
	if (!b.dir || b.node) {
		rc = -EEXIST;
		goto out;
	}
	if (S_ISDIR(n->type)) {
		rc = -EPERM;
		goto out;
	}
	if (n->nlink >= RAM_LINK_MAX) {
		rc = -EMLINK;
		goto out;
	}
	now = ram_now();
	rc = ram_link_into(v, b.dir, b.name, b.len, n, 0, now);
	if (rc)
		goto out;
	pthread_rwlock_wrlock(&n->lock);
	n->nlink++;
	n->ctime = now;
	pthread_rwlock_unlock(&n->lock);
out:
	pthread_rwlock_unlock(&v->ns);
	return rc;
}

static int ram_chmod(void *vol, const char *path, uint64_t fh, mode_t mode)
{
	struct ram_inode *n;
	int rc;

	rc = ram_node_get(vol, path, fh, &n);
	if (rc)
		return rc;
	/* As fchmodat(AT_SYMLINK_NOFOLLOW): a link's mode is fixed. */
	if (S_ISLNK(n->type)) {
		rc = -EOPNOTSUPP;
	} else {
		pthread_rwlock_wrlock(&n->lock);
		n->mode = mode & 07777;
		n->ctime = ram_now();
		pthread_rwlock_unlock(&n->lock);
	}
	ram_node_put(vol, fh);
	return rc;
}

static int ram_chown(void *vol, const char *path, uint64_t fh, uid_t uid,
		     gid_t gid)
{
	struct ram_inode *n;
	int rc;

	rc = ram_node_get(vol, path, fh, &n);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&n->lock);
	if (uid != (uid_t)-1)
		n->uid = uid;
	if (gid != (gid_t)-1)
		n->gid = gid;
	/* As chown(2) on Linux: a new owner does not inherit set-user-ID,
	 * nor set-group-ID that means "run as the group". */
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && !S_ISDIR(n->type)) {
		ram_kill_caps(vol, n);
		n->mode &= ~(mode_t)S_ISUID;
		if (n->mode & S_IXGRP)
			n->mode &= ~(mode_t)S_ISGID;
	}
	n->ctime = ram_now();
	pthread_rwlock_unlock(&n->lock);
	ram_node_put(vol, fh);
	return 0;
}

static int ram_truncate(void *vol, const char *path, uint64_t fh, off_t size)
{
	struct ram_vol *v = vol;
	struct ram_inode *n;
	int rc;

	if (size < 0)
		return -EINVAL;
	rc = ram_node_get(v, path, fh, &n);
	if (rc)
		return rc;
	if (S_ISDIR(n->type)) {
		rc = -EISDIR;
	} else if (S_ISLNK(n->type)) {
		/* Never through a link, as open(O_NOFOLLOW). */
		rc = -ELOOP;
	} else if (!S_ISREG(n->type)) {
		rc = -EINVAL;
	} else {
		pthread_rwlock_wrlock(&n->lock);
		ram_kill_caps(v, n);
		if (size != n->size)
			n->mtime = n->ctime = ram_now();
		ram_file_truncate(v, n, size);
		pthread_rwlock_unlock(&n->lock);
	}
	ram_node_put(v, fh);
	ram_trim(v);
	return rc;
}

static int ram_time_ok(const struct timespec *t)
{
	return t->tv_nsec == UTIME_NOW || t->tv_nsec == UTIME_OMIT ||
	       (t->tv_nsec >= 0 && t->tv_nsec < 1000000000L);
}

static int ram_utimens(void *vol, const char *path, uint64_t fh,
		       const struct timespec tv[2])
{
	struct timespec now_both[2] = {{.tv_nsec = UTIME_NOW},
				       {.tv_nsec = UTIME_NOW}};
	struct timespec now;
	struct ram_inode *n;
	int rc;

	if (!tv)
		tv = now_both;
	if (!ram_time_ok(&tv[0]) || !ram_time_ok(&tv[1]))
		return -EINVAL;
	rc = ram_node_get(vol, path, fh, &n);
	if (rc)
		return rc;
	if (tv[0].tv_nsec != UTIME_OMIT || tv[1].tv_nsec != UTIME_OMIT) {
		now = ram_now();
		pthread_rwlock_wrlock(&n->lock);
		if (tv[0].tv_nsec != UTIME_OMIT)
			n->atime = tv[0].tv_nsec == UTIME_NOW ? now : tv[0];
		if (tv[1].tv_nsec != UTIME_OMIT)
			n->mtime = tv[1].tv_nsec == UTIME_NOW ? now : tv[1];
		n->ctime = now;
		pthread_rwlock_unlock(&n->lock);
	}
	ram_node_put(vol, fh);
	return 0;
}

static int ram_open_file(void *vol, const char *path, int flags, uint64_t *fh)
{
	struct ram_vol *v = vol;
	struct ram_inode *n;
	int rc;

	rc = ram_node_get(v, path, VOLFS_NO_FH, &n);
	if (rc)
		return rc;
	if (S_ISLNK(n->type)) {
		/* Never through a link, as open(O_NOFOLLOW). */
		rc = -ELOOP;
	} else if ((flags & O_DIRECTORY) && !S_ISDIR(n->type)) {
		rc = -ENOTDIR;
	} else if (S_ISDIR(n->type) &&
		   ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC))) {
		rc = -EISDIR;
	} else if (!S_ISDIR(n->type) && !S_ISREG(n->type)) {
		/* Devices, FIFOs and sockets are opened by the kernel. */
		rc = -ENXIO;
	}
	if (rc)
		goto out;
	pthread_rwlock_wrlock(&n->lock);
	n->opens++;
	if (S_ISREG(n->type) && (flags & O_TRUNC)) {
		ram_kill_caps(v, n);
		ram_file_truncate(v, n, 0);
		n->mtime = n->ctime = ram_now();
	}
	pthread_rwlock_unlock(&n->lock);
	*fh = ram_fh_make(n, flags);
out:
	ram_node_put(v, VOLFS_NO_FH);
	ram_trim(v);
	return rc;
}

static int ram_create_file(void *vol, const char *path, int flags, mode_t mode,
			   const struct volfs_caller *who, uint64_t *fh)
{
	struct ram_inode *n;
	int rc;

	rc = ram_make(vol, path, S_IFREG, mode & 07777, 0, NULL, who, 1, &n);
	if (rc)
		return rc;
	*fh = ram_fh_make(n, flags);
	return 0;
}

static ssize_t ram_read(void *vol, uint64_t fh, void *buf, size_t size,
			off_t off)
{
	struct ram_inode *n = ram_fh_node(fh);
	ssize_t r;
	int due;

	if (!n || !(fh & RAM_FH_READ))
		return -EBADF;
	if (S_ISDIR(n->type))
		return -EISDIR;
	if (!S_ISREG(n->type) || off < 0)
		return -EINVAL;
	if (size > SSIZE_MAX)
		size = SSIZE_MAX;
	pthread_rwlock_rdlock(&n->lock);
	r = ram_file_read(n, buf, size, off);
	due = ram_atime_due(n, ram_now());
	pthread_rwlock_unlock(&n->lock);
	if (due)
		ram_accessed(n);
	return r;
}

static ssize_t ram_write(void *vol, uint64_t fh, const void *buf, size_t size,
			 off_t off)
{
	struct ram_inode *n = ram_fh_node(fh);
	ssize_t r;

	if (!n || !(fh & RAM_FH_WRITE))
		return -EBADF;
	if (S_ISDIR(n->type))
		return -EISDIR;
	if (!S_ISREG(n->type) || off < 0)
		return -EINVAL;
	if (size > SSIZE_MAX)
		size = SSIZE_MAX;
	pthread_rwlock_wrlock(&n->lock);
	ram_kill_caps(vol, n);
	if (fh & RAM_FH_APPEND)
		off = n->size;
	if (size == 0) {
		r = 0;
	} else if (off >= RAM_MAX_OFF) {
		r = -EFBIG;
	} else {
		if (size > (uint64_t)(RAM_MAX_OFF - off))
			size = (size_t)(RAM_MAX_OFF - off);
		r = ram_file_write(vol, n, buf, size, off);
	}
	pthread_rwlock_unlock(&n->lock);
	return r;
}

/* Nothing is more durable than memory here. */
static int ram_fsync(void *vol, uint64_t fh, int datasync)
{
	return ram_fh_node(fh) ? 0 : -EBADF;
}

static int ram_release(void *vol, uint64_t fh)
{
	struct ram_inode *n = ram_fh_node(fh);
	int dead;

	if (!n)
		return -EBADF;
	pthread_rwlock_wrlock(&n->lock);
	n->opens--;
	dead = n->nlink == 0 && n->opens == 0;
	pthread_rwlock_unlock(&n->lock);
	if (dead) {
		ram_inode_free(vol, n);
		ram_trim(vol);
	}
	return 0;
}

/* Allocates the missing pages of [off, off + len) of n: all or none. */
static int ram_file_alloc(struct ram_vol *v, struct ram_inode *n, off_t off,
			  off_t len)
{
	uint64_t first = (uint64_t)off >> RAM_PAGE_SHIFT;
	uint64_t last = ((uint64_t)off + (uint64_t)len - 1) >> RAM_PAGE_SHIFT;
	struct ram_acct a = {.v = v};
	uint64_t cost = ram_cost(n, first, last);
	int fresh, rc = 0;
	char *page;

	if (!cost)
		return 0;
	/* The reservation covers the worst case, so allocating can only fail
	 * for want of memory. */
	rc = ram_reserve(&a, cost);
	if (rc)
		return rc;
	for (uint64_t i = first; i <= last && !rc; i++)
		rc = ram_page_get(&a, n, i, 1, &page, &fresh);
	ram_acct_end(&a);
	return rc;
}

static int ram_fallocate(void *vol, uint64_t fh, int mode, off_t off, off_t len)
{
	struct ram_inode *n = ram_fh_node(fh);
	struct ram_vol *v = vol;
	struct timespec now;
	int rc = 0;

	if (!n || !(fh & RAM_FH_WRITE))
		return -EBADF;
	if (mode != 0 && mode != FALLOC_FL_KEEP_SIZE &&
	    mode != (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		return -EOPNOTSUPP;
	if (off < 0 || len <= 0)
		return -EINVAL;
	if (off > RAM_MAX_OFF - len)
		return -EFBIG;
	if (S_ISDIR(n->type))
		return -EISDIR;
	if (!S_ISREG(n->type))
		return -ENODEV;
	pthread_rwlock_wrlock(&n->lock);
	now = ram_now();
	if (mode & FALLOC_FL_PUNCH_HOLE) {
		ram_file_punch(v, n, (uint64_t)off, (uint64_t)(off + len));
		n->mtime = now;
	} else {
		rc = ram_file_alloc(v, n, off, len);
		if (!rc && !(mode & FALLOC_FL_KEEP_SIZE) &&
		    off + len > n->size) {
			n->size = off + len;
			n->mtime = now;
		}
	}
	if (!rc)
		n->ctime = now;
	pthread_rwlock_unlock(&n->lock);
	ram_trim(v);
	return rc;
}

static off_t ram_lseek(void *vol, uint64_t fh, off_t off, int whence)
{
	struct ram_inode *n = ram_fh_node(fh);
	const struct ram_file *f;
	uint64_t idx, endpage;
	off_t r;

	if (!n)
		return -EBADF;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL;
	if (!S_ISREG(n->type))
		return -EINVAL;
	pthread_rwlock_rdlock(&n->lock);
	f = &n->u.file;
	if (off < 0 || off >= n->size) {
		r = -ENXIO;
		goto out;
	}
	endpage = (uint64_t)(n->size - 1) >> RAM_PAGE_SHIFT;
	idx = (uint64_t)off >> RAM_PAGE_SHIFT;
	if (whence == SEEK_DATA) {
		idx = idx < ram_span(f->height)
			      ? ram_next(f->root, f->height, 0, idx, 0)
			      : UINT64_MAX;
		if (idx > endpage) {
			r = -ENXIO;
			goto out;
		}
	} else {
		if (idx < ram_span(f->height)) {
			idx = ram_next(f->root, f->height, 0, idx, 1);
			if (idx == UINT64_MAX)
				idx = ram_span(f->height);
		}
		/* The end of the file is a hole too. */
		if (idx > endpage) {
			r = n->size;
			goto out;
		}
	}
	r = (off_t)(idx << RAM_PAGE_SHIFT);
	if (r < off)
		r = off;
out:
	pthread_rwlock_unlock(&n->lock);
	return r;
}

static int ram_readdir(void *vol, const char *path, volfs_fill_fn fill,
		       void *ctx)
{
	struct ram_vol *v = vol;
	const struct ram_dir *d;
	struct ram_dirent *de;
	struct ram_inode *n;
	struct stat st;
	int rc, due;

	rc = ram_node_get(v, path, VOLFS_NO_FH, &n);
	if (rc)
		return rc;
	if (!S_ISDIR(n->type)) {
		rc = -ENOTDIR;
		goto out;
	}
	/* Entries change only under the exclusive namespace lock. */
	d = &n->u.dir;
	for (size_t i = 0; i < d->nbuckets; i++) {
		for (de = d->tab[i]; de; de = de->next) {
			pthread_rwlock_rdlock(&de->node->lock);
			ram_fill_stat(de->node, &st);
			pthread_rwlock_unlock(&de->node->lock);
			if (fill(ctx, de->name, de->node->type, &st))
				goto done;
		}
	}
done:
	pthread_rwlock_rdlock(&n->lock);
	due = ram_atime_due(n, ram_now());
	pthread_rwlock_unlock(&n->lock);
	if (due)
		ram_accessed(n);
out:
	ram_node_put(v, VOLFS_NO_FH);
	return rc;
}

static const struct volfs_optdesc ram_options[] = {
	{
		.key = "size",
		.help = "the most memory the volume may use: bytes or a "
			"number with k, m, g or t (default: half of the "
			"physical memory)",
	},
	{
		.key = "store",
		.help = "auto (default): a private tmpfs where volfs may make "
			"one (root), else daemon; tmpfs: always; daemon: in "
			"the memory of the volfs process",
	},
	{
		.key = "mode",
		.help = "the octal mode of the root directory (default 1777)",
	},
	{
		.key = "uid",
		.help = "the user id owning the root directory (default 0)",
	},
	{
		.key = "gid",
		.help = "the group id owning the root directory (default 0)",
	},
	{.key = NULL},
};

static const struct volfs_backend ram_backend = {
	.abi_version = VOLFS_BACKEND_ABI,
	.name = "ram",
	.description = "memory, like tmpfs: a private tmpfs or the volfs "
		       "process's own, emptied when the daemon restarts",
	.caps = RAM_CAPS,
	.options = ram_options,
	.validate = ram_validate,
	.open_as = ram_open_as,
	.close = ram_close,
	.statfs = ram_statfs,
	.getattr = ram_getattr,
	.readlink = ram_readlink,
	.mknod = ram_mknod,
	.mkdir = ram_mkdir,
	.unlink = ram_unlink,
	.rmdir = ram_rmdir,
	.symlink = ram_symlink,
	.rename = ram_rename,
	.link = ram_link,
	.chmod = ram_chmod,
	.chown = ram_chown,
	.truncate = ram_truncate,
	.utimens = ram_utimens,
	.open_file = ram_open_file,
	.create_file = ram_create_file,
	.read = ram_read,
	.write = ram_write,
	.fsync = ram_fsync,
	.release = ram_release,
	.fallocate = ram_fallocate,
	.lseek = ram_lseek,
	.readdir = ram_readdir,
	.setxattr = ram_setxattr,
	.getxattr = ram_getxattr,
	.listxattr = ram_listxattr,
	.removexattr = ram_removexattr,
};

const struct volfs_backend *volfs_backend_ram(void)
{
	return &ram_backend;
}
