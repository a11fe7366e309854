/* SPDX-License-Identifier: MIT */
/*
 * posixops DIR [CHECK...]: POSIX file-system checks for a mounted volfs
 * volume.  They must pass on a plain ext4 or tmpfs too, so a failure on a
 * volume is volfs' fault, not the check's.
 *
 * Each check runs in its own directory DIR/posixops.PID/CHECK (the process
 * chdir()s there, so the checks use short relative names) and prints one
 * line: "ok CHECK", "ok CHECK # note" when part of it could not apply here,
 * or "FAIL CHECK: what went wrong (errno text)".  The last line counts
 * them.  Exit status: 0 all passed, 1 something failed, 2 usage.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef FALLOC_FL_KEEP_SIZE
#define FALLOC_FL_KEEP_SIZE 0x01
#endif
#ifndef FALLOC_FL_PUNCH_HOLE
#define FALLOC_FL_PUNCH_HOLE 0x02
#endif

#define PO_MAXFD 16
#define PO_TIMEOUT 180
#define KIB 1024L
#define MIB (1024L * 1024L)

/* The state of the running check. */
struct po_ctx {
	char msg[1024];
	char note[256];
	/* Descriptors the check opened; the runner closes what is left. */
	int fds[PO_MAXFD];
	int nfds;
};

struct po_check {
	const char *name;
	int (*fn)(struct po_ctx *c);
	const char *what;
};

/* For the SIGALRM handler: which check hung. */
static const char *po_current;

/* Records a failure; err is an errno value or 0.  Returns -1. */
static int po_fail(struct po_ctx *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int po_fail(struct po_ctx *c, int err, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
	va_end(ap);
	n = strlen(c->msg);
	if (err && n < sizeof(c->msg))
		snprintf(c->msg + n, sizeof(c->msg) - n, " (%s)", strerror(err));
	return -1;
}

/* Adds a note to an otherwise passing check. */
static void po_note(struct po_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void po_note(struct po_ctx *c, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(c->note);

	if (n && n + 2 < sizeof(c->note)) {
		memcpy(c->note + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(c->note + n, sizeof(c->note) - n, fmt, ap);
	va_end(ap);
}

/* open(2) that remembers the descriptor; returns it or -errno. */
static int po_open(struct po_ctx *c, const char *path, int flags, mode_t mode)
{
	int fd = open(path, flags | O_CLOEXEC, mode);

	if (fd < 0)
		return -errno;
	if (c->nfds < PO_MAXFD)
		c->fds[c->nfds++] = fd;
	return fd;
}

/* close(2) that forgets the descriptor; returns 0 or -errno. */
static int po_close(struct po_ctx *c, int fd)
{
	for (int i = 0; i < c->nfds; i++) {
		if (c->fds[i] == fd) {
			c->fds[i] = c->fds[--c->nfds];
			break;
		}
	}
	return close(fd) < 0 ? -errno : 0;
}

static int po_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads until len bytes or end of file; returns the count or -errno. */
static ssize_t po_read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Creates (or truncates) path with exactly data; 0 or -errno. */
static int po_put(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int rc;

	if (fd < 0)
		return -errno;
	rc = po_write_all(fd, data, len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* Reads at most cap bytes of path into buf; the count or -errno. */
static ssize_t po_get(const char *path, void *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = po_read_all(fd, buf, cap);
	close(fd);
	return n;
}

/* Fails unless path holds exactly the string want. */
static int po_expect_content(struct po_ctx *c, const char *path,
			     const char *want)
{
	char buf[4096];
	size_t wlen = strlen(want);
	ssize_t n = po_get(path, buf, sizeof(buf) - 1);

	if (n < 0)
		return po_fail(c, (int)-n, "read %s", path);
	buf[n] = '\0';
	if ((size_t)n != wlen || memcmp(buf, want, wlen) != 0)
		return po_fail(c, 0, "%s holds '%.60s' (%zd bytes), expected "
				     "'%.60s'", path, buf, n, want);
	return 0;
}

/* Fails unless path does not exist. */
static int po_expect_absent(struct po_ctx *c, const char *path)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return po_fail(c, 0, "%s still exists", path);
	if (errno != ENOENT)
		return po_fail(c, errno, "lstat %s: expected ENOENT", path);
	return 0;
}

/* A byte of the test pattern at file offset off. */
static unsigned char po_byte(uint64_t off, unsigned seed)
{
	uint64_t x = (off + seed) * 0x9E3779B97F4A7C15ull;

	x ^= x >> 29;
	return (unsigned char)(x ^ (x >> 41));
}

static void po_fill(unsigned char *buf, size_t len, uint64_t off,
		    unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = po_byte(off + i, seed);
}

/* The index of the first byte that is not the pattern, or -1. */
static long po_verify(const unsigned char *buf, size_t len, uint64_t off,
		      unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != po_byte(off + i, seed))
			return (long)i;
	return -1;
}

/* The index of the first non-zero byte, or -1. */
static long po_zero_at(const unsigned char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i])
			return (long)i;
	return -1;
}

/*
 * Lists directory path without "." and "..": names go into names (each
 * up to 255 bytes), types into types (may be NULL).  Returns the count or
 * -errno; more than max entries is -E2BIG.  Fails if "." or ".." comes
 * twice, a thing readdir must never do.
 */
static int po_list(const char *path, char names[][256], unsigned char *types,
		   int max)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0, dots = 0, dotdots = 0;

	if (!d)
		return -errno;
	errno = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".")) {
			dots++;
			continue;
		}
		if (!strcmp(e->d_name, "..")) {
			dotdots++;
			continue;
		}
		if (n == max) {
			closedir(d);
			return -E2BIG;
		}
		snprintf(names[n], 256, "%s", e->d_name);
		if (types)
			types[n] = e->d_type;
		n++;
	}
	if (errno) {
		int err = errno;

		closedir(d);
		return -err;
	}
	closedir(d);
	if (dots > 1 || dotdots > 1)
		return -EUCLEAN;
	return n;
}

/* Removes name (a file or a whole tree) under dirfd; 0 or -errno. */
static int po_rmtree_at(int dirfd, const char *name)
{
	struct dirent *e;
	int fd, removed, rc = 0;
	DIR *d;

	/*
	 * Deleting while reading may skip entries: read again, from a new
	 * open (the dirs check is where rewinddir is tested), until empty.
	 */
	do {
		fd = openat(dirfd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno != ENOTDIR && errno != ELOOP)
				return -errno;
			return unlinkat(dirfd, name, 0) < 0 ? -errno : 0;
		}
		d = fdopendir(fd);
		if (!d) {
			rc = -errno;
			close(fd);
			return rc;
		}
		removed = 0;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			rc = po_rmtree_at(fd, e->d_name);
			if (rc < 0)
				break;
			removed++;
		}
		closedir(d);
		if (rc < 0)
			return rc;
	} while (removed);
	return unlinkat(dirfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

/* ---- the checks ------------------------------------------------------ */

/* Create, write and read back 3 MiB in chunk sizes that straddle pages. */
static int chk_rw3m(struct po_ctx *c)
{
	const size_t len = 3 * MIB;
	unsigned char *buf = malloc(len), *back = malloc(len);
	struct stat st;
	size_t done;
	long bad;
	int fd, rc = -1, err;
	ssize_t n;

	if (!buf || !back) {
		po_fail(c, ENOMEM, "malloc");
		goto out;
	}
	po_fill(buf, len, 0, 1);
	fd = po_open(c, "big", O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		po_fail(c, -fd, "create big");
		goto out;
	}
	for (done = 0; done < len; done += 7919) {
		size_t chunk = len - done < 7919 ? len - done : 7919;

		err = po_write_all(fd, buf + done, chunk);
		if (err < 0) {
			po_fail(c, -err, "write big at %zu", done);
			goto out;
		}
	}
	err = po_close(c, fd);
	if (err < 0) {
		po_fail(c, -err, "close big after writing");
		goto out;
	}
	if (stat("big", &st) < 0) {
		po_fail(c, errno, "stat big");
		goto out;
	}
	if (st.st_size != (off_t)len) {
		po_fail(c, 0, "big has st_size %lld, wrote %zu",
			(long long)st.st_size, len);
		goto out;
	}
	fd = po_open(c, "big", O_RDONLY, 0);
	if (fd < 0) {
		po_fail(c, -fd, "open big for reading");
		goto out;
	}
	/* Drop cached pages so the bytes come from the file system. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	memset(back, 0, len);
	for (done = 0; done < len; done += (size_t)n) {
		n = read(fd, back + done, len - done < 4109 ? len - done : 4109);
		if (n < 0) {
			po_fail(c, errno, "read big at %zu", done);
			goto out;
		}
		if (n == 0) {
			po_fail(c, 0, "read big: end of file at %zu of %zu",
				done, len);
			goto out;
		}
	}
	n = read(fd, back, 1);
	if (n != 0) {
		po_fail(c, n < 0 ? errno : 0,
			"read big past its end returned %zd, expected 0", n);
		goto out;
	}
	bad = po_verify(back, len, 0, 1);
	if (bad >= 0) {
		po_fail(c, 0, "big differs from what was written at offset %ld",
			bad);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	free(back);
	return rc;
}

/* pread/pwrite at offsets; they must not move the file offset. */
static int chk_pread_pwrite(struct po_ctx *c)
{
	unsigned char buf[64];
	struct stat st;
	ssize_t n;
	int fd;

	fd = po_open(c, "f", O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return po_fail(c, -fd, "create f");
	if (pwrite(fd, "hello", 5, 10000) != 5)
		return po_fail(c, errno, "pwrite 5 bytes at 10000");
	if (pwrite(fd, "world", 5, 5) != 5)
		return po_fail(c, errno, "pwrite 5 bytes at 5");
	if (lseek(fd, 0, SEEK_CUR) != 0)
		return po_fail(c, 0, "pwrite moved the file offset");
	if (fstat(fd, &st) < 0)
		return po_fail(c, errno, "fstat f");
	if (st.st_size != 10005)
		return po_fail(c, 0, "st_size %lld after pwrite at 10000, "
				     "expected 10005", (long long)st.st_size);
	n = pread(fd, buf, 5, 10000);
	if (n != 5 || memcmp(buf, "hello", 5))
		return po_fail(c, n < 0 ? errno : 0,
			       "pread at 10000 did not return 'hello'");
	n = pread(fd, buf, 20, 0);
	if (n != 20)
		return po_fail(c, n < 0 ? errno : 0,
			       "pread 20 bytes at 0 returned %zd", n);
	if (po_zero_at(buf, 5) >= 0 || memcmp(buf + 5, "world", 5) ||
	    po_zero_at(buf + 10, 10) >= 0)
		return po_fail(c, 0, "bytes 0..19 are not zeros, 'world', "
				     "zeros");
	n = pread(fd, buf, 10, 10005);
	if (n != 0)
		return po_fail(c, n < 0 ? errno : 0,
			       "pread at end of file returned %zd, expected 0",
			       n);
	n = pread(fd, buf, 10, 10003);
	if (n != 2 || memcmp(buf, "lo", 2))
		return po_fail(c, n < 0 ? errno : 0,
			       "pread across end of file returned %zd bytes, "
			       "expected 'lo'", n);
	if (pwrite(fd, "XY", 2, 10001) != 2)
		return po_fail(c, errno, "pwrite 2 bytes at 10001");
	n = pread(fd, buf, 5, 10000);
	if (n != 5 || memcmp(buf, "hXYlo", 5))
		return po_fail(c, n < 0 ? errno : 0,
			       "overwrite in place: expected 'hXYlo'");
	if (write(fd, "abc", 3) != 3)
		return po_fail(c, errno, "write at offset 0");
	if (lseek(fd, 0, SEEK_CUR) != 3)
		return po_fail(c, 0, "write did not advance the offset to 3");
	n = pread(fd, buf, 8, 0);
	if (n != 8 || memcmp(buf, "abc\0\0world", 8))
		return po_fail(c, n < 0 ? errno : 0,
			       "after write at 0: expected 'abc', 2 zeros, "
			       "'wor'");
	if (fstat(fd, &st) < 0 || st.st_size != 10005)
		return po_fail(c, 0, "st_size changed by writes inside the file");
	return 0;
}

/* Two descriptors with O_APPEND: every write lands at the current end. */
static int chk_append(struct po_ctx *c)
{
	char expect[4096], got[4096 + 16], blk[256];
	size_t elen = 0;
	ssize_t n;
	int fd1, fd2, err;

	err = po_put("f", "head\n", 5, 0644);
	if (err < 0)
		return po_fail(c, -err, "create f");
	memcpy(expect, "head\n", 5);
	elen = 5;
	fd1 = po_open(c, "f", O_WRONLY | O_APPEND, 0);
	if (fd1 < 0)
		return po_fail(c, -fd1, "open f O_APPEND (first)");
	fd2 = po_open(c, "f", O_WRONLY | O_APPEND, 0);
	if (fd2 < 0)
		return po_fail(c, -fd2, "open f O_APPEND (second)");
	for (int i = 0; i < 10; i++) {
		size_t l1 = 100 + (size_t)i, l2 = 50 - (size_t)i;

		memset(blk, 'a' + i, l1);
		if (i == 5 && lseek(fd1, 0, SEEK_SET) != 0)
			return po_fail(c, errno, "lseek to 0");
		err = po_write_all(fd1, blk, l1);
		if (err < 0)
			return po_fail(c, -err, "append through fd 1");
		memcpy(expect + elen, blk, l1);
		elen += l1;
		memset(blk, 'A' + i, l2);
		err = po_write_all(fd2, blk, l2);
		if (err < 0)
			return po_fail(c, -err, "append through fd 2");
		memcpy(expect + elen, blk, l2);
		elen += l2;
	}
	if ((err = po_close(c, fd1)) < 0 || (err = po_close(c, fd2)) < 0)
		return po_fail(c, -err, "close f");
	n = po_get("f", got, sizeof(got));
	if (n < 0)
		return po_fail(c, (int)-n, "read f");
	if ((size_t)n != elen)
		return po_fail(c, 0, "f has %zd bytes after the appends, "
				     "expected %zu (a write overwrote "
				     "another)", n, elen);
	for (size_t i = 0; i < elen; i++)
		if (got[i] != expect[i])
			return po_fail(c, 0, "appends interleaved wrongly: "
					     "byte %zu is '%c', expected '%c'",
				       i, got[i], expect[i]);
	return 0;
}

/* truncate/ftruncate growing (zero fill) and shrinking; O_TRUNC. */
static int chk_truncate(struct po_ctx *c)
{
	static unsigned char buf[12000];
	char data[100];
	struct stat st;
	ssize_t n;
	int fd, err;

	for (int i = 0; i < 100; i++)
		data[i] = (char)('0' + i % 10);
	err = po_put("f", data, sizeof(data), 0644);
	if (err < 0)
		return po_fail(c, -err, "create f");
	if (truncate("f", 10000) < 0)
		return po_fail(c, errno, "truncate f to 10000");
	if (stat("f", &st) < 0 || st.st_size != 10000)
		return po_fail(c, errno, "st_size after growing to 10000 is "
					 "%lld", (long long)st.st_size);
	n = po_get("f", buf, sizeof(buf));
	if (n != 10000)
		return po_fail(c, n < 0 ? (int)-n : 0,
			       "read %zd bytes after growing to 10000", n);
	if (memcmp(buf, data, 100))
		return po_fail(c, 0, "growing changed the first 100 bytes");
	if (po_zero_at(buf + 100, 9900) >= 0)
		return po_fail(c, 0, "grown part is not zeros at offset %ld",
			       100 + po_zero_at(buf + 100, 9900));
	fd = po_open(c, "f", O_RDWR, 0);
	if (fd < 0)
		return po_fail(c, -fd, "open f");
	if (ftruncate(fd, 50) < 0)
		return po_fail(c, errno, "ftruncate to 50");
	if (fstat(fd, &st) < 0 || st.st_size != 50)
		return po_fail(c, errno, "st_size after shrinking to 50 is "
					 "%lld", (long long)st.st_size);
	n = po_read_all(fd, buf, sizeof(buf));
	if (n != 50 || memcmp(buf, data, 50))
		return po_fail(c, n < 0 ? (int)-n : 0,
			       "after shrinking to 50: read %zd bytes, or "
			       "they differ", n);
	if (ftruncate(fd, 0) < 0)
		return po_fail(c, errno, "ftruncate to 0");
	/* The offset stays at 50: writing there leaves a zero gap. */
	if (write(fd, "x", 1) != 1)
		return po_fail(c, errno, "write after ftruncate to 0");
	if (fstat(fd, &st) < 0 || st.st_size != 51)
		return po_fail(c, errno, "st_size %lld after writing at 50 "
					 "past a truncation to 0",
			       (long long)st.st_size);
	n = pread(fd, buf, 64, 0);
	if (n != 51 || po_zero_at(buf, 50) >= 0 || buf[50] != 'x')
		return po_fail(c, n < 0 ? errno : 0,
			       "after truncation to 0 and write at 50: "
			       "expected 50 zeros then 'x'");
	if ((err = po_close(c, fd)) < 0)
		return po_fail(c, -err, "close f");
	fd = po_open(c, "f", O_WRONLY | O_TRUNC, 0);
	if (fd < 0)
		return po_fail(c, -fd, "open f O_TRUNC");
	if (fstat(fd, &st) < 0 || st.st_size != 0)
		return po_fail(c, errno, "st_size %lld after O_TRUNC",
			       (long long)st.st_size);
	return 0;
}

/* One byte at 1 GiB: the size is right, the blocks are few. */
static int chk_sparse(struct po_ctx *c)
{
	const off_t off = 1024L * MIB;
	unsigned char buf[4096];
	struct stat st;
	off_t data, hole;
	ssize_t n;
	int fd;

	fd = po_open(c, "sparse", O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return po_fail(c, -fd, "create sparse");
	if (pwrite(fd, "Z", 1, off) != 1)
		return po_fail(c, errno, "pwrite 1 byte at 1 GiB");
	if (fsync(fd) < 0)
		return po_fail(c, errno, "fsync");
	if (fstat(fd, &st) < 0)
		return po_fail(c, errno, "fstat");
	if (st.st_size != off + 1)
		return po_fail(c, 0, "st_size %lld, expected %lld",
			       (long long)st.st_size, (long long)off + 1);
	if (st.st_blocks > 2048)
		return po_fail(c, 0, "st_blocks %lld (%lld KiB) for a 1-byte "
				     "sparse file: not sparse",
			       (long long)st.st_blocks,
			       (long long)st.st_blocks / 2);
	n = pread(fd, buf, 1, off);
	if (n != 1 || buf[0] != 'Z')
		return po_fail(c, n < 0 ? errno : 0, "pread at 1 GiB");
	n = pread(fd, buf, sizeof(buf), 123456789);
	if (n != (ssize_t)sizeof(buf) || po_zero_at(buf, sizeof(buf)) >= 0)
		return po_fail(c, n < 0 ? errno : 0,
			       "the hole does not read as zeros");
	data = lseek(fd, 0, SEEK_DATA);
	if (data < 0) {
		if (errno != EINVAL && errno != EOPNOTSUPP)
			return po_fail(c, errno, "lseek SEEK_DATA from 0");
		po_note(c, "SEEK_DATA not supported");
		return 0;
	}
	hole = lseek(fd, 0, SEEK_HOLE);
	if (hole < 0)
		return po_fail(c, errno, "lseek SEEK_HOLE from 0");
	if (data == 0) {
		/* The generic answer: the whole file is data. */
		if (hole != off + 1)
			return po_fail(c, 0, "SEEK_DATA 0 but SEEK_HOLE %lld",
				       (long long)hole);
		po_note(c, "no hole reporting (SEEK_DATA 0)");
	} else {
		if (data > off)
			return po_fail(c, 0, "SEEK_DATA from 0 is %lld, past "
					     "the data at %lld",
				       (long long)data, (long long)off);
		if (hole != 0)
			return po_fail(c, 0, "SEEK_HOLE from 0 is %lld, "
					     "expected 0", (long long)hole);
	}
	hole = lseek(fd, off, SEEK_HOLE);
	if (hole != off + 1)
		return po_fail(c, hole < 0 ? errno : 0,
			       "SEEK_HOLE from the data is %lld, expected the "
			       "end of file %lld", (long long)hole,
			       (long long)off + 1);
	if (lseek(fd, off + 1, SEEK_DATA) >= 0 || errno != ENXIO)
		return po_fail(c, errno, "SEEK_DATA at end of file: expected "
					 "ENXIO");
	return 0;
}

/* mkdir, exact readdir, rmdir of a non-empty directory. */
static int chk_dirs(struct po_ctx *c)
{
	static const char *const want[] = { "a", "b", "c", "s", "l" };
	static const unsigned char wtype[] = { DT_REG, DT_REG, DT_REG, DT_DIR,
					       DT_LNK };
	char names[16][256];
	unsigned char types[16];
	struct dirent *e;
	struct stat st;
	DIR *d;
	int n, err, count;

	if (mkdir("d", 0755) < 0)
		return po_fail(c, errno, "mkdir d");
	if (mkdir("d", 0755) == 0 || errno != EEXIST)
		return po_fail(c, errno, "mkdir of an existing d: expected "
					 "EEXIST");
	if (stat("d", &st) < 0)
		return po_fail(c, errno, "stat d");
	if (!S_ISDIR(st.st_mode) || (st.st_mode & 07777) != 0755)
		return po_fail(c, 0, "d has mode %o, expected a 0755 "
				     "directory", (unsigned)st.st_mode);
	for (int i = 0; i < 3; i++) {
		char p[8] = "d/x";

		p[2] = want[i][0];
		err = po_put(p, "x", 1, 0644);
		if (err < 0)
			return po_fail(c, -err, "create %s", p);
	}
	if (mkdir("d/s", 0755) < 0)
		return po_fail(c, errno, "mkdir d/s");
	if (symlink("a", "d/l") < 0)
		return po_fail(c, errno, "symlink d/l");
	n = po_list("d", names, types, 16);
	if (n < 0)
		return po_fail(c, -n, "readdir d");
	if (n != 5)
		return po_fail(c, 0, "readdir d: %d entries, expected 5", n);
	for (int i = 0; i < 5; i++) {
		int found = -1;

		for (int j = 0; j < n; j++)
			if (!strcmp(names[j], want[i]))
				found = j;
		if (found < 0)
			return po_fail(c, 0, "readdir d: '%s' missing",
				       want[i]);
		if (types[found] != DT_UNKNOWN && types[found] != wtype[i])
			return po_fail(c, 0, "readdir d: '%s' has d_type %d, "
					     "expected %d", want[i],
				       types[found], wtype[i]);
	}
	/* Reading again from the start gives the same entries. */
	d = opendir("d");
	if (!d)
		return po_fail(c, errno, "opendir d");
	for (int pass = 0; pass < 2; pass++) {
		count = 0;
		rewinddir(d);
		while (readdir(d))
			count++;
		if (count < 5 || count > 7) {
			closedir(d);
			return po_fail(c, 0, "readdir pass %d after rewinddir: "
					     "%d entries", pass + 1, count);
		}
	}
	/* A name removed while the directory is open is gone after rewind. */
	if (unlink("d/c") < 0)
		return po_fail(c, errno, "unlink d/c");
	rewinddir(d);
	errno = 0;
	while ((e = readdir(d)))
		if (!strcmp(e->d_name, "c")) {
			closedir(d);
			return po_fail(c, 0, "readdir after rewinddir still "
					     "lists the removed d/c");
		}
	closedir(d);
	if (po_expect_absent(c, "d/c") < 0)
		return -1;
	if ((err = po_put("d/c", "x", 1, 0644)) < 0)
		return po_fail(c, -err, "create d/c again");
	if (rmdir("d") == 0 || errno != ENOTEMPTY)
		return po_fail(c, errno, "rmdir of non-empty d: expected "
					 "ENOTEMPTY");
	if (rmdir("d/a") == 0 || errno != ENOTDIR)
		return po_fail(c, errno, "rmdir of file d/a: expected ENOTDIR");
	if (unlink("d/s") == 0 || (errno != EISDIR && errno != EPERM))
		return po_fail(c, errno, "unlink of directory d/s: expected "
					 "EISDIR");
	if (unlink("d/a") < 0 || unlink("d/b") < 0 || unlink("d/c") < 0 ||
	    unlink("d/l") < 0)
		return po_fail(c, errno, "unlink in d");
	if (rmdir("d/s") < 0)
		return po_fail(c, errno, "rmdir d/s");
	n = po_list("d", names, NULL, 16);
	if (n != 0)
		return po_fail(c, n < 0 ? -n : 0, "d lists %d entries after "
						  "removing all", n);
	if (rmdir("d") < 0)
		return po_fail(c, errno, "rmdir of empty d");
	return po_expect_absent(c, "d");
}

/* An unlinked file stays readable and writable through an open fd. */
static int chk_unlink_open(struct po_ctx *c)
{
	const size_t len = 100 * KIB;
	static unsigned char buf[100 * 1024 + 16];
	char names[4][256];
	struct stat st;
	ssize_t n;
	int fd, err, cnt;

	fd = po_open(c, "f", O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return po_fail(c, -fd, "create f");
	po_fill(buf, len, 0, 2);
	err = po_write_all(fd, buf, len);
	if (err < 0)
		return po_fail(c, -err, "write f");
	if (unlink("f") < 0)
		return po_fail(c, errno, "unlink f");
	if (po_expect_absent(c, "f") < 0)
		return -1;
	cnt = po_list(".", names, NULL, 4);
	if (cnt != 0)
		return po_fail(c, cnt < 0 ? -cnt : 0,
			       "the directory still lists %d entries after "
			       "unlink (first '%s')", cnt,
			       cnt > 0 ? names[0] : "");
	if (fstat(fd, &st) < 0)
		return po_fail(c, errno, "fstat after unlink");
	if (st.st_nlink != 0)
		return po_fail(c, 0, "st_nlink %lu after unlink, expected 0",
			       (unsigned long)st.st_nlink);
	memset(buf, 0, len);
	n = pread(fd, buf, len, 0);
	if (n != (ssize_t)len)
		return po_fail(c, n < 0 ? errno : 0,
			       "pread after unlink returned %zd", n);
	if (po_verify(buf, len, 0, 2) >= 0)
		return po_fail(c, 0, "data changed after unlink");
	if (pwrite(fd, "tail", 4, (off_t)len) != 4)
		return po_fail(c, errno, "pwrite after unlink");
	n = pread(fd, buf, 16, (off_t)len);
	if (n != 4 || memcmp(buf, "tail", 4))
		return po_fail(c, n < 0 ? errno : 0,
			       "read back of a write after unlink");
	if ((err = po_close(c, fd)) < 0)
		return po_fail(c, -err, "close after unlink");
	return 0;
}

/* rename replacing files and empty directories, and its refusals. */
static int chk_rename(struct po_ctx *c)
{
	char buf[32];
	struct stat st;
	ino_t ino;
	ssize_t n;
	int fd, err;

	if ((err = po_put("a", "AAAA", 4, 0644)) < 0 ||
	    (err = po_put("b", "BBBBBBBB", 8, 0644)) < 0)
		return po_fail(c, -err, "create a and b");
	if (stat("a", &st) < 0)
		return po_fail(c, errno, "stat a");
	ino = st.st_ino;
	fd = po_open(c, "b", O_RDONLY, 0);
	if (fd < 0)
		return po_fail(c, -fd, "open b");
	if (rename("a", "b") < 0)
		return po_fail(c, errno, "rename a b (replacing b)");
	if (po_expect_absent(c, "a") < 0 || po_expect_content(c, "b", "AAAA"))
		return -1;
	if (stat("b", &st) < 0)
		return po_fail(c, errno, "stat b");
	if (st.st_ino != ino)
		return po_fail(c, 0, "st_ino changed across rename (%lu -> "
				     "%lu)", (unsigned long)ino,
			       (unsigned long)st.st_ino);
	n = pread(fd, buf, sizeof(buf), 0);
	if (n != 8 || memcmp(buf, "BBBBBBBB", 8))
		return po_fail(c, n < 0 ? errno : 0,
			       "the replaced b, still open, lost its data");
	if (mkdir("s", 0755) < 0)
		return po_fail(c, errno, "mkdir s");
	if (rename("b", "s/c") < 0)
		return po_fail(c, errno, "rename b s/c (into a subdirectory)");
	if (po_expect_content(c, "s/c", "AAAA") < 0 ||
	    po_expect_absent(c, "b") < 0)
		return -1;
	if (mkdir("e", 0755) < 0)
		return po_fail(c, errno, "mkdir e");
	if (rename("s", "e") < 0)
		return po_fail(c, errno, "rename s e (over an empty directory)");
	if (po_expect_content(c, "e/c", "AAAA") < 0 ||
	    po_expect_absent(c, "s") < 0)
		return -1;
	if (mkdir("g", 0755) < 0 || mkdir("h", 0755) < 0)
		return po_fail(c, errno, "mkdir g h");
	if ((err = po_put("g/x", "x", 1, 0644)) < 0)
		return po_fail(c, -err, "create g/x");
	if (rename("h", "g") == 0 || (errno != ENOTEMPTY && errno != EEXIST))
		return po_fail(c, errno, "rename over a non-empty directory: "
					 "expected ENOTEMPTY");
	if (rename("e/c", "g") == 0 || errno != EISDIR)
		return po_fail(c, errno, "rename of a file over a directory: "
					 "expected EISDIR");
	if (rename("h", "e/c") == 0 || errno != ENOTDIR)
		return po_fail(c, errno, "rename of a directory over a file: "
					 "expected ENOTDIR");
	if (rename("g", "g/sub") == 0 || errno != EINVAL)
		return po_fail(c, errno, "rename of a directory into itself: "
					 "expected EINVAL");
	if (rename("e/c", "e/c") < 0)
		return po_fail(c, errno, "rename of a file onto itself");
	return po_expect_content(c, "e/c", "AAAA");
}

static int po_renameat2(const char *from, const char *to, unsigned flags)
{
	if (syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, flags) < 0)
		return -errno;
	return 0;
}

/* renameat2 RENAME_NOREPLACE and RENAME_EXCHANGE. */
static int chk_renameat2(struct po_ctx *c)
{
	struct stat st;
	int err;

	if ((err = po_put("a", "aaa", 3, 0644)) < 0 ||
	    (err = po_put("b", "bbbbbb", 6, 0644)) < 0)
		return po_fail(c, -err, "create a and b");
	err = po_renameat2("a", "b", RENAME_NOREPLACE);
	if (err == -EINVAL)
		return po_fail(c, EINVAL, "RENAME_NOREPLACE not supported");
	if (err != -EEXIST)
		return po_fail(c, -err, "RENAME_NOREPLACE onto an existing "
					"name: expected EEXIST");
	if (po_expect_content(c, "a", "aaa") < 0 ||
	    po_expect_content(c, "b", "bbbbbb") < 0)
		return -1;
	err = po_renameat2("a", "c", RENAME_NOREPLACE);
	if (err < 0)
		return po_fail(c, -err, "RENAME_NOREPLACE a c (c is free)");
	if (po_expect_absent(c, "a") < 0 ||
	    po_expect_content(c, "c", "aaa") < 0)
		return -1;
	err = po_renameat2("c", "b", RENAME_EXCHANGE);
	if (err == -EINVAL)
		return po_fail(c, EINVAL, "RENAME_EXCHANGE not supported");
	if (err < 0)
		return po_fail(c, -err, "RENAME_EXCHANGE c b");
	if (po_expect_content(c, "c", "bbbbbb") < 0 ||
	    po_expect_content(c, "b", "aaa") < 0)
		return -1;
	err = po_renameat2("c", "nope", RENAME_EXCHANGE);
	if (err != -ENOENT)
		return po_fail(c, -err, "RENAME_EXCHANGE with a missing name: "
					"expected ENOENT");
	if (mkdir("d", 0755) < 0)
		return po_fail(c, errno, "mkdir d");
	if ((err = po_put("d/x", "x", 1, 0644)) < 0)
		return po_fail(c, -err, "create d/x");
	err = po_renameat2("c", "d", RENAME_EXCHANGE);
	if (err < 0)
		return po_fail(c, -err, "RENAME_EXCHANGE of a file and a "
					"directory");
	if (stat("c", &st) < 0 || !S_ISDIR(st.st_mode))
		return po_fail(c, errno, "after exchange c is not the "
					 "directory");
	if (po_expect_content(c, "c/x", "x") < 0 ||
	    po_expect_content(c, "d", "bbbbbb") < 0)
		return -1;
	return 0;
}

/* Hard links: one inode, two names, nlink counted. */
static int chk_hardlink(struct po_ctx *c)
{
	struct stat sa, sb;
	int fd, err;

	if ((err = po_put("a", "one", 3, 0644)) < 0)
		return po_fail(c, -err, "create a");
	fd = po_open(c, "a", O_RDONLY, 0);
	if (fd < 0)
		return po_fail(c, -fd, "open a");
	if (link("a", "b") < 0)
		return po_fail(c, errno, "link a b");
	if (stat("a", &sa) < 0 || stat("b", &sb) < 0)
		return po_fail(c, errno, "stat a, b");
	if (sa.st_nlink != 2 || sb.st_nlink != 2)
		return po_fail(c, 0, "st_nlink a %lu, b %lu, expected 2",
			       (unsigned long)sa.st_nlink,
			       (unsigned long)sb.st_nlink);
	if (sa.st_ino != sb.st_ino)
		return po_fail(c, 0, "a and b have different st_ino (%lu, %lu)",
			       (unsigned long)sa.st_ino,
			       (unsigned long)sb.st_ino);
	if (fstat(fd, &sa) < 0 || sa.st_nlink != 2)
		return po_fail(c, errno, "fstat of a descriptor opened before "
					 "link: st_nlink %lu, expected 2",
			       (unsigned long)sa.st_nlink);
	if ((err = po_put("b", "two-two", 7, 0644)) < 0)
		return po_fail(c, -err, "rewrite b");
	if (po_expect_content(c, "a", "two-two") < 0)
		return -1;
	if (link("a", "b") == 0 || errno != EEXIST)
		return po_fail(c, errno, "link onto an existing name: expected "
					 "EEXIST");
	if (mkdir("d", 0755) < 0)
		return po_fail(c, errno, "mkdir d");
	if (link("d", "e") == 0 || errno != EPERM)
		return po_fail(c, errno, "link of a directory: expected EPERM");
	if (unlink("a") < 0)
		return po_fail(c, errno, "unlink a");
	if (stat("b", &sb) < 0 || sb.st_nlink != 1)
		return po_fail(c, errno, "after unlink a: b st_nlink %lu, "
					 "expected 1",
			       (unsigned long)sb.st_nlink);
	if (fstat(fd, &sa) < 0 || sa.st_nlink != 1)
		return po_fail(c, errno, "after unlink a: fstat st_nlink %lu, "
					 "expected 1",
			       (unsigned long)sa.st_nlink);
	return po_expect_content(c, "b", "two-two");
}

/* symlink, readlink, lstat and following. */
static int chk_symlink(struct po_ctx *c)
{
	static const char abs_target[] = "/nonexistent/volfs-target";
	char lng[1001], buf[1100];
	struct stat st;
	ssize_t n;
	int err;

	if ((err = po_put("t", "target-data", 11, 0644)) < 0)
		return po_fail(c, -err, "create t");
	if (symlink("t", "l") < 0)
		return po_fail(c, errno, "symlink t l");
	n = readlink("l", buf, sizeof(buf));
	if (n != 1 || buf[0] != 't')
		return po_fail(c, n < 0 ? errno : 0,
			       "readlink l: got %zd bytes, expected 't'", n);
	if (lstat("l", &st) < 0)
		return po_fail(c, errno, "lstat l");
	if (!S_ISLNK(st.st_mode) || st.st_size != 1)
		return po_fail(c, 0, "lstat l: mode %o size %lld, expected a "
				     "symlink of size 1", (unsigned)st.st_mode,
			       (long long)st.st_size);
	if (stat("l", &st) < 0)
		return po_fail(c, errno, "stat through l");
	if (!S_ISREG(st.st_mode) || st.st_size != 11)
		return po_fail(c, 0, "stat through l: not the 11-byte file");
	if (po_expect_content(c, "l", "target-data") < 0)
		return -1;
	if (open("l", O_RDONLY | O_NOFOLLOW | O_CLOEXEC) >= 0 ||
	    errno != ELOOP)
		return po_fail(c, errno, "open l O_NOFOLLOW: expected ELOOP");
	for (int i = 0; i < 1000; i++)
		lng[i] = i % 2 ? '/' : 'x';
	lng[999] = 'y';
	lng[1000] = '\0';
	if (symlink(lng, "dl") < 0)
		return po_fail(c, errno, "symlink with a 1000-byte target");
	n = readlink("dl", buf, sizeof(buf));
	if (n != 1000 || memcmp(buf, lng, 1000))
		return po_fail(c, n < 0 ? errno : 0,
			       "readlink of the 1000-byte target returned %zd "
			       "bytes or other bytes", n);
	if (stat("dl", &st) == 0 || errno != ENOENT)
		return po_fail(c, errno, "stat through a dangling link: "
					 "expected ENOENT");
	if (symlink(abs_target, "al") < 0)
		return po_fail(c, errno, "symlink to an absolute target");
	n = readlink("al", buf, sizeof(buf));
	if (n != (ssize_t)strlen(abs_target) || memcmp(buf, abs_target, n))
		return po_fail(c, n < 0 ? errno : 0,
			       "readlink of an absolute target differs");
	if (readlink("t", buf, sizeof(buf)) >= 0 || errno != EINVAL)
		return po_fail(c, errno, "readlink of a file: expected EINVAL");
	if (symlink("x", "l") == 0 || errno != EEXIST)
		return po_fail(c, errno, "symlink onto an existing name: "
					 "expected EEXIST");
	if (unlink("l") < 0)
		return po_fail(c, errno, "unlink l");
	return po_expect_content(c, "t", "target-data");
}

static int po_expect_mode(struct po_ctx *c, const char *path, mode_t want)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return po_fail(c, errno, "stat %s", path);
	if ((st.st_mode & 07777) != want)
		return po_fail(c, 0, "%s has mode %04o, expected %04o", path,
			       (unsigned)(st.st_mode & 07777), (unsigned)want);
	return 0;
}

/* Creation modes (umask is 0 here), chmod and fchmod. */
static int chk_chmod(struct po_ctx *c)
{
	int fd;

	fd = po_open(c, "f", O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return po_fail(c, -fd, "create f");
	if (po_expect_mode(c, "f", 0644) < 0)
		return -1;
	if (chmod("f", 0600) < 0)
		return po_fail(c, errno, "chmod f 0600");
	if (po_expect_mode(c, "f", 0600) < 0)
		return -1;
	if (chmod("f", 0751) < 0)
		return po_fail(c, errno, "chmod f 0751");
	if (po_expect_mode(c, "f", 0751) < 0)
		return -1;
	if (fchmod(fd, 0640) < 0)
		return po_fail(c, errno, "fchmod 0640");
	if (po_expect_mode(c, "f", 0640) < 0)
		return -1;
	if (mkdir("d", 0700) < 0)
		return po_fail(c, errno, "mkdir d 0700");
	if (po_expect_mode(c, "d", 0700) < 0)
		return -1;
	if (chmod("d", 0755) < 0)
		return po_fail(c, errno, "chmod d 0755");
	return po_expect_mode(c, "d", 0755);
}

static int po_expect_owner(struct po_ctx *c, const char *path, int follow,
			   uid_t uid, gid_t gid)
{
	struct stat st;

	if ((follow ? stat(path, &st) : lstat(path, &st)) < 0)
		return po_fail(c, errno, "stat %s", path);
	if (st.st_uid != uid || st.st_gid != gid)
		return po_fail(c, 0, "%s is owned by %u:%u, expected %u:%u",
			       path, (unsigned)st.st_uid, (unsigned)st.st_gid,
			       (unsigned)uid, (unsigned)gid);
	return 0;
}

/* chown, fchown, lchown (the link, not its target). */
static int chk_chown(struct po_ctx *c)
{
	int fd, err;

	if (geteuid() != 0) {
		po_note(c, "skipped: not root");
		return 0;
	}
	if ((err = po_put("f", "f", 1, 0644)) < 0)
		return po_fail(c, -err, "create f");
	if (chown("f", 1000, 1000) < 0)
		return po_fail(c, errno, "chown f 1000:1000");
	if (po_expect_owner(c, "f", 1, 1000, 1000) < 0)
		return -1;
	fd = po_open(c, "f", O_RDONLY, 0);
	if (fd < 0)
		return po_fail(c, -fd, "open f");
	if (fchown(fd, 1001, (gid_t)-1) < 0)
		return po_fail(c, errno, "fchown 1001:-1");
	if (po_expect_owner(c, "f", 1, 1001, 1000) < 0)
		return -1;
	if (chown("f", (uid_t)-1, 1003) < 0)
		return po_fail(c, errno, "chown f -1:1003");
	if (po_expect_owner(c, "f", 1, 1001, 1003) < 0)
		return -1;
	if (symlink("f", "l") < 0)
		return po_fail(c, errno, "symlink f l");
	if (lchown("l", 1002, 1002) < 0)
		return po_fail(c, errno, "lchown l 1002:1002");
	if (po_expect_owner(c, "l", 0, 1002, 1002) < 0 ||
	    po_expect_owner(c, "f", 1, 1001, 1003) < 0)
		return -1;
	if (mkdir("d", 0755) < 0)
		return po_fail(c, errno, "mkdir d");
	if (chown("d", 1000, 1000) < 0)
		return po_fail(c, errno, "chown d 1000:1000");
	return po_expect_owner(c, "d", 1, 1000, 1000);
}

/* Compares a timestamp; a file system without nanoseconds reports 0. */
static int po_ts_eq(const struct timespec *got, time_t sec, long nsec)
{
	return got->tv_sec == sec && (got->tv_nsec == nsec || got->tv_nsec == 0);
}

static int po_expect_times(struct po_ctx *c, const char *path, int follow,
			   time_t asec, long ansec, time_t msec, long mnsec)
{
	struct stat st;

	if ((follow ? stat(path, &st) : lstat(path, &st)) < 0)
		return po_fail(c, errno, "stat %s", path);
	if (!po_ts_eq(&st.st_atim, asec, ansec))
		return po_fail(c, 0, "%s atime %lld.%09ld, expected "
				     "%lld.%09ld", path,
			       (long long)st.st_atim.tv_sec,
			       st.st_atim.tv_nsec, (long long)asec, ansec);
	if (!po_ts_eq(&st.st_mtim, msec, mnsec))
		return po_fail(c, 0, "%s mtime %lld.%09ld, expected "
				     "%lld.%09ld", path,
			       (long long)st.st_mtim.tv_sec,
			       st.st_mtim.tv_nsec, (long long)msec, mnsec);
	return 0;
}

/* utimensat with explicit times, UTIME_OMIT, UTIME_NOW; futimens. */
static int chk_utimens(struct po_ctx *c)
{
	struct timespec ts[2];
	struct stat st;
	time_t now;
	int fd, err;

	if ((err = po_put("f", "f", 1, 0644)) < 0)
		return po_fail(c, -err, "create f");
	ts[0] = (struct timespec){ 1000000000, 123456789 };
	ts[1] = (struct timespec){ 1100000000, 987654321 };
	if (utimensat(AT_FDCWD, "f", ts, 0) < 0)
		return po_fail(c, errno, "utimensat f");
	if (po_expect_times(c, "f", 1, 1000000000, 123456789, 1100000000,
			    987654321) < 0)
		return -1;
	ts[0] = (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (struct timespec){ 1200000000, 5000 };
	if (utimensat(AT_FDCWD, "f", ts, 0) < 0)
		return po_fail(c, errno, "utimensat f (atime UTIME_OMIT)");
	if (po_expect_times(c, "f", 1, 1000000000, 123456789, 1200000000,
			    5000) < 0)
		return -1;
	ts[0] = (struct timespec){ 1300000000, 0 };
	ts[1] = (struct timespec){ 0, UTIME_OMIT };
	if (utimensat(AT_FDCWD, "f", ts, 0) < 0)
		return po_fail(c, errno, "utimensat f (mtime UTIME_OMIT)");
	if (po_expect_times(c, "f", 1, 1300000000, 0, 1200000000, 5000) < 0)
		return -1;
	now = time(NULL);
	ts[0] = (struct timespec){ 0, UTIME_OMIT };
	ts[1] = (struct timespec){ 0, UTIME_NOW };
	if (utimensat(AT_FDCWD, "f", ts, 0) < 0)
		return po_fail(c, errno, "utimensat f (mtime UTIME_NOW)");
	if (stat("f", &st) < 0)
		return po_fail(c, errno, "stat f");
	if (st.st_mtim.tv_sec < now - 5 || st.st_mtim.tv_sec > now + 5 ||
	    st.st_atim.tv_sec != 1300000000)
		return po_fail(c, 0, "after UTIME_NOW: mtime %lld (now %lld), "
				     "atime %lld (expected unchanged)",
			       (long long)st.st_mtim.tv_sec, (long long)now,
			       (long long)st.st_atim.tv_sec);
	fd = po_open(c, "f", O_RDONLY, 0);
	if (fd < 0)
		return po_fail(c, -fd, "open f");
	ts[0] = (struct timespec){ 1400000000, 1 };
	ts[1] = (struct timespec){ 1500000000, 2 };
	if (futimens(fd, ts) < 0)
		return po_fail(c, errno, "futimens");
	if (po_expect_times(c, "f", 1, 1400000000, 1, 1500000000, 2) < 0)
		return -1;
	if (symlink("f", "l") < 0)
		return po_fail(c, errno, "symlink f l");
	ts[0] = (struct timespec){ 1600000000, 0 };
	ts[1] = (struct timespec){ 1600000001, 0 };
	if (utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW) < 0)
		return po_fail(c, errno, "utimensat l AT_SYMLINK_NOFOLLOW");
	if (po_expect_times(c, "l", 0, 1600000000, 0, 1600000001, 0) < 0)
		return -1;
	return po_expect_times(c, "f", 1, 1400000000, 1, 1500000000, 2);
}

/* Fails unless listxattr of path has name (want 1) or lacks it (0). */
static int po_expect_listed(struct po_ctx *c, const char *path,
			    const char *name, int want)
{
	char list[8192];
	ssize_t size = listxattr(path, NULL, 0), n;
	int found = 0;

	if (size < 0)
		return po_fail(c, errno, "listxattr %s (size query)", path);
	if ((size_t)size > sizeof(list))
		return po_fail(c, 0, "listxattr %s: %zd bytes", path, size);
	n = listxattr(path, list, sizeof(list));
	if (n < 0)
		return po_fail(c, errno, "listxattr %s", path);
	if (n != size)
		return po_fail(c, 0, "listxattr %s: size query said %zd, list "
				     "has %zd", path, size, n);
	if (n > 0 && list[n - 1] != '\0')
		return po_fail(c, 0, "listxattr %s: list not NUL-terminated",
			       path);
	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1)
		if (!strcmp(list + off, name))
			found = 1;
	if (found != want)
		return po_fail(c, 0, "listxattr %s %s '%s'", path,
			       want ? "lacks" : "still has", name);
	return 0;
}

/* user.* extended attributes. */
static int chk_xattr(struct po_ctx *c)
{
	static const char bin[] = { 0, 1, 2, 0, (char)255 };
	char big[4000], buf[4096];
	ssize_t n;
	int fd, err;

	if ((err = po_put("f", "f", 1, 0644)) < 0)
		return po_fail(c, -err, "create f");
	if (setxattr("f", "user.volfs.one", "value-1", 7, XATTR_CREATE) < 0)
		return po_fail(c, errno, "setxattr user.volfs.one");
	n = getxattr("f", "user.volfs.one", NULL, 0);
	if (n != 7)
		return po_fail(c, n < 0 ? errno : 0,
			       "getxattr size query returned %zd, expected 7",
			       n);
	n = getxattr("f", "user.volfs.one", buf, sizeof(buf));
	if (n != 7 || memcmp(buf, "value-1", 7))
		return po_fail(c, n < 0 ? errno : 0,
			       "getxattr user.volfs.one: wrong value");
	if (getxattr("f", "user.volfs.one", buf, 3) >= 0 || errno != ERANGE)
		return po_fail(c, errno, "getxattr into a small buffer: "
					 "expected ERANGE");
	if (setxattr("f", "user.volfs.one", "v", 1, XATTR_CREATE) == 0 ||
	    errno != EEXIST)
		return po_fail(c, errno, "XATTR_CREATE of an existing name: "
					 "expected EEXIST");
	if (setxattr("f", "user.volfs.none", "v", 1, XATTR_REPLACE) == 0 ||
	    errno != ENODATA)
		return po_fail(c, errno, "XATTR_REPLACE of a missing name: "
					 "expected ENODATA");
	if (setxattr("f", "user.volfs.one", "value-22", 8, XATTR_REPLACE) < 0)
		return po_fail(c, errno, "XATTR_REPLACE user.volfs.one");
	n = getxattr("f", "user.volfs.one", buf, sizeof(buf));
	if (n != 8 || memcmp(buf, "value-22", 8))
		return po_fail(c, n < 0 ? errno : 0,
			       "value after XATTR_REPLACE is wrong");
	if (setxattr("f", "user.volfs.bin", bin, sizeof(bin), 0) < 0)
		return po_fail(c, errno, "setxattr of a binary value");
	n = getxattr("f", "user.volfs.bin", buf, sizeof(buf));
	if (n != (ssize_t)sizeof(bin) || memcmp(buf, bin, sizeof(bin)))
		return po_fail(c, n < 0 ? errno : 0,
			       "binary value (with NUL bytes) came back "
			       "different");
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	if (setxattr("f", "user.volfs.big", big, sizeof(big), 0) < 0)
		return po_fail(c, errno, "setxattr of a 4000-byte value");
	n = getxattr("f", "user.volfs.big", buf, sizeof(buf));
	if (n != (ssize_t)sizeof(big) || memcmp(buf, big, sizeof(big)))
		return po_fail(c, n < 0 ? errno : 0,
			       "4000-byte value came back different");
	if (po_expect_listed(c, "f", "user.volfs.one", 1) < 0 ||
	    po_expect_listed(c, "f", "user.volfs.bin", 1) < 0)
		return -1;
	if (removexattr("f", "user.volfs.one") < 0)
		return po_fail(c, errno, "removexattr user.volfs.one");
	if (getxattr("f", "user.volfs.one", buf, sizeof(buf)) >= 0 ||
	    errno != ENODATA)
		return po_fail(c, errno, "getxattr after removexattr: expected "
					 "ENODATA");
	if (removexattr("f", "user.volfs.one") == 0 || errno != ENODATA)
		return po_fail(c, errno, "second removexattr: expected ENODATA");
	if (po_expect_listed(c, "f", "user.volfs.one", 0) < 0)
		return -1;
	fd = po_open(c, "f", O_RDONLY, 0);
	if (fd < 0)
		return po_fail(c, -fd, "open f");
	if (fsetxattr(fd, "user.volfs.fd", "byfd", 4, 0) < 0)
		return po_fail(c, errno, "fsetxattr");
	n = fgetxattr(fd, "user.volfs.fd", buf, sizeof(buf));
	if (n != 4 || memcmp(buf, "byfd", 4))
		return po_fail(c, n < 0 ? errno : 0, "fgetxattr");
	if (mkdir("d", 0755) < 0)
		return po_fail(c, errno, "mkdir d");
	if (setxattr("d", "user.volfs.dir", "dv", 2, 0) < 0)
		return po_fail(c, errno, "setxattr on a directory");
	n = getxattr("d", "user.volfs.dir", buf, sizeof(buf));
	if (n != 2 || memcmp(buf, "dv", 2))
		return po_fail(c, n < 0 ? errno : 0,
			       "getxattr on a directory");
	return 0;
}

/* fallocate mode 0 (allocate, extend) and PUNCH_HOLE|KEEP_SIZE. */
static int chk_fallocate(struct po_ctx *c)
{
	const size_t len = MIB;
	unsigned char *buf = malloc(len);
	struct stat st;
	blkcnt_t blocks;
	ssize_t n;
	long bad;
	int fd, rc = -1, err;

	if (!buf)
		return po_fail(c, ENOMEM, "malloc");
	fd = po_open(c, "f", O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		po_fail(c, -fd, "create f");
		goto out;
	}
	if (fallocate(fd, 0, 0, (off_t)len) < 0) {
		po_fail(c, errno, "fallocate 1 MiB");
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		po_fail(c, errno, "fstat");
		goto out;
	}
	if (st.st_size != (off_t)len || st.st_blocks < (blkcnt_t)(len / 512)) {
		po_fail(c, 0, "after fallocate 1 MiB: st_size %lld, st_blocks "
			      "%lld (expected 1048576 and >= 2048)",
			(long long)st.st_size, (long long)st.st_blocks);
		goto out;
	}
	n = pread(fd, buf, len, 0);
	if (n != (ssize_t)len || po_zero_at(buf, len) >= 0) {
		po_fail(c, n < 0 ? errno : 0,
			"allocated range does not read as 1 MiB of zeros");
		goto out;
	}
	po_fill(buf, len, 0, 3);
	if (pwrite(fd, buf, len, 0) != (ssize_t)len || fsync(fd) < 0) {
		po_fail(c, errno, "pwrite/fsync 1 MiB");
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		po_fail(c, errno, "fstat");
		goto out;
	}
	blocks = st.st_blocks;
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      64 * KIB, 128 * KIB) < 0) {
		po_fail(c, errno, "fallocate PUNCH_HOLE|KEEP_SIZE 64K+128K");
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		po_fail(c, errno, "fstat");
		goto out;
	}
	if (st.st_size != (off_t)len) {
		po_fail(c, 0, "punching a hole changed st_size to %lld",
			(long long)st.st_size);
		goto out;
	}
	if (st.st_blocks >= blocks) {
		po_fail(c, 0, "punching 128 KiB freed nothing: st_blocks %lld "
			      "before, %lld after", (long long)blocks,
			(long long)st.st_blocks);
		goto out;
	}
	memset(buf, 0xee, len);
	n = pread(fd, buf, len, 0);
	if (n != (ssize_t)len) {
		po_fail(c, n < 0 ? errno : 0, "pread 1 MiB after punch");
		goto out;
	}
	bad = po_verify(buf, 64 * KIB, 0, 3);
	if (bad < 0 && po_zero_at(buf + 64 * KIB, 128 * KIB) >= 0)
		bad = 64 * KIB + po_zero_at(buf + 64 * KIB, 128 * KIB);
	if (bad < 0 && po_verify(buf + 192 * KIB, len - 192 * KIB,
				 192 * KIB, 3) >= 0)
		bad = 192 * KIB + po_verify(buf + 192 * KIB, len - 192 * KIB,
					    192 * KIB, 3);
	if (bad >= 0) {
		po_fail(c, 0, "after punching 64K..192K the data is wrong at "
			      "offset %ld", bad);
		goto out;
	}
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, (off_t)len, (off_t)len) < 0) {
		po_fail(c, errno, "fallocate KEEP_SIZE past the end");
		goto out;
	}
	if (fstat(fd, &st) < 0 || st.st_size != (off_t)len) {
		po_fail(c, errno, "fallocate KEEP_SIZE changed st_size to %lld",
			(long long)st.st_size);
		goto out;
	}
	if (fallocate(fd, 0, 2 * (off_t)len, 4096) < 0) {
		po_fail(c, errno, "fallocate past the end");
		goto out;
	}
	if (fstat(fd, &st) < 0 || st.st_size != 2 * (off_t)len + 4096) {
		po_fail(c, errno, "fallocate past the end: st_size %lld, "
				  "expected %lld", (long long)st.st_size,
			2 * (long long)len + 4096);
		goto out;
	}
	err = po_close(c, fd);
	if (err < 0) {
		po_fail(c, -err, "close");
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

/* statvfs reports a real file system. */
static int chk_statfs(struct po_ctx *c)
{
	struct statvfs sv, fsv;
	int fd, err;

	if (statvfs(".", &sv) < 0)
		return po_fail(c, errno, "statvfs");
	if (!sv.f_bsize || !sv.f_frsize || !sv.f_blocks || !sv.f_namemax)
		return po_fail(c, 0, "statvfs has zeros: f_bsize %lu f_frsize "
				     "%lu f_blocks %llu f_namemax %lu",
			       sv.f_bsize, sv.f_frsize,
			       (unsigned long long)sv.f_blocks, sv.f_namemax);
	if (sv.f_bfree > sv.f_blocks || sv.f_bavail > sv.f_blocks)
		return po_fail(c, 0, "statvfs: f_bfree %llu / f_bavail %llu "
				     "exceed f_blocks %llu",
			       (unsigned long long)sv.f_bfree,
			       (unsigned long long)sv.f_bavail,
			       (unsigned long long)sv.f_blocks);
	if ((err = po_put("f", "f", 1, 0644)) < 0)
		return po_fail(c, -err, "create f");
	fd = po_open(c, "f", O_RDONLY, 0);
	if (fd < 0)
		return po_fail(c, -fd, "open f");
	if (fstatvfs(fd, &fsv) < 0)
		return po_fail(c, errno, "fstatvfs");
	if (fsv.f_blocks != sv.f_blocks || fsv.f_bsize != sv.f_bsize)
		return po_fail(c, 0, "fstatvfs of a file and statvfs of its "
				     "directory disagree");
	return 0;
}

/* flock: exclusive on one open file description blocks another. */
static int chk_flock(struct po_ctx *c)
{
	int fd1, fd2, fd3, err;

	if ((err = po_put("f", "f", 1, 0644)) < 0)
		return po_fail(c, -err, "create f");
	fd1 = po_open(c, "f", O_RDWR, 0);
	fd2 = po_open(c, "f", O_RDWR, 0);
	fd3 = po_open(c, "f", O_RDONLY, 0);
	if (fd1 < 0 || fd2 < 0 || fd3 < 0)
		return po_fail(c, fd1 < 0 ? -fd1 : fd2 < 0 ? -fd2 : -fd3,
			       "open f three times");
	if (flock(fd1, LOCK_EX) < 0)
		return po_fail(c, errno, "flock LOCK_EX");
	if (flock(fd2, LOCK_EX | LOCK_NB) == 0)
		return po_fail(c, 0, "a second LOCK_EX on another open file "
				     "description succeeded");
	if (errno != EWOULDBLOCK)
		return po_fail(c, errno, "second LOCK_EX|LOCK_NB: expected "
					 "EWOULDBLOCK");
	if (flock(fd2, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		return po_fail(c, errno, "LOCK_SH|LOCK_NB against LOCK_EX: "
					 "expected EWOULDBLOCK");
	if (flock(fd1, LOCK_UN) < 0)
		return po_fail(c, errno, "flock LOCK_UN");
	if (flock(fd2, LOCK_EX | LOCK_NB) < 0)
		return po_fail(c, errno, "LOCK_EX|LOCK_NB after unlock");
	if (flock(fd2, LOCK_UN) < 0)
		return po_fail(c, errno, "flock LOCK_UN");
	if (flock(fd1, LOCK_SH | LOCK_NB) < 0 ||
	    flock(fd3, LOCK_SH | LOCK_NB) < 0)
		return po_fail(c, errno, "two LOCK_SH");
	if (flock(fd2, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK)
		return po_fail(c, errno, "LOCK_EX|LOCK_NB against LOCK_SH: "
					 "expected EWOULDBLOCK");
	/* Closing the last descriptor of a description drops its lock. */
	if ((err = po_close(c, fd1)) < 0 || (err = po_close(c, fd3)) < 0)
		return po_fail(c, -err, "close");
	if (flock(fd2, LOCK_EX | LOCK_NB) < 0)
		return po_fail(c, errno, "LOCK_EX|LOCK_NB after the holders "
					 "closed");
	return 0;
}

/*
 * Runs fn in a child that reports a failure as text on a pipe; the
 * parent turns that into this check's failure.
 */
static int po_in_child(struct po_ctx *c, int (*fn)(char *msg, size_t len))
{
	char msg[512];
	int p[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return po_fail(c, errno, "pipe");
	pid = fork();
	if (pid < 0)
		return po_fail(c, errno, "fork");
	if (pid == 0) {
		char cmsg[512] = "";

		close(p[0]);
		fn(cmsg, sizeof(cmsg));
		if (cmsg[0] && write(p[1], cmsg, strlen(cmsg)) < 0)
			_exit(3);
		_exit(0);
	}
	close(p[1]);
	while ((n = read(p[0], msg + got, sizeof(msg) - 1 - (size_t)got)) > 0)
		got += n;
	close(p[0]);
	msg[got] = '\0';
	if (waitpid(pid, &status, 0) < 0)
		return po_fail(c, errno, "waitpid");
	if (got)
		return po_fail(c, 0, "%s", msg);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return po_fail(c, 0, "the child process died (status %#x)",
			       status);
	return 0;
}

/* Writes a failure text (with errno err when not 0) into msg. */
static void po_cfail(char *msg, size_t len, int err, const char *what)
{
	snprintf(msg, len, "%s%s%s%s", what, err ? " (" : "",
		 err ? strerror(err) : "", err ? ")" : "");
}

/* The child's side while the parent holds a write lock on 0..99. */
static int po_lock_child_blocked(char *msg, size_t len)
{
	struct flock fl;
	int fd = open("f", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		po_cfail(msg, len, errno, "child: open f");
		return -1;
	}
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET,
			     .l_start = 50, .l_len = 10 };
	if (fcntl(fd, F_SETLK, &fl) == 0) {
		po_cfail(msg, len, 0, "child got F_WRLCK on 50..59 while the "
				      "parent holds 0..99");
		return -1;
	}
	if (errno != EAGAIN && errno != EACCES) {
		po_cfail(msg, len, errno, "child F_SETLK: expected EAGAIN");
		return -1;
	}
	fl = (struct flock){ .l_type = F_RDLCK, .l_whence = SEEK_SET,
			     .l_start = 99, .l_len = 1 };
	if (fcntl(fd, F_SETLK, &fl) == 0 ||
	    (errno != EAGAIN && errno != EACCES)) {
		po_cfail(msg, len, errno, "child F_RDLCK on byte 99: expected "
					  "EAGAIN");
		return -1;
	}
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET,
			     .l_start = 50, .l_len = 10 };
	if (fcntl(fd, F_GETLK, &fl) < 0) {
		po_cfail(msg, len, errno, "child F_GETLK");
		return -1;
	}
	if (fl.l_type != F_WRLCK || fl.l_pid != getppid() ||
	    fl.l_start != 0 || fl.l_len != 100) {
		snprintf(msg, len, "child F_GETLK: type %d pid %d range "
				   "%lld+%lld, expected F_WRLCK by pid %d on "
				   "0+100", fl.l_type, (int)fl.l_pid,
			 (long long)fl.l_start, (long long)fl.l_len,
			 (int)getppid());
		return -1;
	}
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET,
			     .l_start = 200, .l_len = 100 };
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		po_cfail(msg, len, errno, "child F_SETLK on free range 200..299");
		return -1;
	}
	return 0;
}

/* The child's side after the parent unlocked. */
static int po_lock_child_free(char *msg, size_t len)
{
	struct flock fl;
	int fd = open("f", O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		po_cfail(msg, len, errno, "child: open f");
		return -1;
	}
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET,
			     .l_start = 0, .l_len = 100 };
	if (fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type != F_UNLCK) {
		po_cfail(msg, len, errno, "child F_GETLK after the parent "
					  "unlocked: not F_UNLCK");
		return -1;
	}
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET,
			     .l_start = 50, .l_len = 10 };
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		po_cfail(msg, len, errno, "child F_SETLK after the parent "
					  "unlocked");
		return -1;
	}
	return 0;
}

/* fcntl record locks between processes. */
static int chk_posix_lock(struct po_ctx *c)
{
	char data[1000];
	struct flock fl;
	int fd, err;

	memset(data, 'L', sizeof(data));
	if ((err = po_put("f", data, sizeof(data), 0644)) < 0)
		return po_fail(c, -err, "create f");
	fd = po_open(c, "f", O_RDWR, 0);
	if (fd < 0)
		return po_fail(c, -fd, "open f");
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET,
			     .l_start = 0, .l_len = 100 };
	if (fcntl(fd, F_SETLK, &fl) < 0)
		return po_fail(c, errno, "F_SETLK F_WRLCK 0..99");
	if (po_in_child(c, po_lock_child_blocked) < 0)
		return -1;
	fl = (struct flock){ .l_type = F_UNLCK, .l_whence = SEEK_SET,
			     .l_start = 0, .l_len = 100 };
	if (fcntl(fd, F_SETLK, &fl) < 0)
		return po_fail(c, errno, "F_SETLK F_UNLCK");
	return po_in_child(c, po_lock_child_free);
}

/* mmap MAP_SHARED: stores reach read(2), write(2) reaches the map. */
static int chk_mmap(struct po_ctx *c)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE), len = 3 * ps;
	unsigned char *buf = malloc(len), *map = MAP_FAILED;
	struct stat st;
	ssize_t n;
	long bad;
	int fd, fd2, rc = -1, err;

	if (!buf)
		return po_fail(c, ENOMEM, "malloc");
	fd = po_open(c, "f", O_RDWR | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		po_fail(c, -fd, "create f");
		goto out;
	}
	if (ftruncate(fd, (off_t)len) < 0) {
		po_fail(c, errno, "ftruncate to 3 pages");
		goto out;
	}
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		po_fail(c, errno, "mmap MAP_SHARED read/write");
		goto out;
	}
	po_fill(map, len, 0, 4);
	if (msync(map, len, MS_SYNC) < 0) {
		po_fail(c, errno, "msync MS_SYNC");
		goto out;
	}
	fd2 = po_open(c, "f", O_RDONLY, 0);
	if (fd2 < 0) {
		po_fail(c, -fd2, "open f again");
		goto out;
	}
	n = po_read_all(fd2, buf, len);
	if (n != (ssize_t)len) {
		po_fail(c, n < 0 ? (int)-n : 0,
			"read after msync returned %zd of %zu", n, len);
		goto out;
	}
	bad = po_verify(buf, len, 0, 4);
	if (bad >= 0) {
		po_fail(c, 0, "read(2) does not see the mapped stores (offset "
			      "%ld)", bad);
		goto out;
	}
	if (pwrite(fd, "written", 7, (off_t)ps + 5) != 7) {
		po_fail(c, errno, "pwrite into the mapped range");
		goto out;
	}
	if (memcmp(map + ps + 5, "written", 7)) {
		po_fail(c, 0, "the map does not see a pwrite");
		goto out;
	}
	if (munmap(map, len) < 0) {
		map = MAP_FAILED;
		po_fail(c, errno, "munmap");
		goto out;
	}
	map = MAP_FAILED;
	if (fstat(fd, &st) < 0 || st.st_size != (off_t)len) {
		po_fail(c, errno, "st_size %lld after mmap writes, expected "
				  "%zu", (long long)st.st_size, len);
		goto out;
	}
	if ((err = po_close(c, fd)) < 0) {
		po_fail(c, -err, "close");
		goto out;
	}
	n = po_get("f", buf, len);
	if (n != (ssize_t)len || memcmp(buf + ps + 5, "written", 7) ||
	    po_verify(buf, ps + 5, 0, 4) >= 0) {
		po_fail(c, n < 0 ? (int)-n : 0,
			"content after munmap and close is wrong");
		goto out;
	}
	rc = 0;
out:
	if (map != MAP_FAILED)
		munmap(map, len);
	free(buf);
	return rc;
}

/* mkfifo and mknod S_IFIFO make FIFOs that work. */
static int chk_fifo(struct po_ctx *c)
{
	struct stat st;
	char ch = 0;
	int fd;

	if (mkfifo("p", 0640) < 0)
		return po_fail(c, errno, "mkfifo p");
	if (lstat("p", &st) < 0)
		return po_fail(c, errno, "lstat p");
	if (!S_ISFIFO(st.st_mode) || (st.st_mode & 07777) != 0640)
		return po_fail(c, 0, "p has mode %o, expected a 0640 FIFO",
			       (unsigned)st.st_mode);
	if (mkfifo("p", 0640) == 0 || errno != EEXIST)
		return po_fail(c, errno, "mkfifo of an existing name: expected "
					 "EEXIST");
	fd = po_open(c, "p", O_RDWR | O_NONBLOCK, 0);
	if (fd < 0)
		return po_fail(c, -fd, "open the FIFO");
	if (write(fd, "x", 1) != 1 || read(fd, &ch, 1) != 1 || ch != 'x')
		return po_fail(c, errno, "a byte through the FIFO");
	if (mknod("q", S_IFIFO | 0600, 0) < 0)
		return po_fail(c, errno, "mknod q S_IFIFO");
	if (lstat("q", &st) < 0 || !S_ISFIFO(st.st_mode))
		return po_fail(c, errno, "mknod S_IFIFO did not make a FIFO");
	if (unlink("p") < 0 || unlink("q") < 0)
		return po_fail(c, errno, "unlink the FIFOs");
	return 0;
}

/* 200 small files: create, count with readdir, read, unlink. */
static int chk_many_files(struct po_ctx *c)
{
	enum { N = 200 };
	static char names[N + 8][256];
	char path[64], want[32], seen[N];
	int n, err;

	if (mkdir("m", 0755) < 0)
		return po_fail(c, errno, "mkdir m");
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "m/file-%03d", i);
		snprintf(want, sizeof(want), "content %d\n", i);
		err = po_put(path, want, strlen(want), 0644);
		if (err < 0)
			return po_fail(c, -err, "create %s", path);
	}
	n = po_list("m", names, NULL, N + 8);
	if (n < 0)
		return po_fail(c, -n, "readdir m");
	if (n != N)
		return po_fail(c, 0, "readdir m: %d entries, expected %d", n, N);
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < n; i++) {
		int k;

		if (sscanf(names[i], "file-%03d", &k) != 1 || k < 0 ||
		    k >= N || seen[k])
			return po_fail(c, 0, "readdir m: unexpected or repeated "
					     "entry '%s'", names[i]);
		seen[k] = 1;
	}
	for (int i = 0; i < N; i += 37) {
		snprintf(path, sizeof(path), "m/file-%03d", i);
		snprintf(want, sizeof(want), "content %d\n", i);
		if (po_expect_content(c, path, want) < 0)
			return -1;
	}
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "m/file-%03d", i);
		if (unlink(path) < 0)
			return po_fail(c, errno, "unlink %s", path);
	}
	n = po_list("m", names, NULL, N + 8);
	if (n != 0)
		return po_fail(c, n < 0 ? -n : 0,
			       "m lists %d entries after unlinking all", n);
	if (rmdir("m") < 0)
		return po_fail(c, errno, "rmdir m");
	return 0;
}

/* 64 MiB written sequentially, fsync'ed, read back and compared. */
static int chk_seq64m(struct po_ctx *c)
{
	const size_t chunk = MIB, total = 64 * MIB;
	unsigned char *buf = malloc(chunk);
	struct stat st;
	ssize_t n;
	long bad;
	int fd, rc = -1, err;

	if (!buf)
		return po_fail(c, ENOMEM, "malloc");
	fd = po_open(c, "seq", O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		po_fail(c, -fd, "create seq");
		goto out;
	}
	for (size_t off = 0; off < total; off += chunk) {
		po_fill(buf, chunk, off, 5);
		err = po_write_all(fd, buf, chunk);
		if (err < 0) {
			po_fail(c, -err, "write at %zu MiB", off / MIB);
			goto out;
		}
	}
	if (fsync(fd) < 0) {
		po_fail(c, errno, "fsync");
		goto out;
	}
	if ((err = po_close(c, fd)) < 0) {
		po_fail(c, -err, "close");
		goto out;
	}
	if (stat("seq", &st) < 0 || st.st_size != (off_t)total) {
		po_fail(c, errno, "st_size %lld, expected %zu",
			(long long)st.st_size, total);
		goto out;
	}
	fd = po_open(c, "seq", O_RDONLY, 0);
	if (fd < 0) {
		po_fail(c, -fd, "open seq");
		goto out;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	for (size_t off = 0; off < total; off += chunk) {
		n = po_read_all(fd, buf, chunk);
		if (n != (ssize_t)chunk) {
			po_fail(c, n < 0 ? (int)-n : 0,
				"read at %zu MiB returned %zd", off / MIB, n);
			goto out;
		}
		bad = po_verify(buf, chunk, off, 5);
		if (bad >= 0) {
			po_fail(c, 0, "data differs at offset %zu",
				off + (size_t)bad);
			goto out;
		}
	}
	n = read(fd, buf, 1);
	if (n != 0) {
		po_fail(c, n < 0 ? errno : 0, "read at end of file returned "
					      "%zd", n);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	return rc;
}

static const struct po_check po_checks[] = {
	{ "rw3m", chk_rw3m, "create, write and read back 3 MiB" },
	{ "pread_pwrite", chk_pread_pwrite, "pread/pwrite at offsets" },
	{ "append", chk_append, "O_APPEND through two descriptors" },
	{ "truncate", chk_truncate, "truncate growing and shrinking" },
	{ "sparse", chk_sparse, "1 byte at 1 GiB, SEEK_DATA/SEEK_HOLE" },
	{ "dirs", chk_dirs, "mkdir, exact readdir, rmdir ENOTEMPTY" },
	{ "unlink_open", chk_unlink_open, "an unlinked open file stays usable" },
	{ "rename", chk_rename, "rename replacing, and its errors" },
	{ "renameat2", chk_renameat2, "RENAME_NOREPLACE, RENAME_EXCHANGE" },
	{ "hardlink", chk_hardlink, "hard links share an inode" },
	{ "symlink", chk_symlink, "symlink, readlink, lstat" },
	{ "chmod", chk_chmod, "creation modes, chmod, fchmod" },
	{ "chown", chk_chown, "chown, fchown, lchown (root only)" },
	{ "utimens", chk_utimens, "utimensat, UTIME_OMIT, UTIME_NOW" },
	{ "xattr", chk_xattr, "user.* extended attributes" },
	{ "fallocate", chk_fallocate, "fallocate and PUNCH_HOLE" },
	{ "statfs", chk_statfs, "statvfs is not empty" },
	{ "flock", chk_flock, "flock between open file descriptions" },
	{ "posix_lock", chk_posix_lock, "fcntl record locks across fork" },
	{ "mmap", chk_mmap, "mmap MAP_SHARED, msync" },
	{ "fifo", chk_fifo, "mkfifo, mknod S_IFIFO" },
	{ "many_files", chk_many_files, "200 small files" },
	{ "seq64m", chk_seq64m, "64 MiB sequential write, fsync, read" },
	{ NULL, NULL, NULL },
};

static const struct po_check *po_find(const char *name)
{
	for (const struct po_check *k = po_checks; k->name; k++)
		if (!strcmp(k->name, name))
			return k;
	return NULL;
}

static void po_usage(FILE *out)
{
	fprintf(out, "Usage: posixops DIR [CHECK...]\n\n"
		     "Runs POSIX checks in DIR (all when none is named).  "
		     "Checks:\n");
	for (const struct po_check *k = po_checks; k->name; k++)
		fprintf(out, "  %-13s %s\n", k->name, k->what);
}

static void po_on_alarm(int sig)
{
	static const char pre[] = "FAIL ", post[] = ": timed out\n";
	ssize_t unused;

	(void)sig;
	unused = write(STDOUT_FILENO, pre, sizeof(pre) - 1);
	if (po_current)
		unused = write(STDOUT_FILENO, po_current, strlen(po_current));
	unused = write(STDOUT_FILENO, post, sizeof(post) - 1);
	(void)unused;
	_exit(1);
}

/* Runs one check in work/NAME; prints its line; 0 passed, -1 failed. */
static int po_run(const struct po_check *k, const char *work)
{
	struct po_ctx c = { .nfds = 0 };
	int rc, err;

	po_current = k->name;
	if (mkdir(k->name, 0755) < 0) {
		printf("FAIL %s: mkdir %s/%s (%s)\n", k->name, work, k->name,
		       strerror(errno));
		return -1;
	}
	if (chdir(k->name) < 0) {
		printf("FAIL %s: chdir %s/%s (%s)\n", k->name, work, k->name,
		       strerror(errno));
		return -1;
	}
	alarm(PO_TIMEOUT);
	rc = k->fn(&c);
	while (c.nfds)
		po_close(&c, c.fds[0]);
	if (chdir(work) < 0) {
		printf("FAIL %s: chdir back to %s (%s)\n", k->name, work,
		       strerror(errno));
		exit(1);
	}
	err = po_rmtree_at(AT_FDCWD, k->name);
	alarm(0);
	if (rc == 0 && err < 0) {
		po_fail(&c, -err, "removing its files afterwards");
		rc = -1;
	}
	if (rc < 0)
		printf("FAIL %s: %s\n", k->name, c.msg);
	else if (c.note[0])
		printf("ok %s # %s\n", k->name, c.note);
	else
		printf("ok %s\n", k->name);
	return rc;
}

int main(int argc, char **argv)
{
	const struct po_check *sel[sizeof(po_checks) / sizeof(po_checks[0])];
	char work[PATH_MAX];
	struct stat st;
	int nsel = 0, passed = 0, failed = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		po_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		po_usage(stdout);
		return 0;
	}
	for (int i = 2; i < argc; i++) {
		const struct po_check *k = po_find(argv[i]);

		if (!k) {
			fprintf(stderr, "posixops: unknown check '%s'\n",
				argv[i]);
			po_usage(stderr);
			return 2;
		}
		if (nsel < (int)(sizeof(sel) / sizeof(sel[0])))
			sel[nsel++] = k;
	}
	if (argc == 2)
		for (const struct po_check *k = po_checks; k->name; k++)
			sel[nsel++] = k;
	if (stat(argv[1], &st) < 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "posixops: '%s' is not a directory\n", argv[1]);
		return 2;
	}
	/* The checks set every mode themselves. */
	umask(0);
	signal(SIGALRM, po_on_alarm);
	signal(SIGPIPE, SIG_IGN);
	if (snprintf(work, sizeof(work), "%s/posixops.%d", argv[1],
		     (int)getpid()) >= (int)sizeof(work)) {
		fprintf(stderr, "posixops: path too long\n");
		return 2;
	}
	if (mkdir(work, 0755) < 0 || chdir(work) < 0) {
		printf("FAIL setup: mkdir/chdir %s (%s)\n", work,
		       strerror(errno));
		printf("posixops: 0 passed, 1 failed\n");
		return 1;
	}
	/* Later chdir()s come back here by absolute path. */
	if (!getcwd(work, sizeof(work))) {
		printf("FAIL setup: getcwd (%s)\n", strerror(errno));
		printf("posixops: 0 passed, 1 failed\n");
		return 1;
	}
	for (int i = 0; i < nsel; i++) {
		if (po_run(sel[i], work) == 0)
			passed++;
		else
			failed++;
	}
	if (chdir("..") < 0 || rmdir(work) < 0) {
		printf("FAIL cleanup: rmdir %s (%s)\n", work, strerror(errno));
		failed++;
	}
	printf("posixops: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
