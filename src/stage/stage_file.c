/* SPDX-License-Identifier: MIT */
/*
 * Staged files' data: the local copy fetched by blocks on demand and
 * written in place; and the file ops on them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "volfs/backend_util.h"
#include "stage_int.h"

#define STAGE_BIT(m, i) ((m)[(i) / 8] & (1u << ((i) % 8)))
#define STAGE_SET(m, i) ((m)[(i) / 8] |= (uint8_t)(1u << ((i) % 8)))
#define STAGE_CLR(m, i) ((m)[(i) / 8] &= (uint8_t) ~(1u << ((i) % 8)))

/* Attributes of a new staged file until the store has it: the owner and
 * (without execute bits) the mode the volume's root shows, which is what
 * a store that keeps neither (a share) shows for every file. */
static void stage_new_attr(struct stage *s, struct stat *st)
{
	struct timespec now;

	memset(st, 0, sizeof(*st));
	st->st_uid = s->root_st.st_uid;
	st->st_gid = s->root_st.st_gid;
	st->st_mode = S_IFREG | (s->root_st.st_mode & 0666);
	st->st_nlink = 1;
	st->st_blksize = 4096;
	clock_gettime(CLOCK_REALTIME, &now);
	st->st_atim = st->st_mtim = st->st_ctim = now;
}

/* Sets up f as the copy of object a (its first rsize bytes to fetch). */
static int stage_file_base(struct stage *s, struct stage_file *f,
			   const struct volfs_store_attr *a)
{
	size_t nb = (size_t)((a->st.st_size + STAGE_BLOCK - 1) / STAGE_BLOCK);

	f->remote = 1;
	snprintf(f->base, sizeof(f->base), "%s", a->version);
	f->rsize = a->st.st_size;
	f->size = a->st.st_size;
	f->st = a->st;
	f->nblocks = nb;
	if (nb) {
		f->present = calloc((nb + 7) / 8, 1);
		f->fetching = calloc((nb + 7) / 8, 1);
		if (!f->present || !f->fetching)
			return -ENOMEM;
	}
	stage_mem(s, (int64_t)(2 * ((nb + 7) / 8)));
	f->mem += 2 * ((nb + 7) / 8);
	if (ftruncate(f->fd, f->size) != 0)
		return -errno;
	return 0;
}

/* Whether f's copy still matches object a. */
static int stage_same(const struct stage_file *f,
		      const struct volfs_store_attr *a)
{
	if (a->version[0] || f->base[0])
		return strcmp(a->version, f->base) == 0;
	return a->st.st_size == f->rsize &&
	       a->st.st_mtim.tv_sec == f->st.st_mtim.tv_sec &&
	       a->st.st_mtim.tv_nsec == f->st.st_mtim.tv_nsec;
}

/* Marks whole blocks of the copy present from off on while the rest of the
 * file's bytes there are not the store's (lock held). */
static void stage_all_present(struct stage_file *f)
{
	free(f->present);
	free(f->fetching);
	f->present = f->fetching = NULL;
}

static int stage_present_all(const struct stage_file *f)
{
	if (!f->present)
		return 1;
	for (size_t i = 0; i < f->nblocks; i++)
		if (!STAGE_BIT(f->present, i))
			return 0;
	return 1;
}

int stage_fetch(struct stage *s, struct stage_file *f, off_t off, off_t len)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		size_t first, last, b, e;
		char path[PATH_MAX], base[VOLFS_STORE_VERSION_MAX];
		off_t end = off + len;
		ssize_t n;

		if (!f->present)
			break;
		if (end > f->rsize)
			end = f->rsize;
		if (off >= end)
			break;
		first = (size_t)(off / STAGE_BLOCK);
		last = (size_t)((end - 1) / STAGE_BLOCK);
		/* The first missing block not being fetched; wait for one
		 * that is. */
		for (b = first; b <= last; b++)
			if (!STAGE_BIT(f->present, b))
				break;
		if (b > last) {
			if (stage_present_all(f))
				stage_all_present(f);
			break;
		}
		if (STAGE_BIT(f->fetching, b)) {
			pthread_cond_wait(&s->changed, &s->lock);
			continue;
		}
		for (e = b;
		     e <= last && e - b < STAGE_RUN_MAX &&
		     !STAGE_BIT(f->present, e) &&
		     !STAGE_BIT(f->fetching, e);
		     e++)
			;
		if (!f->path) {
			/* Its name is gone, and with it the store's bytes. */
			rc = -EIO;
			break;
		}
		rc = stage_reserve(s, (uint64_t)(e - b) * STAGE_BLOCK);
		if (rc)
			break;
		for (size_t i = b; i < e; i++)
			STAGE_SET(f->fetching, i);
		snprintf(path, sizeof(path), "%s", f->path ? f->path : "");
		snprintf(base, sizeof(base), "%s", f->base);
		f->opens++;
		pthread_mutex_unlock(&s->lock);
		{
			off_t o = (off_t)b * STAGE_BLOCK;
			off_t want = (off_t)(e - b) * STAGE_BLOCK;

			if (o + want > f->rsize)
				want = f->rsize - o;
			n = s->store->get(s->st, path, base, o, (size_t)want,
					  f->fd, NULL,
					  stage_deadline_for(s, want));
			if (n >= 0 && n < want)
				n = -EIO;
			STAGE_COUNT(s, requests, 1);
			if (n > 0)
				STAGE_COUNT(s, bytes_in, n);
		}
		pthread_mutex_lock(&s->lock);
		f->opens--;
		for (size_t i = b; i < e; i++) {
			STAGE_CLR(f->fetching, i);
			if (n >= 0 && f->present)
				STAGE_SET(f->present, i);
		}
		stage_charge(s, f);
		pthread_cond_broadcast(&s->changed);
		/* Renamed meanwhile: again, under the new name. */
		if (n == -ENOENT && f->path && strcmp(f->path, path) != 0)
			continue;
		if (n < 0) {
			STAGE_COUNT(s, errors, 1);
			rc = (int)n;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

struct stage_prefetch {
	struct stage *s;
	struct stage_file *f;
	off_t off, len;
};

static void *stage_prefetch_run(void *arg)
{
	struct stage_prefetch *p = arg;
	struct stage *s = p->s;

	stage_fetch(s, p->f, p->off, p->len);
	pthread_mutex_lock(&s->lock);
	p->f->prefetching--;
	stage_file_unref(s, p->f);
	if (--s->prefetches == 0)
		pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->lock);
	free(p);
	return NULL;
}

/* Fetches [off, off + len) of f in a thread of its own; 0 when it runs
 * (lock held), -errno when the caller must fetch itself. */
static int stage_prefetch(struct stage *s, struct stage_file *f, off_t off,
			  off_t len)
{
	struct stage_prefetch *p = malloc(sizeof(*p));
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (!p)
		return -ENOMEM;
	*p = (struct stage_prefetch){ .s = s, .f = f, .off = off, .len = len };
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	f->opens++;
	f->prefetching++;
	s->prefetches++;
	rc = pthread_create(&t, &attr, stage_prefetch_run, p);
	pthread_attr_destroy(&attr);
	if (rc) {
		f->opens--;
		f->prefetching--;
		s->prefetches--;
		free(p);
		return -rc;
	}
	return 0;
}

/* Fetches f's read-ahead window from block b on in the background, a
 * request's worth per thread, so the requests run in parallel over the
 * store's connections; 0 when at least one runs (lock held). */
static int stage_prefetch_window(struct stage *s, struct stage_file *f,
				 size_t b)
{
	off_t run = STAGE_RUN_MAX * STAGE_BLOCK;
	int started = 0;

	for (off_t o = 0; o < f->ra_win && (off_t)b * STAGE_BLOCK + o < f->rsize;
	     o += run)
		if (stage_prefetch(s, f, (off_t)b * STAGE_BLOCK + o, run) == 0)
			started = 1;
	return started ? 0 : -EAGAIN;
}

/* The ops. */

static struct stage_handle *stage_h(uint64_t fh)
{
	return (struct stage_handle *)(uintptr_t)fh;
}

int stage_getattr(void *vol, const char *path, uint64_t fh, struct stat *st)
{
	struct stage *s = vol;
	struct volfs_store_attr a;
	struct stage_file *f = NULL;
	int rc;

	path = stage_path(path);
	pthread_mutex_lock(&s->lock);
	if (fh != VOLFS_NO_FH)
		f = stage_h(fh)->f;
	else if (*path)
		f = stage_find(s, path);
	if (f && stage_file_local(f)) {
		stage_file_stat(f, st);
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	pthread_mutex_unlock(&s->lock);
	rc = s->store->stat(s->st, path, &a, stage_deadline(s));
	if (rc && !*path && stage_unreachable(rc)) {
		/* The mount point itself stays visible through an outage. */
		*st = s->root_st;
		return 0;
	}
	if (rc && stage_unreachable(rc)) {
		/* Through an outage a kept copy answers for its file. */
		pthread_mutex_lock(&s->lock);
		f = stage_find(s, path);
		if (f)
			stage_file_stat(f, st);
		pthread_mutex_unlock(&s->lock);
		if (f)
			return 0;
	}
	if (rc == -ENOENT) {
		/* Below a file the store does not have yet. */
		pthread_mutex_lock(&s->lock);
		if (stage_parent_file(s, path))
			rc = -ENOTDIR;
		pthread_mutex_unlock(&s->lock);
	}
	if (rc)
		return rc;
	*st = a.st;
	if (!st->st_blocks)
		st->st_blocks = (st->st_size + 511) / 512;
	return 0;
}

static int stage_handle_new(struct stage *s, struct stage_file *f, int flags,
			    uint64_t *fh)
{
	struct stage_handle *h = malloc(sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->f = f;
	h->flags = flags;
	f->opens++;
	if ((flags & O_ACCMODE) != O_RDONLY)
		f->writers++;
	stage_lru_del(s, f);
	*fh = (uint64_t)(uintptr_t)h;
	return 0;
}

/* A change to f's data: the journal learns it is dirty.  lock held. */
static void stage_dirty(struct stage *s, struct stage_file *f)
{
	struct timespec now;

	f->gen++;
	clock_gettime(CLOCK_REALTIME, &now);
	f->st.st_mtim = f->st.st_ctim = now;
	if (f->jstate < 0 && f->path)
		stage_journal_put(s, f, STAGE_J_OPEN, 0);
	else if (f->jstate == STAGE_J_CLOSED && f->present && f->path)
		/* Written again after a close whose copy is not whole (its
		 * fetch failed): the entry's bitmap must say which blocks
		 * are the file's own now, or a replay would fetch the
		 * store's bytes over them. */
		stage_journal_put(s, f, STAGE_J_CLOSED, 0);
}

/* Waits until no upload reads f's copy: it is sent as it was when the
 * upload began, never a mix of two contents.  lock held. */
static void stage_wait_put(struct stage *s, struct stage_file *f)
{
	while (f->uploading)
		pthread_cond_wait(&s->changed, &s->lock);
}

static int stage_trunc_locked(struct stage *s, struct stage_file *f, off_t size)
{
	stage_wait_put(s, f);
	if (ftruncate(f->fd, size) != 0)
		return -errno;
	if (size < f->rsize) {
		size_t nb = (size_t)((size + STAGE_BLOCK - 1) / STAGE_BLOCK);

		/* The store's bytes past size are no longer the file's; a
		 * partial last block must be fetched before it is cut. */
		f->rsize = size;
		if (f->present)
			f->nblocks = nb;
		if (f->present && stage_present_all(f))
			stage_all_present(f);
	}
	f->size = size;
	stage_charge(s, f);
	stage_dirty(s, f);
	return 0;
}

int stage_open_file(void *vol, const char *path, int flags, uint64_t *fh)
{
	struct stage *s = vol;
	struct volfs_store_attr a;
	struct stage_file *f;
	int rc;

	path = stage_path(path);
	pthread_mutex_lock(&s->lock);
	f = stage_find(s, path);
	if (f && stage_file_local(f))
		goto have;
	pthread_mutex_unlock(&s->lock);
	/* Close-to-open: the store is asked whether a kept copy is still
	 * the object's. */
	rc = s->store->stat(s->st, path, &a, stage_deadline(s));
	if (rc && stage_unreachable(rc)) {
		/* Through an outage a kept copy is opened as it is; what is
		 * written to it is uploaded once the store is back. */
		pthread_mutex_lock(&s->lock);
		f = stage_find(s, path);
		if (f) {
			STAGE_COUNT(s, hits, 1);
			goto have;
		}
		pthread_mutex_unlock(&s->lock);
	}
	if (rc)
		return rc;
	if (S_ISDIR(a.st.st_mode))
		return -EISDIR;
	/* A link the store shows (a host directory's) is never followed. */
	if (!S_ISREG(a.st.st_mode))
		return -ELOOP;
	pthread_mutex_lock(&s->lock);
	f = stage_find(s, path);
	if (f && !stage_file_local(f) && !stage_same(f, &a)) {
		stage_hash_del(s, f);
		stage_file_free(s, f);
		f = NULL;
	}
	if (f) {
		STAGE_COUNT(s, hits, 1);
		f->st = a.st;
		goto have;
	}
	STAGE_COUNT(s, misses, 1);
	f = stage_file_new(s, path);
	if (!f) {
		rc = -errno ? -errno : -ENOMEM;
		goto out;
	}
	rc = stage_file_base(s, f, &a);
	if (rc) {
		stage_file_free(s, f);
		goto out;
	}
	stage_hash_add(s, f);
have:
	rc = stage_handle_new(s, f, flags, fh);
	if (!rc && (flags & O_TRUNC) && f->size) {
		rc = stage_trunc_locked(s, f, 0);
		if (rc) {
			pthread_mutex_unlock(&s->lock);
			stage_release(s, *fh);
			return rc;
		}
	}
out:
	if (rc && f && !f->opens)
		stage_file_idle(s, f);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int stage_create_file(void *vol, const char *path, int flags, mode_t mode,
		      const struct volfs_caller *who, uint64_t *fh)
{
	struct stage *s = vol;
	struct volfs_store_attr a;
	struct stage_file *f;
	struct stat st;
	int rc;

	(void)mode;
	(void)who;
	path = stage_path(path);
	pthread_mutex_lock(&s->lock);
	f = stage_find(s, path);
	if (f && !stage_file_local(f)) {
		/* A kept copy proves nothing: the store says. */
		stage_hash_del(s, f);
		stage_file_free(s, f);
		f = NULL;
	}
	if (!f && stage_parent_file(s, path)) {
		pthread_mutex_unlock(&s->lock);
		return -ENOTDIR;
	}
	pthread_mutex_unlock(&s->lock);
	if (f)
		return -EEXIST;
	rc = s->store->stat(s->st, path, &a, stage_deadline(s));
	if (rc == 0)
		return -EEXIST;
	/* Through an outage a file is still made here, to be uploaded
	 * when the store is back (conditional on its absence where the
	 * store has versions). */
	if (rc != -ENOENT && !stage_unreachable(rc))
		return rc;
	stage_new_attr(s, &st);
	pthread_mutex_lock(&s->lock);
	if (stage_find(s, path)) {
		rc = -EEXIST;
		goto out;
	}
	f = stage_file_new(s, path);
	if (!f) {
		rc = -ENOMEM;
		goto out;
	}
	f->st = st;
	stage_hash_add(s, f);
	rc = stage_handle_new(s, f, flags, fh);
	if (rc) {
		stage_hash_del(s, f);
		stage_file_free(s, f);
		goto out;
	}
	/* Not on the store yet: dirty until its first upload. */
	stage_dirty(s, f);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

ssize_t stage_read(void *vol, uint64_t fh, void *buf, size_t size, off_t off)
{
	struct stage *s = vol;
	struct stage_file *f = stage_h(fh)->f;
	off_t want = (off_t)size;
	ssize_t n;
	int rc;

	pthread_mutex_lock(&s->lock);
	if (f->present) {
		/* Sequential reads fetch ahead, in a window growing to
		 * STAGE_RA_MAX.  While the window's first missing block is
		 * more than half a window ahead nothing is fetched; when it
		 * comes closer, a whole window from there is, in one request,
		 * so a stream reads in large requests, not a block at a
		 * time. */
		/* The kernel sends a stream's reads from several threads,
		 * so one that lands within the window around the last is
		 * of the same stream. */
		int seq = off >= f->ra_next - f->ra_win &&
			  off <= f->ra_next + f->ra_win;

		if (seq) {
			if (f->ra_win < STAGE_RA_MAX)
				f->ra_win *= 2;
		} else {
			f->ra_win = STAGE_RA_MIN;
		}
		if (seq) {
			size_t b = (size_t)(off / STAGE_BLOCK);
			off_t gap;

			while (b < f->nblocks && STAGE_BIT(f->present, b))
				b++;
			gap = (off_t)b * STAGE_BLOCK - off;
			if (b < f->nblocks && gap < f->ra_win / 2) {
				/* Behind this read when it has its bytes
				 * already, so the two overlap. */
				if (gap < (off_t)size || f->prefetching ||
				    stage_prefetch_window(s, f, b))
					want = gap + f->ra_win;
			}
		} else if (want < f->ra_win) {
			want = f->ra_win;
		}
	}
	if (off + (off_t)size > f->ra_next || off < f->ra_next - f->ra_win)
		f->ra_next = off + (off_t)size;
	pthread_mutex_unlock(&s->lock);
	rc = stage_fetch(s, f, off, want);
	if (rc == -ENOSPC) {
		/* No room in the cache: the bytes come straight from the
		 * store. */
		char path[PATH_MAX];

		pthread_mutex_lock(&s->lock);
		snprintf(path, sizeof(path), "%s", f->path ? f->path : "");
		pthread_mutex_unlock(&s->lock);
		return s->store->get(s->st, path, f->base, off, size, -1, buf,
				     stage_deadline(s));
	}
	if (rc)
		return rc;
	n = pread(f->fd, buf, size, off);
	return n < 0 ? -errno : n;
}

ssize_t stage_write(void *vol, uint64_t fh, const void *buf, size_t size,
		    off_t off)
{
	struct stage *s = vol;
	struct stage_handle *h = stage_h(fh);
	struct stage_file *f = h->f;
	ssize_t n;
	int rc;

	pthread_mutex_lock(&s->lock);
	if (h->flags & O_APPEND)
		off = f->size;
	pthread_mutex_unlock(&s->lock);
	/* Blocks written only in part keep the store's other bytes. */
	if (off % STAGE_BLOCK) {
		rc = stage_fetch(s, f, off, 1);
		if (rc)
			return rc;
	}
	if ((off + (off_t)size) % STAGE_BLOCK) {
		rc = stage_fetch(s, f, off + (off_t)size - 1, 1);
		if (rc)
			return rc;
	}
	pthread_mutex_lock(&s->lock);
	stage_wait_put(s, f);
	rc = stage_reserve(s, size);
	if (rc) {
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	if (h->flags & O_APPEND)
		off = f->size;
	n = pwrite(f->fd, buf, size, off);
	if (n < 0) {
		rc = -errno;
		pthread_mutex_unlock(&s->lock);
		return rc;
	}
	if (f->present && off < f->rsize) {
		off_t end = off + n;

		for (off_t b = off / STAGE_BLOCK;
		     b * STAGE_BLOCK < end && b * STAGE_BLOCK < f->rsize; b++)
			STAGE_SET(f->present, (size_t)b);
	}
	if (off + n > f->size)
		f->size = off + n;
	stage_charge(s, f);
	stage_dirty(s, f);
	pthread_mutex_unlock(&s->lock);
	return n;
}

int stage_truncate(void *vol, const char *path, uint64_t fh, off_t size)
{
	struct stage *s = vol;
	struct stage_file *f;
	uint64_t tmp;
	int rc;

	if (fh == VOLFS_NO_FH) {
		/* truncate(2) by name: staged, uploaded, closed, as an
		 * open, ftruncate, fsync and close would. */
		rc = stage_open_file(vol, path, O_WRONLY, &tmp);
		if (rc)
			return rc;
		rc = stage_truncate(vol, path, tmp, size);
		if (!rc)
			rc = stage_fsync(vol, tmp, 0);
		stage_release(vol, tmp);
		return rc;
	}
	f = stage_h(fh)->f;
	if (size % STAGE_BLOCK) {
		rc = stage_fetch(s, f, size - 1, 1);
		if (rc)
			return rc;
	}
	pthread_mutex_lock(&s->lock);
	rc = stage_trunc_locked(s, f, size);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int stage_utimens(void *vol, const char *path, uint64_t fh,
		  const struct timespec tv[2])
{
	struct stage *s = vol;
	struct stage_file *f = NULL;
	struct volfs_store_attr a;
	struct timespec now;
	unsigned mask = 0;
	int rc;

	path = stage_path(path);
	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&s->lock);
	if (fh != VOLFS_NO_FH)
		f = stage_h(fh)->f;
	else if (*path)
		f = stage_find(s, path);
	/* An upload under way took the time it sends: once it is done the
	 * file is the store's, whose time is set there. */
	if (f)
		stage_wait_put(s, f);
	if (f && (f->gen != f->synced || !f->remote)) {
		/* Not on the store yet: kept here, and the upload carries
		 * the modification time. */
		if (tv[0].tv_nsec != UTIME_OMIT)
			f->st.st_atim =
				tv[0].tv_nsec == UTIME_NOW ? now : tv[0];
		if (tv[1].tv_nsec != UTIME_OMIT)
			f->st.st_mtim =
				tv[1].tv_nsec == UTIME_NOW ? now : tv[1];
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	pthread_mutex_unlock(&s->lock);
	if (!s->store->setattr)
		return 0;
	memset(&a, 0, sizeof(a));
	if (tv[0].tv_nsec != UTIME_OMIT) {
		mask |= VOLFS_STORE_SET_ATIME;
		a.st.st_atim = tv[0].tv_nsec == UTIME_NOW ? now : tv[0];
	}
	if (tv[1].tv_nsec != UTIME_OMIT) {
		mask |= VOLFS_STORE_SET_MTIME;
		a.st.st_mtim = tv[1].tv_nsec == UTIME_NOW ? now : tv[1];
	}
	if (!mask)
		return 0;
	rc = s->store->setattr(s->st, path, mask, &a, stage_deadline(s));
	if (rc)
		return rc;
	/* The change may give the object a new version: a kept copy takes
	 * it, since its data is still the object's. */
	rc = s->store->stat(s->st, path, &a, stage_deadline(s));
	pthread_mutex_lock(&s->lock);
	f = stage_find(s, path);
	if (f && f->remote && f->gen == f->synced) {
		if (rc == 0) {
			snprintf(f->base, sizeof(f->base), "%s", a.version);
			f->st.st_atim = a.st.st_atim;
			f->st.st_mtim = a.st.st_mtim;
			f->st.st_ctim = a.st.st_ctim;
		} else if (!f->opens) {
			stage_hash_del(s, f);
			stage_file_free(s, f);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

int stage_flush(void *vol, uint64_t fh)
{
	(void)vol;
	(void)fh;
	return 0;
}

int stage_fsync(void *vol, uint64_t fh, int datasync)
{
	struct stage *s = vol;
	struct stage_file *f = stage_h(fh)->f;
	int rc;

	(void)datasync;
	if (fdatasync(f->fd) != 0)
		return -errno;
	pthread_mutex_lock(&s->lock);
	rc = stage_upload(s, f);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int stage_release(void *vol, uint64_t fh)
{
	struct stage *s = vol;
	struct stage_handle *h = stage_h(fh);
	struct stage_file *f = h->f;

	pthread_mutex_lock(&s->lock);
	if ((h->flags & O_ACCMODE) != O_RDONLY && f->writers == 1 &&
	    f->present && f->path && f->gen != f->synced) {
		/* The closed entry says "upload this copy": it is made
		 * whole first (the upload needs that anyway), so later
		 * writes need no journal update and a replay fetches
		 * nothing over them.  A failed fetch leaves the bitmap in
		 * the entry instead. */
		pthread_mutex_unlock(&s->lock);
		stage_fetch(s, f, 0, f->rsize);
		pthread_mutex_lock(&s->lock);
	}
	f->opens--;
	if ((h->flags & O_ACCMODE) != O_RDONLY)
		f->writers--;
	if (f->path && f->gen != f->synced && !f->writers) {
		/* Closed dirty: from now on a crash does not lose it. */
		stage_journal_put(s, f, STAGE_J_CLOSED, 0);
		stage_queue(s, f, volfs_store_deadline(s->delay_ms));
	}
	if (!f->opens) {
		if (!f->path && !f->queued && !f->uploading)
			stage_file_free(s, f);
		else
			stage_file_idle(s, f);
	}
	pthread_mutex_unlock(&s->lock);
	free(h);
	return 0;
}

int stage_fd(void *vol, uint64_t fh)
{
	struct stage *s = vol;
	struct stage_handle *h = stage_h(fh);
	int fd = -1;

	/* Reads of a read-only handle on a whole copy go straight to it;
	 * everything else passes through the layer, which fetches and
	 * tracks changes. */
	pthread_mutex_lock(&s->lock);
	if ((h->flags & O_ACCMODE) == O_RDONLY && !h->f->present)
		fd = h->f->fd;
	pthread_mutex_unlock(&s->lock);
	return fd;
}
