/* SPDX-License-Identifier: MIT */
/*
 * The inode table: the kernel knows files by 64-bit node ids, backends by
 * paths.  The table maps node ids to (parent, name) and back, keeps the
 * kernel's lookup count of each, and follows renames and unlinks so paths
 * stay right.  It knows nothing of FUSE.
 *
 * With by_ino, a backend's (st_dev, st_ino) identifies a file: two names of
 * one hard-linked file share a node, so the kernel sees one inode with the
 * right link count.  A node then carries the name it was last looked up by.
 * Without it, (parent, name) identifies a file.
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

/* A new table holding only the root.  NULL if out of memory. */
struct volfs_nodes *volfs_nodes_new(int by_ino);
void volfs_nodes_free(struct volfs_nodes *t);

/*
 * Writes the backend path of node ino ("." for the root) into buf.  A node
 * whose name was unlinked still yields its last path, and returns 1 instead
 * of 0, so callers holding an open handle may use it.  -ESTALE if ino is
 * unknown, -ENAMETOOLONG if the path does not fit.
 */
int volfs_nodes_path(struct volfs_nodes *t, uint64_t ino, char *buf,
		     size_t size);

/* Writes the path of name inside directory node parent into buf. */
int volfs_nodes_child_path(struct volfs_nodes *t, uint64_t parent,
			   const char *name, char *buf, size_t size);

/*
 * Records that the kernel learned of name in parent, with attributes st
 * (from the backend), and returns its node id in *ino with the lookup count
 * raised by one.  -ESTALE if parent is unknown, -ENOMEM.
 */
int volfs_nodes_lookup(struct volfs_nodes *t, uint64_t parent,
		       const char *name, const struct stat *st, uint64_t *ino);

/* The kernel forgot nlookup references to ino. */
void volfs_nodes_forget(struct volfs_nodes *t, uint64_t ino, uint64_t nlookup);

/*
 * name in parent was removed.  last_link says whether that was the file's
 * last name, after which its backend identity may be reused by a new file.
 */
void volfs_nodes_unlinked(struct volfs_nodes *t, uint64_t parent,
			  const char *name, int last_link);

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
