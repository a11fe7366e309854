/* SPDX-License-Identifier: MIT */
/*
 * The Docker plugin's insides, shared by plugin.c (the protocol),
 * plugin_http.c (libmicrohttpd: requests in, answers out) and plugin_sock.c
 * (binding the socket, and keeping every connection to a deadline so that
 * slow or silent clients cannot starve Docker).
 */
#ifndef VOLFS_PLUGIN_INT_H
#define VOLFS_PLUGIN_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>

#include "volfs/catalog.h"
#include "volfs/err.h"

/* Docker's requests are a few hundred bytes; anything far larger is not
 * Docker talking. */
#define PLUGIN_MAX_BODY (64 * 1024)
/* Catalog handles kept open between requests. */
#define PLUGIN_POOL_KEEP 64

struct plugin_refreq;

struct volfs_plugin {
	struct MHD_Daemon *mhd;
	struct plugin_guard *guard;
	char *socket_path;
	char *mountpoint;
	char *root;
	char *docker_host;
	/* Idle catalog handles, one taken per request. */
	pthread_mutex_t lock;
	/* Catalog writes of this process queue here, in order, instead of
	 * polling SQLite's write lock with sleeps.  Only the group commit
	 * takes it: nothing that may wait for a backend or a disk does. */
	pthread_mutex_t wlock;
	/* Reference changes waiting for the next group commit, oldest
	 * first; the thread that finds no commit running commits everything
	 * queued. */
	pthread_mutex_t qlock;
	struct plugin_refreq *queue, **queue_tail;
	int committing;
	struct volfs_catalog *pool[PLUGIN_POOL_KEEP];
	size_t npool;
};

/* One request's body as it arrives. */
struct plugin_req {
	char *body;
	size_t len;
	int too_large;
	/* A Mount's reference, given back if its answer is not delivered:
	 * the client gave up and will not Unmount (Docker may retry the
	 * Mount with the same ID). */
	char *undo_volume, *undo_consumer;
};

/* An answer: HTTP status and a JSON object (owned). */
struct plugin_reply {
	unsigned status;
	json_t *json;
	/* Set (owned) by a Mount that took a reference. */
	char *ref_volume, *ref_consumer;
};

/* Answers one complete request (plugin.c) into r. */
void plugin_dispatch(struct volfs_plugin *p, const char *url,
		     const char *method, struct plugin_req *req,
		     struct plugin_reply *r);

/* Drops the reference of req's Mount, whose answer was not delivered. */
void plugin_mount_undo(struct volfs_plugin *p, struct plugin_req *req);

/*
 * The whole of a request (from the connection's accept, or from the
 * previous answer, to the last byte of the request), and the delivery of
 * its answer, must take at most this many seconds; the time the plugin
 * spends answering does not count.  Docker sends a request in one write,
 * so this only ever cuts off clients that dribble or stall.  The hidden
 * environment variable VOLFS_PLUGIN_REQUEST_TIMEOUT (whole seconds, 1 up
 * to this default) shortens it, for tests.
 */
#define PLUGIN_REQUEST_TIMEOUT 10
#define PLUGIN_REQUEST_TIMEOUT_ENV "VOLFS_PLUGIN_REQUEST_TIMEOUT"

/*
 * Connections served at once (one thread each).  Above
 * PLUGIN_SOFT_CONNECTIONS the connections that have waited longest for
 * their request are closed once they have waited a quarter of the
 * deadline; above PLUGIN_MAX_CONNECTIONS each new connection closes the
 * one that has waited longest at once, so that a crowd of slow clients
 * never keeps Docker out.  libmicrohttpd itself refuses connections only
 * past PLUGIN_SPARE_CONNECTIONS more (answers being computed).
 */
#define PLUGIN_MAX_CONNECTIONS 1024
#define PLUGIN_SOFT_CONNECTIONS 512
#define PLUGIN_SPARE_CONNECTIONS 64

/*
 * Pending connects the socket queues while the plugin accepts: Docker may
 * start hundreds of containers at once.  The kernel caps it at
 * net.core.somaxconn.
 */
#define PLUGIN_BACKLOG 1024

struct plugin_guard;

/*
 * Binds and listens on path.  A socket nobody answers on is left over from
 * a crash and replaced; a socket that answers is -EADDRINUSE; anything
 * else at path (a regular file, a directory, a symlink) is -EEXIST and
 * left alone.  Returns the listening descriptor.
 */
int plugin_sock_listen(const char *path, struct volfs_err *err);

/* Starts the deadline keeper; *out is passed to plugin_sock_notify. */
int plugin_guard_start(struct plugin_guard **out, struct volfs_err *err);

/* Stops it (after the HTTP daemon, whose connections it tracks). */
void plugin_guard_stop(struct plugin_guard *g);

/*
 * How many connections the HTTP daemon may serve: PLUGIN_MAX_CONNECTIONS
 * and the spare ones, fewer if file descriptors are short (the soft limit
 * of open files is raised first when the hard one allows).
 */
unsigned plugin_guard_limit(struct plugin_guard *g);

/* MHD_OPTION_NOTIFY_CONNECTION's callback, with the guard as cls. */
void plugin_guard_notify(void *cls, struct MHD_Connection *conn,
			 void **socket_context,
			 enum MHD_ConnectionNotificationCode code);

/*
 * Around the answering of a complete request: busy lifts the connection's
 * deadline (answering may legitimately take long), idle starts a new one
 * for the delivery of the answer and the next request.
 */
void plugin_guard_busy(struct plugin_guard *g, struct MHD_Connection *conn);
void plugin_guard_idle(struct plugin_guard *g, struct MHD_Connection *conn);

#endif /* VOLFS_PLUGIN_INT_H */
