/* SPDX-License-Identifier: MIT */
/*
 * The metadata and small-file part of the volfs benchmark (test/bench/run.sh
 * compiles and runs it).  One phase per run, timed with CLOCK_MONOTONIC:
 *
 *   meta DIR COUNT create      COUNT empty files DIR/f000000...: open(O_CREAT
 *                              | O_EXCL) + close each
 *   meta DIR COUNT stat        stat() each of them once
 *   meta DIR COUNT readdir     list DIR (opendir/readdir/closedir) again and
 *                              again for at least 0.2 s; each pass must see
 *                              exactly COUNT names besides . and ..
 *   meta DIR COUNT xattr       getxattr() of a name none of them has, on each
 *                              of them once: the smallest request a FUSE
 *                              file system answers (GETXATTR, never cached
 *                              by the kernel); ENODATA and ENOTSUP count
 *   meta DIR COUNT unlink      unlink() each of them
 *   meta DIR COUNT write SIZE  COUNT files DIR/s000000... of SIZE bytes each:
 *                              open(O_CREAT | O_TRUNC) + one write + close
 *   meta DIR COUNT read SIZE   read each of those back and compare every
 *                              byte with what write put there
 *   meta DIR COUNT pingpong    COUNT round trips of one byte between this
 *                              process and a child over two pipes (DIR is
 *                              not used): what this machine takes to wake
 *                              another process and be woken by it, which
 *                              every FUSE request costs at least
 *
 * It prints one line, "phase=P ops=N seconds=S rate=R", R being operations
 * (files; directory entries for readdir) per second, and exits 0; on any
 * failure it names the file and the error on stderr and exits 1.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define READDIR_MIN_SECONDS 0.2
#define READDIR_MAX_PASSES 1000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void name_of(char *buf, size_t size, const char *dir, char kind,
		    long i)
{
	int n = snprintf(buf, size, "%s/%c%06ld", dir, kind, i);

	if (n < 0 || (size_t)n >= size) {
		fprintf(stderr, "meta: path too long: %s\n", dir);
		exit(1);
	}
}

static _Noreturn void die(const char *what, const char *path)
{
	fprintf(stderr, "meta: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

/* The bytes of file i: 64-bit words that encode the file and the offset,
 * so a block landing in the wrong file or place is caught. */
static void fill(unsigned char *buf, size_t size, long i)
{
	for (size_t off = 0; off < size; off += 8) {
		uint64_t w = ((uint64_t)i << 32 | (uint64_t)off) ^
			     UINT64_C(0x9e3779b97f4a7c15);
		size_t n = size - off < 8 ? size - off : 8;

		memcpy(buf + off, &w, n);
	}
}

static long phase_create(const char *dir, long count)
{
	char path[4096];

	for (long i = 0; i < count; i++) {
		int fd;

		name_of(path, sizeof(path), dir, 'f', i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			die("create", path);
		if (close(fd) != 0)
			die("close", path);
	}
	return count;
}

static long phase_stat(const char *dir, long count)
{
	char path[4096];
	struct stat st;

	for (long i = 0; i < count; i++) {
		name_of(path, sizeof(path), dir, 'f', i);
		if (stat(path, &st) != 0)
			die("stat", path);
		if (!S_ISREG(st.st_mode) || st.st_size != 0) {
			fprintf(stderr, "meta: stat %s: not an empty file\n",
				path);
			exit(1);
		}
	}
	return count;
}

static long phase_readdir(const char *dir, long count)
{
	double start = now();
	long total = 0;

	for (int pass = 0; pass < READDIR_MAX_PASSES; pass++) {
		DIR *d = opendir(dir);
		struct dirent *de;
		long seen = 0;

		if (!d)
			die("opendir", dir);
		errno = 0;
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				seen++;
		}
		if (errno != 0)
			die("readdir", dir);
		closedir(d);
		if (seen != count) {
			fprintf(stderr,
				"meta: readdir %s: %ld names, expected %ld\n",
				dir, seen, count);
			exit(1);
		}
		total += seen;
		if (now() - start >= READDIR_MIN_SECONDS)
			break;
	}
	return total;
}

static long phase_xattr(const char *dir, long count)
{
	char path[4096];

	for (long i = 0; i < count; i++) {
		name_of(path, sizeof(path), dir, 'f', i);
		if (getxattr(path, "user.volfs-bench-absent", NULL, 0) >= 0)
			continue;
		if (errno != ENODATA && errno != ENOTSUP)
			die("getxattr", path);
	}
	return count;
}

/* Reads or writes exactly one byte, retrying on EINTR; 0 or -1. */
static int one_byte(int fd, int out)
{
	unsigned char c = 'x';

	for (;;) {
		ssize_t n = out ? write(fd, &c, 1) : read(fd, &c, 1);

		if (n == 1)
			return 0;
		if (n < 0 && errno == EINTR)
			continue;
		return -1;
	}
}

static long phase_pingpong(long count)
{
	int there[2], back[2], status;
	pid_t pid;

	if (pipe(there) != 0 || pipe(back) != 0)
		die("pipe", "");
	pid = fork();
	if (pid < 0)
		die("fork", "");
	if (pid == 0) {
		for (long i = 0; i < count; i++)
			if (one_byte(there[0], 0) || one_byte(back[1], 1))
				_exit(1);
		_exit(0);
	}
	for (long i = 0; i < count; i++)
		if (one_byte(there[1], 1) || one_byte(back[0], 0))
			die("pipe round trip", "");
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "meta: pingpong: the child failed\n");
		exit(1);
	}
	close(there[0]);
	close(there[1]);
	close(back[0]);
	close(back[1]);
	return count;
}

static long phase_unlink(const char *dir, long count)
{
	char path[4096];

	for (long i = 0; i < count; i++) {
		name_of(path, sizeof(path), dir, 'f', i);
		if (unlink(path) != 0)
			die("unlink", path);
	}
	return count;
}

static long phase_write(const char *dir, long count, size_t size,
			unsigned char *buf)
{
	char path[4096];

	for (long i = 0; i < count; i++) {
		ssize_t n;
		int fd;

		name_of(path, sizeof(path), dir, 's', i);
		fill(buf, size, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			  0644);
		if (fd < 0)
			die("create", path);
		n = write(fd, buf, size);
		if (n < 0)
			die("write", path);
		if ((size_t)n != size) {
			fprintf(stderr, "meta: write %s: short write\n", path);
			exit(1);
		}
		if (close(fd) != 0)
			die("close", path);
	}
	return count;
}

static long phase_read(const char *dir, long count, size_t size,
		       unsigned char *buf, unsigned char *want)
{
	char path[4096];

	for (long i = 0; i < count; i++) {
		size_t got = 0;
		int fd;

		name_of(path, sizeof(path), dir, 's', i);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open", path);
		/* Read one byte past the end to see the file is not
		 * longer than it should be. */
		for (;;) {
			ssize_t n = read(fd, buf + got, size + 1 - got);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				die("read", path);
			}
			if (n == 0)
				break;
			got += (size_t)n;
			if (got == size + 1)
				break;
		}
		close(fd);
		fill(want, size, i);
		if (got != size || memcmp(buf, want, size) != 0) {
			fprintf(stderr,
				"meta: read %s: %zu bytes, %s\n", path, got,
				got == size ? "content differs from what was "
					      "written"
					    : "wrong size");
			exit(1);
		}
	}
	return count;
}

static _Noreturn void usage(void)
{
	fprintf(stderr,
		"usage: meta DIR COUNT "
		"create|stat|xattr|readdir|unlink|pingpong\n"
		"       meta DIR COUNT write|read SIZE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dir, *phase;
	unsigned char *buf = NULL, *want = NULL;
	size_t size = 0;
	double start, secs;
	long count, ops;
	char *end;

	if (argc < 4)
		usage();
	dir = argv[1];
	phase = argv[3];
	errno = 0;
	count = strtol(argv[2], &end, 10);
	if (errno || *end || count < 1)
		usage();
	if (!strcmp(phase, "write") || !strcmp(phase, "read")) {
		unsigned long long s;

		if (argc != 5)
			usage();
		errno = 0;
		s = strtoull(argv[4], &end, 10);
		if (errno || *end || s < 1 || s > 64ULL * 1024 * 1024)
			usage();
		size = (size_t)s;
		buf = malloc(size + 1);
		want = malloc(size);
		if (!buf || !want) {
			fprintf(stderr, "meta: out of memory\n");
			return 1;
		}
	} else if (argc != 4) {
		usage();
	}

	start = now();
	if (!strcmp(phase, "create"))
		ops = phase_create(dir, count);
	else if (!strcmp(phase, "stat"))
		ops = phase_stat(dir, count);
	else if (!strcmp(phase, "readdir"))
		ops = phase_readdir(dir, count);
	else if (!strcmp(phase, "xattr"))
		ops = phase_xattr(dir, count);
	else if (!strcmp(phase, "unlink"))
		ops = phase_unlink(dir, count);
	else if (!strcmp(phase, "pingpong"))
		ops = phase_pingpong(count);
	else if (!strcmp(phase, "write"))
		ops = phase_write(dir, count, size, buf);
	else if (!strcmp(phase, "read"))
		ops = phase_read(dir, count, size, buf, want);
	else
		usage();
	secs = now() - start;
	if (secs <= 0)
		secs = 1e-9;
	printf("phase=%s ops=%ld seconds=%.6f rate=%.1f\n", phase, ops, secs,
	       (double)ops / secs);
	free(buf);
	free(want);
	return 0;
}
