/* SPDX-License-Identifier: MIT */
/*
 * Option and label lists: "key=value" pairs as users give them with -o and
 * --label, checked against a backend's option table.
 */
#ifndef VOLFS_OPTIONS_H
#define VOLFS_OPTIONS_H

#include <stddef.h>

#include "volfs/backend.h"
#include "volfs/err.h"

/* What volfs prints instead of a secret option's value. */
#define VOLFS_REDACTED "********"

/*
 * The core's own create option: "-o credentials=FILE" reads options (the
 * secret ones above all) from FILE instead of the command line.  It is never
 * stored, and a backend cannot declare an option of that name.
 */
#define VOLFS_OPT_CREDENTIALS "credentials"

/* A growable list of key=value pairs owning its strings. */
struct volfs_kvlist {
	struct volfs_kv *v;
	size_t n;
	size_t alloc;
};

/*
 * Appends a copy of key and value; if key is present, replaces its value.
 * Values may be secrets: they are wiped whenever the list frees one.
 */
int volfs_kvlist_set(struct volfs_kvlist *l, const char *key,
		     const char *value);

/*
 * Parses one "key=value" argument ("what" names it in messages, e.g.
 * "option" or "label") and sets it.  A missing '=' or an empty key is
 * -EINVAL; a value may be empty.  A key given twice is -EINVAL (the message
 * names the key).
 */
int volfs_kvlist_parse(struct volfs_kvlist *l, const char *arg,
		       const char *what, struct volfs_err *err);

/* The value of key, or NULL. */
const char *volfs_kvlist_get(const struct volfs_kvlist *l, const char *key);
const char *volfs_kv_get(const struct volfs_kv *v, size_t n, const char *key);

void volfs_kvlist_release(struct volfs_kvlist *l);

/*
 * Checks option keys against be->options: an unknown key is -EINVAL with a
 * message naming it and listing the keys the backend accepts; a missing
 * VOLFS_OPT_REQUIRED key is -EINVAL naming it.
 */
int volfs_opts_check(const struct volfs_backend *be, const struct volfs_kv *v,
		     size_t n, struct volfs_err *err);

/* Whether key is a VOLFS_OPT_SECRET option of be. */
int volfs_opt_is_secret(const struct volfs_backend *be, const char *key);

/*
 * Whether option key makes volfs read a file of the host: the core's
 * credentials= or a VOLFS_OPT_HOST_FILE option of be (be may be NULL when
 * the backend is unknown: then only the core's options are known).
 */
int volfs_opt_names_host_file(const struct volfs_backend *be, const char *key);

/* Whether be has at least one VOLFS_OPT_SECRET option. */
int volfs_opts_have_secret(const struct volfs_backend *be);

/*
 * Overwrites the value of arg, a "key=value" command-line argument, with
 * '*' when key is a secret option of be, so that /proc/PID/cmdline stops
 * showing it.  Returns 1 if it did, else 0.
 */
int volfs_opt_scrub(const struct volfs_backend *be, char *arg);

/*
 * Reads a credentials file into l, which holds the options given otherwise
 * (-o).  Lines are key=value as mount.cifs reads them (username=, password=,
 * domain=, and the short user=, pass=, dom=); blank lines and lines starting
 * with '#' are skipped; the value is the rest of the line after '=', spaces
 * included.  Every key must be an option of be.  Errors name the file and
 * the line, never a value nor an unknown key (it may be a secret mistyped):
 * a key also in l or given twice, an unknown key, a line without '='
 * (-EINVAL); a file that every user may read or change (-EPERM) or that is
 * not a regular file (-EINVAL: a FIFO or a device is never opened in a way
 * that could block).
 */
int volfs_opts_read_credentials(const struct volfs_backend *be,
				const char *path, struct volfs_kvlist *l,
				struct volfs_err *err);

/*
 * Copies opts into out (which must be empty), replacing a "credentials=FILE"
 * option by the options read from FILE.  -EINVAL if be has no secret option
 * but credentials= is given.  On failure out is left empty.
 */
int volfs_opts_expand(const struct volfs_backend *be,
		      const struct volfs_kv *opts, size_t n,
		      struct volfs_kvlist *out, struct volfs_err *err);

#endif /* VOLFS_OPTIONS_H */
