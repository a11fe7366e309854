/* SPDX-License-Identifier: MIT */
/*
 * renamerace DIR SECONDS [WORKERS [RENAMERS]]: renames directories back
 * and forth under DIR while other threads look up, create and stat files
 * below them; then checks that every file made is where the last renames
 * left it.
 *
 * The tree is DIR/{a,b}/x/{m,n}/y/wK/fN.  RENAMERS threads (default 2)
 * move x between a and b, as many move y between x/m and x/n, as fast as
 * they can.  Worker K (WORKERS of them, default 6) makes files fN in wK
 * through whichever of the four paths wK is at, and stats its own and the
 * other workers' files the same way.  Renames and lookups that lose a race
 * fail with ENOENT and try the next path; any other error is a failure.
 *
 * After SECONDS the threads stop, and then each file made must be found by
 * stat at its final path and hold its own name, and readdir of each wK
 * must list exactly the files made there.  A name that readdir lists but
 * stat does not find is a negative entry the kernel keeps for a file that
 * exists.
 *
 * Prints "y=PATH" (the final place of y, relative to DIR) and then every
 * file made, as wK/fN, on stdout; a summary on stderr.  Exits 0 when all
 * checks pass, 1 otherwise, 2 on a usage or setup error.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Files one worker makes at most.  The race is in the lookups, which go on
 * once a worker has made them all; a few thousand files in all keep the
 * checks after the race quick.
 */
#define RR_MAX_FILES 1000
/* Rounds over the four paths before a lookup counts as a miss. */
#define RR_ROUNDS 1000
/* Errors printed in full; the rest are only counted. */
#define RR_SHOWN 10

/* Where y may be, relative to DIR. */
static const char *const rr_ypaths[4] = {
	"a/x/m/y",
	"a/x/n/y",
	"b/x/m/y",
	"b/x/n/y",
};

struct rr_worker {
	pthread_t thread;
	unsigned int id;
	uint64_t rng;
	/* Files f0 .. f(made - 1) exist; read by the other workers. */
	atomic_uint made;
	unsigned long stats, misses;
};

static int rr_dir;
static atomic_bool rr_stop;
static atomic_ulong rr_errors, rr_renames[2];
static struct rr_worker *rr_workers;
static unsigned int rr_nworkers;

static void rr_error(const char *what, const char *path, int err)
{
	if (atomic_fetch_add(&rr_errors, 1) < RR_SHOWN)
		fprintf(stderr, "renamerace: %s %s: %s\n", what, path,
			strerror(err));
}

static unsigned int rr_random(uint64_t *s)
{
	/* xorshift64: each thread its own sequence, no locking. */
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (unsigned int)(*s >> 32);
}

static void rr_path(char *buf, size_t len, unsigned int y, unsigned int w,
		    unsigned int f)
{
	snprintf(buf, len, "%s/w%u/f%u", rr_ypaths[y], w, f);
}

/* Moves x between a and b (pair 0) or y between x/m and x/n (pair 1). */
static void *rr_renamer(void *arg)
{
	static const char *const moves[2][4][2] = {
		{{"a/x", "b/x"}, {"b/x", "a/x"}},
		{{"a/x/m/y", "a/x/n/y"},
		 {"a/x/n/y", "a/x/m/y"},
		 {"b/x/m/y", "b/x/n/y"},
		 {"b/x/n/y", "b/x/m/y"}},
	};
	unsigned int pair = (unsigned int)(uintptr_t)arg;
	unsigned int n = pair ? 4 : 2, i = 0;

	while (!atomic_load(&rr_stop)) {
		const char *const *mv = moves[pair][i++ % n];

		if (renameat(rr_dir, mv[0], rr_dir, mv[1]) == 0)
			atomic_fetch_add(&rr_renames[pair], 1);
		else if (errno != ENOENT)
			rr_error("rename", mv[0], errno);
	}
	return NULL;
}

/* 0 when file f of worker w was found, else -ENOENT or another error. */
static int rr_stat(struct rr_worker *me, unsigned int w, unsigned int f)
{
	unsigned int first = rr_random(&me->rng) % 4;
	char path[64];
	struct stat st;

	for (unsigned int round = 0; round < RR_ROUNDS; round++) {
		for (unsigned int k = 0; k < 4; k++) {
			rr_path(path, sizeof(path), (first + k) % 4, w, f);
			if (fstatat(rr_dir, path, &st, AT_SYMLINK_NOFOLLOW) ==
			    0)
				return 0;
			if (errno != ENOENT) {
				rr_error("stat", path, errno);
				return -errno;
			}
		}
	}
	return -ENOENT;
}

/* Makes the next file of worker me; 0 when made, -errno when not. */
static int rr_create(struct rr_worker *me)
{
	unsigned int f = atomic_load(&me->made);
	unsigned int first = rr_random(&me->rng) % 4;
	char path[64], body[32];
	int fd, len;

	len = snprintf(body, sizeof(body), "w%u/f%u", me->id, f);
	for (unsigned int round = 0; round < RR_ROUNDS; round++) {
		for (unsigned int k = 0; k < 4; k++) {
			rr_path(path, sizeof(path), (first + k) % 4, me->id, f);
			fd = openat(rr_dir, path,
				    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
				    0644);
			if (fd < 0 && errno == ENOENT)
				continue;
			if (fd < 0) {
				rr_error("create", path, errno);
				return -errno;
			}
			if (write(fd, body, (size_t)len) != len) {
				rr_error("write", path, errno);
				close(fd);
				return -EIO;
			}
			if (close(fd) != 0) {
				rr_error("close", path, errno);
				return -errno;
			}
			atomic_store(&me->made, f + 1);
			return 0;
		}
	}
	return -ENOENT;
}

static void *rr_work(void *arg)
{
	struct rr_worker *me = arg;

	while (!atomic_load(&rr_stop)) {
		struct rr_worker *other;
		unsigned int made;

		if (atomic_load(&me->made) < RR_MAX_FILES &&
		    rr_create(me) == -ENOENT)
			me->misses++;
		/* One of its own files, one of another worker's. */
		made = atomic_load(&me->made);
		if (made > 0) {
			me->stats++;
			if (rr_stat(me, me->id, rr_random(&me->rng) % made) ==
			    -ENOENT)
				me->misses++;
		}
		other = &rr_workers[rr_random(&me->rng) % rr_nworkers];
		made = atomic_load(&other->made);
		if (made > 0) {
			me->stats++;
			if (rr_stat(me, other->id,
				    rr_random(&me->rng) % made) == -ENOENT)
				me->misses++;
		}
	}
	return NULL;
}

/* The index of y's final place among rr_ypaths, or -1 (reported). */
static int rr_final(void)
{
	struct stat st;
	int found = -1;

	for (int i = 0; i < 4; i++) {
		if (fstatat(rr_dir, rr_ypaths[i], &st, 0) == 0) {
			if (found >= 0) {
				fprintf(stderr,
					"renamerace: y is both at %s and at %s\n",
					rr_ypaths[found], rr_ypaths[i]);
				return -1;
			}
			found = i;
		} else if (errno != ENOENT) {
			rr_error("stat", rr_ypaths[i], errno);
		}
	}
	if (found < 0)
		fprintf(stderr,
			"renamerace: y is at none of its four places\n");
	return found;
}

/* Checks worker w's files at y's final place; returns the errors found. */
static unsigned long rr_check(unsigned int y, struct rr_worker *w)
{
	unsigned int made = atomic_load(&w->made);
	unsigned long bad = 0, listed = 0;
	char path[64], dir[64], body[32], want[32];
	unsigned char *seen;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	seen = calloc(made + 1, 1);
	if (!seen) {
		fprintf(stderr, "renamerace: out of memory\n");
		return 1;
	}
	for (unsigned int f = 0; f < made; f++) {
		ssize_t n;

		rr_path(path, sizeof(path), y, w->id, f);
		snprintf(want, sizeof(want), "w%u/f%u", w->id, f);
		fd = openat(rr_dir, path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (bad++ < RR_SHOWN)
				fprintf(stderr,
					"renamerace: open %s after the race: %s\n",
					path, strerror(errno));
			continue;
		}
		n = read(fd, body, sizeof(body) - 1);
		close(fd);
		body[n > 0 ? n : 0] = '\0';
		if (strcmp(body, want) != 0 && bad++ < RR_SHOWN)
			fprintf(stderr, "renamerace: %s holds '%s', not '%s'\n",
				path, body, want);
	}

	snprintf(dir, sizeof(dir), "%s/w%u", rr_ypaths[y], w->id);
	fd = openat(rr_dir, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		fprintf(stderr, "renamerace: cannot list %s: %s\n", dir,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		free(seen);
		return bad + 1;
	}
	while ((de = readdir(d))) {
		unsigned int f;
		char end;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		listed++;
		if (sscanf(de->d_name, "f%u%c", &f, &end) != 1 || f >= made ||
		    seen[f]) {
			if (bad++ < RR_SHOWN)
				fprintf(stderr,
					"renamerace: %s lists '%s', a file never made there\n",
					dir, de->d_name);
			continue;
		}
		seen[f] = 1;
		rr_path(path, sizeof(path), y, w->id, f);
		if (fstatat(rr_dir, path, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
		    bad++ < RR_SHOWN)
			fprintf(stderr,
				"renamerace: %s is listed but stat says: %s (a negative entry for an existing file)\n",
				path, strerror(errno));
	}
	closedir(d);
	if (listed != made && bad++ < RR_SHOWN)
		fprintf(stderr,
			"renamerace: %s lists %lu files, %u were made\n", dir,
			listed, made);
	free(seen);
	return bad;
}

static int rr_mkdir(const char *path)
{
	if (mkdirat(rr_dir, path, 0755) == 0)
		return 0;
	fprintf(stderr, "renamerace: mkdir %s: %s\n", path, strerror(errno));
	return -1;
}

static unsigned int rr_number(const char *s, unsigned int max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v == 0 || v > max)
		return 0;
	return (unsigned int)v;
}

int main(int argc, char **argv)
{
	unsigned int seconds, nrenamers = 2;
	unsigned long bad = 0, made = 0, stats = 0, misses = 0, errors;
	pthread_t *renamers;
	char path[64];
	int y;

	if (argc < 3 || argc > 5 || !(seconds = rr_number(argv[2], 3600)) ||
	    (argc > 3 && !(rr_nworkers = rr_number(argv[3], 256))) ||
	    (argc > 4 && !(nrenamers = rr_number(argv[4], 64)))) {
		fprintf(stderr,
			"usage: renamerace DIR SECONDS [WORKERS [RENAMERS]]\n");
		return 2;
	}
	if (!rr_nworkers)
		rr_nworkers = 6;
	rr_dir = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rr_dir < 0) {
		fprintf(stderr, "renamerace: %s: %s\n", argv[1],
			strerror(errno));
		return 2;
	}
	if (rr_mkdir("a") || rr_mkdir("b") || rr_mkdir("a/x") ||
	    rr_mkdir("a/x/m") || rr_mkdir("a/x/n") || rr_mkdir("a/x/m/y"))
		return 2;
	rr_workers = calloc(rr_nworkers, sizeof(*rr_workers));
	renamers = calloc(2 * nrenamers, sizeof(*renamers));
	if (!rr_workers || !renamers) {
		fprintf(stderr, "renamerace: out of memory\n");
		return 2;
	}
	for (unsigned int i = 0; i < rr_nworkers; i++) {
		snprintf(path, sizeof(path), "a/x/m/y/w%u", i);
		if (rr_mkdir(path))
			return 2;
	}

	for (unsigned int i = 0; i < rr_nworkers; i++) {
		struct rr_worker *w = &rr_workers[i];

		w->id = i;
		w->rng = 0x9e3779b97f4a7c15ULL * (i + 1);
		if (pthread_create(&w->thread, NULL, rr_work, w)) {
			fprintf(stderr, "renamerace: cannot start a thread\n");
			return 2;
		}
	}
	for (unsigned int i = 0; i < 2 * nrenamers; i++) {
		if (pthread_create(&renamers[i], NULL, rr_renamer,
				   (void *)(uintptr_t)(i % 2))) {
			fprintf(stderr, "renamerace: cannot start a thread\n");
			return 2;
		}
	}
	sleep(seconds);
	atomic_store(&rr_stop, 1);
	for (unsigned int i = 0; i < 2 * nrenamers; i++)
		pthread_join(renamers[i], NULL);
	free(renamers);
	for (unsigned int i = 0; i < rr_nworkers; i++) {
		pthread_join(rr_workers[i].thread, NULL);
		made += atomic_load(&rr_workers[i].made);
		stats += rr_workers[i].stats;
		misses += rr_workers[i].misses;
	}

	fprintf(stderr,
		"renamerace: %lu renames of x, %lu of y; %lu files made, %lu stats, %lu given up after %d rounds of four paths\n",
		atomic_load(&rr_renames[0]), atomic_load(&rr_renames[1]), made,
		stats, misses, RR_ROUNDS);
	errors = atomic_load(&rr_errors);
	bad += errors;
	if (errors > RR_SHOWN)
		fprintf(stderr,
			"renamerace: %lu errors while racing, %d shown\n",
			errors, RR_SHOWN);
	if (atomic_load(&rr_renames[0]) == 0 ||
	    atomic_load(&rr_renames[1]) == 0) {
		fprintf(stderr, "renamerace: a directory was never renamed\n");
		bad++;
	}

	y = rr_final();
	if (y < 0)
		return 1;
	printf("y=%s\n", rr_ypaths[y]);
	for (unsigned int i = 0; i < rr_nworkers; i++) {
		unsigned int n = atomic_load(&rr_workers[i].made);

		bad += rr_check((unsigned int)y, &rr_workers[i]);
		for (unsigned int f = 0; f < n; f++)
			printf("w%u/f%u\n", i, f);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "renamerace: writing the list: %s\n",
			strerror(errno));
		return 1;
	}
	if (bad) {
		fprintf(stderr, "renamerace: %lu checks failed\n", bad);
		return 1;
	}
	return 0;
}
