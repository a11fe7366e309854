/* SPDX-License-Identifier: MIT */
/*
 * The smb store: a directory of an SMB2/3 file share (Samba, Azure Files,
 * Windows), reached through libsmbclient's context API.  It implements the
 * store interface (volfs/store.h): attributes, listings, whole objects
 * read by ranges and written whole.  The staging layer (volfs/stage.h)
 * serves it as a volume: file data is cached on local disk and uploaded
 * whole on close and fsync, with a journal; attributes and listings are
 * kept for cache_ttl; a removed file that is still open lives on in the
 * local cache.  No POSIX file I/O reaches the share.
 *
 * Connections.  A libsmbclient context is not thread-safe, so a volume owns
 * a pool of contexts (option connections=, default 4), each its own TCP
 * connection, and every op borrows one for each request it makes: parallel
 * ops run in parallel up to the pool's size.
 *
 * get() reads a range into the caller's file in requests of up to 4 MiB,
 * which libsmbclient splits into pipelined SMB2 READs, and keeps the read
 * handle open on its connection for the next range (a few per connection,
 * closed once idle for half a second, two seconds old, or after a read
 * reached the end of the file), so a file fetched range by range costs one
 * open.  A handle is kept for the version the caller asked for: a caller
 * that learnt of a new version gets a new handle, so a file another client
 * replaced is not read through a handle of the old one.
 *
 * put() writes the data to a new hidden file ".volfs-tmp-RANDOM" in the
 * target's directory, in 4 MiB writes spread over the connections that are
 * free (each opens the file and takes the next chunk), skipping the
 * source's holes (the file is first extended to its size, so they stay
 * holes on the share), gives it the modification time, and then the
 * target's name.
 *
 * Replacing.  SMB2 can rename over a file atomically (FileRenameInformation
 * with ReplaceIfExists), but libsmbclient's rename never asks for that: it
 * renames, and when the name is taken deletes the target and renames again,
 * so a failure after the delete loses the old file.  The store replaces a
 * file itself (smb_swap()): the old file is renamed aside to a hidden name,
 * the new one takes its name, and the old one is deleted; should the new one
 * not take the name, the old one gets it back.  The window: between the two
 * renames (two round trips) the name is absent, and another client looking
 * then finds nothing (this process does not: its gets and stats of the name
 * wait for the replace, though a listing may miss the name); a crash there
 * leaves the old data under its hidden name and the name absent until the
 * staging layer's journal uploads the file again.  No reader ever sees part
 * of a file.  put() with if_version "" checks that the name is free before
 * the upload and again before the rename; a file another client makes in
 * between is replaced.
 *
 * Open files.  The server refuses to delete or move a file that is open
 * (libsmbclient opens without sharing delete access), or a directory with
 * an open file below.  The store keeps its own handles out of the way with
 * path locks (smb_lock.c): get, stat and list hold their path shared; put,
 * remove, rename and rmdir hold theirs, and everything below, alone, and
 * taking such a lock closes the read handles kept there.  A file another
 * client holds open is waited for (SMB_BUSY_WAIT_MS) before the op fails
 * with EBUSY.
 *
 * Names.  ".volfs-tmp-*" (put's and replace's files) and ".volfs-unlinked-*"
 * (files an earlier version of this backend kept while open after their
 * removal) are hidden from listings, answered as absent and refused as new
 * names; rmdir deletes them from a directory that holds nothing else.
 *
 * Failures.  Every request has the timeout= bound (libsmbclient's own
 * timeout, and ours on the probe's socket); no request starts once an op's
 * deadline has passed, and waits for a connection or a path lock end there
 * (-ETIMEDOUT).  libsmbclient cannot be given a deadline, and one of its
 * calls may make several requests: on a server that stopped answering, a
 * call that finds its connection idle sends an echo, and on no answer
 * connects and negotiates anew, each waiting out the timeout.  So for a
 * moment after a request went unanswered (SMB_STALL_MS), new ops fail at
 * once with ETIMEDOUT instead of each waiting that long again.  Errors are
 * mapped to errno in smb_errno(), network ones to EIO, ETIMEDOUT, EACCES or
 * EHOSTUNREACH.  libsmbclient reconnects a context whose connection broke
 * on its next use; a path op is retried once on the new connection, and
 * get() reopens its handle once.
 *
 * Encryption.  encrypt=desired asks libsmbclient for encryption only when
 * the probe below finds the server offers it (otherwise libsmbclient prints
 * a line on stdout and goes on).  encrypt=required asks it to require SMB3
 * encryption, but libsmbclient (4.17) goes on unencrypted when the server
 * offers none, printing a line on stdout.  So before every new connection
 * (libsmbclient asks for credentials exactly then) the store sends an SMB2
 * NEGOTIATE of its own and reads whether the server selects a cipher (SMB
 * 3.1.1's encryption context) or the encryption capability (3.0.x): the very
 * condition libsmbclient checks.  When the server offers no encryption, the
 * credentials handed over are deliberately wrong, so the connection fails
 * before any data is exchanged and before libsmbclient prints anything; the
 * op fails with EACCES and the log says why.
 *
 * What SMB cannot give: owners and POSIX modes (objects show the uid, gid,
 * file_mode and dir_mode options); versions that change with every write
 * (a version is the modification time, size and file id: a hint, as a
 * rewrite within the server's time granularity keeps it), so put() cannot
 * be conditional on one.  Server-side copy is not offered: libsmbclient's
 * splice (COPYCHUNK) copies between two handles of one context, and a copy
 * would still go through a temporary file and the swap, saving only the
 * data's trip through volfs; the staging layer copies with get and put.
 *
 * libsmbclient's debug output goes to a callback that logs at debug level;
 * its level is 0, so it never reaches stdout.
 *
 * This file holds the connections, the volume and the module's tables
 * (smb_int.h lists the others).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <libsmbclient.h>

#include "volfs/backend.h"
#include "volfs/backend_util.h"
#include "volfs/stage.h"
#include "pathfs.h"
#include "volfs/store.h"
#include "smb_int.h"

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
	smbc_setLogCallback(ctx, NULL, smb_lib_debug);
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

/* ---- the pool ---- */

int smb_late(int64_t deadline)
{
	return volfs_store_left(deadline) ? 0 : -ETIMEDOUT;
}

int smb_wait(struct smb_vol *v, int64_t deadline)
{
	struct timespec ts;

	if (!volfs_store_left(deadline))
		return -ETIMEDOUT;
	ts.tv_sec = (time_t)(deadline / 1000);
	ts.tv_nsec = (long)(deadline % 1000) * 1000000;
	if (pthread_cond_timedwait(&v->cond, &v->lock, &ts) == ETIMEDOUT)
		return -ETIMEDOUT;
	return 0;
}

/* Marks conn i borrowed (lock held) and closes what was doomed on it. */
static void smb_took(struct smb_vol *v, unsigned i)
{
	v->conn[i].busy = 1;
	pthread_mutex_unlock(&v->lock);
	smb_lib_enter();
	smb_rh_service(v, i);
}

/* Whether conn i (not busy, lock held) keeps a read handle of path. */
static int smb_has_rh(const struct smb_conn *c, const char *path)
{
	for (unsigned k = 0; k < SMB_RH_MAX && c->rh_n; k++)
		if (c->rh[k].path && !c->rh[k].doomed &&
		    strcmp(c->rh[k].path, path) == 0)
			return 1;
	return 0;
}

int smb_get(struct smb_vol *v, const char *path, int64_t deadline)
{
	int64_t stall = atomic_load(&v->stall_ms);
	int64_t window =
		v->p.timeout_ms < SMB_STALL_MS ? v->p.timeout_ms : SMB_STALL_MS;
	unsigned i, pick;

	if (stall && smb_now_ms() - stall < window)
		return -ETIMEDOUT;
	pthread_mutex_lock(&v->lock);
	for (;;) {
		pick = v->nconns;
		for (i = 0; path && pick == v->nconns && i < v->nconns; i++)
			if (!v->conn[i].busy && smb_has_rh(&v->conn[i], path))
				pick = i;
		for (i = 0; pick == v->nconns && i < v->nconns; i++)
			if (!v->conn[i].busy)
				pick = i;
		if (pick < v->nconns)
			break;
		if (smb_wait(v, deadline)) {
			pthread_mutex_unlock(&v->lock);
			return -ETIMEDOUT;
		}
	}
	smb_took(v, pick);
	return (int)pick;
}

int smb_take(struct smb_vol *v, unsigned i)
{
	pthread_mutex_lock(&v->lock);
	if (v->conn[i].busy) {
		pthread_mutex_unlock(&v->lock);
		return -EBUSY;
	}
	smb_took(v, i);
	return 0;
}

int smb_tryget(struct smb_vol *v)
{
	for (unsigned i = 0; i < v->nconns; i++)
		if (smb_take(v, i) == 0)
			return (int)i;
	return -EBUSY;
}

void smb_put(struct smb_vol *v, unsigned i)
{
	smb_rh_service(v, i);
	smb_lib_leave();
	pthread_mutex_lock(&v->lock);
	v->conn[i].busy = 0;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

int smb_fail(struct smb_vol *v, unsigned i, int e)
{
	int rc;

	/* A connection the credentials callback stopped: say why. */
	if (v->conn[i].refused)
		return smb_errno(-v->conn[i].refused);
	rc = smb_errno(e);
	if (rc == -ETIMEDOUT)
		atomic_store(&v->stall_ms, smb_now_ms());
	return rc;
}

void smb_attr(const struct smb_vol *v, const struct stat *raw,
	      struct volfs_store_attr *a)
{
	struct stat *st = &a->st;
	int dir = S_ISDIR(raw->st_mode);

	memset(st, 0, sizeof(*st));
	st->st_mode = dir ? S_IFDIR | v->p.dir_mode : S_IFREG | v->p.file_mode;
	st->st_nlink = dir ? 2 : 1;
	st->st_uid = v->p.uid;
	st->st_gid = v->p.gid;
	st->st_size = dir ? 0 : raw->st_size;
	st->st_ino = raw->st_ino;
	st->st_atim = raw->st_atim;
	st->st_mtim = raw->st_mtim;
	st->st_ctim = raw->st_ctim;
	/* What tells one content from another, as far as SMB shows it. */
	snprintf(a->version, sizeof(a->version), "%lld.%09ld-%lld-%llx",
		 (long long)raw->st_mtim.tv_sec, (long)raw->st_mtim.tv_nsec,
		 (long long)st->st_size, (unsigned long long)raw->st_ino);
}

/* ---- the volume ---- */

static void smb_close(void *st)
{
	struct smb_vol *v = st;

	if (v->has_janitor) {
		pthread_mutex_lock(&v->lock);
		v->stop = 1;
		pthread_cond_broadcast(&v->jcond);
		pthread_mutex_unlock(&v->lock);
		pthread_join(v->janitor, NULL);
	}
	smb_lib_enter();
	for (unsigned i = 0; i < v->nconns; i++) {
		struct smb_conn *c = &v->conn[i];

		for (unsigned k = 0; k < SMB_RH_MAX; k++)
			if (c->rh[k].path) {
				smbc_getFunctionClose(c->ctx)(c->ctx,
							      c->rh[k].h);
				free(c->rh[k].path);
			}
		smbc_free_context(c->ctx, 1);
		free(c->buf);
	}
	smb_lib_leave();
	for (unsigned k = 0; k < SMB_DIRS; k++)
		free(v->dirs[k].path);
	for (unsigned k = 0; k < v->norphans; k++) {
		v->log(VOLFS_LOG_INFO, "smb: '%s' stays on the share",
		       v->orphans[k]);
		free(v->orphans[k]);
	}
	pthread_cond_destroy(&v->jcond);
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	smb_secret_drop(&v->pw);
	free(v->base);
	free(v);
}

static int smb_vol_new(const struct volfs_volinfo *vi, struct smb_vol **out,
		       char *err, size_t errlen)
{
	pthread_condattr_t ca;
	struct smb_vol *v;
	int rc;

	smb_lib_init(vi->log);
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
	/* Waits end at deadlines of the monotonic clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&v->cond, &ca);
	pthread_cond_init(&v->jcond, &ca);
	pthread_condattr_destroy(&ca);
	for (unsigned i = 0; i < v->p.conns; i++) {
		v->conn[i].v = v;
		smb_lib_enter();
		v->conn[i].ctx = smb_ctx_new(v, &v->conn[i]);
		smb_lib_leave();
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

/* stat() of url on a connection of the new volume. */
static int smb_check_url(struct smb_vol *v, const char *url, struct stat *st)
{
	int64_t deadline = volfs_store_deadline(v->p.timeout_ms);
	int i = smb_get(v, NULL, deadline);
	SMBCCTX *ctx;
	int rc;

	if (i < 0)
		return i;
	ctx = v->conn[i].ctx;
	memset(st, 0, sizeof(*st));
	SMB_PATH_OP(v, (unsigned)i, rc, deadline,
		    smbc_getFunctionStat(ctx)(ctx, url, st));
	smb_put(v, (unsigned)i);
	return rc < 0 ? rc : 0;
}

static int smb_check(struct smb_vol *v, char *err, size_t errlen)
{
	const struct smb_params *p = &v->p;
	char url[SMB_URL_MAX];
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
	rc = smb_check_url(v, url, &st);
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
		rc = smb_check_url(v, v->base, &st);
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

static int smb_open(const struct volfs_volinfo *vi, void **st, char *err,
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
	/* Without it, read handles are closed by the next use of their
	 * connection only. */
	v->has_janitor = pthread_create(&v->janitor, NULL, smb_janitor, v) == 0;
	*st = v;
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
	rc = volfs_stage_validate(vi, err, errlen);
	if (rc)
		return rc;
	rc = smb_vol_new(vi, &v, err, errlen);
	if (rc)
		return rc;
	rc = smb_check(v, err, errlen);
	smb_close(v);
	return rc;
}

static const struct volfs_store smb_store = {
	.abi_version = VOLFS_STORE_ABI,
	.size = sizeof(struct volfs_store),
	.name = "smb",
	.caps = VOLFS_STORE_DIRS | VOLFS_STORE_RENAME | VOLFS_STORE_TIMES,
	.open = smb_open,
	.close = smb_close,
	.statfs = smb_statfs,
	.stat = smb_stat,
	.list = smb_list,
	.get = smb_fetch,
	.put = smb_upload,
	.remove = smb_remove,
	.mkdir = smb_mkdir,
	.rmdir = smb_rmdir,
	.rename = smb_rename,
	.setattr = smb_setattr,
};

static int smb_vol_open(const struct volfs_volinfo *vi, void **vol, char *err,
			size_t errlen)
{
	return volfs_stage_open(&smb_store, vi, vol, err, errlen);
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
		.key = "timeout",
		.help = "seconds after which a request to an unresponsive "
			"server fails (default 20)",
	},
	{
		.key = "connections",
		.help = "connections to the server, for parallel requests "
			"(default 4, at most 16)",
	},
	VOLFS_STAGE_OPTDESCS,
	{ .key = NULL },
};

/* Nodes do not outlive the process (no node_encode): SMB has no handle
 * to find a file by. */
static const struct volfs_backend smb_backend = {
	.abi_version = VOLFS_BACKEND_ABI,
	.size = sizeof(struct volfs_backend),
	.name = "smb",
	.description = "an SMB2/3 file share: Samba, Azure Files, Windows",
	.caps = VOLFS_STAGE_CAPS,
	.options = smb_options,
	.validate = smb_validate,
	.open = smb_vol_open,
	VOLFS_STAGE_BACKEND_OPS,
};

const struct volfs_backend *volfs_backend_smb(void);
const struct volfs_store *volfs_store_smb(void);

const struct volfs_backend *volfs_backend_smb(void)
{
	return &smb_backend;
}

const struct volfs_store *volfs_store_smb(void)
{
	return &smb_store;
}
