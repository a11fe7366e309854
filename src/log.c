/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "volfs/backend.h"
#include "volfs/util.h"

static int log_threshold = VOLFS_LOG_WARNING;
static int log_syslog;

static const char *const log_names[] = {
	[VOLFS_LOG_ERR] = "err",	 [VOLFS_LOG_WARNING] = "warning",
	[VOLFS_LOG_NOTICE] = "notice", [VOLFS_LOG_INFO] = "info",
	[VOLFS_LOG_DEBUG] = "debug",
};

void volfs_log_set_level(int level)
{
	log_threshold = level;
}

int volfs_log_level(void)
{
	return log_threshold;
}

int volfs_log_parse_level(const char *s)
{
	for (int i = VOLFS_LOG_ERR; i <= VOLFS_LOG_DEBUG; i++)
		if (strcmp(s, log_names[i]) == 0)
			return i;
	if (strcmp(s, "error") == 0)
		return VOLFS_LOG_ERR;
	if (strcmp(s, "warn") == 0)
		return VOLFS_LOG_WARNING;
	return -EINVAL;
}

void volfs_log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = 1;
}

void volfs_log(int level, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (log_syslog) {
		syslog(level, "%s", buf);
		return;
	}
	if (level < VOLFS_LOG_ERR || level > VOLFS_LOG_DEBUG)
		level = VOLFS_LOG_ERR;
	fprintf(stderr, "volfs: %s: %s\n", log_names[level], buf);
}
