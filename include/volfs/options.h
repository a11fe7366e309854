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

/* A growable list of key=value pairs owning its strings. */
struct volfs_kvlist {
	struct volfs_kv *v;
	size_t n;
	size_t alloc;
};

/* Appends a copy of key and value; if key is present, replaces its value. */
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

#endif /* VOLFS_OPTIONS_H */
