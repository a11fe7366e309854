/* SPDX-License-Identifier: MIT */
/*
 * The volfs command line.  Each cmd_* takes its subcommand's argv (argv[0]
 * is the subcommand's name), prints its own output and errors, and returns
 * the exit status: 0 ok, 1 failure, 2 usage.
 */
#ifndef VOLFS_CLI_H
#define VOLFS_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "volfs/catalog.h"
#include "volfs/err.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

struct volfs_cli {
	/* The state root (--root, $VOLFS_ROOT or the default). */
	const char *root;
	/* Opened on first use by cli_catalog(). */
	struct volfs_catalog *cat;
	/* Whether the command may make the state root and the catalog
	 * (create, mount, serve); the others only find them. */
	int create;
};

/*
 * The catalog, opened on first call (made when missing only if
 * cli->create); NULL after printing why it could not be opened.
 */
struct volfs_catalog *cli_catalog(struct volfs_cli *cli);

/*
 * The program name that starts every message: "volfs", or "mount.volfs"
 * when run as the mount helper.
 */
extern const char *cli_progname;

/* Prints "volfs: " (cli_progname) and the message to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prints a usage error and a pointer to --help; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The usage error for getopt_long()'s error return c, when called with
 * opterr = 0 and an option string starting with ':': names the option
 * that is unknown, lacks its value or takes none.  Returns EXIT_USAGE.
 */
int cli_getopt_error(const char *cmd, char **argv, int c);

/* n bytes for people, in one word for tables: "512B", "1.5KiB". */
void cli_human_bytes(uint64_t n, char *buf, size_t size);

struct volfs_fs_config;

/* The mount options volfs starts from: allow_other as root, backend-chosen
 * cache timeouts. */
void cli_mount_defaults(struct volfs_fs_config *cfg);

/*
 * Parses one -o argument of mount options (comma-separated) into cfg;
 * prints a usage error and returns EXIT_USAGE on a bad one.
 */
int cli_parse_mount_opts(char *arg, struct volfs_fs_config *cfg);

/*
 * Applies one mount option (val: the text after '=', or NULL) to cfg.
 * Returns 0 when applied, -1 when opt is not a volfs mount option, or
 * EXIT_USAGE after printing why its value is wrong.
 */
int cli_mount_opt(const char *opt, const char *val,
		  struct volfs_fs_config *cfg);

/*
 * Mounts volume name on dirarg with cfg, as `volfs mount` does: shares a
 * live instance when there is one, else starts a daemon (or serves in the
 * foreground).  Prints why it failed; returns the exit status.
 */
int cli_mount_volume(struct volfs_cli *cli, const char *name,
		     const char *dirarg, const struct volfs_fs_config *cfg,
		     int foreground);

/*
 * Resolves a mountpoint argument into dir (PATH_MAX bytes): it must be an
 * existing directory that no live volfs mount covers.  A dead volfs mount
 * there is detached first.  Prints why and returns -1 when it cannot be
 * used.
 */
int cli_mount_target(const char *arg, char *dir);

/*
 * Unmounts and detaches the shared mounts this process serves, of volume
 * name (NULL: of every volume), except the attachment consumer own.
 */
void cli_release_binds(struct volfs_catalog *cat, const char *name,
		       const char *own);

/*
 * Runs fn(arg, notify_fd) in a forked daemon (new session, cwd /) and waits
 * until it reports: cli_detach_ready() once it serves, or
 * cli_detach_fail() with its message.  Returns the exit status for the
 * command; when the daemon dies without a word, prints "WHAT: ...; HINT".
 */
int cli_detach(int (*fn)(void *arg, int notify_fd), void *arg,
	       const char *what, const char *hint);

/* Tells the waiting command the daemon is ready, then moves stdio to
 * /dev/null and logging to syslog.  Nothing when notify_fd < 0. */
void cli_detach_ready(int notify_fd);

/* Reports msg to the waiting command (or prints it when notify_fd < 0);
 * returns EXIT_FAIL. */
int cli_detach_fail(int notify_fd, const char *msg);

int cmd_gc(struct volfs_cli *cli, int argc, char **argv);

int cmd_create(struct volfs_cli *cli, int argc, char **argv);
int cmd_ls(struct volfs_cli *cli, int argc, char **argv);
int cmd_inspect(struct volfs_cli *cli, int argc, char **argv);
int cmd_rm(struct volfs_cli *cli, int argc, char **argv);
int cmd_prune(struct volfs_cli *cli, int argc, char **argv);
int cmd_mount(struct volfs_cli *cli, int argc, char **argv);
int cmd_umount(struct volfs_cli *cli, int argc, char **argv);
int cmd_serve(struct volfs_cli *cli, int argc, char **argv);
int cmd_stats(struct volfs_cli *cli, int argc, char **argv);

/*
 * mount.volfs, the helper mount(8) runs for file system type volfs:
 * argv is "mount.volfs SPEC DIR [-sfnv] [-N NS] [-o OPTIONS] [-t TYPE]".
 * Returns mount(8)'s exit status (0, 1 usage, 2 system error, 32 mount
 * failure).
 */
int cli_mount_helper(struct volfs_cli *cli, int argc, char **argv);

#endif /* VOLFS_CLI_H */
