/* SPDX-License-Identifier: MIT */
/*
 * Store conformance: the same checks against every store module, called
 * through struct volfs_store alone (volfs/store.h), with no staging layer
 * and no mount.
 *
 * A configuration is a module, NAME.so in VOLFS_BACKEND_DIR exporting
 * volfs_store_NAME, and the options it is opened with (ts_confs below):
 *
 *   dirstore  path= a fresh temp directory; always.
 *   smb       share=, username=, password= from VOLFS_TEST_SMB_SHARE,
 *             VOLFS_TEST_SMB_USER and VOLFS_TEST_SMB_PASS, when the first
 *             is set (the smb integration tests start an smbd and set
 *             them).
 *
 * VOLFS_STORE_ONLY=NAME runs one configuration.  Each configuration's
 * store is opened in the group setup and closed in the group teardown.
 * Each check works in a directory of its own in the store (a name prefix
 * where the store has no directories), removed afterwards.  A check, or a
 * part of one, that needs a capability the store lacks is skipped and says
 * so.  Checks named dirstore_* use the dirstore's test knobs and its host
 * directory, and run on it alone.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "volfs/backend.h"
#include "volfs/loader.h"
#include "volfs/store.h"
#include "volfs/util.h"

#define TS_MAX_OPTS 8
/* Every op gets a minute: the deadline checks make their own. */
#define TS_TIMEOUT_MS 60000
#define TS_MIB (1024 * 1024)
/* Files of the listing check: more than two of the dirstore's pages. */
#define TS_LIST_FILES 2500
#define TS_LIST_DIRS 3
#define TS_THREADS 8
#define TS_THREAD_ROUNDS 25
#define TS_RENAME_ROUNDS 60
#define TS_TMP ".volfs-tmp-"
/* The dirstore's delay knob in the deadline check. */
#define TS_DELAY_MS 300

/* Where an option's value comes from. */
struct ts_optsrc {
	const char *key;
	/* "@host": a fresh directory made by the suite; "$NAME": the
	 * environment variable NAME; anything else: the value itself. */
	const char *value;
};

struct ts_conf {
	/* The configuration's and the module's name. */
	const char *name;
	/* The configuration runs only when this variable is set. */
	const char *needs;
	struct ts_optsrc opts[TS_MAX_OPTS];
};

static const struct ts_conf ts_confs[] = {
	{
		.name = "dirstore",
		.opts = {{.key = "path", .value = "@host"}},
	},
	{
		/* As test_conformance.c opens the smb backend. */
		.name = "smb",
		.needs = "VOLFS_TEST_SMB_SHARE",
		.opts = {{.key = "share", .value = "$VOLFS_TEST_SMB_SHARE"},
			 {.key = "username", .value = "$VOLFS_TEST_SMB_USER"},
			 {.key = "password", .value = "$VOLFS_TEST_SMB_PASS"},
			 {.key = "timeout", .value = "10"}},
	},
};

/* The configuration being run. */
struct ts_run {
	const struct ts_conf *conf;
	void *dl;
	const struct volfs_store *store;
	void *st;
	unsigned caps;
	struct volfs_kv opts[TS_MAX_OPTS];
	size_t nopts;
	struct volfs_volinfo vi;
	/* The configuration's scratch directory, its state directory and,
	 * for the dirstore, the directory behind the store (else ""). */
	char dir[PATH_MAX];
	char state_dir[PATH_MAX];
	char host[PATH_MAX];
	/* The current check's directory (or prefix) in the store. */
	char sub[128];
	unsigned nchecks;
};

static struct ts_run ts_run;
static struct ts_run *ts_cur = &ts_run;
static char ts_base[PATH_MAX];
static uint64_t ts_seed = 0x9e3779b97f4a7c15ULL;

/* ---- helpers ---- */

/* snprintf(), where a truncated text is good enough (messages, paths
 * that fit by construction). */
static void ts_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void ts_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

static void ts_check(long long got, long long want, const char *expr,
		     const char *file, int line)
{
	if (got == want)
		return;
	print_error("%s returned %lld (%s), expected %lld (%s)\n", expr, got,
		    got < 0 ? strerror((int)-got) : "ok", want,
		    want < 0 ? strerror((int)-want) : "ok");
	_fail(file, line);
}

static void ts_check_fails(long long got, const char *expr, const char *file,
			   int line)
{
	if (got < 0)
		return;
	print_error("%s returned %lld but must fail\n", expr, got);
	_fail(file, line);
}

/* expr must return want (0, a count or -errno). */
#define ts_expect(expr, want)                                                  \
	ts_check((long long)(expr), (long long)(want), #expr, __FILE__,        \
		 __LINE__)
/* expr must fail with some -errno. */
#define ts_expect_fail(expr)                                                   \
	ts_check_fails((long long)(expr), #expr, __FILE__, __LINE__)

/* Whether the store's table has op (within its size, and set). */
#define ts_has(op)                                                             \
	(offsetof(struct volfs_store, op) + sizeof(ts_cur->store->op) <=       \
		 ts_cur->store->size &&                                        \
	 ts_cur->store->op)

/* Calls an op of the store with a fresh deadline; -ENOTSUP if absent. */
#define ts_op(op, ...)                                                         \
	(ts_has(op) ? (long long)ts_cur->store->op(ts_cur->st, __VA_ARGS__,    \
						   ts_deadline())              \
		    : (long long)-ENOTSUP)

static int64_t ts_deadline(void)
{
	return volfs_store_deadline(TS_TIMEOUT_MS);
}

static int64_t ts_now(void)
{
	return volfs_store_deadline(0);
}

static void ts_need_cap(unsigned cap, const char *name)
{
	if (ts_cur->caps & cap)
		return;
	print_message("      skipped: store '%s' lacks %s\n",
		      ts_cur->store->name, name);
	skip();
}

/* Whether a part of a check can run; says so when it cannot. */
static int ts_can(unsigned cap, const char *name, const char *part)
{
	if (ts_cur->caps & cap)
		return 1;
	print_message("      part skipped (%s): store '%s' lacks %s\n", part,
		      ts_cur->store->name, name);
	return 0;
}

static int ts_is_dirstore(void)
{
	return strcmp(ts_cur->conf->name, "dirstore") == 0;
}

static void ts_need_dirstore(void)
{
	if (ts_is_dirstore())
		return;
	print_message("      skipped: a check of the dirstore's own knobs\n");
	skip();
}

/* The path of name in the current check's directory. */
static const char *ts_p(char *buf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const char *ts_p(char *buf, const char *fmt, ...)
{
	char name[PATH_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	ts_fmt(buf, PATH_MAX, "%s/%s", ts_cur->sub, name);
	return buf;
}

/* The host path of store path rel (dirstore only). */
static const char *ts_host(char *buf, const char *rel)
{
	ts_fmt(buf, PATH_MAX, "%s/%s", ts_cur->host, rel);
	return buf;
}

static uint64_t ts_rand_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void ts_fill_random(void *buf, size_t len, uint64_t *s)
{
	unsigned char *p = buf;
	uint64_t r = 0;

	for (size_t i = 0; i < len; i++) {
		if (i % 8 == 0)
			r = ts_rand_next(s);
		p[i] = (unsigned char)(r >> (8 * (i % 8)));
	}
}

static void *ts_random(size_t len)
{
	void *buf = malloc(len ? len : 1);

	assert_non_null(buf);
	ts_fill_random(buf, len, &ts_seed);
	return buf;
}

/* A memory file holding data, for put() (0 or -errno on failure). */
static int ts_memfd(const void *data, size_t len)
{
	int fd = memfd_create("test_store", MFD_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = len ? pwrite(fd, data, len, 0) : 0;
	if (n != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	return fd;
}

/* An unnamed file on the scratch directory's file system, read-write. */
static int ts_scratch_fd(void)
{
	char path[PATH_MAX];
	int fd;

	fd = open(ts_cur->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	ts_fmt(path, sizeof(path), "%s/scratch-XXXXXX", ts_cur->dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

static int ts_put_fd(const char *path, int fd, off_t size,
		     const char *if_version, const struct timespec *mtime,
		     struct volfs_store_attr *out)
{
	return (int)ts_op(put, path, fd, size, if_version, mtime, out);
}

/* put() of len bytes of data; 0 or -errno. */
static int ts_put(const char *path, const void *data, size_t len,
		  const char *if_version, const struct timespec *mtime,
		  struct volfs_store_attr *out)
{
	int fd = ts_memfd(data, len), rc;

	if (fd < 0)
		return fd;
	rc = ts_put_fd(path, fd, (off_t)len, if_version, mtime, out);
	close(fd);
	return rc;
}

static int ts_put_str(const char *path, const char *s)
{
	return ts_put(path, s, strlen(s), NULL, NULL, NULL);
}

/* The object's content must be exactly data. */
static void ts_expect_content(const char *path, const void *data, size_t len)
{
	size_t room = len + 4096;
	char *buf = malloc(room);
	ssize_t n;

	assert_non_null(buf);
	n = ts_op(get, path, "", 0, room, -1, buf);
	if (n != (ssize_t)len)
		print_error("%s: got %zd bytes, expected %zu\n", path, n, len);
	assert_int_equal(n, len);
	if (len && memcmp(buf, data, len) != 0)
		print_error("%s: content differs\n", path);
	assert_memory_equal(buf, data, len);
	free(buf);
}

static void ts_expect_str(const char *path, const char *s)
{
	ts_expect_content(path, s, strlen(s));
}

static void ts_expect_version(const char *path, const char *v)
{
	struct volfs_store_attr a;

	ts_expect(ts_op(stat, path, &a), 0);
	assert_string_equal(a.version, v);
}

/* One directory's entries, as the pages of list() gave them. */
struct ts_listing {
	char **names;
	struct volfs_store_attr *attrs;
	size_t n, cap;
	/* Calls of list() it took. */
	unsigned calls;
	/* fill stops the listing once stop_after entries were given. */
	size_t stop_after;
	int oom;
};

static int ts_list_fill(void *ctx, const char *name,
			const struct volfs_store_attr *a)
{
	struct ts_listing *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char **names = realloc(l->names, cap * sizeof(*names));
		struct volfs_store_attr *attrs;

		if (!names) {
			l->oom = 1;
			return 1;
		}
		l->names = names;
		attrs = realloc(l->attrs, cap * sizeof(*attrs));
		if (!attrs) {
			l->oom = 1;
			return 1;
		}
		l->attrs = attrs;
		l->cap = cap;
	}
	l->names[l->n] = strdup(name);
	if (!l->names[l->n]) {
		l->oom = 1;
		return 1;
	}
	l->attrs[l->n++] = *a;
	return l->stop_after && l->n >= l->stop_after;
}

static void ts_listing_free(struct ts_listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	free(l->attrs);
	memset(l, 0, sizeof(*l));
}

/* Lists path page by page into l; 0 or the failing rc. */
static int ts_list_all(const char *path, struct ts_listing *l)
{
	char cursor[1024] = "";
	int rc;

	do {
		rc = (int)ts_op(list, path, cursor, sizeof(cursor),
				ts_list_fill, l);
		l->calls++;
		/* A cursor that never ends is a failure too. */
		if (l->calls > 100000)
			return -ELOOP;
	} while (!rc && !l->oom && !l->stop_after && cursor[0]);
	return l->oom ? -ENOMEM : rc;
}

/* The index of name in l, or -1. */
static long ts_listing_find(const struct ts_listing *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->names[i], name) == 0)
			return (long)i;
	return -1;
}

/* Removes path and everything below it; 0 or the first failure. */
static int ts_rm_tree(const char *path)
{
	struct ts_listing l = {0};
	char child[PATH_MAX];
	int rc, first = 0;

	rc = ts_list_all(path, &l);
	if (rc == -ENOENT) {
		ts_listing_free(&l);
		return 0;
	}
	if (rc) {
		ts_listing_free(&l);
		return rc;
	}
	for (size_t i = 0; i < l.n; i++) {
		ts_fmt(child, sizeof(child), "%s/%s", path, l.names[i]);
		if (S_ISDIR(l.attrs[i].st.st_mode))
			rc = ts_rm_tree(child);
		else
			rc = (int)ts_op(remove, child);
		if (rc && !first)
			first = rc;
	}
	ts_listing_free(&l);
	if (!first && (ts_cur->caps & VOLFS_STORE_DIRS))
		first = (int)ts_op(rmdir, path);
	return first;
}

/* nftw() has no context argument. */
static int ts_tmp_found;

static int ts_tmp_visit(const char *path, const struct stat *st, int type,
			struct FTW *ftw)
{
	if (strncmp(path + ftw->base, TS_TMP, strlen(TS_TMP)) == 0) {
		print_error("temporary file left behind: %s\n", path);
		ts_tmp_found++;
	}
	return 0;
}

/* The number of temporary files under the dirstore's directory. */
static int ts_host_tmp_files(void)
{
	ts_tmp_found = 0;
	if (nftw(ts_cur->host, ts_tmp_visit, 16, FTW_PHYS) < 0)
		return -1;
	return ts_tmp_found;
}

/* Writes a file on the host. */
static void ts_host_write(const char *path, const void *data, size_t len)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), len);
	close(fd);
}

/* Writes a file in the dirstore's directory, from the host side. */
static void ts_host_put(const char *rel, const void *data, size_t len)
{
	char path[PATH_MAX];

	ts_host_write(ts_host(path, rel), data, len);
}

/*
 * Opens a second store of the current configuration with the environment
 * variable var set to value for the open (the dirstore reads its knobs
 * there); 0 or open()'s rc, its message in err.
 */
static int ts_open_with(const char *var, const char *value, void **st,
			char *err, size_t errlen)
{
	int rc;

	err[0] = '\0';
	setenv(var, value, 1);
	rc = ts_cur->store->open(&ts_cur->vi, st, err, errlen);
	unsetenv(var);
	return rc;
}

/* ---- checks ---- */

/* The table: versions, and the ops each capability promises. */
static void ts_table(void **state)
{
	const struct volfs_store *s = ts_cur->store;
	const unsigned known = VOLFS_STORE_DIRS | VOLFS_STORE_RENAME |
			       VOLFS_STORE_COPY | VOLFS_STORE_VERSIONS |
			       VOLFS_STORE_TIMES;

	assert_int_equal(s->abi_version, VOLFS_STORE_ABI);
	assert_true(s->size <= sizeof(struct volfs_store));
	assert_string_equal(s->name, ts_cur->conf->name);
	assert_int_equal(s->caps & ~known, 0);
	assert_true(ts_has(open) && ts_has(close));
	assert_true(ts_has(stat) && ts_has(list) && ts_has(get) &&
		    ts_has(put) && ts_has(remove) && ts_has(statfs));
	if (s->caps & VOLFS_STORE_DIRS)
		assert_true(ts_has(mkdir) && ts_has(rmdir));
	if (s->caps & VOLFS_STORE_RENAME)
		assert_true(ts_has(rename));
	if (s->caps & VOLFS_STORE_COPY)
		assert_true(ts_has(copy));
	if (s->caps & VOLFS_STORE_TIMES)
		assert_true(ts_has(setattr));
}

static void ts_stat(void **state)
{
	struct volfs_store_attr a;
	char p[PATH_MAX];

	ts_expect(ts_op(stat, "", &a), 0);
	assert_true(S_ISDIR(a.st.st_mode));
	ts_expect(ts_op(stat, ts_p(p, "missing"), &a), -ENOENT);
	ts_expect(ts_op(stat, ts_p(p, "missing/deeper"), &a), -ENOENT);
	ts_expect(ts_put_str(ts_p(p, "f"), "x"), 0);
	memset(&a, 0x5a, sizeof(a));
	ts_expect(ts_op(stat, p, &a), 0);
	assert_true(S_ISREG(a.st.st_mode));
	assert_int_equal(a.st.st_size, 1);
	assert_true(a.st.st_nlink >= 1);
	assert_non_null(memchr(a.version, '\0', sizeof(a.version)));
	if (ts_cur->caps & VOLFS_STORE_VERSIONS)
		assert_true(a.version[0] != '\0');
	/* Members the header does not name are 0. */
	assert_int_equal(a.st.st_rdev, 0);
	if (ts_cur->caps & VOLFS_STORE_DIRS) {
		ts_expect(ts_op(stat, ts_cur->sub, &a), 0);
		assert_true(S_ISDIR(a.st.st_mode));
		ts_expect(ts_op(stat, ts_p(p, "f/below"), &a), -ENOTDIR);
	}
}

/* A put/get round trip of len random bytes, into buffers and fds. */
static void ts_roundtrip_one(size_t len, int same_fs)
{
	struct volfs_store_attr out, a;
	char p[PATH_MAX], *data = ts_random(len), *buf;
	const size_t room = len + 8192;
	const off_t offs[] = {0, 1, (off_t)(len / 3), (off_t)len};
	int fd, dst;
	ssize_t n;

	ts_p(p, "rt-%zu-%d", len, same_fs);
	if (same_fs) {
		/* A source on the store's own disk: the dirstore may copy
		 * it in the kernel. */
		fd = ts_scratch_fd();
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, data, len, 0), len);
	} else {
		fd = ts_memfd(data, len);
		assert_true(fd >= 0);
	}
	ts_expect(ts_put_fd(p, fd, (off_t)len, NULL, NULL, &out), 0);
	close(fd);
	assert_true(S_ISREG(out.st.st_mode));
	assert_int_equal(out.st.st_size, len);
	ts_expect(ts_op(stat, p, &a), 0);
	assert_int_equal(a.st.st_size, len);
	if (ts_cur->caps & VOLFS_STORE_VERSIONS)
		assert_string_equal(a.version, out.version);

	/* Into a buffer: whole, with the current version, short at the end,
	 * nothing past it. */
	buf = malloc(room);
	assert_non_null(buf);
	ts_expect_content(p, data, len);
	n = ts_op(get, p, a.version, 0, room, -1, buf);
	assert_int_equal(n, len);
	assert_memory_equal(buf, data, len);
	if (len >= 10) {
		n = ts_op(get, p, "", (off_t)len - 10, 100, -1, buf);
		assert_int_equal(n, 10);
		assert_memory_equal(buf, data + len - 10, 10);
		n = ts_op(get, p, "", 3, 5, -1, buf);
		assert_int_equal(n, 5);
		assert_memory_equal(buf, data + 3, 5);
	}
	ts_expect(ts_op(get, p, "", (off_t)len, 100, -1, buf), 0);
	ts_expect(ts_op(get, p, "", (off_t)len + 10, 100, -1, buf), 0);

	/* Into an fd at the same offset, around bytes left alone. */
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		const off_t off = offs[i];
		size_t want;

		if (off > (off_t)len)
			continue;
		want = len - (size_t)off;
		dst = ts_scratch_fd();
		assert_true(dst >= 0);
		memset(buf, 0xee, room);
		assert_int_equal(pwrite(dst, buf, room, 0), room);
		n = ts_op(get, p, "", off, want + 4096, dst, NULL);
		assert_int_equal(n, want);
		memset(buf, 0, room);
		assert_int_equal(pread(dst, buf, room, 0), room);
		for (off_t j = 0; j < off; j++)
			assert_int_equal((unsigned char)buf[j], 0xee);
		assert_memory_equal(buf + off, data + off, want);
		for (size_t j = len; j < room; j++)
			assert_int_equal((unsigned char)buf[j], 0xee);
		close(dst);
	}
	free(buf);
	free(data);
}

static void ts_roundtrip(void **state)
{
	ts_roundtrip_one(0, 0);
	ts_roundtrip_one(1, 0);
	ts_roundtrip_one(3 * TS_MIB, 0);
	ts_roundtrip_one(3 * TS_MIB, 1);
	ts_roundtrip_one(200 * 1024 + 7, 1);
}

/* A put replaces the whole object: nothing of a longer one remains. */
static void ts_replace(void **state)
{
	char p[PATH_MAX], *big = ts_random(300 * 1024);
	struct volfs_store_attr out;

	ts_p(p, "obj");
	ts_expect(ts_put(p, big, 300 * 1024, NULL, NULL, NULL), 0);
	ts_expect_content(p, big, 300 * 1024);
	ts_expect(ts_put(p, "small", 5, NULL, NULL, &out), 0);
	assert_int_equal(out.st.st_size, 5);
	ts_expect_str(p, "small");
	ts_expect(ts_put(p, "", 0, NULL, NULL, &out), 0);
	assert_int_equal(out.st.st_size, 0);
	ts_expect_content(p, "", 0);
	ts_expect(ts_put(p, big, 1000, NULL, NULL, NULL), 0);
	ts_expect_content(p, big, 1000);
	free(big);
}

static void ts_conditional(void **state)
{
	struct volfs_store_attr out, a;
	char v1[VOLFS_STORE_VERSION_MAX], v3[VOLFS_STORE_VERSION_MAX];
	char vs[5][VOLFS_STORE_VERSION_MAX], p[PATH_MAX], q[PATH_MAX];
	char buf[16];

	ts_need_cap(VOLFS_STORE_VERSIONS, "VOLFS_STORE_VERSIONS");
	ts_p(p, "c");
	/* "": created only where nothing is. */
	ts_expect(ts_put(p, "one", 3, "", NULL, &out), 0);
	ts_expect(ts_put(p, "two", 3, "", NULL, NULL), -EEXIST);
	ts_expect_str(p, "one");
	ts_expect(ts_op(stat, p, &a), 0);
	assert_string_equal(a.version, out.version);
	ts_fmt(v1, sizeof(v1), "%s", a.version);

	/* The current version: replaced, and the version moves. */
	ts_expect(ts_put(p, "three", 5, v1, NULL, &out), 0);
	assert_string_not_equal(out.version, v1);
	ts_fmt(v3, sizeof(v3), "%s", out.version);
	ts_expect_version(p, v3);
	ts_expect_str(p, "three");

	/* A stale version: refused, nothing changes. */
	ts_expect(ts_put(p, "four", 4, v1, NULL, NULL), -ESTALE);
	ts_expect_str(p, "three");
	ts_expect_version(p, v3);
	ts_expect(ts_put(ts_p(q, "none"), "x", 1, v1, NULL, NULL), -ESTALE);
	ts_expect(ts_op(stat, q, &a), -ENOENT);

	/* get() checks the version it is given. */
	ts_expect(ts_op(get, p, v1, 0, sizeof(buf), -1, buf), -ESTALE);
	ts_expect(ts_op(get, p, v3, 0, sizeof(buf), -1, buf), 5);

	/* Every change of content, even of the same size at once, shows. */
	for (int i = 0; i < 5; i++) {
		ts_fmt(buf, sizeof(buf), "same%d", i);
		ts_expect(ts_put(p, buf, 5, NULL, NULL, &out), 0);
		ts_fmt(vs[i], sizeof(vs[i]), "%s", out.version);
		ts_expect_version(p, vs[i]);
		assert_string_not_equal(vs[i], v3);
		if (i)
			assert_string_not_equal(vs[i], vs[i - 1]);
	}
}

static void ts_put_mtime(void **state)
{
	/* Whole microseconds, which every store that keeps times keeps
	 * (SMB clients set them as a timeval); the dirstore keeps
	 * nanoseconds. */
	struct timespec mt = {.tv_sec = 1234567890, .tv_nsec = 123456000};
	struct volfs_store_attr out, a;
	char p[PATH_MAX];

	ts_need_cap(VOLFS_STORE_TIMES, "VOLFS_STORE_TIMES");
	if (ts_is_dirstore())
		mt.tv_nsec = 123456789;
	ts_expect(ts_put(ts_p(p, "m"), "dated", 5, NULL, &mt, &out), 0);
	assert_int_equal(out.st.st_mtim.tv_sec, mt.tv_sec);
	assert_int_equal(out.st.st_mtim.tv_nsec, mt.tv_nsec);
	ts_expect(ts_op(stat, p, &a), 0);
	assert_int_equal(a.st.st_mtim.tv_sec, mt.tv_sec);
	assert_int_equal(a.st.st_mtim.tv_nsec, mt.tv_nsec);
	/* Without one, the time of the put: not the old one. */
	ts_expect(ts_put(p, "now", 3, NULL, NULL, &out), 0);
	assert_true(out.st.st_mtim.tv_sec > mt.tv_sec);
}

static void ts_setattr(void **state)
{
	struct volfs_store_attr a = {0}, got;
	char p[PATH_MAX];

	ts_need_cap(VOLFS_STORE_TIMES, "VOLFS_STORE_TIMES");
	ts_expect(ts_put_str(ts_p(p, "s"), "content"), 0);
	a.st.st_mtim =
		(struct timespec){.tv_sec = 1000000000, .tv_nsec = 500000000};
	ts_expect(ts_op(setattr, p, VOLFS_STORE_SET_MTIME, &a), 0);
	ts_expect(ts_op(stat, p, &got), 0);
	assert_int_equal(got.st.st_mtim.tv_sec, 1000000000);
	assert_int_equal(got.st.st_mtim.tv_nsec, 500000000);
	/* The content is untouched. */
	ts_expect_str(p, "content");
	ts_expect(ts_op(setattr, ts_p(p, "missing"), VOLFS_STORE_SET_MTIME, &a),
		  -ENOENT);
	if (ts_can(VOLFS_STORE_DIRS, "VOLFS_STORE_DIRS", "a directory's")) {
		a.st.st_mtim.tv_sec = 1100000000;
		ts_expect(
			ts_op(setattr, ts_cur->sub, VOLFS_STORE_SET_MTIME, &a),
			0);
		ts_expect(ts_op(stat, ts_cur->sub, &got), 0);
		assert_int_equal(got.st.st_mtim.tv_sec, 1100000000);
	}
}

/* Makes the listing check's objects: f0000.., d0.. with a file each. */
static void ts_list_make(void)
{
	char p[PATH_MAX], name[32], data[8] = "0123456";
	int host = ts_is_dirstore();

	for (int i = 0; i < TS_LIST_FILES; i++) {
		ts_fmt(name, sizeof(name), "f%04d", i);
		/* The dirstore's files go in from the host side: puts,
		 * fsync'ed each, would make the check slow. */
		if (host) {
			ts_host_put(ts_p(p, "%s", name), data, (size_t)(i % 7));
			continue;
		}
		ts_expect(ts_put(ts_p(p, "%s", name), data, (size_t)(i % 7),
				 NULL, NULL, NULL),
			  0);
	}
	if (!ts_can(VOLFS_STORE_DIRS, "VOLFS_STORE_DIRS", "directories"))
		return;
	for (int i = 0; i < TS_LIST_DIRS; i++) {
		ts_expect(ts_op(mkdir, ts_p(p, "d%d", i), 0755), 0);
		ts_expect(ts_put_str(ts_p(p, "d%d/inner", i), "in"), 0);
	}
}

static void ts_list(void **state)
{
	struct ts_listing l = {0};
	struct volfs_store_attr a;
	char p[PATH_MAX], q[PATH_MAX], cursor[1024];
	size_t ndirs = 0, want;
	unsigned char *seen;
	long i;

	ts_list_make();
	if (ts_cur->caps & VOLFS_STORE_DIRS)
		ndirs = TS_LIST_DIRS;
	if (ts_is_dirstore()) {
		/* What the host has that is no object: a temporary file, a
		 * link, a FIFO. */
		ts_host_put(ts_p(p, TS_TMP "planted"), "t", 1);
		assert_int_equal(symlink("f0001", ts_host(q, ts_p(p, "lnk"))),
				 0);
		assert_int_equal(mkfifo(ts_host(q, ts_p(p, "fifo")), 0644), 0);
	}
	want = TS_LIST_FILES + ndirs;
	ts_expect(ts_list_all(ts_cur->sub, &l), 0);
	print_message("      %zu entries in %u pages\n", l.n, l.calls);
	/* The dirstore shows the link as a link. */
	assert_int_equal(l.n, want + (ts_is_dirstore() ? 1 : 0));
	if (ts_is_dirstore())
		assert_true(l.calls >= 3);
	seen = calloc(want, 1);
	assert_non_null(seen);
	for (size_t j = 0; j < l.n; j++) {
		const char *name = l.names[j];
		const struct stat *st = &l.attrs[j].st;
		int k;

		assert_true(strncmp(name, TS_TMP, strlen(TS_TMP)) != 0);
		if (ts_is_dirstore() && strcmp(name, "lnk") == 0) {
			assert_true(S_ISLNK(st->st_mode));
			continue;
		}
		if (name[0] == 'f' && sscanf(name + 1, "%d", &k) == 1 &&
		    k >= 0 && k < TS_LIST_FILES) {
			assert_true(S_ISREG(st->st_mode));
			assert_int_equal(st->st_size, k % 7);
		} else if (name[0] == 'd' && sscanf(name + 1, "%d", &k) == 1 &&
			   k >= 0 && (size_t)k < ndirs) {
			assert_true(S_ISDIR(st->st_mode));
			k += TS_LIST_FILES;
		} else {
			print_error("unexpected entry '%s'\n", name);
			fail();
		}
		if (seen[k]) {
			print_error("'%s' listed twice\n", name);
			fail();
		}
		seen[k] = 1;
	}
	free(seen);

	/* The attributes of a listing are those stat() gives. */
	for (size_t j = 0; j < l.n; j += l.n / 100 + 1) {
		ts_expect(ts_op(stat, ts_p(p, "%s", l.names[j]), &a), 0);
		assert_int_equal(a.st.st_mode & S_IFMT,
				 l.attrs[j].st.st_mode & S_IFMT);
		assert_int_equal(a.st.st_size, l.attrs[j].st.st_size);
		assert_int_equal(a.st.st_mtim.tv_sec,
				 l.attrs[j].st.st_mtim.tv_sec);
		assert_int_equal(a.st.st_mtim.tv_nsec,
				 l.attrs[j].st.st_mtim.tv_nsec);
		assert_string_equal(a.version, l.attrs[j].version);
	}
	i = ts_listing_find(&l, "f0000");
	assert_true(i >= 0);
	ts_listing_free(&l);

	/* A fill that stops: list() returns 0 at once. */
	l.stop_after = 5;
	cursor[0] = '\0';
	ts_expect(ts_op(list, ts_cur->sub, cursor, sizeof(cursor), ts_list_fill,
			&l),
		  0);
	assert_int_equal(l.n, 5);
	ts_listing_free(&l);

	ts_expect(ts_list_all(ts_p(p, "f0001"), &l), -ENOTDIR);
	ts_listing_free(&l);
	ts_expect(ts_list_all(ts_p(p, "missing"), &l), -ENOENT);
	ts_listing_free(&l);
	if (ts_is_dirstore()) {
		assert_int_equal(unlink(ts_host(q, ts_p(p, TS_TMP "planted"))),
				 0);
		assert_int_equal(unlink(ts_host(q, ts_p(p, "lnk"))), 0);
		assert_int_equal(unlink(ts_host(q, ts_p(p, "fifo"))), 0);
	}
}

/* list() in a directory that has none: one call, nothing, complete. */
static void ts_list_empty(void **state)
{
	struct ts_listing l = {0};
	char p[PATH_MAX];

	ts_need_cap(VOLFS_STORE_DIRS, "VOLFS_STORE_DIRS");
	ts_expect(ts_op(mkdir, ts_p(p, "empty"), 0755), 0);
	ts_expect(ts_list_all(p, &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(l.calls, 1);
	ts_listing_free(&l);
}

static void ts_dirs(void **state)
{
	struct volfs_store_attr a;
	char p[PATH_MAX], q[PATH_MAX];

	ts_need_cap(VOLFS_STORE_DIRS, "VOLFS_STORE_DIRS");
	ts_expect(ts_op(mkdir, ts_p(p, "d"), 0755), 0);
	ts_expect(ts_op(stat, p, &a), 0);
	assert_true(S_ISDIR(a.st.st_mode));
	ts_expect(ts_op(mkdir, p, 0755), -EEXIST);
	ts_expect(ts_op(mkdir, ts_p(q, "missing/d"), 0755), -ENOENT);
	ts_expect(ts_put_str(ts_p(q, "d/f"), "f"), 0);
	ts_expect(ts_op(rmdir, p), -ENOTEMPTY);
	ts_expect(ts_op(remove, p), -EISDIR);
	ts_expect(ts_op(rmdir, q), -ENOTDIR);
	ts_expect(ts_op(mkdir, q, 0755), -EEXIST);
	ts_expect(ts_op(remove, q), 0);
	ts_expect(ts_op(remove, q), -ENOENT);
	ts_expect(ts_op(rmdir, p), 0);
	ts_expect(ts_op(stat, p, &a), -ENOENT);
	ts_expect(ts_op(rmdir, p), -ENOENT);
	/* Nothing is put where no directory is. */
	ts_expect(ts_put_str(ts_p(q, "missing/f"), "f"), -ENOENT);
}

/* Reads the rename check's target while the main thread replaces it. */
struct ts_reader {
	char path[PATH_MAX];
	volatile int stop;
	int reads;
	char error[256];
};

static void *ts_reader_main(void *arg)
{
	struct ts_reader *r = arg;
	char buf[8192];
	ssize_t n;

	while (!r->stop && !r->error[0]) {
		n = ts_op(get, r->path, "", 0, sizeof(buf), -1, buf);
		r->reads++;
		if (n != 4096) {
			ts_fmt(r->error, sizeof(r->error),
			       "get() of %s returned %zd (%s) while it was "
			       "being replaced",
			       r->path, n, n < 0 ? strerror((int)-n) : "");
			break;
		}
		for (int i = 1; i < 4096; i++)
			if (buf[i] != buf[0]) {
				ts_fmt(r->error, sizeof(r->error),
				       "%s mixed two contents", r->path);
				break;
			}
	}
	return NULL;
}

static void ts_rename(void **state)
{
	char p[PATH_MAX], q[PATH_MAX], buf[4096];
	struct ts_reader r = {.stop = 0};
	struct volfs_store_attr a;
	struct ts_listing l = {0};
	pthread_t th;
	int rc;

	ts_need_cap(VOLFS_STORE_RENAME, "VOLFS_STORE_RENAME");
	ts_expect(ts_put_str(ts_p(p, "a"), "AAAA"), 0);
	ts_expect(ts_put_str(ts_p(q, "b"), "BB"), 0);
	ts_expect(ts_op(rename, p, q, 0), 0);
	ts_expect_str(q, "AAAA");
	ts_expect(ts_op(stat, p, &a), -ENOENT);
	ts_expect(ts_op(rename, p, q, 0), -ENOENT);

	/* NOREPLACE: refused onto a name, taken to a new one.  A store may
	 * refuse the flag itself (-EINVAL); the dirstore takes it. */
	ts_expect(ts_put_str(ts_p(p, "c"), "C"), 0);
	rc = (int)ts_op(rename, q, p, VOLFS_RENAME_NOREPLACE);
	if (rc == -EINVAL && !ts_is_dirstore()) {
		print_message("      part skipped (NOREPLACE): store '%s' "
			      "refuses the flag\n",
			      ts_cur->store->name);
		ts_expect(ts_op(rename, q, ts_p(p, "n"), 0), 0);
	} else {
		ts_expect(rc, -EEXIST);
		ts_expect_str(q, "AAAA");
		ts_expect_str(p, "C");
		ts_expect(
			ts_op(rename, q, ts_p(p, "n"), VOLFS_RENAME_NOREPLACE),
			0);
	}
	ts_expect_str(p, "AAAA");
	ts_expect(ts_op(stat, q, &a), -ENOENT);

	/* A directory moves with everything below it. */
	if (ts_can(VOLFS_STORE_DIRS, "VOLFS_STORE_DIRS", "directories")) {
		ts_expect(ts_op(mkdir, ts_p(p, "d"), 0755), 0);
		ts_expect(ts_put_str(ts_p(p, "d/x"), "x"), 0);
		ts_expect(ts_op(mkdir, ts_p(p, "d/e"), 0755), 0);
		ts_expect(ts_put_str(ts_p(p, "d/e/y"), "yy"), 0);
		ts_expect(ts_op(rename, ts_p(p, "d"), ts_p(q, "d2"), 0), 0);
		ts_expect(ts_op(stat, p, &a), -ENOENT);
		ts_expect_str(ts_p(p, "d2/x"), "x");
		ts_expect_str(ts_p(p, "d2/e/y"), "yy");
		ts_expect(ts_list_all(q, &l), 0);
		assert_int_equal(l.n, 2);
		assert_true(ts_listing_find(&l, "x") >= 0);
		assert_true(ts_listing_find(&l, "e") >= 0);
		ts_listing_free(&l);
		/* Onto an empty directory: replaced. */
		ts_expect(ts_op(mkdir, ts_p(p, "z"), 0755), 0);
		ts_expect(ts_op(rename, q, p, 0), 0);
		ts_expect_str(ts_p(p, "z/e/y"), "yy");
	}

	/* Replaced at once: a reader never finds the name missing or a
	 * mixture of two contents. */
	ts_p(p, "src");
	ts_p(r.path, "target");
	memset(buf, 'A', sizeof(buf));
	ts_expect(ts_put(r.path, buf, sizeof(buf), NULL, NULL, NULL), 0);
	assert_int_equal(pthread_create(&th, NULL, ts_reader_main, &r), 0);
	for (int i = 0; i < TS_RENAME_ROUNDS && !r.error[0]; i++) {
		memset(buf, 'B' + i % 20, sizeof(buf));
		ts_expect(ts_put(p, buf, sizeof(buf), NULL, NULL, NULL), 0);
		ts_expect(ts_op(rename, p, r.path, 0), 0);
	}
	r.stop = 1;
	pthread_join(th, NULL);
	if (r.error[0])
		print_error("%s\n", r.error);
	assert_string_equal(r.error, "");
	print_message("      %d reads during %d replacements\n", r.reads,
		      TS_RENAME_ROUNDS);

	if (ts_is_dirstore())
		/* The dirstore takes NOREPLACE alone. */
		ts_expect(ts_op(rename, r.path, ts_p(q, "x"),
				VOLFS_RENAME_EXCHANGE),
			  -EINVAL);
}

static void ts_copy(void **state)
{
	char p[PATH_MAX], q[PATH_MAX], *data = ts_random(200 * 1024 + 3);
	struct volfs_store_attr a, b;

	ts_need_cap(VOLFS_STORE_COPY, "VOLFS_STORE_COPY");
	ts_expect(ts_put(ts_p(p, "a"), data, 200 * 1024 + 3, NULL, NULL, NULL),
		  0);
	ts_expect(ts_op(copy, p, ts_p(q, "b")), 0);
	ts_expect_content(q, data, 200 * 1024 + 3);
	ts_expect_content(p, data, 200 * 1024 + 3);
	if (ts_cur->caps & VOLFS_STORE_VERSIONS) {
		ts_expect(ts_op(stat, p, &a), 0);
		ts_expect(ts_op(stat, q, &b), 0);
		assert_string_not_equal(a.version, b.version);
	}
	/* Over an object: replaced whole. */
	ts_expect(ts_put_str(ts_p(q, "c"), "old"), 0);
	ts_expect(ts_op(copy, p, q), 0);
	ts_expect_content(q, data, 200 * 1024 + 3);
	ts_expect(ts_put_str(ts_p(p, "short"), "new"), 0);
	ts_expect(ts_op(copy, p, q), 0);
	ts_expect_str(q, "new");
	ts_expect(ts_op(copy, ts_p(p, "missing"), q), -ENOENT);
	ts_expect_str(q, "new");
	if (ts_can(VOLFS_STORE_DIRS, "VOLFS_STORE_DIRS", "a directory's")) {
		ts_expect(ts_op(mkdir, ts_p(p, "d"), 0755), 0);
		ts_expect(ts_op(copy, p, q), -EISDIR);
	}
	free(data);
}

static void ts_statfs(void **state)
{
	struct statvfs sv;

	memset(&sv, 0, sizeof(sv));
	ts_expect(ts_op(statfs, &sv), 0);
	assert_true(sv.f_bsize > 0 || sv.f_frsize > 0);
	assert_true(sv.f_bfree <= sv.f_blocks);
	assert_true(sv.f_bavail <= sv.f_blocks);
	assert_true(sv.f_namemax >= 255);
}

/* A put of size bytes from an fd holding fewer, or unreadable, fails and
 * leaves the old object, with no temporary file anywhere. */
static void ts_failed_put(void **state)
{
	struct volfs_store_attr before, a;
	struct ts_listing l = {0};
	char p[PATH_MAX], path[PATH_MAX];
	int fd;

	ts_expect(ts_put_str(ts_p(p, "a"), "old content"), 0);
	ts_expect(ts_op(stat, p, &before), 0);

	fd = ts_memfd("0123456789", 10);
	assert_true(fd >= 0);
	ts_expect(ts_put_fd(p, fd, 100, NULL, NULL, NULL), -EIO);
	close(fd);
	ts_expect_str(p, "old content");

	/* Write-only. */
	ts_fmt(path, sizeof(path), "%s/wronly", ts_cur->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abcde", 5), 5);
	ts_expect_fail(ts_put_fd(p, fd, 5, NULL, NULL, NULL));
	close(fd);
	unlink(path);
	ts_expect_fail(ts_put_fd(p, -1, 5, NULL, NULL, NULL));
	ts_expect_str(p, "old content");
	ts_expect(ts_op(stat, p, &a), 0);
	if (ts_cur->caps & VOLFS_STORE_VERSIONS)
		assert_string_equal(a.version, before.version);
	if (ts_cur->caps & VOLFS_STORE_DIRS)
		ts_expect(ts_put_str(ts_p(p, "missing/a"), "x"), -ENOENT);

	/* A conditional put that fails leaves nothing either. */
	if (ts_cur->caps & VOLFS_STORE_VERSIONS)
		ts_expect(ts_put(ts_p(p, "a"), "new", 3, "", NULL, NULL),
			  -EEXIST);

	ts_expect(ts_list_all(ts_cur->sub, &l), 0);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.names[0], "a");
	ts_listing_free(&l);
	if (ts_is_dirstore())
		assert_int_equal(ts_host_tmp_files(), 0);
}

/* One thread of ts_threads: puts, stats and gets objects of its own. */
struct ts_worker {
	int id;
	pthread_t th;
	char error[256];
};

static void ts_worker_fail(struct ts_worker *w, const char *what,
			   const char *path, long long rc)
{
	ts_fmt(w->error, sizeof(w->error), "thread %d: %s of %s: %lld (%s)",
	       w->id, what, path, rc, rc < 0 ? strerror((int)-rc) : "wrong");
}

static void *ts_worker_main(void *arg)
{
	struct ts_worker *w = arg;
	uint64_t seed = 0x1234567ULL * (uint64_t)(w->id + 1);
	struct volfs_store_attr out, a;
	char path[PATH_MAX], *data, *buf;
	size_t len;
	long long rc;
	int fd;

	data = malloc(128 * 1024);
	buf = malloc(128 * 1024 + 16);
	if (!data || !buf) {
		ts_fmt(w->error, sizeof(w->error), "out of memory");
		goto out;
	}
	for (int i = 0; i < TS_THREAD_ROUNDS && !w->error[0]; i++) {
		ts_fmt(path, sizeof(path), "%s/t%d-%d", ts_cur->sub, w->id,
		       i % 3);
		len = (size_t)(ts_rand_next(&seed) % (128 * 1024));
		ts_fill_random(data, len, &seed);
		rc = ts_put(path, data, len, NULL, NULL, &out);
		if (rc) {
			ts_worker_fail(w, "put", path, rc);
			break;
		}
		rc = ts_op(stat, path, &a);
		if (rc || a.st.st_size != (off_t)len ||
		    ((ts_cur->caps & VOLFS_STORE_VERSIONS) &&
		     strcmp(a.version, out.version) != 0)) {
			ts_worker_fail(w, "stat", path, rc);
			break;
		}
		rc = ts_op(get, path, a.version, 0, len + 16, -1, buf);
		if (rc != (long long)len || memcmp(buf, data, len) != 0) {
			ts_worker_fail(w, "get", path, rc);
			break;
		}
		fd = ts_scratch_fd();
		if (fd < 0) {
			ts_worker_fail(w, "scratch file", path, -errno);
			break;
		}
		rc = ts_op(get, path, "", 0, len, fd, NULL);
		if (rc == (long long)len &&
		    pread(fd, buf, len, 0) != (ssize_t)len)
			rc = -EIO;
		close(fd);
		if (rc != (long long)len || memcmp(buf, data, len) != 0) {
			ts_worker_fail(w, "get into an fd", path, rc);
			break;
		}
	}
out:
	free(data);
	free(buf);
	return NULL;
}

/* Threads working on objects of their own at once, while the directory
 * is listed: every answer is right. */
static void ts_threads(void **state)
{
	struct ts_worker w[TS_THREADS];
	struct ts_listing l = {0};
	int lists = 0, failed = 0;

	for (int i = 0; i < TS_THREADS; i++) {
		w[i] = (struct ts_worker){.id = i};
		assert_int_equal(
			pthread_create(&w[i].th, NULL, ts_worker_main, &w[i]),
			0);
	}
	/* Listings meanwhile never show a temporary file. */
	for (int i = 0; i < 20; i++) {
		ts_expect(ts_list_all(ts_cur->sub, &l), 0);
		for (size_t j = 0; j < l.n; j++)
			assert_true(strncmp(l.names[j], TS_TMP,
					    strlen(TS_TMP)) != 0);
		ts_listing_free(&l);
		lists++;
	}
	for (int i = 0; i < TS_THREADS; i++) {
		pthread_join(w[i].th, NULL);
		if (w[i].error[0]) {
			print_error("%s\n", w[i].error);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
	ts_expect(ts_list_all(ts_cur->sub, &l), 0);
	assert_int_equal(l.n, TS_THREADS * 3);
	ts_listing_free(&l);
	print_message("      %d threads x %d rounds, %d listings meanwhile\n",
		      TS_THREADS, TS_THREAD_ROUNDS, lists);
	if (ts_is_dirstore())
		assert_int_equal(ts_host_tmp_files(), 0);
}

/* Nothing outside the directory is reached through a link on the host,
 * and what is no object (a link, a FIFO, a temporary name) is refused. */
static void dirstore_escape(void **state)
{
	char p[PATH_MAX], q[PATH_MAX], decoy[PATH_MAX], buf[64];
	struct ts_listing l = {0};
	struct volfs_store_attr a;
	struct stat st;

	ts_need_dirstore();
	ts_fmt(decoy, sizeof(decoy), "%s/decoy", ts_cur->dir);
	assert_true(mkdir(decoy, 0755) == 0 || errno == EEXIST);
	ts_fmt(q, sizeof(q), "%s/secret", decoy);
	ts_host_write(q, "secret", 6);
	assert_int_equal(symlink(q, ts_host(p, ts_p(buf, "lnk"))), 0);
	assert_int_equal(symlink(decoy, ts_host(p, ts_p(q, "ldir"))), 0);
	assert_int_equal(mkfifo(ts_host(p, ts_p(q, "fifo")), 0644), 0);
	/* Links that stay inside the directory are not followed either. */
	ts_expect(ts_op(mkdir, ts_p(p, "real"), 0755), 0);
	ts_expect(ts_put_str(ts_p(p, "real/x"), "x"), 0);
	assert_int_equal(symlink("real", ts_host(p, ts_p(q, "rel"))), 0);
	assert_int_equal(symlink("../..", ts_host(p, ts_p(q, "up"))), 0);

	/* A link is shown as one, never followed; removing it removes the
	 * link. */
	ts_expect(ts_op(stat, ts_p(p, "lnk"), &a), 0);
	assert_true(S_ISLNK(a.st.st_mode));
	ts_expect(ts_op(get, p, "", 0, sizeof(buf), -1, buf), -EACCES);
	ts_expect(ts_op(remove, p), 0);
	ts_expect(ts_op(stat, ts_p(p, "ldir/secret"), &a), -EACCES);
	ts_expect(ts_op(get, p, "", 0, sizeof(buf), -1, buf), -EACCES);
	ts_expect(ts_op(remove, p), -EACCES);
	ts_expect(ts_op(rename, p, ts_p(q, "stolen"), 0), -EACCES);
	ts_expect(ts_op(copy, p, q), -EACCES);
	ts_expect(ts_put_str(ts_p(p, "ldir/new"), "x"), -EACCES);
	ts_expect(ts_op(mkdir, ts_p(p, "ldir/newdir"), 0755), -EACCES);
	ts_expect(ts_list_all(ts_p(p, "ldir"), &l), -EACCES);
	ts_listing_free(&l);
	ts_expect(ts_op(stat, ts_p(p, "rel/x"), &a), -EACCES);
	ts_expect(ts_op(get, p, "", 0, sizeof(buf), -1, buf), -EACCES);
	ts_expect(ts_put_str(ts_p(p, "rel/y"), "y"), -EACCES);
	ts_expect(ts_op(stat, ts_p(p, "real/y"), &a), -ENOENT);
	ts_expect(ts_list_all(ts_p(p, "rel"), &l), -EACCES);
	ts_listing_free(&l);
	ts_expect(ts_op(stat, ts_p(p, "up/%s", ts_cur->sub), &a), -EACCES);
	ts_expect(ts_op(stat, ts_p(p, "fifo"), &a), -EACCES);
	/* Refused at once, not stuck opening a FIFO nobody writes. */
	ts_expect(ts_op(get, p, "", 0, sizeof(buf), -1, buf), -EACCES);

	/* The decoy is as it was. */
	ts_fmt(p, sizeof(p), "%s/secret", decoy);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 6);
	ts_fmt(p, sizeof(p), "%s/new", decoy);
	assert_int_equal(lstat(p, &st), -1);
	ts_fmt(p, sizeof(p), "%s/newdir", decoy);
	assert_int_equal(lstat(p, &st), -1);

	/* Paths of another shape, and temporary names. */
	ts_expect(ts_op(stat, "..", &a), -EINVAL);
	ts_expect(ts_op(stat, ts_p(p, "../.."), &a), -EINVAL);
	ts_expect(ts_op(stat, "/etc", &a), -EINVAL);
	ts_expect(ts_op(stat, ts_p(p, "a//b"), &a), -EINVAL);
	ts_expect(ts_op(stat, ts_p(p, "."), &a), -EINVAL);
	ts_expect(ts_put_str(ts_p(p, "../escaped"), "x"), -EINVAL);
	ts_expect(ts_put_str(ts_p(p, TS_TMP "mine"), "x"), -EACCES);
	ts_expect(ts_op(mkdir, ts_p(p, TS_TMP "d"), 0755), -EACCES);

	/* A put over a link replaces the link, never its target. */
	ts_expect(ts_put_str(ts_p(p, "lnk"), "mine"), 0);
	ts_expect_str(p, "mine");
	ts_fmt(p, sizeof(p), "%s/secret", decoy);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 6);

	/* lnk (a file now) and real, and the links ldir, rel and up shown
	 * as links; never the FIFO. */
	ts_expect(ts_list_all(ts_cur->sub, &l), 0);
	assert_int_equal(l.n, 5);
	assert_true(ts_listing_find(&l, "lnk") >= 0);
	assert_true(ts_listing_find(&l, "real") >= 0);
	assert_true(S_ISLNK(l.attrs[ts_listing_find(&l, "ldir")].st.st_mode));
	assert_true(ts_listing_find(&l, "fifo") < 0);
	ts_listing_free(&l);
	assert_int_equal(unlink(ts_host(q, ts_p(p, "ldir"))), 0);
	assert_int_equal(unlink(ts_host(q, ts_p(p, "rel"))), 0);
	assert_int_equal(unlink(ts_host(q, ts_p(p, "up"))), 0);
	assert_int_equal(unlink(ts_host(q, ts_p(p, "fifo"))), 0);
}

/* VOLFS_DIRSTORE_DELAY_MS: every op waits, and gives up at its deadline. */
static void dirstore_deadline(void **state)
{
	char err[512], p[PATH_MAX], ms[16];
	struct volfs_store_attr a;
	void *slow = NULL;
	int64_t t0, took;
	long long rc;

	ts_need_dirstore();
	ts_fmt(ms, sizeof(ms), "%d", TS_DELAY_MS);
	ts_expect(ts_open_with("VOLFS_DIRSTORE_DELAY_MS", ms, &slow, err,
			       sizeof(err)),
		  0);

	/* A deadline that has passed: at once. */
	t0 = ts_now();
	rc = ts_cur->store->stat(slow, ts_cur->sub, &a, ts_now() - 1);
	took = ts_now() - t0;
	ts_expect(rc, -ETIMEDOUT);
	assert_true(took < TS_DELAY_MS);
	ts_p(p, "late");
	{
		int fd = ts_memfd("late", 4);

		assert_true(fd >= 0);
		rc = ts_cur->store->put(slow, p, fd, 4, NULL, NULL, NULL,
					ts_now() - 1);
		close(fd);
	}
	ts_expect(rc, -ETIMEDOUT);
	ts_expect(ts_op(stat, p, &a), -ENOENT);

	/* One that comes before the delay ends: at the deadline. */
	t0 = ts_now();
	rc = ts_cur->store->stat(slow, ts_cur->sub, &a, ts_now() + 50);
	took = ts_now() - t0;
	ts_expect(rc, -ETIMEDOUT);
	assert_true(took >= 49);
	print_message("      a 50 ms deadline: -ETIMEDOUT after %lld ms\n",
		      (long long)took);

	/* Time enough: after the delay, and the op is done. */
	t0 = ts_now();
	rc = ts_cur->store->stat(slow, ts_cur->sub, &a,
				 volfs_store_deadline(TS_TIMEOUT_MS));
	took = ts_now() - t0;
	ts_expect(rc, 0);
	assert_true(took >= TS_DELAY_MS - 1);
	ts_cur->store->close(slow);

	/* A value that is no number is refused by name. */
	rc = ts_open_with("VOLFS_DIRSTORE_DELAY_MS", "soon", &slow, err,
			  sizeof(err));
	ts_expect(rc, -EINVAL);
	print_message("      message: %s\n", err);
	assert_non_null(strstr(err, "VOLFS_DIRSTORE_DELAY_MS"));
}

/* VOLFS_DIRSTORE_FAIL: while the file exists every op fails, and nothing
 * changes; then everything works again. */
static void dirstore_outage(void **state)
{
	char err[512], flag[PATH_MAX], p[PATH_MAX], q[PATH_MAX], buf[64];
	const int down = -EHOSTUNREACH;
	struct volfs_store_attr a = {0};
	char cursor[1024] = "";
	struct ts_listing l = {0};
	const struct volfs_store *s = ts_cur->store;
	struct statvfs sv;
	void *st = NULL, *other = NULL;
	int64_t dl = volfs_store_deadline(TS_TIMEOUT_MS);
	int fd;

	ts_need_dirstore();
	ts_fmt(flag, sizeof(flag), "%s/down", ts_cur->dir);
	unlink(flag);
	ts_expect(ts_open_with("VOLFS_DIRSTORE_FAIL", flag, &st, err,
			       sizeof(err)),
		  0);
	ts_p(p, "a");
	ts_p(q, "b");
	fd = ts_memfd("before", 6);
	assert_true(fd >= 0);
	ts_expect(s->put(st, p, fd, 6, NULL, NULL, NULL, dl), 0);

	ts_host_write(flag, "", 0);
	ts_expect(s->stat(st, p, &a, dl), down);
	ts_expect(s->get(st, p, "", 0, sizeof(buf), -1, buf, dl), down);
	ts_expect(s->put(st, p, fd, 3, NULL, NULL, NULL, dl), down);
	ts_expect(s->list(st, ts_cur->sub, cursor, sizeof(cursor), ts_list_fill,
			  &l, dl),
		  down);
	assert_int_equal(l.n, 0);
	ts_expect(s->statfs(st, &sv, dl), down);
	ts_expect(s->remove(st, p, dl), down);
	ts_expect(s->mkdir(st, q, 0755, dl), down);
	ts_expect(s->rmdir(st, ts_cur->sub, dl), down);
	ts_expect(s->rename(st, p, q, 0, dl), down);
	ts_expect(s->copy(st, p, q, dl), down);
	ts_expect(s->setattr(st, p, VOLFS_STORE_SET_MTIME, &a, dl), down);
	/* Nor does a store open while the server is away. */
	ts_expect(ts_open_with("VOLFS_DIRSTORE_FAIL", flag, &other, err,
			       sizeof(err)),
		  down);
	print_message("      message: %s\n", err);
	assert_non_null(strstr(err, flag));

	assert_int_equal(unlink(flag), 0);
	ts_expect(s->stat(st, p, &a, dl), 0);
	ts_expect_str(p, "before");
	ts_expect(s->stat(st, q, &a, dl), -ENOENT);
	ts_expect(s->put(st, p, fd, 6, NULL, NULL, NULL, dl), 0);
	close(fd);
	s->close(st);
}

/* The module's backend table: the staging layer over this store. */
static void dirstore_backend(void **state)
{
	const struct volfs_optdesc *d;
	const struct volfs_backend *be;
	volfs_backend_entry_fn entry;
	struct volfs_kv opts[2];
	struct volfs_volinfo vi = {.name = "v", .opts = opts, .nopts = 1};
	char err[512], file[PATH_MAX];
	unsigned seen = 0;

	ts_need_dirstore();
	vi.state_dir = ts_cur->state_dir;
	*(void **)&entry = dlsym(ts_cur->dl, "volfs_backend_dirstore");
	assert_non_null(entry);
	be = entry();
	assert_int_equal(be->abi_version, VOLFS_BACKEND_ABI);
	assert_int_equal(be->size, sizeof(struct volfs_backend));
	assert_string_equal(be->name, "dirstore");
	assert_true(be->description && *be->description);
	assert_int_equal(be->caps & (VOLFS_CAP_THREADSAFE | VOLFS_CAP_REAL_FD |
				     VOLFS_CAP_PERSISTENT),
			 VOLFS_CAP_THREADSAFE | VOLFS_CAP_REAL_FD |
				 VOLFS_CAP_PERSISTENT);
	assert_true(be->open && be->close && be->lookup && be->fd &&
		    be->readdir && !be->create && !be->destroy);
	for (d = be->options; d->key; d++) {
		if (strcmp(d->key, "path") == 0) {
			assert_int_equal(d->flags, VOLFS_OPT_REQUIRED |
							   VOLFS_OPT_HOST_DIR);
			seen |= 1;
		} else if (strcmp(d->key, "timeout") == 0) {
			seen |= 2;
		} else if (strcmp(d->key, "cache_size") == 0) {
			seen |= 4;
		}
		assert_true(d->help && *d->help);
	}
	assert_int_equal(seen, 7);

	opts[0] = (struct volfs_kv){"path", ts_cur->host};
	ts_expect(be->validate(&vi, err, sizeof(err)), 0);
	ts_fmt(file, sizeof(file), "%s/nowhere", ts_cur->dir);
	opts[0].value = file;
	ts_expect(be->validate(&vi, err, sizeof(err)), -ENOENT);
	print_message("      message: %s\n", err);
	assert_non_null(strstr(err, "'path'"));
	ts_fmt(file, sizeof(file), "%s/afile", ts_cur->dir);
	ts_host_write(file, "", 0);
	ts_expect(be->validate(&vi, err, sizeof(err)), -ENOTDIR);
	assert_non_null(strstr(err, "'path'"));
	opts[0].value = "relative/dir";
	ts_expect(be->validate(&vi, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'path'"));
	opts[0].value = ts_cur->host;
	vi.nopts = 2;
	opts[1] = (struct volfs_kv){"timeout", "soon"};
	ts_expect(be->validate(&vi, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'timeout'"));
	opts[1].value = "0";
	ts_expect(be->validate(&vi, err, sizeof(err)), -EINVAL);
	opts[1].value = "30";
	ts_expect(be->validate(&vi, err, sizeof(err)), 0);
	/* The staging layer's options are checked too. */
	opts[1] = (struct volfs_kv){"cache", "sometimes"};
	ts_expect(be->validate(&vi, err, sizeof(err)), -EINVAL);
	print_message("      message: %s\n", err);
	assert_non_null(strstr(err, "'cache'"));
}

/* ---- configurations ---- */

/* Loads NAME.so and its store table into ts_cur; 0 or -1 with a message. */
static int ts_load(const char *name)
{
	volfs_store_entry_fn entry;
	char path[PATH_MAX], sym[64];

	ts_fmt(path, sizeof(path), "%s/%s.so", volfs_backend_dir(), name);
	/* Kept in memory after dlclose(), as the daemon keeps a module for
	 * its whole life. */
	ts_cur->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (!ts_cur->dl) {
		print_error("cannot load %s: %s: build the module, or set "
			    "VOLFS_BACKEND_DIR to the directory that holds "
			    "it\n",
			    path, dlerror());
		return -1;
	}
	ts_fmt(sym, sizeof(sym), "volfs_store_%s", name);
	*(void **)&entry = dlsym(ts_cur->dl, sym);
	if (!entry) {
		print_error("%s exports no %s: it is no store module\n", path,
			    sym);
		return -1;
	}
	ts_cur->store = entry();
	if (!ts_cur->store || ts_cur->store->abi_version != VOLFS_STORE_ABI ||
	    ts_cur->store->size < offsetof(struct volfs_store, refresh) ||
	    ts_cur->store->size > sizeof(struct volfs_store)) {
		print_error("%s: its store table is not of store ABI %d with "
			    "at most %zu bytes\n",
			    path, VOLFS_STORE_ABI, sizeof(struct volfs_store));
		return -1;
	}
	return 0;
}

static int ts_group_setup(void **state)
{
	struct ts_run *r = ts_cur;
	const struct ts_conf *c = r->conf;
	char err[1024] = "";
	const char *val;
	int rc;

	ts_fmt(r->dir, sizeof(r->dir), "%s/%s", ts_base, c->name);
	ts_fmt(r->state_dir, sizeof(r->state_dir), "%s/state", r->dir);
	if (mkdir(r->dir, 0755) < 0 || mkdir(r->state_dir, 0755) < 0) {
		print_error("cannot make %s: %s\n", r->dir, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < TS_MAX_OPTS && c->opts[i].key; i++) {
		val = c->opts[i].value;
		if (strcmp(val, "@host") == 0) {
			ts_fmt(r->host, sizeof(r->host), "%s/host", r->dir);
			if (mkdir(r->host, 0755) < 0) {
				print_error("cannot make %s: %s\n", r->host,
					    strerror(errno));
				return -1;
			}
			val = r->host;
		} else if (val[0] == '$') {
			val = getenv(val + 1);
			if (!val)
				val = "";
		}
		r->opts[r->nopts++] = (struct volfs_kv){c->opts[i].key, val};
	}
	if (ts_load(c->name) < 0)
		return -1;
	r->vi = (struct volfs_volinfo){
		.name = c->name,
		.state_dir = r->state_dir,
		.opts = r->opts,
		.nopts = r->nopts,
		.log = volfs_log,
	};
	rc = r->store->open(&r->vi, &r->st, err, sizeof(err));
	if (rc < 0) {
		print_error("open() failed: %s (%s)\n", err, strerror(-rc));
		return -1;
	}
	r->caps = r->store->caps;
	print_message("configuration '%s': store '%s', caps 0x%x\n", c->name,
		      r->store->name, r->caps);
	return 0;
}

static int ts_group_teardown(void **state)
{
	struct ts_run *r = ts_cur;

	if (r->st)
		r->store->close(r->st);
	r->st = NULL;
	if (r->dl)
		dlclose(r->dl);
	r->dl = NULL;
	volfs_rm_rf(r->dir);
	return 0;
}

/* Each check in a fresh directory of its own. */
static int ts_check_setup(void **state)
{
	const struct CMUnitTest *t = *state;
	int rc = 0;

	ts_fmt(ts_cur->sub, sizeof(ts_cur->sub), "ts%u-%s", ts_cur->nchecks++,
	       t ? t->name : "check");
	if (ts_cur->caps & VOLFS_STORE_DIRS)
		rc = (int)ts_op(mkdir, ts_cur->sub, 0755);
	if (rc) {
		print_error("cannot make %s: %s\n", ts_cur->sub, strerror(-rc));
		return -1;
	}
	return 0;
}

static int ts_check_teardown(void **state)
{
	int rc = ts_rm_tree(ts_cur->sub);
	char path[PATH_MAX];

	if (rc) {
		print_error("cannot remove %s: %s\n", ts_cur->sub,
			    strerror(-rc));
		/* What the check left that is no object, so the next
		 * checks start clean. */
		if (ts_cur->host[0]) {
			ts_host(path, ts_cur->sub);
			volfs_rm_rf(path);
		}
		return -1;
	}
	if (ts_cur->host[0] && ts_host_tmp_files() != 0)
		return -1;
	return 0;
}

#define TS_CHECK(fn)                                                           \
	{                                                                      \
		.name = #fn, .test_func = fn, .setup_func = ts_check_setup,    \
		.teardown_func = ts_check_teardown,                            \
	}

static struct CMUnitTest ts_checks[] = {
	TS_CHECK(ts_table),	     TS_CHECK(ts_stat),
	TS_CHECK(ts_roundtrip),	     TS_CHECK(ts_replace),
	TS_CHECK(ts_conditional),    TS_CHECK(ts_put_mtime),
	TS_CHECK(ts_setattr),	     TS_CHECK(ts_list),
	TS_CHECK(ts_list_empty),     TS_CHECK(ts_dirs),
	TS_CHECK(ts_rename),	     TS_CHECK(ts_copy),
	TS_CHECK(ts_statfs),	     TS_CHECK(ts_failed_put),
	TS_CHECK(ts_threads),	     TS_CHECK(dirstore_escape),
	TS_CHECK(dirstore_deadline), TS_CHECK(dirstore_outage),
	TS_CHECK(dirstore_backend),
};

#define TS_NCHECKS (sizeof(ts_checks) / sizeof(ts_checks[0]))

int main(void)
{
	const char *tmp = getenv("TMPDIR"), *only = getenv("VOLFS_STORE_ONLY");
	int failed = 0, ran = 0;

	/* The checks set the dirstore's knobs themselves, for the stores
	 * they open. */
	unsetenv("VOLFS_DIRSTORE_FAIL");
	unsetenv("VOLFS_DIRSTORE_DELAY_MS");
	/* Each check's setup names its directory after the check. */
	for (size_t i = 0; i < TS_NCHECKS; i++)
		ts_checks[i].initial_state = &ts_checks[i];
	ts_seed ^= (uint64_t)time(NULL);
	umask(022);
	ts_fmt(ts_base, sizeof(ts_base), "%s/volfs-store-XXXXXX",
	       tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(ts_base)) {
		fprintf(stderr,
			"cannot make a temp directory in %s: %s: set "
			"TMPDIR to a writable directory\n",
			ts_base, strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < sizeof(ts_confs) / sizeof(ts_confs[0]); i++) {
		const struct ts_conf *c = &ts_confs[i];

		if (only && *only && strcmp(only, c->name) != 0)
			continue;
		if (c->needs && !getenv(c->needs)) {
			printf("configuration '%s' skipped: %s is not set\n",
			       c->name, c->needs);
			continue;
		}
		memset(&ts_run, 0, sizeof(ts_run));
		ts_run.conf = c;
		if (cmocka_run_group_tests_name(c->name, ts_checks,
						ts_group_setup,
						ts_group_teardown))
			failed = 1;
		ran++;
	}
	volfs_rm_rf(ts_base);
	if (!ran) {
		fprintf(stderr, "no configuration ran%s%s%s\n",
			only ? " (VOLFS_STORE_ONLY=" : "", only ? only : "",
			only ? ")" : "");
		return 1;
	}
	return failed;
}
