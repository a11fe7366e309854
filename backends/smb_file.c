/* SPDX-License-Identifier: MIT */
/*
 * The smb backend's open files: handles per connection, files moved or
 * removed while open, read-ahead in growing windows fetched in parts by
 * the volume's threads, and write-behind.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "volfs/backend.h"
#include "volfs/backend_util.h"
#include "smb_int.h"

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

void smb_file_off(struct smb_vol *v, struct smb_file *f, unsigned i)
{
	SMBCCTX *ctx = v->conn[i].ctx;

	if (f->h[i]) {
		smbc_getFunctionClose(ctx)(ctx, f->h[i]);
		f->h[i] = NULL;
	}
}

int smb_file_get(struct smb_vol *v, struct smb_file *f)
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

void smb_ra_drop(struct smb_file *f)
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

int smb_open_common(struct smb_vol *v, const char *path, int flags, int create,
		    uint64_t *fh)
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
	/* The server names a directory in the way: the name exists. */
	if (create && rc == -EISDIR)
		rc = -EEXIST;
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

int smb_created_stat(const struct smb_vol *v, struct smb_file *f,
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

/* Whether f is open at path or, with below, below it. */
static int smb_file_at(const struct smb_file *f, const char *path, int below)
{
	size_t len = strlen(path);

	if (strncmp(f->path, path, len) != 0)
		return 0;
	return f->path[len] == '\0' || (below && f->path[len] == '/');
}

int smb_files_at(struct smb_vol *v, const char *path, int below,
		 struct smb_file ***out, size_t *n)
{
	struct smb_file *f, **arr = NULL;
	size_t cnt = 0, k = 0;

	pthread_mutex_lock(&v->lock);
	for (f = v->files; f; f = f->next)
		cnt += smb_file_at(f, path, below);
	if (cnt) {
		arr = calloc(cnt, sizeof(*arr));
		if (!arr) {
			pthread_mutex_unlock(&v->lock);
			return -ENOMEM;
		}
		/* Counted as waiters, they outlive a release() meanwhile. */
		for (f = v->files; f && k < cnt; f = f->next)
			if (smb_file_at(f, path, below)) {
				f->waiters++;
				arr[k++] = f;
			}
	}
	pthread_mutex_unlock(&v->lock);
	/* Released or moved meanwhile: not ours to move. */
	for (size_t j = 0; j < k; j++) {
		pthread_rwlock_wrlock(&arr[j]->mv);
		if (!arr[j]->released && smb_file_at(arr[j], path, below)) {
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

void smb_files_done(struct smb_vol *v, struct smb_file **arr, size_t n)
{
	for (size_t j = 0; j < n; j++)
		if (arr[j]) {
			pthread_rwlock_unlock(&arr[j]->mv);
			smb_file_unref(v, arr[j]);
		}
	free(arr);
}

int smb_files_moved(struct smb_vol *v, struct smb_file **arr, size_t n,
		    const char *from, const char *to, int unlinked)
{
	size_t flen = strlen(from);

	for (size_t j = 0; j < n; j++) {
		char *np;

		if (!arr[j])
			continue;
		/* What follows from in its path: "" or "/..." below it. */
		if (asprintf(&np, "%s%s", to, arr[j]->path + flen) < 0)
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

int smb_rename_url(struct smb_vol *v, const char *from, const char *to)
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

ssize_t smb_read(void *vol, uint64_t fh, void *buf, size_t size, off_t off)
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

void smb_wb_drain(struct smb_file *f)
{
	pthread_mutex_lock(&f->wb_lock);
	while (f->wb_n)
		pthread_cond_wait(&f->wb_cond, &f->wb_lock);
	pthread_mutex_unlock(&f->wb_lock);
}

int smb_wb_sync(struct smb_file *f)
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

void smb_wb_drain_path(struct smb_vol *v, const char *path)
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

void *smb_worker(void *arg)
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

ssize_t smb_write(void *vol, uint64_t fh, const void *buf, size_t size,
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

int smb_flush(void *vol, uint64_t fh)
{
	return smb_wb_sync((struct smb_file *)(uintptr_t)fh);
}

int smb_fsync(void *vol, uint64_t fh, int datasync)
{
	return smb_wb_sync((struct smb_file *)(uintptr_t)fh);
}

int smb_release(void *vol, uint64_t fh)
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
