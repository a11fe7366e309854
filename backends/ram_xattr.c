/* SPDX-License-Identifier: MIT */
/*
 * The ram backend's daemon store: extended attributes, a list per inode,
 * each charged to the volume; the names Linux allows where it allows them.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "ram_int.h"

void ram_xattr_free(struct ram_vol *v, struct ram_xattr *x)
{
	ram_uncharge(v, sizeof(*x) + x->nlen + 1 + x->vlen);
	free(x);
}

void ram_kill_caps(struct ram_vol *v, struct ram_inode *n)
{
	struct ram_xattr **xp;

	if (!n->xattrs || !S_ISREG(n->type))
		return;
	for (xp = &n->xattrs; *xp; xp = &(*xp)->next) {
		if (strcmp((*xp)->data, "security.capability") == 0) {
			struct ram_xattr *x = *xp;

			*xp = x->next;
			ram_xattr_free(v, x);
			return;
		}
	}
}

/* 0 when name is one ram stores, else the error for it. */
static int ram_xattr_name(const char *name)
{
	static const char *const prefixes[] = {"user.", "trusted.",
					       "security."};
	size_t len = name ? strlen(name) : 0;

	if (len == 0 || len > RAM_XATTR_NAME_MAX)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0 &&
		    name[strlen(prefixes[i])])
			return 0;
	return -EOPNOTSUPP;
}

/* As Linux: user.* belongs to regular files and directories only. */
static int ram_xattr_user_ok(const struct ram_inode *n, const char *name)
{
	return strncmp(name, "user.", 5) != 0 || S_ISREG(n->type) ||
	       S_ISDIR(n->type);
}

static struct ram_xattr **ram_xattr_find(struct ram_inode *n, const char *name)
{
	struct ram_xattr **xp;

	for (xp = &n->xattrs; *xp; xp = &(*xp)->next)
		if (strcmp((*xp)->data, name) == 0)
			return xp;
	return NULL;
}

int ram_setxattr(void *vol, uint64_t node, const char *name, const void *value,
		 size_t size, int flags)
{
	struct ram_vol *v = vol;
	struct ram_inode *n = ram_inode(v, node);
	struct ram_xattr **xp, *x, *old;
	uint64_t cost, oldcost = 0;
	size_t nlen;
	int rc;

	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	rc = ram_xattr_name(name);
	if (rc)
		return rc;
	if (size > RAM_XATTR_SIZE_MAX)
		return -E2BIG;
	if (size && !value)
		return -EFAULT;
	nlen = strlen(name);
	cost = sizeof(*x) + nlen + 1 + size;
	if (!ram_xattr_user_ok(n, name))
		return -EPERM;
	pthread_rwlock_wrlock(&n->lock);
	xp = ram_xattr_find(n, name);
	if (xp && (flags & XATTR_CREATE)) {
		rc = -EEXIST;
		goto out_unlock;
	}
	if (!xp && (flags & XATTR_REPLACE)) {
		rc = -ENODATA;
		goto out_unlock;
	}
	/* A replaced value is only charged what it grows by. */
	if (xp)
		oldcost = sizeof(*x) + (*xp)->nlen + 1 + (*xp)->vlen;
	if (cost > oldcost) {
		rc = ram_charge(v, cost - oldcost);
		if (rc)
			goto out_unlock;
	}
	x = malloc(cost);
	if (!x) {
		if (cost > oldcost)
			ram_uncharge(v, cost - oldcost);
		rc = -ENOMEM;
		goto out_unlock;
	}
	x->nlen = nlen;
	x->vlen = size;
	memcpy(x->data, name, nlen + 1);
	if (size)
		memcpy(x->data + nlen + 1, value, size);
	if (xp) {
		old = *xp;
		x->next = old->next;
		*xp = x;
		free(old);
		if (oldcost > cost)
			ram_uncharge(v, oldcost - cost);
	} else {
		/* At the end: listxattr in the order they were made. */
		for (xp = &n->xattrs; *xp; xp = &(*xp)->next)
			;
		x->next = NULL;
		*xp = x;
	}
	n->ctime = ram_now();
out_unlock:
	pthread_rwlock_unlock(&n->lock);
	return rc;
}

/*
 * The inode of node, its lock taken (alone when write is set), and in *xpp
 * where attribute name is in its list, NULL when it has none by that name
 * or may not have it.  0, or -errno with nothing held; end with
 * ram_xattr_done().
 */
static int ram_xattr_at(void *vol, uint64_t node, const char *name, int write,
			struct ram_inode **np, struct ram_xattr ***xpp)
{
	struct ram_inode *n = ram_inode(vol, node);
	int rc;

	rc = ram_xattr_name(name);
	if (rc)
		return rc;
	if (write)
		pthread_rwlock_wrlock(&n->lock);
	else
		pthread_rwlock_rdlock(&n->lock);
	*xpp = ram_xattr_user_ok(n, name) ? ram_xattr_find(n, name) : NULL;
	*np = n;
	return 0;
}

static void ram_xattr_done(struct ram_inode *n)
{
	pthread_rwlock_unlock(&n->lock);
}

ssize_t ram_getxattr(void *vol, uint64_t node, const char *name, void *value,
		     size_t size)
{
	struct ram_xattr **xp;
	struct ram_inode *n;
	ssize_t r;
	int rc;

	rc = ram_xattr_at(vol, node, name, 0, &n, &xp);
	if (rc)
		return rc;
	if (!xp) {
		r = -ENODATA;
	} else if (size == 0) {
		r = (ssize_t)(*xp)->vlen;
	} else if (size < (*xp)->vlen) {
		r = -ERANGE;
	} else {
		memcpy(value, (*xp)->data + (*xp)->nlen + 1, (*xp)->vlen);
		r = (ssize_t)(*xp)->vlen;
	}
	ram_xattr_done(n);
	return r;
}

ssize_t ram_listxattr(void *vol, uint64_t node, char *list, size_t size)
{
	struct ram_inode *n = ram_inode(vol, node);
	const struct ram_xattr *x;
	size_t total = 0;
	ssize_t r;

	pthread_rwlock_rdlock(&n->lock);
	for (x = n->xattrs; x; x = x->next)
		total += x->nlen + 1;
	if (size == 0) {
		r = (ssize_t)total;
	} else if (size < total) {
		r = -ERANGE;
	} else {
		r = 0;
		for (x = n->xattrs; x; x = x->next) {
			memcpy(list + r, x->data, x->nlen + 1);
			r += (ssize_t)x->nlen + 1;
		}
	}
	pthread_rwlock_unlock(&n->lock);
	return r;
}

int ram_removexattr(void *vol, uint64_t node, const char *name)
{
	struct ram_xattr **xp, *x;
	struct ram_inode *n;
	int rc;

	rc = ram_xattr_at(vol, node, name, 1, &n, &xp);
	if (rc)
		return rc;
	if (!xp) {
		rc = -ENODATA;
	} else {
		x = *xp;
		*xp = x->next;
		ram_xattr_free(vol, x);
		n->ctime = ram_now();
	}
	ram_xattr_done(n);
	return rc;
}
