/* SPDX-License-Identifier: MIT */
/*
 * Liveness and reaping: which attachments, CREATING volumes and servers
 * still have an owner.  The SQL functions below are the one judge, used
 * both by reaping (which deletes what they call dead) and by every
 * reference count (CAT_REFCOUNT, which leaves it out until it is reaped).
 *
 * Every write transaction reaps first, under the write lock that every
 * other writer waits for, so a reap must cost little on a host with
 * thousands of mounts: the mount table is parsed at most once per change
 * of it (poll() on /proc/self/mountinfo says when), and a target is looked
 * up in the sorted set of volfs mountpoints.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "catalog_int.h"
#include "volfs/util.h"

#define CAT_MOUNTINFO "/proc/self/mountinfo"

/* Whether a row written in namespaces ns (volfs_ns_id()) can be judged
 * here: its pids and mounts are ours to look at. */
static int cat_ns_ours(sqlite3_context *ctx, sqlite3_value *ns)
{
	const struct volfs_catalog *cat = sqlite3_user_data(ctx);
	uint64_t id = (uint64_t)sqlite3_value_int64(ns);

	return id == 0 || id == cat->ns;
}

/* SQL function volfs_ns(): this process's namespaces, for new rows. */
static void cat_sql_ns(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct volfs_catalog *cat = sqlite3_user_data(ctx);

	(void)argc;
	(void)argv;
	sqlite3_result_int64(ctx, (sqlite3_int64)cat->ns);
}

/*
 * SQL function volfs_gone(pid, start, ns): 1 if process pid no longer runs
 * with that start time (exited, or its pid was reused).  Pid 0 owns
 * durable attachments (Docker's), which no process's death ends; a pid of
 * other namespaces cannot be judged here, nor any pid without a readable
 * /proc (every owner would look dead).
 */
static void cat_sql_gone(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct volfs_catalog *cat = sqlite3_user_data(ctx);
	sqlite3_int64 pid = sqlite3_value_int64(argv[0]);
	uint64_t start = (uint64_t)sqlite3_value_int64(argv[1]);

	(void)argc;
	if (pid == 0 || !cat_ns_ours(ctx, argv[2])) {
		sqlite3_result_int(ctx, 0);
		return;
	}
	if (cat->live.txn != cat->txn) {
		cat->live.txn = cat->txn;
		cat->live.proc_ok = volfs_pid_start(getpid()) != 0;
		cat->live.pid = 0;
	}
	if (!cat->live.proc_ok) {
		sqlite3_result_int(ctx, 0);
		return;
	}
	if (pid < 0 || pid > INT_MAX) {
		sqlite3_result_int(ctx, 1);
		return;
	}
	if (cat->live.pid != (pid_t)pid) {
		cat->live.pid = (pid_t)pid;
		cat->live.start = volfs_pid_start((pid_t)pid);
	}
	sqlite3_result_int(ctx, cat->live.start != start);
}

static void cat_mounts_clear(struct cat_mounts *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->dirs[i]);
	free(m->dirs);
	m->dirs = NULL;
	m->n = 0;
	m->valid = 0;
}

static int cat_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the volfs mountpoints of the mount table from m->fd into m. */
static int cat_mounts_read(struct cat_mounts *m)
{
	size_t alloc = 0, cap = 0;
	char *line = NULL, *dir;
	int rc = 0, fd;
	FILE *f;

	cat_mounts_clear(m);
	/* A descriptor of its own: m->fd stays open for poll(), and stdio
	 * closes what it reads. */
	fd = open(CAT_MOUNTINFO, O_RDONLY | O_CLOEXEC);
	f = fd < 0 ? NULL : fdopen(fd, "r");
	if (!f) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while (getline(&line, &cap, f) > 0) {
		dir = volfs_mountinfo_volfs_dir(line);
		if (!dir)
			continue;
		if (m->n == alloc) {
			size_t na = alloc ? alloc * 2 : 16;
			char **nd = realloc(m->dirs, na * sizeof(*nd));

			if (!nd) {
				rc = -ENOMEM;
				break;
			}
			m->dirs = nd;
			alloc = na;
		}
		m->dirs[m->n] = strdup(dir);
		if (!m->dirs[m->n]) {
			rc = -ENOMEM;
			break;
		}
		m->n++;
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	free(line);
	fclose(f);
	if (rc < 0) {
		cat_mounts_clear(m);
		return rc;
	}
	/* (qsort() and bsearch() want an array, even of nothing.) */
	if (m->n)
		qsort(m->dirs, m->n, sizeof(*m->dirs), cat_str_cmp);
	m->valid = 1;
	return 0;
}

/*
 * Brings m up to date with the mount table: read again only when poll()
 * on the table's descriptor reports a change since the last look.  The
 * poll() comes before the read, so a change while reading is seen at the
 * next look.
 */
static void cat_mounts_update(struct cat_mounts *m)
{
	struct pollfd pfd;

	if (m->fd < 0) {
		m->fd = open(CAT_MOUNTINFO, O_RDONLY | O_CLOEXEC);
		m->valid = 0;
	}
	if (m->fd >= 0 && m->valid) {
		pfd = (struct pollfd){ .fd = m->fd, .events = POLLPRI };
		if (poll(&pfd, 1, 0) == 1 &&
		    (pfd.revents & (POLLPRI | POLLERR)))
			m->valid = 0;
	}
	if (m->fd >= 0 && m->valid)
		return;
	m->failed = cat_mounts_read(m) < 0;
	/* Without a descriptor to poll every look reads the table again. */
	if (m->fd < 0)
		m->valid = 0;
}

/* 1 if dir is a volfs mountpoint, 0 if not, -1 if that is not known. */
static int cat_mounts_has(const struct cat_mounts *m, const char *dir)
{
	if (m->failed)
		return -1;
	return m->n &&
	       bsearch(&dir, m->dirs, m->n, sizeof(*m->dirs), cat_str_cmp) !=
	       NULL;
}

/*
 * SQL function volfs_unmounted(consumer, target, ns): 1 if consumer is
 * "mount:DIR" and its directory (target, or DIR when target is NULL) is no
 * longer a volfs mount.  When the mount table cannot be read, or is not
 * the one the row was written in, 0: keep it.
 */
static void cat_sql_unmounted(sqlite3_context *ctx, int argc,
			      sqlite3_value **argv)
{
	struct volfs_catalog *cat = sqlite3_user_data(ctx);
	const char *consumer = (const char *)sqlite3_value_text(argv[0]);
	const char *target = (const char *)sqlite3_value_text(argv[1]);

	(void)argc;
	if (!consumer || strncmp(consumer, "mount:", 6) != 0 ||
	    !cat_ns_ours(ctx, argv[2])) {
		sqlite3_result_int(ctx, 0);
		return;
	}
	if (!target)
		target = consumer + 6;
	cat_mounts_update(&cat->mounts);
	sqlite3_result_int(ctx, cat_mounts_has(&cat->mounts, target) == 0);
}

int cat_reap_init(struct volfs_catalog *cat)
{
	int rc;

	rc = sqlite3_create_function(cat->db, "volfs_gone", 3,
				     SQLITE_UTF8 | SQLITE_DIRECTONLY, cat,
				     cat_sql_gone, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(cat->db, "volfs_unmounted", 3,
					     SQLITE_UTF8 | SQLITE_DIRECTONLY,
					     cat, cat_sql_unmounted, NULL,
					     NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(cat->db, "volfs_ns", 0,
					     SQLITE_UTF8 | SQLITE_DIRECTONLY,
					     cat, cat_sql_ns, NULL, NULL);
	return rc;
}

void cat_reap_prepare(struct volfs_catalog *cat)
{
	cat_mounts_update(&cat->mounts);
}

void cat_reap_release(struct volfs_catalog *cat)
{
	cat_mounts_clear(&cat->mounts);
	if (cat->mounts.fd >= 0)
		close(cat->mounts.fd);
	cat->mounts.fd = -1;
}

int cat_reap_locked(struct volfs_catalog *cat, struct volfs_err *err)
{
	int n = 0, rc;

	/* Without a readable /proc every owner would look dead. */
	if (volfs_pid_start(getpid()) == 0)
		volfs_log(VOLFS_LOG_WARNING,
			  "cannot read /proc/%d/stat: not reaping attachments "
			  "of dead processes",
			  (int)getpid());
	rc = cat_run(cat, "DELETE FROM attachments WHERE " CAT_ATT_DEAD, NULL,
		     NULL, err);
	if (rc < 0)
		return rc;
	n += rc;
	rc = cat_run(cat,
		     "DELETE FROM volumes WHERE state = 0 AND "
		     "volfs_gone(creator_pid, creator_start, ns)",
		     NULL, NULL, err);
	if (rc < 0)
		return rc;
	n += rc;
	rc = cat_run(cat,
		     "DELETE FROM servers WHERE volfs_gone(pid, pid_start, ns) "
		     "OR volfs_unmounted('mount:' || mountpoint, mountpoint, "
		     "ns)",
		     NULL, NULL, err);
	return rc < 0 ? rc : n + rc;
}

static int cat_reap_txn(struct volfs_catalog *cat, void *arg,
			struct volfs_err *err)
{
	(void)arg;
	return cat_reap_locked(cat, err);
}

int volfs_catalog_reap(struct volfs_catalog *cat, struct volfs_err *err)
{
	cat_op(cat, "cannot reap stale attachments");
	return cat_txn(cat, cat_reap_txn, NULL, NULL, err);
}
