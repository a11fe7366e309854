/* SPDX-License-Identifier: MIT */
/*
 * What the files of the smb store share: smb.c (the connections, the
 * volume, the module's tables), smb_lib.c (libsmbclient's process-wide
 * state), smb_lock.c (path locks, the read handles kept open, the
 * janitor), smb_store.c (the store ops on names and attributes),
 * smb_data.c (get and put), smb_opts.c (options and URLs), smb_probe.c
 * (the encryption probe), smb_secret.c (the credential).  How the store
 * works is described at the top of smb.c.
 */
#ifndef VOLFS_SMB_INT_H
#define VOLFS_SMB_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <libsmbclient.h>

#include "volfs/backend.h"
#include "volfs/backend_util.h"
#include "volfs/store.h"

#define SMB_PORT_DEFAULT 445
#define SMB_CONNS_DEFAULT 4
#define SMB_CONNS_MAX 16
#define SMB_TIMEOUT_DEFAULT_MS 20000u
#define SMB_TIMEOUT_MAX_MS 600000u
/* Names the store keeps to itself, hidden from listings: the temporary
 * files of put() and of a replace, and what an earlier version of the
 * backend left of files removed while open. */
#define SMB_TMP ".volfs-tmp-"
#define SMB_LEGACY ".volfs-unlinked-"
/* Room for a URL: the base, and a path percent-encoded. */
#define SMB_URL_MAX (PATH_MAX * 3 + 600)
/* The size of one read or write request of get() and put(). */
#define SMB_CHUNK ((size_t)4 << 20)
/* Cached read handles per connection, and how long one is kept: idle,
 * and at most since it was opened. */
#define SMB_RH_MAX 4
#define SMB_RH_IDLE_MS 500
#define SMB_RH_AGE_MS 2000
/* How long an op waits for a file another client holds open to be let
 * go (the server refuses to move or delete it meanwhile). */
#define SMB_BUSY_WAIT_MS 2000
/* Directories recently seen, and for how long they are trusted. */
#define SMB_DIRS 64
#define SMB_DIR_TTL_MS 1000
/* After a request went unanswered for timeout=, new ops fail at once for
 * this long (at most timeout=) instead of each waiting out libsmbclient's
 * reconnection to a server that does not answer. */
#define SMB_STALL_MS 1000
/* Temporary files of failed uploads the server could not be asked to
 * remove, kept to be removed later, and how often that is tried. */
#define SMB_ORPHANS 64
#define SMB_ORPHAN_RETRY_MS 2000

enum { SMB_ENC_REQUIRED, SMB_ENC_DESIRED, SMB_ENC_OFF };

struct smb_params {
	char host[256];
	unsigned port;
	char share[256];
	/* The directory inside the share, "" for its root. */
	char subdir[PATH_MAX];
	const char *user;
	const char *password;
	const char *domain;
	int encrypt;
	uid_t uid;
	gid_t gid;
	mode_t file_mode;
	mode_t dir_mode;
	unsigned timeout_ms;
	unsigned conns;
};

/*
 * The credential the connections made after open() log in with: the
 * password's NT hash, masked (smb_secret.c says why).
 */
struct smb_secret {
	unsigned char *page;
	size_t len, size;
};

struct smb_vol;

/* A read handle get() keeps open on a connection for the next range. */
struct smb_rh {
	/* NULL: a free slot. */
	char *path;
	/* The version get() was asked for when it opened the handle. */
	char version[VOLFS_STORE_VERSION_MAX];
	SMBCFILE *h;
	int64_t opened_ms, used_ms;
	/* To be closed by whoever holds the connection next (a path lock
	 * that needs the file let go). */
	int doomed;
};

struct smb_conn {
	struct smb_vol *v;
	SMBCCTX *ctx;
	/* Borrowed (under the volume's lock). */
	int busy;
	/* Set by the credentials callback when it stopped a connection. */
	int refused;
	/* SMB_CHUNK + 1 bytes for get() and put(), made on first use; only
	 * its borrower touches it. */
	char *buf;
	/* Filled and emptied by the borrower under the volume's lock, where
	 * others read them and set doomed (smb_lock.c). */
	struct smb_rh rh[SMB_RH_MAX];
	unsigned rh_n, doomed;
};

/*
 * A path lock (smb_lock.c), of one of three kinds:
 *  - shared (get, stat, list): excludes exclusive locks on its path or
 *    above it, which would move or remove what it has open;
 *  - upload (put while it sends data): excludes exclusive locks on its
 *    path or above it, and other uploads of the path;
 *  - exclusive (remove, rename, rmdir, and put while it renames): excludes
 *    every other lock on its paths or below them, and exclusive locks
 *    above them.
 * Waiters are served in order, a shared one after every other kind that
 * asked before it, so a stream of reads does not starve a replace.
 */
enum { SMB_LOCK_SHARED, SMB_LOCK_UPLOAD, SMB_LOCK_EXCL };

struct smb_plock {
	struct smb_plock *next;
	/* Owned by the caller; path2 (a rename's target) may be NULL. */
	const char *path, *path2;
	int kind;
	int active;
	uint64_t seq;
};

struct smb_vol {
	/* p.password is NULL once the volume is made: pw holds it. */
	struct smb_params p;
	struct smb_secret pw;
	/* "smb://HOST/SHARE[/SUBDIR]", URL-encoded. */
	char *base;
	/* Guards the connections' busy flags, the path locks and the
	 * directories seen; cond (CLOCK_MONOTONIC) signals their changes. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct smb_conn conn[SMB_CONNS_MAX];
	unsigned nconns;
	/* When a request last went unanswered (SMB_STALL_MS). */
	_Atomic int64_t stall_ms;
	struct smb_plock *locks;
	uint64_t lock_seq;
	/* Directories recently seen to exist (a ring). */
	struct {
		char *path;
		int64_t ms;
	} dirs[SMB_DIRS];
	unsigned dir_next;
	/* The thread that closes idle read handles and removes orphans
	 * (none while validating); stop and jcond ask it to end. */
	pthread_t janitor;
	pthread_cond_t jcond;
	int has_janitor, stop;
	char *orphans[SMB_ORPHANS];
	unsigned norphans;
	void (*log)(int level, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
};

/* smb.c: errors, connections, attributes. */

/* Runs a path op, and once more after a broken connection while the
 * deadline allows. */
#define SMB_PATH_OP(v, i, rcvar, deadline, call)                               \
	do {                                                                   \
		for (int try_ = 0; try_ < 2; try_++) {                         \
			errno = 0;                                             \
			rcvar = (call);                                        \
			if (rcvar >= 0 ||                                      \
			    !(errno == ECONNRESET || errno == ECONNABORTED ||  \
			      errno == EPIPE || errno == ENOTCONN) ||          \
			    smb_late(deadline))                                \
				break;                                         \
		}                                                              \
		if (rcvar < 0)                                                 \
			rcvar = smb_fail(v, i, errno ? errno : EIO);           \
	} while (0)

/* The connection under a handle is gone: worth reopening once. */
int smb_conn_lost(int e);
/*
 * Borrows a connection, one with a read handle of path open if one is
 * free (path may be NULL), waiting until deadline at most.  Returns its
 * index, or -ETIMEDOUT (also within SMB_STALL_MS of a request that went
 * unanswered).
 */
int smb_get(struct smb_vol *v, const char *path, int64_t deadline);
/* Borrows a connection only if one is free now: its index, or -EBUSY. */
int smb_tryget(struct smb_vol *v);
/* Borrows conn i only if it is free now: 0, or -EBUSY. */
int smb_take(struct smb_vol *v, unsigned i);
/* Gives conn i back. */
void smb_put(struct smb_vol *v, unsigned i);
/* -errno for libsmbclient's errno e after a call on conn i. */
int smb_fail(struct smb_vol *v, unsigned i, int e);
/* -ETIMEDOUT once deadline has passed, else 0: checked before each
 * request (libsmbclient bounds a request only by timeout=). */
int smb_late(int64_t deadline);
/* Waits for v->cond (v->lock held) until deadline: 0, or -ETIMEDOUT when
 * it has passed. */
int smb_wait(struct smb_vol *v, int64_t deadline);
/* Fills *a from what libsmbclient said of a file (the options stand in
 * for what SMB does not tell: owner, modes). */
void smb_attr(const struct smb_vol *v, const struct stat *raw,
	      struct volfs_store_attr *a);

/* smb_lock.c: path locks and read handles. */

/* Takes lock l (its paths and kind set by the caller), waiting until
 * deadline at most: 0 or -ETIMEDOUT.  An exclusive lock also has every
 * read handle at or below its paths closed. */
int smb_lock(struct smb_vol *v, struct smb_plock *l, int64_t deadline);
/* Makes held lock l exclusive, as smb_lock() would take it, keeping its
 * place ahead of later waiters: 0, or -ETIMEDOUT with l still held as it
 * was. */
int smb_lock_excl(struct smb_vol *v, struct smb_plock *l, int64_t deadline);
void smb_unlock(struct smb_vol *v, struct smb_plock *l);
/* Closes the doomed read handles of conn i (held). */
void smb_rh_service(struct smb_vol *v, unsigned i);
/* The read handle of path at version on conn i (held), or NULL. */
struct smb_rh *smb_rh_find(struct smb_vol *v, unsigned i, const char *path,
			   const char *version);
/* Keeps h, open on conn i (held), as the read handle of path at version;
 * closes it instead when out of memory. */
void smb_rh_keep(struct smb_vol *v, unsigned i, const char *path,
		 const char *version, SMBCFILE *h);
/* Closes read handle r of conn i (held). */
void smb_rh_close(struct smb_vol *v, unsigned i, struct smb_rh *r);
/* Notes path, a temporary file a failed upload left, for the janitor to
 * remove once the server answers again. */
void smb_orphan(struct smb_vol *v, const char *path);
/* The janitor: closes read handles idle or old enough, and removes
 * orphans, until stop. */
void *smb_janitor(void *arg);

/* smb_store.c: names and attributes. */

/* Whether path's last component is one of the store's own names. */
int smb_hidden(const char *path);
/* stat() of path on conn i (held), attributes raw: 0 or -errno, with
 * -ENOTDIR where a component above is a file. */
int smb_stat_raw(struct smb_vol *v, unsigned i, const char *path,
		 struct stat *st, int64_t deadline);
/* Renames from to to on conn i (held), waiting out a client that holds
 * one open for SMB_BUSY_WAIT_MS: 0 or -errno.  libsmbclient replaces an
 * existing file at to, not atomically (see smb_swap()). */
int smb_rename_raw(struct smb_vol *v, unsigned i, const char *from,
		   const char *to, int64_t deadline);
/* Removes file path on conn i (held), as smb_rename_raw() waits. */
int smb_unlink_raw(struct smb_vol *v, unsigned i, const char *path,
		   int64_t deadline);
/* A new hidden name in the directory of path into buf. */
int smb_tmp_name(const char *path, char *buf, size_t size);
/*
 * Puts file from in the place of file to, which exists, on conn i
 * (held): to moves aside to a hidden name, from takes its name, and the
 * old file is removed; when from cannot take the name, to gets it back.
 */
int smb_swap(struct smb_vol *v, unsigned i, const char *from, const char *to,
	     int64_t deadline);
/* Forgets the directories seen (something was removed or moved). */
void smb_dirs_forget(struct smb_vol *v);
int smb_statfs(void *st, struct statvfs *sv, int64_t deadline);
int smb_stat(void *st, const char *path, struct volfs_store_attr *a,
	     int64_t deadline);
int smb_list(void *st, const char *path, char *cursor, size_t cursorlen,
	     volfs_store_fill_fn fill, void *ctx, int64_t deadline);
int smb_remove(void *st, const char *path, int64_t deadline);
int smb_mkdir(void *st, const char *path, mode_t mode, int64_t deadline);
int smb_rmdir(void *st, const char *path, int64_t deadline);
int smb_rename(void *st, const char *from, const char *to, unsigned flags,
	       int64_t deadline);
int smb_setattr(void *st, const char *path, unsigned mask,
		const struct volfs_store_attr *a, int64_t deadline);

/* smb_data.c: file contents. */
/* The store's get() and put(). */
ssize_t smb_fetch(void *st, const char *path, const char *version, off_t off,
		  size_t len, int fd, void *buf, int64_t deadline);
int smb_upload(void *st, const char *path, int fd, off_t size,
	       const char *if_version, const struct timespec *mtime,
	       struct volfs_store_attr *out, int64_t deadline);

/* smb_lib.c: libsmbclient's process-wide state. */
/* Sets it up (once) and sends its debug output to log from now on. */
void smb_lib_init(void (*log)(int level, const char *fmt, ...));
/* Whether libsmbclient calls of several threads may run at once (else
 * they take turns, and more threads gain nothing). */
int smb_parallel(void);
/* Around every use of a context: takes turns when calls may not run at
 * once. */
void smb_lib_enter(void);
void smb_lib_leave(void);
/* libsmbclient's debug output, for smbc_setLogCallback(). */
void smb_lib_debug(void *priv, int level, const char *msg);

/* smb_secret.c: the credential.  Keeps password's NT hash in s: 0,
 * -EILSEQ when password is not UTF-8, -ENOMEM. */
int smb_secret_keep(struct smb_secret *s, const char *password);
/* Copies the NT hash in hex into buf (size bytes, NUL-terminated), for
 * libsmbclient's credentials callback. */
void smb_secret_copy(const struct smb_secret *s, char *buf, size_t size);
/* Wipes and frees what s holds (an empty s is fine). */
void smb_secret_drop(struct smb_secret *s);

/* smb_opts.c: options and URLs. */
/* The options of vi into p: 0, or -errno with err saying which is wrong. */
int smb_params(const struct volfs_volinfo *vi, struct smb_params *p, char *err,
	       size_t errlen);
/* Appends s percent-encoded to buf (size bytes); -ENAMETOOLONG if full. */
int smb_url_put(char *buf, size_t size, size_t *len, const char *s);
/* The URL of path (relative to the volume, "" for its root) into buf. */
int smb_url(const struct smb_vol *v, const char *path, char *buf, size_t size);
/* "smb://HOST/SHARE[/SUBDIR]", URL-encoded and malloc()ed; NULL when too
 * long or out of memory. */
char *smb_make_base(const struct smb_params *p);

/* smb_probe.c */
/* Milliseconds of the monotonic clock. */
int64_t smb_now_ms(void);
/*
 * Sends an SMB2 NEGOTIATE offering SMB 3.0 to 3.1.1 with encryption, and
 * sets *enc to whether the server's answer selects encryption.  Returns 0,
 * or -errno when the server cannot be reached or does not speak SMB2.
 */
int smb_probe(const struct smb_params *p, int *enc);

#endif
