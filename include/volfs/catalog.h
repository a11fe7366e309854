/* SPDX-License-Identifier: MIT */
/*
 * The catalog: every volume, its options and labels, and every attachment
 * (who uses which volume).  It is an SQLite database at STATE/catalog.db in
 * WAL mode; every process opens it itself.  A volume's reference count is
 * the number of its attachments, never a stored counter.
 *
 * Every function returns 0 (or a count where said) or -errno and, on
 * failure, a message in err.  -EBUSY means "in use"; -EEXIST and -ENOENT
 * mean what they say; -EIO is a database failure (corrupt, unreadable);
 * -EPROTO is a catalog written by a newer volfs.  A busy database is waited
 * for (busy timeout), never reported as "database is locked" unless it stays
 * locked for the whole timeout.
 *
 * A struct volfs_catalog may be used by one thread at a time, and never in a
 * process forked after it was opened (SQLite forbids it): open it again.
 * Reaping decides liveness from pids, so every process sharing a catalog
 * must share one pid namespace, and a "mount:DIR" attachment must be
 * recorded only once its mount is up.
 */
#ifndef VOLFS_CATALOG_H
#define VOLFS_CATALOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "volfs/backend.h"
#include "volfs/err.h"

struct volfs_catalog;

/* Volume life cycle, stored in the catalog. */
enum volfs_volstate {
	/* The name is reserved; the backend is provisioning storage. */
	VOLFS_VOL_CREATING = 0,
	VOLFS_VOL_READY = 1,
	/* rm is deleting the data; no new attachment may be made. */
	VOLFS_VOL_REMOVING = 2,
};

/*
 * A volume row.  Strings and arrays are owned by the struct once returned by
 * the catalog, freed by volfs_volume_release(); when passed in, they are the
 * caller's.
 */
struct volfs_volume {
	char *name;
	char *backend;
	/* Options as given at create, secrets included (the catalog stores
	 * what it is given: volume.c seals secrets before, secret.h, and the
	 * CLI redacts them when printing). */
	struct volfs_kv *opts;
	size_t nopts;
	struct volfs_kv *labels;
	size_t nlabels;
	int anonymous;
	enum volfs_volstate state;
	/* Seconds since the epoch. */
	int64_t created;
	/* The volume's identity, given at create and never to another
	 * volume, even one of the same name (filled by get/peek/list). */
	char *uuid;
	/* The reference count: how often live consumers hold the volume,
	 * the sum of "mounts" over its live attachments.  Every call that
	 * fills it counts the same way, reaped or not (get, peek, list). */
	unsigned refcount;
};

/*
 * An attachment: consumer (a container's mount id, or "mount:DIR") uses
 * volume, at target, read-only or not, since when, owned by the process pid
 * (whose start time, from /proc/PID/stat, guards against pid reuse).  Pid 0
 * means no process owns it: it lasts until released (Docker's mounts, which
 * outlive a restart of the daemon that answered them).  "mounts" counts how
 * often the consumer holds the volume (volfs_catalog_ref()); a volume's
 * reference count is the sum over its attachments.
 */
struct volfs_attachment {
	char *volume;
	char *consumer;
	char *target;
	int readonly;
	int64_t since;
	pid_t pid;
	uint64_t pid_start;
	unsigned mounts;
};

/*
 * Opens (creating if needed) the state root and root/catalog.db, migrating
 * its schema forward.  The root is mode 0700 and the catalog's files 0600,
 * whatever the umask; those of an older volfs are made so when this process
 * owns them.  Refuses a catalog from a newer volfs (-EPROTO), a corrupt one
 * (-EIO), an unreadable one (-EACCES), one on a read-only file system
 * (-EROFS) or a full one (-ENOSPC), with a message that names the file and
 * says what to do.
 */
int volfs_catalog_open(const char *root, struct volfs_catalog **out,
		       struct volfs_err *err);

/*
 * As volfs_catalog_open(), for commands that only read or remove: creates
 * nothing, and fails with -ENOENT, saying so, when there is no state root
 * or no catalog in it (a mistyped --root is not a new empty catalog).
 */
int volfs_catalog_open_existing(const char *root, struct volfs_catalog **out,
				struct volfs_err *err);
void volfs_catalog_close(struct volfs_catalog *cat);

/* The state root the catalog was opened under. */
const char *volfs_catalog_root(const struct volfs_catalog *cat);

/*
 * Reserves a new volume in state VOLFS_VOL_CREATING.  -EEXIST if the name is
 * taken (also by a volume still being created by a live process).  A
 * CREATING row whose creator died is replaced.
 */
int volfs_catalog_reserve(struct volfs_catalog *cat,
			  const struct volfs_volume *v, struct volfs_err *err);

/* Moves a volume to another state (CREATING -> READY, READY <-> REMOVING). */
int volfs_catalog_set_state(struct volfs_catalog *cat, const char *name,
			    enum volfs_volstate state, struct volfs_err *err);

/*
 * Atomically, after reaping: if the volume has attachments and force is 0,
 * fails with -EBUSY naming its consumers; otherwise deletes its attachments
 * (when forced) and moves it to VOLFS_VOL_REMOVING so nothing new attaches.
 * -ENOENT if there is no such volume.
 */
int volfs_catalog_begin_remove(struct volfs_catalog *cat, const char *name,
			       int force, struct volfs_err *err);

/* Deletes a volume row and its attachments for good. */
int volfs_catalog_delete(struct volfs_catalog *cat, const char *name,
			 struct volfs_err *err);

/* Fills *out with one volume (any state); -ENOENT if unknown. */
int volfs_catalog_get(struct volfs_catalog *cat, const char *name,
		      struct volfs_volume *out, struct volfs_err *err);

/*
 * As volfs_catalog_get(), but without reaping and without taking the write
 * lock: cheap enough to call for every request of a busy client.  The
 * reference count is the same as get's: attachments of processes that died
 * since the last reap are not counted.
 */
int volfs_catalog_peek(struct volfs_catalog *cat, const char *name,
		       struct volfs_volume *out, struct volfs_err *err);

/*
 * Lists every volume in state READY or REMOVING, sorted by name, into a
 * newly allocated array freed with volfs_volumes_free(); returns the count.
 */
int volfs_catalog_list(struct volfs_catalog *cat, struct volfs_volume **out,
		       struct volfs_err *err);

/*
 * Calls fn for the name of every READY volume, in name order, reading
 * only names (no options, no reaping, no write lock).  Returns the count.
 */
int volfs_catalog_names(struct volfs_catalog *cat,
			void (*fn)(void *arg, const char *name), void *arg,
			struct volfs_err *err);

/*
 * Copies the identity (uuid) of READY volume name into buf, reading nothing
 * else: -ENOENT (without a message) when there is no such READY volume.
 */
int volfs_catalog_uuid(struct volfs_catalog *cat, const char *name, char *buf,
		       size_t size, struct volfs_err *err);

/* As volfs_catalog_names(), with each volume's identity (uuid). */
int volfs_catalog_ids(struct volfs_catalog *cat,
		      void (*fn)(void *arg, const char *name, const char *id),
		      void *arg, struct volfs_err *err);

/*
 * Records an attachment; the volume must exist and be READY (-ENOENT,
 * or -EBUSY while it is being removed).  An attachment with the same volume
 * and consumer already present is replaced (its pid and time updated).
 */
int volfs_catalog_attach(struct volfs_catalog *cat,
			 const struct volfs_attachment *a,
			 struct volfs_err *err);

/*
 * Takes one more reference of consumer on a READY volume, as attach does,
 * but counting: a consumer that already holds the volume holds it once
 * more (its other fields are kept).  Returns how often it now holds it.
 */
int volfs_catalog_ref(struct volfs_catalog *cat,
		      const struct volfs_attachment *a, struct volfs_err *err);

/*
 * Drops one reference of consumer; the attachment goes with the last one.
 * Returns how many remain; -ENOENT if the consumer holds none.
 */
int volfs_catalog_unref(struct volfs_catalog *cat, const char *volume,
			const char *consumer, struct volfs_err *err);

/* One reference change for volfs_catalog_refs(). */
struct volfs_refop {
	/* ref: the attachment as for volfs_catalog_ref(); unref: only
	 * volume and consumer are read. */
	struct volfs_attachment a;
	int unref;
	/* Out: what volfs_catalog_ref()/unref() would have returned, with
	 * its message in err when negative. */
	int rc;
	struct volfs_err err;
};

/*
 * Applies n reference changes, in order, in ONE transaction: many
 * containers starting at once cost one commit, not one each.  Returns 0
 * once committed (every op's own result in op->rc), or -errno when the
 * transaction failed and nothing was applied.  References are committed
 * without waiting for the disk: they survive any crash of a process, and a
 * power loss may forget the last of them (their containers died too).
 */
int volfs_catalog_refs(struct volfs_catalog *cat, struct volfs_refop **ops,
		       size_t n, struct volfs_err *err);

/* Removes the attachment (volume, consumer); -ENOENT if absent. */
int volfs_catalog_detach(struct volfs_catalog *cat, const char *volume,
			 const char *consumer, struct volfs_err *err);

/*
 * Lists attachments of volume (NULL: of every volume), after reaping, into a
 * newly allocated array freed with volfs_attachments_free(); returns the
 * count.
 */
int volfs_catalog_attachments(struct volfs_catalog *cat, const char *volume,
			      struct volfs_attachment **out,
			      struct volfs_err *err);

/*
 * Deletes attachments whose owner process is gone (pid dead, or reused:
 * start time differs) or whose "mount:DIR" target is no longer a volfs
 * mount, and CREATING rows whose creator is gone.  Returns how many rows it
 * deleted.  Every function above that depends on a reference count reaps
 * first, inside the same transaction.
 */
int volfs_catalog_reap(struct volfs_catalog *cat, struct volfs_err *err);

/* A `volfs serve` process: the mountpoint it serves every volume under. */
struct volfs_server {
	char *mountpoint;
	pid_t pid;
	uint64_t pid_start;
	int64_t since;
};

/* Records a server (replacing any at the same mountpoint). */
int volfs_catalog_server_add(struct volfs_catalog *cat,
			     const struct volfs_server *srv,
			     struct volfs_err *err);

/* Forgets the server at mountpoint; 0 also if there was none. */
int volfs_catalog_server_remove(struct volfs_catalog *cat,
				const char *mountpoint, struct volfs_err *err);

/*
 * Lists the live servers, oldest first, after reaping those whose process
 * is gone or whose mountpoint is no longer a volfs mount, into a newly
 * allocated array freed with volfs_servers_free(); returns the count.
 */
int volfs_catalog_servers(struct volfs_catalog *cat,
			  struct volfs_server **out, struct volfs_err *err);
void volfs_servers_free(struct volfs_server *s, size_t n);

void volfs_volume_release(struct volfs_volume *v);
void volfs_volumes_free(struct volfs_volume *v, size_t n);
void volfs_attachment_release(struct volfs_attachment *a);
void volfs_attachments_free(struct volfs_attachment *a, size_t n);

#endif /* VOLFS_CATALOG_H */
