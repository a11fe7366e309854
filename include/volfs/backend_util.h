/* SPDX-License-Identifier: MIT */
/*
 * Small helpers every backend module needs.  They are static inline: a
 * module links against nothing of the core, only against its own library.
 */
#ifndef VOLFS_BACKEND_UTIL_H
#define VOLFS_BACKEND_UTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "volfs/backend.h"

/*
 * Formats a message into a backend's err buffer (when it has one) and
 * returns rc, a negative errno value.
 */
static inline int volfs_be_errf(char *err, size_t errlen, int rc,
				const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline int volfs_be_errf(char *err, size_t errlen, int rc,
				const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* The text of a negative errno value, for messages. */
static inline const char *volfs_be_strerror(int rc)
{
	const char *s = strerrordesc_np(-rc);

	return s ? s : "Unknown error";
}

/* The value of option key of the volume, or NULL. */
static inline const char *volfs_be_opt(const struct volfs_volinfo *vi,
				       const char *key)
{
	for (size_t i = 0; i < vi->nopts; i++)
		if (strcmp(vi->opts[i].key, key) == 0)
			return vi->opts[i].value;
	return NULL;
}

/*
 * Option key as one of the words in names (NULL-terminated): the index of
 * its value there, dflt when the option is absent, or -EINVAL with a
 * message in err naming the option and the words when it is none of them.
 */
static inline int volfs_be_opt_word(const struct volfs_volinfo *vi,
				    const char *key, const char *const *names,
				    int dflt, char *err, size_t errlen)
{
	const char *s = volfs_be_opt(vi, key);
	char list[256] = "";
	size_t len = 0;

	if (!s)
		return dflt;
	for (int i = 0; names[i]; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	for (int i = 0; names[i] && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
					i ? ", " : "", names[i]);
	return volfs_be_errf(err, errlen, -EINVAL,
			     "option '%s': '%s' is not one of %s", key, s,
			     list);
}

/*
 * A duration in seconds with up to three decimals ("20", "0.25") into
 * milliseconds, at most max_ms.  -EINVAL if s is not that, -ERANGE past
 * max_ms.
 */
static inline int volfs_be_parse_ms(const char *s, unsigned max_ms,
				    unsigned *out)
{
	unsigned long long ms = 0;
	unsigned frac = 0, scale = 1000;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		ms = ms * 10 + (unsigned)(*p - '0');
		if (ms > max_ms / 1000 + 1)
			return -ERANGE;
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale == 1)
				return -EINVAL;
			scale /= 10;
			frac += (unsigned)(*p - '0') * scale;
		}
	}
	if (*p)
		return -EINVAL;
	ms = ms * 1000 + frac;
	if (ms > max_ms)
		return -ERANGE;
	*out = (unsigned)ms;
	return 0;
}

#endif /* VOLFS_BACKEND_UTIL_H */
