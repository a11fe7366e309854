/* SPDX-License-Identifier: MIT */
/*
 * The Docker plugin's socket, shared by plugin.c (the protocol) and
 * plugin_sock.c (binding the socket, and keeping every connection to a
 * deadline so that slow or silent clients cannot starve Docker).
 */
#ifndef VOLFS_PLUGIN_INT_H
#define VOLFS_PLUGIN_INT_H

#include <microhttpd.h>

#include "volfs/err.h"

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
