/* SPDX-License-Identifier: MIT */
/* The inode table: paths, lookups, renames, unlinks, hard links, forget. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "volfs/nodes.h"

/* Volume tags. */
static int vol_a, vol_b;

static struct stat mkst(ino_t ino, mode_t type)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_dev = 7;
	st.st_ino = ino;
	st.st_mode = type | 0644;
	return st;
}

static uint64_t look(struct volfs_nodes *t, uint64_t parent, const char *name,
		     ino_t bino, mode_t type)
{
	struct stat st = mkst(bino, type);
	uint64_t ino = 0;

	assert_int_equal(volfs_nodes_lookup(t, parent, name, &st, &ino), 0);
	assert_true(ino > VOLFS_NODES_ROOT);
	return ino;
}

static void assert_path(struct volfs_nodes *t, uint64_t ino, const char *want)
{
	char buf[256];

	assert_int_equal(volfs_nodes_path(t, ino, buf, sizeof(buf), NULL), 0);
	assert_string_equal(buf, want);
}

static void test_paths(void **state)
{
	struct volfs_nodes *t = volfs_nodes_new(&vol_a, 1);
	uint64_t a, b, c;
	char buf[256];

	assert_non_null(t);
	assert_path(t, VOLFS_NODES_ROOT, ".");
	a = look(t, VOLFS_NODES_ROOT, "a", 10, S_IFDIR);
	b = look(t, a, "b", 11, S_IFDIR);
	c = look(t, b, "c.txt", 12, S_IFREG);
	assert_path(t, a, "a");
	assert_path(t, c, "a/b/c.txt");
	assert_int_equal(volfs_nodes_child_path(t, b, "new", buf, sizeof(buf), NULL),
			 0);
	assert_string_equal(buf, "a/b/new");
	assert_int_equal(volfs_nodes_child_path(t, VOLFS_NODES_ROOT, "x", buf, sizeof(buf), NULL),
			 0);
	assert_string_equal(buf, "x");
	/* The same file looked up again is the same node. */
	assert_int_equal(look(t, b, "c.txt", 12, S_IFREG), c);
	assert_int_equal(volfs_nodes_path(t, 999, buf, sizeof(buf), NULL), -ESTALE);
	assert_int_equal(volfs_nodes_path(t, c, buf, 5, NULL), -ENAMETOOLONG);
	assert_int_equal(volfs_nodes_count(t), 4);
	volfs_nodes_free(t);
}

static void test_rename_moves_subtree(void **state)
{
	struct volfs_nodes *t = volfs_nodes_new(&vol_a, 1);
	uint64_t a, b, c, d;

	a = look(t, VOLFS_NODES_ROOT, "a", 10, S_IFDIR);
	b = look(t, a, "b", 11, S_IFDIR);
	c = look(t, b, "c", 12, S_IFREG);
	d = look(t, VOLFS_NODES_ROOT, "d", 13, S_IFDIR);
	volfs_nodes_renamed(t, a, "b", d, "bb", 0, 0);
	assert_path(t, b, "d/bb");
	assert_path(t, c, "d/bb/c");
	/* Exchange swaps the two names. */
	volfs_nodes_renamed(t, VOLFS_NODES_ROOT, "a", VOLFS_NODES_ROOT, "d",
			    1, 0);
	assert_path(t, a, "d");
	assert_path(t, d, "a");
	assert_path(t, c, "a/bb/c");
	volfs_nodes_free(t);
}

static void test_rename_over_target(void **state)
{
	struct volfs_nodes *t = volfs_nodes_new(&vol_a, 1);
	uint64_t x, y, z;
	char buf[64];

	x = look(t, VOLFS_NODES_ROOT, "x", 20, S_IFREG);
	y = look(t, VOLFS_NODES_ROOT, "y", 21, S_IFREG);
	volfs_nodes_renamed(t, VOLFS_NODES_ROOT, "x", VOLFS_NODES_ROOT, "y", 0,
			    1);
	assert_path(t, x, "y");
	/* The replaced file keeps its last path, marked as unlinked. */
	assert_int_equal(volfs_nodes_path(t, y, buf, sizeof(buf), NULL), 1);
	/* Its identity was freed: a new file with the same inode number is
	 * a new node. */
	z = look(t, VOLFS_NODES_ROOT, "z", 21, S_IFREG);
	assert_int_not_equal(z, y);
	volfs_nodes_free(t);
}

static void test_hard_links_share_a_node(void **state)
{
	struct volfs_nodes *t = volfs_nodes_new(&vol_a, 1);
	uint64_t f, g;

	f = look(t, VOLFS_NODES_ROOT, "f", 30, S_IFREG);
	g = look(t, VOLFS_NODES_ROOT, "g", 30, S_IFREG);
	assert_int_equal(f, g);
	assert_path(t, f, "g");
	/* Unlinking one name (not the last) keeps the file reachable by its
	 * other name at the next lookup. */
	volfs_nodes_unlinked(t, VOLFS_NODES_ROOT, "g", 0);
	assert_int_equal(look(t, VOLFS_NODES_ROOT, "f", 30, S_IFREG), f);
	assert_path(t, f, "f");
	volfs_nodes_free(t);
}

static void test_hard_link_alias(void **state)
{
	struct volfs_nodes *t = volfs_nodes_new(&vol_a, 1);
	uint64_t f, g;

	f = look(t, VOLFS_NODES_ROOT, "f", 31, S_IFREG);
	g = look(t, VOLFS_NODES_ROOT, "g", 31, S_IFREG);
	assert_int_equal(f, g);
	/* The name the node is known by goes: it takes the other one at
	 * once, without a lookup. */
	volfs_nodes_unlinked_alias(t, VOLFS_NODES_ROOT, "g", "f");
	assert_path(t, f, "f");
	/* A name the node is not known by changes nothing. */
	volfs_nodes_unlinked_alias(t, VOLFS_NODES_ROOT, "x", "y");
	assert_path(t, f, "f");
	volfs_nodes_free(t);
}

static void test_by_name_mode(void **state)
{
	struct volfs_nodes *t = volfs_nodes_new(&vol_a, 0);
	uint64_t f, g;

	/* Without stable inode numbers, names identify files. */
	f = look(t, VOLFS_NODES_ROOT, "f", 0, S_IFREG);
	g = look(t, VOLFS_NODES_ROOT, "g", 0, S_IFREG);
	assert_int_not_equal(f, g);
	assert_int_equal(look(t, VOLFS_NODES_ROOT, "f", 0, S_IFREG), f);
	/* A name that now holds a directory is a new node. */
	volfs_nodes_unlinked(t, VOLFS_NODES_ROOT, "f", 1);
	assert_int_not_equal(look(t, VOLFS_NODES_ROOT, "f", 0, S_IFDIR), f);
	volfs_nodes_free(t);
}

static void test_forget_frees(void **state)
{
	struct volfs_nodes *t = volfs_nodes_new(&vol_a, 1);
	uint64_t a, b;
	char buf[64];

	a = look(t, VOLFS_NODES_ROOT, "a", 10, S_IFDIR);
	b = look(t, a, "b", 11, S_IFREG);
	look(t, a, "b", 11, S_IFREG);
	/* The parent stays while a child needs it for its path. */
	volfs_nodes_forget(t, a, 1);
	assert_path(t, b, "a/b");
	volfs_nodes_forget(t, b, 1);
	assert_path(t, b, "a/b");
	volfs_nodes_forget(t, b, 1);
	assert_int_equal(volfs_nodes_path(t, b, buf, sizeof(buf), NULL), -ESTALE);
	assert_int_equal(volfs_nodes_path(t, a, buf, sizeof(buf), NULL), -ESTALE);
	assert_int_equal(volfs_nodes_count(t), 1);
	/* The root is never forgotten. */
	volfs_nodes_forget(t, VOLFS_NODES_ROOT, 100);
	assert_path(t, VOLFS_NODES_ROOT, ".");
	volfs_nodes_free(t);
}

static void test_unlinked_directory_children(void **state)
{
	struct volfs_nodes *t = volfs_nodes_new(&vol_a, 1);
	uint64_t d;
	char buf[64];

	d = look(t, VOLFS_NODES_ROOT, "d", 40, S_IFDIR);
	volfs_nodes_unlinked(t, VOLFS_NODES_ROOT, "d", 1);
	assert_int_equal(volfs_nodes_child_path(t, d, "x", buf, sizeof(buf), NULL),
			 -ENOENT);
	volfs_nodes_free(t);
}

struct grow_arg {
	struct volfs_nodes *t;
	int base;
};

static void *grow_thread(void *p)
{
	struct grow_arg *g = p;
	char name[32];

	for (int i = 0; i < 5000; i++) {
		struct stat st = mkst((ino_t)(g->base + i + 100), S_IFREG);
		uint64_t ino;

		snprintf(name, sizeof(name), "f%d", g->base + i);
		if (volfs_nodes_lookup(g->t, VOLFS_NODES_ROOT, name, &st,
				       &ino) < 0)
			return (void *)1;
	}
	return NULL;
}

static void test_many_nodes_threads(void **state)
{
	struct volfs_nodes *t = volfs_nodes_new(&vol_a, 1);
	struct grow_arg args[4];
	pthread_t th[4];
	void *ret;

	for (int i = 0; i < 4; i++) {
		args[i] = (struct grow_arg){ t, i * 5000 };
		pthread_create(&th[i], NULL, grow_thread, &args[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], &ret);
		assert_null(ret);
	}
	assert_int_equal(volfs_nodes_count(t), 20001);
	assert_path(t, look(t, VOLFS_NODES_ROOT, "f19999", 19999 + 100,
			    S_IFREG),
		    "f19999");
	volfs_nodes_free(t);
}

static void test_volume_roots(void **state)
{
	struct volfs_nodes *t = volfs_nodes_new(NULL, 0);
	uint64_t ra, rb, fa, fb;
	struct stat st = mkst(50, S_IFREG);
	void *vol = &vol_b;
	char buf[64];

	/* The root of a volume list has no volume: nothing lives in it. */
	assert_int_equal(volfs_nodes_lookup(t, VOLFS_NODES_ROOT, "x", &st,
					    &fa),
			 -ENOENT);
	assert_int_equal(volfs_nodes_path(t, VOLFS_NODES_ROOT, buf,
					  sizeof(buf), &vol),
			 0);
	assert_null(vol);
	assert_int_equal(volfs_nodes_lookup_volume(t, "a", &vol_a, 1, &ra), 0);
	assert_int_equal(volfs_nodes_lookup_volume(t, "b", &vol_b, 1, &rb), 0);
	assert_int_not_equal(ra, rb);
	assert_int_equal(volfs_nodes_path(t, ra, buf, sizeof(buf), &vol), 0);
	assert_string_equal(buf, ".");
	assert_ptr_equal(vol, &vol_a);
	/* The same inode number in two volumes is two files. */
	fa = look(t, ra, "f", 50, S_IFREG);
	fb = look(t, rb, "f", 50, S_IFREG);
	assert_int_not_equal(fa, fb);
	assert_int_equal(volfs_nodes_path(t, fb, buf, sizeof(buf), &vol), 0);
	assert_string_equal(buf, "f");
	assert_ptr_equal(vol, &vol_b);
	assert_int_equal(volfs_nodes_child_path(t, ra, "g", buf, sizeof(buf),
						&vol),
			 0);
	assert_string_equal(buf, "g");
	assert_ptr_equal(vol, &vol_a);
	/* Looking a volume up again is the same node; a new opening of it
	 * is a new one. */
	assert_int_equal(volfs_nodes_lookup_volume(t, "a", &vol_a, 1, &fa), 0);
	assert_int_equal(fa, ra);
	assert_int_equal(volfs_nodes_lookup_volume(t, "a", &vol_b, 1, &fa), 0);
	assert_int_not_equal(fa, ra);
	/* The old root stays the root of its volume, for whoever is still
	 * inside it. */
	assert_int_equal(volfs_nodes_path(t, ra, buf, sizeof(buf), &vol), 0);
	assert_ptr_equal(vol, &vol_a);
	assert_int_equal(volfs_nodes_child_path(t, ra, "g", buf, sizeof(buf),
						&vol),
			 0);
	assert_string_equal(buf, "g");
	assert_ptr_equal(vol, &vol_a);
	volfs_nodes_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_rename_moves_subtree),
		cmocka_unit_test(test_rename_over_target),
		cmocka_unit_test(test_hard_links_share_a_node),
		cmocka_unit_test(test_by_name_mode),
		cmocka_unit_test(test_forget_frees),
		cmocka_unit_test(test_unlinked_directory_children),
		cmocka_unit_test(test_hard_link_alias),
		cmocka_unit_test(test_many_nodes_threads),
		cmocka_unit_test(test_volume_roots),
	};

	return cmocka_run_group_tests_name("inode table", tests, NULL, NULL);
}
