/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "volfs/util.h"

static int name_char_ok(unsigned char c, int first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return !first && (c == '_' || c == '.' || c == '-');
}

int volfs_name_check(const char *name, struct volfs_err *err)
{
	size_t len;

	if (!name || !*name)
		return volfs_err_set(err, -EINVAL,
				     "volume name is empty: give a name made "
				     "of letters, digits, '_', '.' and '-'");
	len = strlen(name);
	if (len > VOLFS_NAME_MAX)
		return volfs_err_set(err, -EINVAL,
				     "volume name is %zu bytes long: the "
				     "limit is %d",
				     len, VOLFS_NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (name_char_ok(c, i == 0))
			continue;
		/* The name is not quoted: it need not be valid UTF-8. */
		if (c >= 0x80)
			return volfs_err_set(
				err, -EINVAL,
				"invalid volume name: non-ASCII byte 0x%02x "
				"at byte %zu; names are made of ASCII "
				"letters, digits, '_', '.' and '-' "
				"([A-Za-z0-9][A-Za-z0-9_.-]*)",
				c, i);
		if (c < 0x20 || c == 0x7f)
			return volfs_err_set(
				err, -EINVAL,
				"invalid volume name: control character "
				"0x%02x at byte %zu; names are made of "
				"letters, digits, '_', '.' and '-'",
				c, i);
		return volfs_err_set(
			err, -EINVAL,
			"invalid volume name '%s': '%c' %s; names match "
			"[A-Za-z0-9][A-Za-z0-9_.-]*",
			name, c,
			i == 0 ? "cannot start a name"
			       : "is not allowed in a name");
	}
	return 0;
}

int volfs_name_random(char buf[65])
{
	unsigned char raw[32];
	static const char hex[] = "0123456789abcdef";
	size_t got = 0;

	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		buf[2 * i] = hex[raw[i] >> 4];
		buf[2 * i + 1] = hex[raw[i] & 15];
	}
	buf[64] = '\0';
	return 0;
}

uint64_t volfs_ns_id(void)
{
	struct stat pid_ns, mnt_ns;

	if (stat("/proc/self/ns/pid", &pid_ns) < 0 ||
	    stat("/proc/self/ns/mnt", &mnt_ns) < 0)
		return 0;
	/* Namespace inodes are 32-bit proc inode numbers. */
	return ((uint64_t)(pid_ns.st_ino & 0xffffffffu) << 32) |
	       (uint64_t)(mnt_ns.st_ino & 0xffffffffu);
}

uint64_t volfs_pid_start(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long start = 0;
	ssize_t n;
	char *p;
	int fd;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may contain spaces and ')': skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* After ')' come fields 3..; starttime is field 22. */
	p++;
	for (int field = 3; field <= 22 && p; field++) {
		while (*p == ' ')
			p++;
		if (field == 22) {
			start = strtoull(p, NULL, 10);
			break;
		}
		p = strchr(p, ' ');
	}
	/* A zombie has not released its mounts or attachments on purpose. */
	if (strstr(buf, ") Z ") || strstr(buf, ") X "))
		return 0;
	return start;
}

/* Undoes mountinfo's octal escapes (\040 for ' ', ...) in place. */
static void unescape_octal(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
					(s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

char *volfs_mountinfo_volfs_dir(char *line)
{
	char *sep, *p = line;

	/* id parent maj:min root mountpoint opts... - fstype src sb */
	sep = strstr(line, " - ");
	if (!sep ||
	    strncmp(sep + 3, VOLFS_FSTYPE " ", sizeof(VOLFS_FSTYPE)) != 0)
		return NULL;
	*sep = '\0';
	for (int i = 0; i < 4; i++) {
		p = strchr(p, ' ');
		if (!p)
			return NULL;
		p++;
	}
	p[strcspn(p, " ")] = '\0';
	unescape_octal(p);
	return p;
}

int volfs_is_volfs_mount(const char *dir)
{
	char *line = NULL, *mnt;
	size_t cap = 0;
	int found = 0;
	FILE *f;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (!found && getline(&line, &cap, f) > 0) {
		mnt = volfs_mountinfo_volfs_dir(line);
		found = mnt && strcmp(mnt, dir) == 0;
	}
	free(line);
	fclose(f);
	return found;
}

int volfs_mkdir_p(const char *dir, mode_t mode)
{
	char *copy, *p;
	int rc = 0;

	copy = strdup(dir);
	if (!copy)
		return -ENOMEM;
	for (p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST) {
			rc = -errno;
			goto out;
		}
		*p = '/';
	}
	if (mkdir(copy, mode) < 0 && errno != EEXIST)
		rc = -errno;
out:
	free(copy);
	return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? -errno : 0;
	return unlink(path) < 0 ? -errno : 0;
}

int volfs_rm_rf(const char *path)
{
	struct stat st;
	int rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 ? -errno : 0;
	/* FTW_PHYS: never follow a link out; FTW_MOUNT: never descend into
	 * something mounted below. */
	rc = nftw(path, rm_one, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	if (rc < 0)
		return -errno;
	return rc;
}

const char *volfs_default_root(void)
{
	const char *env = getenv("VOLFS_ROOT");

	return env && *env ? env : "/var/lib/volfs";
}

/*
 * The most open files a daemon asks for when it may raise its hard limit:
 * systemd's default hard limit for services.  A node or a connection is
 * one descriptor, and the kernel's table grows with the descriptors used,
 * not with the limit.
 */
#define UTIL_NOFILE_MAX 1048576

/* fs.nr_open, the most any process may have (0 when unknown). */
static rlim_t util_nr_open(void)
{
	unsigned long long n = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (!f)
		return 0;
	if (fscanf(f, "%llu", &n) != 1)
		n = 0;
	fclose(f);
	return (rlim_t)n;
}

unsigned long volfs_nofile_raise(void)
{
	struct rlimit rl, up;
	rlim_t most = util_nr_open();

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (most > UTIL_NOFILE_MAX)
		most = UTIL_NOFILE_MAX;
	/* Raising the hard limit needs CAP_SYS_RESOURCE: EPERM otherwise,
	 * and the soft limit goes as far as the hard one allows. */
	if (most > rl.rlim_max) {
		up.rlim_cur = up.rlim_max = most;
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			return (unsigned long)most;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		up.rlim_cur = up.rlim_max = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl.rlim_cur = rl.rlim_max;
	}
	return (unsigned long)rl.rlim_cur;
}

int volfs_unmount(const char *dir, int lazy)
{
	int status;
	pid_t pid;

	if (umount2(dir, lazy ? MNT_DETACH : 0) == 0)
		return 0;
	if (errno != EPERM)
		return -errno;
	/* Unprivileged: the setuid helper that made the mount undoes it. */
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		execlp("fusermount3", "fusermount3", lazy ? "-uz" : "-u", "--",
		       dir, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EBUSY;
	return 0;
}

int volfs_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	ssize_t n;
	int fd;

	if (!path || !*path)
		return 0;
	if ((path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, strlen(path));
	/* '@' names an abstract socket: a NUL first byte. */
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
			  strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (struct sockaddr *)&sa, len);
	close(fd);
	return n < 0 ? -errno : 0;
}

/* What the probing process of volfs_stat_bounded() reports. */
struct util_probe {
	int rc;
	struct stat st;
};

/* In the grandchild: only async-signal-safe calls (the caller may have
 * threads). */
static void util_probe_child(const char *path, int want_st, int fd)
{
	struct util_probe r = { 0 };
	struct statfs sfs;
	int null;

	if (fork() != 0)
		_exit(0);
	/* Left waiting, it must not hold the caller's output open (a shell
	 * reading it would wait as long). */
	null = open("/dev/null", O_RDWR);
	for (int i = 0; i < 3 && null >= 0; i++)
		dup2(null, i);
	if (want_st)
		r.rc = stat(path, &r.st) < 0 ? -errno : 0;
	else
		r.rc = statfs(path, &sfs) < 0 ? -errno : 0;
	if (write(fd, &r, sizeof(r)) < 0)
		_exit(1);
	_exit(0);
}

int volfs_stat_bounded(const char *path, struct stat *st,
		       unsigned timeout_ms)
{
	struct util_probe r;
	struct pollfd p;
	int fds[2], rc;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	/* Two forks: the one that waits on the daemon is init's to reap, so
	 * a daemon that never answers leaves no zombie here. */
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		util_probe_child(path, st != NULL, fds[1]);
	}
	rc = pid < 0 ? -errno : 0;
	close(fds[1]);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	if (rc < 0)
		goto out;
	p = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	do
		rc = poll(&p, 1, (int)timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc <= 0) {
		rc = rc < 0 ? -errno : -ETIMEDOUT;
		goto out;
	}
	n = read(fds[0], &r, sizeof(r));
	if (n != (ssize_t)sizeof(r)) {
		rc = -EIO;
		goto out;
	}
	rc = r.rc;
	if (rc == 0 && st)
		*st = r.st;
out:
	close(fds[0]);
	return rc;
}
