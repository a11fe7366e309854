/* SPDX-License-Identifier: MIT */
/* Volume names, option lists and option checks against a backend table. */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "volfs/options.h"
#include "volfs/util.h"

static void test_valid_names(void **state)
{
	static const char *const ok[] = { "a", "data", "pg1", "A.b-c_d",
					  "0", "x..y", "my-vol.2" };
	char longest[VOLFS_NAME_MAX + 1];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(volfs_name_check(ok[i], NULL), 0);
	memset(longest, 'a', VOLFS_NAME_MAX);
	longest[VOLFS_NAME_MAX] = '\0';
	assert_int_equal(volfs_name_check(longest, NULL), 0);
}

static void test_invalid_names(void **state)
{
	static const char *const bad[] = {
		"",     "..",  ".",   "../x", "a/b",	 "/abs", "-x",
		".hid", "_x",  "a b", "a\tb", "a\nb", "é",    "a:b",
		"a\\b", "x/..", "a*", "\x7f",
	};
	char toolong[VOLFS_NAME_MAX + 2];
	struct volfs_err err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		volfs_err_clear(&err);
		assert_int_equal(volfs_name_check(bad[i], &err), -EINVAL);
		assert_true(strlen(err.msg) > 0);
	}
	assert_int_equal(volfs_name_check(NULL, NULL), -EINVAL);
	memset(toolong, 'a', sizeof(toolong) - 1);
	toolong[sizeof(toolong) - 1] = '\0';
	assert_int_equal(volfs_name_check(toolong, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "256"));
	assert_int_equal(volfs_name_check("a\x01", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "control character"));
	/* Not ASCII: the byte is named, never quoted (it would not be
	 * valid UTF-8 on its own). */
	assert_int_equal(volfs_name_check("caf\xc3\xa9", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "non-ASCII byte 0xc3 at byte 3"));
	assert_null(strchr(err.msg, '\xc3'));
}

static void test_random_names(void **state)
{
	char a[65], b[65];

	assert_int_equal(volfs_name_random(a), 0);
	assert_int_equal(volfs_name_random(b), 0);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	assert_string_not_equal(a, b);
	assert_int_equal(volfs_name_check(a, NULL), 0);
}

static void test_kvlist(void **state)
{
	struct volfs_kvlist l = { 0 };
	struct volfs_err err;

	assert_int_equal(volfs_kvlist_parse(&l, "a=1", "option", &err), 0);
	assert_int_equal(volfs_kvlist_parse(&l, "b=x=y", "option", &err), 0);
	assert_int_equal(volfs_kvlist_parse(&l, "empty=", "option", &err), 0);
	assert_string_equal(volfs_kvlist_get(&l, "a"), "1");
	assert_string_equal(volfs_kvlist_get(&l, "b"), "x=y");
	assert_string_equal(volfs_kvlist_get(&l, "empty"), "");
	assert_null(volfs_kvlist_get(&l, "c"));
	assert_int_equal(l.n, 3);

	assert_int_equal(volfs_kvlist_parse(&l, "noequals", "option", &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "noequals"));
	assert_int_equal(volfs_kvlist_parse(&l, "=v", "label", &err),
			 -EINVAL);
	assert_int_equal(volfs_kvlist_parse(&l, "a=2", "option", &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "'a'"));
	assert_string_equal(volfs_kvlist_get(&l, "a"), "1");

	assert_int_equal(volfs_kvlist_set(&l, "a", "3"), 0);
	assert_string_equal(volfs_kvlist_get(&l, "a"), "3");
	assert_int_equal(l.n, 3);
	volfs_kvlist_release(&l);
}

static const struct volfs_optdesc fake_options[] = {
	{ .key = "share", .flags = VOLFS_OPT_REQUIRED, .help = "the share" },
	{ .key = "password", .flags = VOLFS_OPT_SECRET, .help = "a secret" },
	{ .key = "uid", .help = "owner" },
	{ 0 },
};

static const struct volfs_backend fake_backend = {
	.abi_version = VOLFS_BACKEND_ABI,
	.size = sizeof(struct volfs_backend),
	.name = "fake",
	.options = fake_options,
};

static void test_opts_check(void **state)
{
	struct volfs_kv good[] = { { "share", "//h/s" }, { "uid", "1" } };
	struct volfs_kv unknown[] = { { "share", "//h/s" }, { "usr", "x" } };
	struct volfs_kv missing[] = { { "uid", "1" } };
	struct volfs_err err;

	assert_int_equal(volfs_opts_check(&fake_backend, good, 2, &err), 0);
	assert_int_equal(volfs_opts_check(&fake_backend, unknown, 2, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "'usr'"));
	assert_non_null(strstr(err.msg, "share"));
	assert_int_equal(volfs_opts_check(&fake_backend, missing, 1, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "share"));
	assert_true(volfs_opt_is_secret(&fake_backend, "password"));
	assert_false(volfs_opt_is_secret(&fake_backend, "share"));
	assert_false(volfs_opt_is_secret(&fake_backend, "nonesuch"));
}

/* A stat through volfs_stat_bounded() is the stat itself, or its error. */
static void test_stat_bounded(void **state)
{
	struct stat st, want;

	assert_int_equal(stat("/", &want), 0);
	assert_int_equal(volfs_stat_bounded("/", &st, 5000), 0);
	assert_int_equal(st.st_ino, want.st_ino);
	assert_int_equal(st.st_dev, want.st_dev);
	assert_int_equal(volfs_stat_bounded("/", NULL, 5000), 0);
	assert_int_equal(volfs_stat_bounded("/nonexistent/volfs", &st, 5000),
			 -ENOENT);
	assert_int_equal(volfs_stat_bounded("/nonexistent/volfs", NULL, 5000),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_names),
		cmocka_unit_test(test_invalid_names),
		cmocka_unit_test(test_random_names),
		cmocka_unit_test(test_kvlist),
		cmocka_unit_test(test_opts_check),
		cmocka_unit_test(test_stat_bounded),
	};

	return cmocka_run_group_tests_name("names and options", tests, NULL,
					   NULL);
}
