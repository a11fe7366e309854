/* SPDX-License-Identifier: MIT */
/*
 * The smb store's path locks, and the read handles get() keeps open on
 * its connections: what keeps the store's own open files from making the
 * server refuse its own removes and renames (smb.c says why).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "volfs/backend.h"
#include "volfs/store.h"
#include "smb_int.h"

/* ---- path locks ---- */

/* Whether a and b are one path, or one is below the other ("" is the
 * root, above everything). */
static int smb_overlap1(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t n = la < lb ? la : lb;

	if (!n)
		return 1;
	if (memcmp(a, b, n) != 0)
		return 0;
	return la == lb || (la < lb ? b[la] : a[lb]) == '/';
}

/* Whether a is b or below it. */
static int smb_under(const char *a, const char *b)
{
	size_t lb = strlen(b);

	return !lb || (strncmp(a, b, lb) == 0 && (!a[lb] || a[lb] == '/'));
}

/* Whether a lock of kind ka on a excludes one of kind kb on b. */
static int smb_excludes(int ka, const char *a, int kb, const char *b)
{
	if (ka == SMB_LOCK_SHARED && kb == SMB_LOCK_SHARED)
		return 0;
	if (ka == SMB_LOCK_SHARED || kb == SMB_LOCK_SHARED) {
		/* A read and an exclusive lock at or above it. */
		if (ka == SMB_LOCK_EXCL)
			return smb_under(b, a);
		if (kb == SMB_LOCK_EXCL)
			return smb_under(a, b);
		return 0;
	}
	if (ka == SMB_LOCK_UPLOAD && kb == SMB_LOCK_UPLOAD)
		return strcmp(a, b) == 0;
	return smb_overlap1(a, b);
}

static int smb_conflict(const struct smb_plock *a, const struct smb_plock *b)
{
	const char *pa[2] = {a->path, a->path2}, *pb[2] = {b->path, b->path2};

	for (int j = 0; j < 2 && pa[j]; j++)
		for (int k = 0; k < 2 && pb[k]; k++)
			if (smb_excludes(a->kind, pa[j], b->kind, pb[k]))
				return 1;
	return 0;
}

/*
 * Whether l waits (lock held): for a conflicting lock that is held, or a
 * conflicting one not shared that asked before it.  A waiter never waits
 * for a later one or for a shared one that waits too, so there is no
 * cycle.
 */
static int smb_blocked(const struct smb_vol *v, const struct smb_plock *l)
{
	for (const struct smb_plock *m = v->locks; m; m = m->next) {
		if (m == l || !smb_conflict(l, m))
			continue;
		if (m->active ||
		    (m->kind != SMB_LOCK_SHARED && m->seq < l->seq))
			return 1;
	}
	return 0;
}

static void smb_lock_del(struct smb_vol *v, struct smb_plock *l)
{
	for (struct smb_plock **pp = &v->locks; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	pthread_cond_broadcast(&v->cond);
}

/*
 * Dooms the read handles at or below l's paths and waits until they are
 * closed (lock held, let go meanwhile): those of a free connection here,
 * those of a busy one by its borrower, between two requests at most.
 */
static int smb_rh_doom(struct smb_vol *v, const struct smb_plock *l,
		       int64_t deadline)
{
	for (unsigned i = 0; i < v->nconns; i++) {
		struct smb_conn *c = &v->conn[i];

		for (unsigned k = 0; k < SMB_RH_MAX && c->rh_n; k++)
			if (c->rh[k].path && !c->rh[k].doomed &&
			    (smb_under(c->rh[k].path, l->path) ||
			     (l->path2 &&
			      smb_under(c->rh[k].path, l->path2)))) {
				c->rh[k].doomed = 1;
				c->doomed++;
			}
	}
	for (;;) {
		unsigned i, busy = 0;

		for (i = 0; i < v->nconns; i++) {
			if (!v->conn[i].doomed)
				continue;
			if (!v->conn[i].busy)
				break;
			busy++;
		}
		if (i < v->nconns) {
			/* Borrowing and giving back closes them. */
			pthread_mutex_unlock(&v->lock);
			if (smb_take(v, i) == 0)
				smb_put(v, i);
			pthread_mutex_lock(&v->lock);
			continue;
		}
		if (!busy)
			return 0;
		if (smb_wait(v, deadline))
			return -ETIMEDOUT;
	}
}

/* Waits until l may be held, and holds it (lock held). */
static int smb_lock_wait(struct smb_vol *v, struct smb_plock *l,
			 int64_t deadline)
{
	int rc;

	l->active = 0;
	while (smb_blocked(v, l)) {
		rc = smb_wait(v, deadline);
		if (rc)
			return rc;
	}
	l->active = 1;
	if (l->kind == SMB_LOCK_EXCL)
		return smb_rh_doom(v, l, deadline);
	return 0;
}

int smb_lock(struct smb_vol *v, struct smb_plock *l, int64_t deadline)
{
	int rc;

	pthread_mutex_lock(&v->lock);
	l->seq = ++v->lock_seq;
	l->next = v->locks;
	v->locks = l;
	rc = smb_lock_wait(v, l, deadline);
	if (rc)
		smb_lock_del(v, l);
	pthread_mutex_unlock(&v->lock);
	return rc;
}

int smb_lock_excl(struct smb_vol *v, struct smb_plock *l, int64_t deadline)
{
	int kind = l->kind, rc;

	pthread_mutex_lock(&v->lock);
	l->kind = SMB_LOCK_EXCL;
	rc = smb_lock_wait(v, l, deadline);
	if (rc) {
		l->kind = kind;
		l->active = 1;
		pthread_cond_broadcast(&v->cond);
	}
	pthread_mutex_unlock(&v->lock);
	return rc;
}

void smb_unlock(struct smb_vol *v, struct smb_plock *l)
{
	pthread_mutex_lock(&v->lock);
	smb_lock_del(v, l);
	pthread_mutex_unlock(&v->lock);
}

/* ---- read handles ---- */

/*
 * A slot is filled and emptied by the connection's borrower only, under
 * the volume's lock; others only read it and set doomed under that lock.
 * So the borrower closes a handle outside the lock, and empties its slot
 * (and counts a doomed one as gone) only after the server has it closed.
 */
static void smb_rh_gone(struct smb_vol *v, struct smb_conn *c, struct smb_rh *r)
{
	free(r->path);
	if (r->doomed) {
		c->doomed--;
		pthread_cond_broadcast(&v->cond);
	}
	memset(r, 0, sizeof(*r));
	c->rh_n--;
}

void smb_rh_close(struct smb_vol *v, unsigned i, struct smb_rh *r)
{
	struct smb_conn *c = &v->conn[i];

	smbc_getFunctionClose(c->ctx)(c->ctx, r->h);
	pthread_mutex_lock(&v->lock);
	smb_rh_gone(v, c, r);
	pthread_mutex_unlock(&v->lock);
}

void smb_rh_service(struct smb_vol *v, unsigned i)
{
	struct smb_conn *c = &v->conn[i];
	unsigned idx[SMB_RH_MAX], n = 0;

	pthread_mutex_lock(&v->lock);
	for (unsigned k = 0; k < SMB_RH_MAX && c->doomed; k++)
		if (c->rh[k].path && c->rh[k].doomed)
			idx[n++] = k;
	pthread_mutex_unlock(&v->lock);
	for (unsigned j = 0; j < n; j++)
		smb_rh_close(v, i, &c->rh[idx[j]]);
}

struct smb_rh *smb_rh_find(struct smb_vol *v, unsigned i, const char *path,
			   const char *version)
{
	struct smb_conn *c = &v->conn[i];
	struct smb_rh *r = NULL;
	int64_t now = smb_now_ms();

	pthread_mutex_lock(&v->lock);
	for (unsigned k = 0; k < SMB_RH_MAX && c->rh_n && !r; k++)
		if (c->rh[k].path && !c->rh[k].doomed &&
		    strcmp(c->rh[k].path, path) == 0 &&
		    strcmp(c->rh[k].version, version) == 0)
			r = &c->rh[k];
	if (r)
		r->used_ms = now;
	pthread_mutex_unlock(&v->lock);
	/* Old enough that the file may have been replaced by another
	 * client with nothing to show for it in its version. */
	if (r && now - r->opened_ms > SMB_RH_AGE_MS) {
		smb_rh_close(v, i, r);
		r = NULL;
	}
	return r;
}

void smb_rh_keep(struct smb_vol *v, unsigned i, const char *path,
		 const char *version, SMBCFILE *h)
{
	struct smb_conn *c = &v->conn[i];
	char *copy = strdup(path);
	struct smb_rh *r = NULL;
	int64_t now = smb_now_ms();

	if (!copy || strlen(version) >= sizeof(r->version)) {
		free(copy);
		smbc_getFunctionClose(c->ctx)(c->ctx, h);
		return;
	}
	smb_rh_service(v, i);
	pthread_mutex_lock(&v->lock);
	for (unsigned k = 0; k < SMB_RH_MAX && !r; k++)
		if (!c->rh[k].path)
			r = &c->rh[k];
	pthread_mutex_unlock(&v->lock);
	if (!r) {
		/* Full: the least recently used one goes. */
		r = &c->rh[0];
		for (unsigned k = 1; k < SMB_RH_MAX; k++)
			if (c->rh[k].used_ms < r->used_ms)
				r = &c->rh[k];
		smb_rh_close(v, i, r);
	}
	pthread_mutex_lock(&v->lock);
	r->path = copy;
	snprintf(r->version, sizeof(r->version), "%s", version);
	r->h = h;
	r->opened_ms = r->used_ms = now;
	r->doomed = 0;
	c->rh_n++;
	pthread_mutex_unlock(&v->lock);
}

/* Whether r is a read handle the janitor closes. */
static int smb_rh_stale(const struct smb_rh *r, int64_t now)
{
	return r->path && (now - r->used_ms > SMB_RH_IDLE_MS ||
			   now - r->opened_ms > SMB_RH_AGE_MS);
}

/* ---- orphans ---- */

void smb_orphan(struct smb_vol *v, const char *path)
{
	char *copy = strdup(path);

	pthread_mutex_lock(&v->lock);
	if (copy && v->norphans < SMB_ORPHANS) {
		v->orphans[v->norphans++] = copy;
		copy = NULL;
	}
	pthread_mutex_unlock(&v->lock);
	if (copy) {
		v->log(VOLFS_LOG_INFO, "smb: '%s' stays on the share", path);
		free(copy);
	}
}

/* Tries to remove the orphans (lock held, let go meanwhile); those the
 * server does not take stay for the next try. */
static void smb_orphans_remove(struct smb_vol *v)
{
	char *stale[SMB_ORPHANS];
	unsigned n;
	int i;

	pthread_mutex_unlock(&v->lock);
	i = smb_tryget(v);
	pthread_mutex_lock(&v->lock);
	if (i < 0)
		return;
	n = v->norphans;
	memcpy(stale, v->orphans, n * sizeof(*stale));
	v->norphans = 0;
	pthread_mutex_unlock(&v->lock);
	for (unsigned k = 0; k < n; k++) {
		int rc = smb_unlink_raw(v, (unsigned)i, stale[k],
					volfs_store_deadline(v->p.timeout_ms));

		if (rc == 0 || rc == -ENOENT) {
			free(stale[k]);
			stale[k] = NULL;
		}
	}
	smb_put(v, (unsigned)i);
	pthread_mutex_lock(&v->lock);
	for (unsigned k = 0; k < n; k++) {
		if (!stale[k])
			continue;
		if (v->norphans < SMB_ORPHANS) {
			v->orphans[v->norphans++] = stale[k];
			continue;
		}
		v->log(VOLFS_LOG_INFO, "smb: '%s' stays on the share", stale[k]);
		free(stale[k]);
	}
}

/*
 * A handle open keeps other clients from removing or replacing the file,
 * so none stays open long after its last read, even on a connection
 * nobody borrows.
 */
void *smb_janitor(void *arg)
{
	struct smb_vol *v = arg;
	int64_t orphans_ms = 0;
	struct timespec ts;

	pthread_mutex_lock(&v->lock);
	while (!v->stop) {
		int64_t now = smb_now_ms();

		if (v->norphans && now - orphans_ms >= SMB_ORPHAN_RETRY_MS) {
			orphans_ms = now;
			smb_orphans_remove(v);
		}

		for (unsigned i = 0; i < v->nconns && !v->stop; i++) {
			struct smb_conn *c = &v->conn[i];
			int stale = 0;

			for (unsigned k = 0; k < SMB_RH_MAX && c->rh_n; k++)
				stale |= smb_rh_stale(&c->rh[k], now);
			if (!stale || c->busy)
				continue;
			pthread_mutex_unlock(&v->lock);
			if (smb_take(v, i) == 0) {
				for (unsigned k = 0; k < SMB_RH_MAX; k++)
					if (smb_rh_stale(&c->rh[k], now))
						smb_rh_close(v, i, &c->rh[k]);
				smb_put(v, i);
			}
			pthread_mutex_lock(&v->lock);
		}
		/* Its own condition: the volume's is signalled at every
		 * request. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += (long)SMB_RH_IDLE_MS / 2 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&v->jcond, &v->lock, &ts);
	}
	pthread_mutex_unlock(&v->lock);
	return NULL;
}
