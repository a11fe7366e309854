/* SPDX-License-Identifier: MIT */
/*
 * The smb backend: a volume that is a directory of an SMB2/3 file share
 * (Samba, Azure Files, Windows), reached through libsmbclient's context API.
 *
 * Connections.  A libsmbclient context is not thread-safe, so a volume owns
 * a pool of contexts (option connections=, default 4), each its own TCP
 * connection, and every op borrows one for its duration: parallel requests
 * run in parallel up to the pool's size.  An open file remembers a
 * libsmbclient handle per context, opened on the first use of that context,
 * so the reads and writes of one big file spread over the pool too.
 *
 * Failures.  Every request has the timeout= bound (libsmbclient's own
 * timeout, and ours on the probe's socket); errors are mapped to errno in
 * smb_errno(), network ones to EIO, ETIMEDOUT, EACCES or EHOSTUNREACH.
 * libsmbclient reconnects a context whose connection broke on its next use;
 * an op on a file whose handle died with the old connection reopens it once
 * on the new one.
 *
 * Data.  Writes go behind: copied and handed to the volume's threads (one
 * per connection), up to four of a file in flight, overlapping ones in
 * order; the next write, flush, fsync or release reports an error, and
 * reads and attribute requests of the file wait for them.  Sequential
 * reads are read ahead in windows of 1 to 8 MiB, the next window fetched
 * by a thread while the current one is read.
 *
 * Encryption.  encrypt=desired asks libsmbclient for encryption only when
 * the probe below finds the server offers it (otherwise libsmbclient prints
 * a line on stdout and goes on).  encrypt=required asks it to require SMB3
 * encryption, but libsmbclient (4.17) goes on unencrypted when the server
 * offers none, printing a line on stdout.  So before every new connection
 * (libsmbclient asks for credentials exactly then) the backend sends an SMB2
 * NEGOTIATE of its own and reads whether the server selects a cipher (SMB
 * 3.1.1's encryption context) or the encryption capability (3.0.x): the very
 * condition libsmbclient checks.  When the server offers no encryption, the
 * credentials handed over are deliberately wrong, so the connection fails
 * before any data is exchanged and before libsmbclient prints anything; the
 * op fails with EACCES and the log says why.
 *
 * What SMB cannot do: owners and POSIX modes (files show the uid, gid,
 * file_mode and dir_mode options; chmod and chown are refused), hard and
 * symbolic links, special files, user xattrs; NOREPLACE/EXCHANGE renames.
 * An open file is removed or renamed as NFS does: its handles are closed,
 * it is moved, and reopened under its new name; a removed file lives on as
 * ".volfs-unlinked-*" (hidden from listings) until its last handle goes.
 *
 * libsmbclient's debug output goes to a callback that logs at debug level;
 * its level is 0, so it never reaches stdout.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libsmbclient.h>

#include "volfs/backend.h"
#include "volfs/backend_util.h"

#define SMB_CAPS                                                               \
	(VOLFS_CAP_RANDOM_WRITE | VOLFS_CAP_PERSISTENT | VOLFS_CAP_THREADSAFE | \
	 VOLFS_CAP_EXTERNAL_CHANGES | VOLFS_CAP_META_CACHE)

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
static const char *const smb_encs[] = { "required", "desired", "off", NULL };

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
	struct smb_params p;
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

/* ---- libsmbclient's global state ---- */

/*
 * libsmbclient keeps per-call scratch memory (talloc stack frames) in
 * storage that is global unless Samba's utility library is given thread
 * functions; its smbc_thread_posix() does that, but is not exported by every
 * build.  So the backend hands the library pthread functions itself, through
 * smb_thread_set_functions() of libsamba-util (loaded with libsmbclient),
 * whose table has the shape of smbc_thread_impl()'s parameters (the
 * libsmbclient.h that declares it documents each).  Should that function be
 * missing, every libsmbclient call of the process is serialised instead.
 */
struct smb_thread_fns {
	int (*create_mutex)(const char *name, void **lock, const char *loc);
	void (*destroy_mutex)(void *lock, const char *loc);
	int (*lock_mutex)(void *lock, int type, const char *loc);
	int (*create_tls)(const char *name, void **key, const char *loc);
	void (*destroy_tls)(void **key, const char *loc);
	int (*set_tls)(void *key, const void *val, const char *loc);
	void *(*get_tls)(void *key, const char *loc);
};

/*
 * The library's mutexes mostly live as long as the process (some it never
 * destroys): they come from a static pool, then from malloc.
 */
static pthread_mutex_t smb_t_pool[32];
static _Atomic unsigned smb_t_pool_used;

static int smb_t_create_mutex(const char *name, void **lock, const char *loc)
{
	unsigned k = atomic_fetch_add(&smb_t_pool_used, 1);
	pthread_mutex_t *m;

	m = k < 32 ? &smb_t_pool[k] : malloc(sizeof(*m));
	if (!m)
		return ENOMEM;
	pthread_mutex_init(m, NULL);
	*lock = m;
	return 0;
}

static void smb_t_destroy_mutex(void *lock, const char *loc)
{
	pthread_mutex_t *m = lock;

	pthread_mutex_destroy(m);
	if (m < smb_t_pool || m >= smb_t_pool + 32)
		free(m);
}

static int smb_t_lock_mutex(void *lock, int type, const char *loc)
{
	/* 1: lock, 2: unlock. */
	return type == 2 ? pthread_mutex_unlock(lock) : pthread_mutex_lock(lock);
}

/*
 * A thread's talloc stack frame (Samba's lib/util/talloc_stack.c, this
 * shape since 2009): freed when the thread ends, or every FUSE worker
 * thread that ever called libsmbclient would leave one behind.
 */
struct smb_talloc_stackframe {
	int size;
	int arraysize;
	void **stack;
};

static int (*smb_talloc_free)(void *ptr, const char *loc);
static pthread_key_t *smb_frames_key;

static void smb_t_free_frames(void *p)
{
	struct smb_talloc_stackframe *ts = p;

	if (smb_talloc_free && ts->stack)
		smb_talloc_free(ts->stack, __FILE__);
	free(ts);
}

/* exit() runs no thread-specific destructor for the thread calling it. */
static void smb_t_exit(void)
{
	void *ts = smb_frames_key ? pthread_getspecific(*smb_frames_key)
				  : NULL;

	if (ts) {
		pthread_setspecific(*smb_frames_key, NULL);
		smb_t_free_frames(ts);
	}
}

static int smb_t_create_tls(const char *name, void **key, const char *loc)
{
	pthread_key_t *k = malloc(sizeof(*k));
	int rc;

	if (!k)
		return ENOMEM;
	rc = pthread_key_create(k, strcmp(name, "talloc_stackframe") == 0
					   ? smb_t_free_frames
					   : NULL);
	if (rc == 0 && strcmp(name, "talloc_stackframe") == 0 &&
	    !smb_frames_key) {
		smb_frames_key = k;
		atexit(smb_t_exit);
	}
	if (rc) {
		free(k);
		return rc;
	}
	*key = k;
	return 0;
}

static void smb_t_destroy_tls(void **key, const char *loc)
{
	if (*key) {
		pthread_key_delete(*(pthread_key_t *)*key);
		free(*key);
		*key = NULL;
	}
}

static int smb_t_set_tls(void *key, const void *val, const char *loc)
{
	return key ? pthread_setspecific(*(pthread_key_t *)key, val) : EINVAL;
}

/* Asked before the key exists too: nothing is stored then. */
static void *smb_t_get_tls(void *key, const char *loc)
{
	return key ? pthread_getspecific(*(pthread_key_t *)key) : NULL;
}

static const struct smb_thread_fns smb_thread_fns = {
	.create_mutex = smb_t_create_mutex,
	.destroy_mutex = smb_t_destroy_mutex,
	.lock_mutex = smb_t_lock_mutex,
	.create_tls = smb_t_create_tls,
	.destroy_tls = smb_t_destroy_tls,
	.set_tls = smb_t_set_tls,
	.get_tls = smb_t_get_tls,
};

static pthread_once_t smb_once = PTHREAD_ONCE_INIT;
/* Set when the library could not be made thread-safe. */
static int smb_serial;
static pthread_mutex_t smb_serial_lock = PTHREAD_MUTEX_INITIALIZER;
/* Where libsmbclient's debug lines go: the core's log of the last volume
 * opened (the same function for every volume of a process). */
static void (*_Atomic smb_logfn)(int level, const char *fmt, ...);

/*
 * Every libsmbclient call waits in an event context of its own; with
 * tevent's default backend each one makes and closes an epoll instance.
 * The poll backend needs no setup for the one socket a call waits on.
 */
static void smb_tevent_poll(void)
{
	void *h = dlopen("libtevent.so.0", RTLD_NOW | RTLD_NOLOAD);
	bool (*set)(const char *backend) = NULL;

	if (!h)
		return;
	*(void **)&set = dlsym(h, "tevent_set_default_backend");
	if (set)
		set("poll");
	dlclose(h);
}

static void smb_init_once(void)
{
	int (*set)(const struct smb_thread_fns *tf) = NULL;
	void *h = dlopen("libsamba-util.so.0", RTLD_NOW | RTLD_NOLOAD);

	if (h)
		*(void **)&set = dlsym(h, "smb_thread_set_functions");
	if (!set || set(&smb_thread_fns) != 0)
		smb_serial = 1;
	if (h)
		dlclose(h);
	h = dlopen("libtalloc.so.2", RTLD_NOW | RTLD_NOLOAD);
	if (h) {
		*(void **)&smb_talloc_free = dlsym(h, "_talloc_free");
		dlclose(h);
	}
	smb_tevent_poll();
}

static void smb_debug_cb(void *priv, int level, const char *msg)
{
	void (*fn)(int, const char *, ...) = atomic_load(&smb_logfn);
	size_t len = strlen(msg);

	if (!fn || len == 0)
		return;
	while (len && msg[len - 1] == '\n')
		len--;
	fn(VOLFS_LOG_DEBUG, "libsmbclient: %.*s", (int)len, msg);
}

/* ---- errors ---- */

/* The one mapping from libsmbclient's errno to what the ABI promises. */
static int smb_errno(int e)
{
	switch (e) {
	case ENOENT:
	case EEXIST:
	case ENOTDIR:
	case EISDIR:
	case ENOTEMPTY:
	case EACCES:
	case ENOSPC:
	case EDQUOT:
	case EINVAL:
	case ENAMETOOLONG:
	case EBUSY:
	case EROFS:
	case EFBIG:
	case EXDEV:
	case ENOMEM:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case EBADF:
		return -e;
	case EPERM:
		/* A refused session setup. */
		return -EACCES;
	case ETXTBSY:
		return -EBUSY;
	case ECONNREFUSED:
	case ENETUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
	case EADDRNOTAVAIL:
		return -EHOSTUNREACH;
	case EAGAIN:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

/* The connection under a handle is gone: worth reopening once. */
static int smb_conn_lost(int e)
{
	return e == EBADF || e == ECONNRESET || e == ECONNABORTED ||
	       e == EPIPE || e == ENOTCONN || e == EIO || e == EINVAL;
}

/* ---- options ---- */

static int smb_parse_uint(const char *s, unsigned base, uint64_t max,
			  uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		unsigned d;

		if (*p < '0' || *p >= (char)('0' + base))
			return -EINVAL;
		d = (unsigned)(*p - '0');
		if (v > (max - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

static int smb_host_ok(const char *h)
{
	if (!*h)
		return 0;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		      (*h >= '0' && *h <= '9') || *h == '.' || *h == '-'))
			return 0;
	return 1;
}

/* "//HOST[:PORT]/SHARE[/SUBDIR]" into p. */
static int smb_parse_share(const char *s, struct smb_params *p, char *err,
			   size_t errlen)
{
	const char *h, *slash, *colon, *sh, *sub;
	uint64_t port;
	size_t len;

	if (strncmp(s, "//", 2) != 0)
		goto bad;
	h = s + 2;
	slash = strchr(h, '/');
	if (!slash)
		goto bad;
	colon = memchr(h, ':', (size_t)(slash - h));
	len = (size_t)((colon ? colon : slash) - h);
	if (len == 0 || len >= sizeof(p->host))
		goto bad;
	memcpy(p->host, h, len);
	p->host[len] = '\0';
	if (!smb_host_ok(p->host))
		return volfs_be_errf(err, errlen, -EINVAL,
				     "option 'share': '%s' is not a host "
				     "name or IPv4 address",
				     p->host);
	p->port = SMB_PORT_DEFAULT;
	if (colon) {
		char buf[8];

		len = (size_t)(slash - colon - 1);
		if (len == 0 || len >= sizeof(buf))
			goto bad_port;
		memcpy(buf, colon + 1, len);
		buf[len] = '\0';
		if (smb_parse_uint(buf, 10, 65535, &port) || port == 0)
			goto bad_port;
		p->port = (unsigned)port;
	}
	sh = slash + 1;
	sub = strchr(sh, '/');
	len = sub ? (size_t)(sub - sh) : strlen(sh);
	if (len == 0 || len >= sizeof(p->share))
		goto bad;
	memcpy(p->share, sh, len);
	p->share[len] = '\0';
	p->subdir[0] = '\0';
	if (sub) {
		/* Normalise: no empty, "." or ".." component. */
		const char *c = sub + 1;
		size_t out = 0;

		while (*c) {
			const char *e = strchr(c, '/');
			size_t n = e ? (size_t)(e - c) : strlen(c);

			if ((n == 1 && c[0] == '.') ||
			    (n == 2 && c[0] == '.' && c[1] == '.'))
				return volfs_be_errf(
					err, errlen, -EINVAL,
					"option 'share': '.' and '..' are "
					"not allowed in the directory part "
					"of '%s'",
					s);
			if (n) {
				if (out + n + 2 >= sizeof(p->subdir))
					goto bad;
				if (out)
					p->subdir[out++] = '/';
				memcpy(p->subdir + out, c, n);
				out += n;
				p->subdir[out] = '\0';
			}
			c += n;
			if (*c == '/')
				c++;
		}
	}
	return 0;

bad_port:
	return volfs_be_errf(err, errlen, -EINVAL,
			     "option 'share': the port in '%s' is not a "
			     "number from 1 to 65535",
			     s);
bad:
	return volfs_be_errf(err, errlen, -EINVAL,
			     "option 'share': '%s' is not a share: write it "
			     "as //HOST[:PORT]/SHARE[/DIR], e.g. "
			     "//files.example.com/data",
			     s);
}

/*
 * Option key of vi as a number in base up to max: 0 with *v set, 1 when it
 * is not given, or -EINVAL saying it is not what (e.g. "a user id: use a
 * number, e.g. 1000").
 */
static int smb_opt_uint(const struct volfs_volinfo *vi, const char *key,
			unsigned base, uint64_t max, const char *what,
			uint64_t *v, char *err, size_t errlen)
{
	const char *s = volfs_be_opt(vi, key);

	if (!s)
		return 1;
	if (smb_parse_uint(s, base, max, v))
		return volfs_be_errf(err, errlen, -EINVAL,
				     "option '%s': '%s' is not %s", key, s,
				     what);
	return 0;
}

static int smb_params(const struct volfs_volinfo *vi, struct smb_params *p,
		      char *err, size_t errlen)
{
	const char *s;
	uint64_t v;
	unsigned ms;
	int rc;

	memset(p, 0, sizeof(*p));
	p->encrypt = SMB_ENC_DESIRED;
	p->file_mode = 0644;
	p->dir_mode = 0755;
	p->timeout_ms = SMB_TIMEOUT_DEFAULT_MS;
	p->conns = SMB_CONNS_DEFAULT;

	s = volfs_be_opt(vi, "share");
	if (!s)
		return volfs_be_errf(err, errlen, -EINVAL,
				     "option 'share' is missing: give it "
				     "as -o share=//HOST/SHARE");
	rc = smb_parse_share(s, p, err, errlen);
	if (rc)
		return rc;
	p->user = volfs_be_opt(vi, "username");
	if (!p->user || !*p->user)
		return volfs_be_errf(err, errlen, -EINVAL,
				     "option 'username' is missing or "
				     "empty: give the account to log in as");
	p->password = volfs_be_opt(vi, "password");
	if (!p->password)
		p->password = "";
	p->domain = volfs_be_opt(vi, "domain");
	rc = volfs_be_opt_word(vi, "encrypt", smb_encs, p->encrypt, err,
			       errlen);
	if (rc < 0)
		return rc;
	p->encrypt = rc;
	/* smb_opt_uint(): 0 with v set, 1 when the option is absent. */
	rc = smb_opt_uint(vi, "uid", 10, UINT32_MAX - 1,
			  "a user id: use a number, e.g. 1000", &v, err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 0)
		p->uid = (uid_t)v;
	rc = smb_opt_uint(vi, "gid", 10, UINT32_MAX - 1,
			  "a group id: use a number, e.g. 1000", &v, err,
			  errlen);
	if (rc < 0)
		return rc;
	if (rc == 0)
		p->gid = (gid_t)v;
	rc = smb_opt_uint(vi, "file_mode", 8, 0777,
			  "a mode: use octal digits up to 0777, e.g. 0644", &v,
			  err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 0)
		p->file_mode = (mode_t)v;
	rc = smb_opt_uint(vi, "dir_mode", 8, 0777,
			  "a mode: use octal digits up to 0777, e.g. 0755", &v,
			  err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 0)
		p->dir_mode = (mode_t)v;
	s = volfs_be_opt(vi, "timeout");
	if (s) {
		if (volfs_be_parse_ms(s, SMB_TIMEOUT_MAX_MS, &ms) || ms < 100)
			return volfs_be_errf(err, errlen, -EINVAL,
					     "option 'timeout': '%s' is not "
					     "a number of seconds from 0.1 to "
					     "600, e.g. 20",
					     s);
		p->timeout_ms = ms;
	}
	p->ttl_ms = 1000;
	s = volfs_be_opt(vi, "cache_ttl");
	if (s && volfs_be_parse_ms(s, SMB_TTL_MAX_MS, &p->ttl_ms))
		return volfs_be_errf(err, errlen, -EINVAL,
				     "option 'cache_ttl': '%s' is not a "
				     "number of seconds from 0 to 86400, "
				     "e.g. 1 or 0.5",
				     s);
	s = volfs_be_opt(vi, "connections");
	if (s) {
		if (smb_parse_uint(s, 10, SMB_CONNS_MAX, &v) || v == 0)
			return volfs_be_errf(err, errlen, -EINVAL,
					     "option 'connections': '%s' is "
					     "not a number from 1 to %d",
					     s, SMB_CONNS_MAX);
		p->conns = (unsigned)v;
	}
	return 0;
}

/* ---- URLs ---- */

static int smb_url_safe(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	       c == '~' || c == '/';
}

/* Appends s percent-encoded to buf (size bytes); -ENAMETOOLONG if full. */
static int smb_url_put(char *buf, size_t size, size_t *len, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*len + 4 >= size)
			return -ENAMETOOLONG;
		if (smb_url_safe(*p)) {
			buf[(*len)++] = (char)*p;
		} else {
			buf[(*len)++] = '%';
			buf[(*len)++] = hex[*p >> 4];
			buf[(*len)++] = hex[*p & 15];
		}
	}
	buf[*len] = '\0';
	return 0;
}

/* The URL of path (relative to the volume) into buf. */
static int smb_url(const struct smb_vol *v, const char *path, char *buf,
		   size_t size)
{
	size_t len = strlen(v->base);

	if (len + 2 >= size)
		return -ENAMETOOLONG;
	memcpy(buf, v->base, len + 1);
	if (strcmp(path, ".") == 0)
		return 0;
	buf[len++] = '/';
	buf[len] = '\0';
	return smb_url_put(buf, size, &len, path);
}

static char *smb_make_base(const struct smb_params *p)
{
	char buf[PATH_MAX * 3 + 600];
	size_t len;

	len = (size_t)snprintf(buf, sizeof(buf), "smb://%s/", p->host);
	if (smb_url_put(buf, sizeof(buf), &len, p->share))
		return NULL;
	if (p->subdir[0]) {
		buf[len++] = '/';
		buf[len] = '\0';
		if (smb_url_put(buf, sizeof(buf), &len, p->subdir))
			return NULL;
	}
	return strdup(buf);
}

/* ---- the encryption probe ---- */

static void smb_put16(unsigned char *b, uint16_t v)
{
	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
}

static void smb_put32(unsigned char *b, uint32_t v)
{
	smb_put16(b, (uint16_t)v);
	smb_put16(b + 2, (uint16_t)(v >> 16));
}

static uint16_t smb_get16(const unsigned char *b)
{
	return (uint16_t)(b[0] | b[1] << 8);
}

static uint32_t smb_get32(const unsigned char *b)
{
	return smb_get16(b) | (uint32_t)smb_get16(b + 2) << 16;
}

static int64_t smb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline: 0, -ETIMEDOUT or -errno. */
static int smb_wait(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - smb_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int smb_connect(const struct smb_params *p, int64_t deadline,
		       int *fdp)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	char port[8];
	int fd = -1, rc = -EHOSTUNREACH, gai;

	snprintf(port, sizeof(port), "%u", p->port);
	gai = getaddrinfo(p->host, port, &hints, &ai);
	if (gai)
		return gai == EAI_SYSTEM ? -errno : -ENXIO;
	for (a = ai; a; a = a->ai_next) {
		socklen_t sl = sizeof(int);
		int soerr = 0;

		fd = socket(a->ai_family,
			    a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    a->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		rc = errno == EINPROGRESS ? smb_wait(fd, POLLOUT, deadline)
					  : -errno;
		if (rc == 0) {
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			rc = -soerr;
			if (rc == 0)
				break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return rc;
	*fdp = fd;
	return 0;
}

static int smb_io(int fd, unsigned char *buf, size_t len, int out,
		  int64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n;
		int rc;

		n = out ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
			: recv(fd, buf + done, len - done, 0);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = smb_wait(fd, out ? POLLOUT : POLLIN, deadline);
		if (rc)
			return rc;
	}
	return 0;
}

/*
 * Sends an SMB2 NEGOTIATE offering SMB 3.0 to 3.1.1 with encryption, and
 * sets *enc to whether the server's answer selects encryption.  Returns 0,
 * or -errno when the server cannot be reached or does not speak SMB2.
 */
static int smb_probe(const struct smb_params *p, int *enc)
{
	/* NetBIOS length, header, request, 3 dialects padded to 8, contexts. */
	unsigned char req[4 + 64 + 36 + 12 + 48 + 18], rsp[4 + 65536];
	unsigned char *h = req + 4, *n = h + 64, *ctx;
	int64_t deadline = smb_now_ms() + p->timeout_ms;
	uint32_t len, off;
	uint16_t dialect;
	int fd = -1, rc;

	memset(req, 0, sizeof(req));
	/* SMB2 header: NEGOTIATE, one credit. */
	memcpy(h, "\xfeSMB", 4);
	smb_put16(h + 4, 64);
	smb_put16(h + 14, 1);
	/* The request: 3 dialects, signing enabled, encryption capable. */
	smb_put16(n, 36);
	smb_put16(n + 2, 3);
	smb_put16(n + 4, 1);
	smb_put32(n + 8, 0x40);
	if (getrandom(n + 12, 16, 0) != 16)
		memset(n + 12, 0x5a, 16);
	smb_put32(n + 28, 64 + 36 + 12);
	smb_put16(n + 32, 2);
	smb_put16(n + 36, 0x0300);
	smb_put16(n + 38, 0x0302);
	smb_put16(n + 40, 0x0311);
	/* Contexts, 8-aligned from the header: preauth (SHA-512)... */
	ctx = h + 64 + 36 + 12;
	smb_put16(ctx, 1);
	smb_put16(ctx + 2, 38);
	smb_put16(ctx + 8, 1);
	smb_put16(ctx + 10, 32);
	smb_put16(ctx + 12, 1);
	if (getrandom(ctx + 14, 32, 0) != 32)
		memset(ctx + 14, 0xa5, 32);
	/* ... and the ciphers: AES-128-GCM, AES-128-CCM, AES-256-GCM/CCM. */
	ctx += 48;
	smb_put16(ctx, 2);
	smb_put16(ctx + 2, 10);
	smb_put16(ctx + 8, 4);
	smb_put16(ctx + 10, 2);
	smb_put16(ctx + 12, 1);
	smb_put16(ctx + 14, 4);
	smb_put16(ctx + 16, 3);
	len = (uint32_t)(sizeof(req) - 4);
	req[1] = (unsigned char)(len >> 16);
	req[2] = (unsigned char)(len >> 8);
	req[3] = (unsigned char)len;

	rc = smb_connect(p, deadline, &fd);
	if (rc)
		return rc;
	rc = smb_io(fd, req, 4 + len, 1, deadline);
	if (rc)
		goto out;
	rc = smb_io(fd, rsp, 4, 0, deadline);
	if (rc)
		goto out;
	len = (uint32_t)rsp[1] << 16 | (uint32_t)rsp[2] << 8 | rsp[3];
	if (rsp[0] != 0 || len < 64 + 64 || len > sizeof(rsp) - 4) {
		rc = -EPROTO;
		goto out;
	}
	rc = smb_io(fd, rsp + 4, len, 0, deadline);
	if (rc)
		goto out;
	h = rsp + 4;
	n = h + 64;
	if (memcmp(h, "\xfeSMB", 4) != 0 || smb_get32(h + 8) != 0) {
		rc = -EPROTO;
		goto out;
	}
	dialect = smb_get16(n + 4);
	*enc = 0;
	if (dialect == 0x0300 || dialect == 0x0302) {
		*enc = (smb_get32(n + 24) & 0x40) != 0;
	} else if (dialect == 0x0311) {
		unsigned count = smb_get16(n + 6);

		off = smb_get32(n + 60);
		for (unsigned i = 0; i < count && off + 8 <= len; i++) {
			uint16_t type = smb_get16(h + off);
			uint16_t dlen = smb_get16(h + off + 2);

			if (off + 8 + dlen > len)
				break;
			if (type == 2 && dlen >= 4 &&
			    smb_get16(h + off + 8) >= 1 &&
			    smb_get16(h + off + 10) != 0)
				*enc = 1;
			off = (off + 8 + dlen + 7) & ~7u;
		}
	}
out:
	close(fd);
	return rc;
}

/* ---- contexts ---- */

static void smb_auth_cb(SMBCCTX *ctx, const char *srv, const char *shr,
			char *wg, int wglen, char *un, int unlen, char *pw,
			int pwlen)
{
	struct smb_conn *c = smbc_getOptionUserData(ctx);
	struct smb_vol *v = c->v;
	int enc = 0, rc;

	c->refused = 0;
	snprintf(un, (size_t)unlen, "%s", v->p.user);
	if (v->p.domain)
		snprintf(wg, (size_t)wglen, "%s", v->p.domain);
	if (v->p.encrypt == SMB_ENC_DESIRED) {
		/* libsmbclient prints on stdout when it asks for encryption
		 * a server cannot give: ask only a server that can. */
		rc = smb_probe(&v->p, &enc);
		smbc_setOptionSmbEncryptionLevel(
			ctx, rc == 0 && !enc ? SMBC_ENCRYPTLEVEL_NONE
					     : SMBC_ENCRYPTLEVEL_REQUEST);
	} else if (v->p.encrypt == SMB_ENC_REQUIRED) {
		rc = smb_probe(&v->p, &enc);
		if (rc || !enc) {
			unsigned char r[24];

			/* No connection without encryption: make this one
			 * fail at session setup, before any data moves. */
			c->refused = rc ? rc : -EACCES;
			if (getrandom(r, sizeof(r), 0) != sizeof(r))
				memset(r, 0x77, sizeof(r));
			for (size_t i = 0; i < sizeof(r) && (int)i < pwlen - 1;
			     i++)
				pw[i] = (char)('a' + r[i] % 26);
			pw[pwlen > 24 ? 24 : pwlen - 1] = '\0';
			if (!rc)
				v->log(VOLFS_LOG_ERR,
				       "smb: //%s/%s no longer offers SMB3 "
				       "encryption; not connecting "
				       "(encrypt=required)",
				       v->p.host, v->p.share);
			return;
		}
	}
	snprintf(pw, (size_t)pwlen, "%s", v->p.password);
}

static SMBCCTX *smb_ctx_new(struct smb_vol *v, struct smb_conn *c)
{
	static const smbc_smb_encrypt_level lv[] = {
		[SMB_ENC_OFF] = SMBC_ENCRYPTLEVEL_NONE,
		[SMB_ENC_DESIRED] = SMBC_ENCRYPTLEVEL_REQUEST,
		[SMB_ENC_REQUIRED] = SMBC_ENCRYPTLEVEL_REQUIRE,
	};
	SMBCCTX *ctx = smbc_new_context();

	if (!ctx)
		return NULL;
	smbc_setOptionDebugToStderr(ctx, 1);
	smbc_setDebug(ctx, 0);
	smbc_setLogCallback(ctx, NULL, smb_debug_cb);
	smbc_setOptionUserData(ctx, c);
	smbc_setFunctionAuthDataWithContext(ctx, smb_auth_cb);
	smbc_setOptionNoAutoAnonymousLogin(ctx, 1);
	smbc_setOptionUseKerberos(ctx, 0);
	smbc_setOptionFallbackAfterKerberos(ctx, 1);
	smbc_setOptionCaseSensitive(ctx, 1);
	smbc_setOptionUrlEncodeReaddirEntries(ctx, 0);
	smbc_setUser(ctx, v->p.user);
	if (v->p.domain)
		smbc_setWorkgroup(ctx, v->p.domain);
	smbc_setPort(ctx, (uint16_t)v->p.port);
	smbc_setTimeout(ctx, (int)v->p.timeout_ms);
	smbc_setOptionSmbEncryptionLevel(ctx, lv[v->p.encrypt]);
	if (!smbc_init_context(ctx)) {
		smbc_free_context(ctx, 1);
		return NULL;
	}
	smbc_setOptionProtocols(ctx, "SMB2_02", "SMB3_11");
	return ctx;
}

/*
 * Borrows a context: with f, preferably one where f is open.  want >= 0
 * asks for that one.  Returns its index.
 */
static unsigned smb_get(struct smb_vol *v, const struct smb_file *f, int want)
{
	unsigned i, pick;

	pthread_mutex_lock(&v->lock);
	for (;;) {
		pick = v->nconns;
		if (want >= 0) {
			if (!v->conn[want].busy)
				pick = (unsigned)want;
		} else {
			for (i = 0; f && i < v->nconns; i++)
				if (!v->conn[i].busy && f->h[i]) {
					pick = i;
					break;
				}
			for (i = 0; pick == v->nconns && i < v->nconns; i++)
				if (!v->conn[i].busy)
					pick = i;
		}
		if (pick < v->nconns)
			break;
		pthread_cond_wait(&v->cond, &v->lock);
	}
	v->conn[pick].busy = 1;
	pthread_mutex_unlock(&v->lock);
	if (smb_serial)
		pthread_mutex_lock(&smb_serial_lock);
	return pick;
}

static void smb_put(struct smb_vol *v, unsigned i)
{
	if (smb_serial)
		pthread_mutex_unlock(&smb_serial_lock);
	pthread_mutex_lock(&v->lock);
	v->conn[i].busy = 0;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

/* -errno of the last libsmbclient call on conn i. */
static int smb_fail(struct smb_vol *v, unsigned i, int e)
{
	/* A connection the credentials callback stopped: say why. */
	if (v->conn[i].refused)
		return smb_errno(-v->conn[i].refused);
	return smb_errno(e);
}

/* ---- path ops ---- */

static void smb_fix_stat(const struct smb_vol *v, struct stat *st)
{
	mode_t type = S_ISDIR(st->st_mode) ? S_IFDIR : S_IFREG;

	st->st_mode = type | (type == S_IFDIR ? v->p.dir_mode : v->p.file_mode);
	st->st_uid = v->p.uid;
	st->st_gid = v->p.gid;
	st->st_nlink = type == S_IFDIR ? 2 : 1;
	st->st_rdev = 0;
	st->st_blksize = 1 << 20;
}

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

static int smb_stat_url(struct smb_vol *v, unsigned i, const char *url,
			struct stat *st)
{
	SMBCCTX *ctx = v->conn[i].ctx;
	int rc;

	memset(st, 0, sizeof(*st));
	SMB_PATH_OP(v, i, rc, smbc_getFunctionStat(ctx)(ctx, url, st));
	return rc < 0 ? rc : 0;
}

/* Notes that directory path[0..len) exists. */
static void smb_dir_seen(struct smb_vol *v, const char *path, size_t len)
{
	char *copy = strndup(path, len);

	if (!copy)
		return;
	pthread_mutex_lock(&v->lock);
	free(v->dirs[v->dir_next].path);
	v->dirs[v->dir_next].path = copy;
	v->dirs[v->dir_next].ms = smb_now_ms();
	v->dir_next = (v->dir_next + 1) % SMB_DIRS;
	pthread_mutex_unlock(&v->lock);
}

/* Whether directory path[0..len) was seen within the TTL. */
static int smb_dir_known(struct smb_vol *v, const char *path, size_t len)
{
	int64_t now = smb_now_ms();
	int found = 0;

	pthread_mutex_lock(&v->lock);
	for (unsigned k = 0; k < SMB_DIRS && !found; k++)
		found = v->dirs[k].path &&
			now - v->dirs[k].ms < (int64_t)v->p.ttl_ms &&
			strncmp(v->dirs[k].path, path, len) == 0 &&
			v->dirs[k].path[len] == '\0';
	pthread_mutex_unlock(&v->lock);
	return found;
}

/* Forgets the directories seen (something was removed or moved). */
static void smb_dirs_forget(struct smb_vol *v)
{
	pthread_mutex_lock(&v->lock);
	for (unsigned k = 0; k < SMB_DIRS; k++) {
		free(v->dirs[k].path);
		v->dirs[k].path = NULL;
	}
	pthread_mutex_unlock(&v->lock);
}

static int smb_getattr_path(struct smb_vol *v, const char *path,
			    struct stat *st)
{
	char url[PATH_MAX * 3 + 600];
	unsigned i;
	int rc;

	rc = smb_url(v, path, url, sizeof(url));
	if (rc)
		return rc;
	i = smb_get(v, NULL, -1);
	rc = smb_stat_url(v, i, url, st);
	if (rc == 0 && S_ISDIR(st->st_mode))
		smb_dir_seen(v, path, strlen(path));
	if (rc == -ENOENT && strchr(path, '/') &&
	    !smb_dir_known(v, path, (size_t)(strrchr(path, '/') - path))) {
		/* SMB says "not found" below a file too: POSIX says
		 * ENOTDIR.  Unless the parent is a known directory (as in
		 * every lookup the kernel makes), ask. */
		char *parent = strdup(path);
		struct stat pst;

		if (parent) {
			*strrchr(parent, '/') = '\0';
			if (smb_url(v, parent, url, sizeof(url)) == 0 &&
			    smb_stat_url(v, i, url, &pst) == 0 &&
			    !S_ISDIR(pst.st_mode))
				rc = -ENOTDIR;
			free(parent);
		}
	}
	smb_put(v, i);
	if (rc == 0)
		smb_fix_stat(v, st);
	return rc;
}

static int smb_is_hidden(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, SMB_HIDDEN, strlen(SMB_HIDDEN)) == 0;
}

static int smb_simple(struct smb_vol *v, const char *path, int what,
		      mode_t mode)
{
	char url[PATH_MAX * 3 + 600];
	SMBCCTX *ctx;
	unsigned i;
	int rc;

	if (smb_is_hidden(path))
		return -EACCES;
	rc = smb_url(v, path, url, sizeof(url));
	if (rc)
		return rc;
	i = smb_get(v, NULL, -1);
	ctx = v->conn[i].ctx;
	switch (what) {
	case 0:
		SMB_PATH_OP(v, i, rc, smbc_getFunctionMkdir(ctx)(ctx, url, mode));
		break;
	case 1:
		SMB_PATH_OP(v, i, rc, smbc_getFunctionRmdir(ctx)(ctx, url));
		break;
	default:
		SMB_PATH_OP(v, i, rc, smbc_getFunctionUnlink(ctx)(ctx, url));
		break;
	}
	smb_put(v, i);
	return rc < 0 ? rc : 0;
}

/* ---- files ---- */

/* Opens f on conn i (which the caller holds) unless it is open there. */
static int smb_file_on(struct smb_vol *v, struct smb_file *f, unsigned i,
		       int flags)
{
	char url[PATH_MAX * 3 + 600];
	SMBCCTX *ctx = v->conn[i].ctx;
	SMBCFILE *h;
	int rc;

	if (f->h[i])
		return 0;
	rc = smb_url(v, f->path, url, sizeof(url));
	if (rc)
		return rc;
	errno = 0;
	h = smbc_getFunctionOpen(ctx)(ctx, url, flags, 0644);
	if (!h)
		return smb_fail(v, i, errno ? errno : EIO);
	f->h[i] = h;
	return 0;
}

/* Flags for opening a further handle of an open file. */
static int smb_reopen_flags(const struct smb_file *f)
{
	return f->flags & O_ACCMODE;
}

/* Closes f's handle on conn i (held by the caller). */
static void smb_file_off(struct smb_vol *v, struct smb_file *f, unsigned i)
{
	SMBCCTX *ctx = v->conn[i].ctx;

	if (f->h[i]) {
		smbc_getFunctionClose(ctx)(ctx, f->h[i]);
		f->h[i] = NULL;
	}
}

/* Borrows a context with f open on it; returns its index or -errno. */
static int smb_file_get(struct smb_vol *v, struct smb_file *f)
{
	unsigned i = smb_get(v, f, -1);
	int rc = smb_file_on(v, f, i, smb_reopen_flags(f));

	if (rc) {
		smb_put(v, i);
		return rc;
	}
	return (int)i;
}

static void smb_file_list_del(struct smb_vol *v, struct smb_file *f)
{
	struct smb_file **pp;

	pthread_mutex_lock(&v->lock);
	for (pp = &v->files; *pp; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	pthread_mutex_unlock(&v->lock);
}

/* Drops f's read-ahead data (it wrote, or was truncated). */
static void smb_ra_drop(struct smb_file *f)
{
	pthread_mutex_lock(&f->ra_lock);
	f->ra_len = 0;
	f->ra_eof = 0;
	f->ra_next = 0;
	f->ra_win = 0;
	if (f->pf_state == 1)
		f->pf_stale = 1;
	else
		f->pf_state = 0;
	pthread_mutex_unlock(&f->ra_lock);
}

static void smb_file_free(struct smb_file *f)
{
	pthread_mutex_destroy(&f->ra_lock);
	pthread_cond_destroy(&f->ra_cond);
	free(f->pf_buf);
	pthread_cond_destroy(&f->wb_cond);
	pthread_mutex_destroy(&f->wb_lock);
	free(f->ra_buf);
	pthread_rwlock_destroy(&f->mv);
	free(f->path);
	free(f);
}

static int smb_open_common(struct smb_vol *v, const char *path, int flags,
			   int create, uint64_t *fh)
{
	struct smb_file *f;
	unsigned i;
	int rc;

	if (smb_is_hidden(path))
		return create ? -EACCES : -ENOENT;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->path = strdup(path);
	if (!f->path || pthread_rwlock_init(&f->mv, NULL) != 0) {
		free(f->path);
		free(f);
		return -ENOMEM;
	}
	pthread_mutex_init(&f->ra_lock, NULL);
	pthread_cond_init(&f->ra_cond, NULL);
	pthread_mutex_init(&f->wb_lock, NULL);
	pthread_cond_init(&f->wb_cond, NULL);
	f->flags = flags;
	i = smb_get(v, NULL, -1);
	/*
	 * A write-only SMB handle cannot read its own attributes, so one
	 * open for writing asks for reading too, and falls back to
	 * write-only where the server refuses that.  O_EXCL with O_TRUNC is
	 * no SMB disposition: a new file is empty anyway.
	 */
	if ((flags & O_ACCMODE) == O_WRONLY)
		f->flags = (flags & ~O_ACCMODE) | O_RDWR;
	for (int pass = 0; pass < 2; pass++) {
		rc = smb_file_on(v, f, i,
				 create ? (f->flags & O_ACCMODE) | O_CREAT |
						  O_EXCL
					: f->flags & (O_ACCMODE | O_TRUNC));
		if (rc != -EACCES || f->flags == flags)
			break;
		f->flags = flags;
	}
	smb_put(v, i);
	if (rc) {
		smb_file_free(f);
		return rc;
	}
	if (create)
		f->created_ms = smb_now_ms();
	pthread_mutex_lock(&v->lock);
	f->next = v->files;
	v->files = f;
	pthread_mutex_unlock(&v->lock);
	*fh = (uint64_t)(uintptr_t)f;
	return 0;
}

/*
 * The attributes of a file this handle has just created, without a round
 * trip: empty, of the configured modes, made now.  Only for the first
 * getattr of the handle (the reply to the create), and only while young.
 */
static int smb_created_stat(const struct smb_vol *v, struct smb_file *f,
			    struct stat *st)
{
	int64_t at = atomic_exchange(&f->created_ms, 0);
	struct timespec now;

	if (!at || smb_now_ms() - at > 1000)
		return 0;
	memset(st, 0, sizeof(*st));
	clock_gettime(CLOCK_REALTIME, &now);
	st->st_mode = S_IFREG;
	st->st_atim = st->st_mtim = st->st_ctim = now;
	smb_fix_stat(v, st);
	return 1;
}

/* Closes every handle of f (mv held alone). */
static void smb_file_close_all(struct smb_vol *v, struct smb_file *f)
{
	for (unsigned i = 0; i < v->nconns; i++) {
		if (!f->h[i])
			continue;
		smb_get(v, NULL, (int)i);
		smb_file_off(v, f, i);
		smb_put(v, i);
	}
}

/* Drops a waiter's hold on f (see release()). */
static void smb_file_unref(struct smb_vol *v, struct smb_file *f)
{
	pthread_mutex_lock(&v->lock);
	f->waiters--;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

/*
 * The open files at path, with their mv locks taken alone, handles closed
 * (so the server lets the file be moved); *n of them in *out.
 */
static int smb_files_at(struct smb_vol *v, const char *path,
			struct smb_file ***out, size_t *n)
{
	struct smb_file *f, **arr = NULL;
	size_t cnt = 0, k = 0;

	pthread_mutex_lock(&v->lock);
	for (f = v->files; f; f = f->next)
		cnt += strcmp(f->path, path) == 0;
	if (cnt) {
		arr = calloc(cnt, sizeof(*arr));
		if (!arr) {
			pthread_mutex_unlock(&v->lock);
			return -ENOMEM;
		}
		/* Counted as waiters, they outlive a release() meanwhile. */
		for (f = v->files; f && k < cnt; f = f->next)
			if (strcmp(f->path, path) == 0) {
				f->waiters++;
				arr[k++] = f;
			}
	}
	pthread_mutex_unlock(&v->lock);
	/* Released or moved meanwhile: not ours to move. */
	for (size_t j = 0; j < k; j++) {
		pthread_rwlock_wrlock(&arr[j]->mv);
		if (!arr[j]->released && strcmp(arr[j]->path, path) == 0) {
			smb_file_close_all(v, arr[j]);
		} else {
			pthread_rwlock_unlock(&arr[j]->mv);
			smb_file_unref(v, arr[j]);
			arr[j] = NULL;
		}
	}
	*out = arr;
	*n = k;
	return 0;
}

static void smb_files_done(struct smb_vol *v, struct smb_file **arr,
			   size_t n)
{
	for (size_t j = 0; j < n; j++)
		if (arr[j]) {
			pthread_rwlock_unlock(&arr[j]->mv);
			smb_file_unref(v, arr[j]);
		}
	free(arr);
}

/* The open files of arr (from smb_files_at()) now live at path, removed
 * from their names when unlinked. */
static int smb_files_moved(struct smb_vol *v, struct smb_file **arr,
			   size_t n, const char *path, int unlinked)
{
	for (size_t j = 0; j < n; j++) {
		char *np;

		if (!arr[j])
			continue;
		np = strdup(path);
		if (!np)
			return -ENOMEM;
		pthread_mutex_lock(&v->lock);
		free(arr[j]->path);
		arr[j]->path = np;
		pthread_mutex_unlock(&v->lock);
		if (unlinked)
			arr[j]->unlinked = 1;
	}
	return 0;
}

static int smb_rename_url(struct smb_vol *v, const char *from,
			  const char *to)
{
	char ufrom[PATH_MAX * 3 + 600], uto[PATH_MAX * 3 + 600];
	SMBCCTX *ctx;
	unsigned i;
	int rc;

	rc = smb_url(v, from, ufrom, sizeof(ufrom));
	if (!rc)
		rc = smb_url(v, to, uto, sizeof(uto));
	if (rc)
		return rc;
	i = smb_get(v, NULL, -1);
	ctx = v->conn[i].ctx;
	SMB_PATH_OP(v, i, rc,
		    smbc_getFunctionRename(ctx)(ctx, ufrom, ctx, uto));
	smb_put(v, i);
	return rc < 0 ? rc : 0;
}

/* ---- ops ---- */

static void smb_wb_drain(struct smb_file *f);
static int smb_wb_sync(struct smb_file *f);
static void smb_wb_drain_path(struct smb_vol *v, const char *path);
static void *smb_worker(void *arg);
static int smb_release(void *vol, uint64_t fh);

static int smb_validate(const struct volfs_volinfo *vi, char *err,
			size_t errlen);

static void smb_close(void *vol)
{
	struct smb_vol *v = vol;

	if (v->nworkers) {
		pthread_mutex_lock(&v->q_lock);
		v->q_stop = 1;
		pthread_cond_broadcast(&v->q_cond);
		pthread_mutex_unlock(&v->q_lock);
		for (unsigned i = 0; i < v->nworkers; i++)
			pthread_join(v->workers[i], NULL);
	}
	if (smb_serial)
		pthread_mutex_lock(&smb_serial_lock);
	for (unsigned i = 0; i < v->nconns; i++)
		if (v->conn[i].ctx)
			smbc_free_context(v->conn[i].ctx, 1);
	if (smb_serial)
		pthread_mutex_unlock(&smb_serial_lock);
	for (unsigned k = 0; k < SMB_DIRS; k++)
		free(v->dirs[k].path);
	pthread_cond_destroy(&v->q_cond);
	pthread_mutex_destroy(&v->q_lock);
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	free(v->base);
	free(v);
}

static int smb_vol_new(const struct volfs_volinfo *vi, struct smb_vol **out,
		       char *err, size_t errlen)
{
	struct smb_vol *v;
	int rc;

	pthread_once(&smb_once, smb_init_once);
	atomic_store(&smb_logfn, vi->log);
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->log = vi->log;
	rc = smb_params(vi, &v->p, err, errlen);
	if (rc)
		goto err_free;
	v->base = smb_make_base(&v->p);
	if (!v->base) {
		rc = volfs_be_errf(err, errlen, -ENAMETOOLONG,
				   "option 'share': the path is too long");
		goto err_free;
	}
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	pthread_mutex_init(&v->q_lock, NULL);
	pthread_cond_init(&v->q_cond, NULL);
	for (unsigned i = 0; i < v->p.conns; i++) {
		v->conn[i].v = v;
		if (smb_serial)
			pthread_mutex_lock(&smb_serial_lock);
		v->conn[i].ctx = smb_ctx_new(v, &v->conn[i]);
		if (smb_serial)
			pthread_mutex_unlock(&smb_serial_lock);
		if (!v->conn[i].ctx) {
			rc = volfs_be_errf(err, errlen, -ENOMEM,
					   "cannot make an SMB client "
					   "context: %s",
					   strerror(errno ? errno : ENOMEM));
			v->nconns = i;
			smb_close(v);
			return rc;
		}
		v->nconns = i + 1;
	}
	*out = v;
	return 0;

err_free:
	free(v->base);
	free(v);
	return rc;
}

/*
 * Checks, in order, that the server answers, offers encryption when it is
 * required, takes the credentials, has the share, and (with a directory in
 * share=) has that directory.  The message says which failed.
 */
static int smb_check(struct smb_vol *v, char *err, size_t errlen)
{
	const struct smb_params *p = &v->p;
	char url[PATH_MAX * 3 + 600];
	struct stat st;
	int enc = 0, rc;
	size_t len;

	rc = smb_probe(p, &enc);
	if (rc == -ETIMEDOUT)
		return volfs_be_errf(err, errlen, -ETIMEDOUT,
				     "no answer from %s port %u within %u ms: "
				     "check the host and port in option "
				     "'share', the firewall, or raise "
				     "option 'timeout'",
				     p->host, p->port, p->timeout_ms);
	if (rc == -ENXIO)
		return volfs_be_errf(err, errlen, -EHOSTUNREACH,
				     "cannot resolve host '%s' of option "
				     "'share': check its spelling and DNS",
				     p->host);
	if (rc == -EPROTO || rc == -ECONNRESET)
		return volfs_be_errf(err, errlen, -EPROTO,
				     "%s port %u does not answer as an SMB2 "
				     "or SMB3 server: check the port in "
				     "option 'share'",
				     p->host, p->port);
	if (rc)
		return volfs_be_errf(err, errlen, smb_errno(-rc),
				     "cannot reach %s port %u: %s: check the "
				     "host and port in option 'share' and "
				     "that the server is running",
				     p->host, p->port, strerror(-rc));
	if (p->encrypt == SMB_ENC_REQUIRED && !enc)
		return volfs_be_errf(err, errlen, -EPROTONOSUPPORT,
				     "the server at %s port %u refuses SMB3 "
				     "encryption, which encrypt=required "
				     "demands: enable encryption on the "
				     "server, or use encrypt=desired",
				     p->host, p->port);

	/* The share's root, then the directory in it. */
	len = (size_t)snprintf(url, sizeof(url), "smb://%s/", p->host);
	smb_url_put(url, sizeof(url), &len, p->share);
	rc = smb_stat_url(v, 0, url, &st);
	if (rc == -EACCES)
		return volfs_be_errf(err, errlen, -EACCES,
				     "the server at %s refused user '%s'%s%s "
				     "for share '%s': check the username, "
				     "password and domain, and that the user "
				     "may use the share",
				     p->host, p->user,
				     p->domain ? " of domain " : "",
				     p->domain ? p->domain : "", p->share);
	if (rc == -ENOENT)
		return volfs_be_errf(err, errlen, -ENOENT,
				     "the server at %s has no share '%s': "
				     "check the share name in option 'share'",
				     p->host, p->share);
	if (rc)
		return volfs_be_errf(err, errlen, rc,
				     "cannot use share //%s/%s: %s", p->host,
				     p->share, volfs_be_strerror(rc));
	if (p->subdir[0]) {
		rc = smb_stat_url(v, 0, v->base, &st);
		if (rc == 0 && !S_ISDIR(st.st_mode))
			rc = -ENOTDIR;
		if (rc)
			return volfs_be_errf(err, errlen, rc,
					     "directory '%s' of share //%s/%s: "
					     "%s: create it first, or fix "
					     "option 'share'",
					     p->subdir, p->host, p->share,
					     volfs_be_strerror(rc));
	}
	return 0;
}

static int smb_validate(const struct volfs_volinfo *vi, char *err,
			size_t errlen)
{
	struct smb_params p;
	struct smb_vol *v;
	int rc;

	/* Option errors first: they need no server. */
	rc = smb_params(vi, &p, err, errlen);
	if (rc)
		return rc;
	rc = smb_vol_new(vi, &v, err, errlen);
	if (rc)
		return rc;
	rc = smb_check(v, err, errlen);
	smb_close(v);
	return rc;
}

static int smb_open(const struct volfs_volinfo *vi, void **vol, char *err,
		    size_t errlen)
{
	struct smb_vol *v;
	int rc;

	rc = smb_vol_new(vi, &v, err, errlen);
	if (rc)
		return rc;
	rc = smb_check(v, err, errlen);
	if (rc) {
		smb_close(v);
		return rc;
	}
	/* Write-behind threads (without them, writes are synchronous). */
	for (unsigned i = 0; i < v->nconns; i++) {
		if (pthread_create(&v->workers[i], NULL, smb_worker, v) != 0)
			break;
		v->nworkers++;
	}
	*vol = v;
	return 0;
}

static int smb_statfs(void *vol, struct statvfs *sv)
{
	struct smb_vol *v = vol;
	char url[PATH_MAX * 3 + 600];
	SMBCCTX *ctx;
	unsigned i;
	int rc;

	snprintf(url, sizeof(url), "%s", v->base);
	i = smb_get(v, NULL, -1);
	ctx = v->conn[i].ctx;
	memset(sv, 0, sizeof(*sv));
	SMB_PATH_OP(v, i, rc, smbc_getFunctionStatVFS(ctx)(ctx, url, sv));
	smb_put(v, i);
	if (rc < 0)
		return rc;
	if (sv->f_namemax == 0)
		sv->f_namemax = 255;
	if (sv->f_bsize == 0)
		sv->f_bsize = sv->f_frsize ? sv->f_frsize : 4096;
	if (sv->f_frsize == 0)
		sv->f_frsize = sv->f_bsize;
	return 0;
}

static int smb_getattr(void *vol, const char *path, uint64_t fh,
		       struct stat *st)
{
	struct smb_vol *v = vol;
	struct smb_file *f = (struct smb_file *)(uintptr_t)fh;
	int rc;

	if (fh == VOLFS_NO_FH) {
		if (smb_is_hidden(path))
			return -ENOENT;
		smb_wb_drain_path(v, path);
		return smb_getattr_path(v, path, st);
	}
	if (smb_created_stat(v, f, st))
		return 0;
	smb_wb_drain(f);
	/* One round trip on a handle that can read attributes; else by the
	 * handle's current path (open, query, close: three). */
	pthread_rwlock_rdlock(&f->mv);
	rc = -EACCES;
	if ((f->flags & O_ACCMODE) != O_WRONLY) {
		int i = smb_file_get(v, f);

		if (i >= 0) {
			SMBCCTX *ctx = v->conn[i].ctx;

			memset(st, 0, sizeof(*st));
			rc = smbc_getFunctionFstat(ctx)(ctx, f->h[i], st) < 0
				     ? -EIO
				     : 0;
			if (rc == 0)
				smb_fix_stat(v, st);
			else
				smb_file_off(v, f, (unsigned)i);
			smb_put(v, (unsigned)i);
		}
	}
	if (rc)
		rc = smb_getattr_path(v, f->path, st);
	if (rc == 0 && f->unlinked)
		st->st_nlink = 0;
	pthread_rwlock_unlock(&f->mv);
	return rc;
}

static int smb_mkdir(void *vol, const char *path, mode_t mode,
		     const struct volfs_caller *who)
{
	return smb_simple(vol, path, 0, 0755);
}

/* Whether an open file removed by unlink still waits, under its hidden
 * name, in directory dir for its last release. */
static int smb_unlinked_in(struct smb_vol *v, const char *dir)
{
	size_t len = strlen(dir);
	struct smb_file *f;
	int found = 0;

	pthread_mutex_lock(&v->lock);
	for (f = v->files; f && !found; f = f->next)
		found = f->unlinked && strncmp(f->path, dir, len) == 0 &&
			f->path[len] == '/' && !strchr(f->path + len + 1, '/');
	pthread_mutex_unlock(&v->lock);
	return found;
}

static int smb_rmdir(void *vol, const char *path)
{
	struct smb_vol *v = vol;
	int rc;

	smb_dirs_forget(vol);
	rc = smb_simple(vol, path, 1, 0);
	/*
	 * The kernel sends the release of a closed file after close()
	 * returned: a file unlinked while open may still sit here under its
	 * hidden name for a moment.  Wait for it (a bounded while), as
	 * POSIX sees the directory empty already.
	 */
	for (int i = 0; rc == -ENOTEMPTY && i < 200; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		int pending = smb_unlinked_in(v, path);

		if (pending)
			nanosleep(&ts, NULL);
		/* Once none is pending, one last try: it may just have gone. */
		rc = smb_simple(vol, path, 1, 0);
		if (!pending)
			break;
	}
	return rc;
}

static int smb_unlink(void *vol, const char *path)
{
	struct smb_vol *v = vol;
	struct smb_file **open;
	char hidden[PATH_MAX];
	struct stat st;
	unsigned char r[8];
	const char *slash;
	size_t n, dlen;
	int rc;

	if (smb_is_hidden(path))
		return -ENOENT;
	/* SMB deletes an empty directory given to unlink: POSIX refuses. */
	rc = smb_getattr_path(v, path, &st);
	if (rc)
		return rc;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	rc = smb_files_at(v, path, &open, &n);
	if (rc)
		return rc;
	for (size_t j = 0; j < n && rc == 0; j++)
		if (open[j])
			rc = 1;
	if (rc == 0) {
		smb_files_done(v, open, n);
		return smb_simple(v, path, 2, 0);
	}
	/* Open here: move it aside; the last release deletes it. */
	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		memset(r, 0, sizeof(r));
	slash = strrchr(path, '/');
	dlen = slash ? (size_t)(slash - path) + 1 : 0;
	snprintf(hidden, sizeof(hidden),
		 "%.*s" SMB_HIDDEN "%02x%02x%02x%02x%02x%02x%02x%02x",
		 (int)dlen, path, r[0], r[1], r[2], r[3], r[4], r[5], r[6],
		 r[7]);
	rc = smb_rename_url(v, path, hidden);
	if (rc == 0)
		rc = smb_files_moved(v, open, n, hidden, 1);
	smb_files_done(v, open, n);
	return rc;
}

static int smb_rename(void *vol, const char *from, const char *to,
		      unsigned flags)
{
	struct smb_vol *v = vol;
	struct smb_file **open;
	size_t n;
	int rc;

	if (flags)
		return -EINVAL;
	smb_dirs_forget(v);
	if (smb_is_hidden(from))
		return -ENOENT;
	if (smb_is_hidden(to))
		return -EACCES;
	/* Files open here at the target lose their name. */
	rc = smb_files_at(v, to, &open, &n);
	if (rc)
		return rc;
	for (size_t j = 0; j < n; j++)
		if (open[j])
			rc = -EBUSY;
	smb_files_done(v, open, n);
	if (rc) {
		/* Move them aside first, as unlink does. */
		rc = smb_unlink(v, to);
		if (rc)
			return rc;
	}
	rc = smb_files_at(v, from, &open, &n);
	if (rc)
		return rc;
	rc = smb_rename_url(v, from, to);
	if (rc == -EEXIST) {
		/* SMB replaces files only: POSIX also replaces an empty
		 * directory by a directory, and names the type clash. */
		struct stat sf, sto;

		rc = smb_getattr_path(v, from, &sf);
		if (rc == 0)
			rc = smb_getattr_path(v, to, &sto);
		if (rc == 0 && S_ISDIR(sf.st_mode) != S_ISDIR(sto.st_mode))
			rc = S_ISDIR(sf.st_mode) ? -ENOTDIR : -EISDIR;
		else if (rc == 0 && S_ISDIR(sf.st_mode))
			rc = smb_simple(v, to, 1, 0);
		else if (rc == 0)
			rc = -EEXIST;
		if (rc == 0)
			rc = smb_rename_url(v, from, to);
	}
	if (rc == 0)
		rc = smb_files_moved(v, open, n, to, 0);
	smb_files_done(v, open, n);
	return rc;
}

static int smb_truncate(void *vol, const char *path, uint64_t fh, off_t size)
{
	struct smb_vol *v = vol;
	struct smb_file *f = (struct smb_file *)(uintptr_t)fh;
	uint64_t tmp = VOLFS_NO_FH;
	int rc, i;

	if (size < 0)
		return -EINVAL;
	if (fh != VOLFS_NO_FH)
		smb_wb_drain(f);
	else
		smb_wb_drain_path(v, path);
	if (fh == VOLFS_NO_FH) {
		rc = smb_open_common(v, path, O_WRONLY, 0, &tmp);
		if (rc)
			return rc;
		f = (struct smb_file *)(uintptr_t)tmp;
	}
	smb_ra_drop(f);
	pthread_rwlock_rdlock(&f->mv);
	for (int try = 0; try < 2; try++) {
		SMBCCTX *ctx;

		i = smb_file_get(v, f);
		if (i < 0) {
			rc = i;
			break;
		}
		ctx = v->conn[i].ctx;
		errno = 0;
		rc = smbc_getFunctionFtruncate(ctx)(ctx, f->h[i], size);
		if (rc < 0) {
			int e = errno;

			rc = smb_fail(v, (unsigned)i, e);
			if (try == 0 && smb_conn_lost(e))
				smb_file_off(v, f, (unsigned)i);
			else
				try = 1;
		}
		smb_put(v, (unsigned)i);
		if (rc == 0)
			break;
	}
	pthread_rwlock_unlock(&f->mv);
	if (tmp != VOLFS_NO_FH)
		smb_release(v, tmp);
	return rc;
}

static int smb_utimens(void *vol, const char *path, uint64_t fh,
		       const struct timespec tv[2])
{
	struct smb_vol *v = vol;
	struct smb_file *f = fh == VOLFS_NO_FH ? NULL
					       : (struct smb_file *)(uintptr_t)fh;
	char url[PATH_MAX * 3 + 600];
	struct timeval t[2];
	struct timespec now;
	struct stat st;
	SMBCCTX *ctx;
	unsigned i;
	int rc;

	if (f) {
		smb_wb_drain(f);
		pthread_rwlock_rdlock(&f->mv);
		path = f->path;
	} else {
		smb_wb_drain_path(v, path);
	}
	rc = smb_url(v, path, url, sizeof(url));
	if (rc)
		goto out;
	i = smb_get(v, NULL, -1);
	ctx = v->conn[i].ctx;
	if (tv[0].tv_nsec == UTIME_OMIT || tv[1].tv_nsec == UTIME_OMIT) {
		rc = smb_stat_url(v, i, url, &st);
		if (rc) {
			smb_put(v, i);
			goto out;
		}
	}
	clock_gettime(CLOCK_REALTIME, &now);
	for (int k = 0; k < 2; k++) {
		struct timespec ts = tv[k];

		if (ts.tv_nsec == UTIME_NOW)
			ts = now;
		else if (ts.tv_nsec == UTIME_OMIT)
			ts = k ? st.st_mtim : st.st_atim;
		t[k].tv_sec = ts.tv_sec;
		t[k].tv_usec = ts.tv_nsec / 1000;
	}
	SMB_PATH_OP(v, i, rc, smbc_getFunctionUtimes(ctx)(ctx, url, t));
	smb_put(v, i);
	if (rc > 0)
		rc = 0;
out:
	if (f)
		pthread_rwlock_unlock(&f->mv);
	return rc;
}

static int smb_open_file(void *vol, const char *path, int flags,
			 uint64_t *fh)
{
	return smb_open_common(vol, path, flags, 0, fh);
}

static int smb_create_file(void *vol, const char *path, int flags,
			   mode_t mode, const struct volfs_caller *who,
			   uint64_t *fh)
{
	return smb_open_common(vol, path, flags, 1, fh);
}

/* One read or write at off on conn i, in pieces if the library says so. */
static ssize_t smb_rw(struct smb_vol *v, struct smb_file *f, unsigned i,
		      void *buf, size_t size, off_t off, int wr, int *err)
{
	SMBCCTX *ctx = v->conn[i].ctx;
	size_t done = 0;

	while (done < size) {
		ssize_t n;

		errno = 0;
		if (smbc_getFunctionLseek(ctx)(ctx, f->h[i],
					       off + (off_t)done,
					       SEEK_SET) < 0) {
			*err = errno ? errno : EIO;
			return -1;
		}
		errno = 0;
		n = wr ? smbc_getFunctionWrite(ctx)(ctx, f->h[i],
						    (char *)buf + done,
						    size - done)
		       : smbc_getFunctionRead(ctx)(ctx, f->h[i],
						   (char *)buf + done,
						   size - done);
		if (n < 0) {
			*err = errno ? errno : EIO;
			return done ? (ssize_t)done : -1;
		}
		done += (size_t)n;
		/* The library reads until the count or the end of the file:
		 * a short read is the end, not worth another round trip. */
		if (n == 0 || !wr)
			break;
	}
	return (ssize_t)done;
}

static ssize_t smb_io_op(struct smb_vol *v, uint64_t fh, void *buf,
			 size_t size, off_t off, int wr)
{
	struct smb_file *f = (struct smb_file *)(uintptr_t)fh;
	ssize_t n = -EIO;
	int i, e;

	pthread_rwlock_rdlock(&f->mv);
	for (int try = 0; try < 2; try++) {
		i = smb_file_get(v, f);
		if (i < 0) {
			n = i;
			break;
		}
		if (wr && (f->flags & O_APPEND)) {
			char url[PATH_MAX * 3 + 600];
			struct stat st;

			/* By path: a write-only handle may not read its
			 * attributes. */
			e = 0;
			n = smb_url(v, f->path, url, sizeof(url));
			if (!n)
				n = smb_stat_url(v, (unsigned)i, url, &st);
			if (n) {
				e = EIO;
				goto failed;
			}
			off = st.st_size;
		}
		e = 0;
		n = smb_rw(v, f, (unsigned)i, buf, size, off, wr, &e);
		if (n >= 0) {
			smb_put(v, (unsigned)i);
			break;
		}
		n = smb_fail(v, (unsigned)i, e);
failed:
		if (try == 0 && smb_conn_lost(e))
			smb_file_off(v, f, (unsigned)i);
		else
			try = 1;
		smb_put(v, (unsigned)i);
	}
	pthread_rwlock_unlock(&f->mv);
	return n;
}

static void smb_queue(struct smb_vol *v, struct smb_job *j)
{
	pthread_mutex_lock(&v->q_lock);
	if (v->q_tail)
		v->q_tail->next = j;
	else
		v->q_head = j;
	v->q_tail = j;
	pthread_cond_signal(&v->q_cond);
	pthread_mutex_unlock(&v->q_lock);
}

/* Sends volume threads for the window at off into pf_buf (ra_lock held,
 * nothing on its way): in parts, one per thread, when it is large. */
static void smb_pf_start(struct smb_vol *v, struct smb_file *f, off_t off,
			 size_t len)
{
	struct smb_job *j[SMB_CONNS_MAX];
	unsigned n = v->nworkers;

	if (n > len / SMB_PF_PART_MIN)
		n = (unsigned)(len / SMB_PF_PART_MIN);
	if (n < 1)
		n = 1;
	if (!f->pf_buf)
		f->pf_buf = malloc(SMB_RA_MAX);
	if (!f->pf_buf)
		return;
	for (unsigned k = 0; k < n; k++) {
		j[k] = calloc(1, sizeof(*j[k]));
		if (!j[k]) {
			while (k--)
				free(j[k]);
			return;
		}
	}
	f->pf_state = 1;
	f->pf_stale = 0;
	f->pf_off = off;
	f->pf_len = len;
	f->pf_psz = len / n;
	f->pf_nparts = f->pf_left = n;
	f->pf_ms = smb_now_ms();
	for (unsigned k = 0; k < n; k++) {
		j[k]->f = f;
		j[k]->read = 1;
		j[k]->slot = k;
		j[k]->off = off + (off_t)(k * f->pf_psz);
		j[k]->len = k + 1 < n ? f->pf_psz : len - k * f->pf_psz;
		smb_queue(v, j[k]);
	}
}

/* A part of the window on its way has arrived (ra_lock held); the last
 * one makes pf_rc: the bytes up to the first short part, or its error. */
static void smb_pf_part_done(struct smb_file *f, unsigned part, ssize_t n)
{
	ssize_t total = 0;

	f->pf_part_rc[part] = n;
	if (--f->pf_left)
		return;
	for (unsigned k = 0; k < f->pf_nparts; k++) {
		ssize_t r = f->pf_part_rc[k];
		size_t want = k + 1 < f->pf_nparts
				      ? f->pf_psz
				      : f->pf_len - k * f->pf_psz;

		if (r < 0) {
			if (!total)
				total = r;
			break;
		}
		total += r;
		if ((size_t)r < want)
			break;
	}
	f->pf_rc = total;
	f->pf_state = 2;
	pthread_cond_broadcast(&f->ra_cond);
}

/*
 * Reads through the read-ahead: a read that continues where the last one
 * ended fetches a window (1 MiB, doubling up to 8 MiB while reads stay
 * sequential) in one request, which libsmbclient splits into pipelined SMB
 * reads; the kernel's smaller read-ahead requests are then served from it,
 * while a volume thread already fetches the next window.  Data is trusted
 * for cache_ttl, like the attributes.
 */
static ssize_t smb_read(void *vol, uint64_t fh, void *buf, size_t size,
			off_t off)
{
	struct smb_vol *v = vol;
	struct smb_file *f = (struct smb_file *)(uintptr_t)fh;
	int64_t now;
	ssize_t n;
	size_t win;

	/* Read after write: what was written first. */
	smb_wb_drain(f);
	if (v->p.ttl_ms == 0 || size >= SMB_RA_MAX)
		return smb_io_op(v, fh, buf, size, off, 0);
	pthread_mutex_lock(&f->ra_lock);
	now = smb_now_ms();
	if ((f->ra_len || f->ra_eof) && off >= f->ra_off &&
	    (off + (off_t)size <= f->ra_off + (off_t)f->ra_len ||
	     (f->ra_eof && off <= f->ra_off + (off_t)f->ra_len)) &&
	    now - f->ra_ms < (int64_t)v->p.ttl_ms) {
		/* In the window, or past its end where that is the file's:
		 * what is there, maybe nothing. */
		size_t have = f->ra_len - (size_t)(off - f->ra_off);

		if (have > size)
			have = size;
		memcpy(buf, f->ra_buf + (off - f->ra_off), have);
		f->ra_next = off + (off_t)have;
		pthread_mutex_unlock(&f->ra_lock);
		return (ssize_t)have;
	}
	if (off != f->ra_next &&
	    !(f->ra_len && off == f->ra_off + (off_t)f->ra_len)) {
		/* Not sequential: no read-ahead. */
		f->ra_win = 0;
		f->ra_next = off + (off_t)size;
		pthread_mutex_unlock(&f->ra_lock);
		n = smb_io_op(v, fh, buf, size, off, 0);
		return n;
	}
	win = f->ra_win ? f->ra_win * 2 : SMB_RA_MIN;
	if (win > SMB_RA_MAX)
		win = SMB_RA_MAX;
	if (!f->ra_buf) {
		f->ra_buf = malloc(SMB_RA_MAX);
		if (!f->ra_buf) {
			pthread_mutex_unlock(&f->ra_lock);
			return smb_io_op(v, fh, buf, size, off, 0);
		}
	}
	f->ra_len = 0;
	f->ra_eof = 0;
	/* The window may be on its way already. */
	while (f->pf_state == 1 && f->pf_off == off)
		pthread_cond_wait(&f->ra_cond, &f->ra_lock);
	if (f->pf_state == 2 && f->pf_off == off && !f->pf_stale &&
	    f->pf_rc > 0 && now - f->pf_ms < (int64_t)v->p.ttl_ms) {
		char *t = f->ra_buf;

		f->ra_buf = f->pf_buf;
		f->pf_buf = t;
		n = f->pf_rc;
		f->ra_ms = f->pf_ms;
		f->pf_state = 0;
	} else {
		if (f->pf_state == 2)
			f->pf_state = 0;
		n = smb_io_op(v, fh, f->ra_buf, win, off, 0);
		if (n < 0) {
			f->ra_next = 0;
			pthread_mutex_unlock(&f->ra_lock);
			return n;
		}
		f->ra_ms = now;
	}
	f->ra_off = off;
	f->ra_len = (size_t)n;
	f->ra_eof = (size_t)n < win;
	f->ra_win = win;
	/* While this window is read, fetch the next. */
	if ((size_t)n >= win && f->pf_state == 0 && v->nworkers)
		smb_pf_start(v, f, off + n,
			     win * 2 > SMB_RA_MAX ? SMB_RA_MAX : win * 2);
	if ((size_t)n > size)
		n = (ssize_t)size;
	memcpy(buf, f->ra_buf, (size_t)n);
	f->ra_next = off + n;
	pthread_mutex_unlock(&f->ra_lock);
	return n;
}

/* Waits until f has no write in flight. */
static void smb_wb_drain(struct smb_file *f)
{
	pthread_mutex_lock(&f->wb_lock);
	while (f->wb_n)
		pthread_cond_wait(&f->wb_cond, &f->wb_lock);
	pthread_mutex_unlock(&f->wb_lock);
}

/* Waits until f has no write in flight; returns (and forgets) the error
 * one of them met. */
static int smb_wb_sync(struct smb_file *f)
{
	int rc;

	pthread_mutex_lock(&f->wb_lock);
	while (f->wb_n)
		pthread_cond_wait(&f->wb_cond, &f->wb_lock);
	rc = f->wb_err;
	f->wb_err = 0;
	pthread_mutex_unlock(&f->wb_lock);
	return rc;
}

/* Waits for the writes in flight of every file open at path. */
static void smb_wb_drain_path(struct smb_vol *v, const char *path)
{
	for (;;) {
		struct smb_file *f, *busy = NULL;

		pthread_mutex_lock(&v->lock);
		for (f = v->files; f && !busy; f = f->next)
			if (f->wb_n && strcmp(f->path, path) == 0) {
				busy = f;
				f->waiters++;
			}
		pthread_mutex_unlock(&v->lock);
		if (!busy)
			return;
		smb_wb_drain(busy);
		smb_file_unref(v, busy);
	}
}

/* A write-behind thread: sends queued writes until the volume closes. */
static void *smb_worker(void *arg)
{
	struct smb_vol *v = arg;

	for (;;) {
		struct smb_job *j;
		struct smb_file *f;
		ssize_t n;

		pthread_mutex_lock(&v->q_lock);
		while (!v->q_head && !v->q_stop)
			pthread_cond_wait(&v->q_cond, &v->q_lock);
		j = v->q_head;
		if (j) {
			v->q_head = j->next;
			if (!v->q_head)
				v->q_tail = NULL;
		}
		pthread_mutex_unlock(&v->q_lock);
		if (!j)
			return NULL;
		f = j->f;
		if (j->read) {
			/* pf_buf and pf_off stay put while pf_state is 1. */
			n = smb_io_op(v, (uint64_t)(uintptr_t)f,
				      f->pf_buf + (j->off - f->pf_off), j->len,
				      j->off, 0);
			pthread_mutex_lock(&f->ra_lock);
			smb_pf_part_done(f, j->slot, n);
			pthread_mutex_unlock(&f->ra_lock);
			free(j);
			continue;
		}
		n = smb_io_op(v, (uint64_t)(uintptr_t)f, j->data, j->len, j->off,
			      1);
		pthread_mutex_lock(&f->wb_lock);
		if (n != (ssize_t)j->len && !f->wb_err)
			f->wb_err = n < 0 ? (int)n : -EIO;
		f->wb[j->slot].used = 0;
		f->wb_n--;
		pthread_cond_broadcast(&f->wb_cond);
		pthread_mutex_unlock(&f->wb_lock);
		free(j);
	}
}

/*
 * Writes behind: the data is copied and handed to the volume's threads,
 * so up to SMB_WB_MAX writes of one file travel at once (a file written
 * with one 1 MiB request after another would otherwise wait a round trip
 * each).  Writes whose ranges overlap keep their order.  An error is
 * reported by the next write, flush (close), fsync or release; reads,
 * attributes, truncate and utimens of the file wait for the writes first.
 */
static ssize_t smb_write(void *vol, uint64_t fh, const void *buf, size_t size,
			 off_t off)
{
	struct smb_vol *v = vol;
	struct smb_file *f = (struct smb_file *)(uintptr_t)fh;
	struct smb_job *j = NULL;
	unsigned slot;
	int rc;

	if (f->ra_buf)
		smb_ra_drop(f);
	/*
	 * The first write of a handle, when small, goes out from this thread:
	 * a file written whole in one request (cp, tar) would only wait for
	 * it at close, after two more thread hand-offs.  Writes that follow
	 * go behind.
	 */
	if (v->nworkers && !(f->flags & O_APPEND) && size &&
	    (f->wrote || size >= SMB_WB_SYNC_MAX))
		j = malloc(sizeof(*j) + size);
	f->wrote = 1;
	f->created_ms = 0;
	if (!j) {
		rc = smb_wb_sync(f);
		if (rc)
			return rc;
		return smb_io_op(v, fh, (void *)buf, size, off, 1);
	}
	memcpy(j->data, buf, size);
	j->next = NULL;
	j->read = 0;
	j->f = f;
	j->off = off;
	j->len = size;
	pthread_mutex_lock(&f->wb_lock);
	for (;;) {
		int clash = 0;

		if (f->wb_err) {
			rc = f->wb_err;
			f->wb_err = 0;
			pthread_mutex_unlock(&f->wb_lock);
			free(j);
			return rc;
		}
		for (unsigned k = 0; k < SMB_WB_MAX; k++)
			if (f->wb[k].used && off < f->wb[k].off +
							  (off_t)f->wb[k].len &&
			    f->wb[k].off < off + (off_t)size)
				clash = 1;
		if (!clash && f->wb_n < SMB_WB_MAX)
			break;
		pthread_cond_wait(&f->wb_cond, &f->wb_lock);
	}
	for (slot = 0; f->wb[slot].used; slot++)
		;
	f->wb[slot].off = off;
	f->wb[slot].len = size;
	f->wb[slot].used = 1;
	f->wb_n++;
	j->slot = slot;
	pthread_mutex_unlock(&f->wb_lock);

	smb_queue(v, j);
	return (ssize_t)size;
}

static int smb_flush(void *vol, uint64_t fh)
{
	return smb_wb_sync((struct smb_file *)(uintptr_t)fh);
}

/*
 * Waits until the server has acknowledged every write of fh.  libsmbclient
 * has no SMB2 FLUSH, so what the server keeps in its own cache is not
 * forced to its disk.
 */
static int smb_fsync(void *vol, uint64_t fh, int datasync)
{
	return smb_wb_sync((struct smb_file *)(uintptr_t)fh);
}

static int smb_release(void *vol, uint64_t fh)
{
	struct smb_vol *v = vol;
	struct smb_file *f = (struct smb_file *)(uintptr_t)fh;
	int rc;

	/* Nobody is left to tell of a write that failed now: the log. */
	rc = smb_wb_sync(f);
	if (rc)
		v->log(VOLFS_LOG_ERR,
		       "smb: a write to %s failed after it was acknowledged: "
		       "%s",
		       f->path, strerror(-rc));
	pthread_mutex_lock(&f->ra_lock);
	while (f->pf_state == 1)
		pthread_cond_wait(&f->ra_cond, &f->ra_lock);
	pthread_mutex_unlock(&f->ra_lock);
	pthread_rwlock_wrlock(&f->mv);
	f->released = 1;
	smb_file_close_all(v, f);
	pthread_rwlock_unlock(&f->mv);
	/* Deleted while still listed as open: an rmdir of its directory
	 * waits for that (smb_unlinked_in). */
	if (f->unlinked) {
		char url[PATH_MAX * 3 + 600];
		SMBCCTX *ctx;
		unsigned i;

		if (smb_url(v, f->path, url, sizeof(url)) == 0) {
			i = smb_get(v, NULL, -1);
			ctx = v->conn[i].ctx;
			if (smbc_getFunctionUnlink(ctx)(ctx, url) < 0 &&
			    errno != ENOENT)
				v->log(VOLFS_LOG_WARNING,
				       "smb: cannot delete %s, a removed file "
				       "closed last: %s",
				       f->path, strerror(errno));
			smb_put(v, i);
		}
	}
	smb_file_list_del(v, f);
	pthread_mutex_lock(&v->lock);
	while (f->waiters)
		pthread_cond_wait(&v->cond, &v->lock);
	pthread_mutex_unlock(&v->lock);
	smb_file_free(f);
	return rc;
}

static int smb_readdir(void *vol, const char *path, volfs_fill_fn fill,
		       void *ctxp)
{
	struct smb_vol *v = vol;
	char url[PATH_MAX * 3 + 600];
	const struct libsmb_file_info *fi;
	SMBCFILE *d;
	SMBCCTX *ctx;
	struct stat st;
	unsigned i;
	int rc = 0, stop = 0;

	rc = smb_url(v, path, url, sizeof(url));
	if (rc)
		return rc;
	i = smb_get(v, NULL, -1);
	ctx = v->conn[i].ctx;
	for (int try = 0; try < 2; try++) {
		errno = 0;
		d = smbc_getFunctionOpendir(ctx)(ctx, url);
		if (d || !(errno == ECONNRESET || errno == ECONNABORTED ||
			   errno == EPIPE || errno == ENOTCONN))
			break;
	}
	if (!d) {
		rc = smb_fail(v, i, errno ? errno : EIO);
		smb_put(v, i);
		return rc;
	}
	while (!stop) {
		memset(&st, 0, sizeof(st));
		errno = 0;
		fi = smbc_getFunctionReaddirPlus2(ctx)(ctx, d, &st);
		if (!fi) {
			if (errno)
				rc = smb_fail(v, i, errno);
			break;
		}
		if (!fi->name || strcmp(fi->name, ".") == 0 ||
		    strcmp(fi->name, "..") == 0 || smb_is_hidden(fi->name))
			continue;
		smb_fix_stat(v, &st);
		stop = fill(ctxp, fi->name, st.st_mode & S_IFMT, &st);
	}
	smbc_getFunctionClosedir(ctx)(ctx, d);
	smb_put(v, i);
	if (rc == 0)
		smb_dir_seen(v, path, strlen(path));
	return rc;
}

static const struct volfs_optdesc smb_options[] = {
	{
		.key = "share",
		.flags = VOLFS_OPT_REQUIRED,
		.help = "//HOST[:PORT]/SHARE[/DIR]: the share, and optionally "
			"a directory in it, to serve",
	},
	{
		.key = "username",
		.flags = VOLFS_OPT_REQUIRED,
		.help = "the account to log in as (Azure Files: the storage "
			"account name)",
	},
	{
		.key = "password",
		.flags = VOLFS_OPT_SECRET,
		.help = "its password (Azure Files: the account key); stored "
			"encrypted, never shown",
	},
	{
		.key = "domain",
		.help = "the account's domain or workgroup",
	},
	{
		.key = "encrypt",
		.help = "required (no connection without SMB3 encryption), "
			"desired (default: encrypt when the server can), or off",
	},
	{
		.key = "uid",
		.help = "the owner files and directories show (default 0)",
	},
	{
		.key = "gid",
		.help = "the group files and directories show (default 0)",
	},
	{
		.key = "file_mode",
		.help = "the mode files show (octal, default 0644)",
	},
	{
		.key = "dir_mode",
		.help = "the mode directories show (octal, default 0755)",
	},
	{
		.key = "cache_ttl",
		.help = "seconds attributes and listings are cached (default "
			"1; 0: no cache): other clients' changes show after "
			"at most this",
	},
	{
		.key = "timeout",
		.help = "seconds after which a request to an unresponsive "
			"server fails (default 20)",
	},
	{
		.key = "connections",
		.help = "connections to the server, for parallel requests "
			"(default 4, at most 16)",
	},
	{ .key = NULL },
};

static const struct volfs_backend smb_backend = {
	.abi_version = VOLFS_BACKEND_ABI,
	.name = "smb",
	.description = "an SMB2/3 file share: Samba, Azure Files, Windows",
	.caps = SMB_CAPS,
	.options = smb_options,
	.validate = smb_validate,
	.open = smb_open,
	.close = smb_close,
	.statfs = smb_statfs,
	.getattr = smb_getattr,
	.mkdir = smb_mkdir,
	.unlink = smb_unlink,
	.rmdir = smb_rmdir,
	.rename = smb_rename,
	.truncate = smb_truncate,
	.utimens = smb_utimens,
	.open_file = smb_open_file,
	.create_file = smb_create_file,
	.read = smb_read,
	.write = smb_write,
	.flush = smb_flush,
	.fsync = smb_fsync,
	.release = smb_release,
	.readdir = smb_readdir,
};

const struct volfs_backend *volfs_backend_smb(void);

const struct volfs_backend *volfs_backend_smb(void)
{
	return &smb_backend;
}
