/* SPDX-License-Identifier: MIT */
/*
 * The local backend's directory handles.
 *
 * A handle is the directory open for reading and one buffer of getdents64()
 * records: a listing streams through the buffer, so a handle's memory is the
 * same for ten entries or ten million.  Positions are the directory's own
 * d_off cookies, which the file system keeps meaningful across changes (as
 * it must for telldir() and NFS); a readdir() that starts anywhere else than
 * where the last one stopped seeks there.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "volfs/backend.h"
#include "local.h"
#include "local_int.h"

/* getdents64() records a handle reads at a time: a few hundred names. */
#define LOCAL_DIR_BUF 32768

struct local_dir {
	int fd;
	/* The position of the record at buf + at (the first not given yet),
	 * which is where the directory was left when the buffer is used up. */
	off_t pos;
	size_t at;
	size_t len;
	_Alignas(struct dirent64) char buf[LOCAL_DIR_BUF];
};

int local_opendir(void *vol, uint64_t node, uint64_t *dh)
{
	struct local_dir *d;
	int fd;

	/* A node that is no directory fails with ENOTDIR. */
	fd = local_node_reopen(vol, node, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fd;
	d = malloc(sizeof(*d));
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	d->fd = fd;
	d->pos = 0;
	d->at = 0;
	d->len = 0;
	*dh = (uint64_t)(uintptr_t)d;
	return 0;
}

/*
 * Gives fill the entry de: 0 when it took it, 1 when it had no room (the
 * entry was not taken), -ENOENT when the entry is gone since it was listed
 * (with plus), or another -errno.
 */
static int local_dir_entry(struct local_vol *lv, struct local_dir *d,
			   const struct dirent64 *de, int plus,
			   volfs_fill_fn fill, void *ctx)
{
	mode_t type = de->d_type == DT_UNKNOWN ? 0 : DTTOIF(de->d_type);
	struct volfs_entry e;
	int rc;

	if (!plus || local_is_dot(de->d_name))
		return fill(ctx, de->d_name, type, de->d_ino, de->d_off, NULL)
			       ? 1
			       : 0;
	rc = local_lookup_at(lv, d->fd, de->d_name, &e);
	if (rc < 0)
		return rc;
	if (fill(ctx, de->d_name, e.st.st_mode & S_IFMT, de->d_ino, de->d_off,
		 &e)) {
		local_forget(lv, e.node, 1);
		return 1;
	}
	return 0;
}

int local_readdir(void *vol, uint64_t dh, off_t off, int plus,
		  volfs_fill_fn fill, void *ctx)
{
	struct local_dir *d = (struct local_dir *)(uintptr_t)dh;
	const struct dirent64 *de;
	int given = 0, rc;
	ssize_t n;

	if (off != d->pos) {
		if (lseek(d->fd, off, SEEK_SET) < 0)
			return -errno;
		d->pos = off;
		d->at = 0;
		d->len = 0;
	}
	for (;;) {
		if (d->at >= d->len) {
			n = getdents64(d->fd, d->buf, sizeof(d->buf));
			/* After some entries, a failure is met again by the
			 * next call, which starts here. */
			if (n < 0)
				return given ? 0 : -errno;
			if (n == 0)
				return 0;
			d->at = 0;
			d->len = (size_t)n;
		}
		de = (const struct dirent64 *)(d->buf + d->at);
		rc = local_dir_entry(vol, d, de, plus, fill, ctx);
		if (rc > 0)
			return 0;
		if (rc < 0 && rc != -ENOENT)
			return given ? 0 : rc;
		/* An entry removed since it was listed is skipped. */
		if (rc == 0)
			given = 1;
		d->at += de->d_reclen;
		d->pos = de->d_off;
	}
}

int local_fsyncdir(void *vol, uint64_t dh, int datasync)
{
	struct local_dir *d = (struct local_dir *)(uintptr_t)dh;

	if ((datasync ? fdatasync(d->fd) : fsync(d->fd)) < 0)
		return -errno;
	return 0;
}

int local_releasedir(void *vol, uint64_t dh)
{
	struct local_dir *d = (struct local_dir *)(uintptr_t)dh;

	close(d->fd);
	free(d);
	return 0;
}
