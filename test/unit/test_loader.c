/* SPDX-License-Identifier: MIT */
/*
 * The loader's version rules for backend tables (volfs_backend_table()):
 * this core's abi_version only; a table of this core's size as it is; a
 * smaller one (a module built against an older header) completed with
 * absent members; a larger one (built against a newer header) refused.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "volfs/loader.h"

#define MODULE "/usr/lib/volfs/backends/old.so"

static int fake_statfs(void *vol, struct statvfs *sv)
{
	return -ENOSYS;
}

static int fake_lookup(void *vol, uint64_t parent, const char *name,
		       struct volfs_entry *e)
{
	return -ENOENT;
}

static off_t fake_lseek(void *vol, uint64_t fh, off_t off, int whence)
{
	return -ENXIO;
}

static int fake_opendir(void *vol, uint64_t node, uint64_t *dh)
{
	return -ENOTDIR;
}

static int fake_node_encode(void *vol, uint64_t node, void *buf, size_t *len)
{
	return -EOVERFLOW;
}

/* A module's table of this core's header, every member set. */
static const struct volfs_backend fake_full = {
	.abi_version = VOLFS_BACKEND_ABI,
	.size = sizeof(struct volfs_backend),
	.name = "old",
	.description = "a module of some version",
	.statfs = fake_statfs,
	.lookup = fake_lookup,
	.lseek = fake_lseek,
	.opendir = fake_opendir,
	.node_encode = fake_node_encode,
};

/*
 * Makes in *be the table a module built against an older header would
 * give: the members before size as fake_full has them, and whatever
 * happens to follow in memory (here 0xa5 bytes) after them.
 */
static void old_table(struct volfs_backend *be, size_t size)
{
	memset(be, 0xa5, sizeof(*be));
	memcpy(be, &fake_full, size);
	be->size = size;
}

static void test_current_size(void **state)
{
	const struct volfs_backend *out = NULL;
	struct volfs_err err = { "" };

	assert_int_equal(volfs_backend_table(&fake_full, MODULE, &out, &err),
			 0);
	assert_ptr_equal(out, &fake_full);
	assert_string_equal(err.msg, "");
}

/* A module that knows everything but node_encode and node_decode. */
static void test_older_module(void **state)
{
	static struct volfs_backend old;
	const size_t size = offsetof(struct volfs_backend, node_encode);
	const struct volfs_backend *out = NULL, *again = NULL;
	struct volfs_backend before;
	struct volfs_err err = { "" };

	old_table(&old, size);
	before = old;
	assert_int_equal(volfs_backend_table(&old, MODULE, &out, &err), 0);
	assert_non_null(out);
	assert_string_equal(err.msg, "");
	/* Its members as the module gave them, the ones it does not know
	 * absent, and the size of a complete table. */
	assert_int_equal(out->abi_version, VOLFS_BACKEND_ABI);
	assert_int_equal(out->size, sizeof(struct volfs_backend));
	assert_string_equal(out->name, "old");
	assert_ptr_equal(out->statfs, fake_statfs);
	assert_ptr_equal(out->lookup, fake_lookup);
	assert_ptr_equal(out->lseek, fake_lseek);
	assert_ptr_equal(out->opendir, fake_opendir);
	assert_null(out->node_encode);
	assert_null(out->node_decode);
	/* The module's own table is left alone. */
	assert_memory_equal(&old, &before, sizeof(old));
	/* Asked again (open_as() hands tables over too): the same table. */
	assert_int_equal(volfs_backend_table(&old, MODULE, &again, &err), 0);
	assert_ptr_equal(again, out);
}

/* A module older still: no directory handles, no xattrs, no handles. */
static void test_older_module_dirs(void **state)
{
	static struct volfs_backend old;
	const size_t size = offsetof(struct volfs_backend, opendir);
	const struct volfs_backend *out = NULL;
	struct volfs_err err = { "" };

	old_table(&old, size);
	assert_int_equal(volfs_backend_table(&old, MODULE, &out, &err), 0);
	assert_ptr_equal(out->lseek, fake_lseek);
	assert_ptr_equal(out->lookup, fake_lookup);
	assert_null(out->opendir);
	assert_null(out->readdir);
	assert_null(out->fsyncdir);
	assert_null(out->releasedir);
	assert_null(out->setxattr);
	assert_null(out->getxattr);
	assert_null(out->listxattr);
	assert_null(out->removexattr);
	assert_null(out->node_encode);
	assert_null(out->node_decode);
}

/* A module built against a newer header: its table is larger. */
static void test_newer_module(void **state)
{
	static struct {
		struct volfs_backend be;
		void (*later_op)(void *vol);
	} newer;
	const size_t size = sizeof(newer);
	const struct volfs_backend *out = &fake_full;
	struct volfs_err err = { "" };
	char want[64];

	newer.be = fake_full;
	newer.be.size = size;
	assert_true(size > sizeof(struct volfs_backend));
	assert_int_equal(volfs_backend_table(&newer.be, MODULE, &out, &err),
			 -EPROTO);
	assert_ptr_equal(out, &fake_full);
	print_message("      message: %s\n", err.msg);
	assert_non_null(strstr(err.msg, MODULE));
	snprintf(want, sizeof(want), "%zu", size);
	assert_non_null(strstr(err.msg, want));
	snprintf(want, sizeof(want), "%zu", sizeof(struct volfs_backend));
	assert_non_null(strstr(err.msg, want));
	/* Without a place for the message, the answer is the same. */
	assert_int_equal(volfs_backend_table(&newer.be, MODULE, &out, NULL),
			 -EPROTO);
}

/* Another abi_version, older or newer, whatever the size. */
static void test_other_abi(void **state)
{
	static const int abis[] = { VOLFS_BACKEND_ABI - 1,
				    VOLFS_BACKEND_ABI + 1, 0 };
	static struct volfs_backend other;
	const struct volfs_backend *out = &fake_full;
	struct volfs_err err;
	char want[64];

	for (size_t i = 0; i < sizeof(abis) / sizeof(abis[0]); i++) {
		other = fake_full;
		other.abi_version = abis[i];
		err.msg[0] = '\0';
		assert_int_equal(volfs_backend_table(&other, MODULE, &out,
						     &err),
				 -EPROTO);
		assert_ptr_equal(out, &fake_full);
		print_message("      message: %s\n", err.msg);
		assert_non_null(strstr(err.msg, MODULE));
		snprintf(want, sizeof(want), "ABI %d", abis[i]);
		assert_non_null(strstr(err.msg, want));
		snprintf(want, sizeof(want), "ABI %d", VOLFS_BACKEND_ABI);
		assert_non_null(strstr(err.msg, want));
	}
}

/* No table, or one too small to hold even the fixed members. */
static void test_no_table(void **state)
{
	static struct volfs_backend tiny;
	const struct volfs_backend *out = &fake_full;
	struct volfs_err err = { "" };

	assert_int_equal(volfs_backend_table(NULL, MODULE, &out, &err),
			 -EPROTO);
	assert_non_null(strstr(err.msg, MODULE));
	old_table(&tiny, offsetof(struct volfs_backend, name));
	err.msg[0] = '\0';
	assert_int_equal(volfs_backend_table(&tiny, MODULE, &out, &err),
			 -EPROTO);
	assert_non_null(strstr(err.msg, MODULE));
	assert_ptr_equal(out, &fake_full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_current_size),
		cmocka_unit_test(test_older_module),
		cmocka_unit_test(test_older_module_dirs),
		cmocka_unit_test(test_newer_module),
		cmocka_unit_test(test_other_abi),
		cmocka_unit_test(test_no_table),
	};

	return cmocka_run_group_tests_name("backend table versions", tests,
					   NULL, NULL);
}
