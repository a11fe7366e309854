/* SPDX-License-Identifier: MIT */
/*
 * The inode table: the kernel knows files by 64-bit node ids, backends by
 * paths.  The table maps node ids to (parent, name) and back, keeps the
 * kernel's lookup count of each, and follows renames and unlinks so paths
 * stay right.  It knows nothing of FUSE.
 *
 * Every node belongs to a volume (an opaque tag), and paths are relative to
 * that volume's root node.  A table serves one volume at its root (`volfs
 * mount`), or a list of volumes whose roots are the root's children (`volfs
 * serve`, whose root itself has no volume).
 *
 * In a volume whose files have stable inode numbers (by_ino), a backend's
 * (st_dev, st_ino) identifies a file: two names of one hard-linked file
 * share a node, so the kernel sees one inode with the right link count.  A
 * node then carries the name it was last looked up by.  Otherwise (parent,
 * name) identifies a file.
 *
 * Node ids are never reused while the table lives.  All functions are
 * thread-safe.
 */
#ifndef VOLFS_NODES_H
#define VOLFS_NODES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

/* The root's node id, as the kernel expects it. */
#define VOLFS_NODES_ROOT 1

struct volfs_nodes;

/*
 * A new table holding only the root, which is the root of volume vol, or
 * of no volume when vol is NULL.  NULL if out of memory.
 */
struct volfs_nodes *volfs_nodes_new(void *vol, int by_ino);
void volfs_nodes_free(struct volfs_nodes *t);

/*
 * Writes the backend path of node ino ("." for a volume's root) into buf
 * and its volume into *vol (if vol is not NULL).  A node whose name was
 * unlinked still yields its last path, and returns 1 instead of 0, so
 * callers holding an open handle may use it.  -ESTALE if ino is unknown,
 * -ENAMETOOLONG if the path does not fit.
 */
int volfs_nodes_path(struct volfs_nodes *t, uint64_t ino, char *buf,
		     size_t size, void **vol);

/* Writes the path of name inside directory node parent into buf. */
int volfs_nodes_child_path(struct volfs_nodes *t, uint64_t parent,
			   const char *name, char *buf, size_t size,
			   void **vol);

/*
 * Records that the kernel learned of name in parent, with attributes st
 * (from the backend), and returns its node id in *ino with the lookup count
 * raised by one.  The node belongs to parent's volume.  -ESTALE if parent
 * is unknown, -ENOENT if parent has no volume, -ENOMEM.
 */
int volfs_nodes_lookup(struct volfs_nodes *t, uint64_t parent,
		       const char *name, const struct stat *st, uint64_t *ino);

/*
 * Records that the kernel learned of name in the root as the root of
 * volume vol, and returns its node id with the lookup count raised.  A node
 * of that name for another vol is replaced: it keeps its nodes and paths
 * (the root of its own volume) until the kernel forgets them.
 */
int volfs_nodes_lookup_volume(struct volfs_nodes *t, const char *name,
			      void *vol, int by_ino, uint64_t *ino);

/*
 * The kernel forgot nlookup references to ino.  When that freed the root
 * node of a volume (added by volfs_nodes_lookup_volume()), no node of that
 * volume is left and its tag is returned; otherwise NULL.
 */
void *volfs_nodes_forget(struct volfs_nodes *t, uint64_t ino,
			 uint64_t nlookup);

/* Whether name in the root is currently the root of volume vol. */
int volfs_nodes_has_volume(struct volfs_nodes *t, const char *name,
			   const void *vol);

/*
 * name in parent was removed.  last_link says whether that was the file's
 * last name, after which its backend identity may be reused by a new file.
 */
void volfs_nodes_unlinked(struct volfs_nodes *t, uint64_t parent,
			  const char *name, int last_link);

/*
 * name in parent was removed but the file keeps other names, among them
 * other in the same directory: a node known by name is known by other
 * from now on (the kernel keeps using it under its other names).
 */
void volfs_nodes_unlinked_alias(struct volfs_nodes *t, uint64_t parent,
				const char *name, const char *other);

/*
 * from (in oldparent) was renamed to name in newparent; with exchange the
 * two swapped.  Whatever name pointed to before is unlinked (dropped_last
 * as in volfs_nodes_unlinked).
 */
void volfs_nodes_renamed(struct volfs_nodes *t, uint64_t oldparent,
			 const char *oldname, uint64_t newparent,
			 const char *newname, int exchange, int dropped_last);

/* Number of nodes held, the root included. */
size_t volfs_nodes_count(struct volfs_nodes *t);

#endif /* VOLFS_NODES_H */
