/* SPDX-License-Identifier: MIT */
/*
 * volfs mount / volfs umount: serve one volume at a directory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "metrics.h"
#include "volfs/fs.h"
#include "volfs/loader.h"
#include "volfs/options.h"
#include "volfs/secret.h"
#include "volfs/stage.h"
#include "volfs/util.h"
#include "volfs/volume.h"

static void mount_usage(FILE *out)
{
	fprintf(out,
		"Usage: volfs mount [-f] [-o OPTION[,OPTION...]] NAME DIR\n"
		"\n"
		"Mount volume NAME on the existing directory DIR, e.g. as the "
		"source of\n"
		"'docker run -v DIR:/data'.  volfs stays in the background "
		"serving it until\n"
		"'volfs umount DIR'; the mount counts as a user of the volume "
		"until then.\n"
		"A volume already mounted is shared: the new mount is a bind "
		"of the live one.\n"
		"\n"
		"Options:\n"
		"  -f, --foreground     stay in the foreground, log to stderr\n"
		"  -o ro                read-only: every change fails with "
		"EROFS\n"
		"  -o rw                read-write (the default)\n"
		"  -o noexec            no program on the volume can be run\n"
		"  -o allow_other       let every user in (the default when "
		"run as root)\n"
		"  -o uid=N, -o gid=N   show every file as owned by uid/gid N\n"
		"  -o entry_timeout=S   seconds the kernel caches names\n"
		"  -o attr_timeout=S    seconds the kernel caches attributes\n"
		"                       (default: a day if only volfs changes "
		"the data,\n"
		"                       1 if the host may change it too)\n"
		"  -o max_threads=N     serve with at most N threads\n"
		"  -o io_uring=auto|on|off\n"
		"                       take requests through io_uring, per "
		"CPU, where the\n"
		"                       kernel offers it (auto: local and ram "
		"volumes)\n"
		"  -o writeback_cache   let the kernel gather writes (faster "
		"writes, slower\n"
		"                       stat of files being written; local "
		"volumes)\n"
		"  -o debug             print every FUSE request (with -f)\n"
		"  -h, --help           show this help\n"
		"\n"
		"Examples:\n"
		"  volfs create data && mkdir -p /mnt/data\n"
		"  volfs mount data /mnt/data\n"
		"  docker run --rm -v /mnt/data:/data busybox ls /data\n"
		"  volfs mount -o ro,uid=1000,gid=1000 data /mnt/data-ro\n");
}

static int mount_parse_uint(const char *opt, const char *val,
			    unsigned long min, unsigned long max,
			    unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(val, &end, 10);
	if (!*val || *end || errno || *out < min || *out > max ||
	    val[0] == '-')
		return cli_usage_error("mount",
				       "invalid value '%s' for mount option "
				       "'%s': give a number from %lu to %lu",
				       val, opt, min, max);
	return 0;
}

static int mount_parse_seconds(const char *opt, const char *val,
			       double *out)
{
	char *end;

	errno = 0;
	*out = strtod(val, &end);
	/* Written so that NaN, which compares false, is refused too. */
	if (!*val || *end || errno || !(*out >= 0 && *out <= 86400 * 365))
		return cli_usage_error("mount",
				       "invalid value '%s' for mount option "
				       "'%s': give seconds, e.g. 1 or 0.5",
				       val, opt);
	return 0;
}

void cli_mount_defaults(struct volfs_fs_config *cfg)
{
	*cfg = (struct volfs_fs_config){
		.allow_other = geteuid() == 0,
		.entry_timeout = -1,
		.attr_timeout = -1,
	};
}

int cli_mount_opt(const char *opt, const char *val,
		  struct volfs_fs_config *cfg)
{
	unsigned long n;

	if (!strcmp(opt, "ro") && !val) {
		cfg->readonly = 1;
	} else if (!strcmp(opt, "rw") && !val) {
		cfg->readonly = 0;
	} else if (!strcmp(opt, "noexec") && !val) {
		cfg->noexec = 1;
	} else if (!strcmp(opt, "exec") && !val) {
		cfg->noexec = 0;
	} else if (!strcmp(opt, "allow_other") && !val) {
		cfg->allow_other = 1;
	} else if (!strcmp(opt, "debug") && !val) {
		cfg->debug = 1;
	} else if (!strcmp(opt, "writeback_cache") && !val) {
		cfg->writeback_cache = 1;
	} else if (!strcmp(opt, "defaults") && !val) {
		return 0;
	} else if (!strcmp(opt, "uid") && val) {
		if (mount_parse_uint(opt, val, 0, UINT32_MAX - 1, &n))
			return EXIT_USAGE;
		cfg->force_uid = 1;
		cfg->uid = (uid_t)n;
	} else if (!strcmp(opt, "gid") && val) {
		if (mount_parse_uint(opt, val, 0, UINT32_MAX - 1, &n))
			return EXIT_USAGE;
		cfg->force_gid = 1;
		cfg->gid = (gid_t)n;
	} else if (!strcmp(opt, "max_threads") && val) {
		if (mount_parse_uint(opt, val, 1, 1024, &n))
			return EXIT_USAGE;
		cfg->max_threads = (unsigned)n;
	} else if (!strcmp(opt, "io_uring") && val) {
		if (!strcmp(val, "auto"))
			cfg->io_uring = 0;
		else if (!strcmp(val, "on"))
			cfg->io_uring = 1;
		else if (!strcmp(val, "off"))
			cfg->io_uring = -1;
		else
			return cli_usage_error("mount",
					       "invalid value '%s' for mount "
					       "option 'io_uring': give auto, "
					       "on or off",
					       val);
	} else if (!strcmp(opt, "entry_timeout") && val) {
		if (mount_parse_seconds(opt, val, &cfg->entry_timeout))
			return EXIT_USAGE;
	} else if (!strcmp(opt, "attr_timeout") && val) {
		if (mount_parse_seconds(opt, val, &cfg->attr_timeout))
			return EXIT_USAGE;
	} else {
		return -1;
	}
	return 0;
}

int cli_parse_mount_opts(char *arg, struct volfs_fs_config *cfg)
{
	char *save = NULL;
	int rc;

	for (char *opt = strtok_r(arg, ",", &save); opt;
	     opt = strtok_r(NULL, ",", &save)) {
		char *val = strchr(opt, '=');

		if (val)
			*val++ = '\0';
		rc = cli_mount_opt(opt, val, cfg);
		if (rc > 0)
			return rc;
		if (rc < 0)
			return cli_usage_error(
				"mount",
				"unknown mount option '%s%s%s': known are ro, "
				"rw, noexec, allow_other, uid=N, gid=N, "
				"entry_timeout=S, attr_timeout=S, "
				"max_threads=N, io_uring=auto|on|off, "
				"writeback_cache, debug",
				opt, val ? "=" : "", val ? val : "");
	}
	return 0;
}

/* DIR made absolute without touching it: a dead FUSE mount cannot be
 * resolved (ENOTCONN), yet it must be unmountable. */
static int mount_abspath(const char *arg, char *out, size_t size)
{
	char cwd[PATH_MAX];
	size_t len;

	if (realpath(arg, out))
		return 0;
	if (arg[0] == '/') {
		cwd[0] = '\0';
	} else if (!getcwd(cwd, sizeof(cwd))) {
		return -errno;
	}
	if ((size_t)snprintf(out, size, "%s%s%s", cwd, cwd[0] ? "/" : "",
			     arg) >= size)
		return -ENAMETOOLONG;
	len = strlen(out);
	while (len > 1 && out[len - 1] == '/')
		out[--len] = '\0';
	return 0;
}

/* "mount:DIR", the consumer id of a volfs mount's attachment. */
static void mount_consumer(const char *dir, char *buf, size_t size)
{
	snprintf(buf, size, "mount:%s", dir);
}

/*
 * Unmounts the mounts that share this process's instances (binds made by
 * later `volfs mount`s, see mount_share()) of volume name, or of every
 * volume when name is NULL, except the attachment own: once the process is
 * gone they would only answer "transport endpoint is not connected".
 */
void cli_release_binds(struct volfs_catalog *cat, const char *name,
		       const char *own)
{
	struct volfs_attachment *a = NULL;
	pid_t me = getpid();
	int n;

	n = volfs_catalog_attachments(cat, name, &a, NULL);
	for (int i = 0; i < n; i++) {
		if (a[i].pid != me || (own && strcmp(a[i].consumer, own) == 0) ||
		    strncmp(a[i].consumer, "mount:", 6) != 0)
			continue;
		if (volfs_unmount(a[i].target, 1) < 0)
			volfs_log(VOLFS_LOG_WARNING, "cannot unmount %s",
				  a[i].target);
		volfs_catalog_detach(cat, a[i].volume, a[i].consumer, NULL);
	}
	if (n > 0)
		volfs_attachments_free(a, (size_t)n);
}

/*
 * The daemon's side: open, mount, record the attachment, tell the waiting
 * parent (through notify_fd, or on stderr with -f), then serve.
 */
static int mount_serve(struct volfs_cli *cli, const char *name,
		       const char *dir, const struct volfs_fs_config *cfg,
		       int notify_fd)
{
	struct volfs_err err = { "" };
	struct volfs_open_volume *ov = NULL;
	struct volfs_catalog *cat = NULL;
	struct volfs_fs *fs = NULL;
	char consumer[PATH_MAX + 8];
	struct volfs_attachment a;
	int rc, drc;

	mount_consumer(dir, consumer, sizeof(consumer));
	rc = volfs_catalog_open(cli->root, &cat, &err);
	if (rc < 0)
		goto fail;
	rc = volfs_volume_open(cat, name, &ov, &err);
	if (rc < 0)
		goto fail;
	rc = volfs_fs_mount(ov, dir, cfg, &fs, &err);
	if (rc < 0)
		goto fail;
	a = (struct volfs_attachment){
		.volume = (char *)name,
		.consumer = consumer,
		.target = (char *)dir,
		.readonly = cfg->readonly,
		.since = time(NULL),
		.pid = getpid(),
		.pid_start = volfs_pid_start(getpid()),
	};
	rc = volfs_catalog_attach(cat, &a, &err);
	if (rc < 0)
		goto fail;

	cli_detach_ready(notify_fd);
	volfs_log(VOLFS_LOG_INFO, "serving volume '%s' on %s", name, dir);
	rc = volfs_fs_run(fs);
	if (rc < 0)
		volfs_log(VOLFS_LOG_ERR, "serving volume '%s' on %s failed: %s",
			  name, dir, strerror(-rc));
	cli_release_binds(cat, name, consumer);
	/* Already gone when `volfs umount` or `rm -f` detached it. */
	drc = volfs_catalog_detach(cat, name, consumer, &err);
	if (drc < 0 && drc != -ENOENT)
		volfs_log(VOLFS_LOG_WARNING, "%s", err.msg);
	volfs_fs_destroy(fs);
	volfs_volume_close(ov);
	volfs_catalog_close(cat);
	volfs_log(VOLFS_LOG_INFO, "volume '%s' unmounted from %s", name, dir);
	return rc < 0 ? EXIT_FAIL : EXIT_OK;

fail:
	volfs_fs_destroy(fs);
	if (ov)
		volfs_volume_close(ov);
	if (cat)
		volfs_catalog_close(cat);
	return cli_detach_fail(notify_fd, err.msg);
}

void cli_detach_ready(int notify_fd)
{
	int devnull;

	if (notify_fd < 0)
		return;
	if (write(notify_fd, "O", 1) != 1)
		volfs_log(VOLFS_LOG_WARNING, "the starting command went away");
	close(notify_fd);
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		dup2(devnull, STDOUT_FILENO);
		dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
	volfs_log_to_syslog("volfs");
}

int cli_detach_fail(int notify_fd, const char *msg)
{
	if (notify_fd < 0) {
		cli_error("%s", msg);
		return EXIT_FAIL;
	}
	if (write(notify_fd, "E", 1) == 1 &&
	    write(notify_fd, msg, strlen(msg)) < 0)
		return EXIT_FAIL;
	return EXIT_FAIL;
}

int cli_detach(int (*fn)(void *arg, int notify_fd), void *arg,
	       const char *what, const char *hint)
{
	char msg[VOLFS_ERR_MAX + 1];
	size_t got = 0;
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		cli_error("%s: pipe: %s", what, strerror(errno));
		return EXIT_FAIL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cli_error("%s: fork: %s", what, strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return EXIT_FAIL;
	}
	if (pid == 0) {
		close(fds[0]);
		setsid();
		signal(SIGPIPE, SIG_IGN);
		if (chdir("/") < 0)
			_exit(EXIT_FAIL);
		/* exit(), not _exit(): the daemon's leak checks run at exit,
		 * and stdio was flushed before the fork. */
		exit(fn(arg, fds[1]));
	}
	close(fds[1]);
	while (got < sizeof(msg) - 1 &&
	       (n = read(fds[0], msg + got, sizeof(msg) - 1 - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
		if (msg[0] == 'O')
			break;
	}
	close(fds[0]);
	msg[got] = '\0';
	if (got > 0 && msg[0] == 'O')
		return EXIT_OK;
	waitpid(pid, &status, 0);
	if (got > 1 && msg[0] == 'E')
		cli_error("%s", msg + 1);
	else
		cli_error("%s: the volfs daemon exited before it was ready "
			  "(status %d); %s",
			  what, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
			  hint);
	return EXIT_FAIL;
}

struct mount_args {
	struct volfs_cli *cli;
	const char *name;
	const char *dir;
	const struct volfs_fs_config *cfg;
};

static int mount_daemon(void *arg, int notify_fd)
{
	struct mount_args *m = arg;

	return mount_serve(m->cli, m->name, m->dir, m->cfg, notify_fd);
}

/* Forks the daemon and waits until it reports the mount ready or failed. */
static int mount_background(struct volfs_cli *cli, const char *name,
			    const char *dir, const struct volfs_fs_config *cfg)
{
	struct mount_args m = { cli, name, dir, cfg };
	char what[PATH_MAX + 300];

	snprintf(what, sizeof(what), "cannot mount volume '%s' on %s", name,
		 dir);
	return cli_detach(mount_daemon, &m, what,
			  "run 'volfs mount -f' to see why");
}

/*
 * Whether the daemon pid (what) behind the mount at dir answers: 1; 0
 * after saying what to do when it does not answer in time (stopped, not
 * dead: it would hang this process forever), and this process may serve
 * the volume itself; -1 after saying why not, when the volume's data lives
 * only in that daemon (sole): another instance would be another volume.
 */
static int mount_answers(const char *name, const char *dir, const char *what,
			 pid_t pid, int sole)
{
	int rc = volfs_stat_bounded(dir, NULL, VOLFS_PROBE_MS);

	if (rc != -ETIMEDOUT)
		return rc == 0;
	if (sole) {
		cli_error("cannot mount volume '%s': its files live in %s "
			  "(pid %d), which does not answer at %s within %d s "
			  "(is it stopped?), and a second instance would be "
			  "another, empty volume; resume it with 'kill -CONT "
			  "%d', or stop it, and try again",
			  name, what, (int)pid, dir, VOLFS_PROBE_MS / 1000,
			  (int)pid);
		return -1;
	}
	volfs_log(VOLFS_LOG_WARNING,
		  "%s (pid %d) does not answer at %s within %d s (is it "
		  "stopped?): mounting without it; resume it with 'kill -CONT "
		  "%d', or stop it",
		  what, (int)pid, dir, VOLFS_PROBE_MS / 1000, (int)pid);
	return 0;
}

/*
 * Finds a live instance of volume name: a volfs mount of it whose daemon
 * still runs and answers.  Fills *live (freed by the caller) and returns
 * 1, or 0, or -1 after saying why the volume cannot be mounted (sole: see
 * mount_answers()).
 */
static int mount_find_live(struct volfs_catalog *cat, const char *name,
			   int sole, struct volfs_attachment *live)
{
	struct volfs_attachment *a = NULL;
	int n, found = 0;

	n = volfs_catalog_attachments(cat, name, &a, NULL);
	for (int i = 0; i < n && !found; i++) {
		if (strncmp(a[i].consumer, "mount:", 6) != 0 ||
		    volfs_pid_start(a[i].pid) != a[i].pid_start ||
		    volfs_is_volfs_mount(a[i].target) != 1)
			continue;
		found = mount_answers(name, a[i].target,
				      "the volfs mount daemon", a[i].pid,
				      sole);
		if (found > 0) {
			*live = a[i];
			memset(&a[i], 0, sizeof(a[i]));
		}
	}
	if (n > 0)
		volfs_attachments_free(a, (size_t)n);
	return found;
}

/*
 * Finds a running `volfs serve`: its directory for volume name goes into
 * *live as if it were a mount of the volume.  Returns 1 if there is one
 * that answers, else as mount_find_live().
 */
static int mount_find_server(struct volfs_catalog *cat, const char *name,
			     int sole, struct volfs_attachment *live)
{
	struct volfs_server *srv = NULL;
	int n, found;

	n = volfs_catalog_servers(cat, &srv, NULL);
	if (n <= 0)
		return 0;
	/* The bind would look the volume up in it: make sure it answers. */
	found = mount_answers(name, srv[0].mountpoint, "volfs serve",
			      srv[0].pid, sole);
	if (found > 0) {
		if (asprintf(&live->target, "%s/%s", srv[0].mountpoint,
			     name) >= 0) {
			live->pid = srv[0].pid;
			live->pid_start = srv[0].pid_start;
		} else {
			found = 0;
		}
	}
	volfs_servers_free(srv, (size_t)n);
	return found;
}

/*
 * Whether volume row's files live only in the process serving it (ram):
 * one that does not answer cannot be replaced by another instance.
 */
static int mount_sole_instance(const struct volfs_volume *row)
{
	const struct volfs_backend *be;

	return volfs_backend_load(row->backend, &be, NULL) == 0 &&
	       !(be->caps & VOLFS_CAP_PERSISTENT);
}

/* Whether pid is a running `volfs serve`. */
static int mount_is_server(struct volfs_catalog *cat, pid_t pid)
{
	struct volfs_server *srv = NULL;
	int n, found = 0;

	n = volfs_catalog_servers(cat, &srv, NULL);
	for (int i = 0; i < n; i++)
		if (srv[i].pid == pid)
			found = 1;
	if (n > 0)
		volfs_servers_free(srv, (size_t)n);
	return found;
}

/*
 * Why the process serving volume name may fail to open it, as far as this
 * process can tell without reaching the volume's storage: its row, its
 * backend module, its sealed secrets (the key file is the same for both).
 * Returns 0 when none of them is at fault, else -errno with the reason,
 * which names the file at fault and what to do, in err.
 */
static int mount_explain(struct volfs_catalog *cat, const char *name,
			 struct volfs_err *err)
{
	struct volfs_kvlist plain = { 0 };
	const struct volfs_backend *be;
	struct volfs_volume row;
	int rc;

	rc = volfs_catalog_get(cat, name, &row, err);
	if (rc < 0)
		return rc;
	rc = volfs_backend_load(row.backend, &be, err);
	if (rc == 0)
		rc = volfs_opts_unseal(volfs_catalog_root(cat), be, name,
				       row.opts, row.nopts, &plain, err);
	volfs_kvlist_release(&plain);
	volfs_volume_release(&row);
	return rc;
}

/*
 * Mounts the live instance at live->target on dir too (a bind mount), so
 * that every mount of a volume is one file system: one ram volume's data,
 * one set of caches.  The attachment belongs to the serving daemon.
 * Returns 1 if it shared, 0 if sharing is not possible here (not
 * privileged: the caller starts an instance of its own), or -1 after
 * printing why it failed.
 */
static int mount_share(struct volfs_catalog *cat, const char *name,
		       const char *dir, const struct volfs_fs_config *cfg,
		       const struct volfs_attachment *live)
{
	struct volfs_err err = { "" };
	char consumer[PATH_MAX + 8];
	struct volfs_attachment a;

	if (mount(live->target, dir, NULL, MS_BIND, NULL) < 0) {
		int e = errno;

		if (e == EPERM)
			return 0;
		/* The serving process knows why, but a bind gets only its
		 * errno: find the reason here where it can be found. */
		if (mount_explain(cat, name, &err) < 0)
			cli_error("cannot mount volume '%s' on %s: the volfs "
				  "process serving it (pid %d) cannot open "
				  "it: %s",
				  name, dir, (int)live->pid, err.msg);
		else
			cli_error("cannot mount volume '%s' on %s: bind of "
				  "its mount at %s: %s; the log of the volfs "
				  "process serving it (pid %d) says why",
				  name, dir, live->target, strerror(e),
				  (int)live->pid);
		return -1;
	}
	if ((cfg->readonly || cfg->noexec) &&
	    mount(NULL, dir, NULL,
		  MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV |
			  (cfg->readonly ? MS_RDONLY : 0) |
			  (cfg->noexec ? MS_NOEXEC : 0),
		  NULL) < 0) {
		cli_error("cannot mount volume '%s' %son %s: %s", name,
			  cfg->readonly ? "read-only " : "", dir,
			  strerror(errno));
		goto err_unmount;
	}
	mount_consumer(dir, consumer, sizeof(consumer));
	a = (struct volfs_attachment){
		.volume = (char *)name,
		.consumer = consumer,
		.target = (char *)dir,
		.readonly = cfg->readonly,
		.since = time(NULL),
		.pid = live->pid,
		.pid_start = live->pid_start,
	};
	if (volfs_catalog_attach(cat, &a, &err) < 0) {
		cli_error("%s", err.msg);
		goto err_unmount;
	}
	return 1;

err_unmount:
	umount2(dir, MNT_DETACH);
	return -1;
}

/*
 * Resolves the mount target into dir.  A dead volfs mount there (its daemon
 * was killed) is detached first: it would only answer "transport endpoint
 * is not connected".
 */
int cli_mount_target(const char *arg, char *dir)
{
	struct statfs sfs;
	struct stat st;

	/* statfs() always asks the daemon; stat() may answer from cache. */
	if (mount_abspath(arg, dir, PATH_MAX) == 0 &&
	    statfs(dir, &sfs) < 0 && errno == ENOTCONN &&
	    volfs_is_volfs_mount(dir) == 1) {
		volfs_log(VOLFS_LOG_NOTICE, "detaching the dead mount at %s",
			  dir);
		volfs_unmount(dir, 1);
	}
	if (!realpath(arg, dir) || stat(dir, &st) < 0) {
		cli_error("cannot mount on '%s': %s%s", arg, strerror(errno),
			  errno == ENOENT ? " (create the directory first)"
					  : "");
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		cli_error("cannot mount on '%s': not a directory", dir);
		return -1;
	}
	if (volfs_is_volfs_mount(dir) == 1) {
		cli_error("%s is already a volfs mount: 'volfs umount %s' "
			  "first, or pick another directory",
			  dir, dir);
		return -1;
	}
	return 0;
}

int cmd_mount(struct volfs_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "options", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct volfs_fs_config cfg;
	int c, foreground = 0;

	cli_mount_defaults(&cfg);

	while ((c = getopt_long(argc, argv, "+fo:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			foreground = 1;
			break;
		case 'o':
			if (cli_parse_mount_opts(optarg, &cfg))
				return EXIT_USAGE;
			break;
		case 'h':
			mount_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("mount", "invalid option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("mount",
				       "'mount' takes a volume NAME and a "
				       "directory DIR");
	return cli_mount_volume(cli, argv[optind], argv[optind + 1], &cfg,
				foreground);
}

int cli_mount_volume(struct volfs_cli *cli, const char *name,
		     const char *dirarg, const struct volfs_fs_config *cfg,
		     int foreground)
{
	struct volfs_err err = { "" };
	char dir[PATH_MAX];

	if (volfs_name_check(name, &err) < 0) {
		cli_error("%s", err.msg);
		return EXIT_USAGE;
	}
	if (cfg->debug && !foreground)
		return cli_usage_error("mount", "-o debug needs -f");
	if (cli_mount_target(dirarg, dir) < 0)
		return EXIT_FAIL;
	if (!foreground) {
		struct volfs_catalog *cat = cli_catalog(cli);
		struct volfs_attachment live = { 0 };
		struct volfs_volume row;
		int shared = 0, found, sole;

		if (!cat)
			return EXIT_FAIL;
		if (volfs_catalog_get(cat, name, &row, &err) < 0) {
			cli_error("%s", err.msg);
			return EXIT_FAIL;
		}
		sole = mount_sole_instance(&row);
		volfs_volume_release(&row);
		found = mount_find_server(cat, name, sole, &live);
		if (!found)
			found = mount_find_live(cat, name, sole, &live);
		if (found < 0)
			return EXIT_FAIL;
		if (found) {
			shared = mount_share(cat, name, dir, cfg, &live);
			volfs_attachment_release(&live);
		}
		if (shared)
			return shared > 0 ? EXIT_OK : EXIT_FAIL;
		/* The daemon opens a catalog of its own after the fork. */
		volfs_catalog_close(cli->cat);
		cli->cat = NULL;
	}
	if (foreground)
		return mount_serve(cli, name, dir, cfg, -1);
	return mount_background(cli, name, dir, cfg);
}

/* How long umount waits for the daemon by default, in seconds: a staged
 * volume's daemon first uploads what is due (for up to 30 s). */
#define UMOUNT_WAIT 10
#define UMOUNT_WAIT_STAGED 60
#define UMOUNT_WAIT_MAX 86400
#define UMOUNT_POLL_MS 50

static void umount_usage(FILE *out)
{
	fprintf(out,
		"Usage: volfs umount [-l] [--timeout SECONDS] DIR\n"
		"\n"
		"Unmount the volfs mount at DIR and wait for its daemon to "
		"finish.  The daemon\n"
		"of a staged volume (a remote backend's) first uploads what "
		"is due; what the\n"
		"store does not take stays in the local cache and is uploaded "
		"when the volume\n"
		"is next opened, as umount then says.\n"
		"\n"
		"Options:\n"
		"  -l, --lazy           detach it now even while files are "
		"open (no waiting)\n"
		"      --timeout SECONDS\n"
		"                       wait at most this long for the daemon "
		"(default %d for a\n"
		"                       staged volume, else %d; 0: do not "
		"wait)\n"
		"  -h, --help           show this help\n"
		"\n"
		"Example:\n"
		"  volfs umount /mnt/data\n",
		UMOUNT_WAIT_STAGED, UMOUNT_WAIT);
}

/* Who serves the mount at dir, from the catalog. */
struct umount_owner {
	char *volume;
	pid_t pid;
	uint64_t start;
	/* Other mounts the same process serves (shared binds). */
	int others;
};

static void umount_find_owner(struct volfs_catalog *cat, const char *dir,
			      struct umount_owner *o)
{
	struct volfs_attachment *a = NULL;
	char consumer[PATH_MAX + 8];
	int n;

	memset(o, 0, sizeof(*o));
	mount_consumer(dir, consumer, sizeof(consumer));
	n = volfs_catalog_attachments(cat, NULL, &a, NULL);
	for (int i = 0; i < n; i++) {
		if (strcmp(a[i].consumer, consumer) == 0) {
			o->volume = strdup(a[i].volume);
			o->pid = a[i].pid;
			o->start = a[i].pid_start;
		}
	}
	for (int i = 0; o->pid > 0 && i < n; i++)
		if (a[i].pid == o->pid && a[i].pid_start == o->start &&
		    strcmp(a[i].consumer, consumer) != 0)
			o->others++;
	if (n > 0)
		volfs_attachments_free(a, (size_t)n);
}

/* Reads a staged volume's counters into st: 1 when they show files not on
 * the store yet, else 0. */
static int umount_dirty(const char *state_dir, struct volfs_stage_stats *st)
{
	return volfs_stage_stats_load(state_dir, st) == 0 &&
	       st->dirty_files > 0;
}

/*
 * Waits up to timeout_s for the daemon of o to exit.  For a staged volume
 * (state_dir not NULL), says once what it is still uploading, and what it
 * leaves in the cache when it exits, or when this gives up on it.
 */
static void umount_wait(const struct umount_owner *o, const char *state_dir,
			unsigned long timeout_s)
{
	int64_t polls = (int64_t)timeout_s * 1000 / UMOUNT_POLL_MS;
	struct volfs_stage_stats st;
	char size[32];
	int said = 0, gone = 0;

	for (int64_t i = 0;; i++) {
		gone = volfs_pid_start(o->pid) != o->start;
		if (gone || i >= polls)
			break;
		if (state_dir && !said && umount_dirty(state_dir, &st)) {
			cli_human_bytes(st.dirty_bytes, size, sizeof(size));
			fprintf(stderr,
				"%s: waiting for %" PRIu64 " file(s) (%s) to "
				"reach the store...\n",
				cli_progname, st.dirty_files, size);
			said = 1;
		}
		usleep(UMOUNT_POLL_MS * 1000);
	}
	if (!state_dir || !umount_dirty(state_dir, &st))
		return;
	cli_human_bytes(st.dirty_bytes, size, sizeof(size));
	if (!gone)
		fprintf(stderr,
			"%s: gave up waiting after %lu s for the volfs daemon "
			"(pid %d), which goes on uploading until it exits; ",
			cli_progname, timeout_s, (int)o->pid);
	else
		fprintf(stderr, "%s: ", cli_progname);
	fprintf(stderr,
		"%" PRIu64 " file(s) (%s) not uploaded yet are kept in the "
		"cache and uploaded when volume '%s' is next opened\n",
		st.dirty_files, size, o->volume);
}

int cmd_umount(struct volfs_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "lazy", no_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char dir[PATH_MAX], consumer[PATH_MAX + 8];
	struct volfs_stage_stats st;
	struct volfs_catalog *cat;
	struct umount_owner o;
	char *state_dir = NULL, *end;
	unsigned long timeout = 0;
	int c, lazy = 0, timeout_given = 0, rc;

	while ((c = getopt_long(argc, argv, "+lh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			lazy = 1;
			break;
		case 't':
			errno = 0;
			timeout = strtoul(optarg, &end, 10);
			if (!*optarg || *end || errno || optarg[0] == '-' ||
			    timeout > UMOUNT_WAIT_MAX)
				return cli_usage_error(
					"umount",
					"invalid --timeout '%s': give seconds "
					"from 0 to %d",
					optarg, UMOUNT_WAIT_MAX);
			timeout_given = 1;
			break;
		case 'h':
			umount_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("umount", "invalid option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("umount", "'umount' takes one DIR");
	rc = mount_abspath(argv[optind], dir, sizeof(dir));
	if (rc < 0) {
		cli_error("cannot unmount '%s': %s", argv[optind],
			  strerror(-rc));
		return EXIT_FAIL;
	}
	rc = volfs_is_volfs_mount(dir);
	if (rc < 0) {
		cli_error("cannot read the mount table: %s", strerror(-rc));
		return EXIT_FAIL;
	}
	if (rc == 0) {
		cli_error("%s is not a volfs mount", dir);
		return EXIT_FAIL;
	}
	cat = cli_catalog(cli);
	if (!cat)
		return EXIT_FAIL;
	umount_find_owner(cat, dir, &o);
	rc = volfs_unmount(dir, lazy);
	if (rc == -EBUSY) {
		cli_error("cannot unmount %s: it is busy (a process has files "
			  "open or its working directory there): stop it, or "
			  "use 'volfs umount -l' to detach the mount now",
			  dir);
		free(o.volume);
		return EXIT_FAIL;
	}
	if (rc < 0) {
		cli_error("cannot unmount %s: %s", dir, strerror(-rc));
		free(o.volume);
		return EXIT_FAIL;
	}
	if (o.volume) {
		mount_consumer(dir, consumer, sizeof(consumer));
		volfs_catalog_detach(cat, o.volume, consumer, NULL);
	}
	/* A `volfs mount` daemon with no other mount finishes: wait for it
	 * to exit.  A `volfs serve` goes on. */
	if (o.pid > 0 && mount_is_server(cat, o.pid))
		o.others = 1;
	if (!lazy && !o.others && o.pid > 0) {
		/* A staged volume has counters in its state directory. */
		if (o.volume)
			state_dir = volfs_volume_state_dir(cat, o.volume);
		if (state_dir && volfs_stage_stats_load(state_dir, &st) < 0) {
			free(state_dir);
			state_dir = NULL;
		}
		if (!timeout_given)
			timeout = state_dir ? UMOUNT_WAIT_STAGED : UMOUNT_WAIT;
		umount_wait(&o, state_dir, timeout);
	}
	free(state_dir);
	free(o.volume);
	return EXIT_OK;
}
