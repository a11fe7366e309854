/* SPDX-License-Identifier: MIT */
/*
 * volfs mount / volfs umount: serve one volume at a directory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "volfs/fs.h"
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
		"\n"
		"Options:\n"
		"  -f, --foreground     stay in the foreground, log to stderr\n"
		"  -o ro                read-only: every change fails with "
		"EROFS\n"
		"  -o rw                read-write (the default)\n"
		"  -o allow_other       let every user in (the default when "
		"run as root)\n"
		"  -o uid=N, -o gid=N   show every file as owned by uid/gid N\n"
		"  -o entry_timeout=S   seconds the kernel caches names "
		"(default 1)\n"
		"  -o attr_timeout=S    seconds the kernel caches attributes "
		"(default 1)\n"
		"  -o max_threads=N     serve with at most N threads\n"
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
			    unsigned long max, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(val, &end, 10);
	if (!*val || *end || errno || *out > max || val[0] == '-')
		return cli_usage_error("mount",
				       "invalid value '%s' for mount option "
				       "'%s': give a number from 0 to %lu",
				       val, opt, max);
	return 0;
}

static int mount_parse_seconds(const char *opt, const char *val,
			       double *out)
{
	char *end;

	errno = 0;
	*out = strtod(val, &end);
	if (!*val || *end || errno || *out < 0 || *out > 86400 * 365)
		return cli_usage_error("mount",
				       "invalid value '%s' for mount option "
				       "'%s': give seconds, e.g. 1 or 0.5",
				       val, opt);
	return 0;
}

/* Parses one -o argument (comma-separated) into cfg. */
static int mount_parse_opts(char *arg, struct volfs_fs_config *cfg)
{
	char *save = NULL;
	unsigned long n;

	for (char *opt = strtok_r(arg, ",", &save); opt;
	     opt = strtok_r(NULL, ",", &save)) {
		char *val = strchr(opt, '=');

		if (val)
			*val++ = '\0';
		if (!strcmp(opt, "ro") && !val) {
			cfg->readonly = 1;
		} else if (!strcmp(opt, "rw") && !val) {
			cfg->readonly = 0;
		} else if (!strcmp(opt, "allow_other") && !val) {
			cfg->allow_other = 1;
		} else if (!strcmp(opt, "debug") && !val) {
			cfg->debug = 1;
		} else if (!strcmp(opt, "defaults") && !val) {
			continue;
		} else if (!strcmp(opt, "uid") && val) {
			if (mount_parse_uint(opt, val, UINT32_MAX - 1, &n))
				return EXIT_USAGE;
			cfg->force_uid = 1;
			cfg->uid = (uid_t)n;
		} else if (!strcmp(opt, "gid") && val) {
			if (mount_parse_uint(opt, val, UINT32_MAX - 1, &n))
				return EXIT_USAGE;
			cfg->force_gid = 1;
			cfg->gid = (gid_t)n;
		} else if (!strcmp(opt, "max_threads") && val) {
			if (mount_parse_uint(opt, val, 1024, &n) || n == 0)
				return cli_usage_error(
					"mount", "max_threads must be 1 to "
						 "1024");
			cfg->max_threads = (unsigned)n;
		} else if (!strcmp(opt, "entry_timeout") && val) {
			if (mount_parse_seconds(opt, val, &cfg->entry_timeout))
				return EXIT_USAGE;
		} else if (!strcmp(opt, "attr_timeout") && val) {
			if (mount_parse_seconds(opt, val, &cfg->attr_timeout))
				return EXIT_USAGE;
		} else {
			return cli_usage_error(
				"mount",
				"unknown mount option '%s%s%s': known are ro, "
				"rw, allow_other, uid=N, gid=N, "
				"entry_timeout=S, attr_timeout=S, "
				"max_threads=N, debug",
				opt, val ? "=" : "", val ? val : "");
		}
	}
	return 0;
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
	int rc;

	snprintf(consumer, sizeof(consumer), "mount:%s", dir);
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

	if (notify_fd >= 0) {
		int devnull = open("/dev/null", O_RDWR);

		if (write(notify_fd, "O", 1) != 1)
			volfs_log(VOLFS_LOG_WARNING,
				  "the mounting command went away");
		close(notify_fd);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDOUT_FILENO);
			dup2(devnull, STDERR_FILENO);
			if (devnull > STDERR_FILENO)
				close(devnull);
		}
		volfs_log_to_syslog("volfs");
	}
	volfs_log(VOLFS_LOG_INFO, "serving volume '%s' on %s", name, dir);
	rc = volfs_fs_run(fs);
	if (rc < 0)
		volfs_log(VOLFS_LOG_ERR, "serving volume '%s' on %s failed: %s",
			  name, dir, strerror(-rc));
	if (volfs_catalog_detach(cat, name, consumer, &err) < 0 &&
	    !strstr(err.msg, "no such"))
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
	if (notify_fd >= 0) {
		if (write(notify_fd, "E", 1) != 1 ||
		    write(notify_fd, err.msg, strlen(err.msg)) < 0)
			return EXIT_FAIL;
	} else {
		cli_error("%s", err.msg);
	}
	return EXIT_FAIL;
}

/* Forks the daemon and waits until it reports the mount ready or failed. */
static int mount_background(struct volfs_cli *cli, const char *name,
			    const char *dir, const struct volfs_fs_config *cfg)
{
	char msg[VOLFS_ERR_MAX + 1];
	size_t got = 0;
	int fds[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		cli_error("cannot mount volume '%s': pipe: %s", name,
			  strerror(errno));
		return EXIT_FAIL;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cli_error("cannot mount volume '%s': fork: %s", name,
			  strerror(errno));
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
		exit(mount_serve(cli, name, dir, cfg, fds[1]));
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
		cli_error("cannot mount volume '%s' on %s: the volfs daemon "
			  "exited before the mount was ready (status %d); run "
			  "'volfs mount -f' to see why",
			  name, dir,
			  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return EXIT_FAIL;
}

int cmd_mount(struct volfs_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "options", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct volfs_fs_config cfg = {
		.allow_other = geteuid() == 0,
		.entry_timeout = -1,
		.attr_timeout = -1,
	};
	struct volfs_err err = { "" };
	char dir[PATH_MAX];
	int c, foreground = 0;
	const char *name;
	struct stat st;

	while ((c = getopt_long(argc, argv, "+fo:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			foreground = 1;
			break;
		case 'o':
			if (mount_parse_opts(optarg, &cfg))
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
	name = argv[optind];
	if (volfs_name_check(name, &err) < 0) {
		cli_error("%s", err.msg);
		return EXIT_FAIL;
	}
	if (!realpath(argv[optind + 1], dir) || stat(dir, &st) < 0) {
		cli_error("cannot mount on '%s': %s%s", argv[optind + 1],
			  strerror(errno),
			  errno == ENOENT ? " (create the directory first)"
					  : "");
		return EXIT_FAIL;
	}
	if (!S_ISDIR(st.st_mode)) {
		cli_error("cannot mount on '%s': not a directory", dir);
		return EXIT_FAIL;
	}
	if (volfs_is_volfs_mount(dir) == 1) {
		cli_error("%s is already a volfs mount: 'volfs umount %s' "
			  "first, or pick another directory",
			  dir, dir);
		return EXIT_FAIL;
	}
	if (cfg.debug && !foreground)
		return cli_usage_error("mount", "-o debug needs -f");
	if (foreground)
		return mount_serve(cli, name, dir, &cfg, -1);
	return mount_background(cli, name, dir, &cfg);
}

static void umount_usage(FILE *out)
{
	fprintf(out,
		"Usage: volfs umount [-l] DIR\n"
		"\n"
		"Unmount the volfs mount at DIR and wait for its daemon to "
		"finish.\n"
		"\n"
		"Options:\n"
		"  -l, --lazy   detach it now even while files are open\n"
		"  -h, --help   show this help\n"
		"\n"
		"Example:\n"
		"  volfs umount /mnt/data\n");
}

/* DIR made absolute without touching it: a dead FUSE mount cannot be
 * resolved (ENOTCONN), yet it must be unmountable. */
static int umount_abspath(const char *arg, char *out, size_t size)
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

/* The pid serving the mount at dir, from the catalog (0 if unknown). */
static pid_t umount_daemon(struct volfs_cli *cli, const char *dir,
			   uint64_t *start)
{
	struct volfs_catalog *cat = cli_catalog(cli);
	struct volfs_attachment *a = NULL;
	char consumer[PATH_MAX + 8];
	pid_t pid = 0;
	int n;

	if (!cat)
		return 0;
	snprintf(consumer, sizeof(consumer), "mount:%s", dir);
	n = volfs_catalog_attachments(cat, NULL, &a, NULL);
	for (int i = 0; i < n; i++) {
		if (strcmp(a[i].consumer, consumer) == 0) {
			pid = a[i].pid;
			*start = a[i].pid_start;
		}
	}
	if (n > 0)
		volfs_attachments_free(a, (size_t)n);
	return pid;
}

int cmd_umount(struct volfs_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "lazy", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char dir[PATH_MAX];
	uint64_t start = 0;
	int c, lazy = 0, rc;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "+lh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			lazy = 1;
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
	rc = umount_abspath(argv[optind], dir, sizeof(dir));
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
	pid = umount_daemon(cli, dir, &start);
	rc = volfs_unmount(dir, lazy);
	if (rc == -EBUSY) {
		cli_error("cannot unmount %s: it is busy (a process has files "
			  "open or its working directory there): stop it, or "
			  "use 'volfs umount -l' to detach the mount now",
			  dir);
		return EXIT_FAIL;
	}
	if (rc < 0) {
		cli_error("cannot unmount %s: %s", dir, strerror(-rc));
		return EXIT_FAIL;
	}
	/* Wait for the daemon to record the detachment and exit. */
	for (int i = 0; !lazy && pid > 0 && i < 200; i++) {
		if (volfs_pid_start(pid) != start)
			break;
		usleep(50 * 1000);
	}
	return EXIT_OK;
}
