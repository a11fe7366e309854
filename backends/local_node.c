/* SPDX-License-Identifier: MIT */
/*
 * The local backend's nodes, and the ops that find, make and remove names.
 *
 * A name is resolved in its parent's descriptor only: fstatat() and
 * openat() of the one component with AT_SYMLINK_NOFOLLOW / O_PATH |
 * O_NOFOLLOW, which never follow a link and never leave the directory.  The file's
 * (st_dev, st_ino) finds the node the core already holds for it, whichever
 * of its hard links it was reached by; otherwise the descriptor becomes a
 * new node's.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "volfs/backend.h"
#include "local.h"
#include "local_int.h"

_Static_assert(VOLFS_RENAME_NOREPLACE == RENAME_NOREPLACE &&
		       VOLFS_RENAME_EXCHANGE == RENAME_EXCHANGE,
	       "rename flags are passed to renameat2() unchanged");

/* The fewest hash chains; the table doubles past one node a chain and
 * halves below one node per eight chains. */
#define LOCAL_HASH_MIN 256
/* create_file() without O_EXCL: attempts while the name comes and goes
 * between the create that finds it and the open that misses it. */
#define LOCAL_CREATE_TRIES 8

/* A file handle of name_to_handle_at(), with room for the largest. */
union local_handle {
	struct file_handle fh;
	char room[sizeof(struct file_handle) + MAX_HANDLE_SZ];
};

static size_t local_hash(dev_t dev, ino_t ino, size_t nbuckets)
{
	uint64_t h =
		(uint64_t)ino ^ ((uint64_t)dev << 40 | (uint64_t)dev >> 24);

	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h ^ h >> 32) & (nbuckets - 1);
}

int local_nodes_init(struct local_vol *lv)
{
	lv->hash = calloc(LOCAL_HASH_MIN, sizeof(*lv->hash));
	if (!lv->hash)
		return -ENOMEM;
	lv->nbuckets = LOCAL_HASH_MIN;
	lv->count = 0;
	pthread_mutex_init(&lv->lock, NULL);
	return 0;
}

/* Frees the nodes left (the core has given every reference back, but a
 * volume closed in an error path may not have). */
void local_nodes_free(struct local_vol *lv)
{
	struct local_node *n, *next;

	for (size_t i = 0; i < lv->nbuckets; i++) {
		for (n = lv->hash[i]; n; n = next) {
			next = n->next;
			close(n->fd);
			free(n);
		}
	}
	free(lv->hash);
	pthread_mutex_destroy(&lv->lock);
}

/* Spreads the nodes over nbuckets chains (lock held); leaves them as they
 * are when memory is short, which only makes the chains longer. */
static void local_rehash(struct local_vol *lv, size_t nbuckets)
{
	struct local_node **hash, *n, *next;
	size_t h;

	hash = calloc(nbuckets, sizeof(*hash));
	if (!hash)
		return;
	for (size_t i = 0; i < lv->nbuckets; i++) {
		for (n = lv->hash[i]; n; n = next) {
			next = n->next;
			h = local_hash(n->dev, n->ino, nbuckets);
			n->next = hash[h];
			hash[h] = n;
		}
	}
	free(lv->hash);
	lv->hash = hash;
	lv->nbuckets = nbuckets;
}

/* Where the node of (dev, ino) is in its chain, or would go (lock held). */
static struct local_node **local_slot(struct local_vol *lv, dev_t dev,
				      ino_t ino)
{
	struct local_node **p = &lv->hash[local_hash(dev, ino, lv->nbuckets)];

	while (*p && ((*p)->dev != dev || (*p)->ino != ino))
		p = &(*p)->next;
	return p;
}

/*
 * Hands over in *e the node of the file st describes, taking fd, an O_PATH
 * descriptor of that file: the node the core holds already (and fd is
 * closed), else a new node that keeps fd.  The root is VOLFS_ROOT_NODE
 * whichever way it is reached (a handle, a bind mount of it below itself).
 */
static int local_node_enter(struct local_vol *lv, int fd, const struct stat *st,
			    struct volfs_entry *e)
{
	struct local_node *n, **p;

	e->st = *st;
	if (st->st_dev == lv->rootdev && st->st_ino == lv->rootino) {
		close(fd);
		e->node = VOLFS_ROOT_NODE;
		return 0;
	}
	/* Allocated before taking the lock, to keep it short. */
	n = malloc(sizeof(*n));
	if (!n) {
		close(fd);
		return -ENOMEM;
	}
	pthread_mutex_lock(&lv->lock);
	p = local_slot(lv, st->st_dev, st->st_ino);
	if (*p) {
		(*p)->refs++;
		e->node = (uint64_t)(uintptr_t)*p;
		pthread_mutex_unlock(&lv->lock);
		free(n);
		close(fd);
		return 0;
	}
	n->next = NULL;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->fd = fd;
	n->type = st->st_mode & S_IFMT;
	n->refs = 1;
	*p = n;
	if (++lv->count > lv->nbuckets)
		local_rehash(lv, lv->nbuckets * 2);
	pthread_mutex_unlock(&lv->lock);
	e->node = (uint64_t)(uintptr_t)n;
	return 0;
}

/* One more reference to node, which the caller holds one of. */
static void local_node_hold(struct local_vol *lv, uint64_t node)
{
	if (node == VOLFS_ROOT_NODE)
		return;
	pthread_mutex_lock(&lv->lock);
	local_node_of(node)->refs++;
	pthread_mutex_unlock(&lv->lock);
}

void local_forget(void *vol, uint64_t node, uint64_t n)
{
	struct local_vol *lv = vol;
	struct local_node *ln = local_node_of(node), **p;

	if (node == VOLFS_ROOT_NODE || n == 0)
		return;
	pthread_mutex_lock(&lv->lock);
	if (ln->refs > n) {
		ln->refs -= n;
		pthread_mutex_unlock(&lv->lock);
		return;
	}
	p = local_slot(lv, ln->dev, ln->ino);
	*p = ln->next;
	lv->count--;
	if (lv->nbuckets > LOCAL_HASH_MIN && lv->count < lv->nbuckets / 8)
		local_rehash(lv, lv->nbuckets / 2);
	pthread_mutex_unlock(&lv->lock);
	close(ln->fd);
	free(ln);
}

/*
 * A file the core holds already (most lookups, when the kernel's caches
 * are short) costs one fstatat(): its node is found by the (st_dev,
 * st_ino) the name has now.  Only a file new to the core is opened, and
 * stated again through its descriptor, which is what the node keeps.
 */
int local_lookup_at(struct local_vol *lv, int dirfd, const char *name,
		    struct volfs_entry *e)
{
	struct local_node *n;
	struct stat st;
	int fd, rc;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (st.st_dev == lv->rootdev && st.st_ino == lv->rootino) {
		e->st = st;
		e->node = VOLFS_ROOT_NODE;
		return 0;
	}
	pthread_mutex_lock(&lv->lock);
	n = *local_slot(lv, st.st_dev, st.st_ino);
	if (n)
		n->refs++;
	pthread_mutex_unlock(&lv->lock);
	if (n) {
		e->st = st;
		e->node = (uint64_t)(uintptr_t)n;
		return 0;
	}
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return local_node_enter(lv, fd, &st, e);
}

int local_lookup(void *vol, uint64_t parent, const char *name,
		 struct volfs_entry *e)
{
	struct local_vol *lv = vol;

	return local_lookup_at(lv, local_node_fd(lv, parent), name, e);
}

/*
 * Gives a new object to its caller: fd is a descriptor of it (O_PATH or
 * open), dirfd its directory's.  Only root can; otherwise the kernel's
 * choice stands.  In a set-group-ID directory the object keeps the group
 * it inherited.
 */
static int local_own(struct local_vol *lv, int dirfd, int fd, mode_t mode,
		     const struct volfs_caller *who)
{
	char proc[LOCAL_PROC_MAX];
	struct stat st;
	gid_t gid;

	if (!lv->chown_new || !who)
		return 0;
	/* Made by us as the caller's ids: the kernel got it right. */
	if (who->uid == lv->euid && who->gid == lv->egid)
		return 0;
	if (fstat(dirfd, &st) < 0)
		return -errno;
	gid = (st.st_mode & S_ISGID) ? (gid_t)-1 : who->gid;
	if (who->uid == lv->euid && gid == (gid_t)-1)
		return 0;
	if (fchownat(fd, "", who->uid, gid,
		     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* chown() clears the set-user-ID and set-group-ID bits of a file;
	 * the caller asked for them. */
	if ((mode & (S_ISUID | S_ISGID)) && fstat(fd, &st) == 0 &&
	    !S_ISLNK(st.st_mode) &&
	    (st.st_mode & (S_ISUID | S_ISGID)) !=
		    (mode & (S_ISUID | S_ISGID))) {
		local_proc(proc, fd);
		if (chmod(proc, (st.st_mode & 07777) |
					(mode & (S_ISUID | S_ISGID))) < 0)
			return -errno;
	}
	return 0;
}

/*
 * After name was made in dirfd (mknodat, mkdirat, symlinkat): gives it to
 * the caller and hands its node over in *e.  If that fails, it removes the
 * new object again (rmflags for unlinkat), so that the op leaves nothing.
 */
static int local_made(struct local_vol *lv, int dirfd, const char *name,
		      mode_t mode, const struct volfs_caller *who, int rmflags,
		      struct volfs_entry *e)
{
	struct stat st;
	int fd, rc;

	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto err_remove;
	}
	rc = local_own(lv, dirfd, fd, mode, who);
	if (rc)
		goto err_close;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto err_close;
	}
	rc = local_node_enter(lv, fd, &st, e);
	if (rc)
		goto err_remove;
	return 0;

err_close:
	close(fd);
err_remove:
	unlinkat(dirfd, name, rmflags);
	return rc;
}

int local_mknod(void *vol, uint64_t parent, const char *name, mode_t mode,
		dev_t rdev, const struct volfs_caller *who,
		struct volfs_entry *e)
{
	struct local_vol *lv = vol;
	int dirfd = local_node_fd(lv, parent);

	if (mknodat(dirfd, name, mode, rdev) < 0)
		return -errno;
	return local_made(lv, dirfd, name, mode, who, 0, e);
}

int local_mkdir(void *vol, uint64_t parent, const char *name, mode_t mode,
		const struct volfs_caller *who, struct volfs_entry *e)
{
	struct local_vol *lv = vol;
	int dirfd = local_node_fd(lv, parent);

	if (mkdirat(dirfd, name, mode) < 0)
		return -errno;
	/* chown() keeps a directory's set-group-ID bit: nothing to restore. */
	return local_made(lv, dirfd, name, 0, who, AT_REMOVEDIR, e);
}

int local_symlink(void *vol, const char *target, uint64_t parent,
		  const char *name, const struct volfs_caller *who,
		  struct volfs_entry *e)
{
	struct local_vol *lv = vol;
	int dirfd = local_node_fd(lv, parent);

	if (symlinkat(target, dirfd, name) < 0)
		return -errno;
	return local_made(lv, dirfd, name, 0, who, 0, e);
}

int local_link(void *vol, uint64_t node, uint64_t newparent,
	       const char *newname, struct volfs_entry *e)
{
	struct local_vol *lv = vol;
	int fd = local_node_fd(lv, node), dirfd = local_node_fd(lv, newparent);
	char proc[LOCAL_PROC_MAX];
	struct stat st;
	int rc;

	/*
	 * Linking a descriptor needs CAP_DAC_READ_SEARCH, without which it
	 * fails with ENOENT.  Then its /proc link, followed, reaches the same
	 * file (a symlink itself: what the link leads to is not followed).
	 */
	if (linkat(fd, "", dirfd, newname, AT_EMPTY_PATH) < 0) {
		if (errno != ENOENT)
			return -errno;
		local_proc(proc, fd);
		if (linkat(AT_FDCWD, proc, dirfd, newname, AT_SYMLINK_FOLLOW) <
		    0)
			return -errno;
	}
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		unlinkat(dirfd, newname, 0);
		return rc;
	}
	local_node_hold(lv, node);
	e->node = node;
	e->st = st;
	return 0;
}

void local_node_opened(struct local_vol *lv, uint64_t node)
{
	if (!lv->reclaim || node == VOLFS_ROOT_NODE)
		return;
	pthread_mutex_lock(&lv->lock);
	local_node_of(node)->nopen++;
	pthread_mutex_unlock(&lv->lock);
}

/*
 * Empties the regular file st described (before its name went) when no
 * name and no open handle of it is left: only the node's O_PATH
 * descriptor still holds it, and nothing can open it again.
 */
static void local_reclaim(struct local_vol *lv, const struct stat *st)
{
	char proc[LOCAL_PROC_MAX];
	struct local_node *n;
	struct stat now;
	int fd = -1;

	if (!S_ISREG(st->st_mode) || st->st_nlink > 1)
		return;
	pthread_mutex_lock(&lv->lock);
	n = *local_slot(lv, st->st_dev, st->st_ino);
	if (n && !n->nopen && fstat(n->fd, &now) == 0 && now.st_nlink == 0) {
		/* Under the lock: the node stays while the core may forget
		 * it meanwhile. */
		local_proc(proc, n->fd);
		fd = open(proc, O_WRONLY | O_CLOEXEC);
	}
	pthread_mutex_unlock(&lv->lock);
	/* Should it fail, the data goes when the core forgets the node. */
	if (fd >= 0) {
		if (ftruncate(fd, 0) < 0)
			(void)0;
		close(fd);
	}
}

void local_release_reclaim(struct local_vol *lv, int fd)
{
	struct local_node *n;
	struct stat st;
	int last = 0;

	if (!lv->reclaim || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	pthread_mutex_lock(&lv->lock);
	n = *local_slot(lv, st.st_dev, st.st_ino);
	if (n && n->nopen && --n->nopen == 0)
		last = st.st_nlink == 0;
	pthread_mutex_unlock(&lv->lock);
	/* Nothing else can open a file without a name and handles.  Should
	 * it fail, the data goes when the core forgets the node. */
	if (last && ftruncate(fd, 0) < 0)
		(void)0;
}

int local_unlink(void *vol, uint64_t parent, const char *name)
{
	struct local_vol *lv = vol;
	int dirfd = local_node_fd(lv, parent);
	struct stat st;

	if (lv->reclaim && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (unlinkat(dirfd, name, 0) < 0)
		return -errno;
	if (lv->reclaim)
		local_reclaim(lv, &st);
	return 0;
}

int local_rmdir(void *vol, uint64_t parent, const char *name)
{
	if (unlinkat(local_node_fd(vol, parent), name, AT_REMOVEDIR) < 0)
		return -errno;
	return 0;
}

int local_rename(void *vol, uint64_t parent, const char *name,
		 uint64_t newparent, const char *newname, unsigned flags)
{
	struct local_vol *lv = vol;
	int todir = local_node_fd(lv, newparent);
	struct stat st;
	int replaced;

	/* The file a rename replaces loses a name too. */
	replaced = lv->reclaim && !(flags & VOLFS_RENAME_EXCHANGE) &&
		   fstatat(todir, newname, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (renameat2(local_node_fd(lv, parent), name, todir, newname, flags) <
	    0)
		return -errno;
	if (replaced)
		local_reclaim(lv, &st);
	return 0;
}

/*
 * Creates name, or opens it when it exists and O_EXCL is not asked, and
 * says which it did in *made.  Returns the open descriptor or -errno.
 */
static int local_create_open(int dirfd, const char *name, int flags,
			     mode_t mode, int *made)
{
	int oflags = (flags & ~(O_CREAT | O_EXCL)) | O_NOFOLLOW | O_NOCTTY |
		     O_CLOEXEC;
	int fd;

	for (int tries = 0;; tries++) {
		/* O_EXCL first, to know whether the file is new (only a new
		 * one is given to the caller). */
		fd = openat(dirfd, name, oflags | O_CREAT | O_EXCL, mode);
		if (fd >= 0) {
			*made = 1;
			return fd;
		}
		if (errno != EEXIST || (flags & O_EXCL) ||
		    tries == LOCAL_CREATE_TRIES)
			return -errno;
		fd = openat(dirfd, name, oflags);
		if (fd >= 0) {
			*made = 0;
			return fd;
		}
		if (errno != ENOENT)
			return -errno;
	}
}

int local_create_file(void *vol, uint64_t parent, const char *name, int flags,
		      mode_t mode, const struct volfs_caller *who,
		      struct volfs_entry *e, uint64_t *fh)
{
	struct local_vol *lv = vol;
	int dirfd = local_node_fd(lv, parent);
	char proc[LOCAL_PROC_MAX];
	int fd, pathfd, made = 0, rc = 0;
	struct stat st;

	fd = local_create_open(dirfd, name, flags, mode, &made);
	if (fd < 0)
		return fd;
	if (made)
		rc = local_own(lv, dirfd, fd, mode, who);
	if (!rc && fstat(fd, &st) < 0)
		rc = -errno;
	/* open(O_CREAT) of a directory fails, as it would on the host. */
	if (!rc && S_ISDIR(st.st_mode))
		rc = -EISDIR;
	if (rc)
		goto err_close;
	/* The node's descriptor, of the very file opened whatever happened
	 * to its name since. */
	local_proc(proc, fd);
	pathfd = open(proc, O_PATH | O_CLOEXEC);
	if (pathfd < 0) {
		rc = -errno;
		goto err_close;
	}
	rc = local_node_enter(lv, pathfd, &st, e);
	if (rc)
		goto err_close;
	local_node_opened(lv, e->node);
	*fh = (uint64_t)fd;
	return 0;

err_close:
	close(fd);
	if (made)
		unlinkat(dirfd, name, 0);
	return rc;
}

/*
 * A node's durable identity is its file handle, as the bytes of its
 * handle_type followed by the handle's own.
 */
int local_node_encode(void *vol, uint64_t node, void *buf, size_t *len)
{
	union local_handle h;
	int type, mount_id;
	size_t need;

	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(local_node_fd(vol, node), "", &h.fh, &mount_id,
			      AT_EMPTY_PATH) < 0)
		return -errno;
	need = sizeof(type) + h.fh.handle_bytes;
	if (*len < need) {
		*len = need;
		return -EOVERFLOW;
	}
	type = h.fh.handle_type;
	memcpy(buf, &type, sizeof(type));
	memcpy((char *)buf + sizeof(type), h.fh.f_handle, h.fh.handle_bytes);
	*len = need;
	return 0;
}

/*
 * Takes only what node_encode() gave, as the core keeps it in its own
 * state: a file handle can name any file of the file system, so one made
 * up elsewhere could reach outside the volume.  A file that is gone is
 * -ESTALE, from the kernel.
 */
int local_node_decode(void *vol, const void *buf, size_t len,
		      struct volfs_entry *e)
{
	struct local_vol *lv = vol;
	union local_handle h;
	struct stat st;
	int type, mfd, fd, rc;

	if (len < sizeof(type) || len - sizeof(type) > MAX_HANDLE_SZ)
		return -EINVAL;
	memcpy(&type, buf, sizeof(type));
	h.fh.handle_type = type;
	h.fh.handle_bytes = (unsigned)(len - sizeof(type));
	memcpy(h.fh.f_handle, (const char *)buf + sizeof(type),
	       h.fh.handle_bytes);
	/* open_by_handle_at() takes its file system from a descriptor that
	 * is not O_PATH, as the root's is. */
	mfd = openat(lv->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return -errno;
	fd = open_by_handle_at(mfd, &h.fh, O_PATH | O_CLOEXEC);
	rc = fd < 0 ? -errno : 0;
	close(mfd);
	if (rc)
		return rc;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return local_node_enter(lv, fd, &st, e);
}
