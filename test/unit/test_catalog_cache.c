/* SPDX-License-Identifier: MIT */
/*
 * The catalog built with a cache of two prepared statements (see
 * Makefile.am), so that ordinary calls prepare more statements than the
 * cache holds: those are finalized after use, and every call still works.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "volfs/catalog.h"
#include "volfs/util.h"

static void test_past_cache(void **state)
{
	char dir[] = "/tmp/volfs-test-catcache-XXXXXX", root[64];
	struct volfs_catalog *cat = NULL;
	struct volfs_err err = { "" };
	struct volfs_attachment *att;
	struct volfs_volume *list, v = {
		.name = (char *)"data",
		.backend = (char *)"local",
	};
	struct volfs_attachment a = {
		.volume = (char *)"data",
		.consumer = (char *)"docker:aa",
	};
	int n;

	(void)state;
	/* A statement given back wrongly may loop for ever: fail instead. */
	alarm(60);
	assert_non_null(mkdtemp(dir));
	snprintf(root, sizeof(root), "%s/state", dir);
	assert_int_equal(volfs_catalog_open(root, &cat, &err), 0);
	/* Each round runs some twenty distinct statements. */
	for (int round = 0; round < 3; round++) {
		assert_int_equal(volfs_catalog_reserve(cat, &v, &err), 0);
		assert_int_equal(volfs_catalog_set_state(cat, "data",
							 VOLFS_VOL_READY,
							 &err),
				 0);
		assert_int_equal(volfs_catalog_ref(cat, &a, &err), 1);
		assert_int_equal(volfs_catalog_ref(cat, &a, &err), 2);
		n = volfs_catalog_list(cat, &list, &err);
		assert_int_equal(n, 1);
		assert_int_equal(list[0].refcount, 2);
		volfs_volumes_free(list, (size_t)n);
		n = volfs_catalog_attachments(cat, NULL, &att, &err);
		assert_int_equal(n, 1);
		volfs_attachments_free(att, (size_t)n);
		assert_int_equal(volfs_catalog_unref(cat, "data", "docker:aa",
						     &err),
				 1);
		assert_int_equal(volfs_catalog_begin_remove(cat, "data", 1,
							    &err),
				 0);
		assert_int_equal(volfs_catalog_delete(cat, "data", &err), 0);
		assert_int_equal(volfs_catalog_reap(cat, &err), 0);
	}
	volfs_catalog_close(cat);
	volfs_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_past_cache),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
