/* SPDX-License-Identifier: MIT */
/*
 * The Docker volume plugin: Docker's volume-driver protocol (HTTP with JSON
 * bodies) answered on a unix socket by `volfs serve`.  Volumes are the
 * catalog's; a Mount answers the volume's directory under the serve mount
 * and holds a durable reference per Mount ID in the catalog.
 */
#ifndef VOLFS_PLUGIN_H
#define VOLFS_PLUGIN_H

#include <string.h>

#include "volfs/catalog.h"
#include "volfs/err.h"

struct volfs_plugin_config {
	/* Where to listen (its directory is made if missing). */
	const char *socket_path;
	/* The serve mountpoint: a volume's Mountpoint is DIR/NAME. */
	const char *mountpoint;
	/* The state root: every request thread opens the catalog there. */
	const char *root;
	/* Docker's API socket, asked which containers still exist when
	 * references are reconciled (NULL: $DOCKER_HOST, else
	 * /run/docker.sock). */
	const char *docker_host;
};

struct volfs_plugin;

/* A Docker reference is an attachment whose consumer is this prefix and
 * the Mount ID. */
#define VOLFS_DOCKER_CONSUMER "docker:"
#define VOLFS_DOCKER_CONSUMER_LEN (sizeof(VOLFS_DOCKER_CONSUMER) - 1)

static inline int volfs_is_docker_ref(const char *consumer)
{
	return strncmp(consumer, VOLFS_DOCKER_CONSUMER,
		       VOLFS_DOCKER_CONSUMER_LEN) == 0;
}

/*
 * Binds the socket (mode 0660; a stale socket nobody answers on is
 * replaced, a live one is -EADDRINUSE, anything else at the path is -EEXIST
 * and left alone) and starts answering.  Requests are served on threads of
 * their own, each to a deadline (plugin_int.h), until volfs_plugin_stop().
 */
int volfs_plugin_start(const struct volfs_plugin_config *cfg,
		       struct volfs_plugin **out, struct volfs_err *err);

/* Stops answering, removes the socket and frees everything. */
void volfs_plugin_stop(struct volfs_plugin *p);

/*
 * Drops the Docker references ("docker:ID" attachments) of volumes that no
 * running, paused or restarting container uses any more, asking Docker's
 * API at docker_host (NULL: the default above).  Returns how many it
 * dropped; when Docker cannot be asked it drops nothing and fails with a
 * message saying so.
 */
int volfs_docker_reconcile(struct volfs_catalog *cat, const char *docker_host,
			   struct volfs_err *err);

#endif /* VOLFS_PLUGIN_H */
