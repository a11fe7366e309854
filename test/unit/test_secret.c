/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of secret options: the key file, sealing and opening values,
 * the option-list helpers built on them, credentials files and scrubbing a
 * secret from argv.  Each test gets its own state root under /tmp.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "volfs/options.h"
#include "volfs/secret.h"
#include "volfs/util.h"

#define PW "hunter2-Pa55word"

struct tsec {
	char root[64];
	char keyfile[128];
	struct volfs_err err;
};

static int tsec_setup(void **state)
{
	struct tsec *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	snprintf(t->root, sizeof(t->root), "/tmp/volfs-test-secret-XXXXXX");
	if (!mkdtemp(t->root)) {
		free(t);
		return -1;
	}
	snprintf(t->keyfile, sizeof(t->keyfile), "%s/%s", t->root,
		 VOLFS_SECRET_KEY_FILE);
	*state = t;
	return 0;
}

static int tsec_teardown(void **state)
{
	struct tsec *t = *state;

	volfs_rm_rf(t->root);
	free(t);
	return 0;
}

static struct volfs_secret_key *tsec_key(struct tsec *t, int create)
{
	struct volfs_secret_key *k = NULL;
	int rc = volfs_secret_key_load(t->root, create, &k, &t->err);

	if (rc != 0)
		fail_msg("volfs_secret_key_load: %d: %s", rc, t->err.msg);
	return k;
}

static void tsec_write(const char *path, const void *data, size_t len,
		       mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* The number of entries in dir. */
static int tsec_count(const char *dir)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* The message must not contain the secret. */
static void tsec_no_secret(const struct volfs_err *err, const char *secret)
{
	if (strstr(err->msg, secret))
		fail_msg("message shows the secret: %s", err->msg);
}

static void test_round_trip(void **state)
{
	struct tsec *t = *state;
	const char *values[] = { PW, "", "x", "with spaces and = signs",
				 "\xc3\xa4\xff\x01" };
	struct volfs_secret_key *k = tsec_key(t, 1);
	char *sealed, *plain;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		assert_int_equal(volfs_secret_seal(k, "vol1", "password",
						   values[i], &sealed,
						   &t->err),
				 0);
		assert_true(volfs_secret_is_sealed(sealed));
		if (strlen(values[i]) > 8)
			assert_null(strstr(sealed, values[i]));
		assert_int_equal(volfs_secret_open(k, "vol1", "password",
						   sealed, &plain, &t->err),
				 0);
		assert_string_equal(plain, values[i]);
		volfs_secret_free(plain);
		free(sealed);
	}
	volfs_secret_key_free(k);
}

static void test_long_value(void **state)
{
	struct tsec *t = *state;
	struct volfs_secret_key *k = tsec_key(t, 1);
	char *big = malloc(5000), *sealed, *plain;

	assert_non_null(big);
	memset(big, 'k', 4999);
	big[4999] = '\0';
	assert_int_equal(volfs_secret_seal(k, "v", "key", big, &sealed,
					   &t->err),
			 0);
	assert_int_equal(volfs_secret_open(k, "v", "key", sealed, &plain,
					   &t->err),
			 0);
	assert_string_equal(plain, big);
	volfs_secret_free(plain);
	free(sealed);
	free(big);
	volfs_secret_key_free(k);
}

static void test_random_nonces(void **state)
{
	struct tsec *t = *state;
	struct volfs_secret_key *k = tsec_key(t, 1);
	char *a, *b;

	assert_int_equal(volfs_secret_seal(k, "v", "password", PW, &a,
					   &t->err),
			 0);
	assert_int_equal(volfs_secret_seal(k, "v", "password", PW, &b,
					   &t->err),
			 0);
	assert_string_not_equal(a, b);
	/* Not even the nonces (the first 16 base64 characters) repeat. */
	assert_memory_not_equal(a + strlen(VOLFS_SECRET_PREFIX),
				b + strlen(VOLFS_SECRET_PREFIX), 16);
	free(a);
	free(b);
	volfs_secret_key_free(k);
}

static void test_tampering(void **state)
{
	struct tsec *t = *state;
	struct volfs_secret_key *k = tsec_key(t, 1);
	size_t start = strlen(VOLFS_SECRET_PREFIX), len;
	char *sealed, *plain = NULL;
	int tested = 0;

	assert_int_equal(volfs_secret_seal(k, "vol1", "password", PW, &sealed,
					   &t->err),
			 0);
	len = strlen(sealed);
	/* Change every character of the base64 text in turn. */
	for (size_t i = start; i < len; i++) {
		char was = sealed[i];
		int rc;

		if (was == '=')
			continue;
		sealed[i] = was == 'A' ? 'B' : 'A';
		rc = volfs_secret_open(k, "vol1", "password", sealed, &plain,
				       &t->err);
		sealed[i] = was;
		if (rc != -EBADMSG)
			fail_msg("changing character %zu gave %d", i, rc);
		tsec_no_secret(&t->err, PW);
		assert_non_null(strstr(t->err.msg, "'password'"));
		assert_non_null(strstr(t->err.msg, "'vol1'"));
		tested++;
	}
	assert_true(tested > 40);
	/* The bits decoding drops (before '=') must not change either. */
	{
		static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "abcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t last = len - 1;
		char was;

		while (sealed[last] == '=')
			last--;
		assert_true(last < len - 1);
		was = sealed[last];
		sealed[last] = b64[(strchr(b64, was) - b64) ^ 1];
		assert_int_equal(volfs_secret_open(k, "vol1", "password",
						   sealed, &plain, &t->err),
				 -EBADMSG);
		sealed[last] = was;
	}
	/* Cut short, or not base64 at all. */
	sealed[len - 8] = '\0';
	assert_int_equal(volfs_secret_open(k, "vol1", "password", sealed,
					   &plain, &t->err),
			 -EBADMSG);
	assert_int_equal(volfs_secret_open(k, "vol1", "password",
					   "enc:v1:", &plain, &t->err),
			 -EBADMSG);
	assert_non_null(strstr(t->err.msg, "damaged"));
	assert_int_equal(volfs_secret_open(k, "vol1", "password",
					   "enc:v1:****", &plain, &t->err),
			 -EBADMSG);
	assert_int_equal(volfs_secret_open(k, "vol1", "password",
					   "enc:v1:QUJD", &plain, &t->err),
			 -EBADMSG);
	assert_int_equal(volfs_secret_open(k, "vol1", "password", PW, &plain,
					   &t->err),
			 -EBADMSG);
	assert_null(plain);
	free(sealed);
	volfs_secret_key_free(k);
}

static void test_wrong_aad(void **state)
{
	struct tsec *t = *state;
	struct volfs_secret_key *k = tsec_key(t, 1);
	char *sealed, *plain = NULL;

	assert_int_equal(volfs_secret_seal(k, "vol1", "password", PW, &sealed,
					   &t->err),
			 0);
	/* Moved to another option or another volume: refused. */
	assert_int_equal(volfs_secret_open(k, "vol1", "username", sealed,
					   &plain, &t->err),
			 -EBADMSG);
	assert_int_equal(volfs_secret_open(k, "vol2", "password", sealed,
					   &plain, &t->err),
			 -EBADMSG);
	/* "vol1" + "password" must not equal "vol1p" + "assword". */
	assert_int_equal(volfs_secret_open(k, "vol1p", "assword", sealed,
					   &plain, &t->err),
			 -EBADMSG);
	assert_null(plain);
	assert_int_equal(volfs_secret_open(k, "vol1", "password", sealed,
					   &plain, &t->err),
			 0);
	volfs_secret_free(plain);
	free(sealed);
	volfs_secret_key_free(k);
}

static void test_wrong_key(void **state)
{
	struct tsec *t = *state;
	struct volfs_secret_key *k = tsec_key(t, 1), *k2;
	char *sealed, *plain = NULL;

	assert_int_equal(volfs_secret_seal(k, "vol1", "password", PW, &sealed,
					   &t->err),
			 0);
	/* A new key file in place of the old one. */
	assert_int_equal(unlink(t->keyfile), 0);
	k2 = tsec_key(t, 1);
	assert_memory_not_equal(k->key, k2->key, VOLFS_SECRET_KEY_LEN);
	assert_int_equal(volfs_secret_open(k2, "vol1", "password", sealed,
					   &plain, &t->err),
			 -EBADMSG);
	assert_null(plain);
	tsec_no_secret(&t->err, PW);
	assert_non_null(strstr(t->err.msg, "cannot decrypt option 'password' "
					   "of volume 'vol1'"));
	assert_non_null(strstr(t->err.msg, t->keyfile));
	assert_non_null(strstr(t->err.msg, "does not match"));
	free(sealed);
	volfs_secret_key_free(k);
	volfs_secret_key_free(k2);
}

static void test_key_file_made(void **state)
{
	struct tsec *t = *state;
	struct volfs_secret_key *k, *k2 = NULL;
	unsigned char disk[VOLFS_SECRET_KEY_LEN];
	struct stat st;
	int fd;

	/* Without create, a missing key file is -ENOENT. */
	assert_int_equal(volfs_secret_key_load(t->root, 0, &k2, &t->err),
			 -ENOENT);
	assert_null(k2);
	assert_non_null(strstr(t->err.msg, t->keyfile));
	umask(0);
	k = tsec_key(t, 1);
	umask(022);
	assert_int_equal(lstat(t->keyfile, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_size, VOLFS_SECRET_KEY_LEN);
	fd = open(t->keyfile, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, disk, sizeof(disk)), (ssize_t)sizeof(disk));
	close(fd);
	assert_memory_equal(disk, k->key, sizeof(disk));
	/* Loading again gives the same key, with or without create. */
	k2 = tsec_key(t, 0);
	assert_memory_equal(k2->key, k->key, VOLFS_SECRET_KEY_LEN);
	volfs_secret_key_free(k2);
	k2 = tsec_key(t, 1);
	assert_memory_equal(k2->key, k->key, VOLFS_SECRET_KEY_LEN);
	volfs_secret_key_free(k2);
	volfs_secret_key_free(k);
	/* No temporary file is left behind. */
	assert_int_equal(tsec_count(t->root), 1);
}

/* Processes that make the key file at once all get the same key. */
static void test_key_race_processes(void **state)
{
	struct tsec *t = *state;
	enum { N = 12 };
	unsigned char keys[N][VOLFS_SECRET_KEY_LEN];
	struct volfs_secret_key *k;
	int go[2], res[2];
	pid_t pids[N];

	for (int round = 0; round < 5; round++) {
		unlink(t->keyfile);
		assert_int_equal(pipe(go), 0);
		assert_int_equal(pipe(res), 0);
		for (int i = 0; i < N; i++) {
			pids[i] = fork();
			assert_true(pids[i] >= 0);
			if (pids[i] == 0) {
				struct volfs_secret_key *ck = NULL;
				char c;

				close(go[1]);
				/* Wait for the start: the pipe closes. */
				if (read(go[0], &c, 1) != 0)
					_exit(2);
				if (volfs_secret_key_load(t->root, 1, &ck,
							  NULL) < 0)
					_exit(1);
				if (write(res[1], ck->key,
					  VOLFS_SECRET_KEY_LEN) !=
				    VOLFS_SECRET_KEY_LEN)
					_exit(3);
				_exit(0);
			}
		}
		close(go[0]);
		close(res[1]);
		close(go[1]);
		for (int i = 0; i < N; i++) {
			int status;

			assert_int_equal(waitpid(pids[i], &status, 0),
					 pids[i]);
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
		}
		for (int i = 0; i < N; i++)
			assert_int_equal(read(res[0], keys[i],
					      VOLFS_SECRET_KEY_LEN),
					 VOLFS_SECRET_KEY_LEN);
		close(res[0]);
		k = tsec_key(t, 0);
		for (int i = 0; i < N; i++)
			assert_memory_equal(keys[i], k->key,
					    VOLFS_SECRET_KEY_LEN);
		volfs_secret_key_free(k);
	}
}

struct tsec_thread {
	const char *root;
	pthread_barrier_t *barrier;
	unsigned char key[VOLFS_SECRET_KEY_LEN];
	int rc;
};

static void *tsec_thread_fn(void *arg)
{
	struct tsec_thread *th = arg;
	struct volfs_secret_key *k = NULL;

	pthread_barrier_wait(th->barrier);
	th->rc = volfs_secret_key_load(th->root, 1, &k, NULL);
	if (th->rc == 0) {
		memcpy(th->key, k->key, sizeof(th->key));
		volfs_secret_key_free(k);
	}
	return NULL;
}

static void test_key_race_threads(void **state)
{
	struct tsec *t = *state;
	enum { N = 8 };
	struct tsec_thread th[N];
	pthread_barrier_t barrier;
	pthread_t tid[N];

	for (int round = 0; round < 10; round++) {
		unlink(t->keyfile);
		pthread_barrier_init(&barrier, NULL, N);
		for (int i = 0; i < N; i++) {
			th[i] = (struct tsec_thread){ .root = t->root,
						      .barrier = &barrier };
			assert_int_equal(pthread_create(&tid[i], NULL,
							tsec_thread_fn, &th[i]),
					 0);
		}
		for (int i = 0; i < N; i++)
			pthread_join(tid[i], NULL);
		pthread_barrier_destroy(&barrier);
		for (int i = 0; i < N; i++) {
			assert_int_equal(th[i].rc, 0);
			assert_memory_equal(th[i].key, th[0].key,
					    VOLFS_SECRET_KEY_LEN);
		}
	}
}

/* A bad key file is refused, never used nor replaced. */
static void test_bad_key_file(void **state)
{
	struct tsec *t = *state;
	unsigned char key[VOLFS_SECRET_KEY_LEN] = { 1, 2, 3 };
	struct volfs_secret_key *k = NULL;
	struct stat st;
	char target[160];

	/* Readable by others. */
	tsec_write(t->keyfile, key, sizeof(key), 0644);
	assert_int_equal(volfs_secret_key_load(t->root, 1, &k, &t->err),
			 -EPERM);
	assert_null(k);
	assert_non_null(strstr(t->err.msg, t->keyfile));
	assert_non_null(strstr(t->err.msg, "0644"));
	assert_non_null(strstr(t->err.msg, "chmod 600"));
	assert_int_equal(stat(t->keyfile, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* Group-readable, or too strict, is not 0600 either. */
	assert_int_equal(chmod(t->keyfile, 0640), 0);
	assert_int_equal(volfs_secret_key_load(t->root, 0, &k, &t->err),
			 -EPERM);
	assert_int_equal(chmod(t->keyfile, 0400), 0);
	assert_int_equal(volfs_secret_key_load(t->root, 0, &k, &t->err),
			 -EPERM);
	/* The wrong size. */
	tsec_write(t->keyfile, key, 16, 0600);
	assert_int_equal(volfs_secret_key_load(t->root, 1, &k, &t->err),
			 -EINVAL);
	assert_non_null(strstr(t->err.msg, "16 bytes"));
	assert_non_null(strstr(t->err.msg, t->keyfile));
	assert_int_equal(stat(t->keyfile, &st), 0);
	assert_int_equal(st.st_size, 16);
	tsec_write(t->keyfile, "", 0, 0600);
	assert_int_equal(volfs_secret_key_load(t->root, 1, &k, &t->err),
			 -EINVAL);
	/* Not a regular file. */
	assert_int_equal(unlink(t->keyfile), 0);
	assert_int_equal(mkdir(t->keyfile, 0700), 0);
	assert_int_equal(volfs_secret_key_load(t->root, 1, &k, &t->err),
			 -EINVAL);
	assert_non_null(strstr(t->err.msg, "not a regular file"));
	assert_int_equal(rmdir(t->keyfile), 0);
	/* A symbolic link, even to a good key file. */
	snprintf(target, sizeof(target), "%s/elsewhere", t->root);
	tsec_write(target, key, sizeof(key), 0600);
	assert_int_equal(symlink(target, t->keyfile), 0);
	assert_int_equal(volfs_secret_key_load(t->root, 1, &k, &t->err),
			 -EPERM);
	assert_non_null(strstr(t->err.msg, "symbolic link"));
	assert_int_equal(lstat(t->keyfile, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_null(k);
	/* A good one is used as it is. */
	assert_int_equal(unlink(t->keyfile), 0);
	assert_int_equal(rename(target, t->keyfile), 0);
	k = tsec_key(t, 1);
	assert_memory_equal(k->key, key, sizeof(key));
	volfs_secret_key_free(k);
}

/* A backend with a secret option, as the option helpers see it. */
static const struct volfs_optdesc fake_options[] = {
	{ .key = "username" },
	{ .key = "password", .flags = VOLFS_OPT_SECRET },
	{ .key = "domain" },
	{ 0 },
};

static const struct volfs_backend fake_backend = {
	.abi_version = VOLFS_BACKEND_ABI,
	.size = sizeof(struct volfs_backend),
	.name = "fake",
	.options = fake_options,
};

static const struct volfs_optdesc plain_options[] = {
	{ .key = "path" },
	{ 0 },
};

static const struct volfs_backend plain_backend = {
	.abi_version = VOLFS_BACKEND_ABI,
	.size = sizeof(struct volfs_backend),
	.name = "plainbe",
	.options = plain_options,
};

static void test_opts_seal_unseal(void **state)
{
	struct tsec *t = *state;
	const struct volfs_kv opts[] = {
		{ "username", "bob" },
		{ "password", PW },
		{ "domain", "enc:v1:not-sealed" },
	};
	struct volfs_kvlist sealed = { 0 }, plain = { 0 }, moved = { 0 };
	struct volfs_kv legacy[2];
	struct stat st;

	assert_int_equal(volfs_opts_seal(t->root, &fake_backend, "vol1", opts,
					 3, &sealed, &t->err),
			 0);
	assert_int_equal(sealed.n, 3);
	/* Only the secret option is sealed, in place. */
	assert_string_equal(sealed.v[0].key, "username");
	assert_string_equal(sealed.v[0].value, "bob");
	assert_string_equal(sealed.v[1].key, "password");
	assert_true(volfs_secret_is_sealed(sealed.v[1].value));
	assert_null(strstr(sealed.v[1].value, PW));
	assert_string_equal(sealed.v[2].value, "enc:v1:not-sealed");
	assert_int_equal(stat(t->keyfile, &st), 0);

	assert_int_equal(volfs_opts_unseal(t->root, &fake_backend, "vol1",
					   sealed.v, sealed.n, &plain,
					   &t->err),
			 0);
	assert_int_equal(plain.n, 3);
	assert_string_equal(volfs_kvlist_get(&plain, "username"), "bob");
	assert_string_equal(volfs_kvlist_get(&plain, "password"), PW);
	assert_string_equal(volfs_kvlist_get(&plain, "domain"),
			    "enc:v1:not-sealed");
	volfs_kvlist_release(&plain);

	/* The options of one volume do not open as another's. */
	assert_int_equal(volfs_opts_unseal(t->root, &fake_backend, "vol2",
					   sealed.v, sealed.n, &moved,
					   &t->err),
			 -EBADMSG);
	assert_int_equal(moved.n, 0);
	tsec_no_secret(&t->err, PW);

	/* A value stored unsealed by an older volfs is used as it is. */
	legacy[0] = (struct volfs_kv){ "username", "bob" };
	legacy[1] = (struct volfs_kv){ "password", "old-plain" };
	assert_int_equal(volfs_opts_unseal(t->root, &fake_backend, "vol1",
					   legacy, 2, &plain, &t->err),
			 0);
	assert_string_equal(volfs_kvlist_get(&plain, "password"),
			    "old-plain");
	volfs_kvlist_release(&plain);

	/* Without the key file: a message that says so, naming it. */
	assert_int_equal(unlink(t->keyfile), 0);
	assert_int_equal(volfs_opts_unseal(t->root, &fake_backend, "vol1",
					   sealed.v, sealed.n, &plain,
					   &t->err),
			 -ENOENT);
	assert_non_null(strstr(t->err.msg, "cannot decrypt option 'password' "
					   "of volume 'vol1'"));
	assert_non_null(strstr(t->err.msg, t->keyfile));
	assert_non_null(strstr(t->err.msg, "restore it"));
	/* ... and a wrong key file once another was made. */
	volfs_kvlist_release(&moved);
	assert_int_equal(volfs_opts_seal(t->root, &fake_backend, "other",
					 opts, 3, &moved, &t->err),
			 0);
	assert_int_equal(volfs_opts_unseal(t->root, &fake_backend, "vol1",
					   sealed.v, sealed.n, &plain,
					   &t->err),
			 -EBADMSG);
	assert_non_null(strstr(t->err.msg, "does not match"));
	assert_int_equal(plain.n, 0);
	volfs_kvlist_release(&moved);
	volfs_kvlist_release(&sealed);
}

static void test_opts_seal_no_secret(void **state)
{
	struct tsec *t = *state;
	const struct volfs_kv opts[] = { { "path", "/srv/x" } };
	struct volfs_kvlist out = { 0 };
	struct stat st;

	/* No secret option: no key file is made. */
	assert_int_equal(volfs_opts_seal(t->root, &plain_backend, "v", opts, 1,
					 &out, &t->err),
			 0);
	assert_string_equal(volfs_kvlist_get(&out, "path"), "/srv/x");
	assert_int_equal(stat(t->keyfile, &st), -1);
	volfs_kvlist_release(&out);
	/* A refused key file stops sealing: nothing is half done. */
	tsec_write(t->keyfile, "0123456789abcdef0123456789abcdef", 32, 0666);
	const struct volfs_kv sec[] = { { "username", "u" },
					{ "password", PW } };
	assert_int_equal(volfs_opts_seal(t->root, &fake_backend, "v", sec, 2,
					 &out, &t->err),
			 -EPERM);
	assert_int_equal(out.n, 0);
}

static void test_scrub(void **state)
{
	char a[] = "password=" PW, b[] = "username=bob", c[] = "password",
	     d[] = "password=";

	assert_int_equal(volfs_opt_scrub(&fake_backend, a), 1);
	assert_string_equal(a, "password=****************");
	assert_int_equal(strlen(a), strlen("password=" PW));
	assert_int_equal(volfs_opt_scrub(&fake_backend, b), 0);
	assert_string_equal(b, "username=bob");
	assert_int_equal(volfs_opt_scrub(&fake_backend, c), 0);
	assert_string_equal(c, "password");
	assert_int_equal(volfs_opt_scrub(&fake_backend, d), 1);
	assert_string_equal(d, "password=");
}

static void tsec_cred(struct tsec *t, const char *text, mode_t mode,
		      char *path, size_t size)
{
	snprintf(path, size, "%s/cred", t->root);
	unlink(path);
	tsec_write(path, text, strlen(text), mode);
}

static void test_credentials(void **state)
{
	struct tsec *t = *state;
	struct volfs_kvlist l = { 0 }, out = { 0 };
	struct volfs_kv in[2];
	char path[128];

	tsec_cred(t,
		  "# mount.cifs style\n"
		  "\n"
		  "   user=alice\r\n"
		  "pass = " PW " \n"
		  "\t# indented comment\n"
		  "dom=WORKGROUP",
		  0600, path, sizeof(path));
	assert_int_equal(volfs_opts_read_credentials(&fake_backend, path, &l,
						     &t->err),
			 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(volfs_kvlist_get(&l, "username"), "alice");
	/* The value is the rest of the line, spaces included. */
	assert_string_equal(volfs_kvlist_get(&l, "password"), " " PW " ");
	assert_string_equal(volfs_kvlist_get(&l, "domain"), "WORKGROUP");
	volfs_kvlist_release(&l);

	/* The long spellings; group-readable is fine. */
	tsec_cred(t, "username=bob\npassword=" PW "\n", 0640, path,
		  sizeof(path));
	in[0] = (struct volfs_kv){ VOLFS_OPT_CREDENTIALS, path };
	in[1] = (struct volfs_kv){ "domain", "D" };
	assert_int_equal(volfs_opts_expand(&fake_backend, in, 2, &out,
					   &t->err),
			 0);
	assert_int_equal(out.n, 3);
	assert_null(volfs_kvlist_get(&out, VOLFS_OPT_CREDENTIALS));
	assert_string_equal(volfs_kvlist_get(&out, "username"), "bob");
	assert_string_equal(volfs_kvlist_get(&out, "password"), PW);
	assert_string_equal(volfs_kvlist_get(&out, "domain"), "D");
	volfs_kvlist_release(&out);

	/* Given with -o too. */
	in[1] = (struct volfs_kv){ "password", "other" };
	assert_int_equal(volfs_opts_expand(&fake_backend, in, 2, &out,
					   &t->err),
			 -EINVAL);
	assert_int_equal(out.n, 0);
	assert_non_null(strstr(t->err.msg, "given both with -o and in the "
					   "credentials file"));
	assert_non_null(strstr(t->err.msg, "line 2"));
	tsec_no_secret(&t->err, PW);

	/* A backend without secret options takes no credentials file. */
	assert_int_equal(volfs_opts_expand(&plain_backend, in, 1, &out,
					   &t->err),
			 -EINVAL);
	assert_non_null(strstr(t->err.msg, "no secret options"));
	assert_int_equal(volfs_opts_expand(&fake_backend,
					   &(struct volfs_kv){
						   VOLFS_OPT_CREDENTIALS, "" },
					   1, &out, &t->err),
			 -EINVAL);

	/* Every user may read it: refused. */
	tsec_cred(t, "password=" PW "\n", 0644, path, sizeof(path));
	assert_int_equal(volfs_opts_read_credentials(&fake_backend, path, &l,
						     &t->err),
			 -EPERM);
	assert_non_null(strstr(t->err.msg, path));
	assert_non_null(strstr(t->err.msg, "chmod o-rwx"));
	assert_int_equal(l.n, 0);

	/* Unknown key, no '=', twice: the file and line are named. */
	tsec_cred(t, "username=u\n\nsecret=" PW "\n", 0600, path,
		  sizeof(path));
	assert_int_equal(volfs_opts_read_credentials(&fake_backend, path, &l,
						     &t->err),
			 -EINVAL);
	assert_non_null(strstr(t->err.msg, "line 3"));
	assert_non_null(strstr(t->err.msg, "the key is not an option"));
	/* The key itself may be a mistyped secret: never shown. */
	assert_null(strstr(t->err.msg, "secret="));
	assert_null(strstr(t->err.msg, "'secret'"));
	assert_non_null(strstr(t->err.msg, path));
	tsec_no_secret(&t->err, PW);
	volfs_kvlist_release(&l);
	tsec_cred(t, PW "\n", 0600, path, sizeof(path));
	assert_int_equal(volfs_opts_read_credentials(&fake_backend, path, &l,
						     &t->err),
			 -EINVAL);
	assert_non_null(strstr(t->err.msg, "line 1"));
	tsec_no_secret(&t->err, PW);
	tsec_cred(t, "pass=a\npassword=" PW "\n", 0600, path, sizeof(path));
	assert_int_equal(volfs_opts_read_credentials(&fake_backend, path, &l,
						     &t->err),
			 -EINVAL);
	assert_non_null(strstr(t->err.msg, "line 2"));
	assert_non_null(strstr(t->err.msg, "given twice"));
	tsec_no_secret(&t->err, PW);
	volfs_kvlist_release(&l);
	/* A missing file. */
	assert_int_equal(volfs_opts_read_credentials(&fake_backend,
						     "/nonexistent/cred", &l,
						     &t->err),
			 -ENOENT);
	assert_non_null(strstr(t->err.msg, "/nonexistent/cred"));
	/* A FIFO nobody writes to: refused at once, never waited on. */
	snprintf(path, sizeof(path), "%s/fifo", t->root);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(volfs_opts_read_credentials(&fake_backend, path, &l,
						     &t->err),
			 -EINVAL);
	assert_non_null(strstr(t->err.msg, "it is a FIFO, not a regular file"));
	assert_int_equal(l.n, 0);
}

/* Parse errors of -o name the key, never the value. */
static void test_parse_no_echo(void **state)
{
	struct volfs_kvlist l = { 0 };
	struct volfs_err err = { "" };

	assert_int_equal(volfs_kvlist_parse(&l, "=" PW, "option", &err),
			 -EINVAL);
	tsec_no_secret(&err, PW);
	assert_int_equal(volfs_kvlist_parse(&l, "password=" PW, "option",
					    &err),
			 0);
	assert_int_equal(volfs_kvlist_parse(&l, "password=" PW "x", "option",
					    &err),
			 -EINVAL);
	tsec_no_secret(&err, PW);
	assert_non_null(strstr(err.msg, "'password'"));
	volfs_kvlist_release(&l);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, tsec_setup, tsec_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_round_trip),
		T(test_long_value),
		T(test_random_nonces),
		T(test_tampering),
		T(test_wrong_aad),
		T(test_wrong_key),
		T(test_key_file_made),
		T(test_key_race_processes),
		T(test_key_race_threads),
		T(test_bad_key_file),
		T(test_opts_seal_unseal),
		T(test_opts_seal_no_secret),
		T(test_scrub),
		T(test_credentials),
		T(test_parse_no_echo),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
