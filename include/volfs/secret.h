/* SPDX-License-Identifier: MIT */
/*
 * Secret option values at rest.  The value of every VOLFS_OPT_SECRET option
 * is sealed before it reaches the catalog and opened again before it reaches
 * the backend; the catalog only ever holds the sealed text.
 *
 * The key is 32 random bytes in STATE/secret.key (mode 0600, owned by the
 * user running volfs), made on the first seal.  A value is sealed with
 * AES-256-GCM under a fresh random 96-bit nonce, with the volume's name and
 * the option's key as additional authenticated data, so a sealed value
 * cannot be moved to another option or another volume.  Its stored form is
 *
 *	"enc:v1:" base64(nonce[12] | ciphertext | tag[16])
 *
 * A value of a secret option without that prefix was stored by a volfs
 * that did not seal secrets: it is used as it is.
 *
 * Plaintext handed out by these functions is wiped when it is freed
 * (volfs_secret_free(), volfs_kvlist_release()).
 */
#ifndef VOLFS_SECRET_H
#define VOLFS_SECRET_H

#include <stddef.h>

#include "volfs/backend.h"
#include "volfs/err.h"
#include "volfs/options.h"

/* The key file, in the state root. */
#define VOLFS_SECRET_KEY_FILE "secret.key"
#define VOLFS_SECRET_KEY_LEN 32
/* What every sealed value starts with. */
#define VOLFS_SECRET_PREFIX "enc:v1:"

struct volfs_secret_key {
	unsigned char key[VOLFS_SECRET_KEY_LEN];
	/* ROOT/secret.key, for messages. */
	char *path;
};

/*
 * Loads root's key file into a newly allocated *out.  With create, a
 * missing key file is made (32 random bytes, mode 0600): it appears only
 * complete, and of several processes making it at once all end up with the
 * same key.  Without create, a missing one is -ENOENT.  A key file that is
 * not a regular file, is readable or writable by others (mode other than
 * 0600), belongs to another user or is not 32 bytes long is refused
 * (-EPERM, -EINVAL) with a message naming it and saying what to do, never
 * used or replaced.
 */
int volfs_secret_key_load(const char *root, int create,
			  struct volfs_secret_key **out, struct volfs_err *err);

/* Wipes and frees k (NULL is fine). */
void volfs_secret_key_free(struct volfs_secret_key *k);

/* 1 if value is in the sealed form (starts with VOLFS_SECRET_PREFIX). */
int volfs_secret_is_sealed(const char *value);

/*
 * Seals plain, the value of option key of volume, into a newly allocated
 * *out (free with free(): it holds nothing secret).
 */
int volfs_secret_seal(const struct volfs_secret_key *k, const char *volume,
		      const char *key, const char *plain, char **out,
		      struct volfs_err *err);

/*
 * Opens sealed, the stored value of option key of volume, into a newly
 * allocated *out, to be freed with volfs_secret_free().  A value sealed
 * with another key, for another volume or option, or altered since, is
 * -EBADMSG with a message that says which option and what to do.
 */
int volfs_secret_open(const struct volfs_secret_key *k, const char *volume,
		      const char *key, const char *sealed, char **out,
		      struct volfs_err *err);

/* Wipes and frees a plaintext string (NULL is fine). */
void volfs_secret_free(char *s);

/*
 * Copies opts, the plaintext options of volume for backend be, into out
 * (which must be empty) with the value of every secret option sealed.  The
 * key file under root is loaded, and made if missing, only when there is a
 * secret option.  On failure out is left empty.
 */
int volfs_opts_seal(const char *root, const struct volfs_backend *be,
		    const char *volume, const struct volfs_kv *opts, size_t n,
		    struct volfs_kvlist *out, struct volfs_err *err);

/*
 * The reverse, for handing stored options to the backend: copies opts into
 * out (which must be empty) with every sealed secret value opened.  A
 * secret value stored unsealed (by an older volfs) is copied as it is, with
 * a warning.  Failures: the key file is missing (-ENOENT) or refused, or a
 * value does not open (-EBADMSG); the message names the option, the volume
 * and the key file, and says what to do.  On failure out is left empty.
 */
int volfs_opts_unseal(const char *root, const struct volfs_backend *be,
		      const char *volume, const struct volfs_kv *opts, size_t n,
		      struct volfs_kvlist *out, struct volfs_err *err);

#endif /* VOLFS_SECRET_H */
