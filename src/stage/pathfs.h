/* SPDX-License-Identifier: MIT */
/*
 * The path adapter: serves a store that names files by path (a file share)
 * as a volume of volfs/backend.h, whose ops name files by node.
 *
 * The store implements struct volfs_pathops, ops that take a path relative
 * to the volume root: "." for the root, else "a/b/c" (no leading or
 * trailing '/', no empty, "." or ".." component, each component at most
 * 255 bytes, the whole shorter than PATH_MAX).  The adapter keeps the tree
 * of the nodes the core holds: a node is the address of a struct holding
 * its parent node and its name, so its path is built from that chain, only
 * inside the module, for each op.  A rename moves the node (and with it
 * every node below it); an unlink, an rmdir or a rename onto its name
 * detaches it: it keeps working through the handles open on it, as the
 * store's handles follow their files (an op that names such a node
 * without a handle borrows one of its open handles: the kernel asks
 * fstat() of an open, unlinked file so), and answers -ENOENT when none is
 * open.  A node stands for one name, so a store served this way has no
 * hard links (the table has no link op).
 *
 * A module serving such a store lists the pathfs_* ops below in its table
 * (those whose store op exists; see each) and, in its open(), makes the
 * volume the core gets with pathfs_new().  Conventions are those of
 * volfs/backend.h: ops return 0, a count, or -errno, a NULL op means "not
 * supported".  The adapter's file handles hold the store's; directory
 * handles hold the listing the store gave in one call.
 */
#ifndef VOLFS_PATHFS_H
#define VOLFS_PATHFS_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

#include "volfs/backend.h"

/*
 * Directory listing callback of a store: called once per entry other than
 * "." and "..".  st may be NULL when the store has no attributes for the
 * entry at hand (then only type, an S_IF* value or 0 when unknown, tells
 * what it is).  Returns nonzero to stop the listing, in which case
 * readdir() returns 0.
 */
typedef int (*volfs_path_fill_fn)(void *ctx, const char *name, mode_t type,
				  const struct stat *st);

/*
 * A store's ops.  Each takes the store's own state (vol) and means what the
 * op of the same name in struct volfs_backend means, by path instead of by
 * node.  Where a handle is given (fh other than VOLFS_NO_FH), it is one of
 * path's and the store prefers it: the path may name something else by
 * then (the file was removed or moved meanwhile).
 */
struct volfs_pathops {
	/* Releases everything the store's volume holds; every handle was
	 * released before. */
	void (*close)(void *vol);
	int (*statfs)(void *vol, struct statvfs *sv);
	/* Fills *st for path, without following a final symbolic link. */
	int (*getattr)(void *vol, const char *path, uint64_t fh,
		       struct stat *st);
	int (*readlink)(void *vol, const char *path, char *buf, size_t size);
	/* The ops that make path, owned by the caller: -EEXIST when it
	 * exists. */
	int (*mknod)(void *vol, const char *path, mode_t mode, dev_t rdev,
		     const struct volfs_caller *who);
	int (*mkdir)(void *vol, const char *path, mode_t mode,
		     const struct volfs_caller *who);
	int (*symlink)(void *vol, const char *target, const char *path,
		       const struct volfs_caller *who);
	int (*unlink)(void *vol, const char *path);
	int (*rmdir)(void *vol, const char *path);
	/* Renames from to to; flags are VOLFS_RENAME_* bits.  Handles open
	 * at from, or below it, follow. */
	int (*rename)(void *vol, const char *from, const char *to,
		      unsigned flags);
	int (*chmod)(void *vol, const char *path, uint64_t fh, mode_t mode);
	int (*chown)(void *vol, const char *path, uint64_t fh, uid_t uid,
		     gid_t gid);
	int (*truncate)(void *vol, const char *path, uint64_t fh, off_t size);
	int (*utimens)(void *vol, const char *path, uint64_t fh,
		       const struct timespec tv[2]);
	/* Opens an existing file (flags without O_CREAT and O_EXCL). */
	int (*open_file)(void *vol, const char *path, int flags, uint64_t *fh);
	/* Creates path and opens it; -EEXIST when it exists, whatever
	 * flags say (the adapter opens an existing file itself). */
	int (*create_file)(void *vol, const char *path, int flags, mode_t mode,
			   const struct volfs_caller *who, uint64_t *fh);
	ssize_t (*read)(void *vol, uint64_t fh, void *buf, size_t size,
			off_t off);
	ssize_t (*write)(void *vol, uint64_t fh, const void *buf, size_t size,
			 off_t off);
	int (*flush)(void *vol, uint64_t fh);
	int (*fsync)(void *vol, uint64_t fh, int datasync);
	int (*release)(void *vol, uint64_t fh);
	int (*fd)(void *vol, uint64_t fh);
	int (*fallocate)(void *vol, uint64_t fh, int mode, off_t off,
			 off_t len);
	off_t (*lseek)(void *vol, uint64_t fh, off_t off, int whence);
	/* Lists directory path in one call, calling fill per entry. */
	int (*readdir)(void *vol, const char *path, volfs_path_fill_fn fill,
		       void *ctx);
	int (*setxattr)(void *vol, const char *path, const char *name,
			const void *value, size_t size, int flags);
	ssize_t (*getxattr)(void *vol, const char *path, const char *name,
			    void *value, size_t size);
	ssize_t (*listxattr)(void *vol, const char *path, char *list,
			     size_t size);
	int (*removexattr)(void *vol, const char *path, const char *name);
};

/*
 * Makes the volume that serves the store (ops, vol) through the pathfs_*
 * ops, and stores it in *out.  From then on it owns vol: pathfs_close()
 * closes it with ops->close.  On failure (-ENOMEM) nothing was allocated
 * and vol is still the caller's.
 */
int pathfs_new(const struct volfs_pathops *ops, void *vol, void **out);

/*
 * The struct volfs_backend ops of such a volume.  lookup, forget, getattr,
 * opendir, readdir and releasedir need the store's getattr and readdir;
 * close calls the store's close where it has one; every other op needs the
 * store's op of its name (create_file: create_file, open_file and
 * release).  There is no fsyncdir: a store has no directory handles.
 */
void pathfs_close(void *vol);
int pathfs_statfs(void *vol, struct statvfs *sv);
int pathfs_lookup(void *vol, uint64_t parent, const char *name,
		  struct volfs_entry *e);
void pathfs_forget(void *vol, uint64_t node, uint64_t n);
int pathfs_getattr(void *vol, uint64_t node, uint64_t fh, struct stat *st);
int pathfs_readlink(void *vol, uint64_t node, char *buf, size_t size);
int pathfs_mknod(void *vol, uint64_t parent, const char *name, mode_t mode,
		 dev_t rdev, const struct volfs_caller *who,
		 struct volfs_entry *e);
int pathfs_mkdir(void *vol, uint64_t parent, const char *name, mode_t mode,
		 const struct volfs_caller *who, struct volfs_entry *e);
int pathfs_symlink(void *vol, const char *target, uint64_t parent,
		   const char *name, const struct volfs_caller *who,
		   struct volfs_entry *e);
int pathfs_unlink(void *vol, uint64_t parent, const char *name);
int pathfs_rmdir(void *vol, uint64_t parent, const char *name);
int pathfs_rename(void *vol, uint64_t parent, const char *name,
		  uint64_t newparent, const char *newname, unsigned flags);
int pathfs_chmod(void *vol, uint64_t node, uint64_t fh, mode_t mode);
int pathfs_chown(void *vol, uint64_t node, uint64_t fh, uid_t uid, gid_t gid);
int pathfs_truncate(void *vol, uint64_t node, uint64_t fh, off_t size);
int pathfs_utimens(void *vol, uint64_t node, uint64_t fh,
		   const struct timespec tv[2]);
int pathfs_open_file(void *vol, uint64_t node, int flags, uint64_t *fh);
int pathfs_create_file(void *vol, uint64_t parent, const char *name,
		       int flags, mode_t mode, const struct volfs_caller *who,
		       struct volfs_entry *e, uint64_t *fh);
ssize_t pathfs_read(void *vol, uint64_t fh, void *buf, size_t size,
		    off_t off);
ssize_t pathfs_write(void *vol, uint64_t fh, const void *buf, size_t size,
		     off_t off);
int pathfs_flush(void *vol, uint64_t fh);
int pathfs_fsync(void *vol, uint64_t fh, int datasync);
int pathfs_release(void *vol, uint64_t fh);
int pathfs_fd(void *vol, uint64_t fh);
int pathfs_fallocate(void *vol, uint64_t fh, int mode, off_t off, off_t len);
off_t pathfs_lseek(void *vol, uint64_t fh, off_t off, int whence);
int pathfs_opendir(void *vol, uint64_t node, uint64_t *dh);
int pathfs_readdir(void *vol, uint64_t dh, off_t off, int plus,
		   volfs_fill_fn fill, void *ctx);
int pathfs_releasedir(void *vol, uint64_t dh);
int pathfs_setxattr(void *vol, uint64_t node, const char *name,
		    const void *value, size_t size, int flags);
ssize_t pathfs_getxattr(void *vol, uint64_t node, const char *name,
			void *value, size_t size);
ssize_t pathfs_listxattr(void *vol, uint64_t node, char *list, size_t size);
int pathfs_removexattr(void *vol, uint64_t node, const char *name);

#endif /* VOLFS_PATHFS_H */
