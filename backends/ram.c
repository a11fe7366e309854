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
 * A node is the inode's address (the root's is VOLFS_ROOT_NODE), so a file
 * has one node whichever of its names it is reached by.  An inode counts
 * its names (nlink), its open file and directory handles, and the
 * references to its node the core holds; it is freed when all three are
 * gone, so a file whose names were all removed keeps working through its
 * node and its handles, as POSIX wants of an unlinked file.  A handle is
 * the inode's address too, with the open mode in its low bits.
 *
 * Locking: one rwlock guards the namespace (every directory's entries, each
 * directory's parent, link counts).  Ops that look a name up or list a
 * directory hold it shared; ops that add, remove or move names hold it
 * exclusive.  Ops on a node or a handle take no namespace lock at all: the
 * core's reference or the handle keeps the inode alive.  Each inode has an
 * rwlock for its data, attributes and counts: reads share it, writes,
 * attribute changes and count changes take it alone.  The order is the
 * namespace lock first, then at most one inode lock at a time, and no lock
 * is taken twice by one thread.  So I/O to different files never waits on
 * a common lock, and reads of one file run in parallel.  Where the C
 * library lets us, waiting writers go before new readers, so a stream of
 * lookups cannot starve a create.
 *
 * An inode is freed by whoever drops its last count, under its lock: the
 * other holders are gone then, and nobody can find it anew, since a lookup
 * reaches only inodes that have a name, under the namespace lock, and a
 * name is removed only under that lock held exclusive.
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

void ram_trim(struct ram_vol *v)
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

/* Sets n's atime to now if it is still due; n's lock is not held. */
static void ram_accessed(struct ram_inode *n, struct timespec now)
{
	pthread_rwlock_wrlock(&n->lock);
	if (ram_atime_due(n, now))
		n->atime = now;
	pthread_rwlock_unlock(&n->lock);
}

void ram_access(struct ram_inode *n)
{
	struct timespec now = ram_now();
	int due;

	/* Most accesses change nothing: they only share the lock. */
	pthread_rwlock_rdlock(&n->lock);
	due = ram_atime_due(n, now);
	pthread_rwlock_unlock(&n->lock);
	if (due)
		ram_accessed(n, now);
}

/* ---- inodes and references ---- */

/* Frees n, which has no names, handles or references left. */
static void ram_inode_free(struct ram_vol *v, struct ram_inode *n)
{
	struct ram_xattr *x;

	if (S_ISREG(n->type)) {
		ram_file_free(v, n);
	} else if (S_ISLNK(n->type) && n->u.target) {
		ram_uncharge(v, (uint64_t)n->size + 1);
		free(n->u.target);
	} else if (S_ISDIR(n->type)) {
		ram_dir_free(v, n);
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
	if (S_ISDIR(type))
		n->u.dir.next_seq = RAM_SEQ_FIRST;
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
 * Unlocks n, which the caller locked for writing to drop one of its holds
 * (a name, a handle, references), and frees it when that was the last.
 * Nothing else can reach n then: a name is found only under the namespace
 * lock, and handles and references are the holders' own.
 */
static void ram_unlock_put(struct ram_vol *v, struct ram_inode *n)
{
	int dead = n->nlink == 0 && n->opens == 0 && n->refs == 0;

	pthread_rwlock_unlock(&n->lock);
	if (dead)
		ram_inode_free(v, n);
}

/* Drops one name of n (both of a directory's), under the exclusive
 * namespace lock. */
static void ram_drop_link(struct ram_vol *v, struct ram_inode *n,
			  struct timespec now)
{
	pthread_rwlock_wrlock(&n->lock);
	if (S_ISDIR(n->type)) {
		n->nlink = 0;
		n->parent = NULL;
	} else {
		n->nlink--;
	}
	n->ctime = now;
	ram_unlock_put(v, n);
}

void ram_unref(struct ram_vol *v, struct ram_inode *n, uint64_t nref)
{
	pthread_rwlock_wrlock(&n->lock);
	n->refs = nref < n->refs ? n->refs - nref : 0;
	ram_unlock_put(v, n);
}

void ram_handle_close(struct ram_vol *v, struct ram_inode *n)
{
	pthread_rwlock_wrlock(&n->lock);
	n->opens--;
	ram_unlock_put(v, n);
	ram_trim(v);
}

void ram_fill_stat(const struct ram_inode *n, struct stat *st)
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

void ram_entry(struct ram_inode *n, struct volfs_entry *e)
{
	pthread_rwlock_wrlock(&n->lock);
	n->refs++;
	ram_fill_stat(n, &e->st);
	pthread_rwlock_unlock(&n->lock);
	e->node = (uint64_t)(uintptr_t)n;
}

/* ---- nodes, names and handles ---- */

struct ram_inode *ram_inode(struct ram_vol *v, uint64_t node)
{
	if (node == VOLFS_ROOT_NODE)
		return v->root;
	return (struct ram_inode *)(uintptr_t)node;
}

struct ram_inode *ram_fh_node(uint64_t fh)
{
	if (fh == VOLFS_NO_FH)
		return NULL;
	return (struct ram_inode *)(uintptr_t)(fh & ~(uint64_t)RAM_FH_TAGS);
}

/* The inode an attribute op acts on: fh's when there is one, else node's
 * (the same inode: fh is a handle of node). */
static struct ram_inode *ram_target(struct ram_vol *v, uint64_t node,
				    uint64_t fh)
{
	return fh != VOLFS_NO_FH ? ram_fh_node(fh) : ram_inode(v, node);
}

/* The length of name, a single component as the core passes them. */
static int ram_name_len(const char *name, size_t *len)
{
	*len = strlen(name);
	return *len > NAME_MAX ? -ENAMETOOLONG : 0;
}

/*
 * The directory parent names, for an op on a name in it (under the
 * namespace lock): -ENOTDIR when it is none, and when adding is set (the op
 * makes a name) -ENOENT when it was removed, as Linux refuses to make names
 * in a removed directory.
 */
static int ram_dir_of(struct ram_vol *v, uint64_t parent, int adding,
		      struct ram_inode **out)
{
	struct ram_inode *d = ram_inode(v, parent);

	if (!S_ISDIR(d->type))
		return -ENOTDIR;
	if (adding && d->nlink == 0)
		return -ENOENT;
	*out = d;
	return 0;
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

/* Opens n, an existing file, as open(2) with flags would (O_TRUNC
 * included), and stores the handle in *fh. */
static int ram_open_inode(struct ram_vol *v, struct ram_inode *n, int flags,
			  uint64_t *fh)
{
	/* Never through a link, as open(O_NOFOLLOW). */
	if (S_ISLNK(n->type))
		return -ELOOP;
	if ((flags & O_DIRECTORY) && !S_ISDIR(n->type))
		return -ENOTDIR;
	if (S_ISDIR(n->type) &&
	    ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)))
		return -EISDIR;
	/* Devices, FIFOs and sockets are opened by the kernel. */
	if (!S_ISDIR(n->type) && !S_ISREG(n->type))
		return -ENXIO;
	pthread_rwlock_wrlock(&n->lock);
	n->opens++;
	if (S_ISREG(n->type) && (flags & O_TRUNC)) {
		ram_kill_caps(v, n);
		ram_file_truncate(v, n, 0);
		n->mtime = n->ctime = ram_now();
	}
	pthread_rwlock_unlock(&n->lock);
	*fh = ram_fh_make(n, flags);
	return 0;
}

/* What a new inode is made of. */
struct ram_new {
	mode_t type;
	/* Permission bits. */
	mode_t perm;
	dev_t rdev;
	/* A symlink's target. */
	const char *target;
	const struct volfs_caller *who;
	/* It counts one open handle from the start. */
	int opened;
};

/*
 * Makes name (len bytes), free in dir, a new inode as nw says, under the
 * exclusive namespace lock.  The inode has no reference yet.
 */
static int ram_make_in(struct ram_vol *v, struct ram_inode *dir,
		       const char *name, size_t len, const struct ram_new *nw,
		       struct ram_inode **out)
{
	struct ram_inode *n;
	size_t tlen;
	int rc;

	rc = ram_inode_new(v, dir, nw->type, nw->perm, nw->who, &n);
	if (rc)
		return rc;
	n->rdev = nw->rdev;
	n->opens = nw->opened ? 1 : 0;
	if (nw->target) {
		tlen = strlen(nw->target);
		rc = ram_charge(v, tlen + 1);
		if (rc)
			goto err_free;
		n->u.target = malloc(tlen + 1);
		if (!n->u.target) {
			ram_uncharge(v, tlen + 1);
			rc = -ENOMEM;
			goto err_free;
		}
		memcpy(n->u.target, nw->target, tlen + 1);
		n->size = (off_t)tlen;
	}
	if (S_ISDIR(nw->type))
		n->parent = dir;
	rc = ram_link_into(v, dir, name, len, n, 0, n->ctime);
	if (rc)
		goto err_free;
	*out = n;
	return 0;

err_free:
	ram_inode_free(v, n);
	return rc;
}

/* Makes name in parent a new inode as nw says, handed over in *e. */
static int ram_make(struct ram_vol *v, uint64_t parent, const char *name,
		    const struct ram_new *nw, struct volfs_entry *e)
{
	struct ram_inode *dir, *n;
	size_t len;
	int rc;

	rc = ram_name_len(name, &len);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&v->ns);
	rc = ram_dir_of(v, parent, 1, &dir);
	if (!rc && ram_dir_find(dir, name, len))
		rc = -EEXIST;
	if (!rc)
		rc = ram_make_in(v, dir, name, len, nw, &n);
	if (!rc)
		ram_entry(n, e);
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

/*
 * Frees the whole tree without recursion: any depth is fine.  Every handle
 * and reference was given back, so the files with names are all there is.
 */
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

static int ram_lookup(void *vol, uint64_t parent, const char *name,
		      struct volfs_entry *e)
{
	struct ram_vol *v = vol;
	struct ram_dirent *de;
	struct ram_inode *dir;
	size_t len;
	int rc;

	rc = ram_name_len(name, &len);
	if (rc)
		return rc;
	pthread_rwlock_rdlock(&v->ns);
	rc = ram_dir_of(v, parent, 0, &dir);
	if (!rc) {
		de = ram_dir_find(dir, name, len);
		if (de)
			ram_entry(de->node, e);
		else
			rc = -ENOENT;
	}
	pthread_rwlock_unlock(&v->ns);
	return rc;
}

static void ram_forget(void *vol, uint64_t node, uint64_t nref)
{
	/* The root is held without references. */
	if (node == VOLFS_ROOT_NODE)
		return;
	ram_unref(vol, ram_inode(vol, node), nref);
	ram_trim(vol);
}

static int ram_getattr(void *vol, uint64_t node, uint64_t fh, struct stat *st)
{
	struct ram_inode *n = ram_target(vol, node, fh);

	pthread_rwlock_rdlock(&n->lock);
	ram_fill_stat(n, st);
	pthread_rwlock_unlock(&n->lock);
	return 0;
}

static int ram_readlink(void *vol, uint64_t node, char *buf, size_t size)
{
	struct ram_inode *n = ram_inode(vol, node);
	size_t len;

	if (size == 0)
		return -EINVAL;
	if (!S_ISLNK(n->type))
		return -EINVAL;
	/* The target never changes: no inode lock needed. */
	len = (size_t)n->size < size - 1 ? (size_t)n->size : size - 1;
	memcpy(buf, n->u.target, len);
	buf[len] = '\0';
	ram_access(n);
	return 0;
}

static int ram_mknod(void *vol, uint64_t parent, const char *name, mode_t mode,
		     dev_t rdev, const struct volfs_caller *who,
		     struct volfs_entry *e)
{
	struct ram_new nw = {
		.type = mode & S_IFMT,
		.perm = mode & 07777,
		.rdev = rdev,
		.who = who,
	};

	switch (nw.type) {
	case 0:
		nw.type = S_IFREG;
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
	if (!S_ISCHR(nw.type) && !S_ISBLK(nw.type))
		nw.rdev = 0;
	return ram_make(vol, parent, name, &nw, e);
}

static int ram_mkdir(void *vol, uint64_t parent, const char *name, mode_t mode,
		     const struct volfs_caller *who, struct volfs_entry *e)
{
	/* As mkdir(2): set-user-ID and set-group-ID are not taken from the
	 * mode (the latter comes from a set-group-ID parent). */
	struct ram_new nw = {
		.type = S_IFDIR,
		.perm = mode & 01777,
		.who = who,
	};

	return ram_make(vol, parent, name, &nw, e);
}

static int ram_symlink(void *vol, const char *target, uint64_t parent,
		       const char *name, const struct volfs_caller *who,
		       struct volfs_entry *e)
{
	struct ram_new nw = {
		.type = S_IFLNK,
		.perm = 0777,
		.target = target,
		.who = who,
	};
	size_t len;

	if (!target)
		return -EINVAL;
	len = strlen(target);
	if (len == 0)
		return -ENOENT;
	if (len > RAM_SYMLINK_MAX)
		return -ENAMETOOLONG;
	return ram_make(vol, parent, name, &nw, e);
}

static int ram_remove(struct ram_vol *v, uint64_t parent, const char *name,
		      int isdir)
{
	struct timespec now;
	struct ram_dirent *de;
	struct ram_inode *dir, *n;
	size_t len;
	int rc;

	rc = ram_name_len(name, &len);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&v->ns);
	rc = ram_dir_of(v, parent, 0, &dir);
	if (rc)
		goto out;
	de = ram_dir_find(dir, name, len);
	if (!de) {
		rc = -ENOENT;
		goto out;
	}
	n = de->node;
	if (isdir && !S_ISDIR(n->type)) {
		rc = -ENOTDIR;
		goto out;
	}
	if (!isdir && S_ISDIR(n->type)) {
		rc = -EISDIR;
		goto out;
	}
	if (isdir && n->u.dir.count) {
		rc = -ENOTEMPTY;
		goto out;
	}
	now = ram_now();
	ram_unlink_from(v, dir, de, isdir, 1, now);
	ram_drop_link(v, n, now);
out:
	pthread_rwlock_unlock(&v->ns);
	ram_trim(v);
	return rc;
}

static int ram_unlink(void *vol, uint64_t parent, const char *name)
{
	return ram_remove(vol, parent, name, 0);
}

static int ram_rmdir(void *vol, uint64_t parent, const char *name)
{
	return ram_remove(vol, parent, name, 1);
}

/* rename() with RENAME_EXCHANGE: entry a of directory ad and entry b of
 * bd swap their files. */
static void ram_exchange(struct ram_inode *ad, struct ram_dirent *a,
			 struct ram_inode *bd, struct ram_dirent *b,
			 struct timespec now)
{
	struct ram_inode *x = a->node, *y = b->node;
	int xd = S_ISDIR(x->type), yd = S_ISDIR(y->type);

	a->node = y;
	b->node = x;
	if (ad != bd) {
		if (xd)
			x->parent = bd;
		if (yd)
			y->parent = ad;
		ram_dir_touch(ad, yd - xd, now);
		ram_dir_touch(bd, xd - yd, now);
	} else {
		ram_dir_touch(ad, 0, now);
	}
	ram_touch_ctime(x, now);
	ram_touch_ctime(y, now);
}

static int ram_rename(void *vol, uint64_t parent, const char *name,
		      uint64_t newparent, const char *newname, unsigned flags)
{
	const unsigned known = VOLFS_RENAME_NOREPLACE | VOLFS_RENAME_EXCHANGE;
	struct ram_vol *v = vol;
	struct ram_inode *ad, *bd, *src, *dst;
	struct ram_dirent *a, *b;
	struct timespec now;
	size_t alen, blen;
	int rc, sd;

	if ((flags & ~known) || flags == known)
		return -EINVAL;
	rc = ram_name_len(name, &alen);
	if (!rc)
		rc = ram_name_len(newname, &blen);
	if (rc)
		return rc;
	/* The checks come in the order Linux makes them, so each failure
	 * gets the error a local file system gives. */
	pthread_rwlock_wrlock(&v->ns);
	rc = ram_dir_of(v, parent, 0, &ad);
	if (!rc)
		rc = ram_dir_of(v, newparent, 0, &bd);
	if (rc)
		goto out;
	a = ram_dir_find(ad, name, alen);
	b = ram_dir_find(bd, newname, blen);
	src = a ? a->node : NULL;
	dst = b ? b->node : NULL;
	if (!src || ((flags & VOLFS_RENAME_EXCHANGE) && !dst) ||
	    bd->nlink == 0) {
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
	if (sd && ram_is_within(bd, src)) {
		rc = -EINVAL;
		goto out;
	}
	if (dst && S_ISDIR(dst->type) && ram_is_within(ad, dst)) {
		rc = (flags & VOLFS_RENAME_EXCHANGE) ? -EINVAL : -ENOTEMPTY;
		goto out;
	}
	/* Two names of one file, or the same name: nothing to do. */
	if (src == dst)
		goto out;
	now = ram_now();
	if (flags & VOLFS_RENAME_EXCHANGE) {
		ram_exchange(ad, a, bd, b, now);
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
		 * leaves bd's link count as it was.  dst keeps its other
		 * names, and lives on while it has handles or references. */
		b->node = src;
		ram_dir_touch(bd, 0, now);
		ram_unlink_from(v, ad, a, sd, 1, now);
		ram_drop_link(v, dst, now);
	} else if (ad == bd) {
		/* The entry keeps its place, so a listing going on meanwhile
		 * neither loses nor repeats it; only a longer name needs
		 * room. */
		rc = ram_dir_rename(v, ad, a, newname, blen, now);
		if (rc)
			goto out;
	} else {
		/* The new name takes over the old one's charge: a rename
		 * needs room only for a longer name (and the new
		 * directory's tables). */
		rc = ram_link_into(v, bd, newname, blen, src,
				   ram_dirent_cost(alen), now);
		if (rc)
			goto out;
		ram_unlink_from(v, ad, a, sd, 0, now);
	}
	if (sd)
		src->parent = bd;
	ram_touch_ctime(src, now);
out:
	pthread_rwlock_unlock(&v->ns);
	ram_trim(v);
	return rc;
}

static int ram_link(void *vol, uint64_t node, uint64_t newparent,
		    const char *newname, struct volfs_entry *e)
{
	struct ram_vol *v = vol;
	struct ram_inode *n = ram_inode(v, node), *dir;
	struct timespec now;
	size_t len;
	int rc;

	rc = ram_name_len(newname, &len);
	if (rc)
		return rc;
	/* In the order of Linux' checks, as in ram_rename().  Link counts
	 * change only under the exclusive namespace lock. */
	pthread_rwlock_wrlock(&v->ns);
	rc = ram_dir_of(v, newparent, 1, &dir);
	if (rc)
		goto out;
	if (ram_dir_find(dir, newname, len)) {
		rc = -EEXIST;
		goto out;
	}
	if (S_ISDIR(n->type)) {
		rc = -EPERM;
		goto out;
	}
	/* A file whose last name is gone stays nameless. */
	if (n->nlink == 0) {
		rc = -ENOENT;
		goto out;
	}
	if (n->nlink >= RAM_LINK_MAX) {
		rc = -EMLINK;
		goto out;
	}
	now = ram_now();
	rc = ram_link_into(v, dir, newname, len, n, 0, now);
	if (rc)
		goto out;
	pthread_rwlock_wrlock(&n->lock);
	n->nlink++;
	n->ctime = now;
	pthread_rwlock_unlock(&n->lock);
	ram_entry(n, e);
out:
	pthread_rwlock_unlock(&v->ns);
	return rc;
}

static int ram_chmod(void *vol, uint64_t node, uint64_t fh, mode_t mode)
{
	struct ram_inode *n = ram_target(vol, node, fh);

	/* As fchmodat(AT_SYMLINK_NOFOLLOW): a link's mode is fixed. */
	if (S_ISLNK(n->type))
		return -EOPNOTSUPP;
	pthread_rwlock_wrlock(&n->lock);
	n->mode = mode & 07777;
	n->ctime = ram_now();
	pthread_rwlock_unlock(&n->lock);
	return 0;
}

static int ram_chown(void *vol, uint64_t node, uint64_t fh, uid_t uid,
		     gid_t gid)
{
	struct ram_inode *n = ram_target(vol, node, fh);

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
	return 0;
}

static int ram_truncate(void *vol, uint64_t node, uint64_t fh, off_t size)
{
	struct ram_vol *v = vol;
	struct ram_inode *n = ram_target(v, node, fh);

	if (size < 0)
		return -EINVAL;
	if (S_ISDIR(n->type))
		return -EISDIR;
	/* Never through a link, as open(O_NOFOLLOW). */
	if (S_ISLNK(n->type))
		return -ELOOP;
	if (!S_ISREG(n->type))
		return -EINVAL;
	pthread_rwlock_wrlock(&n->lock);
	ram_kill_caps(v, n);
	if (size != n->size)
		n->mtime = n->ctime = ram_now();
	ram_file_truncate(v, n, size);
	pthread_rwlock_unlock(&n->lock);
	ram_trim(v);
	return 0;
}

static int ram_time_ok(const struct timespec *t)
{
	return t->tv_nsec == UTIME_NOW || t->tv_nsec == UTIME_OMIT ||
	       (t->tv_nsec >= 0 && t->tv_nsec < 1000000000L);
}

static int ram_utimens(void *vol, uint64_t node, uint64_t fh,
		       const struct timespec tv[2])
{
	struct timespec now_both[2] = {{.tv_nsec = UTIME_NOW},
				       {.tv_nsec = UTIME_NOW}};
	struct ram_inode *n = ram_target(vol, node, fh);
	struct timespec now;

	if (!tv)
		tv = now_both;
	if (!ram_time_ok(&tv[0]) || !ram_time_ok(&tv[1]))
		return -EINVAL;
	if (tv[0].tv_nsec == UTIME_OMIT && tv[1].tv_nsec == UTIME_OMIT)
		return 0;
	now = ram_now();
	pthread_rwlock_wrlock(&n->lock);
	if (tv[0].tv_nsec != UTIME_OMIT)
		n->atime = tv[0].tv_nsec == UTIME_NOW ? now : tv[0];
	if (tv[1].tv_nsec != UTIME_OMIT)
		n->mtime = tv[1].tv_nsec == UTIME_NOW ? now : tv[1];
	n->ctime = now;
	pthread_rwlock_unlock(&n->lock);
	return 0;
}

static int ram_open_file(void *vol, uint64_t node, int flags, uint64_t *fh)
{
	struct ram_vol *v = vol;
	int rc;

	rc = ram_open_inode(v, ram_inode(v, node), flags, fh);
	ram_trim(v);
	return rc;
}

static int ram_create_file(void *vol, uint64_t parent, const char *name,
			   int flags, mode_t mode,
			   const struct volfs_caller *who,
			   struct volfs_entry *e, uint64_t *fh)
{
	struct ram_new nw = {
		.type = S_IFREG,
		.perm = mode & 07777,
		.who = who,
		.opened = 1,
	};
	struct ram_vol *v = vol;
	struct ram_inode *dir, *n;
	struct ram_dirent *de;
	size_t len;
	int rc;

	rc = ram_name_len(name, &len);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&v->ns);
	rc = ram_dir_of(v, parent, 1, &dir);
	if (rc)
		goto out;
	de = ram_dir_find(dir, name, len);
	if (de) {
		n = de->node;
		if (flags & O_EXCL)
			rc = -EEXIST;
		else if (S_ISDIR(n->type))
			/* As open(2) with O_CREAT, whatever the access. */
			rc = -EISDIR;
		else
			rc = ram_open_inode(v, n, flags, fh);
	} else {
		rc = ram_make_in(v, dir, name, len, &nw, &n);
		if (!rc)
			*fh = ram_fh_make(n, flags);
	}
	if (!rc)
		ram_entry(n, e);
out:
	pthread_rwlock_unlock(&v->ns);
	ram_trim(v);
	return rc;
}

static ssize_t ram_read(void *vol, uint64_t fh, void *buf, size_t size,
			off_t off)
{
	struct ram_inode *n = ram_fh_node(fh);
	struct timespec now;
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
	now = ram_now();
	due = ram_atime_due(n, now);
	pthread_rwlock_unlock(&n->lock);
	if (due)
		ram_accessed(n, now);
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

	if (!n)
		return -EBADF;
	ram_handle_close(vol, n);
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
	.size = sizeof(struct volfs_backend),
	.name = "ram",
	.description = "memory, like tmpfs: a private tmpfs or the volfs "
		       "process's own, emptied when the daemon restarts",
	.caps = RAM_CAPS,
	.options = ram_options,
	.validate = ram_validate,
	.open_as = ram_open_as,
	.close = ram_close,
	.statfs = ram_statfs,
	.lookup = ram_lookup,
	.forget = ram_forget,
	.getattr = ram_getattr,
	.readlink = ram_readlink,
	.mknod = ram_mknod,
	.mkdir = ram_mkdir,
	.symlink = ram_symlink,
	.link = ram_link,
	.unlink = ram_unlink,
	.rmdir = ram_rmdir,
	.rename = ram_rename,
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
	.opendir = ram_opendir,
	.readdir = ram_readdir,
	.fsyncdir = ram_fsyncdir,
	.releasedir = ram_releasedir,
	.setxattr = ram_setxattr,
	.getxattr = ram_getxattr,
	.listxattr = ram_listxattr,
	.removexattr = ram_removexattr,
	/* Nodes are addresses in this process: they do not outlive it. */
	.node_encode = NULL,
	.node_decode = NULL,
};

const struct volfs_backend *volfs_backend_ram(void)
{
	return &ram_backend;
}
