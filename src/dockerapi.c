/* SPDX-License-Identifier: MIT */
/*
 * The Docker API client module (see volfs/dockerapi.h): one GET of
 * /containers/json?all=1 over Docker's unix socket with libcurl, the answer
 * parsed with jansson.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "volfs/dockerapi.h"

/* Docker's answer for a few thousand containers is a few MiB. */
#define DAPI_MAX_ANSWER (64u << 20)

struct dapi_buf {
	char *data;
	size_t len;
	int too_large;
};

static int dapi_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int dapi_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static size_t dapi_write(char *ptr, size_t size, size_t n, void *arg)
{
	struct dapi_buf *b = arg;
	size_t add = size * n;
	char *grown;

	if (b->len + add > DAPI_MAX_ANSWER) {
		b->too_large = 1;
		return 0;
	}
	grown = realloc(b->data, b->len + add + 1);
	if (!grown)
		return 0;
	memcpy(grown + b->len, ptr, add);
	b->data = grown;
	b->len += add;
	b->data[b->len] = '\0';
	return add;
}

/* curl_global_init() is not thread-safe: once per process. */
static pthread_once_t dapi_once = PTHREAD_ONCE_INIT;
static CURLcode dapi_init_rc;

static void dapi_init(void)
{
	dapi_init_rc = curl_global_init(CURL_GLOBAL_NOTHING);
}

/* One CURLcode to errno, with a message: the module's one switch. */
static int dapi_curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_WRITE_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
		return -EPROTO;
	default:
		return -EIO;
	}
}

static int dapi_fetch(const char *path, long timeout_ms, struct dapi_buf *b,
		      char *err, size_t errlen)
{
	char curlerr[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode c;
	CURL *h;

	pthread_once(&dapi_once, dapi_init);
	if (dapi_init_rc != CURLE_OK)
		return dapi_errf(err, errlen, -EIO,
				 "cannot start libcurl: %s",
				 curl_easy_strerror(dapi_init_rc));
	h = curl_easy_init();
	if (!h)
		return dapi_errf(err, errlen, -ENOMEM,
				 "cannot start libcurl: out of memory");
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, path);
	/* The host name is not used on a unix socket. */
	curl_easy_setopt(h, CURLOPT_URL,
			 "http://docker/containers/json?all=1");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, dapi_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curlerr);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	c = curl_easy_perform(h);
	if (c == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (c != CURLE_OK) {
		if (b->too_large)
			return dapi_errf(err, errlen, -EPROTO,
					 "docker at %s answered more than %u "
					 "MiB",
					 path, DAPI_MAX_ANSWER >> 20);
		if (c == CURLE_COULDNT_CONNECT)
			return dapi_errf(err, errlen, -ECONNREFUSED,
					 "cannot reach docker at %s: nothing "
					 "answers there (is dockerd running?)",
					 path);
		return dapi_errf(err, errlen, dapi_curl_errno(c),
				 "cannot reach docker at %s: %s", path,
				 curlerr[0] ? curlerr : curl_easy_strerror(c));
	}
	if (status != 200)
		return dapi_errf(err, errlen, -EPROTO,
				 "docker at %s answered HTTP %ld to "
				 "GET /containers/json",
				 path, status);
	return 0;
}

static const char *dapi_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

static int dapi_volume_mounts(const char *path, long timeout_ms,
			      volfs_docker_mount_fn fn, void *ctx, char *err,
			      size_t errlen)
{
	struct dapi_buf b = { 0 };
	json_error_t jerr;
	json_t *list, *c, *m;
	size_t i, j;
	int rc;

	rc = dapi_fetch(path, timeout_ms, &b, err, errlen);
	if (rc < 0) {
		free(b.data);
		return rc;
	}
	list = json_loadb(b.data ? b.data : "", b.len, 0, &jerr);
	free(b.data);
	if (!json_is_array(list)) {
		json_decref(list);
		return dapi_errf(err, errlen, -EPROTO,
				 "docker at %s answered something that is "
				 "not a list of containers",
				 path);
	}
	json_array_foreach(list, i, c)
	{
		json_t *mounts = json_object_get(c, "Mounts");

		json_array_foreach(mounts, j, m)
		{
			struct volfs_docker_mount dm = {
				.container = dapi_str(c, "Id"),
				.state = dapi_str(c, "State"),
				.volume = dapi_str(m, "Name"),
				.driver = dapi_str(m, "Driver"),
			};

			if (strcmp(dapi_str(m, "Type"), "volume") == 0)
				fn(ctx, &dm);
		}
	}
	rc = (int)json_array_size(list);
	json_decref(list);
	return rc;
}

static const struct volfs_dockerapi dapi_table = {
	.abi_version = VOLFS_DOCKERAPI_ABI,
	.volume_mounts = dapi_volume_mounts,
};

const struct volfs_dockerapi *volfs_dockerapi(void)
{
	return &dapi_table;
}
