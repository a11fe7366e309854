/* SPDX-License-Identifier: MIT */
/*
 * The FUSE glue, on libfuse's low-level API: turns kernel requests on node
 * ids into backend calls on paths.  With src/ring.c (FUSE over io_uring),
 * the only file that includes libfuse.
 *
 * A file system serves one volume at its root (`volfs mount`), or every
 * volume of a source as the root's subdirectories (`volfs serve`): the
 * root is then a listing of names, each volume is opened when first looked
 * up and closed once the kernel has forgotten all of its nodes, which a
 * janitor thread provokes for volumes unused for a while or removed.
 */
#define FUSE_USE_VERSION 312
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "volfs/backend.h"
#include "volfs/fs.h"
#include "volfs/nodes.h"
#include "volfs/util.h"

#include "ring.h"

/* Kernel cache lifetimes (seconds) when the mount does not say: for data
 * only volfs changes, and for data others may change too. */
#define FS_TIMEOUT_OWNED 86400.0
#define FS_TIMEOUT_SHARED 1.0
/* The names in a serve root come and go with the catalog. */
#define FS_TIMEOUT_LIST 1.0
#define FS_MAX_IO (1024 * 1024)
#define FS_IDLE_DEFAULT 60
#define FS_JANITOR_PERIOD 2

/*
 * FUSE passthrough (Linux 6.9 and later), which libfuse 3.14 and the
 * installed kernel headers predate: the kernel reads and writes an open
 * file's backing file itself, registered with FS_IOC_BACKING_OPEN.
 */
#define FS_INIT_PASSTHROUGH2 (1u << 5) /* FUSE_PASSTHROUGH in flags2 */
#define FS_FOPEN_PASSTHROUGH (1u << 7)
struct fs_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define FS_IOC_BACKING_OPEN _IOW(229, 1, struct fs_backing_map)
#define FS_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

/* One opened volume and how the kernel may cache it. */
struct fs_vol {
	struct volfs_open_volume *ov;
	const struct volfs_backend *be;
	void *state;
	unsigned caps;
	double entry_tmo, attr_tmo, neg_tmo;
	/* Keep file pages across opens. */
	int keep_cache;
	/* Serve: the name it is listed under, when it was last used, and
	 * whether it was removed from the source. */
	char *name;
	time_t used;
	int gone;
	/* When the source last said it exists; lookups in progress that
	 * use it outside vols_lock (it is not freed while pinned). */
	time_t checked;
	unsigned pins;
	struct fs_vol *next;
	/* The next in its bucket of the name hash. */
	struct fs_vol *hnext;
};

/* What a request is about: a volume and a path in it. */
struct fs_at {
	struct fs_vol *v;
	char path[PATH_MAX];
};

/* An open file: the backend's handle and, for backends with a real fd,
 * the fd the data path uses directly. */
struct fs_file {
	struct fs_vol *v;
	uint64_t bfh;
	int fd;
	fuse_ino_t ino;
	/* Passthrough: the id of the inode's backing file, 0 if none. */
	int backing;
	struct fs_file *prev, *next;
};

/* A backing file registered for passthrough, one per open inode. */
struct fs_backing {
	fuse_ino_t ino;
	int id;
	unsigned refs;
	struct fs_backing *next;
};

struct fs_dirent {
	char *name;
	mode_t type;
	int has_st;
	struct stat st;
};

/* A directory handle: a snapshot of the listing, so offsets stay
 * meaningful while the directory changes.  Taken at opendir and again when
 * the reader starts over (rewinddir).  v is NULL for a serve root. */
struct fs_dir {
	struct fs_vol *v;
	struct fs_dirent *ents;
	size_t n, alloc;
	int loaded;
	int served;
};

struct volfs_fs {
	struct fuse_session *se;
	struct volfs_nodes *nodes;
	struct volfs_fs_config cfg;
	char *mountpoint;
	int mounted;
	time_t started;
	/* Files still open, released at shutdown if the kernel did not. */
	pthread_mutex_t files_lock;
	struct fs_file *files;
	/* The one volume of a `volfs mount`. */
	struct fs_vol *single;
	/* The kernel caches writes (FUSE_CAP_WRITEBACK_CACHE). */
	int writeback;
	/* INIT: the request's id and the kernel's flags, read before the
	 * reply is written (fs_io_read, fs_io_writev). */
	uint64_t init_unique;
	uint64_t init_flags, init_flags2;
	/* Negotiated in the INIT reply beyond what libfuse knows: volfs
	 * clears set-user-ID and set-group-ID on write, truncate and chown
	 * (FUSE_HANDLE_KILLPRIV_V2), so the kernel stops asking for
	 * security.capability before every write. */
	int killpriv;
	/* Some regular file was seen with bits a write must clear: until
	 * then, writes to volumes only volfs changes skip the check. */
	int priv_seen;
	/* Negotiated FUSE passthrough, and the backing files registered
	 * (under files_lock). */
	int passthrough;
	struct fs_backing *backings;
	/* FUSE over io_uring: asked for in the INIT reply (ring_want), the
	 * request buffers' size, and the ring once it serves (src/ring.c). */
	int ring_want;
	size_t ring_payload;
	struct volfs_ring *ring_ready, *ring;
	/* The child that unmounts if the daemon dies (fs_ring_guard). */
	pid_t guard_pid;
	int guard_fd;
	/* Serve: the source, the volumes open now, and the janitor. */
	const struct volfs_fs_source *src;
	pthread_mutex_t vols_lock;
	struct fs_vol *vols;
	/* The open volumes by name: lookups stay O(1) with thousands. */
	struct fs_vol **vhash;
	size_t nbuckets, nvols;
	pthread_t janitor;
	int janitor_running;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	int stopping;
};

static struct volfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void fs_vlock(struct fs_vol *v)
{
	volfs_vol_lock(v->ov);
}

static void fs_vunlock(struct fs_vol *v)
{
	volfs_vol_unlock(v->ov);
}

static int fs_reply_err(fuse_req_t req, int rc)
{
	return fuse_reply_err(req, rc < 0 ? -rc : rc);
}

static struct fs_file *fs_file_of(struct fuse_file_info *fi)
{
	return (struct fs_file *)(uintptr_t)fi->fh;
}

static uint64_t fs_fh(struct fuse_file_info *fi)
{
	return fi ? fs_file_of(fi)->bfh : VOLFS_NO_FH;
}

static int fs_is_list_root(const struct volfs_fs *fs, fuse_ino_t ino)
{
	return fs->src && ino == VOLFS_NODES_ROOT;
}

static void fs_touch(struct fs_vol *v)
{
	if (v->name)
		__atomic_store_n(&v->used, time(NULL), __ATOMIC_RELAXED);
}

/*
 * Resolves node ino into at.  An unlinked node's last path is good only
 * together with an open handle.  The root of a serve mount holds no volume:
 * -EPERM, nothing can be done there.
 */
static int fs_at(struct volfs_fs *fs, fuse_ino_t ino, uint64_t fh,
		 struct fs_at *at)
{
	void *vol = NULL;
	int rc;

	rc = volfs_nodes_path(fs->nodes, ino, at->path, sizeof(at->path),
			      &vol);
	at->v = vol;
	if (rc < 0)
		return rc;
	if (!at->v)
		return -EPERM;
	if (rc == 1 && fh == VOLFS_NO_FH)
		return -ENOENT;
	fs_touch(at->v);
	return 0;
}

/* Resolves name in directory node parent into at. */
static int fs_at_child(struct volfs_fs *fs, fuse_ino_t parent,
		       const char *name, struct fs_at *at)
{
	void *vol = NULL;
	int rc;

	rc = volfs_nodes_child_path(fs->nodes, parent, name, at->path,
				    sizeof(at->path), &vol);
	at->v = vol;
	if (rc < 0)
		return rc;
	if (!at->v)
		return -EPERM;
	fs_touch(at->v);
	return 0;
}

/*
 * An open handle of ino, for requests about an unlinked file that the
 * kernel sends without one (fstat() of an open, unlinked file).
 */
static uint64_t fs_any_fh(struct volfs_fs *fs, fuse_ino_t ino)
{
	uint64_t fh = VOLFS_NO_FH;

	pthread_mutex_lock(&fs->files_lock);
	for (struct fs_file *f = fs->files; f; f = f->next) {
		if (f->ino == ino) {
			fh = f->bfh;
			break;
		}
	}
	pthread_mutex_unlock(&fs->files_lock);
	return fh;
}

/*
 * The mode bits that a write or truncate by a caller without CAP_FSETID
 * clears: set-user-ID, and set-group-ID where it means "run as the group"
 * (with group execute), as the kernel does for its own file systems.
 */
static mode_t fs_priv_bits(mode_t mode)
{
	mode_t kill = 0;

	if (!S_ISREG(mode))
		return 0;
	if (mode & S_ISUID)
		kill |= S_ISUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		kill |= S_ISGID;
	return kill;
}

static void fs_fix_attr(struct volfs_fs *fs, struct fs_vol *v,
			struct stat *st, fuse_ino_t ino)
{
	/* Every attribute the kernel learns passes here: a file it may
	 * write has been seen here with its current bits. */
	if (fs_priv_bits(st->st_mode) &&
	    !__atomic_load_n(&fs->priv_seen, __ATOMIC_RELAXED))
		__atomic_store_n(&fs->priv_seen, 1, __ATOMIC_RELAXED);
	if (!(v->caps & VOLFS_CAP_STABLE_INO))
		st->st_ino = ino;
	if (fs->cfg.force_uid)
		st->st_uid = fs->cfg.uid;
	if (fs->cfg.force_gid)
		st->st_gid = fs->cfg.gid;
}

static int fs_getattr_at(struct fs_at *at, uint64_t fh, struct stat *st)
{
	int rc;

	memset(st, 0, sizeof(*st));
	fs_vlock(at->v);
	rc = at->v->be->getattr(at->v->state, at->path, fh, st);
	fs_vunlock(at->v);
	return rc;
}

/*
 * Whether the caller of req holds CAP_FSETID, which lets it keep the
 * set-ID bits of a file it writes or truncates.  Read from its
 * /proc/PID/status; a caller that is gone counts as privileged if it ran
 * as root.  Only asked when a file has such bits.
 */
static int fs_caller_fsetid(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	unsigned long long caps = 0;
	char path[64], line[256];
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)ctx->pid);
	f = ctx->pid > 0 ? fopen(path, "re") : NULL;
	if (!f)
		return ctx->uid == 0;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &caps) == 1;
	fclose(f);
	if (!found)
		return ctx->uid == 0;
	return !!(caps & (1ULL << CAP_FSETID));
}

/*
 * With FUSE_HANDLE_KILLPRIV_V2 the kernel leaves it to volfs to clear
 * set-user-ID and set-group-ID when a file is written or truncated by a
 * caller without CAP_FSETID (req; NULL when the kernel has already decided
 * the bits must go).  fd is the file's real descriptor or -1; fh its
 * backend handle.  (Capabilities in security.capability are dropped by the
 * backend's own storage, or by the ram backend, on write.)
 */
static int fs_kill_priv(fuse_req_t req, struct volfs_fs *fs, struct fs_vol *v,
			fuse_ino_t ino, uint64_t fh, int fd)
{
	struct fs_at at;
	struct stat st;
	mode_t kill;
	int rc;

	/* A backend without chmod has no bits to clear: not worth asking. */
	if (!fs->killpriv || !v->be->chmod)
		return 0;
	if (!__atomic_load_n(&fs->priv_seen, __ATOMIC_RELAXED) &&
	    !(v->caps & VOLFS_CAP_EXTERNAL_CHANGES))
		return 0;
	if (fd >= 0) {
		if (fstat(fd, &st) < 0)
			return -errno;
		at.v = v;
	} else {
		rc = fs_at(fs, ino, fh, &at);
		if (rc == 0)
			rc = fs_getattr_at(&at, fh, &st);
		if (rc < 0)
			return rc;
	}
	kill = fs_priv_bits(st.st_mode);
	if (!kill || (req && fs_caller_fsetid(req)))
		return 0;
	if (fd >= 0) {
		rc = fs_at(fs, ino, fh, &at);
		if (rc < 0)
			return rc;
	}
	if (!at.v->be->chmod)
		return 0;
	fs_vlock(at.v);
	rc = at.v->be->chmod(at.v->state, at.path, fh,
			     (st.st_mode & 07777) & ~kill);
	fs_vunlock(at.v);
	return rc < 0 ? rc : 1;
}

/*
 * fs_kill_priv() for a request whose reply carries no attributes (OPEN,
 * WRITE): the kernel is told its cached mode is stale.
 */
static int fs_kill_priv_notify(fuse_req_t req, struct volfs_fs *fs,
			       struct fs_vol *v, fuse_ino_t ino, uint64_t fh,
			       int fd)
{
	int rc = fs_kill_priv(req, fs, v, ino, fh, fd);

	if (rc <= 0)
		return rc;
	fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	return 0;
}

static size_t fs_vhash_of(const char *name, size_t nbuckets)
{
	uint64_t h = 1469598103934665603ull;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ull;
	return (size_t)(h % nbuckets);
}

/* The open, not removed volume called name; vols_lock held. */
static struct fs_vol *fs_vol_find(struct volfs_fs *fs, const char *name)
{
	struct fs_vol *v;

	if (!fs->nbuckets)
		return NULL;
	for (v = fs->vhash[fs_vhash_of(name, fs->nbuckets)]; v; v = v->hnext)
		if (!v->gone && strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

/* Adds v to the list and the hash, growing it; vols_lock held. */
static void fs_vol_link(struct volfs_fs *fs, struct fs_vol *v)
{
	if (fs->nvols + 1 > 2 * fs->nbuckets) {
		size_t nb = fs->nbuckets ? 4 * fs->nbuckets : 64;
		struct fs_vol **nh = calloc(nb, sizeof(*nh));

		if (nh) {
			for (struct fs_vol *o = fs->vols; o; o = o->next) {
				size_t b = fs_vhash_of(o->name, nb);

				o->hnext = nh[b];
				nh[b] = o;
			}
			free(fs->vhash);
			fs->vhash = nh;
			fs->nbuckets = nb;
		}
	}
	v->next = fs->vols;
	fs->vols = v;
	if (fs->nbuckets) {
		size_t b = fs_vhash_of(v->name, fs->nbuckets);

		v->hnext = fs->vhash[b];
		fs->vhash[b] = v;
	}
	fs->nvols++;
}

/* Takes v out of the list and the hash; vols_lock held. */
static void fs_vol_unlink(struct volfs_fs *fs, struct fs_vol *v)
{
	struct fs_vol **pp;

	for (pp = &fs->vols; *pp && *pp != v; pp = &(*pp)->next)
		;
	if (!*pp)
		return;
	*pp = v->next;
	if (fs->nbuckets) {
		pp = &fs->vhash[fs_vhash_of(v->name, fs->nbuckets)];
		while (*pp && *pp != v)
			pp = &(*pp)->hnext;
		if (*pp)
			*pp = v->hnext;
	}
	fs->nvols--;
}

static void fs_vol_close(struct fs_vol *v)
{
	volfs_log(VOLFS_LOG_INFO, "closing volume '%s'", v->name);
	volfs_volume_close(v->ov);
	free(v->name);
	free(v);
}

/*
 * Closes volumes whose last node the kernel forgot.  A root lookup may
 * have opened it again in between, or be using it: it then stays.
 */
static void fs_vol_forgotten(struct volfs_fs *fs, struct fs_vol *gone)
{
	if (!gone || gone == fs->single)
		return;
	pthread_mutex_lock(&fs->vols_lock);
	if (gone->pins ||
	    volfs_nodes_has_volume(fs->nodes, gone->name, gone)) {
		pthread_mutex_unlock(&fs->vols_lock);
		return;
	}
	fs_vol_unlink(fs, gone);
	pthread_mutex_unlock(&fs->vols_lock);
	fs_vol_close(gone);
}

static void fs_forget_one(struct volfs_fs *fs, fuse_ino_t ino, uint64_t n)
{
	fs_vol_forgotten(fs, volfs_nodes_forget(fs->nodes, ino, n));
}

/* Looks name up in parent and fills e, taking one lookup reference. */
static int fs_entry(struct volfs_fs *fs, fuse_ino_t parent, const char *name,
		    uint64_t fh, struct fuse_entry_param *e)
{
	struct fs_at at;
	uint64_t ino;
	int rc;

	memset(e, 0, sizeof(*e));
	rc = fs_at_child(fs, parent, name, &at);
	if (rc < 0)
		return rc;
	rc = fs_getattr_at(&at, fh, &e->attr);
	if (rc < 0)
		return rc;
	rc = volfs_nodes_lookup(fs->nodes, parent, name, &e->attr, &ino);
	if (rc < 0)
		return rc;
	e->ino = ino;
	e->attr_timeout = at.v->attr_tmo;
	e->entry_timeout = at.v->entry_tmo;
	fs_fix_attr(fs, at.v, &e->attr, ino);
	return 0;
}

static void fs_reply_entry(fuse_req_t req, struct volfs_fs *fs,
			   fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int rc = fs_entry(fs, parent, name, VOLFS_NO_FH, &e);

	if (rc < 0) {
		fs_reply_err(req, rc);
		return;
	}
	if (fuse_reply_entry(req, &e) != 0)
		fs_forget_one(fs, e.ino, 1);
}

static struct volfs_caller fs_caller(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct volfs_caller who = {
		.uid = ctx->uid,
		.gid = ctx->gid,
		.pid = ctx->pid,
	};

	return who;
}

#define FS_WRITABLE(fs, req)                                                 \
	do {                                                                 \
		if ((fs)->cfg.readonly) {                                    \
			fuse_reply_err((req), EROFS);                        \
			return;                                              \
		}                                                            \
	} while (0)

/* Replies err and returns when the volume's backend lacks op. */
#define FS_HAVE_OP(req, at, op, err)                                         \
	do {                                                                 \
		if (!(at).v->be->op) {                                       \
			fuse_reply_err((req), (err));                        \
			return;                                              \
		}                                                            \
	} while (0)

/*
 * An xattr operation the volume's backend lacks.  A mount of one volume
 * answers ENOSYS, which the kernel remembers for the whole mount (it stops
 * asking, e.g. for security.capability before each first write of a file,
 * and answers EOPNOTSUPP itself); under serve, other volumes may have
 * xattrs, so each request is answered EOPNOTSUPP.
 */
#define FS_NO_XATTRS(fs) ((fs)->src ? ENOTSUP : ENOSYS)
#define FS_HAVE_XATTR_OP(req, fs, at, op)                                   \
	FS_HAVE_OP(req, at, op, FS_NO_XATTRS(fs))

/* Replies the error and returns when resolving failed. */
#define FS_CHECK(req, rc)                                                    \
	do {                                                                 \
		if ((rc) < 0) {                                              \
			fs_reply_err((req), (rc));                           \
			return;                                              \
		}                                                            \
	} while (0)

/* Threads per CPU serving FUSE over io_uring: one more than one, so a
 * request that waits for the disk does not hold up its CPU's queue. */
#define FS_RING_THREADS 2

/*
 * FUSE over io_uring, where the kernel offers it (INIT flags, read by
 * fs_io_read): by default for one volume whose backend answers from this
 * machine; with io_uring=on for any; never with io_uring=off.  Its threads
 * serve one request at a time each, fine for a local disk or memory, too
 * few to wait on a network for many callers.
 */
static int fs_ring_wanted(const struct volfs_fs *fs)
{
	int offered = (fs->init_flags & FUSE_INIT_EXT) &&
		      (fs->init_flags2 & VOLFS_RING_INIT_FLAG2);

	if (fs->cfg.io_uring < 0)
		return 0;
	if (!offered || !volfs_ring_built()) {
		if (fs->cfg.io_uring > 0)
			volfs_log(VOLFS_LOG_WARNING,
				  "%s: io_uring=on, but %s: requests go through "
				  "/dev/fuse",
				  fs->mountpoint,
				  !volfs_ring_built()
					  ? "volfs was built without liburing"
					  : "the kernel does not offer FUSE over "
					    "io_uring (it needs Linux 6.14 or later "
					    "and Y in /sys/module/fuse/parameters/"
					    "enable_uring)");
		return 0;
	}
	if (fs->cfg.io_uring > 0)
		return 1;
	return fs->single && (fs->single->caps & VOLFS_CAP_LOCAL_DATA);
}

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct volfs_fs *fs = userdata;

	conn->max_write = FS_MAX_IO;
	conn->max_readahead = FS_MAX_IO;
	/* No flock or POSIX lock ops: the kernel keeps both kinds of locks
	 * itself, which is right for a mount served by one process. */
	conn->want &= ~(FUSE_CAP_FLOCK_LOCKS | FUSE_CAP_POSIX_LOCKS);
	/* Reads from backends with a real fd are spliced (fs_read). */
	conn->want |= conn->capable &
		      (FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* Answers through the ring are copied into its buffers, not spliced
	 * (requests through /dev/fuse may still be). */
	if (fs_ring_wanted(fs)) {
		fs->ring_want = 1;
		conn->want &= ~FUSE_CAP_SPLICE_WRITE;
	}
	/* Written data is spliced to a backend's real fd; a backend that
	 * copies it anyway had better get it in the request's buffer than in
	 * a pipe (one read instead of an allocation and two copies). */
	if (fs->single && !(fs->single->caps & VOLFS_CAP_REAL_FD))
		conn->want &= ~FUSE_CAP_SPLICE_READ;
	/*
	 * The data of a volume only this process changes changes only
	 * through the kernel's own page cache: a new mtime after a write
	 * through it need not throw away the pages it just wrote (which is
	 * what libfuse's default, automatic invalidation does).
	 */
	if (fs->single && !(fs->single->caps & VOLFS_CAP_EXTERNAL_CHANGES))
		conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	conn->time_gran = 1;
	/*
	 * On request, a volume only this process changes may have its writes
	 * gathered in the kernel's page cache and sent in large pieces.  Not
	 * for data others change too, nor where a write must meet its size
	 * limit at once, nor under serve, whose volumes differ.  It is not
	 * the default: the kernel then asks for the attributes of every file
	 * being written at each stat() (measured in doc/performance.md).
	 */
	if (fs->cfg.writeback_cache && fs->single &&
	    !(fs->single->caps &
	      (VOLFS_CAP_EXTERNAL_CHANGES | VOLFS_CAP_SIZE_LIMIT)) &&
	    !fs->cfg.readonly && (conn->capable & FUSE_CAP_WRITEBACK_CACHE)) {
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
		fs->writeback = 1;
	}
}

/*
 * Opens or creates at: with the writeback cache the kernel reads pages of
 * files opened write-only and places appends itself, so the backend gets
 * read-write access (where allowed) and no O_APPEND.
 */
static int fs_open_at(struct volfs_fs *fs, struct fs_at *at, int flags,
		      mode_t mode, const struct volfs_caller *who,
		      uint64_t *bfh)
{
	const struct volfs_backend *be = at->v->be;
	int wflags = flags, rc;

	if (fs->writeback) {
		wflags &= ~O_APPEND;
		if ((wflags & O_ACCMODE) == O_WRONLY)
			wflags = (wflags & ~O_ACCMODE) | O_RDWR;
	}
	fs_vlock(at->v);
	for (int pass = 0; pass < 2; pass++) {
		if (who) {
			rc = be->create_file(at->v->state, at->path, wflags,
					     mode, who, bfh);
			/* Someone else created it since the kernel looked:
			 * without O_EXCL that is an ordinary open. */
			if (rc == -EEXIST && !(flags & O_EXCL) &&
			    be->open_file)
				rc = be->open_file(at->v->state, at->path,
						   wflags, bfh);
		} else {
			rc = be->open_file(at->v->state, at->path, wflags,
					   bfh);
		}
		/* A write-only file stays write-only. */
		if (rc != -EACCES || (wflags & O_ACCMODE) == (flags & O_ACCMODE))
			break;
		wflags = (wflags & ~O_ACCMODE) | (flags & O_ACCMODE);
	}
	fs_vunlock(at->v);
	return rc;
}

/*
 * Kernel caching from what the backend says of the volume.  When only this
 * process changes the data (every mount of a volume shares one instance),
 * the kernel may keep names, attributes and file pages as long as it likes;
 * when others may change it behind volfs (a host directory, a share), it
 * must ask again soon.
 */
static struct fs_vol *fs_vol_new(struct volfs_fs *fs,
				 struct volfs_open_volume *ov, const char *name)
{
	struct fs_vol *v = calloc(1, sizeof(*v));
	double dflt;
	int ours;

	if (!v)
		return NULL;
	if (name) {
		v->name = strdup(name);
		if (!v->name) {
			free(v);
			return NULL;
		}
	}
	v->ov = ov;
	v->be = ov->be;
	v->state = ov->state;
	v->caps = ov->be->volume_caps ? ov->be->volume_caps(ov->state)
				      : ov->be->caps;
	ours = !(v->caps & VOLFS_CAP_EXTERNAL_CHANGES);
	dflt = ours ? FS_TIMEOUT_OWNED : FS_TIMEOUT_SHARED;
	v->entry_tmo = fs->cfg.entry_timeout >= 0 ? fs->cfg.entry_timeout
						  : dflt;
	v->attr_tmo = fs->cfg.attr_timeout >= 0 ? fs->cfg.attr_timeout : dflt;
	/* Names others may create must not be hidden by a cached miss. */
	v->neg_tmo = ours ? v->entry_tmo : 0;
	v->keep_cache = ours;
	v->used = time(NULL);
	return v;
}

/* The attributes of a serve root: a directory only root may change. */
static void fs_list_root_attr(struct volfs_fs *fs, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = VOLFS_NODES_ROOT;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
	st->st_uid = fs->cfg.force_uid ? fs->cfg.uid : 0;
	st->st_gid = fs->cfg.force_gid ? fs->cfg.gid : 0;
	st->st_atim.tv_sec = st->st_mtim.tv_sec = st->st_ctim.tv_sec =
		fs->started;
	st->st_blksize = 4096;
}

/*
 * Serve: looks up volume name in the root, opening it if it is not open,
 * and fills e, taking one lookup reference on its root node.
 */
static int fs_lookup_volume(struct volfs_fs *fs, const char *name,
			    struct fuse_entry_param *e)
{
	struct volfs_open_volume *ov = NULL;
	struct volfs_err err = { "" };
	time_t now = time(NULL);
	struct fs_vol *v;
	struct fs_at at;
	uint64_t ino;
	int rc, drop;

	memset(e, 0, sizeof(*e));
	if (volfs_name_check(name, NULL) < 0)
		return -ENOENT;
	pthread_mutex_lock(&fs->vols_lock);
	v = fs_vol_find(fs, name);
	/* Removed from the catalog?  Asked at most once a second. */
	if (v && v->checked != now) {
		if (!fs->src->exists(fs->src->ctx, name)) {
			v->gone = 1;
			pthread_mutex_unlock(&fs->vols_lock);
			return -ENOENT;
		}
		v->checked = now;
	}
	if (!v) {
		/* Opening may wait on a server: not under the lock, which
		 * every other volume's lookup takes. */
		pthread_mutex_unlock(&fs->vols_lock);
		rc = fs->src->open(fs->src->ctx, name, &ov, &err);
		if (rc < 0) {
			if (rc != -ENOENT)
				volfs_log(VOLFS_LOG_ERR, "%s", err.msg);
			return rc;
		}
		pthread_mutex_lock(&fs->vols_lock);
		/* Another lookup may have opened it meanwhile. */
		v = fs_vol_find(fs, name);
		if (!v) {
			v = fs_vol_new(fs, ov, name);
			if (!v) {
				pthread_mutex_unlock(&fs->vols_lock);
				volfs_volume_close(ov);
				return -ENOMEM;
			}
			ov = NULL;
			v->checked = now;
			fs_vol_link(fs, v);
			volfs_log(VOLFS_LOG_INFO, "opened volume '%s'", name);
		}
	}
	v->pins++;
	pthread_mutex_unlock(&fs->vols_lock);
	if (ov)
		volfs_volume_close(ov);

	at.v = v;
	memcpy(at.path, ".", 2);
	rc = fs_getattr_at(&at, VOLFS_NO_FH, &e->attr);
	if (rc == 0)
		rc = volfs_nodes_lookup_volume(
			fs->nodes, name, v, !!(v->caps & VOLFS_CAP_STABLE_INO),
			&ino);
	if (rc == 0) {
		fs_touch(v);
		e->ino = ino;
		e->entry_timeout = FS_TIMEOUT_LIST;
		e->attr_timeout = v->attr_tmo;
		fs_fix_attr(fs, v, &e->attr, ino);
	}

	pthread_mutex_lock(&fs->vols_lock);
	v->pins--;
	/* Nothing refers to it any more (this lookup failed, and the kernel
	 * forgot the rest): close it, as fs_vol_forgotten() would have. */
	drop = !v->pins && !volfs_nodes_has_volume(fs->nodes, v->name, v);
	if (drop)
		fs_vol_unlink(fs, v);
	pthread_mutex_unlock(&fs->vols_lock);
	if (drop)
		fs_vol_close(v);
	return rc;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct fs_at at;
	int rc;

	if (fs_is_list_root(fs, parent))
		rc = fs_lookup_volume(fs, name, &e);
	else
		rc = fs_entry(fs, parent, name, VOLFS_NO_FH, &e);
	if (rc == -ENOENT && !fs_is_list_root(fs, parent) &&
	    fs_at_child(fs, parent, name, &at) == 0 && at.v->neg_tmo > 0) {
		/* A negative entry: the kernel remembers the name is free. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = at.v->neg_tmo;
		fuse_reply_entry(req, &e);
		return;
	}
	FS_CHECK(req, rc);
	if (fuse_reply_entry(req, &e) != 0)
		fs_forget_one(fs, e.ino, 1);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_forget_one(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct volfs_fs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++)
		fs_forget_one(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	uint64_t fh = fs_fh(fi);
	struct fs_at at;
	struct stat st;
	int rc;

	if (fs_is_list_root(fs, ino)) {
		fs_list_root_attr(fs, &st);
		fuse_reply_attr(req, &st, FS_TIMEOUT_LIST);
		return;
	}
	rc = fs_at(fs, ino, fh, &at);
	if (rc == -ENOENT && fh == VOLFS_NO_FH) {
		fh = fs_any_fh(fs, ino);
		if (fh != VOLFS_NO_FH)
			rc = fs_at(fs, ino, fh, &at);
	}
	if (rc == 0)
		rc = fs_getattr_at(&at, fh, &st);
	FS_CHECK(req, rc);
	fs_fix_attr(fs, at.v, &st, ino);
	fuse_reply_attr(req, &st, at.v->attr_tmo);
}

static struct timespec fs_time_arg(int set, int now, const struct timespec *t)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = UTIME_OMIT };

	if (now)
		ts.tv_nsec = UTIME_NOW;
	else if (set)
		ts = *t;
	return ts;
}

/* setattr's changes, in the order chmod, chown, truncate, utimens. */
static int fs_apply_attr(struct fs_at *at, uint64_t fh,
			 const struct stat *attr, int to_set)
{
	const struct volfs_backend *be = at->v->be;
	void *vol = at->v->state;
	const char *path = at->path;
	int rc = 0;

	if (to_set & FUSE_SET_ATTR_MODE)
		rc = be->chmod ? be->chmod(vol, path, fh, attr->st_mode)
			       : -EPERM;
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		uid_t uid = to_set & FUSE_SET_ATTR_UID ? attr->st_uid
						       : (uid_t)-1;
		gid_t gid = to_set & FUSE_SET_ATTR_GID ? attr->st_gid
						       : (gid_t)-1;

		rc = be->chown ? be->chown(vol, path, fh, uid, gid) : -EPERM;
	}
	if (rc == 0 && (to_set & FUSE_SET_ATTR_SIZE))
		rc = be->truncate ? be->truncate(vol, path, fh, attr->st_size)
				  : -EPERM;
	if (rc == 0 && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
				  FUSE_SET_ATTR_ATIME_NOW |
				  FUSE_SET_ATTR_MTIME_NOW))) {
		struct timespec tv[2];

		tv[0] = fs_time_arg(to_set & FUSE_SET_ATTR_ATIME,
				    to_set & FUSE_SET_ATTR_ATIME_NOW,
				    &attr->st_atim);
		tv[1] = fs_time_arg(to_set & FUSE_SET_ATTR_MTIME,
				    to_set & FUSE_SET_ATTR_MTIME_NOW,
				    &attr->st_mtim);
		rc = be->utimens ? be->utimens(vol, path, fh, tv) : -EPERM;
	}
	return rc;
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	uint64_t fh = fs_fh(fi);
	struct fs_at at;
	struct stat st;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at(fs, ino, fh, &at);
	FS_CHECK(req, rc);
	if ((to_set & FUSE_SET_ATTR_MODE) &&
	    fs_priv_bits(S_IFREG | attr->st_mode))
		__atomic_store_n(&fs->priv_seen, 1, __ATOMIC_RELAXED);
	fs_vlock(at.v);
	rc = fs_apply_attr(&at, fh, attr, to_set);
	fs_vunlock(at.v);
	/*
	 * FATTR_KILL_SUIDGID, which libfuse passes on in this bit: a
	 * truncate by a caller without CAP_FSETID, or a chown.  A request
	 * that changes nothing is the kernel removing privileges before a
	 * write: done here, so that the reply shows the kernel the new mode
	 * (a WRITE reply carries no attributes).
	 */
	if (rc == 0 && (to_set & FUSE_SET_ATTR_KILL_SUID))
		rc = fs_kill_priv(NULL, fs, at.v, ino, fh, -1);
	else if (rc == 0 && to_set == 0)
		rc = fs_kill_priv(req, fs, at.v, ino, fh, -1);
	if (rc > 0)
		rc = 0;
	if (rc == 0)
		rc = fs_getattr_at(&at, fh, &st);
	FS_CHECK(req, rc);
	fs_fix_attr(fs, at.v, &st, ino);
	fuse_reply_attr(req, &st, at.v->attr_tmo);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct volfs_fs *fs = fs_of(req);
	char target[PATH_MAX];
	struct fs_at at;
	int rc;

	rc = fs_at(fs, ino, VOLFS_NO_FH, &at);
	FS_CHECK(req, rc == -EPERM ? -EINVAL : rc);
	FS_HAVE_OP(req, at, readlink, EINVAL);
	fs_vlock(at.v);
	rc = at.v->be->readlink(at.v->state, at.path, target, sizeof(target));
	fs_vunlock(at.v);
	FS_CHECK(req, rc);
	fuse_reply_readlink(req, target);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct volfs_fs *fs = fs_of(req);
	struct volfs_caller who = fs_caller(req);
	struct fs_at at;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at_child(fs, parent, name, &at);
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, at, mknod, EPERM);
	fs_vlock(at.v);
	rc = at.v->be->mknod(at.v->state, at.path, mode, rdev, &who);
	fs_vunlock(at.v);
	FS_CHECK(req, rc);
	fs_reply_entry(req, fs, parent, name);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct volfs_fs *fs = fs_of(req);
	struct volfs_caller who = fs_caller(req);
	struct fs_at at;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at_child(fs, parent, name, &at);
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, at, mkdir, EPERM);
	fs_vlock(at.v);
	rc = at.v->be->mkdir(at.v->state, at.path, mode, &who);
	fs_vunlock(at.v);
	FS_CHECK(req, rc);
	fs_reply_entry(req, fs, parent, name);
}

static void fs_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		       const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	struct volfs_caller who = fs_caller(req);
	struct fs_at at;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at_child(fs, parent, name, &at);
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, at, symlink, EPERM);
	fs_vlock(at.v);
	rc = at.v->be->symlink(at.v->state, target, at.path, &who);
	fs_vunlock(at.v);
	FS_CHECK(req, rc);
	fs_reply_entry(req, fs, parent, name);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_at from, to;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at(fs, ino, VOLFS_NO_FH, &from);
	if (rc == 0)
		rc = fs_at_child(fs, newparent, newname, &to);
	if (rc == 0 && from.v != to.v)
		rc = -EXDEV;
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, from, link, EPERM);
	fs_vlock(from.v);
	rc = from.v->be->link(from.v->state, from.path, to.path);
	fs_vunlock(from.v);
	FS_CHECK(req, rc);
	fs_reply_entry(req, fs, newparent, newname);
}

/*
 * Whether removing at drops the file's last name (0 if unknown); *bino
 * gets its inode number in the backend (0 if unknown).
 */
static int fs_last_link(struct fs_at *at, ino_t *bino)
{
	struct stat st;

	*bino = 0;
	if (!(at->v->caps & VOLFS_CAP_STABLE_INO) ||
	    fs_getattr_at(at, VOLFS_NO_FH, &st) < 0)
		return 0;
	*bino = st.st_ino;
	return S_ISDIR(st.st_mode) || st.st_nlink <= 1;
}

/* fs_sibling()'s search. */
struct fs_sibling {
	ino_t bino;
	char name[NAME_MAX + 1];
};

static int fs_sibling_fill(void *ctx, const char *name, mode_t type,
			   const struct stat *st)
{
	struct fs_sibling *sib = ctx;

	if (!st || st->st_ino != sib->bino || strlen(name) > NAME_MAX)
		return 0;
	memcpy(sib->name, name, strlen(name) + 1);
	return 1;
}

/*
 * After one name of a file with other names went: the node may have been
 * known by that name (one node per file), and the kernel keeps using it
 * under its other names.  Gives it another name of the file in the same
 * directory; 0 when it found one.
 */
static int fs_sibling(struct volfs_fs *fs, fuse_ino_t parent,
		      const char *name, ino_t bino)
{
	struct fs_sibling sib = { .bino = bino };
	struct fs_at dir;
	int rc;

	if (!bino || fs_at(fs, parent, VOLFS_NO_FH, &dir) < 0 ||
	    !dir.v->be->readdir)
		return -ENOENT;
	fs_vlock(dir.v);
	rc = dir.v->be->readdir(dir.v->state, dir.path, fs_sibling_fill, &sib);
	fs_vunlock(dir.v);
	if (rc < 0 || !sib.name[0])
		return -ENOENT;
	volfs_nodes_unlinked_alias(fs->nodes, parent, name, sib.name);
	return 0;
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_at at;
	ino_t bino;
	int rc, last;

	FS_WRITABLE(fs, req);
	rc = fs_at_child(fs, parent, name, &at);
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, at, unlink, EPERM);
	last = fs_last_link(&at, &bino);
	fs_vlock(at.v);
	rc = at.v->be->unlink(at.v->state, at.path);
	fs_vunlock(at.v);
	if (rc == 0 && (last || fs_sibling(fs, parent, name, bino) < 0))
		volfs_nodes_unlinked(fs->nodes, parent, name, last);
	fs_reply_err(req, rc);
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_at at;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at_child(fs, parent, name, &at);
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, at, rmdir, EPERM);
	fs_vlock(at.v);
	rc = at.v->be->rmdir(at.v->state, at.path);
	fs_vunlock(at.v);
	if (rc == 0)
		volfs_nodes_unlinked(fs->nodes, parent, name, 1);
	fs_reply_err(req, rc);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct volfs_fs *fs = fs_of(req);
	unsigned known = VOLFS_RENAME_NOREPLACE | VOLFS_RENAME_EXCHANGE;
	struct fs_at from, to;
	ino_t bino = 0;
	int rc, last = 0;

	FS_WRITABLE(fs, req);
	rc = fs_at_child(fs, parent, name, &from);
	if (rc == 0)
		rc = fs_at_child(fs, newparent, newname, &to);
	if (rc == 0 && from.v != to.v)
		rc = -EXDEV;
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, from, rename, EPERM);
	if ((flags & ~known) ||
	    (flags && !(from.v->caps & VOLFS_CAP_ATOMIC_RENAME))) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!(flags & VOLFS_RENAME_EXCHANGE))
		last = fs_last_link(&to, &bino);
	fs_vlock(from.v);
	rc = from.v->be->rename(from.v->state, from.path, to.path, flags);
	fs_vunlock(from.v);
	if (rc == 0)
		volfs_nodes_renamed(fs->nodes, parent, name, newparent,
				    newname, flags & VOLFS_RENAME_EXCHANGE,
				    last);
	fs_reply_err(req, rc);
}

/*
 * The backing id that the reply being sent by this thread (fuse_reply_open
 * or fuse_reply_create, which write it before they return) is to carry.
 */
static __thread int fs_tl_backing;

/*
 * Passthrough: registers fd as the backing file of f's inode, or takes
 * another reference on the one registered (the kernel wants one backing
 * file for every open of an inode).  Only for volumes whose files are on
 * this machine and changed by nobody else (local without path=, ram in
 * tmpfs): the kernel then reads and writes them without the daemon
 * seeing it, which a cache that uploads on close must not miss.  On
 * failure the file is served as before, through the daemon.
 */
static void fs_backing_get(struct volfs_fs *fs, struct fs_file *f)
{
	struct fs_backing_map map = { .fd = f->fd };
	struct fs_backing *b;
	int id;

	if (!fs->passthrough || f->fd < 0 ||
	    !(f->v->caps & VOLFS_CAP_LOCAL_DATA) ||
	    (f->v->caps & VOLFS_CAP_EXTERNAL_CHANGES))
		return;
	pthread_mutex_lock(&fs->files_lock);
	for (b = fs->backings; b; b = b->next)
		if (b->ino == f->ino)
			break;
	if (b) {
		b->refs++;
		f->backing = b->id;
		goto out;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		goto out;
	id = ioctl(fuse_session_fd(fs->se), FS_IOC_BACKING_OPEN, &map);
	if (id <= 0) {
		free(b);
		goto out;
	}
	b->ino = f->ino;
	b->id = id;
	b->refs = 1;
	b->next = fs->backings;
	fs->backings = b;
	f->backing = id;
out:
	pthread_mutex_unlock(&fs->files_lock);
}

static void fs_backing_put(struct volfs_fs *fs, struct fs_file *f)
{
	struct fs_backing **pp, *b = NULL;
	uint32_t id;

	if (!f->backing)
		return;
	pthread_mutex_lock(&fs->files_lock);
	for (pp = &fs->backings; *pp; pp = &(*pp)->next) {
		if ((*pp)->ino == f->ino) {
			if (--(*pp)->refs == 0) {
				b = *pp;
				*pp = b->next;
			}
			break;
		}
	}
	pthread_mutex_unlock(&fs->files_lock);
	if (!b)
		return;
	id = (uint32_t)b->id;
	if (fs->se)
		ioctl(fuse_session_fd(fs->se), FS_IOC_BACKING_CLOSE, &id);
	free(b);
}

static struct fs_file *fs_file_new(struct volfs_fs *fs, struct fs_vol *v,
				   fuse_ino_t ino, uint64_t bfh)
{
	struct fs_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->v = v;
	f->ino = ino;
	f->bfh = bfh;
	f->fd = -1;
	if ((v->caps & VOLFS_CAP_REAL_FD) && v->be->fd)
		f->fd = v->be->fd(v->state, bfh);
	pthread_mutex_lock(&fs->files_lock);
	f->next = fs->files;
	if (fs->files)
		fs->files->prev = f;
	fs->files = f;
	pthread_mutex_unlock(&fs->files_lock);
	return f;
}

/* Releases a backend handle that never became an fs_file. */
static void fs_release_bfh(struct fs_vol *v, uint64_t bfh)
{
	if (!v->be->release)
		return;
	fs_vlock(v);
	v->be->release(v->state, bfh);
	fs_vunlock(v);
}

/* Releases f's backend handle and frees it. */
static int fs_file_free(struct volfs_fs *fs, struct fs_file *f)
{
	int rc = 0;

	pthread_mutex_lock(&fs->files_lock);
	if (f->prev)
		f->prev->next = f->next;
	else
		fs->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&fs->files_lock);
	fs_backing_put(fs, f);
	if (f->v->be->release) {
		fs_vlock(f->v);
		rc = f->v->be->release(f->v->state, f->bfh);
		fs_vunlock(f->v);
	}
	free(f);
	return rc;
}

static int fs_wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	int flags = fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY);
	struct fs_file *f;
	struct fs_at at;
	uint64_t bfh;
	int rc;

	if (fs->cfg.readonly && fs_wants_write(flags)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	rc = fs_at(fs, ino, VOLFS_NO_FH, &at);
	FS_CHECK(req, rc == -EPERM ? -EISDIR : rc);
	FS_HAVE_OP(req, at, open_file, EPERM);
	rc = fs_open_at(fs, &at, flags, 0, NULL, &bfh);
	FS_CHECK(req, rc);
	f = fs_file_new(fs, at.v, ino, bfh);
	if (!f) {
		fs_release_bfh(at.v, bfh);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* open(O_TRUNC) truncates as a write does. */
	rc = (flags & O_TRUNC)
		     ? fs_kill_priv_notify(req, fs, at.v, ino, bfh, f->fd)
		     : 0;
	if (rc < 0) {
		fs_file_free(fs, f);
		fs_reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)f;
	fi->keep_cache = at.v->keep_cache;
	/* close() need not wait for a backend with nothing to do then. */
	fi->noflush = !at.v->be->flush;
	fs_backing_get(fs, f);
	fs_tl_backing = f->backing;
	rc = fuse_reply_open(req, fi);
	fs_tl_backing = 0;
	if (rc != 0)
		fs_file_free(fs, f);
}

static void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	struct volfs_caller who = fs_caller(req);
	int flags = fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY);
	struct fuse_entry_param e;
	struct fs_file *f = NULL;
	struct fs_at at;
	uint64_t bfh;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_at_child(fs, parent, name, &at);
	FS_CHECK(req, rc);
	FS_HAVE_OP(req, at, create_file, EPERM);
	rc = fs_open_at(fs, &at, flags | (fi->flags & O_EXCL), mode, &who,
			&bfh);
	FS_CHECK(req, rc);
	rc = fs_entry(fs, parent, name, bfh, &e);
	if (rc == 0) {
		f = fs_file_new(fs, at.v, e.ino, bfh);
		if (!f) {
			fs_forget_one(fs, e.ino, 1);
			rc = -ENOMEM;
		}
	}
	if (rc < 0) {
		fs_release_bfh(at.v, bfh);
		fs_reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)f;
	fi->keep_cache = at.v->keep_cache;
	fi->noflush = !at.v->be->flush;
	fs_backing_get(fs, f);
	fs_tl_backing = f->backing;
	rc = fuse_reply_create(req, &e, fi);
	fs_tl_backing = 0;
	if (rc != 0) {
		fs_file_free(fs, f);
		fs_forget_one(fs, e.ino, 1);
	}
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs_file *f = fs_file_of(fi);
	struct fs_vol *v = f->v;
	ssize_t n;
	char *buf;

	if (f->fd >= 0) {
		/* Zero-copy: libfuse splices from the fd into the kernel. */
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = f->fd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	if (!v->be->read) {
		fuse_reply_err(req, EBADF);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_vlock(v);
	n = v->be->read(v->state, f->bfh, buf, size, off);
	fs_vunlock(v);
	if (n < 0)
		fs_reply_err(req, (int)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void fs_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *in, off_t off,
			 struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_file *f = fs_file_of(fi);
	struct fs_vol *v = f->v;
	size_t size = fuse_buf_size(in);
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(size);
	char *copy = NULL;
	ssize_t n;

	FS_WRITABLE(fs, req);
	n = fs_kill_priv_notify(req, fs, v, f->ino, f->bfh, f->fd);
	if (n < 0)
		goto reply;
	if (f->fd >= 0) {
		struct fuse_bufvec dst = FUSE_BUFVEC_INIT(size);

		dst.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		dst.buf[0].fd = f->fd;
		dst.buf[0].pos = off;
		n = fuse_buf_copy(&dst, in, 0);
		goto reply;
	}
	if (!v->be->write) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (in->count == 1 && !(in->buf[0].flags & FUSE_BUF_IS_FD)) {
		mem.buf[0].mem = (char *)in->buf[0].mem + in->off;
	} else {
		copy = malloc(size ? size : 1);
		if (!copy) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		mem.buf[0].mem = copy;
		n = fuse_buf_copy(&mem, in, 0);
		if (n < 0)
			goto reply;
		size = (size_t)n;
	}
	fs_vlock(v);
	n = v->be->write(v->state, f->bfh, mem.buf[0].mem, size, off);
	fs_vunlock(v);
reply:
	free(copy);
	if (n < 0)
		fs_reply_err(req, (int)n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void fs_flush(fuse_req_t req, fuse_ino_t ino,
		     struct fuse_file_info *fi)
{
	struct fs_file *f = fs_file_of(fi);
	int rc = 0;

	if (f->v->be->flush) {
		fs_vlock(f->v);
		rc = f->v->be->flush(f->v->state, f->bfh);
		fs_vunlock(f->v);
	}
	fs_reply_err(req, rc);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	fs_reply_err(req, fs_file_free(fs_of(req), fs_file_of(fi)));
}

static void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct fs_file *f = fs_file_of(fi);
	int rc = 0;

	if (f->v->be->fsync) {
		fs_vlock(f->v);
		rc = f->v->be->fsync(f->v->state, f->bfh, datasync);
		fs_vunlock(f->v);
	}
	fs_reply_err(req, rc);
}

static void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t off, off_t len, struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_file *f = fs_file_of(fi);
	int rc;

	FS_WRITABLE(fs, req);
	if (!f->v->be->fallocate) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	fs_vlock(f->v);
	rc = f->v->be->fallocate(f->v->state, f->bfh, mode, off, len);
	fs_vunlock(f->v);
	fs_reply_err(req, rc);
}

static void fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct fs_file *f = fs_file_of(fi);
	off_t res;

	if (!f->v->be->lseek) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fs_vlock(f->v);
	res = f->v->be->lseek(f->v->state, f->bfh, off, whence);
	fs_vunlock(f->v);
	if (res < 0)
		fs_reply_err(req, (int)res);
	else
		fuse_reply_lseek(req, res);
}

static int fs_dir_add(void *ctx, const char *name, mode_t type,
		      const struct stat *st)
{
	struct fs_dir *d = ctx;
	struct fs_dirent *e;

	if (d->n == d->alloc) {
		size_t alloc = d->alloc ? d->alloc * 2 : 32;
		struct fs_dirent *ents;

		ents = realloc(d->ents, alloc * sizeof(*ents));
		if (!ents)
			return -ENOMEM;
		d->ents = ents;
		d->alloc = alloc;
	}
	e = &d->ents[d->n];
	memset(e, 0, sizeof(*e));
	e->name = strdup(name);
	if (!e->name)
		return -ENOMEM;
	e->type = type & S_IFMT;
	if (st) {
		e->st = *st;
		e->has_st = 1;
		e->type = st->st_mode & S_IFMT;
	}
	d->n++;
	return 0;
}

static void fs_list_add(void *ctx, const char *name)
{
	fs_dir_add(ctx, name, S_IFDIR, NULL);
}

static void fs_dir_clear(struct fs_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->ents[i].name);
	d->n = 0;
	d->served = 0;
}

static void fs_dir_free(struct fs_dir *d)
{
	fs_dir_clear(d);
	free(d->ents);
	free(d);
}

/* (Re)reads the listing of directory ino into d. */
static int fs_dir_load(struct volfs_fs *fs, fuse_ino_t ino, struct fs_dir *d)
{
	struct fs_at at;
	int rc;

	fs_dir_clear(d);
	d->loaded = 1;
	rc = fs_dir_add(d, ".", S_IFDIR, NULL);
	if (rc == 0)
		rc = fs_dir_add(d, "..", S_IFDIR, NULL);
	if (rc < 0)
		return rc;
	if (fs_is_list_root(fs, ino)) {
		d->v = NULL;
		rc = fs->src->list(fs->src->ctx, fs_list_add, d);
		return rc < 0 ? rc : 0;
	}
	rc = fs_at(fs, ino, VOLFS_NO_FH, &at);
	if (rc < 0)
		return rc;
	if (!at.v->be->readdir)
		return -ENOTDIR;
	d->v = at.v;
	fs_vlock(at.v);
	rc = at.v->be->readdir(at.v->state, at.path, fs_dir_add, d);
	fs_vunlock(at.v);
	return rc;
}

/*
 * A directory of a volume only volfs changes is listed once and then read
 * from the kernel's cache, across opens, until the kernel sees it change
 * (it drops the cache when an entry is made or removed through it, or the
 * directory's mtime changes).  So opendir only checks the directory; the
 * listing is taken when the kernel first asks for entries.
 */
static void fs_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_dir *d;
	struct fs_at at;
	struct stat st;
	int rc = 0, cache = 0;

	if (!fs_is_list_root(fs, ino)) {
		rc = fs_at(fs, ino, VOLFS_NO_FH, &at);
		if (rc == 0 && !at.v->be->readdir)
			rc = -ENOTDIR;
		if (rc == 0 && !at.v->keep_cache) {
			/* Others change it: the check is a fresh one. */
			rc = fs_getattr_at(&at, VOLFS_NO_FH, &st);
			if (rc == 0 && !S_ISDIR(st.st_mode))
				rc = -ENOTDIR;
		}
		cache = rc == 0 && at.v->keep_cache;
	}
	FS_CHECK(req, rc);
	d = calloc(1, sizeof(*d));
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)d;
	fi->cache_readdir = cache;
	fi->keep_cache = cache;
	if (fuse_reply_open(req, fi) != 0)
		fs_dir_free(d);
}

static int fs_is_dot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/*
 * Fills e for a readdirplus entry, taking a lookup reference: from the
 * listing's attributes when it has them.  -ENOENT when it is gone.
 */
static int fs_dir_entry(struct volfs_fs *fs, fuse_ino_t ino,
			struct fs_dir *d, struct fs_dirent *ent,
			struct fuse_entry_param *e)
{
	uint64_t cino;

	if (!ent->has_st)
		return fs_entry(fs, ino, ent->name, VOLFS_NO_FH, e);
	memset(e, 0, sizeof(*e));
	e->attr = ent->st;
	if (volfs_nodes_lookup(fs->nodes, ino, ent->name, &e->attr, &cino) <
	    0)
		return -ENOENT;
	e->ino = cino;
	e->attr_timeout = d->v->attr_tmo;
	e->entry_timeout = d->v->entry_tmo;
	fs_fix_attr(fs, d->v, &e->attr, cino);
	return 0;
}

static void fs_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			  off_t off, struct fuse_file_info *fi, int plus)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	size_t rem = size;
	char *buf, *p;

	/* The first read, or starting over: the reader must see the
	 * directory as it is now. */
	if (!d->loaded || (off == 0 && d->served)) {
		int rc = fs_dir_load(fs, ino, d);

		FS_CHECK(req, rc);
	}
	d->served = 1;
	buf = calloc(1, size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p = buf;
	for (size_t i = (size_t)off; i < d->n; i++) {
		struct fs_dirent *ent = &d->ents[i];
		struct fuse_entry_param e;
		size_t len;

		memset(&e, 0, sizeof(e));
		/* Entries the kernel must not learn here: "." and "..",
		 * and a serve root's volumes (opened only when used). */
		if (!plus || !d->v || fs_is_dot(ent->name)) {
			e.attr.st_mode = ent->type;
			e.attr.st_ino = ent->has_st ? ent->st.st_ino : 1;
			if (!plus)
				len = fuse_add_direntry(req, p, rem, ent->name,
							&e.attr, (off_t)i + 1);
			else
				len = fuse_add_direntry_plus(req, p, rem,
							     ent->name, &e,
							     (off_t)i + 1);
			if (len > rem)
				break;
			p += len;
			rem -= len;
			continue;
		}
		if (fs_dir_entry(fs, ino, d, ent, &e) < 0)
			continue;
		len = fuse_add_direntry_plus(req, p, rem, ent->name, &e,
					     (off_t)i + 1);
		if (len > rem) {
			fs_forget_one(fs, e.ino, 1);
			break;
		}
		p += len;
		rem -= len;
	}
	fuse_reply_buf(req, buf, size - rem);
	free(buf);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	fs_do_readdir(req, ino, size, off, fi, 0);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	fs_do_readdir(req, ino, size, off, fi, 1);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	fs_dir_free((struct fs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct volfs_fs *fs = fs_of(req);
	struct statvfs sv;
	struct fs_at at;
	int rc;

	memset(&sv, 0, sizeof(sv));
	sv.f_namemax = 255;
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	rc = fs_at(fs, ino, VOLFS_NO_FH, &at);
	if (rc == -EPERM || (rc == 0 && !at.v->be->statfs)) {
		/* A serve root, or a backend with nothing to say. */
		fuse_reply_statfs(req, &sv);
		return;
	}
	FS_CHECK(req, rc);
	fs_vlock(at.v);
	rc = at.v->be->statfs(at.v->state, &sv);
	fs_vunlock(at.v);
	FS_CHECK(req, rc);
	fuse_reply_statfs(req, &sv);
}

/* Resolves ino for an xattr op: ENOTSUP without xattr support. */
static int fs_xattr_at(struct volfs_fs *fs, fuse_ino_t ino, struct fs_at *at)
{
	int rc = fs_at(fs, ino, VOLFS_NO_FH, at);

	if (rc == 0 && !(at->v->caps & VOLFS_CAP_XATTRS))
		rc = -FS_NO_XATTRS(fs);
	return rc;
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_at at;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_xattr_at(fs, ino, &at);
	FS_CHECK(req, rc);
	FS_HAVE_XATTR_OP(req, fs, at, setxattr);
	fs_vlock(at.v);
	rc = at.v->be->setxattr(at.v->state, at.path, name, value, size,
				flags);
	fs_vunlock(at.v);
	fs_reply_err(req, rc);
}

/* getxattr and listxattr: a size query, or a copy into a buffer. */
static void fs_reply_xattr(fuse_req_t req, ssize_t n, const char *buf,
			   size_t size)
{
	if (n < 0)
		fs_reply_err(req, (int)n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct volfs_fs *fs = fs_of(req);
	char *buf = NULL;
	struct fs_at at;
	ssize_t n;

	n = fs_xattr_at(fs, ino, &at);
	if (n == -EPERM)
		n = -ENODATA;
	FS_CHECK(req, (int)n);
	FS_HAVE_XATTR_OP(req, fs, at, getxattr);
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_vlock(at.v);
	n = at.v->be->getxattr(at.v->state, at.path, name, buf, size);
	fs_vunlock(at.v);
	fs_reply_xattr(req, n, buf, size);
	free(buf);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct volfs_fs *fs = fs_of(req);
	char *buf = NULL;
	struct fs_at at;
	ssize_t n;

	n = fs_xattr_at(fs, ino, &at);
	if (n == -EPERM) {
		/* A serve root has no attributes. */
		fs_reply_xattr(req, 0, NULL, size);
		return;
	}
	FS_CHECK(req, (int)n);
	FS_HAVE_XATTR_OP(req, fs, at, listxattr);
	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_vlock(at.v);
	n = at.v->be->listxattr(at.v->state, at.path, buf, size);
	fs_vunlock(at.v);
	fs_reply_xattr(req, n, buf, size);
	free(buf);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct volfs_fs *fs = fs_of(req);
	struct fs_at at;
	int rc;

	FS_WRITABLE(fs, req);
	rc = fs_xattr_at(fs, ino, &at);
	FS_CHECK(req, rc);
	FS_HAVE_XATTR_OP(req, fs, at, removexattr);
	fs_vlock(at.v);
	rc = at.v->be->removexattr(at.v->state, at.path, name);
	fs_vunlock(at.v);
	fs_reply_err(req, rc);
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.lookup = fs_lookup,
	.forget = fs_forget,
	.forget_multi = fs_forget_multi,
	.getattr = fs_getattr,
	.setattr = fs_setattr,
	.readlink = fs_readlink,
	.mknod = fs_mknod,
	.mkdir = fs_mkdir,
	.symlink = fs_symlink,
	.link = fs_link,
	.unlink = fs_unlink,
	.rmdir = fs_rmdir,
	.rename = fs_rename,
	.open = fs_open,
	.create = fs_create,
	.read = fs_read,
	.write_buf = fs_write_buf,
	.flush = fs_flush,
	.release = fs_release,
	.fsync = fs_fsync,
	.fallocate = fs_fallocate,
	.lseek = fs_lseek,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.readdirplus = fs_readdirplus,
	.releasedir = fs_releasedir,
	.fsyncdir = fs_fsyncdir,
	.statfs = fs_statfs,
	.setxattr = fs_setxattr,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.removexattr = fs_removexattr,
};

/* libfuse's own messages, through volfs_log; the last error is kept so a
 * failed mount can say why. */
static __thread char fs_last_msg[512];

static void fs_fuse_log(enum fuse_log_level level, const char *fmt,
			va_list ap)
{
	char msg[512];
	size_t len;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';
	if (level <= FUSE_LOG_ERR)
		snprintf(fs_last_msg, sizeof(fs_last_msg), "%s", msg);
	volfs_log((int)level, "fuse: %s", msg);
}

static void fs_free(struct volfs_fs *fs)
{
	volfs_nodes_free(fs->nodes);
	pthread_mutex_destroy(&fs->files_lock);
	pthread_mutex_destroy(&fs->vols_lock);
	pthread_mutex_destroy(&fs->stop_lock);
	pthread_cond_destroy(&fs->stop_cond);
	free(fs->mountpoint);
	free(fs);
}

static struct volfs_fs *fs_new(const char *dir,
			       const struct volfs_fs_config *cfg)
{
	struct volfs_fs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	fs->cfg = *cfg;
	fs->started = time(NULL);
	fs->guard_fd = -1;
	pthread_mutex_init(&fs->files_lock, NULL);
	pthread_mutex_init(&fs->vols_lock, NULL);
	pthread_mutex_init(&fs->stop_lock, NULL);
	pthread_cond_init(&fs->stop_cond, NULL);
	fs->mountpoint = strdup(dir);
	if (!fs->mountpoint) {
		fs_free(fs);
		return NULL;
	}
	return fs;
}

/*
 * INIT, the first request: what the kernel offers is noted here for
 * fs_io_writev, which adds what libfuse 3.14 cannot ask for to the reply.
 */
/*
 * Once the ring serves, /dev/fuse carries only FORGETs and INTERRUPTs,
 * which wait for no answer: its readers then look again after a pause
 * instead of sleeping in read().  A reader sleeping there is woken by the
 * kernel for every FORGET (one per file deleted), from the deleting
 * process's CPU, usually across CPUs: that wakeup alone cost an unlink
 * about a fifth of its time.  The pause starts at FS_DEV_IDLE_MIN_MS after
 * something came and doubles up to FS_DEV_IDLE_MAX_MS while nothing does,
 * so an idle mount costs a wakeup a second per reader.  (volfs answers
 * every request at once: an INTERRUPT read late changes nothing.)
 */
#define FS_DEV_IDLE_MIN_MS 5
#define FS_DEV_IDLE_MAX_MS 1000

static __thread unsigned fs_dev_pause_ms;

static int fs_dev_idle(struct volfs_fs *fs, ssize_t n)
{
	struct timespec ts;

	if (n >= 0 || errno != EAGAIN || !fs->ring_want) {
		fs_dev_pause_ms = FS_DEV_IDLE_MIN_MS;
		return 0;
	}
	if (fuse_session_exited(fs->se)) {
		/* libfuse's loop then ends. */
		errno = EINTR;
		return 0;
	}
	if (fs_dev_pause_ms < FS_DEV_IDLE_MIN_MS)
		fs_dev_pause_ms = FS_DEV_IDLE_MIN_MS;
	ts.tv_sec = fs_dev_pause_ms / 1000;
	ts.tv_nsec = (long)(fs_dev_pause_ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
	if (fs_dev_pause_ms < FS_DEV_IDLE_MAX_MS)
		fs_dev_pause_ms = fs_dev_pause_ms * 2 > FS_DEV_IDLE_MAX_MS
					  ? FS_DEV_IDLE_MAX_MS
					  : fs_dev_pause_ms * 2;
	return 1;
}

static ssize_t fs_io_read(int fd, void *buf, size_t len, void *userdata)
{
	struct volfs_fs *fs = userdata;
	const struct fuse_in_header *in = buf;
	const size_t need = sizeof(*in) + offsetof(struct fuse_init_in, flags) +
			    sizeof(uint32_t);
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (fs_dev_idle(fs, n));

	if (n >= (ssize_t)need && in->opcode == FUSE_INIT &&
	    !__atomic_load_n(&fs->init_unique, __ATOMIC_ACQUIRE)) {
		const struct fuse_init_in *arg =
			(const void *)((const char *)buf + sizeof(*in));

		fs->init_flags = arg->flags;
		if ((arg->flags & FUSE_INIT_EXT) &&
		    n >= (ssize_t)(sizeof(*in) + offsetof(struct fuse_init_in,
							  flags2) +
				   sizeof(uint32_t)))
			fs->init_flags2 = arg->flags2;
		__atomic_store_n(&fs->init_unique, in->unique,
				 __ATOMIC_RELEASE);
	}
	return n;
}

/*
 * The INIT reply, before it goes out: asks for FUSE_HANDLE_KILLPRIV_V2
 * (volfs clears set-ID bits itself, see fs_kill_priv, and the kernel stops
 * sending a GETXATTR of security.capability before every write) and
 * FUSE_PARALLEL_DIROPS (lookups and listings of one directory may run at
 * once: the node table and the backends lock for themselves), where the
 * kernel offered them.
 */
static struct volfs_ring *fs_ring_prepare(struct volfs_fs *fs, int fd);

static void fs_init_reply(struct volfs_fs *fs, int fd,
			  struct fuse_init_out *out)
{
	uint32_t add = 0;

	if (fs->init_flags & FUSE_HANDLE_KILLPRIV_V2)
		add |= FUSE_HANDLE_KILLPRIV_V2;
	if (fs->init_flags & FUSE_PARALLEL_DIROPS)
		add |= FUSE_PARALLEL_DIROPS;
	fs->killpriv = !!(add & FUSE_HANDLE_KILLPRIV_V2);
	out->flags |= add;
	/*
	 * Passthrough, for a daemon that may register backing files (root)
	 * and without the writeback cache (which it replaces); which files
	 * use it is fs_backing_get()'s choice, per volume.  One level of
	 * stacking: the backing files are on ordinary file systems.
	 */
	if ((fs->init_flags & FUSE_INIT_EXT) && (out->flags & FUSE_INIT_EXT) &&
	    (fs->init_flags2 & FS_INIT_PASSTHROUGH2) && !fs->writeback &&
	    geteuid() == 0) {
		out->flags2 |= FS_INIT_PASSTHROUGH2;
		out->unused[0] = 1; /* max_stack_depth */
		fs->passthrough = 1;
	}
	/*
	 * The ring is made ready before the reply asks for it: once asked,
	 * the kernel holds every request until the ring serves or fails to
	 * register, so a ring that cannot even be set up (io_uring disabled,
	 * no memory) must not be asked for.
	 */
	if (fs->ring_want && (out->flags & FUSE_INIT_EXT)) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		size_t pages = (out->flags & FUSE_MAX_PAGES) ? out->max_pages
							     : 32;

		/* The kernel's own rule for the payload buffer's size. */
		fs->ring_payload = 8192;
		if (out->max_write > fs->ring_payload)
			fs->ring_payload = out->max_write;
		if (pages * page > fs->ring_payload)
			fs->ring_payload = pages * page;
		fs->ring_ready = fs_ring_prepare(fs, fd);
		if (fs->ring_ready)
			out->flags2 |= VOLFS_RING_INIT_FLAG2;
		else
			fs->ring_want = 0;
	} else {
		fs->ring_want = 0;
	}
	volfs_log(VOLFS_LOG_DEBUG, "INIT: also asked for%s%s%s%s",
		  fs->killpriv ? " handle_killpriv_v2" : "",
		  (add & FUSE_PARALLEL_DIROPS) ? " parallel_dirops" : "",
		  fs->passthrough ? " passthrough" : "",
		  fs->ring_want ? " over_io_uring" : "");
}

/*
 * A daemon killed while the ring serves would leave its mount behind: the
 * kernel ends the ring's commands, and with them the connection, only once
 * the daemon's files are gone, so fusermount3's auto_unmount finds the mount
 * not yet disconnected (its test is ENOTCONN) and leaves it.  A child that
 * holds nothing but a pipe from the daemon waits for the daemon to go: a
 * byte on the pipe is a clean stop; end of file is a death, after which it
 * unmounts the mount once it fails as a dead one does.  Only system calls
 * after fork: the daemon has threads.
 */
static _Noreturn void fs_guard_child(int fd, const char *mnt)
{
	char c;
	ssize_t n;

	if (dup2(fd, 3) < 0)
		_exit(1);
	close_range(4, ~0u, 0);
	for (int i = 0; i < 3; i++)
		close(i);
	if (chdir("/") < 0)
		_exit(1);
	do
		n = read(3, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 0)
		_exit(0);
	do
		n = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (n < 0 && errno == EINTR);
	/* Opened: unmounted already, or mounted anew.  The other errors are
	 * how requests to a dead ring end. */
	if (n < 0 &&
	    (errno == ENOTCONN || errno == ECONNABORTED || errno == ECANCELED ||
	     errno == EIO) &&
	    umount2(mnt, MNT_DETACH) < 0 && errno == EPERM)
		execlp("fusermount3", "fusermount3", "-u", "-z", "--", mnt,
		       (char *)NULL);
	_exit(0);
}

static void fs_ring_guard(struct volfs_fs *fs)
{
	const char *what = "pipe";
	int p[2], e;
	pid_t pid = -1;

	if (pipe2(p, O_CLOEXEC) == 0) {
		what = "fork";
		pid = fork();
		if (pid == 0)
			fs_guard_child(p[0], fs->mountpoint);
		e = errno;
		close(p[0]);
		if (pid > 0) {
			fs->guard_pid = pid;
			fs->guard_fd = p[1];
			return;
		}
		close(p[1]);
		errno = e;
	}
	volfs_log(VOLFS_LOG_WARNING,
		  "%s: no guard for a crash (%s: %s): should this daemon be "
		  "killed, undo its mount with 'umount -l %s'",
		  fs->mountpoint, what, strerror(errno), fs->mountpoint);
}

/* A clean stop, the mount undone: the guard goes without a look. */
static void fs_ring_guard_release(struct volfs_fs *fs)
{
	char c = 1;

	if (fs->guard_pid <= 0)
		return;
	if (write(fs->guard_fd, &c, 1) != 1)
		volfs_log(VOLFS_LOG_WARNING, "%s: guard: %s", fs->mountpoint,
			  strerror(errno));
	close(fs->guard_fd);
	while (waitpid(fs->guard_pid, NULL, 0) < 0 && errno == EINTR)
		;
	fs->guard_pid = 0;
	fs->guard_fd = -1;
}

/* Once the INIT reply is in: the ring's threads register with the kernel,
 * which then sends requests their way. */
static struct volfs_ring *fs_ring_prepare(struct volfs_fs *fs, int fd)
{
	char why[200];
	struct volfs_ring *r = volfs_ring_prepare(
		fs->se, fd, FS_RING_THREADS, fs->ring_payload, why, sizeof(why));

	if (!r)
		volfs_log(VOLFS_LOG_WARNING,
			  "%s: FUSE over io_uring not used: %s; requests go "
			  "through /dev/fuse (-o io_uring=off stops trying)",
			  fs->mountpoint, why);
	return r;
}

/* The INIT reply is written (ok) or could not be: the prepared ring
 * registers and serves, or goes. */
static void fs_ring_start(struct volfs_fs *fs, int fd, int ok)
{
	char why[200];
	unsigned queues, threads;
	struct volfs_ring *r = fs->ring_ready;

	fs->ring_ready = NULL;
	if (!r)
		return;
	if (!ok || volfs_ring_go(r, why, sizeof(why)) < 0) {
		if (ok)
			volfs_log(VOLFS_LOG_WARNING,
				  "%s: FUSE over io_uring not used: %s; "
				  "requests go through /dev/fuse (-o "
				  "io_uring=off stops trying)",
				  fs->mountpoint, why);
		volfs_ring_stop(r);
		fs->ring_want = 0;
		return;
	}
	volfs_ring_shape(r, &queues, &threads);
	fs_ring_guard(fs);
	/* The rest of /dev/fuse's traffic is read without sleeping in the
	 * kernel (fs_dev_idle). */
	{
		int fl = fcntl(fd, F_GETFL);

		if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			volfs_log(VOLFS_LOG_WARNING,
				  "%s: /dev/fuse: cannot stop blocking: %s (each "
				  "file deleted then costs a reader's wake-up)",
				  fs->mountpoint, strerror(errno));
	}
	volfs_log(VOLFS_LOG_INFO,
		  "%s: FUSE over io_uring: %u queue(s), %u thread(s) each",
		  fs->mountpoint, queues, threads);
	__atomic_store_n(&fs->ring, r, __ATOMIC_RELEASE);
}

static void fs_ring_stop(struct volfs_fs *fs)
{
	struct volfs_ring *r = __atomic_exchange_n(&fs->ring, NULL,
						  __ATOMIC_ACQ_REL);

	volfs_ring_stop(r);
}

static ssize_t fs_io_writev(int fd, struct iovec *iov, int count,
			    void *userdata)
{
	struct volfs_fs *fs = userdata;
	uint64_t init = __atomic_load_n(&fs->init_unique, __ATOMIC_ACQUIRE);
	int is_init = 0;
	ssize_t n;

	/* An open or create reply (its fuse_open_out last) of a file with a
	 * backing file: the kernel is to read and write that itself. */
	if (fs_tl_backing && count == 2 &&
	    iov[0].iov_len >= sizeof(struct fuse_out_header) &&
	    iov[1].iov_len >= sizeof(struct fuse_open_out) &&
	    ((const struct fuse_out_header *)iov[0].iov_base)->error == 0) {
		struct fuse_open_out *oo =
			(void *)((char *)iov[1].iov_base + iov[1].iov_len -
				 sizeof(struct fuse_open_out));

		/* Nothing of the FUSE inode's own page cache (keep_cache)
		 * goes with it. */
		oo->open_flags = (oo->open_flags & (FOPEN_DIRECT_IO |
						    FOPEN_NOFLUSH)) |
				 FS_FOPEN_PASSTHROUGH;
		oo->padding = (uint32_t)fs_tl_backing;
		fs_tl_backing = 0;
	}

	if (init && count >= 2 &&
	    iov[0].iov_len >= sizeof(struct fuse_out_header)) {
		const struct fuse_out_header *out = iov[0].iov_base;

		if (out->unique == init) {
			if (out->error == 0 &&
			    iov[1].iov_len >= sizeof(struct fuse_init_out))
				fs_init_reply(fs, fd, iov[1].iov_base);
			__atomic_store_n(&fs->init_unique, UINT64_MAX,
					 __ATOMIC_RELEASE);
			is_init = 1;
		}
	}
	/* An answer to a request that came through the ring goes back that
	 * way (the ring knows its own by the thread and the unique). */
	if (fs->ring_want) {
		n = volfs_ring_reply(
			__atomic_load_n(&fs->ring, __ATOMIC_ACQUIRE), iov,
			count);
		if (n != 0)
			return n;
	}
	n = writev(fd, iov, count);
	if (is_init)
		fs_ring_start(fs, fd, n >= 0);
	return n;
}

static ssize_t fs_io_splice_receive(int fdin, off_t *offin, int fdout,
				    off_t *offout, size_t len,
				    unsigned int flags, void *userdata)
{
	ssize_t n;

	do
		n = splice(fdin, offin, fdout, offout, len, flags);
	while (fs_dev_idle(userdata, n));
	return n;
}

static ssize_t fs_io_splice_send(int fdin, off_t *offin, int fdout,
				 off_t *offout, size_t len, unsigned int flags,
				 void *userdata)
{
	return splice(fdin, offin, fdout, offout, len, flags);
}

static const struct fuse_custom_io fs_io = {
	.read = fs_io_read,
	.writev = fs_io_writev,
	.splice_receive = fs_io_splice_receive,
	.splice_send = fs_io_splice_send,
};

/*
 * Answers the kernel's first request, INIT, which it sent while mounting:
 * once this returns the mount answers, with the ring serving where it was
 * asked for (the kernel holds every other request until INIT is answered).
 */
static int fs_answer_init(struct volfs_fs *fs, const char *what,
			  struct volfs_err *err)
{
	struct fuse_buf buf = { 0 };
	int n = fuse_session_receive_buf(fs->se, &buf);

	if (n > 0)
		fuse_session_process_buf(fs->se, &buf);
	free(buf.mem);
	if (n <= 0)
		return volfs_err_set(err, n < 0 ? n : -EIO,
				     "cannot start serving %s: the kernel's "
				     "first FUSE request did not come: %s",
				     what, strerror(n < 0 ? -n : EIO));
	return 0;
}

/*
 * Starts the FUSE session of fs (its source shown as fsname in the mount
 * table, "what" in messages), mounts it at dir and answers INIT.
 */
static int fs_start(struct volfs_fs *fs, const char *fsname, const char *what,
		    const char *dir, struct volfs_err *err)
{
	const struct volfs_fs_config *cfg = &fs->cfg;
	struct fuse_args args;
	char opts[512];
	char *argv[4];
	int argc = 0, rc;

	/* The kernel applied the caller's umask to every mode it sends; the
	 * daemon's own must not mask them again. */
	umask(0);
	fuse_set_log_func(fs_fuse_log);
	snprintf(opts, sizeof(opts),
		 "fsname=%s,subtype=volfs,default_permissions,auto_unmount"
		 "%s%s%s",
		 fsname, cfg->allow_other ? ",allow_other" : "",
		 cfg->readonly ? ",ro" : "", cfg->noexec ? ",noexec" : "");
	argv[argc++] = "volfs";
	argv[argc++] = "-o";
	argv[argc++] = opts;
	if (cfg->debug) {
		argv[argc++] = "-d";
		/* libfuse prints each request at debug level. */
		if (volfs_log_level() < VOLFS_LOG_DEBUG)
			volfs_log_set_level(VOLFS_LOG_DEBUG);
	}
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	fs_last_msg[0] = '\0';
	fs->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	/* Parsing may have replaced argv by copies of its own. */
	fuse_opt_free_args(&args);
	if (!fs->se)
		return volfs_err_set(err, -EINVAL,
				     "cannot start a FUSE session for %s: %s",
				     what,
				     fs_last_msg[0] ? fs_last_msg
						    : "unknown error");
	if (fuse_session_mount(fs->se, dir) != 0) {
		fuse_session_destroy(fs->se);
		fs->se = NULL;
		return volfs_err_set(err, -EIO, "cannot mount %s on %s: %s",
				     what, dir,
				     fs_last_msg[0] ? fs_last_msg
						    : "the FUSE mount failed "
						      "(is /dev/fuse usable "
						      "and fuse3 installed?)");
	}
	fs->mounted = 1;
	/* Same descriptor, through fs_io: without it the mount works,
	 * only slower. */
	if (fuse_session_custom_io(fs->se, &fs_io, fuse_session_fd(fs->se)) !=
	    0)
		volfs_log(VOLFS_LOG_WARNING,
			  "%s: cannot watch FUSE INIT: every write will cost "
			  "two requests", what);
	rc = fs_answer_init(fs, what, err);
	if (rc < 0) {
		fs_ring_stop(fs);
		fuse_session_unmount(fs->se);
		fuse_session_destroy(fs->se);
		fs->se = NULL;
		fs->mounted = 0;
		fs_ring_guard_release(fs);
	}
	return rc;
}

int volfs_fs_mount(struct volfs_open_volume *ov, const char *dir,
		   const struct volfs_fs_config *cfg, struct volfs_fs **out,
		   struct volfs_err *err)
{
	char what[VOLFS_NAME_MAX + 16];
	struct volfs_fs *fs;
	int rc;

	fs = fs_new(dir, cfg);
	if (fs)
		fs->single = fs_vol_new(fs, ov, NULL);
	if (fs && fs->single)
		fs->nodes = volfs_nodes_new(
			fs->single,
			!!(fs->single->caps & VOLFS_CAP_STABLE_INO));
	if (!fs || !fs->single || !fs->nodes) {
		if (fs) {
			free(fs->single);
			fs_free(fs);
		}
		return volfs_err_set(err, -ENOMEM, "out of memory");
	}
	snprintf(what, sizeof(what), "volume '%s'", ov->row.name);
	rc = fs_start(fs, ov->row.name, what, dir, err);
	if (rc < 0) {
		free(fs->single);
		fs_free(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

int volfs_fs_mount_all(const struct volfs_fs_source *src, const char *dir,
		       const struct volfs_fs_config *cfg,
		       struct volfs_fs **out, struct volfs_err *err)
{
	struct volfs_fs *fs;
	int rc;

	fs = fs_new(dir, cfg);
	if (fs)
		fs->nodes = volfs_nodes_new(NULL, 0);
	if (!fs || !fs->nodes) {
		if (fs)
			fs_free(fs);
		return volfs_err_set(err, -ENOMEM, "out of memory");
	}
	fs->src = src;
	rc = fs_start(fs, "volfs", "the volfs volumes", dir, err);
	if (rc < 0) {
		fs_free(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

/* A list of names, filled through volfs_fs_source.list(). */
struct fs_names {
	char **v;
	size_t n, alloc;
	int oom;
};

static void fs_names_add(void *arg, const char *name)
{
	struct fs_names *l = arg;

	if (l->oom)
		return;
	if (l->n == l->alloc) {
		size_t na = l->alloc ? 2 * l->alloc : 64;
		char **nv = realloc(l->v, na * sizeof(*nv));

		if (!nv) {
			l->oom = 1;
			return;
		}
		l->v = nv;
		l->alloc = na;
	}
	l->v[l->n] = strdup(name);
	if (l->v[l->n])
		l->n++;
	else
		l->oom = 1;
}

static int fs_names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Serve: every few seconds, asks the kernel to forget volumes that were
 * removed or (persistent ones) went unused for a while; once it has,
 * fs_vol_forgotten()
 * closes them.  A volume still in use (open files, a working directory in
 * it) stays: the kernel keeps what is busy.
 */
static void *fs_janitor(void *arg)
{
	struct volfs_fs *fs = arg;
	unsigned idle = fs->cfg.idle_timeout ? fs->cfg.idle_timeout
					      : FS_IDLE_DEFAULT;

	pthread_mutex_lock(&fs->stop_lock);
	while (!fs->stopping) {
		struct timespec until;
		char **names = NULL;
		size_t n = 0, cap = 0;
		time_t now = time(NULL);

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += FS_JANITOR_PERIOD;
		pthread_cond_timedwait(&fs->stop_cond, &fs->stop_lock, &until);
		if (fs->stopping)
			break;
		pthread_mutex_unlock(&fs->stop_lock);

		/* What the catalog holds, in one read, not one per open
		 * volume. */
		struct fs_names live = { 0 };
		int listed = fs->src->list(fs->src->ctx, fs_names_add, &live);

		/* (qsort and bsearch want an array, even of no names.) */
		if (listed >= 0 && !live.oom && live.n)
			qsort(live.v, live.n, sizeof(*live.v), fs_names_cmp);
		pthread_mutex_lock(&fs->vols_lock);
		for (struct fs_vol *v = fs->vols; v; v = v->next) {
			time_t used = __atomic_load_n(&v->used,
						      __ATOMIC_RELAXED);

			if (!v->gone && listed >= 0 && !live.oom &&
			    (!live.n ||
			     !bsearch(&v->name, live.v, live.n,
				      sizeof(*live.v), fs_names_cmp)))
				v->gone = 1;
			/* A volume whose data lives only in this process
			 * (ram) goes only when removed: closing it would
			 * empty it. */
			if (!v->gone && (now - used < (time_t)idle ||
					 !(v->caps & VOLFS_CAP_PERSISTENT)))
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 8;
				char **nn = realloc(names, nc * sizeof(*nn));

				if (!nn)
					break;
				names = nn;
				cap = nc;
			}
			names[n] = strdup(v->name);
			if (names[n])
				n++;
		}
		pthread_mutex_unlock(&fs->vols_lock);
		for (size_t i = 0; i < live.n; i++)
			free(live.v[i]);
		free(live.v);
		/* Outside the lock: the kernel answers with forgets, which
		 * take it. */
		for (size_t i = 0; i < n; i++) {
			fuse_lowlevel_notify_inval_entry(fs->se,
							 VOLFS_NODES_ROOT,
							 names[i],
							 strlen(names[i]));
			free(names[i]);
		}
		free(names);
		pthread_mutex_lock(&fs->stop_lock);
	}
	pthread_mutex_unlock(&fs->stop_lock);
	return NULL;
}

int volfs_fs_run(struct volfs_fs *fs)
{
	struct fuse_loop_config *lc;
	int rc;

	if (fuse_set_signal_handlers(fs->se) != 0)
		return -EIO;
	lc = fuse_loop_cfg_create();
	if (!lc) {
		fuse_remove_signal_handlers(fs->se);
		return -ENOMEM;
	}
	if (fs->cfg.max_threads)
		fuse_loop_cfg_set_max_threads(lc, fs->cfg.max_threads);
	if (fs->src && pthread_create(&fs->janitor, NULL, fs_janitor, fs) == 0)
		fs->janitor_running = 1;
	rc = fuse_session_loop_mt(fs->se, lc);
	fs_ring_stop(fs);
	if (fs->janitor_running) {
		pthread_mutex_lock(&fs->stop_lock);
		fs->stopping = 1;
		pthread_cond_signal(&fs->stop_cond);
		pthread_mutex_unlock(&fs->stop_lock);
		pthread_join(fs->janitor, NULL);
		fs->janitor_running = 0;
	}
	fuse_loop_cfg_destroy(lc);
	fuse_remove_signal_handlers(fs->se);
	return rc < 0 ? rc : 0;
}

void volfs_fs_destroy(struct volfs_fs *fs)
{
	if (!fs)
		return;
	fs_ring_stop(fs);
	if (fs->mounted)
		fuse_session_unmount(fs->se);
	fuse_session_destroy(fs->se);
	fs_ring_guard_release(fs);
	/* The connection and its backing files are gone with it. */
	fs->se = NULL;
	/* Handles the kernel never released (a forced exit). */
	while (fs->files)
		fs_file_free(fs, fs->files);
	while (fs->vols) {
		struct fs_vol *v = fs->vols;

		fs->vols = v->next;
		volfs_volume_close(v->ov);
		free(v->name);
		free(v);
	}
	free(fs->vhash);
	free(fs->single);
	fs_free(fs);
}
