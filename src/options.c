/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volfs/options.h"

/* struct volfs_kv holds const pointers; a kvlist owns what they point to. */
static void opt_kv_free(struct volfs_kv *kv)
{
	free((char *)kv->key);
	free((char *)kv->value);
}

static ssize_t opt_find(const struct volfs_kv *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].key, key) == 0)
			return (ssize_t)i;
	return -1;
}

int volfs_kvlist_set(struct volfs_kvlist *l, const char *key,
		     const char *value)
{
	ssize_t i = opt_find(l->v, l->n, key);
	char *k, *val;

	val = strdup(value);
	if (!val)
		return -ENOMEM;
	if (i >= 0) {
		free((char *)l->v[i].value);
		l->v[i].value = val;
		return 0;
	}
	if (l->n == l->alloc) {
		size_t alloc = l->alloc ? 2 * l->alloc : 8;
		struct volfs_kv *v = realloc(l->v, alloc * sizeof(*v));

		if (!v)
			goto err_val;
		l->v = v;
		l->alloc = alloc;
	}
	k = strdup(key);
	if (!k)
		goto err_val;
	l->v[l->n].key = k;
	l->v[l->n].value = val;
	l->n++;
	return 0;

err_val:
	free(val);
	return -ENOMEM;
}

int volfs_kvlist_parse(struct volfs_kvlist *l, const char *arg,
		       const char *what, struct volfs_err *err)
{
	const char *eq = strchr(arg, '=');
	char *key;
	int rc;

	if (!eq)
		return volfs_err_set(err, -EINVAL,
				     "invalid %s '%s': write it as KEY=VALUE",
				     what, arg);
	if (eq == arg)
		return volfs_err_set(err, -EINVAL,
				     "invalid %s '%s': the key before '=' is "
				     "empty",
				     what, arg);
	key = strndup(arg, (size_t)(eq - arg));
	if (!key)
		return volfs_err_set(err, -ENOMEM, "cannot parse %s '%s': %s",
				     what, arg, strerror(ENOMEM));
	if (opt_find(l->v, l->n, key) >= 0) {
		rc = volfs_err_set(err, -EINVAL,
				   "%s '%s' is given twice: give each key "
				   "once",
				   what, key);
		goto out;
	}
	rc = volfs_kvlist_set(l, key, eq + 1);
	if (rc < 0)
		volfs_err_set(err, rc, "cannot add %s '%s': %s", what, key,
			      strerror(-rc));
out:
	free(key);
	return rc;
}

const char *volfs_kv_get(const struct volfs_kv *v, size_t n, const char *key)
{
	ssize_t i = opt_find(v, n, key);

	return i >= 0 ? v[i].value : NULL;
}

const char *volfs_kvlist_get(const struct volfs_kvlist *l, const char *key)
{
	return volfs_kv_get(l->v, l->n, key);
}

void volfs_kvlist_release(struct volfs_kvlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		opt_kv_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
	l->alloc = 0;
}

static const struct volfs_optdesc *opt_desc(const struct volfs_backend *be,
					    const char *key)
{
	const struct volfs_optdesc *d;

	for (d = be->options; d && d->key; d++)
		if (strcmp(d->key, key) == 0)
			return d;
	return NULL;
}

/* "a, b, c" of the backend's accepted keys into buf. */
static void opt_accepted(const struct volfs_backend *be, char *buf,
			 size_t size)
{
	const struct volfs_optdesc *d;
	size_t len = 0;

	buf[0] = '\0';
	for (d = be->options; d && d->key && len < size; d++) {
		int n = snprintf(buf + len, size - len, "%s%s",
				 len ? ", " : "", d->key);

		if (n < 0)
			break;
		len += (size_t)n;
	}
}

int volfs_opts_check(const struct volfs_backend *be, const struct volfs_kv *v,
		     size_t n, struct volfs_err *err)
{
	const struct volfs_optdesc *d;
	char keys[512];

	for (size_t i = 0; i < n; i++) {
		if (!opt_desc(be, v[i].key)) {
			opt_accepted(be, keys, sizeof(keys));
			if (!keys[0])
				return volfs_err_set(
					err, -EINVAL,
					"unknown option '%s' for backend "
					"'%s': it accepts no options",
					v[i].key, be->name);
			return volfs_err_set(err, -EINVAL,
					     "unknown option '%s' for backend "
					     "'%s': it accepts %s",
					     v[i].key, be->name, keys);
		}
		if (opt_find(v, i, v[i].key) >= 0)
			return volfs_err_set(err, -EINVAL,
					     "option '%s' is given twice: "
					     "give each option once",
					     v[i].key);
	}
	for (d = be->options; d && d->key; d++) {
		if (!(d->flags & VOLFS_OPT_REQUIRED))
			continue;
		if (opt_find(v, n, d->key) < 0)
			return volfs_err_set(err, -EINVAL,
					     "backend '%s' needs option '%s': "
					     "give it with -o %s=VALUE",
					     be->name, d->key, d->key);
	}
	return 0;
}

int volfs_opt_is_secret(const struct volfs_backend *be, const char *key)
{
	const struct volfs_optdesc *d = opt_desc(be, key);

	return d && (d->flags & VOLFS_OPT_SECRET);
}
