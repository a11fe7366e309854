/* SPDX-License-Identifier: MIT */
/*
 * volfs backend module interface.
 *
 * A backend is a shared object in VOLFS_BACKEND_DIR named NAME.so that
 * exports one symbol, volfs_backend_NAME, returning a pointer to a constant
 * struct volfs_backend.  The core loads it with dlopen(), checks abi_version
 * and size, and then calls only through the table.  A backend never includes
 * FUSE's headers and the core never includes a backend's.
 *
 * Conventions shared by every op below:
 *
 *  - Every op returns 0 (or a byte count where said) on success and a
 *    negative errno value on failure.  A NULL op means "not supported": the
 *    core answers -ENOTSUP (or -ENOSYS where POSIX expects that) itself.
 *
 *  - Files are known by identity, never by path.  A node is a backend-owned
 *    64-bit value naming one file of one volume (an inode, not a name): an
 *    O_PATH descriptor's holder, an in-memory inode, whatever the backend
 *    keeps.  The volume's root is VOLFS_ROOT_NODE, valid from open() to
 *    close() without a reference.  Every other node is handed to the core
 *    with one reference by the ops that produce a struct volfs_entry
 *    (lookup, mknod, mkdir, symlink, link, create_file, readdir with plus,
 *    node_decode); the core gives each reference back exactly once with
 *    forget(), possibly several at a time.  A node stays valid, and keeps
 *    naming the same file, while a reference is held: after every name of
 *    the file was removed or replaced (ops on it still work where POSIX says
 *    they do on an unlinked file), and after a rename of it or of any
 *    directory above it.  A store that names files by path (no
 *    VOLFS_CAP_STABLE_INO) keeps this while an open handle holds the file,
 *    and may answer -ENOENT for a node whose every name is gone once no
 *    handle holds it; one that holds some nodes by a file handle instead
 *    of a descriptor (local, past its descriptor budget) answers -ESTALE
 *    for such a node then.
 *
 *  - While references to a file are held, every op that produces an entry
 *    for that file gives the same node value (whichever of its hard links
 *    it was reached by), so the core shows the kernel one inode per file.
 *    Two different files never share a node value while both are held.
 *
 *  - A name is one component: not empty, not "." or "..", no '/', at most
 *    255 bytes; the core guarantees this shape.  It is resolved in its
 *    parent node only, never through a symbolic link, so nothing outside
 *    the volume is ever reached (a host-side change may have replaced a
 *    directory by a link since the core last looked).  A backend whose
 *    storage names files by path (a file share) builds paths inside itself.
 *
 *  - Ops may block, e.g. on the network.  A backend whose storage can fail
 *    remotely must return within a bounded time and map failures to -EIO,
 *    -ETIMEDOUT, -EACCES or -EHOSTUNREACH; it must not assume a local fd.
 *
 *  - "vol" is the opaque per-volume state returned by open().  Open file and
 *    directory handles ("fh", "dh") are backend-owned 64-bit values, given
 *    back with release() and releasedir(); the core never interprets them.
 *    VOLFS_NO_FH stands for "no open handle".  A handle holds its file by
 *    itself: the core may forget the node while the handle is open.
 *
 *  - Messages a backend writes into an err buffer say what is wrong and
 *    what to do, naming the option or object concerned; the core prefixes
 *    them with what it was doing ("cannot open volume 'x': ").
 *
 *  - Unless the backend sets VOLFS_CAP_THREADSAFE, the core serialises every
 *    call on one volume.  Calls on different volumes are always concurrent.
 *
 * Versions, as SQLite's sqlite3_vfs carries iVersion: abi_version changes
 * only when an existing member changes meaning or place, and the core
 * refuses any other.  Within one abi_version the table only grows at its
 * end, and size says how much of it the module knows: the core accepts a
 * module built against an older header and treats the members past its
 * size as absent (NULL), and refuses one built against a newer header than
 * its own, saying so.
 */
#ifndef VOLFS_BACKEND_H
#define VOLFS_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>

#define VOLFS_BACKEND_ABI 3

/* The root of every volume, in ops that take a node. */
#define VOLFS_ROOT_NODE 0

#define VOLFS_NO_FH UINT64_MAX

/* Capability bits (struct volfs_backend.caps). */
enum {
	/* link() works. */
	VOLFS_CAP_HARDLINKS = 1u << 0,
	/* symlink() and readlink() work. */
	VOLFS_CAP_SYMLINKS = 1u << 1,
	/* The *xattr ops work. */
	VOLFS_CAP_XATTRS = 1u << 2,
	/* rename() replaces its target atomically, and supports
	 * VOLFS_RENAME_NOREPLACE and VOLFS_RENAME_EXCHANGE. */
	VOLFS_CAP_ATOMIC_RENAME = 1u << 3,
	/* write() may be called at any offset of an existing file, not only
	 * sequentially on a newly created one. */
	VOLFS_CAP_RANDOM_WRITE = 1u << 4,
	/* Data survives a restart of the daemon serving the volume. */
	VOLFS_CAP_PERSISTENT = 1u << 5,
	/* Every op may be called from many threads at once. */
	VOLFS_CAP_THREADSAFE = 1u << 6,
	/* fd() returns a real file descriptor for open files, so the core
	 * may move data with splice() instead of read()/write(). */
	VOLFS_CAP_REAL_FD = 1u << 7,
	/* st_ino is stable and unique within the volume, so the core can
	 * recognise hard links and keep one kernel inode per file. */
	VOLFS_CAP_STABLE_INO = 1u << 8,
	/* chown() and the uid/gid given at creation are stored. */
	VOLFS_CAP_OWNERSHIP = 1u << 9,
	/* Something other than this volfs process may change the data
	 * (a host directory, a remote share): the core keeps kernel caches
	 * short. */
	VOLFS_CAP_EXTERNAL_CHANGES = 1u << 10,
	/* The volume has a size limit of its own: a write past it must fail
	 * with ENOSPC when it is made, so the core does not let the kernel
	 * gather writes to send later (the writeback cache). */
	VOLFS_CAP_SIZE_LIMIT = 1u << 11,
	/* 1u << 12 is unused (it was the core's metadata cache; a backend
	 * caches inside itself). */
	/* Requests are answered from this machine (memory, a local disk),
	 * never after a network round trip: the core may serve the volume
	 * from a few threads per CPU (FUSE over io_uring, src/ring.c). */
	VOLFS_CAP_LOCAL_DATA = 1u << 13,
};

/* rename() flags, equal in value to Linux's RENAME_* flags. */
#define VOLFS_RENAME_NOREPLACE (1u << 0)
#define VOLFS_RENAME_EXCHANGE (1u << 1)

/* Option descriptor flags. */
enum {
	/* The value is a credential: stored encrypted, never printed. */
	VOLFS_OPT_SECRET = 1u << 0,
	/* The option must be given at create time. */
	VOLFS_OPT_REQUIRED = 1u << 1,
	/*
	 * The value is a host directory the volume serves.  After validate()
	 * the core resolves it (realpath()) and stores the real path, and
	 * refuses "/", the state root, a directory inside it or containing
	 * it, and a directory inside or containing another volume's.
	 */
	VOLFS_OPT_HOST_DIR = 1u << 2,
	/* The value names a file on the host that volfs reads (as root, in
	 * a daemon): a caller acting for someone less trusted, such as the
	 * Docker plugin, refuses the option. */
	VOLFS_OPT_HOST_FILE = 1u << 3,
};

/* One option a backend accepts ("-o key=value" at create time). */
struct volfs_optdesc {
	const char *key;
	unsigned flags;
	/* One line for `volfs create --help`. */
	const char *help;
};

/* One key=value pair.  Both strings are NUL-terminated. */
struct volfs_kv {
	const char *key;
	const char *value;
};

/* Log levels, equal in value to syslog's. */
enum {
	VOLFS_LOG_ERR = 3,
	VOLFS_LOG_WARNING = 4,
	VOLFS_LOG_NOTICE = 5,
	VOLFS_LOG_INFO = 6,
	VOLFS_LOG_DEBUG = 7,
};

/*
 * What the core tells a backend about a volume.  Everything here is owned by
 * the core and stays valid from open() to close() (and for the duration of
 * validate(), create() and destroy()).
 */
struct volfs_volinfo {
	/* The volume's name, already validated. */
	const char *name;
	/* A directory the backend may use for this volume's data or cache:
	 * STATE/volumes/NAME.  It exists when create(), open() and destroy()
	 * are called; the core removes it after destroy(). */
	const char *state_dir;
	/* The options the volume was created with, secrets decrypted.  Keys
	 * are unique and all appear in the backend's options table.  Once
	 * open() has returned, the values of VOLFS_OPT_SECRET options are
	 * wiped (empty strings): a backend that needs one later keeps it
	 * itself, in as few copies as it can. */
	const struct volfs_kv *opts;
	size_t nopts;
	/* Logging through the core: syslog level, printf format.  Never log
	 * the value of a VOLFS_OPT_SECRET option. */
	void (*log)(int level, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
};

/* The caller of an op that creates a file: the new file's owner. */
struct volfs_caller {
	uid_t uid;
	gid_t gid;
	pid_t pid;
};

/* A file as an op that finds or makes one hands it over: its node, with one
 * reference the receiver owns, and its attributes. */
struct volfs_entry {
	uint64_t node;
	struct stat st;
};

/*
 * Directory listing callback, called by readdir() once per entry in the
 * order of the directory's positions.
 *
 *  - name, type (an S_IF* value, or 0 when unknown) and ino (the d_ino to
 *    show; 0 when unknown) describe the entry.
 *  - next is the position after this entry: a readdir() started at next
 *    continues with the entry that follows.  Positions are positive, and
 *    stay meaningful while the handle is open whatever happens to the
 *    directory (an entry added or removed meanwhile may or may not be
 *    listed; none other is skipped or listed twice).
 *  - e is NULL, except with plus for entries other than "." and "..": then
 *    the entry as lookup() would give it, with one reference.
 *
 * Returns 0 when it took the entry (and e's reference), nonzero when it
 * has no room left: then the entry was not taken, the backend gives e's
 * reference back itself and readdir() returns 0 at once.
 */
typedef int (*volfs_fill_fn)(void *ctx, const char *name, mode_t type,
			     ino_t ino, off_t next, struct volfs_entry *e);

struct volfs_backend {
	/* VOLFS_BACKEND_ABI at the time the module was built. */
	int abi_version;
	/* sizeof(struct volfs_backend) at the time the module was built. */
	size_t size;
	/* The name users give with -b; equals the module's file name. */
	const char *name;
	/* One line for `volfs create --help`. */
	const char *description;
	/* VOLFS_CAP_* bits. */
	unsigned caps;
	/* Accepted options, terminated by an entry with key == NULL.  The core
	 * refuses unknown keys and missing VOLFS_OPT_REQUIRED ones before
	 * calling validate(). */
	const struct volfs_optdesc *options;

	/*
	 * Checks option values for a volume about to be created.  Has no side
	 * effects beyond what is needed to check (it may contact a server).
	 * On failure writes a one-line message naming the option and what to
	 * do into err (NUL-terminated, at most errlen bytes) and returns
	 * -EINVAL (bad value) or the errno of the failed check.
	 */
	int (*validate)(const struct volfs_volinfo *vi, char *err,
			size_t errlen);

	/*
	 * Provisions storage for a new volume (after validate() succeeded and
	 * the catalog has reserved the name).  On failure it has left nothing
	 * behind, writes a message into err and returns -errno.  NULL: nothing
	 * to provision.
	 */
	int (*create)(const struct volfs_volinfo *vi, char *err, size_t errlen);

	/*
	 * Deletes a volume's data for good (`volfs rm`).  The volume is not
	 * open anywhere.  Returns 0 also when there was nothing left to delete.
	 * NULL: nothing to delete beyond state_dir.
	 */
	int (*destroy)(const struct volfs_volinfo *vi, char *err,
		       size_t errlen);

	/*
	 * Opens a volume for use and stores its state in *vol.  If it fails,
	 * it has allocated nothing, writes a message into err and returns
	 * -errno.  vi stays valid until close().
	 */
	int (*open)(const struct volfs_volinfo *vi, void **vol, char *err,
		    size_t errlen);

	/*
	 * Used instead of open() when set: opens the volume as open() does and
	 * stores in *table the table that serves it from then on, this one or
	 * another the module provides (a volume kept in a form whose ops
	 * another table implements).  Every later call on the volume, close()
	 * included, goes through *table.  On failure it has allocated nothing
	 * and *table is untouched.
	 */
	int (*open_as)(const struct volfs_volinfo *vi, void **vol,
		       const struct volfs_backend **table, char *err,
		       size_t errlen);

	/* Releases everything open() made.  Every fh and dh was released and
	 * every node reference given back before. */
	void (*close)(void *vol);

	/*
	 * The capabilities of one opened volume, when they depend on its
	 * options (e.g. a host directory others may change).  NULL: caps.
	 */
	unsigned (*volume_caps)(void *vol);

	/* Fills *sv for the volume (block size, totals, free, name max). */
	int (*statfs)(void *vol, struct statvfs *sv);

	/*
	 * Finds name in directory parent and fills *e (one reference).
	 * -ENOENT when there is none, -ENOTDIR when parent is not a directory.
	 */
	int (*lookup)(void *vol, uint64_t parent, const char *name,
		      struct volfs_entry *e);

	/* Gives back n references to node, which the core holds no more. */
	void (*forget)(void *vol, uint64_t node, uint64_t n);

	/*
	 * Fills *st for node, without following a symbolic link.  When fh is
	 * not VOLFS_NO_FH it is an open handle of node and the backend may
	 * prefer it.
	 */
	int (*getattr)(void *vol, uint64_t node, uint64_t fh, struct stat *st);

	/*
	 * Copies a symlink's target into buf (size bytes, NUL-terminated,
	 * truncated if longer) and returns 0.
	 */
	int (*readlink)(void *vol, uint64_t node, char *buf, size_t size);

	/*
	 * The ops that make a name: the new file (mknod: a special file, FIFO
	 * or socket; mkdir: a directory; symlink: a link holding target, stored
	 * as given and never resolved) is owned by the caller, and is handed
	 * over in *e.  -EEXIST when name exists.
	 */
	int (*mknod)(void *vol, uint64_t parent, const char *name, mode_t mode,
		     dev_t rdev, const struct volfs_caller *who,
		     struct volfs_entry *e);
	int (*mkdir)(void *vol, uint64_t parent, const char *name, mode_t mode,
		     const struct volfs_caller *who, struct volfs_entry *e);
	int (*symlink)(void *vol, const char *target, uint64_t parent,
		       const char *name, const struct volfs_caller *who,
		       struct volfs_entry *e);

	/* Makes newname in newparent a hard link to node, and hands node over
	 * in *e (another reference, attributes with the new link count). */
	int (*link)(void *vol, uint64_t node, uint64_t newparent,
		    const char *newname, struct volfs_entry *e);

	/* Removes name from parent: a non-directory (unlink), an empty
	 * directory (rmdir).  Nodes of the file stay valid. */
	int (*unlink)(void *vol, uint64_t parent, const char *name);
	int (*rmdir)(void *vol, uint64_t parent, const char *name);

	/* Renames name in parent to newname in newparent; flags are
	 * VOLFS_RENAME_* bits.  A replaced file's nodes stay valid. */
	int (*rename)(void *vol, uint64_t parent, const char *name,
		      uint64_t newparent, const char *newname, unsigned flags);

	/* Attribute changes.  fh as in getattr().  chown takes (uid_t)-1 or
	 * (gid_t)-1 for "leave unchanged"; utimens takes UTIME_NOW and
	 * UTIME_OMIT in tv_nsec. */
	int (*chmod)(void *vol, uint64_t node, uint64_t fh, mode_t mode);
	int (*chown)(void *vol, uint64_t node, uint64_t fh, uid_t uid,
		     gid_t gid);
	int (*truncate)(void *vol, uint64_t node, uint64_t fh, off_t size);
	int (*utimens)(void *vol, uint64_t node, uint64_t fh,
		       const struct timespec tv[2]);

	/*
	 * Opens node, an existing file.  flags are open(2) flags (O_CREAT and
	 * O_EXCL never among them).  Stores a handle in *fh.
	 */
	int (*open_file)(void *vol, uint64_t node, int flags, uint64_t *fh);

	/*
	 * Opens name in parent, creating it owned by the caller with mode if it
	 * does not exist.  flags are open(2) flags with O_CREAT; with O_EXCL an
	 * existing name fails with -EEXIST, without it an existing file is
	 * opened as open_file() would (its owner and mode unchanged).  Hands
	 * the file over in *e and stores a handle in *fh.
	 */
	int (*create_file)(void *vol, uint64_t parent, const char *name,
			   int flags, mode_t mode,
			   const struct volfs_caller *who, struct volfs_entry *e,
			   uint64_t *fh);

	/* Reads up to size bytes at off; returns the count, 0 at EOF. */
	ssize_t (*read)(void *vol, uint64_t fh, void *buf, size_t size,
			off_t off);

	/* Writes size bytes at off (for O_APPEND handles, at the end, which
	 * the backend determines); returns the count written. */
	ssize_t (*write)(void *vol, uint64_t fh, const void *buf, size_t size,
			 off_t off);

	/* Called on every close() of a descriptor of fh (may be many). */
	int (*flush)(void *vol, uint64_t fh);

	/* Makes fh's data (and metadata unless datasync) durable. */
	int (*fsync)(void *vol, uint64_t fh, int datasync);

	/* The last reference to fh is gone; the backend frees it. */
	int (*release)(void *vol, uint64_t fh);

	/*
	 * Only with VOLFS_CAP_REAL_FD: the file descriptor behind fh, owned by
	 * the backend and valid until release().  The core reads and writes it
	 * with pread/pwrite/splice instead of calling read()/write().  A
	 * backend that must see a handle's I/O (a staged file open for
	 * writing, or not yet fetched whole) returns -1 for it, and the core
	 * calls read() and write() for that handle.
	 */
	int (*fd)(void *vol, uint64_t fh);

	/* fallocate(2) on fh: mode is FALLOC_FL_* bits. */
	int (*fallocate)(void *vol, uint64_t fh, int mode, off_t off,
			 off_t len);

	/* lseek(2) SEEK_DATA / SEEK_HOLE on fh; returns the offset. */
	off_t (*lseek)(void *vol, uint64_t fh, off_t off, int whence);

	/*
	 * Directory handles.  opendir() opens directory node (-ENOTDIR if it
	 * is none) and stores a handle in *dh.  readdir() lists from position
	 * off (0: the start, else a next given by fill), calling fill per
	 * entry, "." and ".." included, until the directory ends or fill has
	 * no room; memory it keeps for a handle does not grow with the
	 * directory's size (except in a backend whose storage lists a
	 * directory in one call, which may keep that listing).  With plus, fill gets each entry as lookup()
	 * would give it (an entry that vanished meanwhile is skipped).
	 * fsyncdir() makes the directory durable; releasedir() frees dh.
	 */
	int (*opendir)(void *vol, uint64_t node, uint64_t *dh);
	int (*readdir)(void *vol, uint64_t dh, off_t off, int plus,
		       volfs_fill_fn fill, void *ctx);
	int (*fsyncdir)(void *vol, uint64_t dh, int datasync);
	int (*releasedir)(void *vol, uint64_t dh);

	/*
	 * Extended attributes, as the *xattr(2) calls on node without
	 * following a symlink.  getxattr and listxattr with size 0 return the
	 * size needed; otherwise the count copied, or -ERANGE.
	 */
	int (*setxattr)(void *vol, uint64_t node, const char *name,
			const void *value, size_t size, int flags);
	ssize_t (*getxattr)(void *vol, uint64_t node, const char *name,
			    void *value, size_t size);
	ssize_t (*listxattr)(void *vol, uint64_t node, char *list,
			     size_t size);
	int (*removexattr)(void *vol, uint64_t node, const char *name);

	/*
	 * A durable identity of node that a later process serving the same
	 * volume can find the file again by (a file handle): written into buf,
	 * its length into *len (at most *len bytes on entry; -EOVERFLOW with
	 * the length needed in *len if it does not fit).  node_decode() finds
	 * the file from it and hands it over in *e; -ESTALE when it is gone.
	 * NULL: nodes do not outlive the process.
	 */
	int (*node_encode)(void *vol, uint64_t node, void *buf, size_t *len);
	int (*node_decode)(void *vol, const void *buf, size_t len,
			   struct volfs_entry *e);
};

/* The type of the one symbol a module exports: volfs_backend_NAME. */
typedef const struct volfs_backend *(*volfs_backend_entry_fn)(void);

#endif /* VOLFS_BACKEND_H */
