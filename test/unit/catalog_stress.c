/* SPDX-License-Identifier: MIT */
/*
 * Many processes using one catalog at once, as volfs CLIs, mounts and the
 * daemon do.  The parent forks NPROC children on a fresh state root; each
 * opens its own catalog and, for a few seconds, creates, attaches, detaches,
 * removes, reads and lists volumes drawn from a small pool of names.  Losing
 * a race (-EEXIST, -ENOENT, -EBUSY "in use") is fine; any other failure, and
 * any message that says "locked", is not.  Then the parent checks that the
 * database is sound and that reaping leaves no attachment behind, since
 * every owner is dead.
 *
 * Usage: catalog_stress [SECONDS]    (exit 0: pass, 1: fail)
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "volfs/catalog.h"
#include "volfs/util.h"

#define NPROC 20
#define NVOL 8
#define NCONSUMER 2
#define RUN_MS_DEFAULT 2500
/* Operations each child does even when slow (valgrind) past its time. */
#define MIN_OPS 30
/* How long the children may overrun their time before they are killed. */
#define GRACE_MS 20000

/* What a failure may be without counting as one. */
enum {
	OK_EXIST = 1 << 0,
	OK_NOENT = 1 << 1,
	OK_INUSE = 1 << 2,
};

/* One per child, in memory shared with the parent. */
struct stress_slot {
	long ops;
	long failed;
};

static const char *const stress_names[NVOL] = {
	"alpha", "bravo", "charlie", "delta", "echo", "fox", "golf", "hotel",
};

static const struct volfs_kv stress_opts[] = {
	{ "path", "/srv/stress" },
	{ "mode", "0755" },
};

static const struct volfs_kv stress_labels[] = {
	{ "team", "storage" },
	{ "tier", "gold" },
};

static int64_t stress_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns 1 if the result of op counts as a failure, after printing it. */
static int stress_bad(const char *op, const char *vol, int rc,
		      const struct volfs_err *err, unsigned ok)
{
	int fine = rc >= 0;

	if (rc == -EEXIST && (ok & OK_EXIST))
		fine = 1;
	if (rc == -ENOENT && (ok & OK_NOENT))
		fine = 1;
	/* Busy because of a volume's users or state, not of the database. */
	if (rc == -EBUSY && (ok & OK_INUSE) &&
	    (strstr(err->msg, "in use") || strstr(err->msg, "is being")))
		fine = 1;
	if (rc < 0 && strstr(err->msg, "locked"))
		fine = 0;
	if (fine)
		return 0;
	fprintf(stderr, "catalog_stress: pid %d: %s '%s': %d (%s): %s\n",
		(int)getpid(), op, vol, rc, strerror(rc < 0 ? -rc : rc),
		err->msg);
	return 1;
}

static int stress_check_volume(const struct volfs_volume *v)
{
	if (strcmp(v->backend, "local") != 0 || v->nopts != 2 ||
	    v->nlabels != 2)
		return 1;
	for (size_t i = 0; i < 2; i++)
		if (strcmp(v->opts[i].key, stress_opts[i].key) != 0 ||
		    strcmp(v->opts[i].value, stress_opts[i].value) != 0 ||
		    strcmp(v->labels[i].key, stress_labels[i].key) != 0 ||
		    strcmp(v->labels[i].value, stress_labels[i].value) != 0)
			return 1;
	return 0;
}

static int stress_create(struct volfs_catalog *cat, const char *name,
			 struct volfs_err *err)
{
	struct volfs_volume v = {
		.name = (char *)name,
		.backend = (char *)"local",
		.opts = (struct volfs_kv *)stress_opts,
		.nopts = 2,
		.labels = (struct volfs_kv *)stress_labels,
		.nlabels = 2,
	};
	int rc;

	rc = volfs_catalog_reserve(cat, &v, err);
	if (rc < 0)
		return stress_bad("reserve", name, rc, err, OK_EXIST);
	/* Nobody else may touch a row this process is creating. */
	rc = volfs_catalog_set_state(cat, name, VOLFS_VOL_READY, err);
	return stress_bad("set_state", name, rc, err, 0);
}

static int stress_attach(struct volfs_catalog *cat, const char *name,
			 int consumer, struct volfs_err *err)
{
	char id[64];
	struct volfs_attachment a = {
		.volume = (char *)name,
		.consumer = id,
		.target = (char *)"/stress/target",
		.readonly = consumer & 1,
		.pid = getpid(),
		.pid_start = volfs_pid_start(getpid()),
	};
	int rc;

	snprintf(id, sizeof(id), "c-%d-%d", (int)getpid(), consumer);
	rc = volfs_catalog_attach(cat, &a, err);
	return stress_bad("attach", name, rc, err, OK_NOENT | OK_INUSE);
}

static int stress_detach(struct volfs_catalog *cat, const char *name,
			 int consumer, struct volfs_err *err)
{
	char id[64];
	int rc;

	snprintf(id, sizeof(id), "c-%d-%d", (int)getpid(), consumer);
	rc = volfs_catalog_detach(cat, name, id, err);
	return stress_bad("detach", name, rc, err, OK_NOENT);
}

static int stress_remove(struct volfs_catalog *cat, const char *name,
			 struct volfs_err *err)
{
	int rc;

	rc = volfs_catalog_begin_remove(cat, name, 0, err);
	if (rc < 0)
		return stress_bad("begin_remove", name, rc, err,
				  OK_NOENT | OK_INUSE);
	/* Only one remover wins begin_remove: the delete is ours. */
	rc = volfs_catalog_delete(cat, name, err);
	return stress_bad("delete", name, rc, err, 0);
}

static int stress_get(struct volfs_catalog *cat, const char *name,
		      struct volfs_err *err)
{
	struct volfs_volume v;
	int rc, bad = 0;

	rc = volfs_catalog_get(cat, name, &v, err);
	if (rc < 0)
		return stress_bad("get", name, rc, err, OK_NOENT);
	if (strcmp(v.name, name) != 0 || stress_check_volume(&v) ||
	    (v.state != VOLFS_VOL_READY && v.refcount != 0)) {
		fprintf(stderr, "catalog_stress: get '%s': wrong row\n", name);
		bad = 1;
	}
	volfs_volume_release(&v);
	return bad;
}

static int stress_list(struct volfs_catalog *cat, struct volfs_err *err)
{
	struct volfs_volume *v;
	int n, bad = 0;

	n = volfs_catalog_list(cat, &v, err);
	if (n < 0)
		return stress_bad("list", "*", n, err, 0);
	if (n > NVOL)
		bad = 1;
	for (int i = 0; i < n && !bad; i++) {
		if (i > 0 && strcmp(v[i - 1].name, v[i].name) >= 0)
			bad = 1;
		if (v[i].state != VOLFS_VOL_READY &&
		    v[i].state != VOLFS_VOL_REMOVING)
			bad = 1;
		if (v[i].refcount > NPROC * NCONSUMER ||
		    stress_check_volume(&v[i]))
			bad = 1;
	}
	if (bad)
		fprintf(stderr, "catalog_stress: list: wrong result\n");
	volfs_volumes_free(v, (size_t)n);
	return bad;
}

static int stress_attachments(struct volfs_catalog *cat, const char *name,
			      struct volfs_err *err)
{
	struct volfs_attachment *a;
	int n, bad = 0;

	n = volfs_catalog_attachments(cat, name, &a, err);
	if (n < 0)
		return stress_bad("attachments", name, n, err, OK_NOENT);
	/* Other owners may have exited since; this one has not. */
	for (int i = 0; i < n; i++)
		if (strcmp(a[i].volume, name) != 0 ||
		    strncmp(a[i].consumer, "c-", 2) != 0 ||
		    (a[i].pid == getpid() &&
		     a[i].pid_start != volfs_pid_start(getpid())))
			bad = 1;
	if (bad)
		fprintf(stderr,
			"catalog_stress: attachments '%s': a stale or "
			"wrong row\n",
			name);
	volfs_attachments_free(a, (size_t)n);
	return bad;
}

static int stress_child(const char *root, int start, int64_t run_ms,
			struct stress_slot *slot)
{
	struct volfs_catalog *cat;
	struct volfs_err err;
	unsigned seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
	int64_t deadline;
	char c;
	int rc;

	/* Start together with the others, on a catalog nobody made yet. */
	while (read(start, &c, 1) > 0)
		;
	close(start);
	deadline = stress_now_ms() + run_ms;
	volfs_err_clear(&err);
	rc = volfs_catalog_open(root, &cat, &err);
	slot->ops++;
	if (stress_bad("open", root, rc, &err, 0)) {
		slot->failed++;
		return 1;
	}
	while (slot->ops < MIN_OPS || stress_now_ms() < deadline) {
		const char *name = stress_names[rand_r(&seed) % NVOL];
		int consumer = rand_r(&seed) % NCONSUMER;
		int pick = rand_r(&seed) % 100;

		volfs_err_clear(&err);
		/* Detach more than attach, or every volume stays in use. */
		if (pick < 20)
			rc = stress_create(cat, name, &err);
		else if (pick < 35)
			rc = stress_attach(cat, name, consumer, &err);
		else if (pick < 60)
			rc = stress_detach(cat, name, consumer, &err);
		else if (pick < 80)
			rc = stress_remove(cat, name, &err);
		else if (pick < 88)
			rc = stress_get(cat, name, &err);
		else if (pick < 95)
			rc = stress_list(cat, &err);
		else
			rc = stress_attachments(cat, name, &err);
		slot->ops++;
		slot->failed += rc;
	}
	volfs_catalog_close(cat);
	return slot->failed ? 1 : 0;
}

/* Returns the number of rows of sql (first column of each in *first). */
static int stress_sql(const char *path, const char *sql, char *first,
		      size_t len)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	int rows = 0;

	if (first)
		first[0] = '\0';
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		fprintf(stderr, "catalog_stress: cannot open '%s': %s\n", path,
			sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "catalog_stress: %s: %s\n", sql,
			sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (rows == 0 && first && sqlite3_column_text(st, 0))
			snprintf(first, len, "%s",
				 (const char *)sqlite3_column_text(st, 0));
		rows++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rows;
}

/* The checks once every child is gone; returns the number that failed. */
static int stress_verify(const char *root)
{
	struct volfs_catalog *cat;
	struct volfs_attachment *a;
	struct volfs_volume *v;
	struct volfs_err err;
	char path[300], buf[256];
	int bad = 0, rc, n;

	snprintf(path, sizeof(path), "%s/catalog.db", root);
	if (stress_sql(path, "PRAGMA integrity_check", buf, sizeof(buf)) != 1 ||
	    strcmp(buf, "ok") != 0) {
		fprintf(stderr, "catalog_stress: integrity_check: %s\n", buf);
		bad++;
	}
	rc = stress_sql(path, "PRAGMA foreign_key_check", buf, sizeof(buf));
	if (rc != 0) {
		fprintf(stderr, "catalog_stress: foreign_key_check: %d rows\n",
			rc);
		bad++;
	}
	rc = stress_sql(path, "SELECT 1 FROM volumes WHERE state != 1", NULL,
			0);
	if (rc != 0) {
		fprintf(stderr, "catalog_stress: %d volumes not ready\n", rc);
		bad++;
	}

	volfs_err_clear(&err);
	rc = volfs_catalog_open(root, &cat, &err);
	if (rc < 0) {
		fprintf(stderr, "catalog_stress: open: %s\n", err.msg);
		return bad + 1;
	}
	n = stress_sql(path, "SELECT 1 FROM attachments", NULL, 0);
	rc = volfs_catalog_reap(cat, &err);
	if (rc != n) {
		fprintf(stderr,
			"catalog_stress: reap: %d (%s), expected %d stale "
			"attachments\n",
			rc, err.msg, n);
		bad++;
	}
	rc = volfs_catalog_attachments(cat, NULL, &a, &err);
	if (rc != 0) {
		fprintf(stderr, "catalog_stress: %d attachments after reap\n",
			rc);
		bad++;
	}
	if (rc > 0)
		volfs_attachments_free(a, (size_t)rc);
	if (stress_sql(path, "SELECT 1 FROM attachments", NULL, 0) != 0)
		bad++;

	n = volfs_catalog_list(cat, &v, &err);
	if (n < 0) {
		fprintf(stderr, "catalog_stress: list: %s\n", err.msg);
		bad++;
	}
	for (int i = 0; i < n; i++) {
		if (v[i].state != VOLFS_VOL_READY || v[i].refcount != 0 ||
		    stress_check_volume(&v[i])) {
			fprintf(stderr,
				"catalog_stress: volume '%s': state %d, "
				"refcount %u\n",
				v[i].name, (int)v[i].state, v[i].refcount);
			bad++;
		}
	}
	if (n >= 0)
		volfs_volumes_free(v, (size_t)n);
	volfs_catalog_close(cat);
	return bad;
}

/* Waits for every child until deadline, then kills the ones left. */
static int stress_wait(pid_t *pids, int n, int64_t deadline)
{
	int left = n, bad = 0, status;

	while (left > 0) {
		pid_t pid = waitpid(-1, &status, WNOHANG);

		if (pid < 0)
			break;
		if (pid == 0) {
			if (stress_now_ms() < deadline) {
				usleep(10000);
				continue;
			}
			fprintf(stderr, "catalog_stress: children hang\n");
			for (int i = 0; i < n; i++)
				if (pids[i] > 0)
					kill(pids[i], SIGKILL);
			deadline = INT64_MAX;
			bad++;
			continue;
		}
		for (int i = 0; i < n; i++)
			if (pids[i] == pid)
				pids[i] = 0;
		left--;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr,
				"catalog_stress: child %d: status 0x%x\n",
				(int)pid, status);
			bad++;
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/volfs-catalog-stress-XXXXXX";
	char root[sizeof(dir) + 16];
	int64_t run_ms = RUN_MS_DEFAULT;
	struct stress_slot *slots;
	pid_t pids[NPROC] = { 0 };
	long ops = 0, failed = 0;
	int start[2], bad;

	if (argc > 1)
		run_ms = (int64_t)(atof(argv[1]) * 1000);
	if (!mkdtemp(dir)) {
		perror("catalog_stress: mkdtemp");
		return 1;
	}
	snprintf(root, sizeof(root), "%s/state", dir);
	slots = mmap(NULL, NPROC * sizeof(*slots), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (slots == MAP_FAILED || pipe(start) < 0) {
		perror("catalog_stress");
		volfs_rm_rf(dir);
		return 1;
	}
	fflush(NULL);
	for (int i = 0; i < NPROC; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("catalog_stress: fork");
			failed++;
			break;
		}
		if (pids[i] == 0) {
			close(start[1]);
			_exit(stress_child(root, start[0], run_ms, &slots[i]));
		}
	}
	close(start[0]);
	close(start[1]);

	bad = stress_wait(pids, NPROC, stress_now_ms() + run_ms + GRACE_MS);
	for (int i = 0; i < NPROC; i++) {
		ops += slots[i].ops;
		failed += slots[i].failed;
	}
	failed += bad;
	if (!bad)
		failed += stress_verify(root);
	munmap(slots, NPROC * sizeof(*slots));
	volfs_rm_rf(dir);
	printf("catalog_stress: %d processes, %ld operations, %ld failed\n",
	       NPROC, ops, failed);
	return failed ? 1 : 0;
}
