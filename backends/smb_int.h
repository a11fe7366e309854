/* SPDX-License-Identifier: MIT */
/*
 * What the files of the smb backend share (smb.c: libsmbclient's state,
 * connections, the volume and the ops on names and attributes;
 * smb_opts.c: options and URLs; smb_probe.c: the encryption probe;
 * smb_file.c: open files, read-ahead and write-behind).  The ops work by
 * path (pathfs.h's struct volfs_pathops); the path adapter serves them as
 * a volume of nodes.  How the backend works is described at the top of
 * smb.c.
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
#include "pathfs.h"

#define SMB_CAPS                                                               \
	(VOLFS_CAP_RANDOM_WRITE | VOLFS_CAP_PERSISTENT | VOLFS_CAP_THREADSAFE | \
	 VOLFS_CAP_EXTERNAL_CHANGES)

#define SMB_PORT_DEFAULT 445
#define SMB_CONNS_DEFAULT 4
#define SMB_CONNS_MAX 16
#define SMB_TIMEOUT_DEFAULT_MS 20000u
#define SMB_TIMEOUT_MAX_MS 600000u
#define SMB_TTL_MAX_MS 86400000u
#define SMB_HIDDEN ".volfs-unlinked-"
#define SMB_DIRS 64
/* Read-ahead windows: the first, and the largest it doubles up to. */
#define SMB_RA_MIN ((size_t)1 << 20)
#define SMB_RA_MAX ((size_t)8 << 20)
/* A read-ahead window is fetched in parts of at least this size. */
#define SMB_PF_PART_MIN ((size_t)1 << 20)
/* Write-behind: writes of one file in flight at most. */
#define SMB_WB_MAX 4
/* A first write of a handle smaller than this is not sent behind. */
#define SMB_WB_SYNC_MAX ((size_t)256 << 10)

enum { SMB_ENC_REQUIRED, SMB_ENC_DESIRED, SMB_ENC_OFF };

/* encrypt= words, in the order of the enum above. */

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
	/* cache_ttl: also how long read-ahead data and directories seen
	 * stay trusted here (0: no read-ahead). */
	unsigned ttl_ms;
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

struct smb_conn {
	struct smb_vol *v;
	SMBCCTX *ctx;
	int busy;
	/* Set by the credentials callback when it stopped a connection. */
	int refused;
};

struct smb_file {
	struct smb_file *next;
	/* Taken shared by I/O, alone to move the file (rename, unlink). */
	pthread_rwlock_t mv;
	/* Relative path; changes only under mv taken alone. */
	char *path;
	int flags;
	int unlinked;
	/* Created by this open, when: the attributes the first getattr of
	 * the handle answers without asking (the reply to a create). */
	_Atomic int64_t created_ms;
	/* A write came through this handle. */
	_Atomic int wrote;
	/* Per context; h[i] is touched only by who holds conn[i]. */
	SMBCFILE *h[SMB_CONNS_MAX];
	/* Read-ahead: file bytes [ra_off, ra_off + ra_len) in ra_buf, read
	 * at ra_ms, the end of the file if ra_eof; ra_next is where the
	 * last read ended, ra_win the next window.  Under ra_lock. */
	pthread_mutex_t ra_lock;
	char *ra_buf;
	off_t ra_off;
	size_t ra_len;
	int ra_eof;
	off_t ra_next;
	size_t ra_win;
	int64_t ra_ms;
	/* The next window, fetched by a volume thread while the reader works
	 * through this one: pf_state 0 none, 1 on its way, 2 in pf_buf
	 * (pf_rc bytes or -errno); pf_stale when written since it left.
	 * Under ra_lock; ra_cond signals its arrival. */
	pthread_cond_t ra_cond;
	char *pf_buf;
	int pf_state;
	int pf_stale;
	off_t pf_off;
	ssize_t pf_rc;
	int64_t pf_ms;
	/* The window travels in pf_nparts parts of pf_psz bytes (the last
	 * takes the rest of pf_len), one per volume thread, so that several
	 * connections read it at once; pf_left are still on their way. */
	size_t pf_len, pf_psz;
	unsigned pf_nparts, pf_left;
	ssize_t pf_part_rc[SMB_CONNS_MAX];
	/* Write-behind: the ranges of the writes in flight (wb_n of them)
	 * and the first error one met, for the next write, flush, fsync or
	 * release to report.  Under wb_lock. */
	pthread_mutex_t wb_lock;
	pthread_cond_t wb_cond;
	_Atomic unsigned wb_n;
	struct {
		off_t off;
		size_t len;
		int used;
	} wb[SMB_WB_MAX];
	int wb_err;
	/* Threads that found the file in the volume's list and use it
	 * after letting go of the list: release() waits for none (under the
	 * volume's lock).  released: release() has begun (under mv). */
	unsigned waiters;
	int released;
};

/* A write (or a read-ahead, with read set) for the volume's threads. */
struct smb_job {
	struct smb_job *next;
	struct smb_file *f;
	unsigned slot;
	int read;
	off_t off;
	size_t len;
	char data[];
};

struct smb_vol {
	/* p.password is NULL once the volume is made: pw holds it. */
	struct smb_params p;
	struct smb_secret pw;
	/* "smb://HOST/SHARE[/SUBDIR]", URL-encoded. */
	char *base;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct smb_conn conn[SMB_CONNS_MAX];
	unsigned nconns;
	/* Open files, under lock. */
	struct smb_file *files;
	/* Directories recently seen to exist (a ring), under lock. */
	struct {
		char *path;
		int64_t ms;
	} dirs[SMB_DIRS];
	unsigned dir_next;
	/* Write-behind jobs, and the threads that send them (one per
	 * connection; none while validating). */
	pthread_mutex_t q_lock;
	pthread_cond_t q_cond;
	struct smb_job *q_head, *q_tail;
	int q_stop;
	pthread_t workers[SMB_CONNS_MAX];
	unsigned nworkers;
	void (*log)(int level, const char *fmt, ...)
		__attribute__((format(printf, 2, 3)));
};

/* smb.c: errors, connections, paths. */
/* Runs a path op with one retry after a broken connection. */
#define SMB_PATH_OP(v, i, rcvar, call)                                   \
	do {                                                             \
		for (int try_ = 0; try_ < 2; try_++) {                   \
			errno = 0;                                       \
			rcvar = (call);                                  \
			if (rcvar >= 0 || !(errno == ECONNRESET ||       \
					    errno == ECONNABORTED ||     \
					    errno == EPIPE ||            \
					    errno == ENOTCONN))          \
				break;                                   \
		}                                                        \
		if (rcvar < 0)                                           \
			rcvar = smb_fail(v, i, errno);                   \
	} while (0)

/* The connection under a handle is gone: worth reopening once. */
int smb_conn_lost(int e);
/*
 * Borrows a context: with f, preferably one where f is open.  want >= 0
 * asks for that one.  Returns its index.
 */
unsigned smb_get(struct smb_vol *v, const struct smb_file *f, int want);
/* Gives conn i back. */
void smb_put(struct smb_vol *v, unsigned i);
/* -errno of the last libsmbclient call on conn i. */
int smb_fail(struct smb_vol *v, unsigned i, int e);
/* What SMB cannot tell, from the options: type bits and modes, owner,
 * link count. */
void smb_fix_stat(const struct smb_vol *v, struct stat *st);
/* stat() of url on conn i (held), retried once on a broken connection:
 * 0 or -errno. */
int smb_stat_url(struct smb_vol *v, unsigned i, const char *url,
		 struct stat *st);
/* Whether path names a removed file still open (SMB_HIDDEN). */
int smb_is_hidden(const char *path);

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
/* The URL of path (relative to the volume) into buf. */
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

/* smb_file.c: open files; the I/O ops. */
/* Closes f's handle on conn i (held by the caller). */
void smb_file_off(struct smb_vol *v, struct smb_file *f, unsigned i);
/* Borrows a context with f open on it; returns its index or -errno. */
int smb_file_get(struct smb_vol *v, struct smb_file *f);
/* Drops f's read-ahead data (it wrote, or was truncated). */
void smb_ra_drop(struct smb_file *f);
/* open_file() and, with create, create_file(): 0 or -errno. */
int smb_open_common(struct smb_vol *v, const char *path, int flags, int create,
		    uint64_t *fh);
/*
 * The attributes of a file this handle has just created, without a round
 * trip: empty, of the configured modes, made now.  Only for the first
 * getattr of the handle (the reply to the create), and only while young.
 */
int smb_created_stat(const struct smb_vol *v, struct smb_file *f,
		     struct stat *st);
/*
 * The open files at path (with below, also those below it: the server
 * refuses to move a directory above an open file), with their mv locks
 * taken alone, handles closed (so the server lets the file be moved); *n of
 * them in *out.
 */
int smb_files_at(struct smb_vol *v, const char *path, int below,
		 struct smb_file ***out, size_t *n);
/* Lets go of what smb_files_at() took. */
void smb_files_done(struct smb_vol *v, struct smb_file **arr, size_t n);
/* The open files of arr (from smb_files_at() at from) now live at to, or
 * below it as they were below from; removed from their names when
 * unlinked. */
int smb_files_moved(struct smb_vol *v, struct smb_file **arr, size_t n,
		    const char *from, const char *to, int unlinked);
/* Renames from to to on the server: 0 or -errno. */
int smb_rename_url(struct smb_vol *v, const char *from, const char *to);
/*
 * Reads through the read-ahead: a read that continues where the last one
 * ended fetches a window (1 MiB, doubling up to 8 MiB while reads stay
 * sequential) in one request, which libsmbclient splits into pipelined SMB
 * reads; the kernel's smaller read-ahead requests are then served from it,
 * while a volume thread already fetches the next window.  Data is trusted
 * for cache_ttl, like the attributes.
 */
ssize_t smb_read(void *vol, uint64_t fh, void *buf, size_t size, off_t off);
/* Waits until f has no write in flight. */
void smb_wb_drain(struct smb_file *f);
/* Waits until f has no write in flight; returns (and forgets) the error
 * one of them met. */
int smb_wb_sync(struct smb_file *f);
/* Waits for the writes in flight of every file open at path. */
void smb_wb_drain_path(struct smb_vol *v, const char *path);
/* A write-behind thread: sends queued writes until the volume closes. */
void *smb_worker(void *arg);
/*
 * Writes behind: the data is copied and handed to the volume's threads,
 * so up to SMB_WB_MAX writes of one file travel at once (a file written
 * with one 1 MiB request after another would otherwise wait a round trip
 * each).  Writes whose ranges overlap keep their order.  An error is
 * reported by the next write, flush (close), fsync or release; reads,
 * attributes, truncate and utimens of the file wait for the writes first.
 */
ssize_t smb_write(void *vol, uint64_t fh, const void *buf, size_t size,
		  off_t off);
/* The store ops (pathfs.h) of open files. */
int smb_flush(void *vol, uint64_t fh);
/*
 * Waits until the server has acknowledged every write of fh.  libsmbclient
 * has no SMB2 FLUSH, so what the server keeps in its own cache is not
 * forced to its disk.
 */
int smb_fsync(void *vol, uint64_t fh, int datasync);
int smb_release(void *vol, uint64_t fh);

#endif
