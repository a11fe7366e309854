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
 *
 * Paths.  SMB names files by path, so the ops here take paths (the store
 * ops of pathfs.h), and the path adapter (pathfs*.c) serves them as the
 * volume of nodes the core sees.  Between the two, unless cache_ttl=0, the
 * metadata cache (pathcache.c) keeps attributes and listings for cache_ttl:
 * a stat or a lookup costs a round trip otherwise.
 *
 * This file holds libsmbclient's global state, the connections, the volume
 * and the ops on names and attributes; smb_opts.c the options and URLs,
 * smb_probe.c the encryption probe, smb_file.c open files and their I/O
 * (smb_int.h).
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libsmbclient.h>

#include "volfs/backend.h"
#include "volfs/backend_util.h"
#include "pathcache.h"
#include "smb_int.h"

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

int smb_conn_lost(int e)
{
	return e == EBADF || e == ECONNRESET || e == ECONNABORTED ||
	       e == EPIPE || e == ENOTCONN || e == EIO || e == EINVAL;
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
	smb_secret_copy(&v->pw, pw, pwlen > 0 ? (size_t)pwlen : 0);
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
	/* The callback gives the password's NT hash (smb_secret.c). */
	smbc_setOptionUseNTHash(ctx, 1);
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

unsigned smb_get(struct smb_vol *v, const struct smb_file *f, int want)
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

void smb_put(struct smb_vol *v, unsigned i)
{
	if (smb_serial)
		pthread_mutex_unlock(&smb_serial_lock);
	pthread_mutex_lock(&v->lock);
	v->conn[i].busy = 0;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

int smb_fail(struct smb_vol *v, unsigned i, int e)
{
	/* A connection the credentials callback stopped: say why. */
	if (v->conn[i].refused)
		return smb_errno(-v->conn[i].refused);
	return smb_errno(e);
}

/* ---- path ops ---- */

void smb_fix_stat(const struct smb_vol *v, struct stat *st)
{
	mode_t type = S_ISDIR(st->st_mode) ? S_IFDIR : S_IFREG;

	st->st_mode = type | (type == S_IFDIR ? v->p.dir_mode : v->p.file_mode);
	st->st_uid = v->p.uid;
	st->st_gid = v->p.gid;
	st->st_nlink = type == S_IFDIR ? 2 : 1;
	st->st_rdev = 0;
	st->st_blksize = 1 << 20;
}

int smb_stat_url(struct smb_vol *v, unsigned i, const char *url,
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

int smb_is_hidden(const char *path)
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

/* ---- ops ---- */

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
	smb_secret_drop(&v->pw);
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
	/* The core wipes its copy once open() returns. */
	rc = smb_secret_keep(&v->pw, v->p.password);
	v->p.password = NULL;
	if (rc == -EILSEQ) {
		rc = volfs_be_errf(err, errlen, -EINVAL,
				   "option 'password' is not valid UTF-8: "
				   "give it in UTF-8");
		goto err_free;
	}
	if (rc) {
		rc = volfs_be_errf(err, errlen, rc,
				   "cannot keep the password: %s",
				   strerror(-rc));
		goto err_free;
	}
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
	smb_secret_drop(&v->pw);
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

static const struct volfs_pathops smb_pathops;

static int smb_open(const struct volfs_volinfo *vi, void **vol, char *err,
		    size_t errlen)
{
	const struct volfs_pathops *ops = &smb_pathops;
	struct smb_vol *v;
	void *store;
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
	store = v;
	if (v->p.ttl_ms) {
		rc = pathcache_wrap(ops, v, v->p.ttl_ms, &ops, &store);
		if (rc)
			goto err_close;
	}
	rc = pathfs_new(ops, store, vol);
	if (rc)
		goto err_close;
	return 0;

err_close:
	ops->close(store);
	return volfs_be_errf(err, errlen, rc, "%s", volfs_be_strerror(rc));
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
	rc = smb_files_at(v, path, 0, &open, &n);
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
		rc = smb_files_moved(v, open, n, path, hidden, 1);
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
	rc = smb_files_at(v, to, 0, &open, &n);
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
	/* The files open at from, or below it when it is a directory. */
	rc = smb_files_at(v, from, 1, &open, &n);
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
		rc = smb_files_moved(v, open, n, from, to, 0);
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

static int smb_readdir(void *vol, const char *path, volfs_path_fill_fn fill,
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

static const struct volfs_pathops smb_pathops = {
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

/* The path adapter's ops, for those smb_pathops has.  Nodes do not outlive
 * the process (no node_encode): SMB has no handle to find a file by. */
static const struct volfs_backend smb_backend = {
	.abi_version = VOLFS_BACKEND_ABI,
	.size = sizeof(struct volfs_backend),
	.name = "smb",
	.description = "an SMB2/3 file share: Samba, Azure Files, Windows",
	.caps = SMB_CAPS,
	.options = smb_options,
	.validate = smb_validate,
	.open = smb_open,
	.close = pathfs_close,
	.statfs = pathfs_statfs,
	.lookup = pathfs_lookup,
	.forget = pathfs_forget,
	.getattr = pathfs_getattr,
	.mkdir = pathfs_mkdir,
	.unlink = pathfs_unlink,
	.rmdir = pathfs_rmdir,
	.rename = pathfs_rename,
	.truncate = pathfs_truncate,
	.utimens = pathfs_utimens,
	.open_file = pathfs_open_file,
	.create_file = pathfs_create_file,
	.read = pathfs_read,
	.write = pathfs_write,
	.flush = pathfs_flush,
	.fsync = pathfs_fsync,
	.release = pathfs_release,
	.opendir = pathfs_opendir,
	.readdir = pathfs_readdir,
	.releasedir = pathfs_releasedir,
};

const struct volfs_backend *volfs_backend_smb(void);

const struct volfs_backend *volfs_backend_smb(void)
{
	return &smb_backend;
}
