/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the catalog.  Each test gets its own state root under /tmp,
 * removed afterwards.  The tests open the database with SQLite directly only
 * to damage it or to look behind the catalog's back.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "volfs/catalog.h"
#include "volfs/util.h"

struct tcat {
	char dir[64];
	char root[128];
	char db[160];
	struct volfs_catalog *cat;
	struct volfs_err err;
};

static int tcat_setup(void **state)
{
	struct tcat *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->dir, sizeof(t->dir), "/tmp/volfs-test-catalog-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	/* A root that does not exist yet: open must create it. */
	snprintf(t->root, sizeof(t->root), "%s/state", t->dir);
	snprintf(t->db, sizeof(t->db), "%s/catalog.db", t->root);
	*state = t;
	return 0;
}

static int tcat_teardown(void **state)
{
	struct tcat *t = *state;

	volfs_catalog_close(t->cat);
	volfs_rm_rf(t->dir);
	free(t);
	return 0;
}

static void tcat_open(struct tcat *t)
{
	int rc = volfs_catalog_open(t->root, &t->cat, &t->err);

	if (rc != 0)
		fail_msg("volfs_catalog_open: %d: %s", rc, t->err.msg);
	assert_non_null(t->cat);
}

static void tcat_close(struct tcat *t)
{
	volfs_catalog_close(t->cat);
	t->cat = NULL;
}

static void assert_msg_has(const struct volfs_err *err, const char *what)
{
	if (!strstr(err->msg, what))
		fail_msg("message \"%s\" lacks \"%s\"", err->msg, what);
}

static const struct volfs_kv topts[] = {
	{ "size", "10G" },
	{ "path", "/srv/data" },
};

static const struct volfs_kv tlabels[] = {
	{ "zeta", "1" },
	{ "alpha", "2" },
	{ "mid", "" },
};

static void tcat_reserve(struct tcat *t, const char *name, int anonymous)
{
	struct volfs_volume v = {
		.name = (char *)name,
		.backend = (char *)"local",
		.opts = (struct volfs_kv *)topts,
		.nopts = 2,
		.labels = (struct volfs_kv *)tlabels,
		.nlabels = 3,
		.anonymous = anonymous,
	};
	int rc = volfs_catalog_reserve(t->cat, &v, &t->err);

	if (rc != 0)
		fail_msg("reserve '%s': %d: %s", name, rc, t->err.msg);
}

static void tcat_mkvol(struct tcat *t, const char *name)
{
	tcat_reserve(t, name, 0);
	assert_int_equal(
		volfs_catalog_set_state(t->cat, name, VOLFS_VOL_READY, &t->err),
		0);
}

static int tcat_attach(struct tcat *t, const char *vol, const char *consumer,
		       pid_t pid, uint64_t start)
{
	struct volfs_attachment a = {
		.volume = (char *)vol,
		.consumer = (char *)consumer,
		.target = (char *)"/mnt/target",
		.pid = pid,
		.pid_start = start,
	};

	return volfs_catalog_attach(t->cat, &a, &t->err);
}

static unsigned tcat_refcount(struct tcat *t, const char *name)
{
	struct volfs_volume v;
	unsigned n;

	assert_int_equal(volfs_catalog_get(t->cat, name, &v, &t->err), 0);
	n = v.refcount;
	volfs_volume_release(&v);
	return n;
}

/* Runs one SQL statement on the catalog file with SQLite directly. */
static void tcat_sql(struct tcat *t, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(t->db, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_close(db);
}

/* The first column of the first row of sql, as an integer. */
static long tcat_sql_int(struct tcat *t, const char *sql)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	long n = -1;

	assert_int_equal(sqlite3_open(t->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

/*
 * A child process that waits until *release is closed, then exits.  It is
 * cat(1) reading the pipe, so nothing of this process lives on in it.
 */
static pid_t tcat_spawn_waiter(int *release)
{
	int fds[2];
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[1]);
		if (dup2(fds[0], STDIN_FILENO) < 0)
			_exit(126);
		execlp("cat", "cat", (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	*release = fds[1];
	return pid;
}

static void tcat_reap_child(pid_t pid, int release)
{
	int status;

	close(release);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The catalog's files, -wal and -shm included, are 0600. */
static void tcat_assert_private(struct tcat *t)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char path[200];
	struct stat st;

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", t->db, suffix[i]);
		if (stat(path, &st) < 0)
			fail_msg("%s: %s", path, strerror(errno));
		assert_true(S_ISREG(st.st_mode));
		if ((st.st_mode & 07777) != 0600)
			fail_msg("%s has mode %04o, not 0600", path,
				 (unsigned)(st.st_mode & 07777));
	}
}

static void test_open_creates(void **state)
{
	struct tcat *t = *state;
	struct stat st;
	char mode[16] = "";
	sqlite3_stmt *stmt;
	sqlite3 *db;

	/* Private whatever the umask. */
	umask(0);
	tcat_open(t);
	umask(022);
	assert_string_equal(volfs_catalog_root(t->cat), t->root);
	assert_int_equal(stat(t->root, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	tcat_mkvol(t, "private");
	tcat_assert_private(t);

	assert_int_equal(sqlite3_open(t->db, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	snprintf(mode, sizeof(mode), "%s",
		 (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	assert_string_equal(mode, "wal");
	assert_int_equal(tcat_sql_int(t, "PRAGMA user_version"), 5);

	/* Opening twice at once, and again later, is fine. */
	{
		struct volfs_catalog *second;

		assert_int_equal(volfs_catalog_open(t->root, &second, &t->err),
				 0);
		volfs_catalog_close(second);
	}
}

/* A catalog of an older volfs, 0644 under a 0755 root, is made private. */
static void test_open_tightens(void **state)
{
	struct tcat *t = *state;
	char path[200];
	struct stat st;

	tcat_open(t);
	tcat_mkvol(t, "old");
	assert_int_equal(chmod(t->root, 0755), 0);
	assert_int_equal(chmod(t->db, 0644), 0);
	snprintf(path, sizeof(path), "%s-wal", t->db);
	assert_int_equal(chmod(path, 0644), 0);
	snprintf(path, sizeof(path), "%s-shm", t->db);
	assert_int_equal(chmod(path, 0644), 0);
	tcat_close(t);

	assert_int_equal(volfs_catalog_open_existing(t->root, &t->cat,
						     &t->err),
			 0);
	assert_int_equal(stat(t->root, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	tcat_assert_private(t);
}

/* Opening for a command that only reads creates nothing. */
static void test_open_existing(void **state)
{
	struct tcat *t = *state;
	struct stat st;
	int rc;

	rc = volfs_catalog_open_existing(t->root, &t->cat, &t->err);
	assert_int_equal(rc, -ENOENT);
	assert_null(t->cat);
	assert_msg_has(&t->err, t->root);
	assert_msg_has(&t->err, "no state root");
	assert_int_equal(stat(t->root, &st), -1);

	assert_int_equal(mkdir(t->root, 0700), 0);
	rc = volfs_catalog_open_existing(t->root, &t->cat, &t->err);
	assert_int_equal(rc, -ENOENT);
	assert_msg_has(&t->err, "no catalog");
	assert_msg_has(&t->err, "volfs create");
	assert_int_equal(stat(t->db, &st), -1);

	tcat_open(t);
	tcat_close(t);
	rc = volfs_catalog_open_existing(t->root, &t->cat, &t->err);
	assert_int_equal(rc, 0);
}

static void test_reopen_keeps(void **state)
{
	struct tcat *t = *state;
	struct volfs_volume v;

	tcat_open(t);
	tcat_mkvol(t, "keep");
	tcat_close(t);
	tcat_open(t);
	assert_int_equal(volfs_catalog_get(t->cat, "keep", &v, &t->err), 0);
	assert_string_equal(v.name, "keep");
	assert_int_equal(v.state, VOLFS_VOL_READY);
	volfs_volume_release(&v);
}

static void test_reserve_get_list(void **state)
{
	struct tcat *t = *state;
	struct volfs_volume *list, v;
	time_t before = time(NULL);
	int n;

	tcat_open(t);
	tcat_mkvol(t, "bravo");
	tcat_reserve(t, "alpha", 1);
	assert_int_equal(volfs_catalog_set_state(t->cat, "alpha",
						 VOLFS_VOL_READY, &t->err),
			 0);
	tcat_mkvol(t, "charlie");
	tcat_reserve(t, "delta", 0); /* still CREATING: not listed */
	tcat_mkvol(t, "echo");
	assert_int_equal(volfs_catalog_begin_remove(t->cat, "echo", 0, &t->err),
			 0);

	n = volfs_catalog_list(t->cat, &list, &t->err);
	assert_int_equal(n, 4);
	assert_string_equal(list[0].name, "alpha");
	assert_string_equal(list[1].name, "bravo");
	assert_string_equal(list[2].name, "charlie");
	assert_string_equal(list[3].name, "echo");
	assert_int_equal(list[0].anonymous, 1);
	assert_int_equal(list[1].anonymous, 0);
	assert_int_equal(list[0].state, VOLFS_VOL_READY);
	assert_int_equal(list[3].state, VOLFS_VOL_REMOVING);
	for (int i = 0; i < n; i++) {
		assert_string_equal(list[i].backend, "local");
		assert_int_equal(list[i].nopts, 2);
		assert_string_equal(list[i].opts[0].key, "size");
		assert_string_equal(list[i].opts[0].value, "10G");
		assert_string_equal(list[i].opts[1].key, "path");
		assert_string_equal(list[i].opts[1].value, "/srv/data");
		/* Labels come back in the order they were given. */
		assert_int_equal(list[i].nlabels, 3);
		assert_string_equal(list[i].labels[0].key, "zeta");
		assert_string_equal(list[i].labels[1].key, "alpha");
		assert_string_equal(list[i].labels[1].value, "2");
		assert_string_equal(list[i].labels[2].key, "mid");
		assert_string_equal(list[i].labels[2].value, "");
		assert_in_range(list[i].created, before, time(NULL));
		assert_int_equal(list[i].refcount, 0);
	}
	volfs_volumes_free(list, (size_t)n);

	/* get returns any state. */
	assert_int_equal(volfs_catalog_get(t->cat, "delta", &v, &t->err), 0);
	assert_int_equal(v.state, VOLFS_VOL_CREATING);
	assert_int_equal(v.nlabels, 3);
	volfs_volume_release(&v);

	assert_int_equal(volfs_catalog_get(t->cat, "nope", &v, &t->err),
			 -ENOENT);
	assert_msg_has(&t->err, "no such volume: 'nope'");
	assert_null(v.name);
}

static void test_reserve_no_opts(void **state)
{
	struct tcat *t = *state;
	struct volfs_volume v = { .name = (char *)"bare",
				  .backend = (char *)"ram" };
	struct volfs_volume got;

	tcat_open(t);
	assert_int_equal(volfs_catalog_reserve(t->cat, &v, &t->err), 0);
	assert_int_equal(volfs_catalog_get(t->cat, "bare", &got, &t->err), 0);
	assert_int_equal(got.nopts, 0);
	assert_int_equal(got.nlabels, 0);
	assert_null(got.opts);
	assert_string_equal(got.backend, "ram");
	volfs_volume_release(&got);
}

static void test_reserve_invalid(void **state)
{
	struct tcat *t = *state;
	struct volfs_kv twice[] = { { "a", "1" }, { "a", "2" } };
	struct volfs_volume v = { .name = (char *)"../x",
				  .backend = (char *)"local" };

	tcat_open(t);
	assert_int_equal(volfs_catalog_reserve(t->cat, &v, &t->err), -EINVAL);
	v.name = (char *)"dup";
	v.opts = twice;
	v.nopts = 2;
	assert_int_equal(volfs_catalog_reserve(t->cat, &v, &t->err), -EINVAL);
	assert_msg_has(&t->err, "'a'");
	/* Nothing was left behind. */
	assert_int_equal(volfs_catalog_get(t->cat, "dup", &v, &t->err),
			 -ENOENT);
}

static void test_reserve_exists(void **state)
{
	struct tcat *t = *state;

	tcat_open(t);
	tcat_mkvol(t, "data");
	tcat_reserve(t, "other", 0);
	{
		struct volfs_volume v = { .name = (char *)"data",
					  .backend = (char *)"ram" };

		assert_int_equal(volfs_catalog_reserve(t->cat, &v, &t->err),
				 -EEXIST);
		assert_msg_has(&t->err, "volume 'data' already exists");
		/* A CREATING row of a live creator (this process) holds too. */
		v.name = (char *)"other";
		assert_int_equal(volfs_catalog_reserve(t->cat, &v, &t->err),
				 -EEXIST);
		assert_msg_has(&t->err, "volume 'other' already exists");
	}
	assert_int_equal(tcat_sql_int(t, "SELECT count(*) FROM volumes"), 2);
}

/* The child of test_dead_creator: reserves "orphan" and waits. */
static void tcat_orphan_child(struct tcat *t, int ready, int release)
{
	struct volfs_volume v = { .name = (char *)"orphan",
				  .backend = (char *)"local" };
	struct volfs_catalog *cat;
	struct volfs_err err;
	char c = 'x';

	if (volfs_catalog_open(t->root, &cat, &err) != 0)
		_exit(2);
	if (volfs_catalog_reserve(cat, &v, &err) != 0)
		_exit(3);
	if (write(ready, &c, 1) != 1)
		_exit(4);
	while (read(release, &c, 1) > 0)
		;
	/* Ends without set_state.  (Closing the handle only keeps a leak
	 * checker quiet; the row stays CREATING either way.) */
	volfs_catalog_close(cat);
	_exit(0);
}

static void test_dead_creator(void **state)
{
	struct tcat *t = *state;
	struct volfs_volume v = { .name = (char *)"orphan",
				  .backend = (char *)"ram" };
	struct volfs_volume got;
	int ready[2], release[2], status;
	pid_t pid;
	char c;

	/* Make the catalog, then fork with no connection open. */
	tcat_open(t);
	tcat_close(t);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(release), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		close(release[1]);
		tcat_orphan_child(t, ready[1], release[0]);
	}
	close(ready[1]);
	close(release[0]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	close(ready[0]);

	tcat_open(t);
	assert_int_equal(volfs_catalog_reserve(t->cat, &v, &t->err), -EEXIST);
	assert_msg_has(&t->err, "being created");
	assert_int_equal(tcat_attach(t, "orphan", "c1", getpid(), 0), -EBUSY);
	assert_msg_has(&t->err, "'orphan' is being created");
	assert_int_equal(
		volfs_catalog_begin_remove(t->cat, "orphan", 0, &t->err),
		-EBUSY);

	close(release[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* The creator is gone: its row is replaced. */
	assert_int_equal(volfs_catalog_reserve(t->cat, &v, &t->err), 0);
	assert_int_equal(volfs_catalog_get(t->cat, "orphan", &got, &t->err), 0);
	assert_string_equal(got.backend, "ram");
	assert_int_equal(got.state, VOLFS_VOL_CREATING);
	volfs_volume_release(&got);
}

static void test_attach_detach(void **state)
{
	struct tcat *t = *state;
	struct volfs_attachment *att;
	struct volfs_volume *list;
	time_t before = time(NULL);
	int n;

	tcat_open(t);
	tcat_mkvol(t, "data");
	tcat_mkvol(t, "logs");
	assert_int_equal(tcat_refcount(t, "data"), 0);
	assert_int_equal(tcat_attach(t, "data", "ctr-1", getpid(), 0), 0);
	assert_int_equal(tcat_attach(t, "data", "ctr-2", getpid(),
				     volfs_pid_start(getpid())),
			 0);
	assert_int_equal(tcat_attach(t, "logs", "ctr-1", getpid(), 0), 0);
	assert_int_equal(tcat_refcount(t, "data"), 2);
	assert_int_equal(tcat_refcount(t, "logs"), 1);

	/* The same consumer again replaces its row. */
	{
		struct volfs_attachment a = {
			.volume = (char *)"data",
			.consumer = (char *)"ctr-1",
			.target = (char *)"/elsewhere",
			.readonly = 1,
			.pid = getpid(),
		};

		assert_int_equal(volfs_catalog_attach(t->cat, &a, &t->err), 0);
	}
	assert_int_equal(tcat_refcount(t, "data"), 2);

	n = volfs_catalog_attachments(t->cat, "data", &att, &t->err);
	assert_int_equal(n, 2);
	for (int i = 0; i < n; i++) {
		assert_string_equal(att[i].volume, "data");
		assert_int_equal(att[i].pid, getpid());
		assert_int_equal(att[i].pid_start, volfs_pid_start(getpid()));
		assert_in_range(att[i].since, before, time(NULL));
		if (strcmp(att[i].consumer, "ctr-1") == 0) {
			assert_string_equal(att[i].target, "/elsewhere");
			assert_int_equal(att[i].readonly, 1);
		} else {
			assert_string_equal(att[i].consumer, "ctr-2");
			assert_string_equal(att[i].target, "/mnt/target");
			assert_int_equal(att[i].readonly, 0);
		}
	}
	volfs_attachments_free(att, (size_t)n);

	n = volfs_catalog_attachments(t->cat, NULL, &att, &t->err);
	assert_int_equal(n, 3);
	volfs_attachments_free(att, (size_t)n);

	n = volfs_catalog_list(t->cat, &list, &t->err);
	assert_int_equal(n, 2);
	assert_int_equal(list[0].refcount, 2);
	assert_int_equal(list[1].refcount, 1);
	volfs_volumes_free(list, (size_t)n);

	assert_int_equal(volfs_catalog_detach(t->cat, "data", "ctr-1", &t->err),
			 0);
	assert_int_equal(tcat_refcount(t, "data"), 1);
	assert_int_equal(volfs_catalog_detach(t->cat, "data", "ctr-1", &t->err),
			 -ENOENT);
	assert_msg_has(&t->err, "'ctr-1'");
	assert_int_equal(volfs_catalog_detach(t->cat, "gone", "ctr-1", &t->err),
			 -ENOENT);
	assert_msg_has(&t->err, "no such volume: 'gone'");
	assert_int_equal(
		volfs_catalog_attachments(t->cat, "gone", &att, &t->err),
		-ENOENT);
	assert_null(att);
}

static void test_attach_refused(void **state)
{
	struct tcat *t = *state;

	tcat_open(t);
	assert_int_equal(tcat_attach(t, "missing", "c", getpid(), 0), -ENOENT);
	assert_msg_has(&t->err, "no such volume: 'missing'");
	tcat_mkvol(t, "going");
	assert_int_equal(
		volfs_catalog_begin_remove(t->cat, "going", 0, &t->err), 0);
	assert_int_equal(tcat_attach(t, "going", "c", getpid(), 0), -EBUSY);
	assert_msg_has(&t->err, "volume 'going' is being removed");
	/* REMOVING may go back to READY (a failed destroy). */
	assert_int_equal(volfs_catalog_set_state(t->cat, "going",
						 VOLFS_VOL_READY, &t->err),
			 0);
	assert_int_equal(tcat_attach(t, "going", "c", getpid(), 0), 0);
	assert_int_equal(volfs_catalog_set_state(t->cat, "going",
						 VOLFS_VOL_CREATING, &t->err),
			 -EINVAL);
	assert_int_equal(volfs_catalog_set_state(t->cat, "nope",
						 VOLFS_VOL_READY, &t->err),
			 -ENOENT);
	assert_msg_has(&t->err, "no such volume: 'nope'");
}

static void test_remove_busy(void **state)
{
	struct tcat *t = *state;
	struct volfs_attachment *att;
	struct volfs_volume *list, v;
	int n;

	tcat_open(t);
	tcat_mkvol(t, "data");
	assert_int_equal(tcat_attach(t, "data", "3f2c9a0b", getpid(), 0), 0);
	assert_int_equal(tcat_attach(t, "data", "web-1", getpid(), 0), 0);
	assert_int_equal(volfs_catalog_begin_remove(t->cat, "data", 0, &t->err),
			 -EBUSY);
	assert_msg_has(&t->err, "volume 'data' is in use by");
	assert_msg_has(&t->err, "3f2c9a0b");
	assert_msg_has(&t->err, "web-1");
	assert_msg_has(&t->err, "-f");
	assert_int_equal(tcat_refcount(t, "data"), 2);
	assert_int_equal(volfs_catalog_get(t->cat, "data", &v, &t->err), 0);
	assert_int_equal(v.state, VOLFS_VOL_READY);
	volfs_volume_release(&v);

	/* A second remover waits; force takes over. */
	assert_int_equal(volfs_catalog_begin_remove(t->cat, "data", 1, &t->err),
			 0);
	assert_int_equal(volfs_catalog_begin_remove(t->cat, "data", 0, &t->err),
			 -EBUSY);
	assert_msg_has(&t->err, "being removed");
	assert_int_equal(volfs_catalog_begin_remove(t->cat, "data", 1, &t->err),
			 0);
	n = volfs_catalog_attachments(t->cat, "data", &att, &t->err);
	assert_int_equal(n, 0);
	volfs_attachments_free(att, 0);
	assert_int_equal(volfs_catalog_get(t->cat, "data", &v, &t->err), 0);
	assert_int_equal(v.state, VOLFS_VOL_REMOVING);
	assert_int_equal(v.refcount, 0);
	volfs_volume_release(&v);

	assert_int_equal(volfs_catalog_delete(t->cat, "data", &t->err), 0);
	assert_int_equal(volfs_catalog_get(t->cat, "data", &v, &t->err),
			 -ENOENT);
	assert_int_equal(volfs_catalog_list(t->cat, &list, &t->err), 0);
	assert_int_equal(volfs_catalog_begin_remove(t->cat, "data", 0, &t->err),
			 -ENOENT);
	assert_msg_has(&t->err, "no such volume: 'data'");
	assert_int_equal(volfs_catalog_delete(t->cat, "data", &t->err),
			 -ENOENT);
}

static void test_delete_rows(void **state)
{
	struct tcat *t = *state;

	tcat_open(t);
	tcat_mkvol(t, "a");
	tcat_mkvol(t, "b");
	assert_int_equal(tcat_attach(t, "a", "c1", getpid(), 0), 0);
	assert_int_equal(tcat_attach(t, "b", "c1", getpid(), 0), 0);
	assert_int_equal(volfs_catalog_delete(t->cat, "a", &t->err), 0);
	tcat_close(t);

	assert_int_equal(tcat_sql_int(t, "SELECT count(*) FROM volumes"), 1);
	assert_int_equal(tcat_sql_int(t, "SELECT count(*) FROM volume_options "
					 "WHERE volume = 'a'"),
			 0);
	assert_int_equal(tcat_sql_int(t, "SELECT count(*) FROM volume_labels "
					 "WHERE volume = 'a'"),
			 0);
	assert_int_equal(tcat_sql_int(t, "SELECT count(*) FROM attachments"),
			 1);
	assert_int_equal(tcat_sql_int(t, "SELECT count(*) FROM volume_labels"),
			 3);
}

static void test_reap(void **state)
{
	struct tcat *t = *state;
	struct volfs_attachment *att;
	char mnt[200], consumer[220];
	uint64_t child_start;
	int release, n;
	pid_t child;

	tcat_open(t);
	tcat_mkvol(t, "data");
	snprintf(mnt, sizeof(mnt), "%s/mnt", t->dir);
	assert_int_equal(mkdir(mnt, 0755), 0);
	snprintf(consumer, sizeof(consumer), "mount:%s", mnt);

	child = tcat_spawn_waiter(&release);
	child_start = volfs_pid_start(child);
	assert_true(child_start != 0);

	assert_int_equal(tcat_attach(t, "data", "mine", getpid(), 0), 0);
	assert_int_equal(tcat_attach(t, "data", "child", child, child_start),
			 0);
	{
		/* A "mount:" consumer whose directory is no volfs mount. */
		struct volfs_attachment a = {
			.volume = (char *)"data",
			.consumer = consumer,
			.target = mnt,
			.pid = getpid(),
		};

		assert_int_equal(volfs_catalog_attach(t->cat, &a, &t->err), 0);
	}
	tcat_reap_child(child, release);

	assert_int_equal(volfs_catalog_reap(t->cat, &t->err), 2);
	n = volfs_catalog_attachments(t->cat, NULL, &att, &t->err);
	assert_int_equal(n, 1);
	assert_string_equal(att[0].consumer, "mine");
	volfs_attachments_free(att, (size_t)n);
	assert_int_equal(volfs_catalog_reap(t->cat, &t->err), 0);

	/* A pid that is alive but was reused: start time differs. */
	assert_int_equal(tcat_attach(t, "data", "reused", getpid(),
				     volfs_pid_start(getpid()) + 1),
			 0);
	assert_int_equal(volfs_catalog_reap(t->cat, &t->err), 1);
	assert_int_equal(tcat_refcount(t, "data"), 1);

	/* get, list and begin_remove reap on their own. */
	child = tcat_spawn_waiter(&release);
	assert_int_equal(tcat_attach(t, "data", "child", child, 0), 0);
	assert_int_equal(tcat_refcount(t, "data"), 2);
	tcat_reap_child(child, release);
	assert_int_equal(tcat_refcount(t, "data"), 1);
	assert_int_equal(volfs_catalog_detach(t->cat, "data", "mine", &t->err),
			 0);
	child = tcat_spawn_waiter(&release);
	assert_int_equal(tcat_attach(t, "data", "child", child, 0), 0);
	tcat_reap_child(child, release);
	assert_int_equal(volfs_catalog_begin_remove(t->cat, "data", 0, &t->err),
			 0);
}

static void test_newer_schema(void **state)
{
	struct tcat *t = *state;

	tcat_open(t);
	tcat_mkvol(t, "data");
	tcat_close(t);
	tcat_sql(t, "PRAGMA user_version = 99");

	assert_int_equal(volfs_catalog_open(t->root, &t->cat, &t->err),
			 -EPROTO);
	assert_null(t->cat);
	assert_msg_has(&t->err, "newer");
	assert_msg_has(&t->err, "schema 99");
	assert_msg_has(&t->err, t->db);
	/* Refused without touching it. */
	assert_int_equal(tcat_sql_int(t, "PRAGMA user_version"), 99);
}

static void test_garbage(void **state)
{
	struct tcat *t = *state;
	unsigned char junk[8192];
	size_t got = 0;
	int fd;

	while (got < sizeof(junk)) {
		ssize_t n = getrandom(junk + got, sizeof(junk) - got, 0);

		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_int_equal(volfs_mkdir_p(t->root, 0700), 0);
	fd = open(t->db, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);

	assert_int_equal(volfs_catalog_open(t->root, &t->cat, &t->err), -EIO);
	assert_null(t->cat);
	assert_msg_has(&t->err, t->db);
	assert_msg_has(&t->err, "backup");
	assert_msg_has(&t->err, "move it away");
}

static void test_damaged_pages(void **state)
{
	struct tcat *t = *state;
	struct volfs_volume *list;
	unsigned char junk[4096];
	char name[16];
	int fd, rc;

	tcat_open(t);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "vol%02d", i);
		tcat_mkvol(t, name);
	}
	tcat_close(t);

	/* Keep page 1 (the schema), scribble over the tables. */
	memset(junk, 0xa5, sizeof(junk));
	fd = open(t->db, O_WRONLY);
	assert_true(fd >= 0);
	for (off_t off = 4096; off < 4 * 4096; off += 4096)
		assert_int_equal(pwrite(fd, junk, sizeof(junk), off),
				 (ssize_t)sizeof(junk));
	close(fd);

	rc = volfs_catalog_open(t->root, &t->cat, &t->err);
	if (rc == 0) {
		rc = volfs_catalog_list(t->cat, &list, &t->err);
		assert_null(list);
	}
	assert_int_equal(rc, -EIO);
	assert_msg_has(&t->err, t->db);
	assert_msg_has(&t->err, "backup");
}

static void test_not_a_catalog(void **state)
{
	struct tcat *t = *state;

	assert_int_equal(volfs_mkdir_p(t->root, 0700), 0);
	tcat_sql(t, "CREATE TABLE other (x)");
	assert_int_equal(volfs_catalog_open(t->root, &t->cat, &t->err), -EIO);
	assert_msg_has(&t->err, "not a volfs catalog");
	assert_msg_has(&t->err, t->db);
}

static void test_unopenable(void **state)
{
	struct tcat *t = *state;
	char file[200], below[220];
	int rc, fd;

	/* catalog.db is a directory. */
	assert_int_equal(volfs_mkdir_p(t->db, 0700), 0);
	rc = volfs_catalog_open(t->root, &t->cat, &t->err);
	assert_true(rc == -EACCES || rc == -EIO);
	assert_null(t->cat);
	assert_msg_has(&t->err, t->db);

	/* The root cannot be made: a file is in the way. */
	snprintf(file, sizeof(file), "%s/file", t->dir);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(below, sizeof(below), "%s/state", file);
	rc = volfs_catalog_open(below, &t->cat, &t->err);
	assert_int_equal(rc, -ENOTDIR);
	assert_msg_has(&t->err, below);
}

static void test_empty_list(void **state)
{
	struct tcat *t = *state;
	struct volfs_attachment *att;
	struct volfs_volume *list;

	tcat_open(t);
	assert_int_equal(volfs_catalog_list(t->cat, &list, &t->err), 0);
	volfs_volumes_free(list, 0);
	assert_int_equal(volfs_catalog_attachments(t->cat, NULL, &att, &t->err),
			 0);
	volfs_attachments_free(att, 0);
	assert_int_equal(volfs_catalog_reap(t->cat, &t->err), 0);
}

struct tcat_holder {
	const char *db;
	int locked;
	int rc;
};

/* Holds the write lock of the catalog for a while from another
 * connection. */
static void *tcat_hold(void *arg)
{
	struct tcat_holder *h = arg;
	struct timespec ts = { 0, 700 * 1000000L };
	sqlite3 *db;

	h->rc = sqlite3_open(h->db, &db);
	if (h->rc == SQLITE_OK)
		h->rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	__atomic_store_n(&h->locked, 1, __ATOMIC_SEQ_CST);
	if (h->rc == SQLITE_OK) {
		nanosleep(&ts, NULL);
		h->rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	sqlite3_close(db);
	return NULL;
}

static void test_busy_waits(void **state)
{
	struct tcat *t = *state;
	struct tcat_holder h = { .db = t->db };
	struct timespec a, b;
	pthread_t th;
	long ms;

	tcat_open(t);
	assert_int_equal(pthread_create(&th, NULL, tcat_hold, &h), 0);
	while (!__atomic_load_n(&h.locked, __ATOMIC_SEQ_CST))
		usleep(1000);
	clock_gettime(CLOCK_MONOTONIC, &a);
	tcat_mkvol(t, "patient");
	clock_gettime(CLOCK_MONOTONIC, &b);
	pthread_join(th, NULL);
	assert_int_equal(h.rc, SQLITE_OK);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 300);
	assert_int_equal(tcat_refcount(t, "patient"), 0);
}

/* Servers are listed only while alive and mounted; version 1 catalogs
 * gain the servers table. */
static void test_servers(void **state)
{
	struct tcat *t = *state;
	struct volfs_server srv = {
		.mountpoint = (char *)"/nonexistent/volfs-serve",
		.pid = getpid(),
		.pid_start = volfs_pid_start(getpid()),
		.since = 1,
	};
	struct volfs_server *list = NULL;

	/* A version 1 catalog, as the first volfs wrote it. */
	tcat_open(t);
	tcat_close(t);
	tcat_sql(t, "DROP TABLE servers; "
		    "DROP INDEX volumes_creating; "
		    "DROP INDEX volumes_uuid; "
		    "ALTER TABLE volumes DROP COLUMN uuid; "
		    "ALTER TABLE attachments DROP COLUMN mounts; "
		    "ALTER TABLE attachments DROP COLUMN ns; "
		    "ALTER TABLE volumes DROP COLUMN ns; "
		    "PRAGMA user_version = 1");
	tcat_open(t);
	assert_int_equal(tcat_sql_int(t, "PRAGMA user_version"), 5);
	assert_int_equal(tcat_sql_int(t, "SELECT count(*) FROM servers"), 0);

	/* Not a mount: reaped when listed. */
	assert_int_equal(volfs_catalog_server_add(t->cat, &srv, &t->err), 0);
	assert_int_equal(tcat_sql_int(t, "SELECT count(*) FROM servers"), 1);
	assert_int_equal(volfs_catalog_servers(t->cat, &list, &t->err), 0);
	volfs_servers_free(list, 0);
	assert_int_equal(tcat_sql_int(t, "SELECT count(*) FROM servers"), 0);

	/* A dead process: reaped too. */
	srv.pid_start += 1;
	assert_int_equal(volfs_catalog_server_add(t->cat, &srv, &t->err), 0);
	assert_true(volfs_catalog_reap(t->cat, &t->err) >= 1);
	assert_int_equal(tcat_sql_int(t, "SELECT count(*) FROM servers"), 0);

	/* Removing one that is not there is fine. */
	assert_int_equal(volfs_catalog_server_remove(t->cat, srv.mountpoint,
						     &t->err),
			 0);
}

static int tcat_ref(struct tcat *t, const char *vol, const char *consumer)
{
	struct volfs_attachment a = {
		.volume = (char *)vol,
		.consumer = (char *)consumer,
		.target = (char *)"/run/volfs/mnt/x",
	};

	return volfs_catalog_ref(t->cat, &a, &t->err);
}

/* Counted, durable references: one consumer may hold a volume twice and
 * releases it with as many unrefs; pid 0 is never reaped; a version 2
 * catalog's attachments count once. */
static void test_ref_unref(void **state)
{
	struct tcat *t = *state;
	struct volfs_attachment *list;
	struct volfs_volume v;
	int n;

	tcat_open(t);
	tcat_mkvol(t, "data");
	assert_int_equal(tcat_ref(t, "data", "docker:aa"), 1);
	assert_int_equal(tcat_ref(t, "data", "docker:aa"), 2);
	assert_int_equal(tcat_ref(t, "data", "docker:bb"), 1);
	assert_int_equal(tcat_refcount(t, "data"), 3);
	assert_int_equal(tcat_attach(t, "data", "cli:x", getpid(), 0), 0);
	assert_int_equal(tcat_refcount(t, "data"), 4);

	/* No owner process: reaping keeps them. */
	assert_int_equal(volfs_catalog_reap(t->cat, &t->err), 0);
	n = volfs_catalog_attachments(t->cat, "data", &list, &t->err);
	assert_int_equal(n, 3);
	for (int i = 0; i < n; i++)
		if (strcmp(list[i].consumer, "docker:aa") == 0)
			assert_int_equal(list[i].mounts, 2);
	volfs_attachments_free(list, (size_t)n);

	/* peek sees the same without the write lock. */
	assert_int_equal(volfs_catalog_peek(t->cat, "data", &v, &t->err), 0);
	assert_int_equal(v.refcount, 4);
	volfs_volume_release(&v);
	assert_int_equal(volfs_catalog_peek(t->cat, "nope", &v, &t->err),
			 -ENOENT);

	/* In use: not removable. */
	assert_int_equal(volfs_catalog_begin_remove(t->cat, "data", 0,
						    &t->err),
			 -EBUSY);
	assert_non_null(strstr(t->err.msg, "docker:aa"));

	assert_int_equal(volfs_catalog_unref(t->cat, "data", "docker:aa",
					     &t->err),
			 1);
	assert_int_equal(volfs_catalog_unref(t->cat, "data", "docker:aa",
					     &t->err),
			 0);
	assert_int_equal(volfs_catalog_unref(t->cat, "data", "docker:aa",
					     &t->err),
			 -ENOENT);
	assert_non_null(strstr(t->err.msg, "not attached"));
	assert_int_equal(volfs_catalog_unref(t->cat, "nope", "docker:aa",
					     &t->err),
			 -ENOENT);
	assert_non_null(strstr(t->err.msg, "no such volume"));
	assert_int_equal(tcat_refcount(t, "data"), 2);

	/* A volume being removed takes no new reference. */
	assert_int_equal(volfs_catalog_detach(t->cat, "data", "cli:x",
					      &t->err),
			 0);
	assert_int_equal(volfs_catalog_unref(t->cat, "data", "docker:bb",
					     &t->err),
			 0);
	assert_int_equal(volfs_catalog_begin_remove(t->cat, "data", 0,
						    &t->err),
			 0);
	assert_int_equal(tcat_ref(t, "data", "docker:cc"), -EBUSY);
	assert_int_equal(tcat_ref(t, "gone", "docker:cc"), -ENOENT);

	/* Attachments written by schema 2 count once. */
	tcat_mkvol(t, "old");
	assert_int_equal(tcat_attach(t, "old", "cli:y", getpid(), 0), 0);
	tcat_close(t);
	tcat_sql(t, "DROP INDEX volumes_creating; "
		    "DROP INDEX volumes_uuid; "
		    "ALTER TABLE volumes DROP COLUMN uuid; "
		    "ALTER TABLE attachments DROP COLUMN mounts; "
		    "ALTER TABLE attachments DROP COLUMN ns; "
		    "ALTER TABLE volumes DROP COLUMN ns; "
		    "ALTER TABLE servers DROP COLUMN ns; "
		    "PRAGMA user_version = 2");
	tcat_open(t);
	assert_int_equal(tcat_sql_int(t, "PRAGMA user_version"), 5);
	assert_int_equal(tcat_refcount(t, "old"), 1);
}

/*
 * A volume's reference count is one number whichever call gives it: get,
 * peek (which does not reap), list, and the sum over its attachments, with
 * a consumer that holds it twice and an owner that died unreaped.
 */
static void test_count_same(void **state)
{
	struct tcat *t = *state;
	struct volfs_attachment *att;
	struct volfs_volume v, *list;
	unsigned sum = 0;
	int release, n;
	pid_t child;

	tcat_open(t);
	tcat_mkvol(t, "data");
	assert_int_equal(tcat_ref(t, "data", "docker:aa"), 1);
	assert_int_equal(tcat_ref(t, "data", "docker:aa"), 2);
	child = tcat_spawn_waiter(&release);
	assert_int_equal(tcat_attach(t, "data", "child", child, 0), 0);
	tcat_reap_child(child, release);

	/* Nothing has reaped the dead child's attachment yet. */
	assert_int_equal(volfs_catalog_peek(t->cat, "data", &v, &t->err), 0);
	assert_int_equal(v.refcount, 2);
	volfs_volume_release(&v);
	n = volfs_catalog_list(t->cat, &list, &t->err);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].refcount, 2);
	volfs_volumes_free(list, (size_t)n);
	assert_int_equal(tcat_refcount(t, "data"), 2);
	assert_int_equal(volfs_catalog_peek(t->cat, "data", &v, &t->err), 0);
	assert_int_equal(v.refcount, 2);
	volfs_volume_release(&v);
	n = volfs_catalog_attachments(t->cat, "data", &att, &t->err);
	assert_int_equal(n, 1);
	for (int i = 0; i < n; i++)
		sum += att[i].mounts;
	volfs_attachments_free(att, (size_t)n);
	assert_int_equal(sum, 2);
}

static void tcat_collect(void *arg, const char *name)
{
	char *buf = arg;

	strncat(buf, name, 255 - strlen(buf));
	strncat(buf, ",", 255 - strlen(buf));
}

/* names: READY volumes only, in name order. */
static void test_names(void **state)
{
	struct tcat *t = *state;
	char buf[256] = "";

	tcat_open(t);
	tcat_mkvol(t, "zz");
	tcat_mkvol(t, "aa");
	tcat_reserve(t, "creating", 0);
	tcat_mkvol(t, "mm");
	assert_int_equal(volfs_catalog_begin_remove(t->cat, "mm", 0, &t->err),
			 0);
	assert_int_equal(volfs_catalog_names(t->cat, tcat_collect, buf,
					     &t->err),
			 2);
	assert_string_equal(buf, "aa,zz,");
}

/* The uuid of volume name, copied into buf. */
static void tcat_uuid(struct tcat *t, const char *name, char *buf, size_t n)
{
	struct volfs_volume v;

	assert_int_equal(volfs_catalog_get(t->cat, name, &v, &t->err), 0);
	assert_non_null(v.uuid);
	assert_int_equal(strlen(v.uuid), 32);
	snprintf(buf, n, "%s", v.uuid);
	volfs_volume_release(&v);
}

static void tcat_collect_id(void *arg, const char *name, const char *id)
{
	char *buf = arg;

	strncat(buf, name, 255 - strlen(buf));
	strncat(buf, "=", 255 - strlen(buf));
	strncat(buf, id, 255 - strlen(buf));
	strncat(buf, ",", 255 - strlen(buf));
}

/*
 * Every volume has an identity of its own: one created again under the
 * name of a removed one gets another, and so does every volume of a
 * catalog written before identities (schema 4).
 */
static void test_uuid(void **state)
{
	struct tcat *t = *state;
	char a1[64], a2[64], b[64], want[256], buf[256] = "";

	tcat_open(t);
	tcat_mkvol(t, "a");
	tcat_uuid(t, "a", a1, sizeof(a1));
	assert_int_equal(volfs_catalog_delete(t->cat, "a", &t->err), 0);
	tcat_mkvol(t, "a");
	tcat_uuid(t, "a", a2, sizeof(a2));
	assert_string_not_equal(a1, a2);
	tcat_mkvol(t, "b");
	tcat_uuid(t, "b", b, sizeof(b));
	assert_int_equal(volfs_catalog_ids(t->cat, tcat_collect_id, buf,
					   &t->err),
			 2);
	snprintf(want, sizeof(want), "a=%s,b=%s,", a2, b);
	assert_string_equal(buf, want);
	assert_int_equal(volfs_catalog_uuid(t->cat, "a", buf, sizeof(buf),
					    &t->err),
			 0);
	assert_string_equal(buf, a2);
	tcat_reserve(t, "c", 0);
	assert_int_equal(volfs_catalog_uuid(t->cat, "c", buf, sizeof(buf),
					    &t->err),
			 -ENOENT);
	assert_int_equal(volfs_catalog_uuid(t->cat, "none", buf, sizeof(buf),
					    &t->err),
			 -ENOENT);

	/* Schema 4 had none: the migration gives each volume its own. */
	tcat_close(t);
	tcat_sql(t, "DROP INDEX volumes_uuid; "
		    "ALTER TABLE volumes DROP COLUMN uuid; "
		    "PRAGMA user_version = 4");
	tcat_open(t);
	assert_int_equal(tcat_sql_int(t, "PRAGMA user_version"), 5);
	tcat_uuid(t, "a", a1, sizeof(a1));
	tcat_uuid(t, "b", b, sizeof(b));
	assert_string_not_equal(a1, b);
	assert_int_equal(tcat_sql_int(t, "SELECT count(DISTINCT uuid) FROM "
					 "volumes WHERE length(uuid) = 32"),
			 3);
}

/*
 * Rows written by processes of other pid and mount namespaces (a managed
 * Docker plugin and the host sharing one catalog): their pids and mounts
 * mean nothing here, so they are neither reaped nor offered as servers.
 * Rows of unknown (0) or our namespaces are judged as ever.
 */
static void test_namespaces(void **state)
{
	struct tcat *t = *state;
	struct volfs_server *list = NULL;
	char sql[1024];
	int n;

	tcat_open(t);
	tcat_mkvol(t, "shared");
	/* Our own rows carry our namespaces. */
	assert_int_equal(tcat_sql_int(t, "SELECT count(*) FROM volumes "
					 "WHERE ns = 0"),
			 0);
	tcat_close(t);
	/* Dead owners (pid 0x7ffffff0 runs nowhere) and directories that are
	 * no mounts, in foreign (12345), unknown (0) and our namespaces (as
	 * SQLite stores it: the 64-bit pattern as a signed integer). */
	snprintf(sql, sizeof(sql),
		 "INSERT INTO attachments (volume, consumer, target, since, "
		 "pid, pid_start, ns) VALUES "
		 "('shared', 'cli:foreign', NULL, 1, 2147483632, 1, 12345), "
		 "('shared', 'cli:unknown', NULL, 1, 2147483632, 1, 0), "
		 "('shared', 'cli:ours', NULL, 1, 2147483632, 1, %lld), "
		 "('shared', 'mount:/nowhere/here', NULL, 1, %d, %llu, %lld), "
		 "('shared', 'mount:/nowhere/there', NULL, 1, %d, %llu, 12345)",
		 (long long)volfs_ns_id(), (int)getpid(),
		 (unsigned long long)volfs_pid_start(getpid()),
		 (long long)volfs_ns_id(), (int)getpid(),
		 (unsigned long long)volfs_pid_start(getpid()));
	tcat_sql(t, sql);
	tcat_sql(t, "INSERT INTO servers (mountpoint, pid, pid_start, since, "
		    "ns) VALUES ('/mnt/volumes', 1, 1, 1, 12345)");
	tcat_open(t);
	n = volfs_catalog_reap(t->cat, &t->err);
	/* cli:unknown and cli:ours (dead) and mount:/nowhere/here (not a
	 * mount) went; the foreign ones stayed. */
	assert_int_equal(n, 3);
	assert_int_equal(tcat_sql_int(t, "SELECT count(*) FROM attachments "
					 "WHERE ns = 12345"),
			 2);
	assert_int_equal(tcat_sql_int(t, "SELECT count(*) FROM servers"), 1);
	assert_int_equal(volfs_catalog_servers(t->cat, &list, &t->err), 0);
	volfs_servers_free(list, 0);
	assert_int_equal(tcat_refcount(t, "shared"), 2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tcat_setup, tcat_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_open_creates),	  T(test_reopen_keeps),
		T(test_reserve_get_list), T(test_reserve_no_opts),
		T(test_reserve_invalid),  T(test_reserve_exists),
		T(test_dead_creator),	  T(test_attach_detach),
		T(test_attach_refused),	  T(test_remove_busy),
		T(test_delete_rows),	  T(test_reap),
		T(test_newer_schema),	  T(test_garbage),
		T(test_damaged_pages),	  T(test_not_a_catalog),
		T(test_unopenable),	  T(test_empty_list),
		T(test_busy_waits),	  T(test_servers),
		T(test_ref_unref),	  T(test_names),
		T(test_namespaces),	  T(test_count_same),
		T(test_open_tightens),	  T(test_open_existing),
		T(test_uuid),
	};

	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
