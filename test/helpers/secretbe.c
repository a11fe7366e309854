/* SPDX-License-Identifier: MIT */
/*
 * secretbe: a backend for tests of secret options, never installed.  It
 * takes a secret option "password" and ordinary ones, and proves that the
 * core hands it the password in plaintext: create() stores a checksum of
 * the password it got, and open() and destroy() refuse a password that
 * does not match it (a sealed value would not).  validate() refuses a value
 * that still looks sealed.
 *
 * A volume is read-only and holds one file, "whoami", with the username
 * and the domain the volume was created with.
 *
 * hold=PATH makes validate() create PATH and wait (up to 30 s) until it is
 * removed, so a test can look at the process while it validates.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "volfs/backend.h"
#include "volfs/backend_util.h"

#define SBE_CHECK "password.check"
#define SBE_FILE "whoami"

struct sbe_vol {
	char *text;
	size_t len;
};

static const struct volfs_optdesc sbe_options[] = {
	{ .key = "username", .help = "the user name, shown in whoami" },
	{ .key = "password",
	  .flags = VOLFS_OPT_SECRET | VOLFS_OPT_REQUIRED,
	  .help = "the password" },
	{ .key = "domain", .help = "the domain, shown in whoami" },
	{ .key = "hold",
	  .help = "a file validate() makes and waits for to be removed" },
	{ 0 },
};

/* FNV-1a: enough to tell two passwords apart in a test. */
static uint64_t sbe_hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static int sbe_check_path(const struct volfs_volinfo *vi, char *buf,
			  size_t size)
{
	if ((size_t)snprintf(buf, size, "%s/%s", vi->state_dir, SBE_CHECK) >=
	    size)
		return -ENAMETOOLONG;
	return 0;
}

/* Compares the password in vi with the checksum stored at create. */
static int sbe_verify(const struct volfs_volinfo *vi, char *err,
		      size_t errlen)
{
	const char *pw = volfs_be_opt(vi, "password");
	unsigned long long stored;
	char path[4096];
	FILE *f;
	int n;

	if (sbe_check_path(vi, path, sizeof(path)) < 0)
		return volfs_be_errf(err, errlen, -ENAMETOOLONG, "path too long");
	f = fopen(path, "re");
	if (!f)
		return volfs_be_errf(err, errlen, -EIO,
				     "cannot read %s: %s", path,
				     strerror(errno));
	n = fscanf(f, "%llx", &stored);
	fclose(f);
	if (n != 1)
		return volfs_be_errf(err, errlen, -EIO, "%s is damaged", path);
	if (!pw || sbe_hash(pw) != stored)
		return volfs_be_errf(err, errlen, -EACCES,
				     "option 'password' does not match the "
				     "one given at create");
	return 0;
}

static int sbe_hold(const char *path, char *err, size_t errlen)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return volfs_be_errf(err, errlen, -errno,
				     "option 'hold': cannot make %s: %s", path,
				     strerror(errno));
	close(fd);
	for (int i = 0; i < 1500 && access(path, F_OK) == 0; i++)
		nanosleep(&ts, NULL);
	return 0;
}

static int sbe_validate(const struct volfs_volinfo *vi, char *err,
			size_t errlen)
{
	const char *pw = volfs_be_opt(vi, "password");
	const char *hold = volfs_be_opt(vi, "hold");

	if (!pw || !*pw)
		return volfs_be_errf(err, errlen, -EINVAL,
				     "option 'password' is empty: give one");
	if (strncmp(pw, "enc:", 4) == 0)
		return volfs_be_errf(err, errlen, -EINVAL,
				     "option 'password' arrived encrypted");
	if (hold)
		return sbe_hold(hold, err, errlen);
	return 0;
}

static int sbe_create(const struct volfs_volinfo *vi, char *err,
		      size_t errlen)
{
	char path[4096];
	FILE *f;
	int fd;

	if (sbe_check_path(vi, path, sizeof(path)) < 0)
		return volfs_be_errf(err, errlen, -ENAMETOOLONG, "path too long");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return volfs_be_errf(err, errlen, -errno, "cannot make %s: %s",
				     path, strerror(errno));
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return volfs_be_errf(err, errlen, -ENOMEM, "out of memory");
	}
	fprintf(f, "%llx\n",
		(unsigned long long)sbe_hash(volfs_be_opt(vi, "password")));
	if (fclose(f) != 0)
		return volfs_be_errf(err, errlen, -EIO, "cannot write %s",
				     path);
	return 0;
}

static int sbe_destroy(const struct volfs_volinfo *vi, char *err,
		       size_t errlen)
{
	return sbe_verify(vi, err, errlen);
}

static int sbe_open(const struct volfs_volinfo *vi, void **vol, char *err,
		    size_t errlen)
{
	const char *user = volfs_be_opt(vi, "username");
	const char *dom = volfs_be_opt(vi, "domain");
	struct sbe_vol *v;
	int rc;

	rc = sbe_verify(vi, err, errlen);
	if (rc < 0)
		return rc;
	v = calloc(1, sizeof(*v));
	if (!v || asprintf(&v->text, "username=%s\ndomain=%s\n",
			   user ? user : "", dom ? dom : "") < 0) {
		free(v);
		return volfs_be_errf(err, errlen, -ENOMEM, "out of memory");
	}
	v->len = strlen(v->text);
	*vol = v;
	return 0;
}

static void sbe_close(void *vol)
{
	struct sbe_vol *v = vol;

	free(v->text);
	free(v);
}

static int sbe_statfs(void *vol, struct statvfs *sv)
{
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 4096;
	sv->f_frsize = 4096;
	sv->f_namemax = 255;
	return 0;
}

/* The volume's one file: the root is VOLFS_ROOT_NODE. */
#define SBE_NODE 1

static int sbe_getattr(void *vol, uint64_t node, uint64_t fh, struct stat *st)
{
	struct sbe_vol *v = vol;

	memset(st, 0, sizeof(*st));
	if (node == VOLFS_ROOT_NODE) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		st->st_ino = 1;
		return 0;
	}
	if (node == SBE_NODE) {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_ino = 2;
		st->st_size = (off_t)v->len;
		return 0;
	}
	return -ESTALE;
}

static int sbe_lookup(void *vol, uint64_t parent, const char *name,
		      struct volfs_entry *e)
{
	if (parent != VOLFS_ROOT_NODE)
		return -ENOTDIR;
	if (strcmp(name, SBE_FILE) != 0)
		return -ENOENT;
	e->node = SBE_NODE;
	return sbe_getattr(vol, SBE_NODE, VOLFS_NO_FH, &e->st);
}

/* The one file lives as long as the volume: references cost nothing. */
static void sbe_forget(void *vol, uint64_t node, uint64_t n)
{
}

static int sbe_opendir(void *vol, uint64_t node, uint64_t *dh)
{
	if (node != VOLFS_ROOT_NODE)
		return -ENOTDIR;
	*dh = 0;
	return 0;
}

/* Positions: 1 after ".", 2 after "..", 3 after the file. */
static int sbe_readdir(void *vol, uint64_t dh, off_t off, int plus,
		       volfs_fill_fn fill, void *ctx)
{
	struct volfs_entry e;

	if (off < 1 && fill(ctx, ".", S_IFDIR, 1, 1, NULL))
		return 0;
	if (off < 2 && fill(ctx, "..", S_IFDIR, 0, 2, NULL))
		return 0;
	if (off < 3) {
		if (plus) {
			int rc = sbe_lookup(vol, VOLFS_ROOT_NODE, SBE_FILE, &e);

			if (rc < 0)
				return rc;
		}
		fill(ctx, SBE_FILE, S_IFREG, 2, 3, plus ? &e : NULL);
	}
	return 0;
}

static int sbe_releasedir(void *vol, uint64_t dh)
{
	return 0;
}

static int sbe_open_file(void *vol, uint64_t node, int flags, uint64_t *fh)
{
	if (node != SBE_NODE)
		return -EISDIR;
	if ((flags & O_ACCMODE) != O_RDONLY)
		return -EROFS;
	*fh = 0;
	return 0;
}

static ssize_t sbe_read(void *vol, uint64_t fh, void *buf, size_t size,
			off_t off)
{
	struct sbe_vol *v = vol;

	if (off < 0 || (size_t)off >= v->len)
		return 0;
	if (size > v->len - (size_t)off)
		size = v->len - (size_t)off;
	memcpy(buf, v->text + off, size);
	return (ssize_t)size;
}

static int sbe_release(void *vol, uint64_t fh)
{
	return 0;
}

static const struct volfs_backend sbe_backend = {
	.abi_version = VOLFS_BACKEND_ABI,
	.size = sizeof(struct volfs_backend),
	.name = "secretbe",
	.description = "a test backend with a secret option (never installed)",
	.caps = VOLFS_CAP_THREADSAFE | VOLFS_CAP_PERSISTENT,
	.options = sbe_options,
	.validate = sbe_validate,
	.create = sbe_create,
	.destroy = sbe_destroy,
	.open = sbe_open,
	.close = sbe_close,
	.statfs = sbe_statfs,
	.lookup = sbe_lookup,
	.forget = sbe_forget,
	.getattr = sbe_getattr,
	.opendir = sbe_opendir,
	.readdir = sbe_readdir,
	.releasedir = sbe_releasedir,
	.open_file = sbe_open_file,
	.read = sbe_read,
	.release = sbe_release,
};

const struct volfs_backend *volfs_backend_secretbe(void);

const struct volfs_backend *volfs_backend_secretbe(void)
{
	return &sbe_backend;
}
