/* SPDX-License-Identifier: MIT */
/*
 * volfs gc: forget references nobody holds any more: attachments of dead
 * processes and vanished mounts, and Docker references of containers
 * Docker no longer runs.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "plugin.h"

static void gc_usage(FILE *out)
{
	fprintf(out,
		"Usage: volfs gc [--docker-host URL]\n"
		"\n"
		"Drop references to volumes that nobody holds any more: "
		"attachments of volfs\n"
		"processes that died, of mounts that are gone, and Docker's "
		"references of\n"
		"containers that no longer run (Docker's API says which; "
		"when Docker cannot be\n"
		"asked, its references are kept and gc fails saying so).\n"
		"\n"
		"Options:\n"
		"  --docker-host URL  Docker's API (default $DOCKER_HOST, "
		"else\n"
		"                     unix:///run/docker.sock)\n"
		"  -h, --help         show this help\n");
}

/* Whether any attachment is a Docker reference. */
static int gc_has_docker(struct volfs_catalog *cat)
{
	struct volfs_attachment *a;
	int n, found = 0;

	n = volfs_catalog_attachments(cat, NULL, &a, NULL);
	for (int i = 0; i < n; i++)
		if (volfs_is_docker_ref(a[i].consumer))
			found = 1;
	if (n > 0)
		volfs_attachments_free(a, (size_t)n);
	return found;
}

int cmd_gc(struct volfs_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "docker-host", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct volfs_err err = { "" };
	const char *docker_host = NULL;
	struct volfs_catalog *cat;
	int c, n;

	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'H':
			docker_host = optarg;
			break;
		case 'h':
			gc_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("gc", "invalid option");
		}
	}
	if (optind != argc)
		return cli_usage_error("gc", "'gc' takes no arguments");
	cat = cli_catalog(cli);
	if (!cat)
		return EXIT_FAIL;
	n = volfs_catalog_reap(cat, &err);
	if (n < 0) {
		cli_error("%s", err.msg);
		return EXIT_FAIL;
	}
	printf("dropped %d reference(s) of processes or mounts that are "
	       "gone\n",
	       n);
	if (!gc_has_docker(cat))
		return EXIT_OK;
	n = volfs_docker_reconcile(cat, docker_host, &err);
	if (n < 0) {
		cli_error("%s", err.msg);
		return EXIT_FAIL;
	}
	printf("dropped %d docker reference(s) of containers that no longer "
	       "run\n",
	       n);
	return EXIT_OK;
}
