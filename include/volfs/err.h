/* SPDX-License-Identifier: MIT */
/*
 * Error messages.  Functions that can fail for reasons a user must be told
 * about take a struct volfs_err * (which may be NULL) and return -errno; the
 * message says what failed and what to do, lowercase, subject quoted:
 * "cannot open volume 'pg1': Permission denied".  Only main and the cmd_*
 * functions print it.
 */
#ifndef VOLFS_ERR_H
#define VOLFS_ERR_H

#define VOLFS_ERR_MAX 1024

struct volfs_err {
	char msg[VOLFS_ERR_MAX];
};

/*
 * Formats a message into err (if err is not NULL) and returns rc, which
 * must be a negative errno value, so callers can write
 * "return volfs_err_set(err, -ENOENT, "no volume '%s'", name);".
 * When err already holds a message, the new one replaces it.
 */
int volfs_err_set(struct volfs_err *err, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Clears err. */
void volfs_err_clear(struct volfs_err *err);

#endif /* VOLFS_ERR_H */
