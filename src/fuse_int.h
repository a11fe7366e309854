/* SPDX-License-Identifier: MIT */
/*
 * What the files of the FUSE glue share, and nothing outside the glue
 * includes: fuse_ll.c answers requests on names, attributes and extended
 * attributes and holds the table of handlers; fuse_file.c, open files and
 * passthrough; fuse_dir.c, directory listings; fuse_vols.c, the volumes and
 * serve's table of them; fuse_session.c, the session: mounting, INIT, the
 * I/O hooks and the crash guard; fuse_janitor.c, serve's janitor.
 */
#ifndef VOLFS_FUSE_INT_H
#define VOLFS_FUSE_INT_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>

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
 * Serve's ceiling of worker threads unless max_threads= says: requests
 * stuck on one volume whose server stopped answering each hold a thread,
 * and the other volumes must still find one free.
 */
#define FS_SERVE_THREADS 256

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
	/* Serve: the name it is listed under, its identity in the source,
	 * when it was last used, and whether it was removed from the source
	 * (or its name given to a new volume). */
	char *name;
	char *id;
	time_t used;
	int gone;
	/* Open files and directories: a volume used only through them is
	 * busy, even when its I/O never reaches the daemon (passthrough). */
	unsigned nopen;
	/* Being opened by the first lookup: later ones wait on vols_cond
	 * (ov is NULL until then, and stays NULL if the open failed, with
	 * the error in open_rc). */
	int opening, open_rc;
	/* Lookups in progress that use it outside vols_lock (it is not
	 * freed while pinned). */
	unsigned pins;
	/* src_gen when the source last confirmed its identity. */
	unsigned long gen;
	/* vol_seq when its identity was last taken from the source: a pass
	 * over the source's volumes read before that knows nothing of it. */
	unsigned long seq;
	/* Its nodes, as the inode table counts them. */
	struct volfs_nodes_vol nv;
	struct fs_vol *next;
	/* The next in its bucket of the name hash. */
	struct fs_vol *hnext;
};

/* What a request is about: a volume and a node of its backend. */
struct fs_at {
	struct fs_vol *v;
	uint64_t node;
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

/* A backing file registered for passthrough, one per open inode, found by
 * node id in one of FS_BACKING_BUCKETS chains: every open and release
 * looks, and serve may hold thousands open. */
#define FS_BACKING_BUCKETS 256
struct fs_backing {
	fuse_ino_t ino;
	int id;
	unsigned refs;
	struct fs_backing *next;
};

/* A directory handle: the backend's, whose positions are the offsets the
 * kernel sees; for a serve root (v NULL), a listing of the volumes' names
 * taken at the first read and again when the reader starts over. */
struct fs_dir {
	struct fs_vol *v;
	uint64_t bdh;
	char **names;
	size_t n, alloc;
	int loaded;
	int served;
	/* In the list of open directories (files_lock). */
	struct fs_dir *prev, *next;
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
	struct fs_dir *dirs;
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
	struct fs_backing *backings[FS_BACKING_BUCKETS];
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
	pthread_cond_t vols_cond;
	/* Raised by the janitor before it reads what the source's watch
	 * descriptor says changed (fs_src_unchanged()). */
	unsigned long src_gen;
	/* Raised each time a volume's identity is taken from the source. */
	unsigned long vol_seq;
	struct fs_vol *vols;
	/* The open volumes by name: lookups stay O(1) with thousands. */
	struct fs_vol **vhash;
	size_t nbuckets, nvols;
	pthread_t janitor;
	int janitor_running;
	/* Written to stop the janitor (an eventfd). */
	int stop_fd;
};

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

static inline struct volfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline void fs_vlock(struct fs_vol *v)
{
	volfs_vol_lock(v->ov);
}

static inline void fs_vunlock(struct fs_vol *v)
{
	volfs_vol_unlock(v->ov);
}

static inline int fs_reply_err(fuse_req_t req, int rc)
{
	return fuse_reply_err(req, rc < 0 ? -rc : rc);
}

static inline struct fs_file *fs_file_of(struct fuse_file_info *fi)
{
	return (struct fs_file *)(uintptr_t)fi->fh;
}

static inline uint64_t fs_fh(struct fuse_file_info *fi)
{
	return fi ? fs_file_of(fi)->bfh : VOLFS_NO_FH;
}

static inline int fs_is_list_root(const struct volfs_fs *fs, fuse_ino_t ino)
{
	return fs->src && ino == VOLFS_NODES_ROOT;
}

static inline void fs_touch(struct fs_vol *v)
{
	if (v->name)
		__atomic_store_n(&v->used, time(NULL), __ATOMIC_RELAXED);
}

/* A file or directory of v was opened (1) or released (-1). */
static inline void fs_vol_opened(struct fs_vol *v, int d)
{
	__atomic_add_fetch(&v->nopen, (unsigned)d, __ATOMIC_RELAXED);
	fs_touch(v);
}

/* fuse_ll.c: the handlers' table, and what the other files use. */
extern const struct fuse_lowlevel_ops fs_ops;

/* The volume whose nodes the table counts in nv. */
static inline struct fs_vol *fs_vol_of(struct volfs_nodes_vol *nv)
{
	return (struct fs_vol *)((char *)nv - offsetof(struct fs_vol, nv));
}

/* Resolves node ino into at: 0, or -EPERM for a serve root (no volume:
 * nothing can be done there).  Takes no lock. */
static inline int fs_at(struct volfs_fs *fs, fuse_ino_t ino, struct fs_at *at)
{
	struct volfs_node *n = volfs_nodes_get(fs->nodes, ino);

	if (!n->vol) {
		at->v = NULL;
		return -EPERM;
	}
	at->v = fs_vol_of(n->vol);
	at->node = n->bnode;
	fs_touch(at->v);
	return 0;
}

/* Makes a backend's stat of node ino what the kernel is to see (node
 * serials as inode numbers where the backend's are not stable, forced
 * owners). */
void fs_fix_attr(struct volfs_fs *fs, struct fs_vol *v, struct stat *st,
		 fuse_ino_t ino);
/* The backend's stat of at (through fh where open): 0 or -errno. */
int fs_getattr_at(struct fs_at *at, uint64_t fh, struct stat *st);
/* Clears set-user-ID and set-group-ID when a caller without CAP_FSETID
 * writes (req NULL: the kernel has decided they go), for requests whose
 * reply carries no attributes: the kernel is told its cached mode is
 * stale.  fd is the file's real descriptor or -1.  0 or -errno. */
int fs_kill_priv_notify(fuse_req_t req, struct volfs_fs *fs, struct fs_vol *v,
			fuse_ino_t ino, uint64_t fh, int fd);
/* Drops n lookup references of node ino (closing a serve volume whose
 * last node went). */
void fs_forget_one(struct volfs_fs *fs, fuse_ino_t ino, uint64_t n);
/* Makes the backend's entry be (whose reference it takes) a node the
 * kernel learns of, filling e with one lookup reference: 0 or -errno (the
 * reference then given back; locked: from inside a backend call, which
 * holds the volume's lock already). */
int fs_entry(struct volfs_fs *fs, struct fs_vol *v, struct volfs_entry *be,
	     struct fuse_entry_param *e, int locked);
/* Gives n references of backend node bnode of v back. */
void fs_bforget(struct fs_vol *v, uint64_t bnode, uint64_t n);
/* Who sent req, as the backends see it. */
struct volfs_caller fs_caller(fuse_req_t req);
/* Opens node at, or with name not NULL creates name in directory node at
 * with mode for who (the new file in *e); *bfh gets the backend's handle.
 * 0 or -errno. */
int fs_open_at(struct volfs_fs *fs, struct fs_at *at, const char *name,
	       int flags, mode_t mode, const struct volfs_caller *who,
	       struct volfs_entry *e, uint64_t *bfh);

/* fuse_perm.c: checks past the kernel's.  Whether the caller of req holds
 * capability cap (a caller that is gone: whether it ran as root). */
int fs_caller_cap(fuse_req_t req, int cap);
/* On a mount with uid= or gid=, whether the caller of req may make the
 * owner's changes of a setattr of at (fh: its handle or VOLFS_NO_FH),
 * decided against the file's real owner: 0 or -EPERM (or the -errno of
 * getting its attributes).  May clear S_ISGID in attr's mode, as the
 * kernel does for a caller outside the file's group. */
int fs_perm_setattr(fuse_req_t req, struct volfs_fs *fs, struct fs_at *at,
		    uint64_t fh, struct stat *attr, int to_set);
/* The same for setting or removing extended attribute name of at. */
int fs_perm_xattr(fuse_req_t req, struct volfs_fs *fs, struct fs_at *at,
		  const char *name);
/* The same for a new hard link to at. */
int fs_perm_link(fuse_req_t req, struct volfs_fs *fs, struct fs_at *at);

/* fuse_file.c: the handlers of open files; and, for fuse_session.c's
 * shutdown, releases f's backend handle and frees f: 0 or the backend's
 * -errno. */
int fs_file_free(struct volfs_fs *fs, struct fs_file *f);
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);
void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi);
void fs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *in,
		  off_t off, struct fuse_file_info *fi);
void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	      struct fuse_file_info *fi);
void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		  off_t len, struct fuse_file_info *fi);
void fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	      struct fuse_file_info *fi);
/* The backing id that the reply being sent by this thread is to carry
 * (fs_io_writev in fuse_session.c puts it into the reply). */
extern __thread int fs_tl_backing;

/* fuse_vols.c: a volume opened for fs, with the kernel caching its backend
 * allows; NULL when out of memory. */
struct fs_vol *fs_vol_new(struct volfs_fs *fs, struct volfs_open_volume *ov,
			  const char *name);
/* Closes gone, whose last node the kernel forgot, unless it is in use
 * again. */
void fs_vol_forgotten(struct volfs_fs *fs, struct fs_vol *gone);
/* Serve: closes the volumes removed from the source that nothing uses
 * any more (the kernel forgot them before they were found removed). */
void fs_vols_reap(struct volfs_fs *fs);
/* Serve: looks volume name up in the root, opening it if need be, and
 * fills e, taking one lookup reference on its root node: 0 or -errno. */
int fs_lookup_volume(struct volfs_fs *fs, const char *name,
		     struct fuse_entry_param *e);

/* fuse_janitor.c: serve's janitor thread, started by volfs_fs_run() and
 * stopped (joined) before the fs goes: 0 or -errno. */
int fs_janitor_start(struct volfs_fs *fs);
void fs_janitor_stop(struct volfs_fs *fs);

/* fuse_dir.c: the handlers of directory handles; and, for shutdown,
 * releases d's backend handle and frees it. */
void fs_dir_free(struct volfs_fs *fs, struct fs_dir *d);
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi);

#endif
