/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "volfs/err.h"

int volfs_err_set(struct volfs_err *err, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return rc;
}

void volfs_err_clear(struct volfs_err *err)
{
	if (err)
		err->msg[0] = '\0';
}
