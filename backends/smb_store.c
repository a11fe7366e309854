/* SPDX-License-Identifier: MIT */
/*
 * The smb store's ops on names and attributes: statfs, stat, list,
 * remove, mkdir, rmdir, rename, setattr, and the replace of one file by
 * another that put() and rename() share (smb_swap()).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <time.h>

#include "volfs/backend.h"
#include "volfs/store.h"
#include "smb_int.h"

int smb_hidden(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return strncmp(base, SMB_TMP, strlen(SMB_TMP)) == 0 ||
	       strncmp(base, SMB_LEGACY, strlen(SMB_LEGACY)) == 0;
}

/* ---- directories seen ---- */

/*
 * SMB answers "not found" for a name below a file, where POSIX says
 * ENOTDIR; telling them apart costs a look at the parent.  Directories
 * recently seen need no second look.
 */
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

/* Whether directory path[0..len) was seen within SMB_DIR_TTL_MS. */
static int smb_dir_known(struct smb_vol *v, const char *path, size_t len)
{
	int64_t now = smb_now_ms();
	int found = 0;

	pthread_mutex_lock(&v->lock);
	for (unsigned k = 0; k < SMB_DIRS && !found; k++)
		found = v->dirs[k].path &&
			now - v->dirs[k].ms < SMB_DIR_TTL_MS &&
			strncmp(v->dirs[k].path, path, len) == 0 &&
			v->dirs[k].path[len] == '\0';
	pthread_mutex_unlock(&v->lock);
	return found;
}

void smb_dirs_forget(struct smb_vol *v)
{
	pthread_mutex_lock(&v->lock);
	for (unsigned k = 0; k < SMB_DIRS; k++) {
		free(v->dirs[k].path);
		v->dirs[k].path = NULL;
	}
	pthread_mutex_unlock(&v->lock);
}

/* ---- requests on conn i ---- */

/* stat() of url on conn i: 0 or -errno. */
static int smb_stat_url(struct smb_vol *v, unsigned i, const char *url,
			struct stat *st, int64_t deadline)
{
	SMBCCTX *ctx = v->conn[i].ctx;
	int rc;

	memset(st, 0, sizeof(*st));
	SMB_PATH_OP(v, i, rc, deadline,
		    smbc_getFunctionStat(ctx)(ctx, url, st));
	return rc < 0 ? rc : 0;
}

/* Why path is not found: -ENOTDIR when a component above it is a file,
 * else -ENOENT. */
static int smb_enoent(struct smb_vol *v, unsigned i, const char *path,
		      int64_t deadline)
{
	char url[SMB_URL_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;

	while (slash) {
		size_t len = (size_t)(slash - path);
		char *parent;
		int rc;

		if (smb_dir_known(v, path, len) || smb_late(deadline))
			return -ENOENT;
		parent = strndup(path, len);
		if (!parent)
			return -ENOENT;
		rc = smb_url(v, parent, url, sizeof(url));
		if (!rc)
			rc = smb_stat_url(v, i, url, &st, deadline);
		free(parent);
		if (rc == 0)
			return S_ISDIR(st.st_mode) ? -ENOENT : -ENOTDIR;
		if (rc != -ENOENT)
			return -ENOENT;
		slash = memrchr(path, '/', len);
	}
	return -ENOENT;
}

int smb_stat_raw(struct smb_vol *v, unsigned i, const char *path,
		 struct stat *st, int64_t deadline)
{
	char url[SMB_URL_MAX];
	int rc;

	rc = smb_late(deadline);
	if (!rc)
		rc = smb_url(v, path, url, sizeof(url));
	if (!rc)
		rc = smb_stat_url(v, i, url, st, deadline);
	if (rc == 0 && S_ISDIR(st->st_mode))
		smb_dir_seen(v, path, strlen(path));
	if (rc == -ENOENT)
		rc = smb_enoent(v, i, path, deadline);
	return rc;
}

/*
 * Whether to try again an op the server refused with EBUSY (another
 * client holds the file open): for SMB_BUSY_WAIT_MS from start, within
 * the deadline, after a short sleep.
 */
static int smb_busy_again(int rc, int64_t start, int64_t deadline)
{
	struct timespec ts = {0, 50 * 1000 * 1000};

	if (rc != -EBUSY || smb_now_ms() - start >= SMB_BUSY_WAIT_MS ||
	    volfs_store_left(deadline) <= 50)
		return 0;
	nanosleep(&ts, NULL);
	return 1;
}

int smb_rename_raw(struct smb_vol *v, unsigned i, const char *from,
		   const char *to, int64_t deadline)
{
	char ufrom[SMB_URL_MAX], uto[SMB_URL_MAX];
	SMBCCTX *ctx = v->conn[i].ctx;
	int64_t start = smb_now_ms();
	int rc;

	rc = smb_url(v, from, ufrom, sizeof(ufrom));
	if (!rc)
		rc = smb_url(v, to, uto, sizeof(uto));
	if (rc)
		return rc;
	do {
		rc = smb_late(deadline);
		if (rc)
			break;
		SMB_PATH_OP(v, i, rc, deadline,
			    smbc_getFunctionRename(ctx)(ctx, ufrom, ctx, uto));
	} while (smb_busy_again(rc, start, deadline));
	return rc < 0 ? rc : 0;
}

int smb_unlink_raw(struct smb_vol *v, unsigned i, const char *path,
		   int64_t deadline)
{
	char url[SMB_URL_MAX];
	SMBCCTX *ctx = v->conn[i].ctx;
	int64_t start = smb_now_ms();
	int rc;

	rc = smb_url(v, path, url, sizeof(url));
	if (rc)
		return rc;
	do {
		rc = smb_late(deadline);
		if (rc)
			break;
		SMB_PATH_OP(v, i, rc, deadline,
			    smbc_getFunctionUnlink(ctx)(ctx, url));
	} while (smb_busy_again(rc, start, deadline));
	return rc < 0 ? rc : 0;
}

int smb_tmp_name(const char *path, char *buf, size_t size)
{
	const char *slash = strrchr(path, '/');
	int dlen = slash ? (int)(slash - path) + 1 : 0;
	unsigned char r[8];
	int n;

	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		return -EIO;
	n = snprintf(buf, size,
		     "%.*s" SMB_TMP "%02x%02x%02x%02x%02x%02x%02x%02x", dlen,
		     path, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int smb_swap(struct smb_vol *v, unsigned i, const char *from, const char *to,
	     int64_t deadline)
{
	char aside[PATH_MAX];
	int rc, rc2;

	rc = smb_tmp_name(to, aside, sizeof(aside));
	if (rc)
		return rc;
	rc = smb_rename_raw(v, i, to, aside, deadline);
	if (rc == -ENOENT)
		/* Gone meanwhile: nothing to replace. */
		return smb_rename_raw(v, i, from, to, deadline);
	if (rc)
		return rc;
	rc = smb_rename_raw(v, i, from, to, deadline);
	if (rc) {
		/* Past the deadline too: a name left absent is worse than
		 * a late answer. */
		rc2 = smb_rename_raw(v, i, aside, to,
				     volfs_store_deadline(v->p.timeout_ms));
		if (rc2)
			v->log(VOLFS_LOG_ERR,
			       "smb: cannot give '%s' back its old content, "
			       "which is in '%s': %s",
			       to, aside, strerror(-rc2));
		return rc;
	}
	rc2 = smb_unlink_raw(v, i, aside,
			     volfs_store_deadline(v->p.timeout_ms));
	if (rc2)
		v->log(VOLFS_LOG_WARNING,
		       "smb: cannot remove '%s', the old content of '%s': %s",
		       aside, to, strerror(-rc2));
	return 0;
}

/*
 * Deletes the store's own names from directory path when it holds nothing
 * else, so that it can go: 0, or -ENOTEMPTY when it holds something else
 * (or a name that does not go).
 */
static int smb_purge(struct smb_vol *v, unsigned i, const char *path,
		     int64_t deadline)
{
	char url[SMB_URL_MAX], **names = NULL;
	SMBCCTX *ctx = v->conn[i].ctx;
	const struct libsmb_file_info *fi;
	size_t n = 0, cap = 0;
	struct stat st;
	SMBCFILE *d;
	int rc = 0;

	if (smb_url(v, path, url, sizeof(url)))
		return -ENOTEMPTY;
	d = smbc_getFunctionOpendir(ctx)(ctx, url);
	if (!d)
		return -ENOTEMPTY;
	while ((fi = smbc_getFunctionReaddirPlus2(ctx)(ctx, d, &st))) {
		char **grown;

		if (!fi->name || strcmp(fi->name, ".") == 0 ||
		    strcmp(fi->name, "..") == 0)
			continue;
		if (!smb_hidden(fi->name) || S_ISDIR(st.st_mode)) {
			rc = -ENOTEMPTY;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			grown = realloc(names, cap * sizeof(*names));
			if (!grown) {
				rc = -ENOTEMPTY;
				break;
			}
			names = grown;
		}
		if (asprintf(&names[n], "%s%s%s", path, *path ? "/" : "",
			     fi->name) < 0) {
			rc = -ENOTEMPTY;
			break;
		}
		n++;
	}
	smbc_getFunctionClosedir(ctx)(ctx, d);
	for (size_t k = 0; k < n; k++) {
		if (!rc) {
			int e = smb_unlink_raw(v, i, names[k], deadline);

			if (e && e != -ENOENT)
				rc = -ENOTEMPTY;
			else
				v->log(VOLFS_LOG_INFO,
				       "smb: removed '%s', left behind by an "
				       "interrupted upload or an older volfs",
				       names[k]);
		}
		free(names[k]);
	}
	free(names);
	return rc;
}

/* rmdir() of path on conn i: 0 or -errno. */
static int smb_rmdir_raw(struct smb_vol *v, unsigned i, const char *path,
			 int64_t deadline)
{
	char url[SMB_URL_MAX];
	SMBCCTX *ctx = v->conn[i].ctx;
	int rc;

	rc = smb_url(v, path, url, sizeof(url));
	if (rc)
		return rc;
	for (int pass = 0; pass < 2; pass++) {
		rc = smb_late(deadline);
		if (rc)
			break;
		SMB_PATH_OP(v, i, rc, deadline,
			    smbc_getFunctionRmdir(ctx)(ctx, url));
		/* Only the store's own names in it: they go too. */
		if (rc != -ENOTEMPTY || pass ||
		    smb_purge(v, i, path, deadline) != 0)
			break;
	}
	if (rc == -ENOENT)
		rc = smb_enoent(v, i, path, deadline);
	return rc < 0 ? rc : 0;
}

/* ---- the ops ---- */

int smb_statfs(void *st, struct statvfs *sv, int64_t deadline)
{
	struct smb_vol *v = st;
	SMBCCTX *ctx;
	int i, rc;

	i = smb_get(v, NULL, deadline);
	if (i < 0)
		return i;
	ctx = v->conn[i].ctx;
	memset(sv, 0, sizeof(*sv));
	rc = smb_late(deadline);
	if (!rc)
		SMB_PATH_OP(v, (unsigned)i, rc, deadline,
			    smbc_getFunctionStatVFS(ctx)(ctx, v->base, sv));
	smb_put(v, (unsigned)i);
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

int smb_stat(void *st, const char *path, struct volfs_store_attr *a,
	     int64_t deadline)
{
	struct smb_vol *v = st;
	struct smb_plock l = {.path = path};
	struct stat raw;
	int i, rc;

	if (smb_hidden(path))
		return -ENOENT;
	rc = smb_lock(v, &l, deadline);
	if (rc)
		return rc;
	i = smb_get(v, NULL, deadline);
	if (i < 0) {
		rc = i;
		goto out;
	}
	rc = smb_stat_raw(v, (unsigned)i, path, &raw, deadline);
	smb_put(v, (unsigned)i);
	if (!rc)
		smb_attr(v, &raw, a);
out:
	smb_unlock(v, &l);
	return rc;
}

/* The whole listing in one call (libsmbclient reads it at opendir); fill
 * runs with a connection borrowed and path held, so it must not call the
 * store. */
int smb_list(void *st, const char *path, char *cursor, size_t cursorlen,
	     volfs_store_fill_fn fill, void *ctxp, int64_t deadline)
{
	struct smb_vol *v = st;
	struct smb_plock l = {.path = path};
	const struct libsmb_file_info *fi;
	char url[SMB_URL_MAX];
	struct volfs_store_attr a;
	struct stat raw;
	SMBCFILE *d = NULL;
	SMBCCTX *ctx;
	int i, rc;

	if (smb_hidden(path))
		return -ENOENT;
	rc = smb_url(v, path, url, sizeof(url));
	if (!rc)
		rc = smb_lock(v, &l, deadline);
	if (rc)
		return rc;
	i = smb_get(v, NULL, deadline);
	if (i < 0) {
		rc = i;
		goto out;
	}
	ctx = v->conn[i].ctx;
	for (int try = 0; try < 2 && !d; try++) {
		rc = smb_late(deadline);
		if (rc)
			break;
		errno = 0;
		d = smbc_getFunctionOpendir(ctx)(ctx, url);
		if (!d && !(errno == ECONNRESET || errno == ECONNABORTED ||
			    errno == EPIPE || errno == ENOTCONN))
			break;
	}
	if (!d) {
		if (!rc)
			rc = smb_fail(v, (unsigned)i, errno ? errno : EIO);
		/* SMB says "not found" for a file, and below one, too. */
		if (rc == -ENOENT) {
			int e = smb_stat_raw(v, (unsigned)i, path, &raw,
					     deadline);

			if (e == -ENOTDIR || (!e && !S_ISDIR(raw.st_mode)))
				rc = -ENOTDIR;
		}
		goto out_put;
	}
	for (;;) {
		memset(&raw, 0, sizeof(raw));
		errno = 0;
		fi = smbc_getFunctionReaddirPlus2(ctx)(ctx, d, &raw);
		if (!fi) {
			if (errno)
				rc = smb_fail(v, (unsigned)i, errno);
			break;
		}
		if (!fi->name || strcmp(fi->name, ".") == 0 ||
		    strcmp(fi->name, "..") == 0 || smb_hidden(fi->name))
			continue;
		smb_attr(v, &raw, &a);
		if (fill(ctxp, fi->name, &a))
			break;
		rc = smb_late(deadline);
		if (rc)
			break;
	}
	smbc_getFunctionClosedir(ctx)(ctx, d);
	if (rc == 0)
		smb_dir_seen(v, path, strlen(path));
out_put:
	smb_put(v, (unsigned)i);
out:
	smb_unlock(v, &l);
	if (cursorlen)
		cursor[0] = '\0';
	return rc;
}

int smb_remove(void *st, const char *path, int64_t deadline)
{
	struct smb_vol *v = st;
	struct smb_plock l = {.path = path, .kind = SMB_LOCK_EXCL};
	struct stat raw;
	int i, rc;

	if (smb_hidden(path))
		return -ENOENT;
	if (!*path)
		return -EISDIR;
	rc = smb_lock(v, &l, deadline);
	if (rc)
		return rc;
	i = smb_get(v, NULL, deadline);
	if (i < 0) {
		rc = i;
		goto out;
	}
	/* SMB deletes an empty directory given to unlink: POSIX refuses. */
	rc = smb_stat_raw(v, (unsigned)i, path, &raw, deadline);
	if (!rc && S_ISDIR(raw.st_mode))
		rc = -EISDIR;
	if (!rc)
		rc = smb_unlink_raw(v, (unsigned)i, path, deadline);
	smb_put(v, (unsigned)i);
out:
	smb_unlock(v, &l);
	return rc;
}

int smb_mkdir(void *st, const char *path, mode_t mode, int64_t deadline)
{
	struct smb_vol *v = st;
	char url[SMB_URL_MAX];
	SMBCCTX *ctx;
	int i, rc;

	if (smb_hidden(path))
		return -EACCES;
	if (!*path)
		return -EEXIST;
	rc = smb_url(v, path, url, sizeof(url));
	if (rc)
		return rc;
	i = smb_get(v, NULL, deadline);
	if (i < 0)
		return i;
	ctx = v->conn[i].ctx;
	rc = smb_late(deadline);
	/* The server decides the modes; dir_mode is what they show. */
	if (!rc)
		SMB_PATH_OP(v, (unsigned)i, rc, deadline,
			    smbc_getFunctionMkdir(ctx)(ctx, url, 0755));
	if (rc == -ENOENT)
		rc = smb_enoent(v, (unsigned)i, path, deadline);
	smb_put(v, (unsigned)i);
	if (rc < 0)
		return rc;
	smb_dir_seen(v, path, strlen(path));
	return 0;
}

int smb_rmdir(void *st, const char *path, int64_t deadline)
{
	struct smb_vol *v = st;
	struct smb_plock l = {.path = path, .kind = SMB_LOCK_EXCL};
	int i, rc;

	if (smb_hidden(path))
		return -ENOENT;
	if (!*path)
		return -EBUSY;
	rc = smb_lock(v, &l, deadline);
	if (rc)
		return rc;
	i = smb_get(v, NULL, deadline);
	if (i < 0) {
		rc = i;
		goto out;
	}
	rc = smb_rmdir_raw(v, (unsigned)i, path, deadline);
	smb_put(v, (unsigned)i);
	smb_dirs_forget(v);
out:
	smb_unlock(v, &l);
	return rc;
}

/* The rename of from to to, an existing file or directory (both held). */
static int smb_rename_over(struct smb_vol *v, unsigned i, const char *from,
			   const char *to, const struct stat *sto,
			   int64_t deadline)
{
	struct stat sf;
	int rc;

	rc = smb_stat_raw(v, i, from, &sf, deadline);
	if (rc)
		return rc;
	if (sf.st_ino && sf.st_ino == sto->st_ino)
		/* One file: hard links, where POSIX does nothing, or a
		 * change of case on a server that ignores case. */
		return strcasecmp(from, to) == 0
			       ? smb_rename_raw(v, i, from, to, deadline)
			       : 0;
	if (S_ISDIR(sf.st_mode) != S_ISDIR(sto->st_mode))
		return S_ISDIR(sf.st_mode) ? -ENOTDIR : -EISDIR;
	if (!S_ISDIR(sto->st_mode))
		return smb_swap(v, i, from, to, deadline);
	/* SMB replaces no directory: the empty one goes first, and comes
	 * back should the rename fail. */
	rc = smb_rmdir_raw(v, i, to, deadline);
	if (rc)
		return rc;
	rc = smb_rename_raw(v, i, from, to, deadline);
	if (rc) {
		char url[SMB_URL_MAX];
		SMBCCTX *ctx = v->conn[i].ctx;

		if (smb_url(v, to, url, sizeof(url)) == 0)
			smbc_getFunctionMkdir(ctx)(ctx, url, 0755);
	}
	return rc;
}

int smb_rename(void *st, const char *from, const char *to, unsigned flags,
	       int64_t deadline)
{
	struct smb_vol *v = st;
	struct smb_plock l = {.path = from, .path2 = to, .kind = SMB_LOCK_EXCL};
	size_t flen = strlen(from);
	struct stat sto;
	int i, rc;

	if (flags)
		return -EINVAL;
	if (smb_hidden(from))
		return -ENOENT;
	if (smb_hidden(to))
		return -EACCES;
	if (!*from || !*to)
		return -EBUSY;
	/* Into itself. */
	if (strncmp(to, from, flen) == 0 && to[flen] == '/')
		return -EINVAL;
	rc = smb_lock(v, &l, deadline);
	if (rc)
		return rc;
	i = smb_get(v, NULL, deadline);
	if (i < 0) {
		rc = i;
		goto out;
	}
	rc = smb_stat_raw(v, (unsigned)i, to, &sto, deadline);
	if (rc == -ENOENT)
		rc = smb_rename_raw(v, (unsigned)i, from, to, deadline);
	else if (rc == 0 && strcmp(from, to) == 0)
		rc = 0;
	else if (rc == 0)
		rc = smb_rename_over(v, (unsigned)i, from, to, &sto, deadline);
	/* Why from is not found, when that is why. */
	if (rc == -ENOENT) {
		int e = smb_stat_raw(v, (unsigned)i, from, &sto, deadline);

		rc = e ? e : -ENOENT;
	}
	smb_put(v, (unsigned)i);
	smb_dirs_forget(v);
out:
	smb_unlock(v, &l);
	return rc;
}

int smb_setattr(void *st, const char *path, unsigned mask,
		const struct volfs_store_attr *a, int64_t deadline)
{
	struct smb_vol *v = st;
	char url[SMB_URL_MAX];
	struct timeval t[2];
	struct stat raw;
	SMBCCTX *ctx;
	int i, rc;

	if (smb_hidden(path))
		return -ENOENT;
	if (!(mask & (VOLFS_STORE_SET_MTIME | VOLFS_STORE_SET_ATIME)))
		return 0;
	rc = smb_url(v, path, url, sizeof(url));
	if (rc)
		return rc;
	i = smb_get(v, NULL, deadline);
	if (i < 0)
		return i;
	ctx = v->conn[i].ctx;
	/* libsmbclient sets both: the one not asked for stays as it is. */
	memset(&raw, 0, sizeof(raw));
	if ((mask & (VOLFS_STORE_SET_MTIME | VOLFS_STORE_SET_ATIME)) !=
	    (VOLFS_STORE_SET_MTIME | VOLFS_STORE_SET_ATIME))
		rc = smb_stat_raw(v, (unsigned)i, path, &raw, deadline);
	if (!rc) {
		struct timespec at = raw.st_atim, mt = raw.st_mtim;

		if (mask & VOLFS_STORE_SET_ATIME)
			at = a->st.st_atim;
		if (mask & VOLFS_STORE_SET_MTIME)
			mt = a->st.st_mtim;
		t[0].tv_sec = at.tv_sec;
		t[0].tv_usec = at.tv_nsec / 1000;
		t[1].tv_sec = mt.tv_sec;
		t[1].tv_usec = mt.tv_nsec / 1000;
		rc = smb_late(deadline);
	}
	if (!rc)
		SMB_PATH_OP(v, (unsigned)i, rc, deadline,
			    smbc_getFunctionUtimes(ctx)(ctx, url, t));
	if (rc == -ENOENT)
		rc = smb_enoent(v, (unsigned)i, path, deadline);
	smb_put(v, (unsigned)i);
	return rc < 0 ? rc : 0;
}
