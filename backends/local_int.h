/* SPDX-License-Identifier: MIT */
/*
 * What the files of the local backend share (local.c: the module, volumes
 * and the ops table; local_node.c: the node table and the ops that find,
 * make and remove names; local_file.c: the ops on a node or an open file;
 * local_dir.c: directory handles).  How it works is described at the top
 * of local.c.
 */
#ifndef VOLFS_LOCAL_INT_H
#define VOLFS_LOCAL_INT_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "volfs/backend.h"

/* "/proc/self/fd/" and a descriptor number. */
#define LOCAL_PROC_MAX (sizeof("/proc/self/fd/") + 10)

/*
 * One file the core holds references to, by an O_PATH descriptor while the
 * process has descriptors to spare, else by its file handle.  A descriptor
 * keeps the inode alive, so (dev, ino) names no other file while the node
 * lives; a handle does not, and names the file (its inode number and
 * generation) until it is deleted, when open_by_handle_at() fails with
 * ESTALE.  Which of the two a node has is set when it is made and never
 * changes, so ops read it without the lock.
 */
struct local_node {
	/* The next node in its hash chain. */
	struct local_node *next;
	dev_t dev;
	ino_t ino;
	/* References the core holds; under the volume's lock. */
	uint64_t refs;
	/* Open handles of the file, counted where the volume reclaims
	 * (struct local_vol); under the volume's lock. */
	uint64_t nopen;
	/* O_PATH | O_NOFOLLOW descriptor of the file, or -1: handle[]. */
	int fd;
	/* Its S_IF* type, which never changes. */
	mode_t type;
	/* Without fd: a struct file_handle and its handle_bytes, which the
	 * node is allocated with room for (8 to 20 bytes on the usual file
	 * systems). */
	unsigned int handle[];
};

struct local_vol {
	/* O_PATH descriptor of the volume root (VOLFS_ROOT_NODE), and the
	 * root's identity, which is never given a node of its own. */
	int rootfd;
	dev_t rootdev;
	ino_t rootino;
	/*
	 * A descriptor of the root that open_by_handle_at() takes (not
	 * O_PATH), or -errno when file handles cannot name the volume's
	 * files here: no CAP_DAC_READ_SEARCH, or a file system without
	 * them.  Nodes then keep descriptors until the limit is reached.
	 */
	int mntfd;
	/*
	 * A node keeps its descriptor only when the kernel numbered it below
	 * this: the open-file limit less a reserve for open files, sockets,
	 * the FUSE device and the catalog.  As the kernel gives the lowest
	 * free number, node descriptors never take the reserve, whichever
	 * volumes and modules of the process made them.
	 */
	int node_fds;
	/* What the volume can do (VOLFS_CAP_EXTERNAL_CHANGES for a host
	 * directory given with path=, which others may change). */
	unsigned caps;
	/*
	 * A volume with a size limit of its own (VOLFS_CAP_SIZE_LIMIT: ram's
	 * tmpfs store) gives a removed file's data back when its last name
	 * and last open handle are gone, not when the kernel forgets the
	 * node (a FORGET may be served after the next request, which would
	 * then find the space still taken).  Its nodes count open handles.
	 */
	int reclaim;
	/* Running as root: new objects are given to their caller. */
	int chown_new;
	uid_t euid;
	gid_t egid;
	/* The state of the module that opened it (volfs_local_open_root). */
	void *owner;
	/*
	 * The nodes handed out, hashed by (dev, ino): a power of two of
	 * chains.  The lock is taken by the ops that hand out or give back
	 * references only; every other op uses a node's descriptor or
	 * handle, which the reference its caller holds keeps.
	 */
	pthread_mutex_t lock;
	struct local_node **hash;
	size_t nbuckets;
	size_t count;
	/* Nodes with a handle whose file is gone and whose inode number a
	 * new file has: no lookup finds them; freed once forgotten. */
	struct local_node *gone;
};

/* Where the volume reclaims: a handle of node was opened. */
void local_node_opened(struct local_vol *lv, uint64_t node);
/* Where the volume reclaims: frees the data of the file of open handle fd,
 * which is being released, when it was its last handle and the file has no
 * name left. */
void local_release_reclaim(struct local_vol *lv, int fd);

/* "." or "..", which a directory lists but no op takes as a name. */
static inline int local_is_dot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/* A file handle is its open descriptor widened to 64 bits. */
static inline int local_fh_fd(uint64_t fh)
{
	return fh > INT_MAX ? -EBADF : (int)fh;
}

static inline struct local_node *local_node_of(uint64_t node)
{
	return (struct local_node *)(uintptr_t)node;
}

/* A new O_PATH descriptor of n, from its handle, or -errno (-ESTALE: the
 * file is gone). */
int local_node_open(const struct local_vol *lv, struct local_node *n);

/*
 * A descriptor of node for one op, or -errno (-ESTALE: its file is gone):
 * the root's, the node's own, or one opened from the node's handle.  Give
 * it back with local_fd_put().
 */
static inline int local_fd_get(const struct local_vol *lv, uint64_t node)
{
	if (node == VOLFS_ROOT_NODE)
		return lv->rootfd;
	if (local_node_of(node)->fd >= 0)
		return local_node_of(node)->fd;
	return local_node_open(lv, local_node_of(node));
}

/* Closes fd when local_fd_get() opened it for the op. */
static inline void local_fd_put(uint64_t node, int fd)
{
	if (fd >= 0 && node != VOLFS_ROOT_NODE && local_node_of(node)->fd < 0)
		close(fd);
}

static inline mode_t local_node_type(uint64_t node)
{
	return node == VOLFS_ROOT_NODE ? S_IFDIR : local_node_of(node)->type;
}

/* "/proc/self/fd/FD": opening or changing it reaches exactly the file fd
 * holds, a symlink itself included, whatever its names are now. */
static inline void local_proc(char buf[LOCAL_PROC_MAX], int fd)
{
	snprintf(buf, LOCAL_PROC_MAX, "/proc/self/fd/%d", fd);
}

/* local_node.c */
/* Sets up the node table of lv, whose rootfd is open. */
int local_nodes_init(struct local_vol *lv);
void local_nodes_free(struct local_vol *lv);
int local_lookup_at(struct local_vol *lv, int dirfd, const char *name,
		    struct volfs_entry *e);
int local_lookup(void *vol, uint64_t parent, const char *name,
		 struct volfs_entry *e);
void local_forget(void *vol, uint64_t node, uint64_t n);
int local_mknod(void *vol, uint64_t parent, const char *name, mode_t mode,
		dev_t rdev, const struct volfs_caller *who,
		struct volfs_entry *e);
int local_mkdir(void *vol, uint64_t parent, const char *name, mode_t mode,
		const struct volfs_caller *who, struct volfs_entry *e);
int local_symlink(void *vol, const char *target, uint64_t parent,
		  const char *name, const struct volfs_caller *who,
		  struct volfs_entry *e);
int local_link(void *vol, uint64_t node, uint64_t newparent,
	       const char *newname, struct volfs_entry *e);
int local_unlink(void *vol, uint64_t parent, const char *name);
int local_rmdir(void *vol, uint64_t parent, const char *name);
int local_rename(void *vol, uint64_t parent, const char *name,
		 uint64_t newparent, const char *newname, unsigned flags);
int local_create_file(void *vol, uint64_t parent, const char *name, int flags,
		      mode_t mode, const struct volfs_caller *who,
		      struct volfs_entry *e, uint64_t *fh);
/* Opens the file of node with flags (an open descriptor for a file or
 * directory handle), or -errno. */
int local_node_reopen(const struct local_vol *lv, uint64_t node, int flags);
int local_node_encode(void *vol, uint64_t node, void *buf, size_t *len);
int local_node_decode(void *vol, const void *buf, size_t len,
		      struct volfs_entry *e);

/* local_file.c */
int local_getattr(void *vol, uint64_t node, uint64_t fh, struct stat *st);
int local_readlink(void *vol, uint64_t node, char *buf, size_t size);
int local_chmod(void *vol, uint64_t node, uint64_t fh, mode_t mode);
int local_chown(void *vol, uint64_t node, uint64_t fh, uid_t uid, gid_t gid);
int local_truncate(void *vol, uint64_t node, uint64_t fh, off_t size);
int local_utimens(void *vol, uint64_t node, uint64_t fh,
		  const struct timespec tv[2]);
int local_open_file(void *vol, uint64_t node, int flags, uint64_t *fh);
ssize_t local_read(void *vol, uint64_t fh, void *buf, size_t size, off_t off);
ssize_t local_write(void *vol, uint64_t fh, const void *buf, size_t size,
		    off_t off);
int local_fsync(void *vol, uint64_t fh, int datasync);
int local_release(void *vol, uint64_t fh);
int local_fd(void *vol, uint64_t fh);
int local_fallocate(void *vol, uint64_t fh, int mode, off_t off, off_t len);
off_t local_lseek(void *vol, uint64_t fh, off_t off, int whence);
int local_setxattr(void *vol, uint64_t node, const char *name,
		   const void *value, size_t size, int flags);
ssize_t local_getxattr(void *vol, uint64_t node, const char *name, void *value,
		       size_t size);
ssize_t local_listxattr(void *vol, uint64_t node, char *list, size_t size);
int local_removexattr(void *vol, uint64_t node, const char *name);

/* local_dir.c */
int local_opendir(void *vol, uint64_t node, uint64_t *dh);
int local_readdir(void *vol, uint64_t dh, off_t off, int plus,
		  volfs_fill_fn fill, void *ctx);
int local_fsyncdir(void *vol, uint64_t dh, int datasync);
int local_releasedir(void *vol, uint64_t dh);

#endif /* VOLFS_LOCAL_INT_H */
