/* SPDX-License-Identifier: MIT */
/*
 * mount.volfs: the helper mount(8) runs for an fstab line or `mount -t
 * volfs NAME DIR`.  It is the volfs binary under another name.  It sorts
 * the options mount(8) hands over into volfs mount options, options that
 * only mean something to mount(8) or systemd, and create options (backend=
 * and that backend's options) used to create the volume on its first
 * mount, then creates and mounts in this process: option values, secrets
 * among them, are never passed on to another program.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "volfs/fs.h"
#include "volfs/loader.h"
#include "volfs/options.h"
#include "volfs/util.h"
#include "volfs/volume.h"

/* mount(8)'s exit status values (see its EXIT STATUS section). */
enum {
	MH_EXIT_OK = 0,
	MH_EXIT_USAGE = 1,
	MH_EXIT_SYSERR = 2,
	MH_EXIT_FAIL = 32,
};

/*
 * Options that mean something to mount(8), systemd or the kernel's generic
 * mount flags and that volfs accepts without acting on them.  volfs mounts
 * are always nosuid and nodev; data is written as the backend writes it, so
 * sync/async and the atime variants do not apply.
 */
static const char *const mh_ignored[] = {
	/* read by mount(8) and systemd */
	"defaults", "auto", "noauto", "user", "nouser", "users", "owner",
	"group", "_netdev", "nofail",
	/* always nosuid,nodev */
	"suid", "nosuid", "dev", "nodev",
	/* the backend's business */
	"sync", "async", "dirsync", "atime", "noatime", "relatime",
	"norelatime", "strictatime", "nostrictatime", "lazytime", "nolazytime",
	"diratime", "nodiratime", "iversion", "noiversion", "loud", "silent",
	"nomand", NULL,
};

/* Option prefixes accepted and ignored ("x-systemd.automount"). */
static const char *const mh_ignored_prefix[] = {
	"x-",
	"comment=",
	NULL,
};

struct mh_args {
	const char *spec;
	const char *dir;
	const char *root;
	const char *backend;
	const char *ns;
	int fake, verbose, sloppy;
	struct volfs_fs_config cfg;
	/* key=value options that are not mount options: create options,
	 * once backend= says whose. */
	struct volfs_kvlist pending;
};

static void mh_usage(FILE *out)
{
	fprintf(out,
		"Usage: mount.volfs NAME DIR [-sfnv] [-N NS] [-o OPTIONS]\n"
		"\n"
		"The mount(8) helper of volfs: 'mount -t volfs NAME DIR' and "
		"fstab lines\n"
		"'NAME DIR volfs defaults,_netdev,nofail 0 0' mount volume "
		"NAME on DIR.\n"
		"\n"
		"Options:\n"
		"  -o OPTIONS   volfs mount options (ro, uid=N, allow_other, "
		"...), options\n"
		"               of mount(8) and systemd (accepted, no "
		"effect), and\n"
		"               backend=NAME with its options: create the "
		"volume on its\n"
		"               first mount; volfs_root=DIR: the state "
		"directory\n"
		"  -f           fake: check everything, create and mount "
		"nothing\n"
		"  -n           no mtab entry (volfs never writes one)\n"
		"  -s           sloppy: ignore unknown options\n"
		"  -v           say what is done\n"
		"  -N NS        mount in that mount namespace (a pid or a "
		"path)\n"
		"  -h, --help   show this help\n"
		"\n"
		"See mount.volfs(8).\n");
}

static int mh_is_ignored(const char *opt)
{
	for (const char *const *p = mh_ignored; *p; p++)
		if (strcmp(opt, *p) == 0)
			return 1;
	for (const char *const *p = mh_ignored_prefix; *p; p++)
		if (strncmp(opt, *p, strlen(*p)) == 0)
			return 1;
	return 0;
}

/* An option no table knows: an error, or with -s a note. */
static int mh_unknown(const struct mh_args *a, const char *opt,
		      const char *hint)
{
	if (a->sloppy) {
		if (a->verbose)
			printf("mount.volfs: ignoring unknown option '%s'\n",
			       opt);
		return 0;
	}
	cli_error("unknown mount option '%s'%s", opt, hint);
	return MH_EXIT_USAGE;
}

/* Sorts one comma-separated -o argument into a. */
static int mh_parse_opts(struct mh_args *a, char *arg)
{
	struct volfs_err err = { "" };
	char *save = NULL;
	int rc;

	for (char *opt = strtok_r(arg, ",", &save); opt;
	     opt = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(opt, '=');
		char *val = eq ? eq + 1 : NULL;

		if (mh_is_ignored(opt)) {
			if (a->verbose)
				printf("mount.volfs: option '%s' has no "
				       "effect on volfs\n",
				       eq ? "comment" : opt);
			continue;
		}
		if (eq)
			*eq = '\0';
		if (!strcmp(opt, "debug")) {
			cli_error("option 'debug' needs a mount in the "
				  "foreground: use 'volfs mount -f -o debug'");
			return MH_EXIT_USAGE;
		}
		rc = cli_mount_opt(opt, val, &a->cfg);
		if (rc > 0)
			return MH_EXIT_USAGE;
		if (rc == 0)
			continue;
		if (val && !strcmp(opt, "volfs_root")) {
			if (!*val) {
				cli_error("option 'volfs_root' needs a "
					  "directory");
				return MH_EXIT_USAGE;
			}
			a->root = val;
		} else if (val && !strcmp(opt, "backend")) {
			a->backend = val;
		} else if (val && *opt) {
			if (eq)
				*eq = '=';
			if (volfs_kvlist_parse(&a->pending, opt, "option",
					       &err) < 0) {
				cli_error("%s", err.msg);
				return MH_EXIT_USAGE;
			}
		} else {
			if (eq)
				*eq = '=';
			rc = mh_unknown(a, opt,
					": volfs knows ro, rw, noexec, "
					"allow_other, uid=N, gid=N, "
					"entry_timeout=S, attr_timeout=S, "
					"max_threads=N, writeback_cache, "
					"backend=NAME and its options, "
					"volfs_root=DIR (see mount.volfs(8); "
					"-s ignores unknown options)");
			if (rc)
				return rc;
		}
	}
	return 0;
}

/*
 * Keeps the pending key=value options that backend be accepts (the create
 * options, into *create) and refuses or, with -s, drops the others.
 */
static int mh_sort_create_opts(struct mh_args *a,
			       const struct volfs_backend *be,
			       struct volfs_kvlist *create)
{
	char opt[512];
	int rc;

	for (size_t i = 0; i < a->pending.n; i++) {
		const struct volfs_kv *kv = &a->pending.v[i];
		const struct volfs_optdesc *d = NULL;

		for (d = be ? be->options : NULL; d && d->key; d++)
			if (strcmp(d->key, kv->key) == 0)
				break;
		/* credentials=FILE is the core's: create checks it. */
		if ((d && d->key) ||
		    (be && strcmp(kv->key, VOLFS_OPT_CREDENTIALS) == 0)) {
			if (volfs_kvlist_set(create, kv->key, kv->value) < 0) {
				cli_error("cannot mount: out of memory");
				return MH_EXIT_SYSERR;
			}
			continue;
		}
		/* Name the key only: the value may be a secret. */
		snprintf(opt, sizeof(opt), "%s=...", kv->key);
		if (be) {
			char hint[256];

			snprintf(hint, sizeof(hint),
				 ": it is neither a volfs mount option nor "
				 "an option of backend '%s' (see 'volfs "
				 "create --help')",
				 be->name);
			rc = mh_unknown(a, opt, hint);
		} else {
			rc = mh_unknown(a, opt,
					": it is not a volfs mount option; a "
					"backend option needs backend=NAME "
					"too");
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* -N: a pid (its mount namespace) or the path of a namespace file. */
static int mh_setns(const char *ns)
{
	char path[64];
	const char *p = ns;
	int fd;

	if (ns[strspn(ns, "0123456789")] == '\0') {
		snprintf(path, sizeof(path), "/proc/%s/ns/mnt", ns);
		p = path;
	}
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_error("cannot open mount namespace '%s': %s", ns,
			  strerror(errno));
		return MH_EXIT_USAGE;
	}
	if (setns(fd, CLONE_NEWNS) < 0) {
		cli_error("cannot enter mount namespace '%s': %s", ns,
			  strerror(errno));
		close(fd);
		return MH_EXIT_FAIL;
	}
	close(fd);
	return 0;
}

/*
 * Creates volume name with a->backend and its options unless it exists.
 * An existing volume keeps its own options; only a different backend is an
 * error.
 */
static int mh_ensure_volume(struct volfs_cli *cli, struct mh_args *a,
			    const struct volfs_backend *be,
			    const struct volfs_kvlist *create)
{
	struct volfs_err err = { "" };
	struct volfs_catalog *cat;
	struct volfs_volume row;
	int rc;

	cat = cli_catalog(cli);
	if (!cat)
		return MH_EXIT_FAIL;
	rc = volfs_catalog_get(cat, a->spec, &row, &err);
	if (rc == 0) {
		int other = a->backend && strcmp(row.backend, a->backend);

		if (other)
			cli_error("volume '%s' exists with backend '%s', not "
				  "'%s' as the mount options say: drop "
				  "backend= or remove the volume",
				  a->spec, row.backend, a->backend);
		volfs_volume_release(&row);
		return other ? MH_EXIT_FAIL : 0;
	}
	if (rc != -ENOENT) {
		cli_error("%s", err.msg);
		return MH_EXIT_FAIL;
	}
	if (!a->backend) {
		cli_error("volume '%s' does not exist in %s: create it with "
			  "'volfs create %s', or add backend=NAME and its "
			  "options to the mount options to create it on "
			  "first mount",
			  a->spec, cli->root, a->spec);
		return MH_EXIT_FAIL;
	}
	/* Checked as create will, credentials file included, before
	 * anything is made. */
	if (volfs_volume_check_opts(be, create->v, create->n, &err) < 0) {
		cli_error("%s", err.msg);
		return MH_EXIT_FAIL;
	}
	if (a->verbose) {
		printf("mount.volfs: %screating volume '%s' with backend "
		       "'%s'",
		       a->fake ? "not (-f) " : "", a->spec, a->backend);
		for (size_t i = 0; i < create->n; i++)
			printf("%s%s=%s", i ? "," : " and options ",
			       create->v[i].key,
			       volfs_opt_is_secret(be, create->v[i].key)
				       ? VOLFS_REDACTED
				       : create->v[i].value);
		putchar('\n');
	}
	if (a->fake)
		return 0;
	rc = volfs_volume_create(cat, a->spec, a->backend, create->v,
				 create->n, NULL, 0, NULL, &err);
	/* Another mount of the same line may have created it meanwhile. */
	if (rc < 0 && rc != -EEXIST) {
		cli_error("%s", err.msg);
		return MH_EXIT_FAIL;
	}
	return 0;
}

int cli_mount_helper(struct volfs_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct volfs_kvlist create = { 0 };
	const struct volfs_backend *be = NULL;
	struct volfs_err err = { "" };
	struct mh_args a = { 0 };
	struct stat st;
	int c, rc;

	cli_mount_defaults(&a.cfg);
	opterr = 0;
	/* mount(8) puts SPEC and DIR first; options follow them. */
	while ((c = getopt_long(argc, argv, "sfnvN:o:t:h", longopts,
				NULL)) != -1) {
		switch (c) {
		case 's':
			a.sloppy = 1;
			break;
		case 'f':
			a.fake = 1;
			break;
		case 'n':
			break;
		case 'v':
			a.verbose = 1;
			break;
		case 'N':
			a.ns = optarg;
			break;
		case 'o':
			/* -s must be seen first: parse options afterwards. */
			break;
		case 't':
			if (strcmp(optarg, "volfs") != 0 &&
			    strcmp(optarg, "fuse.volfs") != 0) {
				cli_error("cannot mount file system type '%s': "
					  "this helper mounts type volfs",
					  optarg);
				rc = MH_EXIT_USAGE;
				goto out;
			}
			break;
		case 'h':
			mh_usage(stdout);
			rc = MH_EXIT_OK;
			goto out;
		default:
			cli_error("unknown option '%s'", argv[optind - 1]);
			mh_usage(stderr);
			rc = MH_EXIT_USAGE;
			goto out;
		}
	}
	if (argc - optind != 2) {
		cli_error("expected a volume NAME and a directory DIR");
		mh_usage(stderr);
		rc = MH_EXIT_USAGE;
		goto out;
	}
	a.spec = argv[optind];
	a.dir = argv[optind + 1];
	/* The -o arguments, in order, now that -s and -v are known. */
	optind = 0;
	while ((c = getopt_long(argc, argv, "sfnvN:o:t:h", longopts,
				NULL)) != -1) {
		if (c != 'o')
			continue;
		rc = mh_parse_opts(&a, optarg);
		if (rc)
			goto out;
	}
	if (volfs_name_check(a.spec, &err) < 0) {
		cli_error("%s", err.msg);
		rc = MH_EXIT_USAGE;
		goto out;
	}
	if (a.backend && volfs_backend_load(a.backend, &be, &err) < 0) {
		cli_error("%s", err.msg);
		rc = MH_EXIT_USAGE;
		goto out;
	}
	rc = mh_sort_create_opts(&a, be, &create);
	if (rc)
		goto out;
	if (a.root)
		cli->root = a.root;
	if (a.ns) {
		rc = mh_setns(a.ns);
		if (rc)
			goto out;
	}
	rc = mh_ensure_volume(cli, &a, be, &create);
	if (rc)
		goto out;
	if (a.fake) {
		int serr = stat(a.dir, &st) < 0 ? errno : 0;

		if (serr || !S_ISDIR(st.st_mode)) {
			cli_error("cannot mount on '%s': %s", a.dir,
				  serr ? strerror(serr) : "not a directory");
			rc = MH_EXIT_FAIL;
			goto out;
		}
		if (a.verbose)
			printf("mount.volfs: not (-f) mounting volume '%s' "
			       "on %s\n",
			       a.spec, a.dir);
		rc = MH_EXIT_OK;
		goto out;
	}
	rc = cli_mount_volume(cli, a.spec, a.dir, &a.cfg, 0);
	if (rc == EXIT_OK && a.verbose)
		printf("mount.volfs: volume '%s' mounted on %s%s\n", a.spec,
		       a.dir, a.cfg.readonly ? " (read-only)" : "");
	rc = rc == EXIT_OK ? MH_EXIT_OK
	     : rc == EXIT_USAGE ? MH_EXIT_USAGE
				: MH_EXIT_FAIL;
out:
	volfs_kvlist_release(&create);
	volfs_kvlist_release(&a.pending);
	return rc;
}
