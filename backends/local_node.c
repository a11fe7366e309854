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
 *
 * A descriptor the kernel numbers past the volume's budget (node_fds in
 * struct local_vol) is traded for the file's handle, and ops open the file
 * from it for their call: a listing of a million files makes a million
 * nodes, which the process's open-file limit would not allow.  A node with
 * a handle does not keep its inode: once the file is deleted, the inode
 * number may be a new file's, so such a node found by (st_dev, st_ino) is
 * the file only when the handle of the name is the node's.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
 * between the create that finds it and the open that misses it.  A lookup
 * without a descriptor to spare: attempts while the name changes between
 * the calls that read its handle and its attributes. */
#define LOCAL_CREATE_TRIES 8
#define LOCAL_HANDLE_TRIES 8
/* The fewest descriptors the node budget leaves to the rest of the
 * process (an eighth of the limit when that is more). */
#define LOCAL_FD_RESERVE 1024

/* A file handle of name_to_handle_at(), with room for the largest. */
union local_handle {
	struct file_handle fh;
	char room[sizeof(struct file_handle) + MAX_HANDLE_SZ];
};

/* The handle of name in dirfd, never following a symlink, or with name ""
 * of the file dirfd is itself. */
static int local_handle_of(int dirfd, const char *name, union local_handle *h)
{
	int mount_id;

	h->fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(dirfd, name, &h->fh, &mount_id,
			      *name ? 0 : AT_EMPTY_PATH) < 0)
		return -errno;
	return 0;
}

static struct file_handle *local_node_handle(struct local_node *n)
{
	return (struct file_handle *)n->handle;
}

static int local_handle_eq(struct local_node *n, const struct file_handle *h)
{
	const struct file_handle *nh = local_node_handle(n);

	return nh->handle_type == h->handle_type &&
	       nh->handle_bytes == h->handle_bytes &&
	       memcmp(nh->f_handle, h->f_handle, h->handle_bytes) == 0;
}

/*
 * Whether a handle can stand for the file st describes: handles work in
 * the volume, and the file is on the root's file system, whose root
 * descriptor (mntfd) open_by_handle_at() decodes them with.
 */
static int local_handle_usable(const struct local_vol *lv,
			       const struct stat *st)
{
	return lv->mntfd >= 0 && st->st_dev == lv->rootdev;
}

int local_node_open(const struct local_vol *lv, struct local_node *n)
{
	int fd = open_by_handle_at(lv->mntfd, local_node_handle(n),
				   O_PATH | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/*
 * A node with a handle opens it with flags in one call.  Otherwise the
 * /proc link of its descriptor, followed, reaches exactly its file and
 * goes no further: a symlink fails with ELOOP, as it does from a handle.
 */
int local_node_reopen(const struct local_vol *lv, uint64_t node, int flags)
{
	char proc[LOCAL_PROC_MAX];
	int fd;

	if (node != VOLFS_ROOT_NODE && local_node_of(node)->fd < 0) {
		fd = open_by_handle_at(lv->mntfd,
				       local_node_handle(local_node_of(node)),
				       flags);
	} else {
		local_proc(proc, local_fd_get(lv, node));
		fd = open(proc, flags);
	}
	return fd < 0 ? -errno : fd;
}

/*
 * The node budget of struct local_vol: the soft limit of open files less
 * an eighth of it, and at least LOCAL_FD_RESERVE less.
 * VOLFS_LOCAL_NODE_FDS=N, a knob for tests, sets it instead (0: every
 * node has a handle, where handles work).
 */
static int local_node_budget(void)
{
	const char *knob = getenv("VOLFS_LOCAL_NODE_FDS");
	struct rlimit rl;
	rlim_t reserve;
	char *end;
	long n;

	if (knob && *knob) {
		errno = 0;
		n = strtol(knob, &end, 10);
		if (!*end && !errno && n >= 0 && n <= INT_MAX)
			return (int)n;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return INT_MAX;
	reserve = rl.rlim_cur / 8 > LOCAL_FD_RESERVE ? rl.rlim_cur / 8
						     : LOCAL_FD_RESERVE;
	if (rl.rlim_cur <= reserve)
		return 0;
	return rl.rlim_cur - reserve > INT_MAX ? INT_MAX
					       : (int)(rl.rlim_cur - reserve);
}

/*
 * Opens lv->mntfd, when a handle of the root opens the root again:
 * open_by_handle_at() needs CAP_DAC_READ_SEARCH, and some file systems
 * have no handles.  Otherwise mntfd is why not, and nodes keep
 * descriptors.
 */
static void local_handles_init(struct local_vol *lv)
{
	union local_handle h;
	int fd, rc;

	lv->mntfd = openat(lv->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lv->mntfd < 0) {
		lv->mntfd = -errno;
		return;
	}
	rc = local_handle_of(lv->rootfd, "", &h);
	if (!rc) {
		fd = open_by_handle_at(lv->mntfd, &h.fh, O_PATH | O_CLOEXEC);
		if (fd < 0)
			rc = -errno;
		else
			close(fd);
	}
	if (rc) {
		close(lv->mntfd);
		lv->mntfd = rc;
	}
}

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
	lv->gone = NULL;
	lv->node_fds = local_node_budget();
	local_handles_init(lv);
	pthread_mutex_init(&lv->lock, NULL);
	return 0;
}

/* A node with one reference: with fd, or with handle h when fd is -1. */
static struct local_node *local_node_new(int fd, const struct file_handle *h,
					 const struct stat *st)
{
	size_t hsize = fd < 0 ? sizeof(*h) + h->handle_bytes : 0;
	struct local_node *n = malloc(sizeof(*n) + hsize);

	if (!n)
		return NULL;
	n->next = NULL;
	n->dev = st->st_dev;
	n->ino = st->st_ino;
	n->refs = 1;
	n->nopen = 0;
	n->fd = fd;
	n->type = st->st_mode & S_IFMT;
	if (hsize)
		memcpy(n->handle, h, hsize);
	return n;
}

static void local_node_free(struct local_node *n)
{
	if (n->fd >= 0)
		close(n->fd);
	free(n);
}

static void local_list_free(struct local_node *n)
{
	struct local_node *next;

	for (; n; n = next) {
		next = n->next;
		local_node_free(n);
	}
}

/* Frees the nodes left (the core has given every reference back, but a
 * volume closed in an error path may not have). */
void local_nodes_free(struct local_vol *lv)
{
	for (size_t i = 0; i < lv->nbuckets; i++)
		local_list_free(lv->hash[i]);
	local_list_free(lv->gone);
	free(lv->hash);
	if (lv->mntfd >= 0)
		close(lv->mntfd);
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

/* Takes n out of the list at *p: 1, or 0 when it is not there. */
static int local_take(struct local_node **p, struct local_node *n)
{
	while (*p && *p != n)
		p = &(*p)->next;
	if (!*p)
		return 0;
	*p = n->next;
	return 1;
}

/*
 * Hands over in *e the node of the file st describes: the node the core
 * holds already, else a new one.  fd is an O_PATH descriptor of the file,
 * which this takes (a new node keeps it while the budget allows), or -1;
 * h is the file's handle, or NULL (then fd is open).  The root is
 * VOLFS_ROOT_NODE whichever way it is reached (a handle, a bind mount of
 * it below itself).
 */
static int local_node_enter(struct local_vol *lv, int fd,
			    const struct file_handle *h, const struct stat *st,
			    struct volfs_entry *e)
{
	struct local_node *n, *old, **p;
	union local_handle own;
	int rc;

	e->st = *st;
	if (st->st_dev == lv->rootdev && st->st_ino == lv->rootino) {
		if (fd >= 0)
			close(fd);
		e->node = VOLFS_ROOT_NODE;
		return 0;
	}
	if (fd >= lv->node_fds && local_handle_usable(lv, st)) {
		if (!h && local_handle_of(fd, "", &own) == 0)
			h = &own.fh;
		if (h) {
			close(fd);
			fd = -1;
		}
	}
	/* Allocated before taking the lock, to keep it short. */
	n = local_node_new(fd, h, st);
	if (!n) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	for (;;) {
		pthread_mutex_lock(&lv->lock);
		p = local_slot(lv, st->st_dev, st->st_ino);
		old = *p;
		if (!old)
			break;
		if (old->fd >= 0 || (h && local_handle_eq(old, h))) {
			old->refs++;
			pthread_mutex_unlock(&lv->lock);
			local_node_free(n);
			e->node = (uint64_t)(uintptr_t)old;
			return 0;
		}
		if (h) {
			/* old's file is gone, and its inode number this
			 * file's: old stays, for its ops to fail, until the
			 * core forgets it. */
			*p = old->next;
			old->next = lv->gone;
			lv->gone = old;
			lv->count--;
			break;
		}
		pthread_mutex_unlock(&lv->lock);
		/* Whether old is this file: by the handle of n's
		 * descriptor, read without the lock. */
		rc = local_handle_of(fd, "", &own);
		if (rc) {
			local_node_free(n);
			return rc;
		}
		h = &own.fh;
	}
	n->next = *p;
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
	/* Another node may have (dev, ino) now: ln itself is taken out. */
	p = &lv->hash[local_hash(ln->dev, ln->ino, lv->nbuckets)];
	if (local_take(p, ln)) {
		lv->count--;
		if (lv->nbuckets > LOCAL_HASH_MIN &&
		    lv->count < lv->nbuckets / 8)
			local_rehash(lv, lv->nbuckets / 2);
	} else {
		local_take(&lv->gone, ln);
	}
	pthread_mutex_unlock(&lv->lock);
	local_node_free(ln);
}

/*
 * Whether n, a node with a handle found by the (st_dev, st_ino) name had,
 * is the file of name: the handle of name is n's.  Then name named n's
 * file all along (an inode number is no other file's while the file
 * lives).
 */
static int local_is_named(struct local_node *n, int dirfd, const char *name)
{
	union local_handle h;

	return local_handle_of(dirfd, name, &h) == 0 &&
	       local_handle_eq(n, &h.fh);
}

/*
 * A new node for name, which had the attributes *st, when no descriptor
 * is left to open it: its handle, taken between two fstatat() that find
 * the same inode with the same change time (a rename between would have
 * changed it).
 */
static int local_lookup_handle(struct local_vol *lv, int dirfd,
			       const char *name, struct stat *st,
			       struct volfs_entry *e)
{
	union local_handle h;
	struct stat now;
	int rc;

	for (int tries = 0; tries < LOCAL_HANDLE_TRIES; tries++) {
		rc = local_handle_of(dirfd, name, &h);
		if (rc)
			return rc;
		if (fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (now.st_dev == st->st_dev && now.st_ino == st->st_ino &&
		    now.st_ctim.tv_sec == st->st_ctim.tv_sec &&
		    now.st_ctim.tv_nsec == st->st_ctim.tv_nsec)
			return local_node_enter(lv, -1, &h.fh, &now, e);
		if (!local_handle_usable(lv, &now))
			break;
		*st = now;
	}
	return -EMFILE;
}

/*
 * A file the core holds already (most lookups, when the kernel's caches
 * are short) costs one fstatat(): its node is found by the (st_dev,
 * st_ino) the name has now, and a node with a handle is checked by the
 * name's handle.  Only a file new to the core is opened, and stated again
 * through its descriptor, which is what the node keeps.
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
	if (n && (n->fd >= 0 || local_is_named(n, dirfd, name))) {
		e->st = st;
		e->node = (uint64_t)(uintptr_t)n;
		return 0;
	}
	/* Not n's file, or the name changed meanwhile: opened as new. */
	if (n)
		local_forget(lv, (uint64_t)(uintptr_t)n, 1);
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if ((rc == -EMFILE || rc == -ENFILE) &&
		    local_handle_usable(lv, &st))
			return local_lookup_handle(lv, dirfd, name, &st, e);
		return rc;
	}
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return local_node_enter(lv, fd, NULL, &st, e);
}

int local_lookup(void *vol, uint64_t parent, const char *name,
		 struct volfs_entry *e)
{
	struct local_vol *lv = vol;
	int dirfd = local_fd_get(lv, parent);
	int rc;

	if (dirfd < 0)
		return dirfd;
	rc = local_lookup_at(lv, dirfd, name, e);
	local_fd_put(parent, dirfd);
	return rc;
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
	rc = local_node_enter(lv, fd, NULL, &st, e);
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
	int dirfd = local_fd_get(lv, parent);
	int rc;

	if (dirfd < 0)
		return dirfd;
	if (mknodat(dirfd, name, mode, rdev) < 0)
		rc = -errno;
	else
		rc = local_made(lv, dirfd, name, mode, who, 0, e);
	local_fd_put(parent, dirfd);
	return rc;
}

int local_mkdir(void *vol, uint64_t parent, const char *name, mode_t mode,
		const struct volfs_caller *who, struct volfs_entry *e)
{
	struct local_vol *lv = vol;
	int dirfd = local_fd_get(lv, parent);
	int rc;

	if (dirfd < 0)
		return dirfd;
	/* chown() keeps a directory's set-group-ID bit: nothing to restore. */
	if (mkdirat(dirfd, name, mode) < 0)
		rc = -errno;
	else
		rc = local_made(lv, dirfd, name, 0, who, AT_REMOVEDIR, e);
	local_fd_put(parent, dirfd);
	return rc;
}

int local_symlink(void *vol, const char *target, uint64_t parent,
		  const char *name, const struct volfs_caller *who,
		  struct volfs_entry *e)
{
	struct local_vol *lv = vol;
	int dirfd = local_fd_get(lv, parent);
	int rc;

	if (dirfd < 0)
		return dirfd;
	if (symlinkat(target, dirfd, name) < 0)
		rc = -errno;
	else
		rc = local_made(lv, dirfd, name, 0, who, 0, e);
	local_fd_put(parent, dirfd);
	return rc;
}

/* Links the file of fd as newname in dirfd; returns its attributes. */
static int local_link_at(int fd, int dirfd, const char *newname,
			 struct stat *st)
{
	char proc[LOCAL_PROC_MAX];
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
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		unlinkat(dirfd, newname, 0);
		return rc;
	}
	return 0;
}

int local_link(void *vol, uint64_t node, uint64_t newparent,
	       const char *newname, struct volfs_entry *e)
{
	struct local_vol *lv = vol;
	struct stat st;
	int fd, dirfd, rc;

	fd = local_fd_get(lv, node);
	if (fd < 0)
		return fd;
	dirfd = local_fd_get(lv, newparent);
	if (dirfd < 0) {
		local_fd_put(node, fd);
		return dirfd;
	}
	rc = local_link_at(fd, dirfd, newname, &st);
	local_fd_put(newparent, dirfd);
	local_fd_put(node, fd);
	if (rc)
		return rc;
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
 * descriptor still holds it, and nothing can open it again.  A node with
 * a handle holds nothing: the kernel frees such a file itself.
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
	if (n && n->fd >= 0 && !n->nopen && fstat(n->fd, &now) == 0 &&
	    now.st_nlink == 0) {
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
	int dirfd = local_fd_get(lv, parent);
	struct stat st;
	int rc = 0;

	if (dirfd < 0)
		return dirfd;
	if (lv->reclaim && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = -errno;
	else if (unlinkat(dirfd, name, 0) < 0)
		rc = -errno;
	local_fd_put(parent, dirfd);
	if (!rc && lv->reclaim)
		local_reclaim(lv, &st);
	return rc;
}

int local_rmdir(void *vol, uint64_t parent, const char *name)
{
	int dirfd = local_fd_get(vol, parent);
	int rc = 0;

	if (dirfd < 0)
		return dirfd;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		rc = -errno;
	local_fd_put(parent, dirfd);
	return rc;
}

int local_rename(void *vol, uint64_t parent, const char *name,
		 uint64_t newparent, const char *newname, unsigned flags)
{
	struct local_vol *lv = vol;
	int fromdir, todir, replaced, rc = 0;
	struct stat st;

	fromdir = local_fd_get(lv, parent);
	if (fromdir < 0)
		return fromdir;
	/* Within one directory, its descriptor serves both names. */
	todir = newparent == parent ? fromdir : local_fd_get(lv, newparent);
	if (todir < 0) {
		local_fd_put(parent, fromdir);
		return todir;
	}
	/* The file a rename replaces loses a name too. */
	replaced = lv->reclaim && !(flags & VOLFS_RENAME_EXCHANGE) &&
		   fstatat(todir, newname, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (renameat2(fromdir, name, todir, newname, flags) < 0)
		rc = -errno;
	if (todir != fromdir)
		local_fd_put(newparent, todir);
	local_fd_put(parent, fromdir);
	if (!rc && replaced)
		local_reclaim(lv, &st);
	return rc;
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

/*
 * The node of the file open as fd, which st describes: of the very file
 * opened, whatever happened to its name since.
 */
static int local_enter_open(struct local_vol *lv, int fd, const struct stat *st,
			    struct volfs_entry *e)
{
	char proc[LOCAL_PROC_MAX];
	union local_handle h;
	int pathfd, rc;

	local_proc(proc, fd);
	pathfd = open(proc, O_PATH | O_CLOEXEC);
	if (pathfd >= 0)
		return local_node_enter(lv, pathfd, NULL, st, e);
	rc = -errno;
	/* Out of descriptors: the node has the file's handle. */
	if ((rc == -EMFILE || rc == -ENFILE) && local_handle_usable(lv, st))
		rc = local_handle_of(fd, "", &h);
	if (rc)
		return rc;
	return local_node_enter(lv, -1, &h.fh, st, e);
}

int local_create_file(void *vol, uint64_t parent, const char *name, int flags,
		      mode_t mode, const struct volfs_caller *who,
		      struct volfs_entry *e, uint64_t *fh)
{
	struct local_vol *lv = vol;
	int fd, dirfd, made = 0, rc = 0;
	struct stat st;

	dirfd = local_fd_get(lv, parent);
	if (dirfd < 0)
		return dirfd;
	fd = local_create_open(dirfd, name, flags, mode, &made);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	if (made)
		rc = local_own(lv, dirfd, fd, mode, who);
	if (!rc && fstat(fd, &st) < 0)
		rc = -errno;
	/* open(O_CREAT) of a directory fails, as it would on the host. */
	if (!rc && S_ISDIR(st.st_mode))
		rc = -EISDIR;
	if (!rc)
		rc = local_enter_open(lv, fd, &st, e);
	if (rc) {
		close(fd);
		if (made)
			unlinkat(dirfd, name, 0);
		goto out;
	}
	local_node_opened(lv, e->node);
	*fh = (uint64_t)fd;
out:
	local_fd_put(parent, dirfd);
	return rc;
}

/*
 * A node's durable identity is its file handle, as the bytes of its
 * handle_type followed by the handle's own.
 */
int local_node_encode(void *vol, uint64_t node, void *buf, size_t *len)
{
	const struct file_handle *h;
	union local_handle own;
	size_t need;
	int type, rc;

	if (node != VOLFS_ROOT_NODE && local_node_of(node)->fd < 0) {
		h = local_node_handle(local_node_of(node));
	} else {
		rc = local_handle_of(local_fd_get(vol, node), "", &own);
		if (rc)
			return rc;
		h = &own.fh;
	}
	need = sizeof(type) + h->handle_bytes;
	if (*len < need) {
		*len = need;
		return -EOVERFLOW;
	}
	type = h->handle_type;
	memcpy(buf, &type, sizeof(type));
	memcpy((char *)buf + sizeof(type), h->f_handle, h->handle_bytes);
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
	int type, fd, rc;

	if (len < sizeof(type) || len - sizeof(type) > MAX_HANDLE_SZ)
		return -EINVAL;
	/* Why handles do not work here. */
	if (lv->mntfd < 0)
		return lv->mntfd;
	memcpy(&type, buf, sizeof(type));
	h.fh.handle_type = type;
	h.fh.handle_bytes = (unsigned)(len - sizeof(type));
	memcpy(h.fh.f_handle, (const char *)buf + sizeof(type),
	       h.fh.handle_bytes);
	fd = open_by_handle_at(lv->mntfd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return local_node_enter(lv, fd, NULL, &st, e);
}
