/* SPDX-License-Identifier: MIT */
/*
 * The inode table: one node id per (volume, backend node), lookup counts,
 * the backend references forgets give back, and a volume's last node.
 */
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

#include "volfs/backend.h"
#include "volfs/nodes.h"

static uint64_t add(struct volfs_nodes *t, struct volfs_nodes_vol *vol,
		    uint64_t bnode)
{
	uint64_t ino = 0;

	assert_int_equal(volfs_nodes_add(t, vol, bnode, &ino), 0);
	assert_true(ino != 0);
	return ino;
}

/*
 * Forgets n of ino, finishing the forget as the glue does; returns the
 * backend references handed back and sets *last when the volume went.
 */
static uint64_t forget(struct volfs_nodes *t, uint64_t ino, uint64_t n,
		       int *last)
{
	struct volfs_nodes_vol *vol = NULL;
	uint64_t bnode = 0, refs = 0;

	*last = 0;
	if (volfs_nodes_forget(t, ino, n, &vol, &bnode, &refs))
		*last = volfs_nodes_done(t, vol);
	return refs;
}

static void test_one_id_per_file(void **state)
{
	struct volfs_nodes_vol va = { 0 };
	struct volfs_nodes *t = volfs_nodes_new(&va);
	uint64_t a, b, c;
	int last;

	(void)state;
	assert_non_null(t);
	/* The volume's root is the table's root. */
	assert_int_equal(add(t, &va, VOLFS_ROOT_NODE), VOLFS_NODES_ROOT);
	assert_int_equal(volfs_nodes_get(t, VOLFS_NODES_ROOT)->bnode,
			 VOLFS_ROOT_NODE);
	a = add(t, &va, 100);
	/* The same file reached by another name: the same node. */
	b = add(t, &va, 100);
	assert_int_equal(a, b);
	c = add(t, &va, 200);
	assert_int_not_equal(a, c);
	assert_int_equal(volfs_nodes_get(t, a)->bnode, 100);
	assert_ptr_equal(volfs_nodes_get(t, a)->vol, &va);
	assert_int_not_equal(volfs_nodes_get(t, a)->serial,
			     volfs_nodes_get(t, c)->serial);
	assert_int_equal(volfs_nodes_count(t), 3);
	/* Two lookups hold two backend references, given back as the kernel
	 * forgets them. */
	assert_int_equal(forget(t, a, 1, &last), 1);
	assert_false(last);
	assert_int_equal(volfs_nodes_count(t), 3);
	assert_int_equal(forget(t, a, 1, &last), 1);
	assert_int_equal(volfs_nodes_count(t), 2);
	/* A forget of more than is held gives back only what was. */
	assert_int_equal(forget(t, c, 5, &last), 1);
	assert_int_equal(volfs_nodes_count(t), 1);
	/* The root is never forgotten. */
	assert_int_equal(forget(t, VOLFS_NODES_ROOT, 1, &last), 0);
	assert_int_equal(volfs_nodes_count(t), 1);
	volfs_nodes_free(t, NULL, NULL);
}

static void test_volumes_apart(void **state)
{
	struct volfs_nodes_vol va = { 0 }, vb = { 0 };
	struct volfs_nodes *t = volfs_nodes_new(NULL);
	uint64_t ra, rb, fa, fb;
	int last;

	(void)state;
	assert_non_null(t);
	assert_null(volfs_nodes_get(t, VOLFS_NODES_ROOT)->vol);
	/* Under serve, a volume's root is a node of its own, holding no
	 * backend reference. */
	ra = add(t, &va, VOLFS_ROOT_NODE);
	rb = add(t, &vb, VOLFS_ROOT_NODE);
	assert_int_not_equal(ra, rb);
	assert_int_not_equal(ra, VOLFS_NODES_ROOT);
	/* Equal backend nodes of two volumes are two files. */
	fa = add(t, &va, 42);
	fb = add(t, &vb, 42);
	assert_int_not_equal(fa, fb);
	assert_true(volfs_nodes_held(t, &va));
	assert_int_equal(forget(t, ra, 1, &last), 0);
	assert_false(last);
	assert_int_equal(forget(t, fa, 1, &last), 1);
	assert_true(last);
	assert_false(volfs_nodes_held(t, &va));
	assert_true(volfs_nodes_held(t, &vb));
	assert_int_equal(forget(t, fb, 1, &last), 1);
	assert_false(last);
	assert_int_equal(forget(t, rb, 1, &last), 0);
	assert_true(last);
	volfs_nodes_free(t, NULL, NULL);
}

/*
 * A volume is gone only when every forget of its nodes is done: a forget
 * that gave its references back late must not find the volume closed by
 * another that finished first.
 */
static void test_volume_gone_after_every_forget(void **state)
{
	struct volfs_nodes_vol va = { 0 }, *vol = NULL;
	struct volfs_nodes *t = volfs_nodes_new(NULL);
	uint64_t r, d, f, bnode, refs;
	int last;

	(void)state;
	r = add(t, &va, VOLFS_ROOT_NODE);
	d = add(t, &va, 1);
	f = add(t, &va, 2);
	add(t, &va, 2);
	/* One reference of f goes; its backend call is still under way. */
	assert_int_equal(volfs_nodes_forget(t, f, 1, &vol, &bnode, &refs), 1);
	assert_int_equal(refs, 1);
	assert_int_equal(bnode, 2);
	/* Meanwhile the rest goes, the directory before its file and the
	 * root first, in whatever order the kernel sends. */
	assert_int_equal(forget(t, r, 1, &last), 0);
	assert_false(last);
	assert_int_equal(forget(t, d, 1, &last), 1);
	assert_false(last);
	assert_int_equal(forget(t, f, 1, &last), 1);
	assert_false(last);
	assert_true(volfs_nodes_held(t, &va));
	/* The late one finishes: now the volume is gone. */
	assert_true(volfs_nodes_done(t, vol));
	assert_false(volfs_nodes_held(t, &va));
	volfs_nodes_free(t, NULL, NULL);
}

static uint64_t dropped_refs;
static unsigned dropped_nodes;

static void drop(struct volfs_nodes_vol *vol, uint64_t bnode, uint64_t refs,
		 void *ctx)
{
	(void)vol;
	(void)bnode;
	(void)ctx;
	dropped_refs += refs;
	dropped_nodes++;
}

/* At shutdown every reference the kernel never gave back is handed over. */
static void test_free_hands_back(void **state)
{
	struct volfs_nodes_vol va = { 0 };
	struct volfs_nodes *t = volfs_nodes_new(&va);

	(void)state;
	for (uint64_t i = 1; i <= 5000; i++) {
		add(t, &va, i);
		if (i % 2)
			add(t, &va, i);
	}
	assert_int_equal(volfs_nodes_count(t), 5001);
	dropped_refs = dropped_nodes = 0;
	volfs_nodes_free(t, drop, NULL);
	assert_int_equal(dropped_nodes, 5000);
	assert_int_equal(dropped_refs, 7500);
}

struct worker {
	struct volfs_nodes *t;
	struct volfs_nodes_vol *vol;
	uint64_t base;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	int last;

	for (int round = 0; round < 20; round++) {
		for (uint64_t i = 0; i < 2000; i++) {
			uint64_t a = add(w->t, w->vol, i % 500 + 1);

			assert_int_equal(volfs_nodes_get(w->t, a)->bnode,
					 i % 500 + 1);
			forget(w->t, a, 1, &last);
		}
	}
	return NULL;
}

/* Many threads adding and forgetting the same files: the counts hold. */
static void test_threads(void **state)
{
	struct volfs_nodes_vol va = { 0 };
	struct volfs_nodes *t = volfs_nodes_new(NULL);
	struct worker w[8];
	pthread_t th[8];
	uint64_t r;
	int last;

	(void)state;
	r = add(t, &va, VOLFS_ROOT_NODE);
	for (int i = 0; i < 8; i++) {
		w[i] = (struct worker){ .t = t, .vol = &va };
		assert_int_equal(pthread_create(&th[i], NULL, worker, &w[i]),
				 0);
	}
	for (int i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(volfs_nodes_count(t), 2);
	assert_int_equal(forget(t, r, 1, &last), 0);
	assert_true(last);
	assert_int_equal(volfs_nodes_count(t), 1);
	volfs_nodes_free(t, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_id_per_file),
		cmocka_unit_test(test_volumes_apart),
		cmocka_unit_test(test_volume_gone_after_every_forget),
		cmocka_unit_test(test_free_hands_back),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests_name("inode table", tests, NULL, NULL);
}
