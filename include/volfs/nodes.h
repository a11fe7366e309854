/* SPDX-License-Identifier: MIT */
/*
 * The inode table: the kernel knows files by 64-bit node ids, backends by
 * their own nodes (include/volfs/backend.h).  The table gives each (volume,
 * backend node) one node id, keeps the kernel's lookup count of it, and
 * holds as many references to the backend node as the kernel holds to the
 * node id.  It knows nothing of FUSE, and nothing of names: a file is the
 * same node whichever of its names the kernel reached it by, and a rename
 * or an unlink changes nothing here.
 *
 * A node id is the address of the table's node, so a request resolves its
 * node without a lock or a search (volfs_nodes_get()); the kernel never
 * sends an id after it forgot it.  The root's id is VOLFS_NODES_ROOT.
 *
 * A table serves one volume at its root (`volfs mount`), or a list of
 * volumes whose roots are the root's children (`volfs serve`, whose root
 * itself has no volume).  A volume is known to the table by a struct
 * volfs_nodes_vol the caller embeds in its own record of the volume; the
 * table counts that volume's nodes there, so the caller learns when the
 * kernel has forgotten the last one.
 *
 * All functions are thread-safe.
 */
#ifndef VOLFS_NODES_H
#define VOLFS_NODES_H

#include <stddef.h>
#include <stdint.h>

/* The root's node id, as the kernel expects it. */
#define VOLFS_NODES_ROOT 1

/* A volume, as the table counts its nodes.  Zeroed by its owner. */
struct volfs_nodes_vol {
	/* Nodes of the volume the kernel knows, and forgets of them whose
	 * backend references are still being given back (under the
	 * table's lock). */
	size_t held;
};

/* One node.  Only vol, bnode and serial are for the caller to read. */
struct volfs_node {
	/* The volume, NULL for a serve root. */
	struct volfs_nodes_vol *vol;
	/* The backend's node (VOLFS_ROOT_NODE for a volume's root). */
	uint64_t bnode;
	/* A number never given to another node of the table: the inode
	 * number shown for backends whose own are not stable. */
	uint64_t serial;
	/* The kernel's lookup count, and the hash chain (table's lock). */
	uint64_t nlookup;
	struct volfs_node *hnext;
};

struct volfs_nodes;

/*
 * A new table holding only the root, which is the root of volume vol, or
 * of no volume when vol is NULL.  NULL if out of memory.
 */
struct volfs_nodes *volfs_nodes_new(struct volfs_nodes_vol *vol);

/*
 * Frees the table.  Nodes the kernel still holds (a shutdown) are handed
 * to drop first, with the number of backend references each holds, so
 * that the caller gives them back; drop may be NULL.
 */
void volfs_nodes_free(struct volfs_nodes *t,
		      void (*drop)(struct volfs_nodes_vol *vol, uint64_t bnode,
				   uint64_t refs, void *ctx),
		      void *ctx);

/* The root node. */
struct volfs_node *volfs_nodes_root(struct volfs_nodes *t);

/* The node of id ino, which the kernel holds (or the root). */
static inline struct volfs_node *volfs_nodes_get(struct volfs_nodes *t,
						 uint64_t ino)
{
	return ino == VOLFS_NODES_ROOT ? volfs_nodes_root(t)
				       : (struct volfs_node *)(uintptr_t)ino;
}

/*
 * The kernel learns of backend node bnode of volume vol, handed over with
 * one reference (none for VOLFS_ROOT_NODE), which the table keeps: the
 * node id is stored in *ino with its lookup count raised by one.  The same
 * (vol, bnode) gets the same id while the kernel holds it.  -ENOMEM (the
 * reference is then still the caller's).
 */
int volfs_nodes_add(struct volfs_nodes *t, struct volfs_nodes_vol *vol,
		    uint64_t bnode, uint64_t *ino);

/*
 * The kernel forgot n references to ino.  Stores in *refs how many backend
 * references of (*vol, *bnode) the caller must now give back (0 for a
 * volume's root); when that is not 0, or the node went, the caller then
 * calls volfs_nodes_done(), which says whether the volume has no node
 * left.  Returns 1 when the caller must call volfs_nodes_done(), else 0.
 */
int volfs_nodes_forget(struct volfs_nodes *t, uint64_t ino, uint64_t n,
		       struct volfs_nodes_vol **vol, uint64_t *bnode,
		       uint64_t *refs);

/*
 * After volfs_nodes_forget() returned 1 and the backend references were
 * given back: 1 when vol has no node left (the kernel forgot them all and
 * every forget is done), else 0.
 */
int volfs_nodes_done(struct volfs_nodes *t, struct volfs_nodes_vol *vol);

/* Whether the kernel holds any node of vol (or a forget of one is not done
 * yet). */
int volfs_nodes_held(struct volfs_nodes *t, struct volfs_nodes_vol *vol);

/* Number of nodes held, the root included. */
size_t volfs_nodes_count(struct volfs_nodes *t);

#endif /* VOLFS_NODES_H */
