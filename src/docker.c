/* SPDX-License-Identifier: MIT */
/*
 * Reconciling Docker's references: a dockerd that restarts (or dies) never
 * sends the Unmounts of the mounts it held, so "docker:ID" attachments can
 * outlive their containers.  Docker's API says which containers still use
 * which volumes; references of volumes no live container uses are dropped.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "volfs/dockerapi.h"
#include "volfs/util.h"

#ifndef VOLFS_DOCKERAPI_MODULE_DEFAULT
#define VOLFS_DOCKERAPI_MODULE_DEFAULT "/usr/local/lib/volfs/dockerapi.so"
#endif

#define DOCKER_DEFAULT_SOCKET "/run/docker.sock"
/* Docker answers in milliseconds; a wedged one must not stall volfs. */
#define DOCKER_API_TIMEOUT_MS 10000

/* Volume names in use by live containers. */
struct docker_inuse {
	char **names;
	size_t n, alloc;
	int oom;
};

static void docker_note_mount(void *ctx, const struct volfs_docker_mount *m)
{
	struct docker_inuse *u = ctx;
	char **grown;

	/* A stopped container holds no mount: Docker unmounted it. */
	if (strcmp(m->state, "running") != 0 &&
	    strcmp(m->state, "paused") != 0 &&
	    strcmp(m->state, "restarting") != 0)
		return;
	if (u->n == u->alloc) {
		size_t na = u->alloc ? 2 * u->alloc : 16;

		grown = realloc(u->names, na * sizeof(*grown));
		if (!grown) {
			u->oom = 1;
			return;
		}
		u->names = grown;
		u->alloc = na;
	}
	u->names[u->n] = strdup(m->volume);
	if (!u->names[u->n])
		u->oom = 1;
	else
		u->n++;
}

static int docker_in_use(const struct docker_inuse *u, const char *volume)
{
	for (size_t i = 0; i < u->n; i++)
		if (strcmp(u->names[i], volume) == 0)
			return 1;
	return 0;
}

/* The unix socket path of docker_host ("unix:///p", "/p" or NULL). */
static int docker_socket_path(const char *host, const char **path,
			      struct volfs_err *err)
{
	if (!host)
		host = getenv("DOCKER_HOST");
	if (!host || !*host) {
		*path = DOCKER_DEFAULT_SOCKET;
		return 0;
	}
	if (strncmp(host, "unix://", 7) == 0)
		host += 7;
	if (host[0] != '/')
		return volfs_err_set(err, -EINVAL,
				     "cannot ask docker at '%s': volfs talks "
				     "to docker's unix socket only; give "
				     "--docker-host unix:///PATH",
				     host);
	*path = host;
	return 0;
}

/* Loads the Docker API module once; NULL with a message if it cannot. */
static const struct volfs_dockerapi *docker_api(struct volfs_err *err)
{
	static const struct volfs_dockerapi *api;
	static void *handle;
	const char *path = getenv("VOLFS_DOCKERAPI_MODULE");
	volfs_dockerapi_entry_fn entry;

	if (api)
		return api;
	if (!path || !*path)
		path = VOLFS_DOCKERAPI_MODULE_DEFAULT;
	if (!handle)
		handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		volfs_err_set(err, -ENOENT,
			      "cannot load the docker API module %s: %s; "
			      "reinstall volfs",
			      path, dlerror());
		return NULL;
	}
	entry = (volfs_dockerapi_entry_fn)dlsym(handle, "volfs_dockerapi");
	if (!entry || !entry() ||
	    entry()->abi_version != VOLFS_DOCKERAPI_ABI) {
		volfs_err_set(err, -EPROTO,
			      "%s is not a docker API module of this volfs; "
			      "reinstall volfs",
			      path);
		return NULL;
	}
	api = entry();
	return api;
}

int volfs_docker_reconcile(struct volfs_catalog *cat, const char *docker_host,
			   struct volfs_err *err)
{
	char msg[VOLFS_ERR_MAX] = "";
	struct docker_inuse u = { 0 };
	const struct volfs_dockerapi *api;
	struct volfs_attachment *a = NULL;
	const char *path = NULL;
	int n = 0, rc, dropped = 0;

	rc = docker_socket_path(docker_host, &path, err);
	if (rc < 0)
		return rc;
	api = docker_api(err);
	if (!api)
		return -ENOENT;
	rc = api->volume_mounts(path, DOCKER_API_TIMEOUT_MS, docker_note_mount,
				&u, msg, sizeof(msg));
	if (rc >= 0 && u.oom)
		rc = -ENOMEM;
	if (rc < 0) {
		volfs_err_set(err, rc,
			      "%s; keeping every docker reference until "
			      "docker can be asked (run 'volfs gc' then)",
			      msg[0] ? msg : strerror(-rc));
		goto out;
	}
	n = volfs_catalog_attachments(cat, NULL, &a, err);
	if (n < 0) {
		rc = n;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (!volfs_is_docker_ref(a[i].consumer) ||
		    docker_in_use(&u, a[i].volume))
			continue;
		rc = volfs_catalog_detach(cat, a[i].volume, a[i].consumer,
					  err);
		if (rc == -ENOENT)
			continue;
		if (rc < 0)
			goto out;
		volfs_log(VOLFS_LOG_NOTICE,
			  "dropped docker's reference %.19s to volume '%s': "
			  "no live container uses the volume",
			  a[i].consumer, a[i].volume);
		dropped++;
	}
	rc = dropped;
out:
	volfs_attachments_free(a, a ? (size_t)n : 0);
	for (size_t i = 0; i < u.n; i++)
		free(u.names[i]);
	free(u.names);
	return rc;
}
