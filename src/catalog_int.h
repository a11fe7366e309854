/* SPDX-License-Identifier: MIT */
/*
 * What the files of the catalog share, and nothing outside them includes:
 * catalog.c (volumes, servers and the SQL helpers), catalog_attach.c
 * (attachments and references), catalog_open.c (files, modes, schema) and
 * catalog_reap.c (liveness and reaping).
 */
#ifndef VOLFS_CATALOG_INT_H
#define VOLFS_CATALOG_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "volfs/catalog.h"

#define CAT_FILE "catalog.db"
/* Every file of the catalog is the owner's alone, as is the state root:
 * they hold share URLs, user names, host paths and attachments. */
#define CAT_FILE_MODE 0600
/* How long a busy database is waited for before it is reported. */
#define CAT_BUSY_MS 30000
/* Whole transactions retried when SQLITE_BUSY escapes the busy handler. */
#define CAT_TXN_TRIES 8
/* Prepared statements kept per catalog; more are prepared and finalized
 * on every use.  A test build makes it small to run past it. */
#ifndef CAT_STMT_CACHE
#define CAT_STMT_CACHE 48
#endif

#define CAT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A new volume identity: 128 random bits from SQLite's generator (seeded
 * by the system's). */
#define CAT_NEW_UUID "lower(hex(randomblob(16)))"

/*
 * The volfs mounts of this process's mount table, read once and read again
 * only when the table changed (poll() on /proc/self/mountinfo reports
 * POLLPRI then), so that reaping many "mount:" attachments on a host with
 * thousands of mounts parses the table at most once.
 */
struct cat_mounts {
	/* /proc/self/mountinfo, kept open for poll(); -1 before the first
	 * read or when it cannot be opened. */
	int fd;
	/* Sorted mountpoints whose type is VOLFS_FSTYPE. */
	char **dirs;
	size_t n;
	/* Whether dirs matches the table as of the last poll(). */
	int valid;
	/* Whether the table could not be read: then nothing is unmounted. */
	int failed;
};

struct volfs_catalog {
	sqlite3 *db;
	char *root;
	char *path;
	/* Set by cat_fail() when SQLite was busy: the transaction may be
	 * retried as a whole. */
	int busy;
	/* What the current call does, for messages: "cannot list volumes". */
	char op[320];
	/* volfs_ns_id() at the start of the current transaction. */
	uint64_t ns;
	/* Prepared statements kept for reuse (parsing SQL costs more than
	 * running these small queries); "busy" while a caller holds one. */
	struct {
		char *sql;
		sqlite3_stmt *st;
		int busy;
	} stc[CAT_STMT_CACHE];
	size_t nstc;
	/* Counts transactions (each try of one), for what lasts only one. */
	unsigned txn;
	struct cat_mounts mounts;
	/* What liveness learnt in transaction "txn": whether /proc can tell
	 * (else no owner is judged dead), and the last owner looked up, as
	 * most rows have the same one (a serve process, Docker's pid 0). */
	struct {
		unsigned txn;
		int proc_ok;
		pid_t pid;
		uint64_t start;
	} live;
};

typedef int (*cat_txn_fn)(struct volfs_catalog *cat, void *arg,
			  struct volfs_err *err);

/*
 * Whether an attachment row is live: its owner process runs (or it has
 * none) and its "mount:DIR" is still a volfs mount.  The one definition
 * that both reaping (which deletes the others) and every reference count
 * (which ignores them until they are reaped) use.
 */
#define CAT_ATT_DEAD                                                           \
	"(volfs_gone(pid, pid_start, ns) OR "                                  \
	"volfs_unmounted(consumer, target, ns))"

/*
 * A volume's reference count: how often live consumers hold it, the sum of
 * "mounts" over its live attachments.  v is the volumes row.
 */
#define CAT_REFCOUNT                                                           \
	"(SELECT coalesce(sum(mounts), 0) FROM attachments a "                 \
	" WHERE a.volume = v.name AND NOT " CAT_ATT_DEAD ")"

/* In catalog.c: the SQL helpers. */
int64_t cat_now_ms(void);
void cat_nap(int attempt);
int cat_is_busy(int rc);
void cat_op(struct volfs_catalog *cat, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int cat_fail(struct volfs_catalog *cat, int rc, struct volfs_err *err);
int cat_oom(struct volfs_err *err);
int cat_prepare(struct volfs_catalog *cat, const char *sql, sqlite3_stmt **st,
		struct volfs_err *err);
void cat_finish(struct volfs_catalog *cat, sqlite3_stmt *st);
int cat_exec(struct volfs_catalog *cat, const char *sql, struct volfs_err *err);
int cat_run(struct volfs_catalog *cat, const char *sql, const char *s1,
	    const char *s2, struct volfs_err *err);
int cat_int(struct volfs_catalog *cat, const char *sql, const char *s1,
	    struct volfs_err *err);
int cat_txn(struct volfs_catalog *cat, cat_txn_fn fn, void *arg,
	    void (*undo)(void *arg), struct volfs_err *err);
/* As cat_txn(), with the BEGIN statement given and nothing read first. */
int cat_txn_begin(struct volfs_catalog *cat, const char *begin, cat_txn_fn fn,
		  void *arg, void (*undo)(void *arg), struct volfs_err *err);
/* Steps st once: 1 for a row, 0 when done, or -errno. */
int cat_step(struct volfs_catalog *cat, sqlite3_stmt *st,
	     struct volfs_err *err);
/* Copies text column col into *out (NULL for SQL NULL). */
int cat_col_dup(sqlite3_stmt *st, int col, char **out);
void cat_bind_str(sqlite3_stmt *st, int idx, const char *s);
/* Returns arr (n of *alloc used) with room for one more element; NULL
 * when out of memory. */
void *cat_grow(void *arr, size_t *alloc, size_t n, size_t elem);
/* The state of volume name, or -ENOENT (without a message). */
int cat_state(struct volfs_catalog *cat, const char *name,
	      struct volfs_err *err);
const char *cat_state_name(int state);
int cat_no_volume(const char *name, struct volfs_err *err);

/* In catalog_reap.c. */

/* Registers the SQL functions volfs_gone(), volfs_unmounted() and
 * volfs_ns(); an SQLite result code. */
int cat_reap_init(struct volfs_catalog *cat);
/* Reads, outside any transaction, what the next reap will need (the mount
 * table, when it changed), so that the reap itself holds the write lock
 * for less time. */
void cat_reap_prepare(struct volfs_catalog *cat);
/* Frees what reaping keeps between calls. */
void cat_reap_release(struct volfs_catalog *cat);
/* The reaping itself; runs inside the caller's write transaction. */
int cat_reap_locked(struct volfs_catalog *cat, struct volfs_err *err);

#endif /* VOLFS_CATALOG_INT_H */
