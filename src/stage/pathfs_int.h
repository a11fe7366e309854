/* SPDX-License-Identifier: MIT */
/*
 * What the files of the path adapter share (pathfs.c: the table of nodes,
 * paths, lookup and forget; pathfs_ops.c: the ops by node and by name;
 * pathfs_dir.c: directory handles).
 *
 * Nodes live in one hash table keyed by (parent, name), under one mutex
 * that is never held across a call into the store.  A node's reference
 * count covers the core's references, the directory handles open on it and
 * its children in the table, so a node's parent chain, which makes its
 * path, lives as long as the node.  A detached node (its name removed or
 * replaced) leaves the table but keeps its parent and name: the path a
 * handle's op is given, which the store ignores in favour of the handle.
 * Handles are the adapter's: each holds the store's and its node, so that
 * an op on a detached node that comes without a handle (the kernel asks
 * fstat() of an open, unlinked file so) borrows one of the node's.
 *
 * A path is built under the mutex and used after it is let go, so a rename
 * or removal may overtake it.  Each of those bumps a counter before and
 * after its store call; an op that failed with "not found" on a path built
 * before the counter moved, or while one was under way, is done once more
 * (a lookup also when it succeeded, so that it never makes a node for a
 * name that just went away): once the renames and removals under way are
 * done, with a fresh path, and pinned: no rename or removal begins until
 * it is done.
 */
#ifndef VOLFS_PATHFS_INT_H
#define VOLFS_PATHFS_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "pathfs.h"

struct pathfs_node {
	struct pathfs_node *parent;
	/* The hash chain, while the node has a name. */
	struct pathfs_node *next;
	char *name;
	uint64_t refs;
	int detached;
	/* The handles open on it. */
	struct pathfs_file *files;
};

/* A handle: the store's, and the node it was opened on (a reference). */
struct pathfs_file {
	struct pathfs_file *next;
	struct pathfs_node *node;
	uint64_t inner;
	/* Ops borrowing it right now; release waits for none (under lock). */
	unsigned users;
};

struct pathfs_vol {
	const struct volfs_pathops *ops;
	void *vol;
	pthread_mutex_t lock;
	/* No parent, no name, never counted. */
	struct pathfs_node root;
	struct pathfs_node **tab;
	size_t nbuckets, count;
	/* Bumped around every rename and removal: see the top.  busy of
	 * them are under way, pinned ops tried again (both under lock); idle
	 * is signalled when either count drops to 0. */
	_Atomic uint64_t moves;
	unsigned busy, pinned;
	pthread_cond_t idle;
	/* Signalled when a borrowed handle is given back. */
	pthread_cond_t unused;
};

/* Where an op on a node acts: the node's path, the counter it was built at
 * and the store's handle to prefer (VOLFS_NO_FH: none), which may be one
 * borrowed. */
struct pathfs_at {
	char path[PATH_MAX];
	uint64_t moves;
	uint64_t fh;
	struct pathfs_file *borrowed;
};

static inline struct pathfs_node *pathfs_node(struct pathfs_vol *a,
					      uint64_t node)
{
	if (node == VOLFS_ROOT_NODE)
		return &a->root;
	return (struct pathfs_node *)(uintptr_t)node;
}

static inline uint64_t pathfs_id(struct pathfs_vol *a, struct pathfs_node *n)
{
	return n == &a->root ? VOLFS_ROOT_NODE : (uint64_t)(uintptr_t)n;
}

/* The store's handle in one of ours (or VOLFS_NO_FH). */
static inline uint64_t pathfs_inner(uint64_t fh)
{
	if (fh == VOLFS_NO_FH)
		return fh;
	return ((struct pathfs_file *)(uintptr_t)fh)->inner;
}

/* The table; a->lock held for each. */
/* The node named name in parent, or NULL. */
struct pathfs_node *pathfs_find(struct pathfs_vol *a,
				struct pathfs_node *parent, const char *name);
void pathfs_hash_add(struct pathfs_vol *a, struct pathfs_node *n);
void pathfs_hash_del(struct pathfs_vol *a, struct pathfs_node *n);
/* The name no longer leads to n's file: n leaves the table. */
void pathfs_detach(struct pathfs_vol *a, struct pathfs_node *n);
void pathfs_ref(struct pathfs_vol *a, struct pathfs_node *n);
/* Gives back count references to n, freeing it (and, with it, its hold on
 * its parent) when none is left. */
void pathfs_unref(struct pathfs_vol *a, struct pathfs_node *n,
		  uint64_t count);
/* The node of name in parent with one more reference: the one in the
 * table, else *fresh, which it takes (*fresh becomes NULL). */
struct pathfs_node *pathfs_hold(struct pathfs_vol *a,
				struct pathfs_node *parent, const char *name,
				struct pathfs_node **fresh);
/*
 * The path of n into buf (PATH_MAX bytes): -ENOENT when n or a directory
 * above it was detached (unless any: then the path it had), -ENAMETOOLONG
 * when it does not fit.
 */
int pathfs_path(struct pathfs_vol *a, struct pathfs_node *n, int any,
		char *buf);
/* The path of name in p into buf, as pathfs_path(). */
int pathfs_child_path(struct pathfs_vol *a, struct pathfs_node *p,
		      const char *name, char *buf);
/* The counter for a path built now: one that no later value equals while a
 * rename or removal is under way (which may overtake the path any time). */
uint64_t pathfs_stamp(struct pathfs_vol *a);
/* A rename or removal begins, once no op is pinned: returns the stamp of
 * the path it acts on... */
uint64_t pathfs_move_begin(struct pathfs_vol *a);
/* ... and ends. */
void pathfs_move_end(struct pathfs_vol *a);

/* Without the lock. */
/* A node for name, not in the table yet: made before the store is asked,
 * so that nothing can fail once the store has acted.  NULL: no memory. */
struct pathfs_node *pathfs_node_new(const char *name);
void pathfs_node_free(struct pathfs_node *n);
/*
 * Fills *at for node and fh (one of our handles, or VOLFS_NO_FH): a
 * detached node's path is good only with a handle, which with borrow it
 * borrows from the node when fh is none (until pathfs_at_done()).
 * at->moves is set even when it fails.
 */
int pathfs_node_at(struct pathfs_vol *a, uint64_t node, uint64_t fh,
		   int borrow, struct pathfs_at *at);
/* Gives back the handle at borrowed. */
void pathfs_at_done(struct pathfs_vol *a, struct pathfs_at *at);
/* The path of name in parent and the counter it was built at. */
int pathfs_name_path(struct pathfs_vol *a, uint64_t parent, const char *name,
		     char *buf, uint64_t *moves);
/* Waits until no rename or removal is under way; with pin, the caller is
 * then pinned: none begins until pathfs_unpin(). */
void pathfs_settle(struct pathfs_vol *a, int pin);
/* Unpins the caller, when try (its tries so far, less one) says it is. */
void pathfs_unpin(struct pathfs_vol *a, int try);
/*
 * Whether the op that gave rc on try 0 (try: its tries so far, less one)
 * on a path built when the counter was at moves is tried again: when it is
 * "not found" and a rename or removal came since.  Then it returns with
 * the caller pinned, for its one more try.
 */
int pathfs_again(struct pathfs_vol *a, int rc, uint64_t moves, int try);

/*
 * rc = call, a store op on at.path and at.fh, at (a struct pathfs_at) being
 * filled for node, fh and borrow as pathfs_node_at() does, done once more
 * if a rename or removal overtook it.
 */
#define PATHFS_NODE_OP(a, node, fh, borrow, at, rc, call)                  \
	do {                                                               \
		for (int try_ = 0;; try_++) {                              \
			rc = pathfs_node_at(a, node, fh, borrow, &(at));   \
			if (rc == 0) {                                     \
				rc = (call);                               \
				pathfs_at_done(a, &(at));                  \
			}                                                  \
			pathfs_unpin(a, try_);                             \
			if (!pathfs_again(a, (int)(rc), (at).moves, try_)) \
				break;                                     \
		}                                                          \
	} while (0)

#endif /* VOLFS_PATHFS_INT_H */
