/* SPDX-License-Identifier: MIT */
/*
 * The path adapter's ops by node and by name (see pathfs.h): each builds
 * the path of what it acts on and hands it to the store; the ops that
 * make, remove or move a name keep the table of nodes in step.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pathfs_int.h"

int pathfs_getattr(void *vol, uint64_t node, uint64_t fh, struct stat *st)
{
	struct pathfs_vol *a = vol;
	struct pathfs_at at;
	int rc;

	PATHFS_NODE_OP(a, node, fh, 1, at, rc,
		       a->ops->getattr(a->vol, at.path, at.fh, st));
	return rc;
}

int pathfs_readlink(void *vol, uint64_t node, char *buf, size_t size)
{
	struct pathfs_vol *a = vol;
	struct pathfs_at at;
	int rc;

	PATHFS_NODE_OP(a, node, VOLFS_NO_FH, 0, at, rc,
		       a->ops->readlink(a->vol, at.path, buf, size));
	return rc;
}

/* What makes a name: the store's op on path. */
struct pathfs_make {
	enum { PATHFS_MKNOD, PATHFS_MKDIR, PATHFS_SYMLINK } what;
	mode_t mode;
	dev_t rdev;
	const char *target;
	const struct volfs_caller *who;
};

static int pathfs_make_op(struct pathfs_vol *a, const struct pathfs_make *m,
			  const char *path)
{
	switch (m->what) {
	case PATHFS_MKNOD:
		return a->ops->mknod(a->vol, path, m->mode, m->rdev, m->who);
	case PATHFS_MKDIR:
		return a->ops->mkdir(a->vol, path, m->mode, m->who);
	default:
		return a->ops->symlink(a->vol, m->target, path, m->who);
	}
}

/* Makes name in parent as m says and hands it over in *e. */
static int pathfs_make(struct pathfs_vol *a, uint64_t parent,
		       const char *name, const struct pathfs_make *m,
		       struct volfs_entry *e)
{
	struct pathfs_node *fresh = pathfs_node_new(name), *n;
	char path[PATH_MAX];
	uint64_t moves;
	int rc, try = 0;

	if (!fresh)
		return -ENOMEM;
	for (;; try++) {
		rc = pathfs_name_path(a, parent, name, path, &moves);
		if (rc == 0)
			rc = pathfs_make_op(a, m, path);
		if (!pathfs_again(a, rc, moves, try))
			break;
	}
	if (rc == 0)
		rc = a->ops->getattr(a->vol, path, VOLFS_NO_FH, &e->st);
	if (rc == 0) {
		pthread_mutex_lock(&a->lock);
		n = pathfs_hold(a, pathfs_node(a, parent), name, &fresh);
		e->node = pathfs_id(a, n);
		pthread_mutex_unlock(&a->lock);
	}
	pathfs_unpin(a, try);
	pathfs_node_free(fresh);
	return rc;
}

int pathfs_mknod(void *vol, uint64_t parent, const char *name, mode_t mode,
		 dev_t rdev, const struct volfs_caller *who,
		 struct volfs_entry *e)
{
	struct pathfs_make m = {
		.what = PATHFS_MKNOD, .mode = mode, .rdev = rdev, .who = who
	};

	return pathfs_make(vol, parent, name, &m, e);
}

int pathfs_mkdir(void *vol, uint64_t parent, const char *name, mode_t mode,
		 const struct volfs_caller *who, struct volfs_entry *e)
{
	struct pathfs_make m = {
		.what = PATHFS_MKDIR, .mode = mode, .who = who
	};

	return pathfs_make(vol, parent, name, &m, e);
}

int pathfs_symlink(void *vol, const char *target, uint64_t parent,
		   const char *name, const struct volfs_caller *who,
		   struct volfs_entry *e)
{
	struct pathfs_make m = {
		.what = PATHFS_SYMLINK, .target = target, .who = who
	};

	return pathfs_make(vol, parent, name, &m, e);
}

/* unlink() and, with dir, rmdir(). */
static int pathfs_remove(struct pathfs_vol *a, uint64_t parent,
			 const char *name, int dir)
{
	struct pathfs_node *p = pathfs_node(a, parent), *n;
	char path[PATH_MAX];
	uint64_t moves;
	int rc;

	for (int try = 0;; try++) {
		pthread_mutex_lock(&a->lock);
		moves = pathfs_move_begin(a);
		rc = pathfs_child_path(a, p, name, path);
		if (rc) {
			pathfs_move_end(a);
			pthread_mutex_unlock(&a->lock);
			return rc;
		}
		pthread_mutex_unlock(&a->lock);
		rc = dir ? a->ops->rmdir(a->vol, path)
			 : a->ops->unlink(a->vol, path);
		pthread_mutex_lock(&a->lock);
		/* The name leads nowhere now: its node goes, and any a
		 * lookup made while the store acted. */
		while (rc == 0 && (n = pathfs_find(a, p, name)))
			pathfs_detach(a, n);
		pathfs_move_end(a);
		pthread_mutex_unlock(&a->lock);
		/* Once more if another rename or removal came meanwhile. */
		if (try || (rc != -ENOENT && rc != -ENOTDIR) ||
		    atomic_load(&a->moves) == moves + 2)
			return rc;
		pathfs_settle(a, 0);
	}
}

int pathfs_unlink(void *vol, uint64_t parent, const char *name)
{
	return pathfs_remove(vol, parent, name, 0);
}

int pathfs_rmdir(void *vol, uint64_t parent, const char *name)
{
	return pathfs_remove(vol, parent, name, 1);
}

/* The table after a rename the store made (lock held): the node at the
 * target before (old, held since) loses its name, or with exchange takes
 * the source's; the source's node takes the target's name. */
static void pathfs_renamed(struct pathfs_vol *a, struct pathfs_node *p,
			   const char *name, struct pathfs_node *np,
			   struct pathfs_node *old, unsigned flags,
			   char **from_name, char **to_name)
{
	struct pathfs_node *n = pathfs_find(a, p, name);

	if (n == old)
		return;
	if (old && !old->detached) {
		if (flags & VOLFS_RENAME_EXCHANGE) {
			pathfs_hash_del(a, old);
			pathfs_ref(a, p);
			pathfs_unref(a, old->parent, 1);
			old->parent = p;
			free(old->name);
			old->name = *from_name;
			*from_name = NULL;
			pathfs_hash_add(a, old);
		} else {
			pathfs_detach(a, old);
		}
	}
	if (n) {
		pathfs_hash_del(a, n);
		pathfs_ref(a, np);
		pathfs_unref(a, n->parent, 1);
		n->parent = np;
		free(n->name);
		n->name = *to_name;
		*to_name = NULL;
		pathfs_hash_add(a, n);
	}
}

int pathfs_rename(void *vol, uint64_t parent, const char *name,
		  uint64_t newparent, const char *newname, unsigned flags)
{
	struct pathfs_vol *a = vol;
	struct pathfs_node *p = pathfs_node(a, parent);
	struct pathfs_node *np = pathfs_node(a, newparent), *old;
	char *from_name = strdup(name), *to_name = strdup(newname);
	char from[PATH_MAX], to[PATH_MAX];
	uint64_t moves;
	int rc = -ENOMEM;

	if (!from_name || !to_name)
		goto out;
	for (int try = 0;; try++) {
		pthread_mutex_lock(&a->lock);
		moves = pathfs_move_begin(a);
		rc = pathfs_child_path(a, p, name, from);
		if (rc == 0)
			rc = pathfs_child_path(a, np, newname, to);
		if (rc) {
			pathfs_move_end(a);
			pthread_mutex_unlock(&a->lock);
			goto out;
		}
		/* The target's node as it is before: the one that loses (or
		 * with exchange, swaps) its name, whatever a lookup may add
		 * meanwhile. */
		old = pathfs_find(a, np, newname);
		if (old)
			old->refs++;
		pthread_mutex_unlock(&a->lock);
		rc = a->ops->rename(a->vol, from, to, flags);
		pthread_mutex_lock(&a->lock);
		if (rc == 0)
			pathfs_renamed(a, p, name, np, old, flags, &from_name,
				       &to_name);
		if (old)
			pathfs_unref(a, old, 1);
		pathfs_move_end(a);
		pthread_mutex_unlock(&a->lock);
		if (try || (rc != -ENOENT && rc != -ENOTDIR) ||
		    atomic_load(&a->moves) == moves + 2)
			break;
		pathfs_settle(a, 0);
	}
out:
	free(from_name);
	free(to_name);
	return rc;
}

int pathfs_chmod(void *vol, uint64_t node, uint64_t fh, mode_t mode)
{
	struct pathfs_vol *a = vol;
	struct pathfs_at at;
	int rc;

	PATHFS_NODE_OP(a, node, fh, 1, at, rc,
		       a->ops->chmod(a->vol, at.path, at.fh, mode));
	return rc;
}

int pathfs_chown(void *vol, uint64_t node, uint64_t fh, uid_t uid, gid_t gid)
{
	struct pathfs_vol *a = vol;
	struct pathfs_at at;
	int rc;

	PATHFS_NODE_OP(a, node, fh, 1, at, rc,
		       a->ops->chown(a->vol, at.path, at.fh, uid, gid));
	return rc;
}

int pathfs_truncate(void *vol, uint64_t node, uint64_t fh, off_t size)
{
	struct pathfs_vol *a = vol;
	struct pathfs_at at;
	int rc;

	PATHFS_NODE_OP(a, node, fh, 1, at, rc,
		       a->ops->truncate(a->vol, at.path, at.fh, size));
	return rc;
}

int pathfs_utimens(void *vol, uint64_t node, uint64_t fh,
		   const struct timespec tv[2])
{
	struct pathfs_vol *a = vol;
	struct pathfs_at at;
	int rc;

	PATHFS_NODE_OP(a, node, fh, 1, at, rc,
		       a->ops->utimens(a->vol, at.path, at.fh, tv));
	return rc;
}

/* Makes f, holding the store's handle, a handle of n (lock held). */
static void pathfs_file_add(struct pathfs_vol *a, struct pathfs_file *f,
			    struct pathfs_node *n)
{
	f->node = n;
	pathfs_ref(a, n);
	f->next = n->files;
	n->files = f;
}

int pathfs_open_file(void *vol, uint64_t node, int flags, uint64_t *fh)
{
	struct pathfs_vol *a = vol;
	struct pathfs_file *f = calloc(1, sizeof(*f));
	struct pathfs_at at;
	int rc;

	if (!f)
		return -ENOMEM;
	PATHFS_NODE_OP(a, node, VOLFS_NO_FH, 0, at, rc,
		       a->ops->open_file(a->vol, at.path, flags, &f->inner));
	if (rc) {
		free(f);
		return rc;
	}
	pthread_mutex_lock(&a->lock);
	pathfs_file_add(a, f, pathfs_node(a, node));
	pthread_mutex_unlock(&a->lock);
	*fh = (uint64_t)(uintptr_t)f;
	return 0;
}

/*
 * The store creates only new files: without O_EXCL, an existing one is
 * opened instead, and one that went between the two is created after all
 * (a few times at most: another client may be at it too).
 */
static int pathfs_create_at(struct pathfs_vol *a, const char *path,
			    int flags, mode_t mode,
			    const struct volfs_caller *who, uint64_t *fh)
{
	int rc = 0;

	for (int i = 0; i < 3; i++) {
		rc = a->ops->create_file(a->vol, path, flags, mode, who, fh);
		if (rc != -EEXIST || (flags & O_EXCL))
			break;
		rc = a->ops->open_file(a->vol, path,
				       flags & ~(O_CREAT | O_EXCL), fh);
		if (rc != -ENOENT)
			break;
	}
	return rc;
}

int pathfs_create_file(void *vol, uint64_t parent, const char *name,
		       int flags, mode_t mode, const struct volfs_caller *who,
		       struct volfs_entry *e, uint64_t *fh)
{
	struct pathfs_vol *a = vol;
	struct pathfs_node *fresh = pathfs_node_new(name), *n;
	struct pathfs_file *f = calloc(1, sizeof(*f));
	char path[PATH_MAX];
	uint64_t moves;
	int rc = -ENOMEM, try = 0;

	if (!fresh || !f)
		goto out;
	for (;; try++) {
		rc = pathfs_name_path(a, parent, name, path, &moves);
		if (rc == 0)
			rc = pathfs_create_at(a, path, flags, mode, who,
					      &f->inner);
		if (!pathfs_again(a, rc, moves, try))
			break;
	}
	if (rc)
		goto out;
	/* With the handle: a store answers a file it just made without a
	 * round trip. */
	rc = a->ops->getattr(a->vol, path, f->inner, &e->st);
	if (rc) {
		a->ops->release(a->vol, f->inner);
		goto out;
	}
	pthread_mutex_lock(&a->lock);
	n = pathfs_hold(a, pathfs_node(a, parent), name, &fresh);
	e->node = pathfs_id(a, n);
	pathfs_file_add(a, f, n);
	pthread_mutex_unlock(&a->lock);
	*fh = (uint64_t)(uintptr_t)f;
	f = NULL;
out:
	pathfs_unpin(a, try);
	pathfs_node_free(fresh);
	free(f);
	return rc;
}

ssize_t pathfs_read(void *vol, uint64_t fh, void *buf, size_t size,
		    off_t off)
{
	struct pathfs_vol *a = vol;

	return a->ops->read(a->vol, pathfs_inner(fh), buf, size, off);
}

ssize_t pathfs_write(void *vol, uint64_t fh, const void *buf, size_t size,
		     off_t off)
{
	struct pathfs_vol *a = vol;

	return a->ops->write(a->vol, pathfs_inner(fh), buf, size, off);
}

int pathfs_flush(void *vol, uint64_t fh)
{
	struct pathfs_vol *a = vol;

	return a->ops->flush(a->vol, pathfs_inner(fh));
}

int pathfs_fsync(void *vol, uint64_t fh, int datasync)
{
	struct pathfs_vol *a = vol;

	return a->ops->fsync(a->vol, pathfs_inner(fh), datasync);
}

int pathfs_release(void *vol, uint64_t fh)
{
	struct pathfs_vol *a = vol;
	struct pathfs_file *f = (struct pathfs_file *)(uintptr_t)fh;
	struct pathfs_file **pp;
	int rc;

	pthread_mutex_lock(&a->lock);
	for (pp = &f->node->files; *pp != f; pp = &(*pp)->next)
		;
	*pp = f->next;
	while (f->users)
		pthread_cond_wait(&a->unused, &a->lock);
	pathfs_unref(a, f->node, 1);
	pthread_mutex_unlock(&a->lock);
	rc = a->ops->release(a->vol, f->inner);
	free(f);
	return rc;
}

int pathfs_fd(void *vol, uint64_t fh)
{
	struct pathfs_vol *a = vol;

	return a->ops->fd(a->vol, pathfs_inner(fh));
}

int pathfs_fallocate(void *vol, uint64_t fh, int mode, off_t off, off_t len)
{
	struct pathfs_vol *a = vol;

	return a->ops->fallocate(a->vol, pathfs_inner(fh), mode, off, len);
}

off_t pathfs_lseek(void *vol, uint64_t fh, off_t off, int whence)
{
	struct pathfs_vol *a = vol;

	return a->ops->lseek(a->vol, pathfs_inner(fh), off, whence);
}

int pathfs_setxattr(void *vol, uint64_t node, const char *name,
		    const void *value, size_t size, int flags)
{
	struct pathfs_vol *a = vol;
	struct pathfs_at at;
	int rc;

	PATHFS_NODE_OP(a, node, VOLFS_NO_FH, 0, at, rc,
		       a->ops->setxattr(a->vol, at.path, name, value, size,
					flags));
	return rc;
}

ssize_t pathfs_getxattr(void *vol, uint64_t node, const char *name,
			void *value, size_t size)
{
	struct pathfs_vol *a = vol;
	struct pathfs_at at;
	ssize_t rc;

	PATHFS_NODE_OP(a, node, VOLFS_NO_FH, 0, at, rc,
		       a->ops->getxattr(a->vol, at.path, name, value, size));
	return rc;
}

ssize_t pathfs_listxattr(void *vol, uint64_t node, char *list, size_t size)
{
	struct pathfs_vol *a = vol;
	struct pathfs_at at;
	ssize_t rc;

	PATHFS_NODE_OP(a, node, VOLFS_NO_FH, 0, at, rc,
		       a->ops->listxattr(a->vol, at.path, list, size));
	return rc;
}

int pathfs_removexattr(void *vol, uint64_t node, const char *name)
{
	struct pathfs_vol *a = vol;
	struct pathfs_at at;
	int rc;

	PATHFS_NODE_OP(a, node, VOLFS_NO_FH, 0, at, rc,
		       a->ops->removexattr(a->vol, at.path, name));
	return rc;
}
