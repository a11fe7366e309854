/* SPDX-License-Identifier: MIT */
/*
 * volfs serve: one daemon, one FUSE mount, every volume of the catalog as a
 * directory under it.  `volfs mount` of a volume while it runs is a bind of
 * that volume's directory, so each volume has one live instance.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "metrics.h"
#include "plugin.h"
#include "volfs/fs.h"
#include "volfs/util.h"
#include "volfs/volume.h"

#define SERVE_MOUNTPOINT "/run/volfs/mnt"
#define SERVE_DOCKER_SOCKET "/run/docker/plugins/volfs.sock"

struct serve_opts {
	const char *root;
	const char *dir;
	/* NULL: no Docker plugin. */
	const char *docker_socket;
	const char *docker_host;
	/* NULL: no metrics endpoint. */
	const char *metrics;
	struct volfs_fs_config cfg;
};

/*
 * The catalog as the file system's volume source.  FUSE threads share one
 * catalog handle, which wants one thread at a time: lock is held for a
 * catalog read and nothing more, never while a backend opens a volume (a
 * server that does not answer would stop every other volume's lookups).
 */
struct serve_src {
	struct volfs_catalog *cat;
	pthread_mutex_t lock;
	/* inotify on the state root: the catalog's files were written. */
	int watch_fd;
};

static int serve_list(void *ctx,
		      void (*fn)(void *arg, const char *name, const char *id),
		      void *arg)
{
	struct serve_src *s = ctx;
	struct volfs_err err = { "" };
	int n;

	pthread_mutex_lock(&s->lock);
	n = volfs_catalog_ids(s->cat, fn, arg, &err);
	pthread_mutex_unlock(&s->lock);
	if (n < 0)
		volfs_log(VOLFS_LOG_ERR, "%s", err.msg);
	return n;
}

/* The row of volume name, read under the lock; -ENOENT unless READY. */
static int serve_peek(struct serve_src *s, const char *name,
		      struct volfs_volume *v, struct volfs_err *err)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = volfs_catalog_peek(s->cat, name, v, err);
	pthread_mutex_unlock(&s->lock);
	if (rc == 0 && v->state != VOLFS_VOL_READY) {
		rc = volfs_err_set(err, -ENOENT, "volume '%s' is %s", name,
				   v->state == VOLFS_VOL_CREATING
					   ? "being created"
					   : "being removed");
		volfs_volume_release(v);
	}
	return rc;
}

static int serve_ident(void *ctx, const char *name, char *id, size_t size)
{
	struct serve_src *s = ctx;
	struct volfs_err err = { "" };
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = volfs_catalog_uuid(s->cat, name, id, size, &err);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0 && rc != -ENOENT)
		volfs_log(VOLFS_LOG_ERR, "%s", err.msg);
	return rc;
}

static int serve_open(void *ctx, const char *name,
		      struct volfs_open_volume **ov, struct volfs_err *err)
{
	struct serve_src *s = ctx;
	struct volfs_volume v;
	int rc;

	rc = serve_peek(s, name, &v, err);
	if (rc < 0)
		return rc;
	/* The catalog is not needed past this point: outside the lock. */
	return volfs_volume_open_row(volfs_catalog_root(s->cat), &v, ov, err);
}

static int serve_watch(void *ctx)
{
	struct serve_src *s = ctx;

	return s->watch_fd;
}

/*
 * Watches the state root, where every catalog write lands (its WAL): a
 * volume removed by another process is let go of at once, and a lookup
 * that finds nothing changed need not read the catalog.
 */
static void serve_watch_start(struct serve_src *s)
{
	const char *root = volfs_catalog_root(s->cat);

	s->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->watch_fd >= 0 &&
	    inotify_add_watch(s->watch_fd, root,
			      IN_MODIFY | IN_CREATE | IN_MOVED_TO) >= 0)
		return;
	volfs_log(VOLFS_LOG_WARNING,
		  "cannot watch %s for changes: %s: every lookup of a "
		  "volume reads the catalog, and a removed volume is let go "
		  "of within seconds",
		  root, strerror(errno));
	if (s->watch_fd >= 0)
		close(s->watch_fd);
	s->watch_fd = -1;
}

static void serve_usage(FILE *out)
{
	fprintf(out,
		"Usage: volfs serve [-m DIR] [-o OPTION[,OPTION...]] "
		"[--idle-timeout S] [--detach]\n"
		"                   [--docker-socket PATH | --no-docker] "
		"[--docker-host URL]\n"
		"                   [--metrics ADDRESS]\n"
		"\n"
		"Serve every volume of the catalog as a directory under one "
		"FUSE mount, in the\n"
		"foreground (for systemd: it reports READY=1 through "
		"$NOTIFY_SOCKET).  Volumes\n"
		"created or removed while it runs come and go at once; each "
		"is opened on first\n"
		"use and closed when unused for a while.  'volfs mount NAME "
		"DIR' while it runs\n"
		"shares its instance of the volume.  SIGTERM unmounts and "
		"stops it.\n"
		"\n"
		"It also answers Docker's volume plugin protocol "
		"('docker volume create -d volfs'):\n"
		"a container's volume is its directory under the mount, and "
		"every Docker mount is\n"
		"a reference in the catalog, kept across restarts.  At start "
		"it drops references\n"
		"of containers Docker no longer runs ('volfs gc' does the "
		"same).\n"
		"\n"
		"Options:\n"
		"  -m, --mountpoint DIR  where to mount (default "
		SERVE_MOUNTPOINT ")\n"
		"  -o OPTIONS            mount options, as for 'volfs mount'\n"
		"  --idle-timeout S      close a volume unused for S seconds "
		"(default 60)\n"
		"  -d, --detach          run in the background, logging to "
		"syslog; return once\n"
		"                        serving\n"
		"  --docker-socket PATH  the plugin's socket (default\n"
		"                        " SERVE_DOCKER_SOCKET "); only a "
		"stale\n"
		"                        socket there is replaced\n"
		"  --no-docker           no Docker plugin socket\n"
		"  --docker-host URL     Docker's API, asked which containers "
		"still exist\n"
		"                        (default $DOCKER_HOST, else "
		"unix:///run/docker.sock)\n"
		"  --metrics ADDRESS     serve Prometheus metrics at "
		"http://ADDRESS/metrics: the\n"
		"                        counters of every staged volume and "
		"the latency of\n"
		"                        FUSE requests; ADDRESS is "
		"127.0.0.1:PORT, [::1]:PORT\n"
		"                        or unix:/PATH (loopback only: it has "
		"no authentication)\n"
		"  -h, --help            show this help\n"
		"\n"
		"Example:\n"
		"  volfs serve &\n"
		"  volfs create data && ls " SERVE_MOUNTPOINT "/data\n");
}

/* Drops Docker references of containers gone while volfs was not
 * looking; Docker may not be up yet, which only leaves them for later. */
static void *serve_reconcile(void *arg)
{
	struct serve_opts *o = arg;
	struct volfs_err err = { "" };
	struct volfs_catalog *cat;
	int rc;

	if (volfs_catalog_open(o->root, &cat, &err) < 0) {
		volfs_log(VOLFS_LOG_WARNING, "%s", err.msg);
		return NULL;
	}
	rc = volfs_docker_reconcile(cat, o->docker_host, &err);
	if (rc < 0)
		volfs_log(VOLFS_LOG_NOTICE, "%s", err.msg);
	else if (rc > 0)
		volfs_log(VOLFS_LOG_NOTICE,
			  "dropped %d docker reference(s) of containers that "
			  "no longer run",
			  rc);
	volfs_catalog_close(cat);
	return NULL;
}

/* Serves until unmounted or signalled; the catalog is open. */
static int serve_run(struct serve_src *src, struct serve_opts *o,
		     int notify_fd)
{
	const char *dir = o->dir;
	const struct volfs_fs_config *cfg = &o->cfg;
	struct volfs_plugin *plugin = NULL;
	struct volfs_metrics *metrics = NULL;
	pthread_t reconciler;
	int reconciling = 0;
	const struct volfs_fs_source source = {
		.ctx = src,
		.list = serve_list,
		.ident = serve_ident,
		.open = serve_open,
		.watch = serve_watch,
	};
	struct volfs_server srv = {
		.mountpoint = (char *)dir,
		.pid = getpid(),
		.pid_start = volfs_pid_start(getpid()),
		.since = time(NULL),
	};
	struct volfs_err err = { "" };
	struct volfs_fs *fs;
	int rc;

	/* Before the mount: its first requests are timed too. */
	if (o->metrics) {
		rc = volfs_metrics_start(o->metrics, o->root, &metrics, &err);
		if (rc < 0)
			return cli_detach_fail(notify_fd, err.msg);
	}
	rc = volfs_fs_mount_all(&source, dir, cfg, &fs, &err);
	if (rc < 0) {
		volfs_metrics_stop(metrics);
		return cli_detach_fail(notify_fd, err.msg);
	}
	pthread_mutex_lock(&src->lock);
	rc = volfs_catalog_server_add(src->cat, &srv, &err);
	pthread_mutex_unlock(&src->lock);
	if (rc < 0) {
		volfs_fs_destroy(fs);
		volfs_metrics_stop(metrics);
		return cli_detach_fail(notify_fd, err.msg);
	}
	if (o->docker_socket) {
		const struct volfs_plugin_config pcfg = {
			.socket_path = o->docker_socket,
			.mountpoint = dir,
			.root = o->root,
			.docker_host = o->docker_host,
		};

		rc = volfs_plugin_start(&pcfg, &plugin, &err);
		if (rc < 0) {
			volfs_catalog_server_remove(src->cat, dir, NULL);
			volfs_fs_destroy(fs);
			volfs_metrics_stop(metrics);
			return cli_detach_fail(notify_fd, err.msg);
		}
		reconciling = pthread_create(&reconciler, NULL,
					     serve_reconcile, o) == 0;
	}
	cli_detach_ready(notify_fd);
	volfs_sd_notify("READY=1");
	volfs_log(VOLFS_LOG_NOTICE, "serving every volume under %s", dir);
	rc = volfs_fs_run(fs);
	if (rc < 0)
		volfs_log(VOLFS_LOG_ERR, "serving %s failed: %s", dir,
			  strerror(-rc));
	volfs_sd_notify("STOPPING=1");
	if (reconciling)
		pthread_join(reconciler, NULL);
	volfs_plugin_stop(plugin);
	/* The loop is over: no FUSE thread uses the catalog any more. */
	if (volfs_catalog_server_remove(src->cat, dir, &err) < 0)
		volfs_log(VOLFS_LOG_WARNING, "%s", err.msg);
	cli_release_binds(src->cat, NULL, NULL);
	/* Closing the volumes waits for their last uploads, which the
	 * metrics go on showing until then. */
	volfs_fs_destroy(fs);
	volfs_metrics_stop(metrics);
	volfs_log(VOLFS_LOG_NOTICE, "stopped serving %s", dir);
	return rc < 0 ? EXIT_FAIL : EXIT_OK;
}

struct serve_start {
	struct volfs_cli *cli;
	struct serve_src *src;
	struct serve_opts *o;
};

/* Opens the catalog and serves: in the foreground (notify_fd < 0) or as
 * the detached daemon. */
static int serve_daemon(void *arg, int notify_fd)
{
	struct serve_start *s = arg;
	struct volfs_err err = { "" };
	int rc;

	/* A detached daemon opens its own catalog: SQLite handles do not
	 * survive a fork. */
	rc = volfs_catalog_open(s->cli->root, &s->src->cat, &err);
	if (rc < 0)
		return cli_detach_fail(notify_fd, err.msg);
	s->o->root = volfs_catalog_root(s->src->cat);
	pthread_mutex_init(&s->src->lock, NULL);
	serve_watch_start(s->src);
	rc = serve_run(s->src, s->o, notify_fd);
	if (s->src->watch_fd >= 0)
		close(s->src->watch_fd);
	pthread_mutex_destroy(&s->src->lock);
	volfs_catalog_close(s->src->cat);
	return rc;
}

int cmd_serve(struct volfs_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mountpoint", required_argument, NULL, 'm' },
		{ "options", required_argument, NULL, 'o' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "detach", no_argument, NULL, 'd' },
		{ "docker-socket", required_argument, NULL, 'D' },
		{ "no-docker", no_argument, NULL, 'N' },
		{ "docker-host", required_argument, NULL, 'H' },
		{ "metrics", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *mountpoint = SERVE_MOUNTPOINT;
	struct serve_opts o = { .docker_socket = SERVE_DOCKER_SOCKET };
	struct volfs_fs_config *cfg = &o.cfg;
	struct serve_src src = { 0 };
	struct volfs_err err = { "" };
	char dir[PATH_MAX];
	unsigned long idle;
	int c, rc, detach = 0, socket_given = 0, no_docker = 0;
	char *end;

	cli_mount_defaults(cfg);

	while ((c = getopt_long(argc, argv, "+m:o:dh", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'm':
			mountpoint = optarg;
			break;
		case 'o':
			if (cli_parse_mount_opts(optarg, cfg))
				return EXIT_USAGE;
			break;
		case 'i':
			errno = 0;
			idle = strtoul(optarg, &end, 10);
			if (!*optarg || *end || errno || idle == 0 ||
			    idle > 86400 || optarg[0] == '-')
				return cli_usage_error(
					"serve",
					"invalid --idle-timeout '%s': give "
					"seconds from 1 to 86400",
					optarg);
			cfg->idle_timeout = (unsigned)idle;
			break;
		case 'd':
			detach = 1;
			break;
		case 'D':
			if (optarg[0] != '/')
				return cli_usage_error(
					"serve",
					"invalid --docker-socket '%s': give "
					"an absolute path",
					optarg);
			o.docker_socket = optarg;
			socket_given = 1;
			break;
		case 'N':
			no_docker = 1;
			break;
		case 'H':
			o.docker_host = optarg;
			break;
		case 'M':
			if (volfs_metrics_check_addr(optarg, &err) < 0)
				return cli_usage_error("serve", "%s", err.msg);
			o.metrics = optarg;
			break;
		case 'h':
			serve_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("serve", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage_error("serve", "'serve' takes no arguments");
	/* Docker's API is asked only on behalf of the plugin. */
	if (no_docker && (socket_given || o.docker_host))
		return cli_usage_error("serve",
				       "--no-docker turns the plugin off: "
				       "give it without %s",
				       socket_given ? "--docker-socket"
						    : "--docker-host");
	if (no_docker)
		o.docker_socket = NULL;
	rc = volfs_mkdir_p(mountpoint, 0755);
	if (rc < 0) {
		cli_error("cannot make mountpoint %s: %s", mountpoint,
			  strerror(-rc));
		return EXIT_FAIL;
	}
	if (cli_mount_target(mountpoint, dir) < 0)
		return EXIT_FAIL;
	o.dir = dir;
	o.root = cli->root;
	if (detach) {
		struct serve_start start = { cli, &src, &o };

		return cli_detach(serve_daemon, &start, "cannot start volfs serve",
				  "run 'volfs serve' without --detach to see "
				  "why");
	}
	return serve_daemon(&(struct serve_start){ cli, &src, &o }, -1);
}
