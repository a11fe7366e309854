/* SPDX-License-Identifier: MIT */
/*
 * Load generator for the Docker plugin socket (benchmark only).
 *
 *   plugin_load SOCKET create N PREFIX CLIENTS
 *       Creates volumes PREFIX0 .. PREFIX(N-1) with CLIENTS threads, with
 *       the Opts object in $PLUGIN_LOAD_OPTS (default: a volfs ram volume).
 *   plugin_load SOCKET load CLIENTS ROUNDS N PREFIX
 *       Each of CLIENTS threads does ROUNDS rounds of Get, Mount, Unmount
 *       on a random volume of the N, as Docker does for a container start
 *       and stop, each Mount with an ID of its own.
 *
 * Prints one line per request kind: count, p50, p99 and max latency in
 * milliseconds, and requests per second over the whole run.
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { OP_CREATE, OP_GET, OP_MOUNT, OP_UNMOUNT, OP_N };

static const char *const op_names[OP_N] = { "Create", "Get", "Mount",
					    "Unmount" };
static const char *const op_paths[OP_N] = {
	"http://plugin/VolumeDriver.Create", "http://plugin/VolumeDriver.Get",
	"http://plugin/VolumeDriver.Mount", "http://plugin/VolumeDriver.Unmount"
};

struct lat {
	double *ms;
	size_t n, alloc;
};

struct client {
	pthread_t tid;
	int idx;
	struct lat lat[OP_N];
	long errors;
	unsigned seed;
};

static const char *sock;
static const char *create_opts;
static const char *prefix;
static int nvol, rounds, nclients, mode_create;

struct body {
	char buf[4096];
	size_t len;
};

static size_t load_write(char *p, size_t s, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = s * n;

	if (b->len + add >= sizeof(b->buf))
		add = sizeof(b->buf) - 1 - b->len;
	memcpy(b->buf + b->len, p, add);
	b->len += add;
	b->buf[b->len] = '\0';
	return s * n;
}

static double load_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void lat_add(struct lat *l, double ms)
{
	if (l->n == l->alloc) {
		l->alloc = l->alloc ? 2 * l->alloc : 1024;
		l->ms = realloc(l->ms, l->alloc * sizeof(*l->ms));
		if (!l->ms) {
			perror("realloc");
			exit(1);
		}
	}
	l->ms[l->n++] = ms;
}

/* One request; counts an error unless the answer's Err is empty. */
static void load_req(CURL *h, struct client *c, int op, const char *json)
{
	struct body b = { .len = 0 };
	double t0;
	CURLcode rc;

	curl_easy_setopt(h, CURLOPT_URL, op_paths[op]);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	t0 = load_now_ms();
	rc = curl_easy_perform(h);
	lat_add(&c->lat[op], load_now_ms() - t0);
	/* An answer is an error when it has a non-empty Err. */
	const char *e = strstr(b.buf, "\"Err\":\"");

	if (rc != CURLE_OK || (e && e[7] != '"')) {
		if (c->errors++ < 3)
			fprintf(stderr, "%s %s: %s\n", op_names[op], json,
				rc != CURLE_OK ? curl_easy_strerror(rc) : b.buf);
	}
}

static void *load_client(void *arg)
{
	struct client *c = arg;
	char json[512];
	CURL *h = curl_easy_init();

	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, load_write);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 130L);
	if (mode_create) {
		for (int i = c->idx; i < nvol; i += nclients) {
			snprintf(json, sizeof(json),
				 "{\"Name\":\"%s%d\",\"Opts\":%s}", prefix, i,
				 create_opts);
			load_req(h, c, OP_CREATE, json);
		}
	} else {
		for (int r = 0; r < rounds; r++) {
			int v = (int)(rand_r(&c->seed) % (unsigned)nvol);

			snprintf(json, sizeof(json), "{\"Name\":\"%s%d\"}",
				 prefix, v);
			load_req(h, c, OP_GET, json);
			snprintf(json, sizeof(json),
				 "{\"Name\":\"%s%d\",\"ID\":\"bench-%d-%d\"}",
				 prefix, v, c->idx, r);
			load_req(h, c, OP_MOUNT, json);
			load_req(h, c, OP_UNMOUNT, json);
		}
	}
	curl_easy_cleanup(h);
	return NULL;
}

static int load_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct client *cl;
	long errors = 0;
	double t0, secs;

	if (argc == 6 && strcmp(argv[2], "create") == 0) {
		mode_create = 1;
		nvol = atoi(argv[3]);
		prefix = argv[4];
		nclients = atoi(argv[5]);
	} else if (argc == 7 && strcmp(argv[2], "load") == 0) {
		nclients = atoi(argv[3]);
		rounds = atoi(argv[4]);
		nvol = atoi(argv[5]);
		prefix = argv[6];
	} else {
		fprintf(stderr,
			"usage: plugin_load SOCKET create N PREFIX CLIENTS\n"
			"       plugin_load SOCKET load CLIENTS ROUNDS N "
			"PREFIX\n");
		return 2;
	}
	sock = argv[1];
	create_opts = getenv("PLUGIN_LOAD_OPTS");
	if (!create_opts || !*create_opts)
		create_opts = "{\"backend\":\"ram\"}";
	if (nclients < 1 || nvol < 1) {
		fprintf(stderr, "plugin_load: need at least one client and "
				"one volume\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_NOTHING);
	cl = calloc((size_t)nclients, sizeof(*cl));
	if (!cl)
		return 1;
	t0 = load_now_ms();
	for (int i = 0; i < nclients; i++) {
		cl[i].idx = i;
		cl[i].seed = (unsigned)i * 2654435761u + 1;
		pthread_create(&cl[i].tid, NULL, load_client, &cl[i]);
	}
	for (int i = 0; i < nclients; i++)
		pthread_join(cl[i].tid, NULL);
	secs = (load_now_ms() - t0) / 1e3;
	for (int op = 0; op < OP_N; op++) {
		struct lat all = { 0 };

		for (int i = 0; i < nclients; i++)
			for (size_t j = 0; j < cl[i].lat[op].n; j++)
				lat_add(&all, cl[i].lat[op].ms[j]);
		if (!all.n)
			continue;
		qsort(all.ms, all.n, sizeof(*all.ms), load_cmp);
		printf("%-8s %7zu  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  "
		       "%8.0f req/s\n",
		       op_names[op], all.n, all.ms[all.n / 2],
		       all.ms[(size_t)(all.n * 0.99)], all.ms[all.n - 1],
		       all.n / secs);
		free(all.ms);
	}
	for (int i = 0; i < nclients; i++) {
		errors += cl[i].errors;
		for (int op = 0; op < OP_N; op++)
			free(cl[i].lat[op].ms);
	}
	printf("clients %d, %.1f s, %ld error(s)\n", nclients, secs, errors);
	free(cl);
	curl_global_cleanup();
	return errors ? 1 : 0;
}
