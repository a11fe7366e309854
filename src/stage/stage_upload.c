/* SPDX-License-Identifier: MIT */
/*
 * The uploader: a few threads per volume that put dirty, closed files to
 * the store when they are due (upload_delay after their close), retrying
 * failed uploads with a growing backoff.  fsync() uploads in the caller's
 * thread through the same stage_upload().
 *
 * An upload sends the copy whole (the store replaces the object at once),
 * after fetching whatever of the store's bytes the copy lacks.  It pins
 * the file's path: a rename or removal of it, or of a directory above it,
 * waits for the upload to end.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stage_int.h"

/* How long closing a volume waits for the queue to drain. */
#define STAGE_DRAIN_MS 30000

void stage_queue(struct stage *s, struct stage_file *f, int64_t due)
{
	struct stage_file **pp;

	if (f->queued) {
		if (due >= f->due)
			return;
		stage_unqueue(s, f);
	}
	f->due = due;
	for (pp = &s->queue; *pp && (*pp)->due <= due; pp = &(*pp)->qnext)
		;
	f->qnext = *pp;
	*pp = f;
	f->queued = 1;
	pthread_cond_broadcast(&s->work);
}

void stage_unqueue(struct stage *s, struct stage_file *f)
{
	struct stage_file **pp;

	if (!f->queued)
		return;
	for (pp = &s->queue; *pp; pp = &(*pp)->qnext) {
		if (*pp == f) {
			*pp = f->qnext;
			break;
		}
	}
	f->qnext = NULL;
	f->queued = 0;
	pthread_cond_broadcast(&s->changed);
}

static int stage_uploading_below(struct stage *s, const char *path)
{
	if (!s->uploading)
		return 0;
	for (size_t i = 0; i < s->nbuckets; i++)
		for (struct stage_file *f = s->tab[i]; f; f = f->hnext)
			if (f->uploading && stage_below(f->path, path))
				return 1;
	return 0;
}

void stage_wait_uploads(struct stage *s, const char *path)
{
	while (path && stage_uploading_below(s, path))
		pthread_cond_wait(&s->changed, &s->lock);
}

void stage_names_begin(struct stage *s)
{
	s->moving++;
}

void stage_names_end(struct stage *s)
{
	if (--s->moving == 0)
		pthread_cond_broadcast(&s->changed);
}

/* One upload of f, lock held (let go while it runs). */
static int stage_put(struct stage *s, struct stage_file *f)
{
	char path[PATH_MAX], base[VOLFS_STORE_VERSION_MAX];
	const char *cond = NULL;
	struct volfs_store_attr out;
	struct timespec mtime;
	uint64_t gen = f->gen;
	off_t size;
	int rc;

	/* A name may not move or go between the path taken here and the
	 * put. */
	while (s->moving)
		pthread_cond_wait(&s->changed, &s->lock);
	if (!f->path)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s", f->path);
	snprintf(base, sizeof(base), "%s", f->base);
	if (s->store->caps & VOLFS_STORE_VERSIONS)
		cond = f->remote ? base : "";
	f->uploading = 1;
	s->uploading++;
	pthread_mutex_unlock(&s->lock);
	/* The copy must be whole before it replaces the object. */
	rc = stage_fetch(s, f, 0, f->rsize);
	pthread_mutex_lock(&s->lock);
	size = f->size;
	mtime = f->st.st_mtim;
	gen = f->gen;
	pthread_mutex_unlock(&s->lock);
	if (!rc) {
		rc = s->store->put(s->st, path, f->fd, size, cond, &mtime, &out,
				   stage_deadline(s));
		if (rc == -EACCES && s->store->refresh &&
		    s->store->refresh(s->st, stage_deadline(s)) == 0)
			rc = s->store->put(s->st, path, f->fd, size, cond,
					   &mtime, &out,
					   stage_deadline_for(s, size));
	}
	STAGE_COUNT(s, requests, 1);
	pthread_mutex_lock(&s->lock);
	f->uploading = 0;
	s->uploading--;
	if (!rc) {
		STAGE_COUNT(s, uploads, 1);
		STAGE_COUNT(s, bytes_out, (uint64_t)size);
		f->remote = 1;
		snprintf(f->base, sizeof(f->base), "%s", out.version);
		f->rsize = size;
		if (f->synced < gen)
			f->synced = gen;
		if (f->gen == f->synced) {
			stage_journal_del(s, f);
			f->failures = 0;
			f->error = 0;
			/* The store's attributes from now on, with the
			 * owner and mode it shows. */
			f->st.st_mode = out.st.st_mode;
			f->st.st_uid = out.st.st_uid;
			f->st.st_gid = out.st.st_gid;
			f->st.st_ino = out.st.st_ino;
		}
	} else {
		STAGE_COUNT(s, upload_failures, 1);
		STAGE_COUNT(s, errors, 1);
		f->failures++;
		f->error = rc;
	}
	stage_publish(s, 1);
	pthread_cond_broadcast(&s->changed);
	return rc;
}

int stage_upload(struct stage *s, struct stage_file *f)
{
	uint64_t want = f->gen;
	int rc = 0;

	f->opens++;
	while (f->path && f->synced < want) {
		if (f->uploading) {
			pthread_cond_wait(&s->changed, &s->lock);
			continue;
		}
		stage_unqueue(s, f);
		rc = stage_put(s, f);
		if (rc) {
			stage_log(s, VOLFS_LOG_ERR,
				  "cannot upload '%s': %s (kept in the cache, "
				  "retried)",
				  f->path ? f->path : "(removed)",
				  strerror(-rc));
			break;
		}
	}
	f->opens--;
	if (rc && f->path && f->jstate >= 0)
		stage_queue(s, f, volfs_store_deadline(STAGE_RETRY_MIN_MS));
	if (!f->opens) {
		if (!f->path && !f->queued && !f->uploading)
			stage_file_free(s, f);
		else
			stage_file_idle(s, f);
	}
	return rc;
}

static void *stage_uploader(void *arg)
{
	struct stage *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct stage_file *f = s->queue;
		int64_t now = volfs_store_deadline(0);
		int rc;

		stage_publish(s, 0);
		/* Closing: what is due now goes, what waits for a retry
		 * stays for the next process. */
		if (s->stopping > 1 || (s->stopping && (!f || f->due > now)))
			break;
		if (!f || f->due > now) {
			/* At least once a second, for the counters. */
			int64_t ms =
				f && f->due - now < 1000 ? f->due - now : 1000;
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += ms * 1000000;
			ts.tv_sec += ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			pthread_cond_timedwait(&s->work, &s->lock, &ts);
			continue;
		}
		stage_unqueue(s, f);
		if (f->uploading || !f->path || f->gen == f->synced) {
			if (!f->opens && !f->uploading) {
				if (!f->path)
					stage_file_free(s, f);
				else
					stage_file_idle(s, f);
			}
			continue;
		}
		if (f->writers) {
			/* Open for writing again: its close queues it. */
			continue;
		}
		f->opens++;
		rc = stage_put(s, f);
		f->opens--;
		if (rc && f->path && f->gen != f->synced) {
			unsigned shift = f->failures < 7 ? f->failures - 1 : 6;
			int64_t wait = (int64_t)STAGE_RETRY_MIN_MS << shift;

			if (wait > STAGE_RETRY_MAX_MS)
				wait = STAGE_RETRY_MAX_MS;
			if (f->failures == 1 || f->failures % 10 == 0)
				stage_log(s, VOLFS_LOG_WARNING,
					  "cannot upload '%s': %s; kept in "
					  "the cache, retried in %jd s "
					  "(attempt %u)",
					  f->path, strerror(-rc),
					  (intmax_t)wait / 1000, f->failures);
			stage_queue(s, f, volfs_store_deadline(wait));
		} else if (f->gen != f->synced && f->path && !f->writers) {
			stage_queue(s, f, volfs_store_deadline(s->delay_ms));
		} else if (!f->opens) {
			if (!f->path && !f->queued)
				stage_file_free(s, f);
			else
				stage_file_idle(s, f);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int stage_uploaders_start(struct stage *s)
{
	for (unsigned i = 0; i < STAGE_UPLOADERS; i++) {
		int rc = pthread_create(&s->uploaders[i], NULL, stage_uploader,
					s);

		if (rc) {
			if (!s->nuploaders)
				return -rc;
			break;
		}
		s->nuploaders++;
	}
	return 0;
}

/* Whether an upload is under way or due now (lock held). */
static int stage_draining(struct stage *s)
{
	int64_t now = volfs_store_deadline(0);

	if (!s->nuploaders)
		return 0;
	if (s->uploading)
		return 1;
	for (struct stage_file *f = s->queue; f; f = f->qnext)
		if (f->due <= now)
			return 1;
	return 0;
}

void stage_uploaders_stop(struct stage *s)
{
	int64_t until = volfs_store_deadline(STAGE_DRAIN_MS);
	unsigned left = 0;

	pthread_mutex_lock(&s->lock);
	if (s->queue)
		stage_log(s, VOLFS_LOG_NOTICE,
			  "uploading the files changed last before closing");
	/* Everything queued is due now; the uploaders end when the queue
	 * is empty, or at the bound. */
	s->stopping = 1;
	for (struct stage_file *f = s->queue; f; f = f->qnext)
		f->due = 0;
	pthread_cond_broadcast(&s->work);
	while (stage_draining(s)) {
		struct timespec ts;
		int64_t ms = volfs_store_left(until);

		if (!ms)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&s->changed, &s->lock, &ts);
	}
	for (struct stage_file *f = s->queue; f; f = f->qnext)
		left++;
	s->stopping = 2;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < s->nuploaders; i++)
		pthread_join(s->uploaders[i], NULL);
	s->nuploaders = 0;
	if (left)
		stage_log(s, VOLFS_LOG_WARNING,
			  "%u file(s) not uploaded yet are kept in the cache "
			  "and uploaded when the volume is next opened",
			  left);
}
