/* SPDX-License-Identifier: MIT */
/*
 * The plugin's HTTP side: libmicrohttpd, one thread per connection, takes a
 * request's body, hands the whole request to plugin_dispatch(), and sends
 * the answer; a Mount whose answer is not delivered is undone.
 */
#include "config.h"

#include <errno.h>
#include <microhttpd.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugin.h"
#include "plugin_int.h"
#include "volfs/catalog.h"
#include "volfs/util.h"

#define PLUGIN_CONTENT_TYPE "application/vnd.docker.plugins.v1.2+json"

static enum MHD_Result plugin_respond(struct MHD_Connection *conn,
				      struct plugin_reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *text = NULL;

	if (r->json)
		text = json_dumps(r->json, JSON_COMPACT);
	if (!text) {
		static const char oom[] = "{\"Err\":\"out of memory\"}";

		resp = MHD_create_response_from_buffer(
			sizeof(oom) - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
		r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	} else {
		resp = MHD_create_response_from_buffer(strlen(text), text,
						       MHD_RESPMEM_MUST_FREE);
	}
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				PLUGIN_CONTENT_TYPE);
	ret = MHD_queue_response(conn, r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void plugin_req_forget(struct plugin_req *req)
{
	free(req->undo_volume);
	free(req->undo_consumer);
	req->undo_volume = NULL;
	req->undo_consumer = NULL;
}

static enum MHD_Result plugin_handler(void *cls, struct MHD_Connection *conn,
				      const char *url, const char *method,
				      const char *version,
				      const char *upload_data,
				      size_t *upload_data_size, void **con_cls)
{
	struct volfs_plugin *p = cls;
	struct plugin_req *req = *con_cls;
	struct plugin_reply r = { 0 };
	enum MHD_Result ret;

	(void)version;
	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		*con_cls = req;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (req->too_large || req->len + n > PLUGIN_MAX_BODY) {
			/* Read on and discard: the answer says why. */
			req->too_large = 1;
			return MHD_YES;
		}
		char *grown = realloc(req->body, req->len + n + 1);

		if (!grown)
			return MHD_NO;
		memcpy(grown + req->len, upload_data, n);
		req->body = grown;
		req->len += n;
		req->body[req->len] = '\0';
		return MHD_YES;
	}
	plugin_guard_busy(p->guard, conn);
	plugin_dispatch(p, url, method, req, &r);
	ret = plugin_respond(conn, &r);
	json_decref(r.json);
	req->undo_volume = r.ref_volume;
	req->undo_consumer = r.ref_consumer;
	/* A Mount whose answer cannot even be queued is undone at once. */
	if (ret != MHD_YES && req->undo_volume) {
		plugin_mount_undo(p, req);
		plugin_req_forget(req);
	}
	plugin_guard_idle(p->guard, conn);
	return ret;
}

static void plugin_completed(void *cls, struct MHD_Connection *conn,
			     void **con_cls,
			     enum MHD_RequestTerminationCode toe)
{
	struct volfs_plugin *p = cls;
	struct plugin_req *req = *con_cls;

	(void)conn;
	if (req) {
		/* Only a fully sent answer counts as delivered. */
		if (req->undo_volume &&
		    toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
			plugin_mount_undo(p, req);
		plugin_req_forget(req);
		free(req->body);
		free(req);
		*con_cls = NULL;
	}
}

static void plugin_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t len;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	/* Debug: a crowd of bad clients must not flood the log (the guard
	 * sums up what it closes). */
	volfs_log(VOLFS_LOG_DEBUG, "docker plugin socket: %s", buf);
}

int volfs_plugin_start(const struct volfs_plugin_config *cfg,
		       struct volfs_plugin **out, struct volfs_err *err)
{
	struct volfs_plugin *p;
	int fd, rc;

	p = calloc(1, sizeof(*p));
	if (!p)
		return volfs_err_set(err, -ENOMEM, "out of memory");
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->wlock, NULL);
	pthread_mutex_init(&p->qlock, NULL);
	p->queue_tail = &p->queue;
	p->socket_path = strdup(cfg->socket_path);
	p->mountpoint = strdup(cfg->mountpoint);
	p->root = strdup(cfg->root);
	p->docker_host = cfg->docker_host ? strdup(cfg->docker_host) : NULL;
	if (!p->socket_path || !p->mountpoint || !p->root ||
	    (cfg->docker_host && !p->docker_host)) {
		volfs_plugin_stop(p);
		return volfs_err_set(err, -ENOMEM, "out of memory");
	}
	rc = plugin_guard_start(&p->guard, err);
	if (rc < 0) {
		free(p->socket_path);
		p->socket_path = NULL;
		volfs_plugin_stop(p);
		return rc;
	}
	fd = plugin_sock_listen(p->socket_path, err);
	if (fd < 0) {
		free(p->socket_path);
		p->socket_path = NULL;
		volfs_plugin_stop(p);
		return fd;
	}
	/* No idle timeout of libmicrohttpd's: the guard's deadline is total,
	 * and an idle timeout would also cut a Mount that answers late. */
	p->mhd = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO_INTERNAL_THREAD |
			MHD_USE_ERROR_LOG,
		0, NULL, NULL, plugin_handler, p, MHD_OPTION_EXTERNAL_LOGGER,
		plugin_mhd_log, p, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_CONNECTION_LIMIT, plugin_guard_limit(p->guard),
		MHD_OPTION_CONNECTION_TIMEOUT, 0u,
		MHD_OPTION_NOTIFY_CONNECTION, plugin_guard_notify, p->guard,
		MHD_OPTION_NOTIFY_COMPLETED, plugin_completed, p,
		MHD_OPTION_END);
	if (!p->mhd) {
		close(fd);
		volfs_plugin_stop(p);
		return volfs_err_set(err, -EIO,
				     "cannot serve the docker plugin on %s: "
				     "libmicrohttpd failed to start",
				     cfg->socket_path);
	}
	volfs_log(VOLFS_LOG_NOTICE, "docker volume plugin listening on %s",
		  p->socket_path);
	*out = p;
	return 0;
}

void volfs_plugin_stop(struct volfs_plugin *p)
{
	if (!p)
		return;
	/* Closes the listening socket and every connection. */
	if (p->mhd)
		MHD_stop_daemon(p->mhd);
	if (p->socket_path && p->mhd)
		unlink(p->socket_path);
	plugin_guard_stop(p->guard);
	for (size_t i = 0; i < p->npool; i++)
		volfs_catalog_close(p->pool[i]);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->wlock);
	pthread_mutex_destroy(&p->qlock);
	free(p->socket_path);
	free(p->mountpoint);
	free(p->root);
	free(p->docker_host);
	free(p);
}
