/* SPDX-License-Identifier: MIT */
/*
 * Volume life cycle on top of the catalog and the backends: what `volfs
 * create`, `rm`, `prune` and `mount` do, independent of how they were asked
 * (CLI today, the Docker plugin later).
 */
#ifndef VOLFS_VOLUME_H
#define VOLFS_VOLUME_H

#include <pthread.h>
#include <stddef.h>

#include "volfs/backend.h"
#include "volfs/catalog.h"
#include "volfs/err.h"
#include "volfs/options.h"

/* The default backend of `volfs create`. */
#define VOLFS_DEFAULT_BACKEND "local"

/*
 * Checks options as volfs_volume_create() will (credentials=FILE read,
 * every option against backend be's table), without touching anything:
 * for a caller that wants to refuse bad options before it opens the
 * catalog.
 */
int volfs_volume_check_opts(const struct volfs_backend *be,
			    const struct volfs_kv *opts, size_t nopts,
			    struct volfs_err *err);

/*
 * Creates a volume: checks the name (NULL makes an anonymous volume with a
 * random name), loads the backend, replaces a "credentials=FILE" option by
 * the options in FILE, checks the options against the backend's table and
 * with its validate(), seals the values of secret options (secret.h),
 * reserves the name in the catalog, has the backend provision storage, and
 * marks it ready.  The backend sees every value in plaintext; the catalog
 * never does.  credentials=FILE reads a file of this process's choosing: a
 * caller acting for someone less trusted (a plugin API) must refuse it, and
 * every option volfs_opt_names_host_file() names, before calling.  Any
 * failure leaves nothing behind: no catalog row, no state directory.  On
 * success *name_out (if not NULL) is the new volume's name, to be freed by
 * the caller.
 */
int volfs_volume_create(struct volfs_catalog *cat, const char *name,
			const char *backend, const struct volfs_kv *opts,
			size_t nopts, const struct volfs_kv *labels,
			size_t nlabels, char **name_out,
			struct volfs_err *err);

/*
 * As volfs_volume_create(), for an anonymous volume whose name the caller
 * chose (Docker names the volumes of `docker run -v /path` itself): the
 * volume is marked anonymous, so `volfs prune` removes it when unused.
 * name must not be NULL.
 */
int volfs_volume_create_anonymous(struct volfs_catalog *cat,
				  const char *name, const char *backend,
				  const struct volfs_kv *opts, size_t nopts,
				  struct volfs_err *err);

/*
 * Removes a volume: refused with -EBUSY (naming its users) while attached,
 * unless force; then the backend's destroy() deletes its data, the state
 * directory is removed and the catalog row deleted.  If destroy() fails the
 * volume stays, READY again, and the message says why.  If its secret
 * options cannot be decrypted (the key file is lost), it stays too, unless
 * force: then it is removed without calling destroy(), with a warning.
 */
int volfs_volume_remove(struct volfs_catalog *cat, const char *name,
			int force, struct volfs_err *err);

/* The volume's state directory, STATE/volumes/NAME, newly allocated. */
char *volfs_volume_state_dir(struct volfs_catalog *cat, const char *name);

/*
 * A volume opened for serving: its catalog row, backend and backend state;
 * opts are the row's options with secrets decrypted, which vi points to.
 * Calls into the backend go through volfs_vol_lock()/volfs_vol_unlock(),
 * which serialise them unless the backend is thread-safe.
 */
struct volfs_open_volume {
	struct volfs_volume row;
	const struct volfs_backend *be;
	void *state;
	struct volfs_kvlist opts;
	struct volfs_volinfo vi;
	char *state_dir;
	int serialize;
	pthread_mutex_t lock;
};

/*
 * Opens a READY volume for serving: loads its backend, decrypts its secret
 * options and calls open().  -EBADMSG or -ENOENT (with a message naming the
 * option and the key file) when a secret does not decrypt.
 * -ENOENT if there is no such volume, -EBUSY if it is being created or
 * removed.
 */
int volfs_volume_open(struct volfs_catalog *cat, const char *name,
		      struct volfs_open_volume **out, struct volfs_err *err);

/*
 * volfs_volume_open() of a row read from the catalog under state root
 * root: it touches no catalog, so a caller that shares one catalog handle
 * among threads reads the row under its lock and opens (which may wait on
 * a server) outside it.  Takes *row in any case (released on failure).
 */
int volfs_volume_open_row(const char *root, struct volfs_volume *row,
			  struct volfs_open_volume **out,
			  struct volfs_err *err);

/* Calls the backend's close() and frees ov. */
void volfs_volume_close(struct volfs_open_volume *ov);

static inline void volfs_vol_lock(struct volfs_open_volume *ov)
{
	if (ov->serialize)
		pthread_mutex_lock(&ov->lock);
}

static inline void volfs_vol_unlock(struct volfs_open_volume *ov)
{
	if (ov->serialize)
		pthread_mutex_unlock(&ov->lock);
}

#endif /* VOLFS_VOLUME_H */
