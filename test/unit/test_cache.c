/* SPDX-License-Identifier: MIT */
/*
 * The metadata cache of path stores (backends/pathcache.c) around a
 * counting fake store: hits, expiry after the TTL, invalidation by every
 * change made through it, and changes made behind its back showing once
 * the TTL has passed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pathcache.h"

#define FAKE_MAX 256

/* A flat namespace of paths, and how often each op reached it. */
struct fake {
	struct {
		char path[64];
		int dir;
		off_t size;
	} e[FAKE_MAX];
	int n;
	int getattrs, readdirs, writes, releases, closes;
	/* getattr calls that came with a handle. */
	int by_handle;
};

static int fake_find(struct fake *f, const char *path)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->e[i].path, path) == 0)
			return i;
	return -1;
}

static void fake_add(struct fake *f, const char *path, int dir, off_t size)
{
	assert_true(f->n < FAKE_MAX);
	snprintf(f->e[f->n].path, sizeof(f->e[0].path), "%s", path);
	f->e[f->n].dir = dir;
	f->e[f->n].size = size;
	f->n++;
}

static void fake_del(struct fake *f, int i)
{
	f->e[i] = f->e[--f->n];
}

static void fake_fill_stat(struct fake *f, int i, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = f->e[i].dir ? S_IFDIR | 0755 : S_IFREG | 0644;
	st->st_size = f->e[i].size;
	st->st_nlink = 1;
}

static int fake_getattr(void *vol, const char *path, uint64_t fh,
			struct stat *st)
{
	struct fake *f = vol;
	int i;

	f->getattrs++;
	if (fh != VOLFS_NO_FH) {
		f->by_handle++;
		path = f->e[fh].path;
	}
	if (strcmp(path, ".") == 0) {
		memset(st, 0, sizeof(*st));
		st->st_mode = S_IFDIR | 0755;
		return 0;
	}
	i = fake_find(f, path);
	if (i < 0)
		return -ENOENT;
	fake_fill_stat(f, i, st);
	return 0;
}

/* Whether path is directly in dir. */
static const char *fake_child(const char *dir, const char *path)
{
	size_t len = strlen(dir);

	if (strcmp(dir, ".") == 0)
		return strchr(path, '/') ? NULL : path;
	if (strncmp(path, dir, len) != 0 || path[len] != '/' ||
	    strchr(path + len + 1, '/'))
		return NULL;
	return path + len + 1;
}

static int fake_readdir(void *vol, const char *path, volfs_path_fill_fn fill,
			void *ctx)
{
	struct fake *f = vol;
	struct stat st;

	f->readdirs++;
	for (int i = 0; i < f->n; i++) {
		const char *name = fake_child(path, f->e[i].path);

		if (!name)
			continue;
		fake_fill_stat(f, i, &st);
		if (fill(ctx, name, st.st_mode & S_IFMT, &st))
			break;
	}
	return 0;
}

static int fake_mkdir(void *vol, const char *path, mode_t mode,
		      const struct volfs_caller *who)
{
	struct fake *f = vol;

	if (fake_find(f, path) >= 0)
		return -EEXIST;
	fake_add(f, path, 1, 0);
	return 0;
}

static int fake_unlink(void *vol, const char *path)
{
	struct fake *f = vol;
	int i = fake_find(f, path);

	if (i < 0)
		return -ENOENT;
	fake_del(f, i);
	return 0;
}

static int fake_rename(void *vol, const char *from, const char *to,
		       unsigned flags)
{
	struct fake *f = vol;
	size_t len = strlen(from);
	int i = fake_find(f, from), j;

	if (i < 0)
		return -ENOENT;
	j = fake_find(f, to);
	if (j >= 0) {
		fake_del(f, j);
		i = fake_find(f, from);
	}
	/* The entry and everything below it. */
	for (int k = 0; k < f->n; k++) {
		char buf[64];

		if (strcmp(f->e[k].path, from) == 0) {
			snprintf(f->e[k].path, sizeof(f->e[k].path), "%s", to);
		} else if (strncmp(f->e[k].path, from, len) == 0 &&
			   f->e[k].path[len] == '/') {
			snprintf(buf, sizeof(buf), "%s%s", to,
				 f->e[k].path + len);
			memcpy(f->e[k].path, buf, sizeof(buf));
		}
	}
	return 0;
}

static int fake_create_file(void *vol, const char *path, int flags,
			    mode_t mode, const struct volfs_caller *who,
			    uint64_t *fh)
{
	struct fake *f = vol;

	if (fake_find(f, path) >= 0)
		return -EEXIST;
	fake_add(f, path, 0, 0);
	*fh = (uint64_t)(f->n - 1);
	return 0;
}

static ssize_t fake_write(void *vol, uint64_t fh, const void *buf,
			  size_t size, off_t off)
{
	struct fake *f = vol;

	f->writes++;
	if (off + (off_t)size > f->e[fh].size)
		f->e[fh].size = off + (off_t)size;
	return (ssize_t)size;
}

static int fake_release(void *vol, uint64_t fh)
{
	struct fake *f = vol;

	f->releases++;
	return 0;
}

static void fake_close(void *vol)
{
	struct fake *f = vol;

	f->closes++;
}

static const struct volfs_pathops fake_ops = {
	.close = fake_close,
	.getattr = fake_getattr,
	.readdir = fake_readdir,
	.mkdir = fake_mkdir,
	.unlink = fake_unlink,
	.rename = fake_rename,
	.create_file = fake_create_file,
	.write = fake_write,
	.release = fake_release,
};

struct wrapped {
	struct fake f;
	const struct volfs_pathops *ops;
	void *vol;
};

static struct wrapped *wrap(unsigned ttl_ms)
{
	struct wrapped *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	assert_int_equal(pathcache_wrap(&fake_ops, &w->f, ttl_ms, &w->ops,
					&w->vol),
			 0);
	return w;
}

static void unwrap(struct wrapped *w)
{
	w->ops->close(w->vol);
	assert_int_equal(w->f.closes, 1);
	free(w);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

struct names {
	int n;
	int stop_after;
	char name[FAKE_MAX][32];
};

static int names_fill(void *ctx, const char *name, mode_t type,
		      const struct stat *st)
{
	struct names *l = ctx;

	snprintf(l->name[l->n], sizeof(l->name[0]), "%s", name);
	l->n++;
	return l->stop_after && l->n >= l->stop_after;
}

static int has_name(const struct names *l, const char *name)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->name[i], name) == 0)
			return 1;
	return 0;
}

/* The table keeps the inner's shape: no op appears that it lacks. */
static void cache_table_shape(void **state)
{
	struct wrapped *w = wrap(1000);

	assert_null(w->ops->symlink);
	assert_null(w->ops->read);
	assert_null(w->ops->chmod);
	assert_non_null(w->ops->getattr);
	assert_non_null(w->ops->readdir);
	assert_non_null(w->ops->release);
	unwrap(w);
}

static void cache_attr_hit_and_expiry(void **state)
{
	struct wrapped *w = wrap(200);
	struct pathcache_stats s;
	struct stat st;

	fake_add(&w->f, "a", 0, 5);
	assert_int_equal(w->ops->getattr(w->vol, "a", VOLFS_NO_FH, &st), 0);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(w->ops->getattr(w->vol, "a", VOLFS_NO_FH, &st), 0);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(w->f.getattrs, 1);
	pathcache_get_stats(w->vol, &s);
	assert_int_equal(s.attr_hits, 1);
	assert_int_equal(s.attr_misses, 1);

	/* A change behind the cache's back shows after the TTL, not before. */
	w->f.e[fake_find(&w->f, "a")].size = 9;
	assert_int_equal(w->ops->getattr(w->vol, "a", VOLFS_NO_FH, &st), 0);
	assert_int_equal(st.st_size, 5);
	sleep_ms(300);
	assert_int_equal(w->ops->getattr(w->vol, "a", VOLFS_NO_FH, &st), 0);
	assert_int_equal(st.st_size, 9);
	assert_int_equal(w->f.getattrs, 2);
	unwrap(w);
}

static void cache_negative(void **state)
{
	struct wrapped *w = wrap(10000);
	struct volfs_caller me = { 0 };
	struct stat st;
	uint64_t fh;

	assert_int_equal(w->ops->getattr(w->vol, "n", VOLFS_NO_FH, &st),
			 -ENOENT);
	assert_int_equal(w->ops->getattr(w->vol, "n", VOLFS_NO_FH, &st),
			 -ENOENT);
	assert_int_equal(w->f.getattrs, 1);
	/* Creating it through the cache ends "not found" at once. */
	assert_int_equal(w->ops->create_file(w->vol, "n", O_WRONLY, 0644, &me,
					    &fh),
			 0);
	assert_int_equal(w->ops->getattr(w->vol, "n", VOLFS_NO_FH, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(w->ops->release(w->vol, fh), 0);
	assert_int_equal(w->f.releases, 1);
	unwrap(w);
}

static void cache_write_invalidates(void **state)
{
	struct wrapped *w = wrap(10000);
	struct volfs_caller me = { 0 };
	struct stat st;
	uint64_t fh;

	assert_int_equal(w->ops->create_file(w->vol, "w", O_WRONLY, 0644, &me,
					    &fh),
			 0);
	assert_int_equal(w->ops->getattr(w->vol, "w", VOLFS_NO_FH, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(w->ops->write(w->vol, fh, "hello", 5, 0), 5);
	assert_int_equal(w->ops->getattr(w->vol, "w", VOLFS_NO_FH, &st), 0);
	assert_int_equal(st.st_size, 5);
	/* By handle: always the inner store's answer. */
	assert_int_equal(w->ops->getattr(w->vol, "w", fh, &st), 0);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(w->ops->release(w->vol, fh), 0);
	unwrap(w);
}

/* An open file's attributes come through its handle; after release, a
 * stat asks by path once. */
static void cache_open_handles(void **state)
{
	struct wrapped *w = wrap(10000);
	struct volfs_caller me = { 0 };
	struct stat st;
	uint64_t fh;

	assert_int_equal(w->ops->create_file(w->vol, "h", O_WRONLY, 0644, &me,
					    &fh),
			 0);
	assert_int_equal(w->ops->write(w->vol, fh, "abc", 3, 0), 3);
	assert_int_equal(w->ops->getattr(w->vol, "h", VOLFS_NO_FH, &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(w->f.by_handle, 1);
	assert_int_equal(w->ops->write(w->vol, fh, "defg", 4, 3), 4);
	assert_int_equal(w->ops->release(w->vol, fh), 0);
	w->f.getattrs = 0;
	assert_int_equal(w->ops->getattr(w->vol, "h", VOLFS_NO_FH, &st), 0);
	assert_int_equal(st.st_size, 7);
	assert_int_equal(w->ops->getattr(w->vol, "h", VOLFS_NO_FH, &st), 0);
	assert_int_equal(w->f.getattrs, 1);

	/* A handle whose name was removed no longer answers for the name. */
	assert_int_equal(w->ops->create_file(w->vol, "g", O_WRONLY, 0644, &me,
					    &fh),
			 0);
	assert_int_equal(w->ops->unlink(w->vol, "g"), 0);
	w->f.by_handle = 0;
	assert_int_equal(w->ops->getattr(w->vol, "g", VOLFS_NO_FH, &st),
			 -ENOENT);
	assert_int_equal(w->f.by_handle, 0);
	assert_int_equal(w->ops->release(w->vol, fh), 0);
	unwrap(w);
}

static void cache_listing(void **state)
{
	struct wrapped *w = wrap(10000);
	struct volfs_caller me = { 0 };
	struct pathcache_stats s;
	struct names l = { 0 };
	struct stat st;

	fake_add(&w->f, "d", 1, 0);
	fake_add(&w->f, "d/x", 0, 1);
	fake_add(&w->f, "d/y", 0, 2);
	assert_int_equal(w->ops->readdir(w->vol, "d", names_fill, &l), 0);
	assert_int_equal(l.n, 2);
	memset(&l, 0, sizeof(l));
	assert_int_equal(w->ops->readdir(w->vol, "d", names_fill, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(w->f.readdirs, 1);
	/* The listing brought the children's attributes. */
	assert_int_equal(w->ops->getattr(w->vol, "d/y", VOLFS_NO_FH, &st), 0);
	assert_int_equal(st.st_size, 2);
	assert_int_equal(w->f.getattrs, 0);
	/* A replay stops when fill says so. */
	memset(&l, 0, sizeof(l));
	l.stop_after = 1;
	assert_int_equal(w->ops->readdir(w->vol, "d", names_fill, &l), 0);
	assert_int_equal(l.n, 1);
	pathcache_get_stats(w->vol, &s);
	assert_int_equal(s.list_hits, 2);
	assert_int_equal(s.list_misses, 1);

	/* mkdir and unlink edit the parent's listing: no listing again. */
	assert_int_equal(w->ops->mkdir(w->vol, "d/z", 0755, &me), 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(w->ops->readdir(w->vol, "d", names_fill, &l), 0);
	assert_int_equal(l.n, 3);
	assert_true(has_name(&l, "z"));
	assert_int_equal(w->ops->unlink(w->vol, "d/x"), 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(w->ops->readdir(w->vol, "d", names_fill, &l), 0);
	assert_int_equal(l.n, 2);
	assert_false(has_name(&l, "x"));
	assert_int_equal(w->ops->getattr(w->vol, "d/x", VOLFS_NO_FH, &st),
			 -ENOENT);
	assert_int_equal(w->f.readdirs, 1);
	unwrap(w);
}

/*
 * A directory made here is known to be empty, and files created in it are
 * known: lookups of names not there, listings and the directory's own
 * attributes cost no call of the store until the TTL passes.
 */
static void cache_known_listing(void **state)
{
	struct wrapped *w = wrap(200);
	struct volfs_caller me = { 0 };
	struct names l = { 0 };
	struct stat st, dst;
	uint64_t fh;

	assert_int_equal(w->ops->mkdir(w->vol, "k", 0755, &me), 0);
	assert_int_equal(w->ops->getattr(w->vol, "k", VOLFS_NO_FH, &dst), 0);
	assert_int_equal(w->f.getattrs, 1);
	assert_int_equal(w->ops->getattr(w->vol, "k/a", VOLFS_NO_FH, &st),
			 -ENOENT);
	assert_int_equal(w->ops->create_file(w->vol, "k/a", O_WRONLY, 0644, &me,
					    &fh),
			 0);
	assert_int_equal(w->ops->release(w->vol, fh), 0);
	assert_int_equal(w->ops->getattr(w->vol, "k/b", VOLFS_NO_FH, &st),
			 -ENOENT);
	/* The directory's attributes stayed, with new times. */
	assert_int_equal(w->ops->getattr(w->vol, "k", VOLFS_NO_FH, &st), 0);
	assert_true(st.st_mtim.tv_sec > dst.st_mtim.tv_sec ||
		    (st.st_mtim.tv_sec == dst.st_mtim.tv_sec &&
		     st.st_mtim.tv_nsec >= dst.st_mtim.tv_nsec));
	assert_int_equal(w->ops->readdir(w->vol, "k", names_fill, &l), 0);
	assert_int_equal(l.n, 1);
	assert_true(has_name(&l, "a"));
	/* Only k's attributes were asked for, after mkdir. */
	assert_int_equal(w->f.readdirs, 0);
	assert_int_equal(w->f.getattrs, 1);
	/* The created file is found, not taken for absent. */
	assert_int_equal(w->ops->getattr(w->vol, "k/a", VOLFS_NO_FH, &st), 0);
	assert_int_equal(w->ops->unlink(w->vol, "k/a"), 0);
	assert_int_equal(w->ops->getattr(w->vol, "k/a", VOLFS_NO_FH, &st),
			 -ENOENT);
	/* Another client's file: seen once the TTL has passed. */
	fake_add(&w->f, "k/other", 0, 3);
	assert_int_equal(w->ops->getattr(w->vol, "k/other", VOLFS_NO_FH, &st),
			 -ENOENT);
	sleep_ms(300);
	assert_int_equal(w->ops->getattr(w->vol, "k/other", VOLFS_NO_FH, &st),
			 0);
	assert_int_equal(st.st_size, 3);
	/* The old listing was read again, and answers the next lookups. */
	assert_int_equal(w->f.readdirs, 1);
	assert_int_equal(w->ops->getattr(w->vol, "k/none", VOLFS_NO_FH, &st),
			 -ENOENT);
	assert_int_equal(w->f.readdirs, 1);
	unwrap(w);
}

/* A long listing (found through its index) stays right across creates and
 * removals. */
static void cache_long_listing(void **state)
{
	struct wrapped *w = wrap(10000);
	struct volfs_caller me = { 0 };
	struct names l = { 0 };
	struct stat st;
	char path[32];
	uint64_t fh;
	int before;

	assert_int_equal(w->ops->mkdir(w->vol, "big", 0755, &me), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "big/f%d", i);
		assert_int_equal(w->ops->getattr(w->vol, path, VOLFS_NO_FH,
						&st),
				 -ENOENT);
		assert_int_equal(w->ops->create_file(w->vol, path, O_WRONLY,
						    0644, &me, &fh),
				 0);
		assert_int_equal(w->ops->release(w->vol, fh), 0);
	}
	for (int i = 1; i < 200; i += 2) {
		snprintf(path, sizeof(path), "big/f%d", i);
		assert_int_equal(w->ops->unlink(w->vol, path), 0);
	}
	before = w->f.getattrs;
	for (int i = 0; i < 200; i++) {
		snprintf(path, sizeof(path), "big/f%d", i);
		assert_int_equal(w->ops->getattr(w->vol, path, VOLFS_NO_FH,
						&st),
				 i % 2 ? -ENOENT : 0);
	}
	/* The odd ones are known absent; the even ones' attributes came
	 * with one listing of the directory, not one by one. */
	assert_int_equal(w->f.getattrs, before);
	assert_int_equal(w->f.readdirs, 1);
	assert_int_equal(w->ops->readdir(w->vol, "big", names_fill, &l), 0);
	assert_int_equal(l.n, 100);
	for (int i = 0; i < 200; i += 2) {
		snprintf(path, sizeof(path), "f%d", i);
		assert_true(has_name(&l, path));
	}
	assert_int_equal(w->f.readdirs, 1);
	unwrap(w);
}

static void cache_rename_subtree(void **state)
{
	struct wrapped *w = wrap(10000);
	struct names l = { 0 };
	struct stat st;

	fake_add(&w->f, "p", 1, 0);
	fake_add(&w->f, "p/q", 1, 0);
	fake_add(&w->f, "p/q/f", 0, 7);
	fake_add(&w->f, "r", 1, 0);
	assert_int_equal(w->ops->getattr(w->vol, "p/q/f", VOLFS_NO_FH, &st), 0);
	assert_int_equal(w->ops->getattr(w->vol, "r/q/f", VOLFS_NO_FH, &st),
			 -ENOENT);
	assert_int_equal(w->ops->readdir(w->vol, ".", names_fill, &l), 0);
	assert_true(has_name(&l, "p"));
	/* Moving a directory moves what is known below it. */
	assert_int_equal(w->ops->rename(w->vol, "p", "r", 0), 0);
	assert_int_equal(w->ops->getattr(w->vol, "p/q/f", VOLFS_NO_FH, &st),
			 -ENOENT);
	assert_int_equal(w->ops->getattr(w->vol, "r/q/f", VOLFS_NO_FH, &st), 0);
	assert_int_equal(st.st_size, 7);
	memset(&l, 0, sizeof(l));
	assert_int_equal(w->ops->readdir(w->vol, ".", names_fill, &l), 0);
	assert_false(has_name(&l, "p"));
	assert_true(has_name(&l, "r"));
	unwrap(w);
}

/* A handle follows its file when it or a directory above it is renamed:
 * a write through it still drops the attributes kept of the new name. */
static void cache_rename_open_handle(void **state)
{
	struct wrapped *w = wrap(10000);
	struct volfs_caller me = { 0 };
	struct stat st;
	uint64_t fh;

	assert_int_equal(w->ops->mkdir(w->vol, "s", 0755, &me), 0);
	assert_int_equal(w->ops->create_file(w->vol, "s/f", O_WRONLY, 0644,
					     &me, &fh),
			 0);
	assert_int_equal(w->ops->rename(w->vol, "s", "t", 0), 0);
	assert_int_equal(w->ops->getattr(w->vol, "t/f", VOLFS_NO_FH, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(w->ops->write(w->vol, fh, "abc", 3, 0), 3);
	assert_int_equal(w->ops->getattr(w->vol, "t/f", VOLFS_NO_FH, &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(w->ops->rename(w->vol, "t/f", "t/g", 0), 0);
	assert_int_equal(w->ops->getattr(w->vol, "t/g", VOLFS_NO_FH, &st), 0);
	assert_int_equal(w->ops->write(w->vol, fh, "defg", 4, 3), 4);
	assert_int_equal(w->ops->getattr(w->vol, "t/g", VOLFS_NO_FH, &st), 0);
	assert_int_equal(st.st_size, 7);
	assert_int_equal(w->ops->release(w->vol, fh), 0);
	unwrap(w);
}

static void cache_listing_expiry(void **state)
{
	struct wrapped *w = wrap(150);
	struct names l = { 0 };

	fake_add(&w->f, "e", 0, 0);
	assert_int_equal(w->ops->readdir(w->vol, ".", names_fill, &l), 0);
	assert_int_equal(l.n, 1);
	/* Another client adds a file: seen once the TTL has passed. */
	fake_add(&w->f, "e2", 0, 0);
	memset(&l, 0, sizeof(l));
	assert_int_equal(w->ops->readdir(w->vol, ".", names_fill, &l), 0);
	assert_int_equal(l.n, 1);
	sleep_ms(250);
	memset(&l, 0, sizeof(l));
	assert_int_equal(w->ops->readdir(w->vol, ".", names_fill, &l), 0);
	assert_int_equal(l.n, 2);
	assert_int_equal(w->f.readdirs, 2);
	unwrap(w);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(cache_table_shape),
		cmocka_unit_test(cache_attr_hit_and_expiry),
		cmocka_unit_test(cache_negative),
		cmocka_unit_test(cache_write_invalidates),
		cmocka_unit_test(cache_open_handles),
		cmocka_unit_test(cache_listing),
		cmocka_unit_test(cache_known_listing),
		cmocka_unit_test(cache_long_listing),
		cmocka_unit_test(cache_rename_subtree),
		cmocka_unit_test(cache_rename_open_handle),
		cmocka_unit_test(cache_listing_expiry),
	};

	return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
