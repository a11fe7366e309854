/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "volfs/backend.h"
#include "volfs/util.h"

struct cli_command {
	const char *name;
	int (*fn)(struct volfs_cli *cli, int argc, char **argv);
	const char *summary;
	/* Whether it may make the state root and catalog (see cli.h). */
	int creates;
	/* Whether it starts a daemon, which may serve many files. */
	int daemon;
};

static int cmd_version(struct volfs_cli *cli, int argc, char **argv);

static const struct cli_command commands[] = {
	{ "create", cmd_create, "Create a volume", 1, 0 },
	{ "ls", cmd_ls, "List volumes", 0, 0 },
	{ "inspect", cmd_inspect, "Show volumes in detail (JSON)", 0, 0 },
	{ "rm", cmd_rm, "Remove volumes", 0, 0 },
	{ "prune", cmd_prune, "Remove unused volumes", 0, 0 },
	{ "mount", cmd_mount, "Mount a volume on a directory", 1, 1 },
	{ "umount", cmd_umount, "Unmount a volume", 0, 0 },
	{ "serve", cmd_serve, "Serve every volume under one mount", 1, 1 },
	{ "stats", cmd_stats, "Show the counters of staged volumes", 0, 0 },
	{ "gc", cmd_gc, "Drop references nobody holds any more", 0, 0 },
	{ "version", cmd_version, "Show the version", 0, 0 },
	{ NULL, NULL, NULL, 0, 0 },
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: volfs [--root DIR] [--log-level LEVEL] COMMAND [ARGS]\n"
		"\n"
		"Shared and remote volumes for containers, through FUSE.\n"
		"\n"
		"Commands:\n");
	for (const struct cli_command *c = commands; c->name; c++)
		fprintf(out, "  %-9s %s\n", c->name, c->summary);
	fprintf(out,
		"\n"
		"Options:\n"
		"  --root DIR         state directory (default $VOLFS_ROOT, "
		"else /var/lib/volfs)\n"
		"  --log-level LEVEL  err, warning, notice, info or debug\n"
		"  -h, --help         show this help\n"
		"\n"
		"Run 'volfs COMMAND --help' for a command's options.\n");
}

const char *cli_progname = "volfs";

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cli_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (strcmp(cli_progname, "volfs") != 0)
		fprintf(stderr, "\nSee 'man 8 %s'.\n", cli_progname);
	else if (cmd && *cmd)
		fprintf(stderr, "\nSee 'volfs %s --help'.\n", cmd);
	else
		fprintf(stderr, "\nSee 'volfs --help'.\n");
	return EXIT_USAGE;
}

int cli_getopt_error(const char *cmd, char **argv, int c)
{
	const char *arg = argv[optind - 1];
	int is_long = strncmp(arg, "--", 2) == 0;
	const char *eq = strchr(arg, '=');

	if (c == ':') {
		if (is_long)
			return cli_usage_error(cmd, "option '%s' needs a value",
					       arg);
		return cli_usage_error(cmd, "option '-%c' needs a value",
				       optopt);
	}
	if (is_long && optopt && eq)
		return cli_usage_error(cmd, "option '%.*s' takes no value",
				       (int)(eq - arg), arg);
	if (is_long || !optopt)
		return cli_usage_error(cmd, "unknown option '%s'", arg);
	return cli_usage_error(cmd, "unknown option '-%c'", optopt);
}

struct volfs_catalog *cli_catalog(struct volfs_cli *cli)
{
	struct volfs_err err = { "" };
	int rc;

	if (cli->cat)
		return cli->cat;
	if (cli->create)
		rc = volfs_catalog_open(cli->root, &cli->cat, &err);
	else
		rc = volfs_catalog_open_existing(cli->root, &cli->cat, &err);
	if (rc < 0) {
		cli_error("%s", err.msg);
		cli->cat = NULL;
	}
	return cli->cat;
}

static int cmd_version(struct volfs_cli *cli, int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: volfs version\n\nShow the version of volfs and "
		       "of its backend interface.\n");
		return EXIT_OK;
	}
	if (argc > 1)
		return cli_usage_error("version", "'version' takes no arguments");
	printf("volfs %s (backend ABI %d)\n", PACKAGE_VERSION,
	       VOLFS_BACKEND_ABI);
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct volfs_cli cli = { .root = volfs_default_root() };
	const char *base = strrchr(argv[0], '/');
	int c, rc, level;

	/* Installed as mount.volfs (a link to volfs), mount(8) runs it. */
	base = base ? base + 1 : argv[0];
	if (strcmp(base, "mount.volfs") == 0) {
		cli_progname = "mount.volfs";
		cli.create = 1;
		volfs_nofile_raise();
		rc = cli_mount_helper(&cli, argc, argv);
		if (cli.cat)
			volfs_catalog_close(cli.cat);
		return rc;
	}

	/* '+': stop at the command name; its options are its own. */
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (!*optarg)
				return cli_usage_error("", "--root needs a directory");
			cli.root = optarg;
			break;
		case 'l':
			level = volfs_log_parse_level(optarg);
			if (level < 0)
				return cli_usage_error(
					"", "unknown log level '%s': use err, "
					    "warning, notice, info or debug",
					optarg);
			volfs_log_set_level(level);
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			return cmd_version(&cli, 1, argv);
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (const struct cli_command *cmd = commands; cmd->name; cmd++) {
		int sub_argc = argc - optind;
		char **sub_argv = argv + optind;

		if (strcmp(cmd->name, argv[optind]) != 0)
			continue;
		/* Each command parses its own options from a fresh start. */
		optind = 0;
		cli.create = cmd->creates;
		/* Before the daemon forks, which inherits the limit: a local
		 * volume gives each file the kernel knows a descriptor while
		 * it may. */
		if (cmd->daemon)
			volfs_nofile_raise();
		rc = cmd->fn(&cli, sub_argc, sub_argv);
		if (cli.cat)
			volfs_catalog_close(cli.cat);
		return rc;
	}
	return cli_usage_error("", "unknown command '%s'", argv[optind]);
}
