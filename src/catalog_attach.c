/* SPDX-License-Identifier: MIT */
/*
 * Attachments and references: who uses which volume, recorded whole
 * (attach, detach) or counted (ref, unref, and refs, which applies many
 * reference changes of concurrent Docker requests in one transaction).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "catalog_int.h"
#include "volfs/util.h"

/* The owner's start time: the one given, else the owner's current one. */

/*
 * The error for consumer holding no reference of volume: that the volume
 * does not exist, when it does not.
 */
static int cat_not_attached(struct volfs_catalog *cat, const char *volume,
			    const char *consumer, struct volfs_err *err)
{
	int rc = cat_state(cat, volume, err);

	if (rc == -ENOENT)
		return cat_no_volume(volume, err);
	if (rc < 0)
		return rc;
	return volfs_err_set(err, -ENOENT,
			     "volume '%s' is not attached to '%s'", volume,
			     consumer);
}
static uint64_t cat_owner_start(const struct volfs_attachment *a)
{
	if (a->pid_start || a->pid == 0)
		return a->pid_start;
	return volfs_pid_start(a->pid);
}

/* Binds ?1..?7 to volume, consumer, target, readonly, since, pid, start. */
static void cat_bind_attachment(sqlite3_stmt *st,
				const struct volfs_attachment *a)
{
	cat_bind_str(st, 1, a->volume);
	cat_bind_str(st, 2, a->consumer);
	cat_bind_str(st, 3, a->target);
	sqlite3_bind_int(st, 4, a->readonly ? 1 : 0);
	sqlite3_bind_int64(st, 5, a->since > 0 ? a->since : time(NULL));
	sqlite3_bind_int64(st, 6, a->pid);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)cat_owner_start(a));
}

/* Checks that volume a->volume may take a new attachment. */
static int cat_attach_state_check(struct volfs_catalog *cat,
				  const struct volfs_attachment *a,
				  struct volfs_err *err)
{
	int state = cat_state(cat, a->volume, err);

	if (state == -ENOENT)
		return cat_no_volume(a->volume, err);
	if (state < 0)
		return state;
	if (state != VOLFS_VOL_READY)
		return volfs_err_set(err, -EBUSY,
				     "volume '%s' is %s: wait for it, then "
				     "try again",
				     a->volume, cat_state_name(state));
	return 0;
}

/* Reaps, then checks that volume a->volume may take a new attachment. */
static int cat_attach_check(struct volfs_catalog *cat,
			    const struct volfs_attachment *a,
			    struct volfs_err *err)
{
	int rc = cat_reap_locked(cat, err);

	if (rc < 0)
		return rc;
	return cat_attach_state_check(cat, a, err);
}

static int cat_attach_locked(struct volfs_catalog *cat, void *arg,
			     struct volfs_err *err)
{
	const struct volfs_attachment *a = arg;
	sqlite3_stmt *st;
	int rc;

	rc = cat_attach_check(cat, a, err);
	if (rc < 0)
		return rc;
	rc = cat_prepare(cat,
			 "INSERT INTO attachments (volume, consumer, target, "
			 "readonly, since, pid, pid_start, ns) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, volfs_ns()) "
			 "ON CONFLICT (volume, consumer) DO UPDATE SET "
			 "target = excluded.target, "
			 "readonly = excluded.readonly, "
			 "since = excluded.since, pid = excluded.pid, "
			 "pid_start = excluded.pid_start, ns = excluded.ns",
			 &st, err);
	if (rc < 0)
		return rc;
	cat_bind_attachment(st, a);
	rc = cat_step(cat, st, err);
	cat_finish(cat, st);
	return rc < 0 ? rc : 0;
}

/* Checks an attachment's fields and names the operation for messages. */
static int cat_attach_args(struct volfs_catalog *cat,
			   const struct volfs_attachment *a,
			   struct volfs_err *err)
{
	if (!a->volume)
		return volfs_err_set(err, -EINVAL,
				     "cannot attach: no volume given");
	if (!a->consumer || !*a->consumer)
		return volfs_err_set(err, -EINVAL,
				     "cannot attach volume '%s': no consumer "
				     "given",
				     a->volume);
	cat_op(cat, "cannot attach volume '%s'", a->volume);
	return 0;
}

int volfs_catalog_attach(struct volfs_catalog *cat,
			 const struct volfs_attachment *a,
			 struct volfs_err *err)
{
	int rc;

	rc = cat_attach_args(cat, a, err);
	if (rc < 0)
		return rc;
	return cat_txn(cat, cat_attach_locked, (void *)a, NULL, err);
}

struct cat_detach_arg {
	const char *volume;
	const char *consumer;
};

static int cat_detach_locked(struct volfs_catalog *cat, void *arg,
			     struct volfs_err *err)
{
	struct cat_detach_arg *a = arg;
	int rc;

	rc = cat_run(cat,
		     "DELETE FROM attachments "
		     "WHERE volume = ?1 AND consumer = ?2",
		     a->volume, a->consumer, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	return cat_not_attached(cat, a->volume, a->consumer, err);
}

int volfs_catalog_detach(struct volfs_catalog *cat, const char *volume,
			 const char *consumer, struct volfs_err *err)
{
	struct cat_detach_arg a = { .volume = volume, .consumer = consumer };

	cat_op(cat, "cannot detach '%s' from volume '%s'", consumer, volume);
	return cat_txn(cat, cat_detach_locked, &a, NULL, err);
}

/* Takes one more reference for op->a; the transaction is open and reaped. */
static int cat_ref_one(struct volfs_catalog *cat, struct volfs_refop *op)
{
	const struct volfs_attachment *a = &op->a;
	sqlite3_stmt *st;
	int rc;

	rc = cat_attach_state_check(cat, a, &op->err);
	if (rc < 0)
		return rc;
	rc = cat_prepare(cat,
			 "INSERT INTO attachments (volume, consumer, target, "
			 "readonly, since, pid, pid_start, mounts) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1) "
			 "ON CONFLICT (volume, consumer) DO UPDATE SET "
			 "mounts = mounts + 1 RETURNING mounts",
			 &st, &op->err);
	if (rc < 0)
		return rc;
	cat_bind_attachment(st, a);
	rc = cat_step(cat, st, &op->err);
	if (rc == 1)
		rc = sqlite3_column_int(st, 0);
	else if (rc == 0)
		rc = volfs_err_set(&op->err, -EIO, "%s: no row was written",
				   cat->op);
	cat_finish(cat, st);
	return rc;
}

/* Drops one reference of op->a.consumer on op->a.volume. */
static int cat_unref_one(struct volfs_catalog *cat, struct volfs_refop *op)
{
	const struct volfs_attachment *a = &op->a;
	struct volfs_err *err = &op->err;
	sqlite3_stmt *st;
	int rc, left = 0;

	rc = cat_prepare(cat,
			 "UPDATE attachments SET mounts = mounts - 1 "
			 "WHERE volume = ?1 AND consumer = ?2 "
			 "RETURNING mounts",
			 &st, err);
	if (rc < 0)
		return rc;
	cat_bind_str(st, 1, a->volume);
	cat_bind_str(st, 2, a->consumer);
	rc = cat_step(cat, st, err);
	if (rc == 1)
		left = sqlite3_column_int(st, 0);
	cat_finish(cat, st);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return cat_not_attached(cat, a->volume, a->consumer, err);
	if (left > 0)
		return left;
	rc = cat_run(cat,
		     "DELETE FROM attachments "
		     "WHERE volume = ?1 AND consumer = ?2",
		     a->volume, a->consumer, err);
	return rc < 0 ? rc : 0;
}

struct cat_refs_arg {
	struct volfs_refop **ops;
	size_t n;
};

static int cat_refs_locked(struct volfs_catalog *cat, void *arg,
			   struct volfs_err *err)
{
	struct cat_refs_arg *r = arg;

	/* No reaping here: Docker's references have no owner process to
	 * outlive, and every other write reaps. */
	for (size_t i = 0; i < r->n; i++) {
		struct volfs_refop *op = r->ops[i];

		volfs_err_clear(&op->err);
		cat->busy = 0;
		op->rc = op->unref ? cat_unref_one(cat, op) :
				     cat_ref_one(cat, op);
		/* An answer about this one op, or a failure of the database
		 * that ends the whole transaction (and may be retried). */
		if (op->rc >= 0 || op->rc == -ENOENT ||
		    (op->rc == -EBUSY && !cat->busy))
			continue;
		volfs_err_set(err, op->rc, "%s", op->err.msg);
		return op->rc;
	}
	return 0;
}

/*
 * A write transaction committed without waiting for the disk (WAL with
 * synchronous=NORMAL): it survives a crash of any process, and only a power
 * loss may forget it.  For references that die with the machine anyway
 * (Docker's mounts of containers), at a rate a busy Docker host needs.
 */
static int cat_light_txn(struct volfs_catalog *cat, cat_txn_fn fn, void *arg,
			 struct volfs_err *err)
{
	int rc;

	/* cat_txn_begin(), not cat_txn(): these do not reap. */
	if (cat_run(cat, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) < 0)
		return cat_txn_begin(cat, "BEGIN IMMEDIATE", fn, arg, NULL,
				     err);
	rc = cat_txn_begin(cat, "BEGIN IMMEDIATE", fn, arg, NULL, err);
	cat_run(cat, "PRAGMA synchronous = FULL", NULL, NULL, NULL);
	return rc;
}

int volfs_catalog_refs(struct volfs_catalog *cat, struct volfs_refop **ops,
		       size_t n, struct volfs_err *err)
{
	struct cat_refs_arg r = { .ops = ops, .n = n };

	for (size_t i = 0; i < n; i++) {
		const struct volfs_attachment *a = &ops[i]->a;

		if (!a->volume || !a->consumer || !*a->consumer)
			return volfs_err_set(err, -EINVAL,
					     "cannot change a reference: no "
					     "volume or consumer given");
	}
	cat_op(cat, "cannot record %zu volume reference change(s)", n);
	return cat_light_txn(cat, cat_refs_locked, &r, err);
}

/* One op through volfs_catalog_refs(): its result, its message in err. */
static int cat_refs_one(struct volfs_catalog *cat, struct volfs_refop *op,
			struct volfs_err *err)
{
	int rc = volfs_catalog_refs(cat, &op, 1, err);

	if (rc < 0)
		return rc;
	if (op->rc < 0)
		volfs_err_set(err, op->rc, "%s", op->err.msg);
	return op->rc;
}

int volfs_catalog_ref(struct volfs_catalog *cat,
		      const struct volfs_attachment *a, struct volfs_err *err)
{
	struct volfs_refop op = { .a = *a };

	return cat_refs_one(cat, &op, err);
}

int volfs_catalog_unref(struct volfs_catalog *cat, const char *volume,
			const char *consumer, struct volfs_err *err)
{
	struct volfs_refop op = {
		.a = { .volume = (char *)volume, .consumer = (char *)consumer },
		.unref = 1,
	};

	return cat_refs_one(cat, &op, err);
}

struct cat_attachments_arg {
	const char *volume;
	struct volfs_attachment *a;
	size_t n;
};

static void cat_attachments_undo(void *arg)
{
	struct cat_attachments_arg *a = arg;

	volfs_attachments_free(a->a, a->n);
	a->a = NULL;
	a->n = 0;
}

static int cat_attachment_row(sqlite3_stmt *st, struct volfs_attachment *a)
{
	memset(a, 0, sizeof(*a));
	if (cat_col_dup(st, 0, &a->volume) < 0 ||
	    cat_col_dup(st, 1, &a->consumer) < 0 ||
	    cat_col_dup(st, 2, &a->target) < 0 || !a->volume || !a->consumer) {
		volfs_attachment_release(a);
		return -ENOMEM;
	}
	a->readonly = sqlite3_column_int(st, 3);
	a->since = sqlite3_column_int64(st, 4);
	a->pid = (pid_t)sqlite3_column_int64(st, 5);
	a->pid_start = (uint64_t)sqlite3_column_int64(st, 6);
	a->mounts = (unsigned)sqlite3_column_int(st, 7);
	return 0;
}

static int cat_attachments_locked(struct volfs_catalog *cat, void *arg,
				  struct volfs_err *err)
{
	struct cat_attachments_arg *a = arg;
	size_t alloc = 0;
	sqlite3_stmt *st;
	int rc;

	rc = cat_reap_locked(cat, err);
	if (rc < 0)
		return rc;
	if (a->volume) {
		rc = cat_state(cat, a->volume, err);
		if (rc == -ENOENT)
			return cat_no_volume(a->volume, err);
		if (rc < 0)
			return rc;
	}
	rc = cat_prepare(cat,
			 "SELECT volume, consumer, target, readonly, since, "
			 "pid, pid_start, mounts FROM attachments "
			 "WHERE ?1 IS NULL OR volume = ?1 "
			 "ORDER BY volume, since, consumer",
			 &st, err);
	if (rc < 0)
		return rc;
	cat_bind_str(st, 1, a->volume);
	while ((rc = cat_step(cat, st, err)) == 1) {
		struct volfs_attachment *grown =
			cat_grow(a->a, &alloc, a->n, sizeof(*a->a));

		if (!grown) {
			rc = cat_oom(err);
			break;
		}
		a->a = grown;
		if (cat_attachment_row(st, &a->a[a->n]) < 0) {
			rc = cat_oom(err);
			break;
		}
		a->n++;
	}
	cat_finish(cat, st);
	if (rc < 0) {
		cat_attachments_undo(a);
		return rc;
	}
	return (int)a->n;
}

int volfs_catalog_attachments(struct volfs_catalog *cat, const char *volume,
			      struct volfs_attachment **out,
			      struct volfs_err *err)
{
	struct cat_attachments_arg a = { .volume = volume };
	int rc;

	*out = NULL;
	if (volume)
		cat_op(cat, "cannot list the attachments of volume '%s'",
		       volume);
	else
		cat_op(cat, "cannot list attachments");
	rc = cat_txn(cat, cat_attachments_locked, &a, cat_attachments_undo,
		     err);
	if (rc >= 0)
		*out = a.a;
	return rc;
}
