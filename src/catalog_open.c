/* SPDX-License-Identifier: MIT */
/*
 * Opening the catalog: the state root and the catalog's files, their
 * modes, and the schema and its migrations.
 *
 * The root and the files are the owner's alone (0700, CAT_FILE_MODE),
 * whatever the umask: a catalog is created 0600 before SQLite opens it, and SQLite
 * gives its -wal and -shm files the mode of the database.  Files of an
 * older volfs, made 0644 under a 0755 root, are tightened at open when this
 * process owns them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "catalog_int.h"
#include "volfs/util.h"

/*
 * Schema migrations: step i takes user_version i to i + 1.  Only append.
 * Options and labels live in child tables, one row per pair, "pos" keeping
 * the order they were given in.  volumes.state holds enum volfs_volstate;
 * the SQL below spells its values as numbers.
 */
_Static_assert(VOLFS_VOL_CREATING == 0 && VOLFS_VOL_READY == 1 &&
		       VOLFS_VOL_REMOVING == 2,
	       "volume states are stored by value in the catalog");

static const char *const cat_migrations[] = {
	"CREATE TABLE volumes ("
	" name TEXT PRIMARY KEY NOT NULL,"
	" backend TEXT NOT NULL,"
	" anonymous INTEGER NOT NULL DEFAULT 0,"
	" state INTEGER NOT NULL,"
	" created INTEGER NOT NULL,"
	" creator_pid INTEGER NOT NULL,"
	" creator_start INTEGER NOT NULL);"
	"CREATE TABLE volume_options ("
	" volume TEXT NOT NULL"
	"  REFERENCES volumes(name) ON DELETE CASCADE,"
	" pos INTEGER NOT NULL,"
	" key TEXT NOT NULL,"
	" value TEXT NOT NULL,"
	" PRIMARY KEY (volume, pos),"
	" UNIQUE (volume, key));"
	"CREATE TABLE volume_labels ("
	" volume TEXT NOT NULL"
	"  REFERENCES volumes(name) ON DELETE CASCADE,"
	" pos INTEGER NOT NULL,"
	" key TEXT NOT NULL,"
	" value TEXT NOT NULL,"
	" PRIMARY KEY (volume, pos),"
	" UNIQUE (volume, key));"
	"CREATE TABLE attachments ("
	" volume TEXT NOT NULL"
	"  REFERENCES volumes(name) ON DELETE CASCADE,"
	" consumer TEXT NOT NULL,"
	" target TEXT,"
	" readonly INTEGER NOT NULL DEFAULT 0,"
	" since INTEGER NOT NULL,"
	" pid INTEGER NOT NULL,"
	" pid_start INTEGER NOT NULL,"
	" PRIMARY KEY (volume, consumer));",
	/* 2: `volfs serve` processes, so mounts can share their instances. */
	"CREATE TABLE servers ("
	" mountpoint TEXT PRIMARY KEY NOT NULL,"
	" pid INTEGER NOT NULL,"
	" pid_start INTEGER NOT NULL,"
	" since INTEGER NOT NULL);",
	/* 3: a consumer may hold a volume several times (Docker mounts one
	 * mount id again for `docker cp`); it is released by as many. */
	"ALTER TABLE attachments ADD COLUMN mounts INTEGER NOT NULL DEFAULT 1;"
	/* Reaping looks for volumes still being created on every write. */
	"CREATE INDEX volumes_creating ON volumes (creator_pid) "
	"WHERE state = 0;",
	/* 4: the pid and mount namespaces of whoever wrote a row that names
	 * a process or a mount (volfs_ns_id(); 0: not known), so that
	 * processes of other namespaces sharing the catalog (a managed Docker
	 * plugin and the host) leave each other's rows alone. */
	"ALTER TABLE volumes ADD COLUMN ns INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE attachments ADD COLUMN ns INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE servers ADD COLUMN ns INTEGER NOT NULL DEFAULT 0;",
	/* 5: an identity per volume, never given to another: a volume
	 * removed and created again under its name is a new volume to every
	 * process that still holds the old one open (volfs serve). */
	"ALTER TABLE volumes ADD COLUMN uuid TEXT NOT NULL DEFAULT '';"
	"UPDATE volumes SET uuid = " CAT_NEW_UUID ";"
	"CREATE UNIQUE INDEX volumes_uuid ON volumes (uuid);",
};

#define CAT_SCHEMA_VERSION ((int)CAT_ARRAY_SIZE(cat_migrations))

static int cat_too_new(struct volfs_catalog *cat, int version,
		       struct volfs_err *err)
{
	return volfs_err_set(err, -EPROTO,
			     "catalog '%s' was written by a newer volfs "
			     "(schema %d; this volfs knows up to %d): upgrade "
			     "volfs, or use another --root",
			     cat->path, version, CAT_SCHEMA_VERSION);
}

static int cat_migrate_locked(struct volfs_catalog *cat, void *arg,
			      struct volfs_err *err)
{
	char sql[64];
	int version, rc;

	version = cat_int(cat, "PRAGMA user_version", NULL, err);
	if (version < 0)
		return version;
	if (version > CAT_SCHEMA_VERSION)
		return cat_too_new(cat, version, err);
	if (version == CAT_SCHEMA_VERSION)
		return 0;
	if (version == 0) {
		/* A database with tables but no version is not ours. */
		rc = cat_int(cat, "SELECT count(*) FROM sqlite_master", NULL,
			     err);
		if (rc < 0)
			return rc;
		if (rc > 0)
			return volfs_err_set(err, -EIO,
					     "'%s' is an SQLite database but "
					     "not a volfs catalog: move it "
					     "away, or use another --root",
					     cat->path);
	}
	for (int i = version; i < CAT_SCHEMA_VERSION; i++) {
		rc = cat_exec(cat, cat_migrations[i], err);
		if (rc < 0)
			return rc;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		 CAT_SCHEMA_VERSION);
	return cat_exec(cat, sql, err);
}

/*
 * Runs a pragma outside any transaction, retrying while another process
 * holds the database (turning a fresh database to WAL takes an exclusive
 * lock and does not wait on the busy handler).  The first column of the
 * first row, if any, is copied into buf.
 */
static int cat_pragma(struct volfs_catalog *cat, const char *sql, char *buf,
		      size_t len, struct volfs_err *err)
{
	int64_t deadline = cat_now_ms() + CAT_BUSY_MS;
	sqlite3_stmt *st = NULL;
	int rc;

	for (int attempt = 0;; attempt++) {
		rc = sqlite3_prepare_v2(cat->db, sql, -1, &st, NULL);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(st);
			if (rc == SQLITE_ROW && buf) {
				const unsigned char *s =
					sqlite3_column_text(st, 0);

				snprintf(buf, len, "%s", s ? (char *)s : "");
			}
			while (rc == SQLITE_ROW)
				rc = sqlite3_step(st);
		}
		if (rc == SQLITE_DONE || rc == SQLITE_OK) {
			sqlite3_finalize(st);
			return 0;
		}
		if (!cat_is_busy(rc) || cat_now_ms() >= deadline) {
			rc = cat_fail(cat, rc, err);
			sqlite3_finalize(st);
			return rc;
		}
		sqlite3_finalize(st);
		st = NULL;
		cat_nap(attempt);
	}
}

static int cat_setup(struct volfs_catalog *cat, struct volfs_err *err)
{
	char buf[32];
	int version, rc;

	sqlite3_extended_result_codes(cat->db, 1);
	sqlite3_busy_timeout(cat->db, CAT_BUSY_MS);
	cat->ns = volfs_ns_id();
	rc = cat_reap_init(cat);
	if (rc != SQLITE_OK)
		return cat_fail(cat, rc, err);

	/* The first read: refuse a newer catalog before changing anything
	 * in it, and find out whether the file is a database at all. */
	rc = cat_pragma(cat, "PRAGMA user_version", buf, sizeof(buf), err);
	if (rc < 0)
		return rc;
	version = atoi(buf);
	if (version > CAT_SCHEMA_VERSION)
		return cat_too_new(cat, version, err);

	rc = cat_pragma(cat, "PRAGMA journal_mode = WAL", buf, sizeof(buf),
			err);
	if (rc < 0)
		return rc;
	if (strcmp(buf, "wal") != 0)
		volfs_log(VOLFS_LOG_WARNING,
			  "catalog '%s' is in journal mode '%s', not 'wal': "
			  "other volfs processes will wait for each other "
			  "longer",
			  cat->path, buf);
	rc = cat_pragma(cat, "PRAGMA synchronous = FULL", NULL, 0, err);
	if (rc < 0)
		return rc;
	rc = cat_pragma(cat, "PRAGMA foreign_keys = ON", NULL, 0, err);
	if (rc < 0)
		return rc;
	return cat_txn(cat, cat_migrate_locked, NULL, NULL, err);
}

/*
 * Takes group and other rights away from path when this process owns it;
 * a missing file is not an error.  A shared sticky directory (/tmp given as
 * --root) is left alone, with a warning: it is not the catalog's to close.
 */
static int cat_tighten(const char *path, struct volfs_err *err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (st.st_uid != geteuid() || !(st.st_mode & 077))
		return 0;
	if (S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX)) {
		volfs_log(VOLFS_LOG_WARNING,
			  "state root '%s' is a shared directory (mode %04o): "
			  "the catalog in it is private, but use a directory "
			  "of its own with --root",
			  path, (unsigned)(st.st_mode & 07777));
		return 0;
	}
	if (chmod(path, st.st_mode & ~(mode_t)077 & 07777) < 0 &&
	    errno != EROFS)
		return volfs_err_set(err, -errno,
				     "cannot make '%s' private to its owner: "
				     "%s: check that it is yours, or use "
				     "another --root",
				     path, strerror(errno));
	return 0;
}

/*
 * Tightens the modes of every file of the catalog, and of the state root
 * when it is one (it holds a catalog, or was just made for one): a
 * directory given as --root that is not volfs's keeps its mode.
 */
static int cat_tighten_all(struct volfs_catalog *cat, int root,
			   struct volfs_err *err)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char path[PATH_MAX];
	int rc;

	rc = root ? cat_tighten(cat->root, err) : 0;
	for (size_t i = 0; rc == 0 && i < CAT_ARRAY_SIZE(suffix); i++) {
		snprintf(path, sizeof(path), "%s%s", cat->path, suffix[i]);
		rc = cat_tighten(path, err);
	}
	return rc;
}

/* What to do when the state root or the catalog cannot be made: e. */
static const char *cat_make_hint(int e)
{
	switch (e) {
	case EROFS:
		return "remount its file system read-write, or use another "
		       "--root";
	case ENOSPC:
	case EDQUOT:
		return "free some space on its file system, or use another "
		       "--root";
	default:
		return "check the permissions of its parent, or use another "
		       "--root";
	}
}

/*
 * The state root for a command that creates volumes, made when missing (the
 * root itself private once cat_tighten_all() ran, missing parents 0711 so
 * that others may still pass through them).
 */
static int cat_make_root(const char *root, struct volfs_err *err)
{
	int rc = volfs_mkdir_p(root, 0711);

	if (rc < 0)
		return volfs_err_set(err, rc,
				     "cannot create state root '%s': %s: %s",
				     root, strerror(-rc), cat_make_hint(-rc));
	return 0;
}

/*
 * Creates the catalog file 0600 when it is missing, so SQLite (which
 * creates it 0644 less the umask) finds it private, and its -wal and -shm
 * files, made with the database's mode, are too.
 */
static int cat_make_file(struct volfs_catalog *cat, struct volfs_err *err)
{
	int fd = open(cat->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		      CAT_FILE_MODE);

	if (fd < 0 && errno == EEXIST)
		return 0;
	if (fd < 0)
		return volfs_err_set(err, -errno,
				     "cannot create catalog '%s': %s: %s",
				     cat->path, strerror(errno),
				     cat_make_hint(errno));
	fchmod(fd, CAT_FILE_MODE);
	close(fd);
	return 0;
}

/*
 * For a command that only reads: the state root and its catalog must be
 * there already (a mistyped --root must not make a new empty one).
 */
static int cat_find(struct volfs_catalog *cat, struct volfs_err *err)
{
	struct stat st;
	int rc;

	rc = stat(cat->root, &st) < 0 ? -errno : 0;
	if (rc == 0 && !S_ISDIR(st.st_mode))
		return volfs_err_set(err, -ENOTDIR,
				     "state root '%s' is not a directory: "
				     "check --root (or $VOLFS_ROOT)",
				     cat->root);
	if (rc < 0) {
		if (rc == -ENOENT || rc == -ENOTDIR)
			return volfs_err_set(err, -ENOENT,
					     "no state root '%s': no volume has "
					     "been created there; check --root "
					     "(or $VOLFS_ROOT), or create a "
					     "volume first with 'volfs create'",
					     cat->root);
		return volfs_err_set(err, rc,
				     "cannot open state root '%s': %s: run "
				     "volfs as the user that owns it, or use "
				     "another --root",
				     cat->root, strerror(-rc));
	}
	if (stat(cat->path, &st) < 0) {
		if (errno == ENOENT)
			return volfs_err_set(err, -ENOENT,
					     "no catalog in state root '%s': "
					     "no volume has been created "
					     "there; check --root (or "
					     "$VOLFS_ROOT), or create a volume "
					     "first with 'volfs create'",
					     cat->root);
		return volfs_err_set(err, -errno,
				     "cannot open catalog '%s': %s: run volfs "
				     "as the user that owns it, or use "
				     "another --root",
				     cat->path, strerror(errno));
	}
	return 0;
}

static int cat_open(const char *root, int create, struct volfs_catalog **out,
		    struct volfs_err *err)
{
	struct volfs_catalog *cat;
	struct stat st;
	int rc, ours;

	*out = NULL;
	cat = calloc(1, sizeof(*cat));
	if (!cat)
		return cat_oom(err);
	cat->mounts.fd = -1;
	cat_op(cat, "cannot open the catalog");
	cat->root = strdup(root);
	if (!cat->root || asprintf(&cat->path, "%s/%s", root, CAT_FILE) < 0) {
		cat->path = NULL;
		rc = cat_oom(err);
		goto err_close;
	}
	ours = stat(cat->path, &st) == 0 || stat(root, &st) < 0;
	if (create) {
		rc = cat_make_root(root, err);
		if (rc == 0)
			rc = cat_make_file(cat, err);
	} else {
		rc = cat_find(cat, err);
	}
	if (rc == 0)
		rc = cat_tighten_all(cat, ours, err);
	if (rc < 0)
		goto err_close;
	/* Even when it fails, sqlite3_open_v2() returns a handle to close. */
	rc = sqlite3_open_v2(cat->path, &cat->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		rc = cat_fail(cat, rc, err);
		goto err_close;
	}
	rc = cat_setup(cat, err);
	if (rc < 0)
		goto err_close;
	*out = cat;
	return 0;

err_close:
	volfs_catalog_close(cat);
	return rc;
}

int volfs_catalog_open(const char *root, struct volfs_catalog **out,
		       struct volfs_err *err)
{
	return cat_open(root, 1, out, err);
}

int volfs_catalog_open_existing(const char *root, struct volfs_catalog **out,
				struct volfs_err *err)
{
	return cat_open(root, 0, out, err);
}

void volfs_catalog_close(struct volfs_catalog *cat)
{
	if (!cat)
		return;
	for (size_t i = 0; i < cat->nstc; i++) {
		sqlite3_finalize(cat->stc[i].st);
		free(cat->stc[i].sql);
	}
	sqlite3_close(cat->db);
	cat_reap_release(cat);
	free(cat->path);
	free(cat->root);
	free(cat);
}

const char *volfs_catalog_root(const struct volfs_catalog *cat)
{
	return cat->root;
}
