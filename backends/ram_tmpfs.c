/* SPDX-License-Identifier: MIT */
/*
 * The ram backend's tmpfs store: a volume's files in a tmpfs instance of
 * its own, made with fsopen() and fsmount() and never attached to any mount
 * tree.  Only the volfs process serving the volume can reach it, through
 * the descriptor of its root that the volume keeps, and the kernel frees it
 * with that descriptor: the data lives exactly as long as the volume is
 * open in that process, as with the daemon store.
 *
 * The kernel then keeps the files: a write past size= fails with ENOSPC
 * when it is made, holes cost nothing, and memory is the page cache's.
 * Each file being a real one, the core may hand open files to the kernel
 * (FUSE passthrough), so reads and writes go to tmpfs without a trip
 * through the daemon, and pages are charged to the memory cgroup of the
 * writer, not the daemon's.  The tree is served by the local backend's ops
 * over the root.
 *
 * size= counts data and metadata together, as in the daemon store: the
 * instance's size (its data) and its inode space (nr_inodes KiB, which
 * tmpfs spends on inodes and their extended attributes) always add up to
 * size=.  The inode space starts at 64 KiB and doubles whenever a create,
 * link or setxattr finds it full, taking from the data's share what data
 * does not use; once deletes leave three quarters of it free it shrinks back,
 * so that data can have the room again.  Writes reach tmpfs without the
 * daemon and meet the data's share; only the metadata ops, which come
 * through here, move the line.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>
#ifdef HAVE_FSOPEN
#include <sys/mount.h>
#endif

#include "volfs/backend.h"
#include "volfs/backend_util.h"
#include "local.h"
#include "ram.h"

/*
 * The local ops keep the tree; the size limit is the kernel's, met at
 * each write, so the core must not gather writes in its page cache first.
 * Nothing survives the process.
 */
#define RAM_TMPFS_CAPS (VOLFS_LOCAL_TREE_CAPS | VOLFS_CAP_SIZE_LIMIT)
/*
 * What tmpfs charges an inode against nr_inodes (BOGO_INODE_SIZE), about
 * what the kernel spends on one; extended attributes are charged to the
 * same space by their size.
 */
#define RAM_TMPFS_INODE_BYTES ((uint64_t)1024)
/* The inode space a volume starts with (and never goes below). */
#define RAM_TMPFS_META_MIN (64 * RAM_TMPFS_INODE_BYTES)

/* A tmpfs-store volume: where the line between data and metadata is. */
struct ram_tmpfs_vol {
	/* The instance's root, owned by the local ops' state. */
	int rootfd;
	/* The page size, and size= in whole pages. */
	uint64_t page;
	uint64_t total;
	/* Held to move the line. */
	pthread_mutex_t lock;
	/* The inode space now, and the least it may be: whole pages, leaving
	 * at least a page of data (a tmpfs size of 0 would be no limit). */
	uint64_t meta;
	uint64_t meta_min;
	/* For what moving the line cannot say through the op's ENOSPC. */
	char *name;
	void (*log)(int level, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
};

static struct volfs_backend ram_tmpfs_table;
static pthread_once_t ram_tmpfs_once = PTHREAD_ONCE_INIT;
static const struct volfs_backend *ram_tmpfs_local;

static struct ram_tmpfs_vol *ram_tmpfs_of(void *vol)
{
	return volfs_local_owner(vol);
}

#ifdef HAVE_FSOPEN
/* One fsconfig() setting of a number, in octal or decimal; 0 or -errno. */
static int ram_tmpfs_set(int fsfd, const char *key, int octal,
			 unsigned long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), octal ? "%llo" : "%llu", v);
	if (fsconfig(fsfd, FSCONFIG_SET_STRING, key, buf, 0) < 0)
		return -errno;
	return 0;
}

/* Data gets total - meta and inodes meta: size and nr_inodes of fsfd. */
static int ram_tmpfs_set_split(int fsfd, uint64_t total, uint64_t meta)
{
	int rc = ram_tmpfs_set(fsfd, "size", 0, total - meta);

	if (!rc)
		rc = ram_tmpfs_set(fsfd, "nr_inodes", 0,
				   meta / RAM_TMPFS_INODE_BYTES);
	return rc;
}

/* Moves the line to meta (t->lock held): 0, or -ENOSPC when what is in
 * use does not fit the new shares, or another -errno. */
static int ram_tmpfs_resplit(struct ram_tmpfs_vol *t, uint64_t meta)
{
	int fd, rc;

	fd = fspick(t->rootfd, "", FSPICK_EMPTY_PATH | FSPICK_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = ram_tmpfs_set_split(fd, t->total, meta);
	if (!rc && fsconfig(fd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
		rc = errno == EINVAL ? -ENOSPC : -errno;
	close(fd);
	if (!rc)
		__atomic_store_n(&t->meta, meta, __ATOMIC_RELAXED);
	return rc;
}
#else
static int ram_tmpfs_resplit(struct ram_tmpfs_vol *t, uint64_t meta)
{
	(void)t;
	(void)meta;
	return -ENOSPC;
}
#endif

/* The bytes of data and of inode space in use, from tmpfs' statfs. */
static int ram_tmpfs_usage(const struct ram_tmpfs_vol *t, struct statvfs *sv,
			   uint64_t *data, uint64_t *meta)
{
	if (fstatvfs(t->rootfd, sv) < 0)
		return -errno;
	*data = (uint64_t)(sv->f_blocks - sv->f_bfree) * sv->f_frsize;
	*meta = (uint64_t)(sv->f_files - sv->f_ffree) * RAM_TMPFS_INODE_BYTES;
	return 0;
}

/* The inode space now, to hand ram_tmpfs_grow() after an op failed. */
static uint64_t ram_tmpfs_meta(void *vol)
{
	return __atomic_load_n(&ram_tmpfs_of(vol)->meta, __ATOMIC_RELAXED);
}

/*
 * After a metadata op failed with ENOSPC when the inode space was seen:
 * doubles it if the data leaves room.  0 when the op may be tried again
 * (here or in another thread the space grew), else -ENOSPC.
 */
static int ram_tmpfs_grow(void *vol, uint64_t seen)
{
	struct ram_tmpfs_vol *t = ram_tmpfs_of(vol);
	uint64_t data = 0, used = 0, most, meta;
	struct statvfs sv;
	int rc;

	pthread_mutex_lock(&t->lock);
	rc = 0;
	if (t->meta != seen)
		goto out;
	rc = ram_tmpfs_usage(t, &sv, &data, &used);
	if (rc)
		goto out;
	if (data < t->page)
		data = t->page;
	most = (t->total - data) & ~(t->page - 1);
	meta = t->meta * 2 < most ? t->meta * 2 : most;
	rc = meta > t->meta ? ram_tmpfs_resplit(t, meta) : -ENOSPC;
out:
	pthread_mutex_unlock(&t->lock);
	/* The op fails with its ENOSPC either way; anything else is the
	 * kernel refusing what worked when the volume was made. */
	if (rc < 0 && rc != -ENOSPC && t->log)
		t->log(VOLFS_LOG_WARNING,
		       "ram volume '%s': cannot give its tmpfs more room for "
		       "inodes (%s); files cannot be added until some are "
		       "deleted, or use -o store=daemon",
		       t->name, volfs_be_strerror(rc));
	return rc < 0 ? -ENOSPC : rc;
}

/*
 * After a delete: gives data back the inode space deletes left unused.
 * Every unlink and rmdir comes here, so the lock is taken only when there
 * is something to give back.
 */
static void ram_tmpfs_settle(struct ram_tmpfs_vol *t)
{
	uint64_t data = 0, used = 0, meta;
	struct statvfs sv;

	meta = __atomic_load_n(&t->meta, __ATOMIC_RELAXED);
	if (meta <= t->meta_min ||
	    ram_tmpfs_usage(t, &sv, &data, &used) != 0 || used * 4 >= meta)
		return;
	pthread_mutex_lock(&t->lock);
	if (ram_tmpfs_usage(t, &sv, &data, &used) == 0 &&
	    used * 4 < t->meta) {
		meta = (used * 2 + t->page - 1) & ~(t->page - 1);
		if (meta < t->meta_min)
			meta = t->meta_min;
		/* A create in between may have taken what was free. */
		(void)ram_tmpfs_resplit(t, meta);
	}
	pthread_mutex_unlock(&t->lock);
}

/*
 * The ops that make inodes or extended attributes: call, and again while
 * it fails with ENOSPC and the inode space grows (here or in another
 * thread that took the room first), a few times at most.
 */
#define RAM_TMPFS_TRIES 4
#define RAM_TMPFS_GROWING(vol, call)                                          \
	({                                                                    \
		uint64_t seen_;                                               \
		int rc_, tries_ = 0;                                          \
		do {                                                          \
			seen_ = ram_tmpfs_meta(vol);                          \
			rc_ = (call);                                         \
		} while (rc_ == -ENOSPC && ++tries_ < RAM_TMPFS_TRIES &&      \
			 ram_tmpfs_grow((vol), seen_) == 0);                  \
		rc_;                                                          \
	})

static int ram_tmpfs_mknod(void *vol, uint64_t parent, const char *name,
			   mode_t mode, dev_t rdev,
			   const struct volfs_caller *who,
			   struct volfs_entry *e)
{
	return RAM_TMPFS_GROWING(
		vol,
		ram_tmpfs_local->mknod(vol, parent, name, mode, rdev, who, e));
}

static int ram_tmpfs_mkdir(void *vol, uint64_t parent, const char *name,
			   mode_t mode, const struct volfs_caller *who,
			   struct volfs_entry *e)
{
	return RAM_TMPFS_GROWING(
		vol, ram_tmpfs_local->mkdir(vol, parent, name, mode, who, e));
}

static int ram_tmpfs_symlink(void *vol, const char *target, uint64_t parent,
			     const char *name, const struct volfs_caller *who,
			     struct volfs_entry *e)
{
	return RAM_TMPFS_GROWING(
		vol,
		ram_tmpfs_local->symlink(vol, target, parent, name, who, e));
}

/* tmpfs charges every hard link to the inode space too. */
static int ram_tmpfs_link(void *vol, uint64_t node, uint64_t newparent,
			  const char *newname, struct volfs_entry *e)
{
	return RAM_TMPFS_GROWING(
		vol, ram_tmpfs_local->link(vol, node, newparent, newname, e));
}

static int ram_tmpfs_create_file(void *vol, uint64_t parent, const char *name,
				 int flags, mode_t mode,
				 const struct volfs_caller *who,
				 struct volfs_entry *e, uint64_t *fh)
{
	return RAM_TMPFS_GROWING(
		vol, ram_tmpfs_local->create_file(vol, parent, name, flags,
						  mode, who, e, fh));
}

static int ram_tmpfs_setxattr(void *vol, uint64_t node, const char *name,
			      const void *value, size_t size, int flags)
{
	return RAM_TMPFS_GROWING(
		vol,
		ram_tmpfs_local->setxattr(vol, node, name, value, size, flags));
}

/*
 * A removed file's inode lives on while the core holds its node (the
 * node's descriptor keeps it), so its room comes back at a later delete.
 */
static int ram_tmpfs_unlink(void *vol, uint64_t parent, const char *name)
{
	int rc = ram_tmpfs_local->unlink(vol, parent, name);

	if (rc == 0)
		ram_tmpfs_settle(ram_tmpfs_of(vol));
	return rc;
}

static int ram_tmpfs_rmdir(void *vol, uint64_t parent, const char *name)
{
	int rc = ram_tmpfs_local->rmdir(vol, parent, name);

	if (rc == 0)
		ram_tmpfs_settle(ram_tmpfs_of(vol));
	return rc;
}

/* size= as one budget: data and inode space in use against it. */
static int ram_tmpfs_statfs(void *vol, struct statvfs *sv)
{
	struct ram_tmpfs_vol *t = ram_tmpfs_of(vol);
	uint64_t data = 0, meta = 0, kept, free_bytes, room;
	int rc;

	rc = ram_tmpfs_usage(t, sv, &data, &meta);
	if (rc)
		return rc;
	free_bytes = data + meta < t->total ? t->total - data - meta : 0;
	/* Room for inodes: data always keeps a page. */
	kept = meta + (data < t->page ? t->page : data);
	room = kept < t->total ? t->total - kept : 0;
	sv->f_blocks = t->total / sv->f_frsize;
	sv->f_bfree = free_bytes / sv->f_frsize;
	sv->f_bavail = sv->f_bfree;
	sv->f_files = t->total / RAM_TMPFS_INODE_BYTES;
	sv->f_ffree = room / RAM_TMPFS_INODE_BYTES;
	sv->f_favail = sv->f_ffree;
	return 0;
}

static void ram_tmpfs_vol_free(struct ram_tmpfs_vol *t)
{
	pthread_mutex_destroy(&t->lock);
	free(t->name);
	free(t);
}

static void ram_tmpfs_close(void *vol)
{
	struct ram_tmpfs_vol *t = ram_tmpfs_of(vol);

	ram_tmpfs_local->close(vol);
	ram_tmpfs_vol_free(t);
}

static void ram_tmpfs_table_init(void)
{
	const struct volfs_backend *ram = volfs_backend_ram();

	ram_tmpfs_local = volfs_backend_local();
	ram_tmpfs_table = *ram_tmpfs_local;
	ram_tmpfs_table.close = ram_tmpfs_close;
	ram_tmpfs_table.statfs = ram_tmpfs_statfs;
	ram_tmpfs_table.mknod = ram_tmpfs_mknod;
	ram_tmpfs_table.mkdir = ram_tmpfs_mkdir;
	ram_tmpfs_table.symlink = ram_tmpfs_symlink;
	ram_tmpfs_table.link = ram_tmpfs_link;
	ram_tmpfs_table.create_file = ram_tmpfs_create_file;
	ram_tmpfs_table.setxattr = ram_tmpfs_setxattr;
	ram_tmpfs_table.unlink = ram_tmpfs_unlink;
	ram_tmpfs_table.rmdir = ram_tmpfs_rmdir;
	ram_tmpfs_table.name = ram->name;
	ram_tmpfs_table.description = ram->description;
	ram_tmpfs_table.options = ram->options;
	ram_tmpfs_table.caps = RAM_TMPFS_CAPS;
	/* The instance dies with the process: no later one finds a node. */
	ram_tmpfs_table.node_encode = NULL;
	ram_tmpfs_table.node_decode = NULL;
	/* Ops on volumes not open (or to open) are ram's own, so that this
	 * table is as good as ram's for whoever holds it. */
	ram_tmpfs_table.validate = ram->validate;
	ram_tmpfs_table.create = ram->create;
	ram_tmpfs_table.destroy = ram->destroy;
	ram_tmpfs_table.open = ram->open;
	ram_tmpfs_table.open_as = ram->open_as;
}

#ifdef HAVE_FSOPEN
/*
 * The root descriptor of a new detached tmpfs instance split as v says, or
 * -errno.
 */
static int ram_tmpfs_make(const struct ram_params *t,
			  const struct ram_tmpfs_vol *v, const char **what)
{
	int fsfd, mfd, rc;

	*what = "fsopen";
	fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return -errno;
	*what = "fsconfig";
	rc = ram_tmpfs_set_split(fsfd, v->total, v->meta);
	if (!rc)
		rc = ram_tmpfs_set(fsfd, "mode", 1, t->mode);
	if (!rc)
		rc = ram_tmpfs_set(fsfd, "uid", 0, t->uid);
	if (!rc)
		rc = ram_tmpfs_set(fsfd, "gid", 0, t->gid);
	if (!rc && fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		rc = -errno;
	if (rc)
		goto out;
	*what = "fsmount";
	mfd = fsmount(fsfd, FSMOUNT_CLOEXEC,
		      MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	rc = mfd < 0 ? -errno : mfd;
out:
	close(fsfd);
	return rc;
}
#else
static int ram_tmpfs_make(const struct ram_params *t,
			  const struct ram_tmpfs_vol *v, const char **what)
{
	(void)t;
	(void)v;
	*what = "fsopen";
	return -ENOSYS;
}
#endif

int volfs_ram_tmpfs_open(const struct volfs_volinfo *vi,
			 const struct ram_params *t, void **vol,
			 const struct volfs_backend **table, char *err,
			 size_t errlen)
{
	long pagesize = sysconf(_SC_PAGESIZE);
	uint64_t page = pagesize > 0 ? (uint64_t)pagesize : 4096;
	struct ram_tmpfs_vol *v;
	const char *what;
	int rootfd, rc;

	/* At least a page of data, the rest of the first 64 KiB inodes. */
	if ((t->size & ~(page - 1)) < 2 * page)
		return volfs_be_errf(
			err, errlen, -EINVAL,
			"cannot make a tmpfs instance for volume '%s': size= "
			"%llu is less than two pages of %llu bytes",
			vi->name, (unsigned long long)t->size,
			(unsigned long long)page);
	v = calloc(1, sizeof(*v));
	if (!v || !(v->name = strdup(vi->name))) {
		free(v);
		return volfs_be_errf(err, errlen, -ENOMEM,
				     "cannot open volume '%s': out of memory",
				     vi->name);
	}
	pthread_mutex_init(&v->lock, NULL);
	v->log = vi->log;
	v->page = page;
	v->total = t->size & ~(page - 1);
	v->meta_min = RAM_TMPFS_META_MIN;
	if (v->meta_min > v->total - v->page)
		v->meta_min = v->total - v->page;
	v->meta = v->meta_min;
	rootfd = ram_tmpfs_make(t, v, &what);
	if (rootfd < 0) {
		rc = rootfd;
		ram_tmpfs_vol_free(v);
		return volfs_be_errf(
			err, errlen, rc,
			"cannot make a tmpfs instance for volume '%s' "
			"(%s: %s)%s",
			vi->name, what, volfs_be_strerror(rc),
			rc == -EPERM || rc == -EACCES
				? ": only a volfs running as root (with "
				  "CAP_SYS_ADMIN) can"
			: rc == -ENOSYS
				? ": this kernel or C library has no fsopen()"
				: "");
	}
	v->rootfd = rootfd;
	rc = volfs_local_open_root(rootfd, RAM_TMPFS_CAPS, v, vol);
	if (rc) {
		close(rootfd);
		ram_tmpfs_vol_free(v);
		return volfs_be_errf(err, errlen, rc,
				     "cannot open volume '%s': %s", vi->name,
				     rc == -ENOMEM ? "out of memory"
						   : volfs_be_strerror(rc));
	}
	pthread_once(&ram_tmpfs_once, ram_tmpfs_table_init);
	*table = &ram_tmpfs_table;
	if (vi->log)
		vi->log(VOLFS_LOG_DEBUG,
			"ram volume '%s': a tmpfs of %llu bytes, root mode "
			"%04o, owner %u:%u",
			vi->name, (unsigned long long)t->size,
			(unsigned)t->mode, (unsigned)t->uid, (unsigned)t->gid);
	return 0;
}
