/* SPDX-License-Identifier: MIT */
/*
 * What the files of the ram backend's daemon store share (ram.c: options,
 * accounting, inodes, references and the ops; ram_data.c: file data;
 * ram_dir.c: directories and their listings; ram_xattr.c: extended
 * attributes).  How the store works is described at the top of ram.c.
 */
#ifndef VOLFS_RAM_INT_H
#define VOLFS_RAM_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "volfs/backend.h"

#include "ram.h"

#define RAM_CAPS                                                               \
	(VOLFS_CAP_HARDLINKS | VOLFS_CAP_SYMLINKS | VOLFS_CAP_XATTRS |         \
	 VOLFS_CAP_ATOMIC_RENAME | VOLFS_CAP_RANDOM_WRITE |                    \
	 VOLFS_CAP_THREADSAFE | VOLFS_CAP_STABLE_INO | VOLFS_CAP_OWNERSHIP |   \
	 VOLFS_CAP_SIZE_LIMIT | VOLFS_CAP_LOCAL_DATA)

/* Data pages, and the radix tree's nodes. */
#define RAM_PAGE_SHIFT 12
#define RAM_PAGE ((size_t)1 << RAM_PAGE_SHIFT)
#define RAM_NODE_SHIFT 6
#define RAM_NODE_SLOTS (1u << RAM_NODE_SHIFT)
#define RAM_NODE_SIZE (sizeof(struct ram_node))
/* The largest file offset; its page number needs 51 bits, nine levels. */
#define RAM_MAX_OFF ((off_t)INT64_MAX)
/* What an inode is charged, whatever its type. */
#define RAM_INODE_COST 256
/* A directory's hash table and slot array: their smallest size, and a
 * directory's size as stat shows it (tmpfs' habit: 20 bytes an entry). */
#define RAM_DIR_MIN 8
#define RAM_DIRENT_SIZE 20
/* Listing positions: after "." 1, after ".." 2, then entry numbers. */
#define RAM_POS_DOT 1
#define RAM_POS_DOTDOT 2
#define RAM_SEQ_FIRST 3
/* Limits the kernel applies to other file systems too. */
#define RAM_LINK_MAX 0x7fffffffu
#define RAM_SYMLINK_MAX (PATH_MAX - 1)
#define RAM_XATTR_NAME_MAX 255
#define RAM_XATTR_SIZE_MAX 65536
/* Option defaults and bounds. */
#define RAM_MODE_DEFAULT 01777
#define RAM_SIZE_MIN ((uint64_t)16 << 10)
#define RAM_SIZE_FALLBACK ((uint64_t)1 << 30)
/* Hand freed memory back to the kernel after this much was freed. */
#define RAM_TRIM_BYTES ((uint64_t)32 << 20)
/* relatime: a read updates atime at least this often (seconds). */
#define RAM_RELATIME 86400

/* The low bits of a handle. */
#define RAM_FH_READ 1u
#define RAM_FH_WRITE 2u
#define RAM_FH_APPEND 4u
#define RAM_FH_TAGS 7u

struct ram_node {
	void *slot[RAM_NODE_SLOTS];
};

_Static_assert(_Alignof(max_align_t) > RAM_FH_TAGS,
	       "handles keep their open mode in the low bits of an address");

struct ram_xattr {
	struct ram_xattr *next;
	size_t nlen;
	size_t vlen;
	/* The name, its NUL, then the value. */
	char data[];
};

struct ram_dirent {
	struct ram_dirent *next;
	struct ram_inode *node;
	/* The entry's position in listings (see struct ram_dir). */
	uint64_t seq;
	uint32_t hash;
	uint32_t len;
	/* NUL-terminated. */
	char name[];
};

/* An entry in the order of positions; de is NULL once it was removed. */
struct ram_slot {
	uint64_t seq;
	struct ram_dirent *de;
};

/*
 * A directory: its entries by name in a hash table, and by position in an
 * array.  Each entry gets the next number of next_seq when it is made and
 * keeps it: that number is the position readdir() gives after the entry, so
 * a listing goes on after the last entry it showed even when entries before
 * or after it come and go meanwhile.  slots holds the entries in the order
 * of their numbers; a removed entry leaves a hole (keeping its number, so
 * the array stays sorted for the binary search) until the array is
 * compacted.
 */
struct ram_dir {
	/* nbuckets (a power of two, or 0 with tab NULL) chains. */
	struct ram_dirent **tab;
	size_t nbuckets;
	size_t count;
	/* nslots used of slotcap (0 with slots NULL): count entries, the
	 * rest holes. */
	struct ram_slot *slots;
	size_t nslots;
	size_t slotcap;
	uint64_t next_seq;
};

struct ram_file {
	/* A page (height 0) or a struct ram_node. */
	void *root;
	unsigned height;
	uint64_t npages;
};

struct ram_inode {
	pthread_rwlock_t lock;
	uint64_t ino;
	/* S_IFMT bits: set at creation, never changed, read without lock. */
	mode_t type;
	/* Permission bits (07777). */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	unsigned nlink;
	/* Open file and directory handles. */
	unsigned opens;
	/* References the core holds (node values handed over). */
	uint64_t refs;
	dev_t rdev;
	/* Regular file: data size; symlink: target length. */
	off_t size;
	struct timespec atime, mtime, ctime;
	struct ram_xattr *xattrs;
	/* A directory's parent: changed only under the exclusive namespace
	 * lock; NULL for the root and for removed directories. */
	struct ram_inode *parent;
	union {
		struct ram_dir dir;
		struct ram_file file;
		char *target;
	} u;
};

_Static_assert(sizeof(struct ram_inode) <= RAM_INODE_COST,
	       "RAM_INODE_COST covers an inode");

struct ram_vol {
	pthread_rwlock_t ns;
	struct ram_inode *root;
	uint64_t cap;
	_Atomic uint64_t used;
	_Atomic uint64_t inodes;
	_Atomic uint64_t next_ino;
	/* Bytes freed since malloc was last asked to trim. */
	_Atomic uint64_t freed;
	unsigned long fsid;
};

/*
 * Where allocations are charged: to the volume directly, or (reserved) to
 * what is left of an amount charged to the volume beforehand.
 */
struct ram_acct {
	struct ram_vol *v;
	int reserved;
	uint64_t left;
};

/* ram.c: accounting, time, inodes and references. */
/* Charges n bytes to v: 0, or -ENOSPC when that would pass size=. */
int ram_charge(struct ram_vol *v, uint64_t n);
/* Gives n bytes back to v (counted towards the next malloc trim). */
void ram_uncharge(struct ram_vol *v, uint64_t n);
/* ram_charge() through a: from its reserve when it has one. */
int ram_take(struct ram_acct *a, uint64_t n);
/* Undoes ram_take(). */
void ram_untake(struct ram_acct *a, uint64_t n);
/* Charges n up front; allocations then draw on it until ram_acct_end(). */
int ram_reserve(struct ram_acct *a, uint64_t n);
/* Gives back what is left of a reserve. */
void ram_acct_end(struct ram_acct *a);
/* Lets malloc give freed memory back once enough was freed.  Called with
 * no lock held. */
void ram_trim(struct ram_vol *v);
/* The time to stamp a change with. */
struct timespec ram_now(void);
/* Records an access to n (relatime), whose lock the caller does not hold. */
void ram_access(struct ram_inode *n);
/*
 * The inode node names: the root for VOLFS_ROOT_NODE, else the inode whose
 * address the node is.  The core holds a reference to it (or it is the
 * root), which keeps it alive without any lock.
 */
struct ram_inode *ram_inode(struct ram_vol *v, uint64_t node);
/* The inode of handle fh, NULL for VOLFS_NO_FH. */
struct ram_inode *ram_fh_node(uint64_t fh);
/* Fills *st from n, whose lock the caller holds. */
void ram_fill_stat(const struct ram_inode *n, struct stat *st);
/*
 * Hands n over in *e with one more reference.  The caller keeps n alive
 * meanwhile: by the namespace lock while n has a name, or by a reference
 * or handle of its own.  Takes n's lock.
 */
void ram_entry(struct ram_inode *n, struct volfs_entry *e);
/* Gives back nref references to n, freeing it if nothing else holds it.
 * Called with no lock on n held. */
void ram_unref(struct ram_vol *v, struct ram_inode *n, uint64_t nref);
/* Closes one handle of n, freeing it if nothing else holds it. */
void ram_handle_close(struct ram_vol *v, struct ram_inode *n);

/* ram_data.c: file data, pages on a radix tree. */
/* Pages covered by a tree of height h. */
uint64_t ram_span(unsigned h);
/*
 * The bytes that allocating every missing page of first..last can take:
 * the pages, plus every node a tree of the needed height could lack there.
 */
uint64_t ram_cost(const struct ram_inode *n, uint64_t first, uint64_t last);
/*
 * The page idx of n, allocated when missing (zeroed if zero is set, else
 * left for the caller to fill) and charged to a; *fresh says whether it was
 * allocated now.  On failure the tree is as it was.
 */
int ram_page_get(struct ram_acct *a, struct ram_inode *n, uint64_t idx,
		 int zero, char **page, int *fresh);
/* The first page at or after idx below p (height h, from base) that holds
 * data, or with hole set that is missing; UINT64_MAX if none. */
uint64_t ram_next(const void *p, unsigned h, uint64_t base, uint64_t idx,
		  int hole);
/* Copies what n holds of [off, off + size) to buf (holes read as zeros):
 * the count, 0 at or past the end. */
ssize_t ram_file_read(struct ram_inode *n, char *buf, size_t size, off_t off);
/*
 * Writes what fits of buf at off: the pages it needs are charged together
 * when they fit, else one by one up to the first that does not.
 */
ssize_t ram_file_write(struct ram_vol *v, struct ram_inode *n, const char *buf,
		       size_t size, off_t off);
/*
 * Frees the data in [from, to): whole pages go, the parts of partial pages
 * are zeroed.  Past the end of the file too (pages fallocate kept there).
 */
void ram_file_punch(struct ram_vol *v, struct ram_inode *n, uint64_t from,
		    uint64_t to);
/* Sets n's size; what lies past a smaller size is freed. */
void ram_file_truncate(struct ram_vol *v, struct ram_inode *n, off_t size);
/* Frees all of n's pages and tree nodes. */
void ram_file_free(struct ram_vol *v, struct ram_inode *n);

/* ram_dir.c: directories.  Entries change only under the exclusive
 * namespace lock and their directory's lock; the namespace lock held
 * shared is enough to read them. */
/* The hash of a name of len bytes, for directory tables. */
uint32_t ram_hash(const char *name, size_t len);
/* The entry of dir named name (len bytes), or NULL. */
struct ram_dirent *ram_dir_find(const struct ram_inode *dir, const char *name,
				size_t len);
/* What an entry with a name of len bytes is charged. */
uint64_t ram_dirent_cost(size_t len);
/* Takes any entry out of dir, for close(), which owns everything. */
struct ram_dirent *ram_dir_pop(struct ram_inode *dir);
/* Frees dir's tables and gives their charge back: dir has no entries. */
void ram_dir_free(struct ram_vol *v, struct ram_inode *dir);
/* Links node into dir as name: the entry (paid as in ram_dir_add()),
 * dir's times and link count. */
int ram_link_into(struct ram_vol *v, struct ram_inode *dir, const char *name,
		  size_t len, struct ram_inode *node, uint64_t paid,
		  struct timespec now);
/* Removes entry de of dir; subdir says it named a directory, refund as in
 * ram_dir_del(). */
void ram_unlink_from(struct ram_vol *v, struct ram_inode *dir,
		     struct ram_dirent *de, int subdir, int refund,
		     struct timespec now);
/* Gives entry de of dir the name name (len bytes), keeping its position:
 * only a longer name is charged, what it grows by. */
int ram_dir_rename(struct ram_vol *v, struct ram_inode *dir,
		   struct ram_dirent *de, const char *name, size_t len,
		   struct timespec now);
/* Changes dir's times and adds delta to its link count. */
void ram_dir_touch(struct ram_inode *dir, int delta, struct timespec now);
/* Sets n's ctime, under n's lock. */
void ram_touch_ctime(struct ram_inode *n, struct timespec now);
/* Whether directory d is top or lies below it. */
int ram_is_within(const struct ram_inode *d, const struct ram_inode *top);
/* The directory handle ops (volfs/backend.h). */
int ram_opendir(void *vol, uint64_t node, uint64_t *dh);
int ram_readdir(void *vol, uint64_t dh, off_t off, int plus, volfs_fill_fn fill,
		void *ctx);
int ram_fsyncdir(void *vol, uint64_t dh, int datasync);
int ram_releasedir(void *vol, uint64_t dh);

/* ram_xattr.c: extended attributes, and the ops on them. */
/* Frees x and gives its charge back. */
void ram_xattr_free(struct ram_vol *v, struct ram_xattr *x);
/*
 * A write, truncate or change of owner drops the file capabilities of a
 * regular file (security.capability), as the kernel does for its own file
 * systems.  Called with n's lock held for writing.
 */
void ram_kill_caps(struct ram_vol *v, struct ram_inode *n);
/* The backend ops (volfs/backend.h). */
int ram_setxattr(void *vol, uint64_t node, const char *name, const void *value,
		 size_t size, int flags);
ssize_t ram_getxattr(void *vol, uint64_t node, const char *name, void *value,
		     size_t size);
ssize_t ram_listxattr(void *vol, uint64_t node, char *list, size_t size);
int ram_removexattr(void *vol, uint64_t node, const char *name);

#endif
