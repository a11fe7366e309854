/* SPDX-License-Identifier: MIT */
/*
 * Small pieces of the core that several files share: logging, volume name
 * validation, and facts about processes and mounts.
 */
#ifndef VOLFS_UTIL_H
#define VOLFS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "volfs/err.h"

/* The file system type volfs mounts carry in /proc/self/mountinfo. */
#define VOLFS_FSTYPE "fuse.volfs"
/* Volume names: as Docker's, [A-Za-z0-9][A-Za-z0-9_.-]*, at most this. */
#define VOLFS_NAME_MAX 255

/*
 * Logging.  Messages at or below the threshold go to stderr, or to syslog
 * once volfs_log_to_syslog() was called (a detached daemon).  Levels are
 * VOLFS_LOG_* (syslog's).
 */
void volfs_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void volfs_log_set_level(int level);
int volfs_log_level(void);
/* Parses "err", "warning", "notice", "info", "debug"; -EINVAL otherwise. */
int volfs_log_parse_level(const char *s);
void volfs_log_to_syslog(const char *ident);

/*
 * Checks a volume name.  0 if valid, else -EINVAL with a message that says
 * what is wrong with it.
 */
int volfs_name_check(const char *name, struct volfs_err *err);

/* Writes a new random 64-hex anonymous volume name into buf (65 bytes). */
int volfs_name_random(char buf[65]);

/*
 * Which pid and mount namespaces this process sees, as one number (0 when
 * /proc cannot tell): a pid or a mount recorded by a process of other
 * namespaces means nothing here (a managed Docker plugin shares the
 * catalog with the host).
 */
uint64_t volfs_ns_id(void);

/*
 * The start time of process pid (field 22 of /proc/PID/stat), or 0 if the
 * process does not exist.
 */
uint64_t volfs_pid_start(pid_t pid);

/* 1 if dir is currently the mountpoint of a volfs FUSE mount (per
 * /proc/self/mountinfo), 0 if not, -errno if that cannot be read. */
int volfs_is_volfs_mount(const char *dir);

/*
 * The mountpoint of a line of /proc/PID/mountinfo if the mount is volfs's,
 * unescaped in place (the line is changed); NULL otherwise.
 */
char *volfs_mountinfo_volfs_dir(char *line);

/* How long volfs waits for another volfs process's mount to answer. */
#define VOLFS_PROBE_MS 3000

/*
 * stat() of path into *st, or statfs() when st is NULL (which always asks
 * a FUSE daemon, where stat() may answer from the kernel's cache), done by
 * a process of its own and waited for at most timeout_ms: a FUSE daemon
 * that is stopped (SIGSTOP), not dead, hangs whoever asks it, forever.
 * Returns 0, the call's -errno, or -ETIMEDOUT when it did not answer in
 * time; the process left waiting is then no child of the caller's (it is
 * reaped by init once the daemon answers or dies).
 */
int volfs_stat_bounded(const char *path, struct stat *st,
		       unsigned timeout_ms);

/*
 * Unmounts the FUSE mount at dir: umount2() when privileged, else
 * fusermount3 -u.  lazy detaches it even while busy.
 */
int volfs_unmount(const char *dir, int lazy);

/* Makes dir and its missing parents with mode; 0 if it exists. */
int volfs_mkdir_p(const char *dir, mode_t mode);

/* Removes path and everything below it, never following symlinks. */
int volfs_rm_rf(const char *path);

/*
 * Tells the service manager that started this process (systemd's
 * Type=notify, through $NOTIFY_SOCKET) a state such as "READY=1".  0 when
 * sent or when nobody asked; -errno on failure.
 */
int volfs_sd_notify(const char *state);

/*
 * Raises the limit of open files of this process as far as it may go: the
 * soft limit to the hard one, and both to fs.nr_open (at most 1048576)
 * with CAP_SYS_RESOURCE.  A local volume gives the files the kernel holds
 * descriptors while the limit leaves room, and every plugin connection is
 * one: a daemon calls this before it opens a volume.  What cannot be
 * raised stays as it is.  Returns the soft limit now in force (0 if it
 * cannot be read).
 */
unsigned long volfs_nofile_raise(void);

/* The state root: --root, else $VOLFS_ROOT, else /var/lib/volfs. */
const char *volfs_default_root(void);

#endif /* VOLFS_UTIL_H */
