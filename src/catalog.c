/* SPDX-License-Identifier: MIT */
/*
 * The catalog in SQLite: volumes and servers, and the SQL helpers the other
 * files of the catalog share (catalog_int.h).  These
 * files are the only ones of volfs that know SQLite: every result code is
 * turned into an errno in cat_fail().
 *
 * Every transaction, even one that only reads, starts with BEGIN IMMEDIATE:
 * the reads reap dead owners first, and a deferred read transaction that
 * later writes can fail with SQLITE_BUSY in WAL mode without the busy
 * handler ever being called.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "catalog_int.h"
#include "volfs/util.h"

static const char *const cat_state_names[] = {
	[VOLFS_VOL_CREATING] = "being created",
	[VOLFS_VOL_READY] = "ready",
	[VOLFS_VOL_REMOVING] = "being removed",
};

const char *cat_state_name(int state)
{
	if (state < 0 || state >= (int)CAT_ARRAY_SIZE(cat_state_names))
		return "in an unknown state";
	return cat_state_names[state];
}

int64_t cat_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps a few milliseconds, longer after each try, jittered so processes
 * that collided do not collide again. */
void cat_nap(int attempt)
{
	struct timespec ts;
	long ms = 2 + (attempt < 6 ? attempt * 4 : 24);

	ms += (long)((unsigned)getpid() * 7u + (unsigned)attempt * 13u) % 7;
	ts.tv_sec = 0;
	ts.tv_nsec = ms * 1000000L;
	nanosleep(&ts, NULL);
}

int cat_is_busy(int rc)
{
	rc &= 0xff;
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED ||
	       rc == SQLITE_PROTOCOL;
}

/* Says what the public call now running does, for cat_fail(). */
void cat_op(struct volfs_catalog *cat, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cat->op, sizeof(cat->op), fmt, ap);
	va_end(ap);
}

/*
 * Why the file system refused the catalog, as an errno, when SQLite's own
 * answer hides it: a read-only state root shows as "unable to open" with
 * ENOENT (the -shm file cannot be made), a full one as "disk I/O error".
 * 0 when nothing is wrong with the file system.
 */
static int cat_fs_cause(struct volfs_catalog *cat, int sys)
{
	struct statvfs sv;

	if (sys == EROFS || sys == ENOSPC || sys == EDQUOT || sys == EACCES ||
	    sys == EPERM)
		return sys;
	if (!cat->root)
		return 0;
	if (statvfs(cat->root, &sv) == 0) {
		if (sv.f_flag & ST_RDONLY)
			return EROFS;
		if ((geteuid() == 0 ? sv.f_bfree : sv.f_bavail) == 0)
			return ENOSPC;
	}
	if (access(cat->root, W_OK | X_OK) < 0 &&
	    (errno == EACCES || errno == EROFS))
		return errno;
	if (access(cat->path, R_OK | W_OK) < 0 &&
	    (errno == EACCES || errno == EROFS))
		return errno;
	return 0;
}

/* The message for a catalog the file system refused with errno sys. */
static int cat_fail_fs(struct volfs_catalog *cat, int sys,
		       struct volfs_err *err)
{
	const char *what = cat->op, *path = cat->path;

	switch (sys) {
	case EROFS:
		return volfs_err_set(err, -EROFS,
				     "%s: catalog '%s' is on a read-only file "
				     "system: remount it read-write, or use "
				     "another --root",
				     what, path);
	case ENOSPC:
	case EDQUOT:
		return volfs_err_set(err, -ENOSPC,
				     "%s: catalog '%s': %s on its file "
				     "system: free some space there, then try "
				     "again",
				     what, path,
				     sys == EDQUOT ? "disk quota exceeded" :
						     "no space left");
	default:
		return volfs_err_set(err, -EACCES,
				     "%s: catalog '%s': permission denied: run "
				     "volfs as the user that owns the state "
				     "root, or use another --root",
				     what, path);
	}
}

/*
 * The one place where an SQLite result code becomes -errno and a message,
 * which starts with cat->op.
 */
int cat_fail(struct volfs_catalog *cat, int rc, struct volfs_err *err)
{
	const char *msg =
		cat->db ? sqlite3_errmsg(cat->db) : sqlite3_errstr(rc);
	int sys = cat->db ? sqlite3_system_errno(cat->db) : 0;
	const char *path = cat->path, *what = cat->op;
	int cause;

	if (cat_is_busy(rc)) {
		cat->busy = 1;
		return volfs_err_set(err, -EBUSY,
				     "%s: catalog '%s' is busy (another volfs "
				     "process is using it) and waiting did "
				     "not help: try again",
				     what, path);
	}
	switch (rc & 0xff) {
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_PERM:
		cause = cat_fs_cause(cat, sys);
		if (cause)
			return cat_fail_fs(cat, cause, err);
		break;
	}
	switch (rc & 0xff) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return volfs_err_set(err, -EIO,
				     "%s: catalog '%s' is damaged (%s): "
				     "restore it from a backup, or move it "
				     "away to start an empty catalog",
				     what, path, msg);
	case SQLITE_CANTOPEN:
		return volfs_err_set(err, sys == ENOENT ? -ENOENT : -EACCES,
				     "cannot open catalog '%s': %s: check "
				     "that the state root is accessible, or "
				     "use another --root",
				     path, sys ? strerror(sys) : msg);
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return volfs_err_set(err, -EACCES,
				     "%s: catalog '%s': %s: check its "
				     "permissions",
				     what, path, msg);
	case SQLITE_FULL:
		return cat_fail_fs(cat, ENOSPC, err);
	case SQLITE_READONLY:
		return volfs_err_set(err, -EROFS,
				     "%s: catalog '%s' cannot be written (%s): "
				     "run volfs as a user that may write it, "
				     "or use another --root",
				     what, path, msg);
	case SQLITE_NOMEM:
		return volfs_err_set(err, -ENOMEM,
				     "%s: out of memory reading catalog '%s'",
				     what, path);
	default:
		return volfs_err_set(err, -EIO, "%s: catalog '%s': %s", what,
				     path, msg);
	}
}

int cat_oom(struct volfs_err *err)
{
	return volfs_err_set(err, -ENOMEM, "out of memory");
}

/*
 * Returns the array arr (n elements of size elem used, *alloc allocated)
 * with room for one more, doubled when full; NULL, arr untouched, when out
 * of memory.
 */
void *cat_grow(void *arr, size_t *alloc, size_t n, size_t elem)
{
	size_t na;

	if (n < *alloc)
		return arr;
	na = *alloc ? *alloc * 2 : 8;
	arr = realloc(arr, na * elem);
	if (arr)
		*alloc = na;
	return arr;
}

/*
 * Prepares sql into *st, reusing a statement prepared before when one is
 * free; give it back with cat_finish().
 */
int cat_prepare(struct volfs_catalog *cat, const char *sql, sqlite3_stmt **st,
		struct volfs_err *err)
{
	char *copy;
	size_t i;
	int rc;

	for (i = 0; i < cat->nstc; i++) {
		if (cat->stc[i].busy || strcmp(cat->stc[i].sql, sql) != 0)
			continue;
		cat->stc[i].busy = 1;
		*st = cat->stc[i].st;
		return 0;
	}
	/* SQL may be built on the caller's stack: the cache keeps a copy. */
	copy = cat->nstc < CAT_STMT_CACHE ? strdup(sql) : NULL;
	rc = sqlite3_prepare_v3(cat->db, sql, -1,
				copy ? SQLITE_PREPARE_PERSISTENT : 0, st, NULL);
	if (rc != SQLITE_OK) {
		free(copy);
		return cat_fail(cat, rc, err);
	}
	if (copy) {
		cat->stc[cat->nstc].sql = copy;
		cat->stc[cat->nstc].st = *st;
		cat->stc[cat->nstc].busy = 1;
		cat->nstc++;
	}
	return 0;
}

/* Gives back a statement from cat_prepare(). */
void cat_finish(struct volfs_catalog *cat, sqlite3_stmt *st)
{
	for (size_t i = 0; i < cat->nstc; i++) {
		if (cat->stc[i].st != st)
			continue;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		cat->stc[i].busy = 0;
		return;
	}
	/* Prepared when the cache was full: used once. */
	sqlite3_finalize(st);
}

/* Steps st once: 1 for a row, 0 when done, or -errno. */
int cat_step(struct volfs_catalog *cat, sqlite3_stmt *st,
		    struct volfs_err *err)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return cat_fail(cat, rc, err);
}

/* Runs sql, which may hold several statements (a migration), parsed anew
 * each time: the often repeated single statements go through cat_run(). */
int cat_exec(struct volfs_catalog *cat, const char *sql, struct volfs_err *err)
{
	int rc = sqlite3_exec(cat->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return cat_fail(cat, rc, err);
	return 0;
}

/* Copies text column col into *out (NULL for SQL NULL). */
int cat_col_dup(sqlite3_stmt *st, int col, char **out)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	*out = NULL;
	if (!s)
		return 0;
	*out = strdup((const char *)s);
	return *out ? 0 : -ENOMEM;
}

void cat_bind_str(sqlite3_stmt *st, int idx, const char *s)
{
	sqlite3_bind_text(st, idx, s, -1, SQLITE_STATIC);
}

/*
 * Runs one statement that returns no rows, with ?1 and ?2 bound to s1 and
 * s2 (those it has); returns how many rows it changed.
 */
int cat_run(struct volfs_catalog *cat, const char *sql, const char *s1,
	    const char *s2, struct volfs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	rc = cat_prepare(cat, sql, &st, err);
	if (rc < 0)
		return rc;
	cat_bind_str(st, 1, s1);
	cat_bind_str(st, 2, s2);
	while ((rc = cat_step(cat, st, err)) == 1)
		;
	cat_finish(cat, st);
	return rc < 0 ? rc : sqlite3_changes(cat->db);
}

/*
 * Runs a query with ?1 bound to s1 (if it has one) and returns the first
 * column of its first row, or -ENOENT (without a message) if it has none.
 */
int cat_int(struct volfs_catalog *cat, const char *sql, const char *s1,
	    struct volfs_err *err)
{
	sqlite3_stmt *st;
	int rc;

	rc = cat_prepare(cat, sql, &st, err);
	if (rc < 0)
		return rc;
	cat_bind_str(st, 1, s1);
	rc = cat_step(cat, st, err);
	if (rc == 1)
		rc = sqlite3_column_int(st, 0);
	else if (rc == 0)
		rc = -ENOENT;
	cat_finish(cat, st);
	return rc;
}

/*
 * Runs fn inside BEGIN IMMEDIATE ... COMMIT.  When SQLite stays busy beyond
 * its busy handler the whole transaction is run again, a few times, within
 * the busy timeout.  If the commit fails after fn succeeded, undo(arg) frees
 * what fn returned.
 */
int cat_txn_begin(struct volfs_catalog *cat, const char *begin, cat_txn_fn fn,
		  void *arg, void (*undo)(void *arg), struct volfs_err *err)
{
	int64_t deadline = cat_now_ms() + CAT_BUSY_MS;
	int rc;

	cat->ns = volfs_ns_id();
	for (int attempt = 0;; attempt++) {
		cat->busy = 0;
		cat->txn++;
		rc = cat_run(cat, begin, NULL, NULL, err);
		if (rc >= 0) {
			rc = fn(cat, arg, err);
			if (rc >= 0) {
				int crc = cat_run(cat, "COMMIT", NULL, NULL,
						  err);

				if (crc >= 0)
					return rc;
				if (undo)
					undo(arg);
				rc = crc;
			}
			if (!sqlite3_get_autocommit(cat->db))
				sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL,
					     NULL);
		}
		if (!cat->busy || attempt + 1 >= CAT_TXN_TRIES ||
		    cat_now_ms() >= deadline)
			return rc;
		cat_nap(attempt);
	}
}

int cat_txn(struct volfs_catalog *cat, cat_txn_fn fn, void *arg,
	    void (*undo)(void *arg), struct volfs_err *err)
{
	/* Most write transactions reap: what reaping reads, read it before
	 * taking the lock that every other writer waits for. */
	cat_reap_prepare(cat);
	return cat_txn_begin(cat, "BEGIN IMMEDIATE", fn, arg, undo, err);
}

/* A read-only transaction: it takes no write lock, so readers never wait
 * for each other. */
static int cat_read_txn(struct volfs_catalog *cat, cat_txn_fn fn, void *arg,
			void (*undo)(void *arg), struct volfs_err *err)
{
	return cat_txn_begin(cat, "BEGIN DEFERRED", fn, arg, undo, err);
}

/* The state of volume name, or -ENOENT (without a message). */
int cat_state(struct volfs_catalog *cat, const char *name,
		     struct volfs_err *err)
{
	return cat_int(cat, "SELECT state FROM volumes WHERE name = ?1", name,
		       err);
}

int cat_no_volume(const char *name, struct volfs_err *err)
{
	return volfs_err_set(err, -ENOENT, "no such volume: '%s'", name);
}

static void cat_kvs_free(struct volfs_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((void *)kv[i].key);
		free((void *)kv[i].value);
	}
	free(kv);
}

void volfs_volume_release(struct volfs_volume *v)
{
	if (!v)
		return;
	free(v->name);
	free(v->backend);
	free(v->uuid);
	cat_kvs_free(v->opts, v->nopts);
	cat_kvs_free(v->labels, v->nlabels);
	memset(v, 0, sizeof(*v));
}

void volfs_volumes_free(struct volfs_volume *v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		volfs_volume_release(&v[i]);
	free(v);
}

void volfs_attachment_release(struct volfs_attachment *a)
{
	if (!a)
		return;
	free(a->volume);
	free(a->consumer);
	free(a->target);
	memset(a, 0, sizeof(*a));
}

void volfs_attachments_free(struct volfs_attachment *a, size_t n)
{
	if (!a)
		return;
	for (size_t i = 0; i < n; i++)
		volfs_attachment_release(&a[i]);
	free(a);
}

/* Checks that keys are present and unique; "what" is "option" or "label". */
static int cat_kvs_check(const struct volfs_kv *kv, size_t n, const char *what,
			 const char *name, struct volfs_err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!kv[i].key || !*kv[i].key || !kv[i].value)
			return volfs_err_set(err, -EINVAL,
					     "volume '%s': %s %zu has no key "
					     "or no value: give it as "
					     "key=value",
					     name, what, i + 1);
		for (size_t j = 0; j < i; j++)
			if (strcmp(kv[i].key, kv[j].key) == 0)
				return volfs_err_set(err, -EINVAL,
						     "volume '%s': %s '%s' is "
						     "given twice: give it "
						     "once",
						     name, what, kv[i].key);
	}
	return 0;
}

static int cat_kvs_insert(struct volfs_catalog *cat, const char *sql,
			  const char *name, const struct volfs_kv *kv, size_t n,
			  struct volfs_err *err)
{
	sqlite3_stmt *st;
	int rc = 0;

	if (n == 0)
		return 0;
	rc = cat_prepare(cat, sql, &st, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc >= 0; i++) {
		sqlite3_reset(st);
		cat_bind_str(st, 1, name);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
		cat_bind_str(st, 3, kv[i].key);
		cat_bind_str(st, 4, kv[i].value);
		rc = cat_step(cat, st, err);
	}
	cat_finish(cat, st);
	return rc < 0 ? rc : 0;
}

static int cat_reserve_locked(struct volfs_catalog *cat, void *arg,
			      struct volfs_err *err)
{
	const struct volfs_volume *v = arg;
	pid_t me = getpid();
	sqlite3_stmt *st;
	int rc;

	rc = cat_reap_locked(cat, err);
	if (rc < 0)
		return rc;
	rc = cat_prepare(cat,
			 "SELECT state, creator_pid FROM volumes "
			 "WHERE name = ?1",
			 &st, err);
	if (rc < 0)
		return rc;
	cat_bind_str(st, 1, v->name);
	rc = cat_step(cat, st, err);
	if (rc == 1 && sqlite3_column_int(st, 0) == VOLFS_VOL_CREATING)
		rc = volfs_err_set(err, -EEXIST,
				   "volume '%s' already exists (it is being "
				   "created by pid %d): choose another name",
				   v->name, sqlite3_column_int(st, 1));
	else if (rc == 1)
		rc = volfs_err_set(err, -EEXIST,
				   "volume '%s' already exists: choose another "
				   "name, or remove it first",
				   v->name);
	cat_finish(cat, st);
	if (rc < 0)
		return rc;

	rc = cat_prepare(cat,
			 "INSERT INTO volumes (name, backend, anonymous, "
			 "state, created, creator_pid, creator_start, ns, "
			 "uuid) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
			 "volfs_ns(), " CAT_NEW_UUID ")",
			 &st, err);
	if (rc < 0)
		return rc;
	cat_bind_str(st, 1, v->name);
	cat_bind_str(st, 2, v->backend);
	sqlite3_bind_int(st, 3, v->anonymous ? 1 : 0);
	sqlite3_bind_int(st, 4, VOLFS_VOL_CREATING);
	sqlite3_bind_int64(st, 5, v->created > 0 ? v->created : time(NULL));
	sqlite3_bind_int64(st, 6, me);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)volfs_pid_start(me));
	rc = cat_step(cat, st, err);
	cat_finish(cat, st);
	if (rc < 0)
		return rc;
	rc = cat_kvs_insert(cat,
			    "INSERT INTO volume_options (volume, pos, key, "
			    "value) VALUES (?1, ?2, ?3, ?4)",
			    v->name, v->opts, v->nopts, err);
	if (rc < 0)
		return rc;
	return cat_kvs_insert(cat,
			      "INSERT INTO volume_labels (volume, pos, key, "
			      "value) VALUES (?1, ?2, ?3, ?4)",
			      v->name, v->labels, v->nlabels, err);
}

int volfs_catalog_reserve(struct volfs_catalog *cat,
			  const struct volfs_volume *v, struct volfs_err *err)
{
	int rc;

	rc = volfs_name_check(v->name, err);
	if (rc < 0)
		return rc;
	if (!v->backend || !*v->backend)
		return volfs_err_set(err, -EINVAL,
				     "volume '%s' has no backend: give one "
				     "with -b",
				     v->name);
	rc = cat_kvs_check(v->opts, v->nopts, "option", v->name, err);
	if (rc < 0)
		return rc;
	rc = cat_kvs_check(v->labels, v->nlabels, "label", v->name, err);
	if (rc < 0)
		return rc;
	cat_op(cat, "cannot create volume '%s'", v->name);
	return cat_txn(cat, cat_reserve_locked, (void *)v, NULL, err);
}

struct cat_state_arg {
	const char *name;
	enum volfs_volstate state;
};

static int cat_set_state_locked(struct volfs_catalog *cat, void *arg,
				struct volfs_err *err)
{
	struct cat_state_arg *a = arg;
	char sql[64];
	int old, rc;

	old = cat_state(cat, a->name, err);
	if (old == -ENOENT)
		return cat_no_volume(a->name, err);
	if (old < 0)
		return old;
	if (old == (int)a->state)
		return 0;
	/* Nothing goes back to CREATING: that would hand it to the reaper. */
	if (a->state == VOLFS_VOL_CREATING)
		return volfs_err_set(err, -EINVAL,
				     "volume '%s' is %s: it cannot be marked "
				     "as being created again",
				     a->name, cat_state_name(old));
	if (old == VOLFS_VOL_CREATING && a->state != VOLFS_VOL_READY)
		return volfs_err_set(err, -EINVAL,
				     "volume '%s' is being created: mark it "
				     "ready before removing it, or delete it",
				     a->name);
	snprintf(sql, sizeof(sql),
		 "UPDATE volumes SET state = %d WHERE name = ?1",
		 (int)a->state);
	rc = cat_run(cat, sql, a->name, NULL, err);
	return rc < 0 ? rc : 0;
}

int volfs_catalog_set_state(struct volfs_catalog *cat, const char *name,
			    enum volfs_volstate state, struct volfs_err *err)
{
	struct cat_state_arg a = { .name = name, .state = state };

	if ((int)state < 0 ||
	    (int)state >= (int)CAT_ARRAY_SIZE(cat_state_names))
		return volfs_err_set(err, -EINVAL,
				     "cannot move volume '%s' to unknown "
				     "state %d",
				     name, (int)state);
	cat_op(cat, "cannot change the state of volume '%s'", name);
	return cat_txn(cat, cat_set_state_locked, &a, NULL, err);
}

/* Builds "in use by A (pid 1), B (pid 2)" for begin_remove's refusal. */
static int cat_busy_msg(struct volfs_catalog *cat, const char *name,
			struct volfs_err *err)
{
	char users[640];
	size_t len = 0;
	int shown = 0, more = 0, rc;
	sqlite3_stmt *st;

	rc = cat_prepare(cat,
			 "SELECT consumer, pid FROM attachments "
			 "WHERE volume = ?1 ORDER BY since, consumer",
			 &st, err);
	if (rc < 0)
		return rc;
	cat_bind_str(st, 1, name);
	users[0] = '\0';
	while ((rc = cat_step(cat, st, err)) == 1) {
		const char *c = (const char *)sqlite3_column_text(st, 0);
		int n;

		if (more) {
			more++;
			continue;
		}
		/* Pid 0: no process owns it (a Docker mount). */
		if (sqlite3_column_int(st, 1) == 0)
			n = snprintf(users + len, sizeof(users) - len, "%s%s",
				     shown ? ", " : "", c ? c : "?");
		else
			n = snprintf(users + len, sizeof(users) - len,
				     "%s%s (pid %d)", shown ? ", " : "",
				     c ? c : "?", sqlite3_column_int(st, 1));
		if (n < 0 || (size_t)n >= sizeof(users) - len) {
			users[len] = '\0';
			more = 1;
			continue;
		}
		len += (size_t)n;
		shown++;
	}
	cat_finish(cat, st);
	if (rc < 0)
		return rc;
	if (more)
		return volfs_err_set(err, -EBUSY,
				     "volume '%s' is in use by %s and %d "
				     "more: stop them, or use -f to remove "
				     "it anyway",
				     name, users, more);
	return volfs_err_set(err, -EBUSY,
			     "volume '%s' is in use by %s: stop them, or use "
			     "-f to remove it anyway",
			     name, users);
}

struct cat_remove_arg {
	const char *name;
	int force;
};

static int cat_begin_remove_locked(struct volfs_catalog *cat, void *arg,
				   struct volfs_err *err)
{
	struct cat_remove_arg *a = arg;
	int state, rc;

	rc = cat_reap_locked(cat, err);
	if (rc < 0)
		return rc;
	state = cat_state(cat, a->name, err);
	if (state == -ENOENT)
		return cat_no_volume(a->name, err);
	if (state < 0)
		return state;
	if (state == VOLFS_VOL_CREATING)
		return volfs_err_set(err, -EBUSY,
				     "volume '%s' is being created: wait for "
				     "it, then try again",
				     a->name);
	/* Only one remover at a time; -f takes over an interrupted one. */
	if (state == VOLFS_VOL_REMOVING && !a->force)
		return volfs_err_set(err, -EBUSY,
				     "volume '%s' is being removed: wait for "
				     "it, or use -f if an earlier removal "
				     "was interrupted",
				     a->name);
	if (!a->force) {
		rc = cat_int(cat,
			     "SELECT count(*) FROM attachments "
			     "WHERE volume = ?1",
			     a->name, err);
		if (rc < 0)
			return rc;
		if (rc > 0)
			return cat_busy_msg(cat, a->name, err);
	}
	rc = cat_run(cat, "DELETE FROM attachments WHERE volume = ?1", a->name,
		     NULL, err);
	if (rc < 0)
		return rc;
	rc = cat_run(cat, "UPDATE volumes SET state = 2 WHERE name = ?1",
		     a->name, NULL, err);
	return rc < 0 ? rc : 0;
}

int volfs_catalog_begin_remove(struct volfs_catalog *cat, const char *name,
			       int force, struct volfs_err *err)
{
	struct cat_remove_arg a = { .name = name, .force = force };

	cat_op(cat, "cannot remove volume '%s'", name);
	return cat_txn(cat, cat_begin_remove_locked, &a, NULL, err);
}

static int cat_delete_locked(struct volfs_catalog *cat, void *arg,
			     struct volfs_err *err)
{
	const char *name = arg;
	int rc;

	rc = cat_run(cat, "DELETE FROM volumes WHERE name = ?1", name, NULL,
		     err);
	if (rc == 0)
		return cat_no_volume(name, err);
	return rc < 0 ? rc : 0;
}

int volfs_catalog_delete(struct volfs_catalog *cat, const char *name,
			 struct volfs_err *err)
{
	cat_op(cat, "cannot delete volume '%s'", name);
	return cat_txn(cat, cat_delete_locked, (void *)name, NULL, err);
}

/* Reads the key/value rows that sql selects for volume name. */
static int cat_kvs_load(struct volfs_catalog *cat, const char *sql,
			const char *name, struct volfs_kv **out, size_t *nout,
			struct volfs_err *err)
{
	struct volfs_kv *kv = NULL;
	size_t n = 0, alloc = 0;
	sqlite3_stmt *st;
	int rc;

	rc = cat_prepare(cat, sql, &st, err);
	if (rc < 0)
		return rc;
	cat_bind_str(st, 1, name);
	while ((rc = cat_step(cat, st, err)) == 1) {
		char *k, *v;

		if (n == alloc) {
			size_t na = alloc ? alloc * 2 : 4;
			struct volfs_kv *nkv = realloc(kv, na * sizeof(*kv));

			if (!nkv)
				goto err_oom;
			kv = nkv;
			alloc = na;
		}
		if (cat_col_dup(st, 0, &k) < 0)
			goto err_oom;
		if (cat_col_dup(st, 1, &v) < 0) {
			free(k);
			goto err_oom;
		}
		kv[n].key = k;
		kv[n].value = v;
		n++;
	}
	cat_finish(cat, st);
	if (rc < 0) {
		cat_kvs_free(kv, n);
		return rc;
	}
	*out = kv;
	*nout = n;
	return 0;

err_oom:
	cat_finish(cat, st);
	cat_kvs_free(kv, n);
	return cat_oom(err);
}

#define CAT_VOLUME_COLUMNS                                                     \
	"SELECT name, backend, anonymous, state, created, " CAT_REFCOUNT       \
	", uuid FROM volumes v "

/* Fills *v from a row of CAT_VOLUME_COLUMNS, with its options and labels. */
static int cat_volume_row(struct volfs_catalog *cat, sqlite3_stmt *st,
			  struct volfs_volume *v, struct volfs_err *err)
{
	int rc;

	memset(v, 0, sizeof(*v));
	if (cat_col_dup(st, 0, &v->name) < 0 ||
	    cat_col_dup(st, 1, &v->backend) < 0 || !v->name || !v->backend) {
		rc = cat_oom(err);
		goto err_release;
	}
	v->anonymous = sqlite3_column_int(st, 2);
	v->state = (enum volfs_volstate)sqlite3_column_int(st, 3);
	v->created = sqlite3_column_int64(st, 4);
	v->refcount = (unsigned)sqlite3_column_int(st, 5);
	if (cat_col_dup(st, 6, &v->uuid) < 0 || !v->uuid) {
		rc = cat_oom(err);
		goto err_release;
	}
	rc = cat_kvs_load(cat,
			  "SELECT key, value FROM volume_options "
			  "WHERE volume = ?1 ORDER BY pos",
			  v->name, &v->opts, &v->nopts, err);
	if (rc < 0)
		goto err_release;
	rc = cat_kvs_load(cat,
			  "SELECT key, value FROM volume_labels "
			  "WHERE volume = ?1 ORDER BY pos",
			  v->name, &v->labels, &v->nlabels, err);
	if (rc < 0)
		goto err_release;
	return 0;

err_release:
	volfs_volume_release(v);
	return rc;
}

struct cat_get_arg {
	const char *name;
	struct volfs_volume *out;
};

static int cat_peek_locked(struct volfs_catalog *cat, void *arg,
			   struct volfs_err *err);

static int cat_get_locked(struct volfs_catalog *cat, void *arg,
			  struct volfs_err *err)
{
	int rc;

	rc = cat_reap_locked(cat, err);
	if (rc < 0)
		return rc;
	return cat_peek_locked(cat, arg, err);
}

static int cat_peek_locked(struct volfs_catalog *cat, void *arg,
			   struct volfs_err *err)
{
	struct cat_get_arg *a = arg;
	sqlite3_stmt *st;
	int rc;

	rc = cat_prepare(cat, CAT_VOLUME_COLUMNS "WHERE name = ?1", &st, err);
	if (rc < 0)
		return rc;
	cat_bind_str(st, 1, a->name);
	rc = cat_step(cat, st, err);
	if (rc == 1)
		rc = cat_volume_row(cat, st, a->out, err);
	else if (rc == 0)
		rc = cat_no_volume(a->name, err);
	cat_finish(cat, st);
	return rc;
}

static void cat_get_undo(void *arg)
{
	struct cat_get_arg *a = arg;

	volfs_volume_release(a->out);
}

int volfs_catalog_get(struct volfs_catalog *cat, const char *name,
		      struct volfs_volume *out, struct volfs_err *err)
{
	struct cat_get_arg a = { .name = name, .out = out };

	memset(out, 0, sizeof(*out));
	cat_op(cat, "cannot read volume '%s'", name);
	return cat_txn(cat, cat_get_locked, &a, cat_get_undo, err);
}

int volfs_catalog_peek(struct volfs_catalog *cat, const char *name,
		       struct volfs_volume *out, struct volfs_err *err)
{
	struct cat_get_arg a = { .name = name, .out = out };

	memset(out, 0, sizeof(*out));
	cat_op(cat, "cannot read volume '%s'", name);
	return cat_read_txn(cat, cat_peek_locked, &a, cat_get_undo, err);
}

struct cat_list_arg {
	struct volfs_volume *v;
	size_t n;
};

static void cat_list_undo(void *arg)
{
	struct cat_list_arg *a = arg;

	volfs_volumes_free(a->v, a->n);
	a->v = NULL;
	a->n = 0;
}

static int cat_list_locked(struct volfs_catalog *cat, void *arg,
			   struct volfs_err *err)
{
	struct cat_list_arg *a = arg;
	size_t alloc = 0;
	sqlite3_stmt *st;
	int rc;

	rc = cat_reap_locked(cat, err);
	if (rc < 0)
		return rc;
	rc = cat_prepare(cat,
			 CAT_VOLUME_COLUMNS "WHERE state IN (1, 2) "
					    "ORDER BY name",
			 &st, err);
	if (rc < 0)
		return rc;
	while ((rc = cat_step(cat, st, err)) == 1) {
		struct volfs_volume *grown =
			cat_grow(a->v, &alloc, a->n, sizeof(*a->v));

		if (!grown) {
			rc = cat_oom(err);
			break;
		}
		a->v = grown;
		rc = cat_volume_row(cat, st, &a->v[a->n], err);
		if (rc < 0)
			break;
		a->n++;
	}
	cat_finish(cat, st);
	if (rc < 0) {
		cat_list_undo(a);
		return rc;
	}
	return (int)a->n;
}

struct cat_names_arg {
	char **v;
	size_t n;
};

static void cat_names_undo(void *arg)
{
	struct cat_names_arg *a = arg;

	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

/* A row's name and identity as one string each: "NAME\0UUID". */
static int cat_name_id(sqlite3_stmt *st, char **out)
{
	const char *name = (const char *)sqlite3_column_text(st, 0);
	const char *id = (const char *)sqlite3_column_text(st, 1);
	size_t ln, li;

	*out = NULL;
	if (!name)
		return 0;
	ln = strlen(name);
	li = id ? strlen(id) : 0;
	*out = malloc(ln + li + 2);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, name, ln + 1);
	memcpy(*out + ln + 1, id ? id : "", li + 1);
	return 0;
}

static int cat_names_locked(struct volfs_catalog *cat, void *arg,
			    struct volfs_err *err)
{
	struct cat_names_arg *a = arg;
	size_t alloc = 0;
	sqlite3_stmt *st;
	int rc;

	rc = cat_prepare(cat,
			 "SELECT name, uuid FROM volumes WHERE state = 1 "
			 "ORDER BY name",
			 &st, err);
	if (rc < 0)
		return rc;
	while ((rc = cat_step(cat, st, err)) == 1) {
		char **grown = cat_grow(a->v, &alloc, a->n, sizeof(*a->v));

		if (!grown) {
			rc = cat_oom(err);
			break;
		}
		a->v = grown;
		rc = cat_name_id(st, &a->v[a->n]);
		if (rc < 0) {
			rc = cat_oom(err);
			break;
		}
		if (a->v[a->n])
			a->n++;
	}
	cat_finish(cat, st);
	if (rc < 0)
		cat_names_undo(a);
	return rc < 0 ? rc : (int)a->n;
}

int volfs_catalog_names(struct volfs_catalog *cat,
			void (*fn)(void *arg, const char *name), void *arg,
			struct volfs_err *err)
{
	struct cat_names_arg a = { 0 };
	int rc;

	cat_op(cat, "cannot list volumes");
	rc = cat_read_txn(cat, cat_names_locked, &a, cat_names_undo, err);
	if (rc < 0)
		return rc;
	/* Only once the read succeeded: a retry gives no name twice. */
	for (size_t i = 0; i < a.n; i++)
		fn(arg, a.v[i]);
	cat_names_undo(&a);
	return rc;
}

struct cat_uuid_arg {
	const char *name;
	char *buf;
	size_t size;
};

static int cat_uuid_locked(struct volfs_catalog *cat, void *arg,
			   struct volfs_err *err)
{
	struct cat_uuid_arg *a = arg;
	sqlite3_stmt *st;
	int rc;

	rc = cat_prepare(cat,
			 "SELECT uuid FROM volumes WHERE name = ?1 AND "
			 "state = 1",
			 &st, err);
	if (rc < 0)
		return rc;
	cat_bind_str(st, 1, a->name);
	rc = cat_step(cat, st, err);
	if (rc == 1)
		snprintf(a->buf, a->size, "%s",
			 (const char *)sqlite3_column_text(st, 0));
	cat_finish(cat, st);
	return rc == 1 ? 0 : rc == 0 ? -ENOENT : rc;
}

int volfs_catalog_uuid(struct volfs_catalog *cat, const char *name, char *buf,
		       size_t size, struct volfs_err *err)
{
	struct cat_uuid_arg a = { .name = name, .buf = buf, .size = size };

	cat_op(cat, "cannot read volume '%s'", name);
	return cat_read_txn(cat, cat_uuid_locked, &a, NULL, err);
}

int volfs_catalog_ids(struct volfs_catalog *cat,
		      void (*fn)(void *arg, const char *name, const char *id),
		      void *arg, struct volfs_err *err)
{
	struct cat_names_arg a = { 0 };
	int rc;

	cat_op(cat, "cannot list volumes");
	rc = cat_read_txn(cat, cat_names_locked, &a, cat_names_undo, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < a.n; i++)
		fn(arg, a.v[i], a.v[i] + strlen(a.v[i]) + 1);
	cat_names_undo(&a);
	return rc;
}

int volfs_catalog_list(struct volfs_catalog *cat, struct volfs_volume **out,
		       struct volfs_err *err)
{
	struct cat_list_arg a = { 0 };
	int rc;

	*out = NULL;
	cat_op(cat, "cannot list volumes");
	rc = cat_txn(cat, cat_list_locked, &a, cat_list_undo, err);
	if (rc >= 0)
		*out = a.v;
	return rc;
}

static int cat_server_add_locked(struct volfs_catalog *cat, void *arg,
				 struct volfs_err *err)
{
	const struct volfs_server *srv = arg;
	sqlite3_stmt *st;
	int rc;

	rc = cat_prepare(cat,
			 "INSERT OR REPLACE INTO servers "
			 "(mountpoint, pid, pid_start, since, ns) "
			 "VALUES (?1, ?2, ?3, ?4, volfs_ns())",
			 &st, err);
	if (rc < 0)
		return rc;
	cat_bind_str(st, 1, srv->mountpoint);
	sqlite3_bind_int64(st, 2, srv->pid);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)srv->pid_start);
	sqlite3_bind_int64(st, 4, srv->since);
	rc = cat_step(cat, st, err);
	cat_finish(cat, st);
	return rc < 0 ? rc : 0;
}

int volfs_catalog_server_add(struct volfs_catalog *cat,
			     const struct volfs_server *srv,
			     struct volfs_err *err)
{
	cat_op(cat, "cannot record the volfs server at %s", srv->mountpoint);
	return cat_txn(cat, cat_server_add_locked, (void *)srv, NULL, err);
}

static int cat_server_remove_locked(struct volfs_catalog *cat, void *arg,
				    struct volfs_err *err)
{
	int rc = cat_run(cat, "DELETE FROM servers WHERE mountpoint = ?1",
			 arg, NULL, err);

	return rc < 0 ? rc : 0;
}

int volfs_catalog_server_remove(struct volfs_catalog *cat,
				const char *mountpoint, struct volfs_err *err)
{
	cat_op(cat, "cannot forget the volfs server at %s", mountpoint);
	return cat_txn(cat, cat_server_remove_locked, (void *)mountpoint,
		       NULL, err);
}

struct cat_servers_arg {
	struct volfs_server *s;
	size_t n;
};

static void cat_servers_undo(void *arg)
{
	struct cat_servers_arg *a = arg;

	volfs_servers_free(a->s, a->n);
	a->s = NULL;
	a->n = 0;
}

static int cat_servers_locked(struct volfs_catalog *cat, void *arg,
			      struct volfs_err *err)
{
	struct cat_servers_arg *a = arg;
	sqlite3_stmt *st;
	size_t alloc = 0;
	int rc;

	rc = cat_reap_locked(cat, err);
	if (rc < 0)
		return rc;
	rc = cat_prepare(cat,
			 "SELECT mountpoint, pid, pid_start, since "
			 "FROM servers WHERE ns = 0 OR ns = volfs_ns() "
			 "ORDER BY since",
			 &st, err);
	if (rc < 0)
		return rc;
	while ((rc = cat_step(cat, st, err)) == 1) {
		struct volfs_server *srv;
		struct volfs_server *grown =
			cat_grow(a->s, &alloc, a->n, sizeof(*a->s));

		if (!grown) {
			rc = cat_oom(err);
			break;
		}
		a->s = grown;
		srv = &a->s[a->n];
		memset(srv, 0, sizeof(*srv));
		if (cat_col_dup(st, 0, &srv->mountpoint) < 0 ||
		    !srv->mountpoint) {
			rc = cat_oom(err);
			break;
		}
		srv->pid = (pid_t)sqlite3_column_int64(st, 1);
		srv->pid_start = (uint64_t)sqlite3_column_int64(st, 2);
		srv->since = sqlite3_column_int64(st, 3);
		a->n++;
	}
	cat_finish(cat, st);
	if (rc < 0) {
		cat_servers_undo(a);
		return rc;
	}
	return (int)a->n;
}

int volfs_catalog_servers(struct volfs_catalog *cat,
			  struct volfs_server **out, struct volfs_err *err)
{
	struct cat_servers_arg a = { 0 };
	int rc;

	*out = NULL;
	cat_op(cat, "cannot list the volfs servers");
	rc = cat_txn(cat, cat_servers_locked, &a, cat_servers_undo, err);
	if (rc >= 0)
		*out = a.s;
	return rc;
}

void volfs_servers_free(struct volfs_server *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i].mountpoint);
	free(s);
}
