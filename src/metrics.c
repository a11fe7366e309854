/* SPDX-License-Identifier: MIT */
/*
 * The counters of staged volumes as their serving processes publish them,
 * the latency histograms of this process's FUSE requests, and the
 * Prometheus endpoint of `volfs serve --metrics` (libmicrohttpd, one
 * polling thread) that shows both.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "metrics.h"
#include "volfs/catalog.h"
#include "volfs/stage.h"
#include "volfs/util.h"
#include "volfs/volume.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define METRICS_PATH "/metrics"
#define METRICS_BACKLOG 16
/* Scrapers are few; a client idle this long is dropped. */
#define METRICS_CONN_LIMIT 32
#define METRICS_CONN_TIMEOUT 10u

/* Staged volumes' counters. */

int volfs_stage_stats_load(const char *state_dir,
			   struct volfs_stage_stats *st)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, rc = 0;

	memset(st, 0, sizeof(*st));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir,
			     VOLFS_STAGE_STATS_FILE) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	do {
		n = read(fd, st, sizeof(*st));
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		rc = -errno;
	close(fd);
	if (rc < 0)
		return rc;
	/* A file made by a newer volfs is longer: what this one knows of it
	 * is at the start. */
	if ((size_t)n < offsetof(struct volfs_stage_stats, pid) ||
	    st->magic != VOLFS_STAGE_STATS_MAGIC ||
	    st->size < offsetof(struct volfs_stage_stats, pid)) {
		memset(st, 0, sizeof(*st));
		return -EINVAL;
	}
	if (st->size < (uint64_t)n)
		n = (ssize_t)st->size;
	memset((char *)st + n, 0, sizeof(*st) - (size_t)n);
	return 0;
}

int volfs_stage_stats_holder(const char *state_dir,
			     const struct volfs_stage_stats *st)
{
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
	};
	char path[PATH_MAX];
	int fd, rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", state_dir,
			     VOLFS_STAGE_LOCK_FILE) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	rc = fcntl(fd, F_GETLK, &fl) < 0 ? -errno : 0;
	close(fd);
	if (rc < 0)
		return rc;
	if (fl.l_type == F_UNLCK)
		return 0;
	/* A holder in another pid namespace shows as pid 0: its counters
	 * name it. */
	if (fl.l_pid > 0)
		return (int)fl.l_pid;
	return st->pid <= INT32_MAX ? (int)st->pid : 0;
}

/* FUSE request latency. */

int volfs_metrics_timing_on;

/* Upper bounds of the histogram buckets, in ns and as Prometheus shows
 * them; one bucket more counts the rest (+Inf). */
#define METRICS_NBUCKETS 13
static const uint64_t metrics_bound_ns[METRICS_NBUCKETS] = {
	50000,	  100000,   250000,    500000,	  1000000,
	2500000,  5000000,  10000000,  25000000,  50000000,
	100000000, 250000000, 1000000000,
};
static const char *const metrics_bound_text[METRICS_NBUCKETS] = {
	"5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
	"0.01",	 "0.025",  "0.05",    "0.1",	"0.25",	 "1",
};

static const char *const metrics_op_name[VOLFS_FUSE_NOPS] = {
	[VOLFS_FUSE_LOOKUP] = "lookup",
	[VOLFS_FUSE_FORGET] = "forget",
	[VOLFS_FUSE_BATCH_FORGET] = "batch_forget",
	[VOLFS_FUSE_GETATTR] = "getattr",
	[VOLFS_FUSE_SETATTR] = "setattr",
	[VOLFS_FUSE_READLINK] = "readlink",
	[VOLFS_FUSE_MKNOD] = "mknod",
	[VOLFS_FUSE_MKDIR] = "mkdir",
	[VOLFS_FUSE_SYMLINK] = "symlink",
	[VOLFS_FUSE_LINK] = "link",
	[VOLFS_FUSE_UNLINK] = "unlink",
	[VOLFS_FUSE_RMDIR] = "rmdir",
	[VOLFS_FUSE_RENAME] = "rename",
	[VOLFS_FUSE_OPEN] = "open",
	[VOLFS_FUSE_CREATE] = "create",
	[VOLFS_FUSE_READ] = "read",
	[VOLFS_FUSE_WRITE] = "write",
	[VOLFS_FUSE_FLUSH] = "flush",
	[VOLFS_FUSE_RELEASE] = "release",
	[VOLFS_FUSE_FSYNC] = "fsync",
	[VOLFS_FUSE_FALLOCATE] = "fallocate",
	[VOLFS_FUSE_LSEEK] = "lseek",
	[VOLFS_FUSE_OPENDIR] = "opendir",
	[VOLFS_FUSE_READDIR] = "readdir",
	[VOLFS_FUSE_READDIRPLUS] = "readdirplus",
	[VOLFS_FUSE_RELEASEDIR] = "releasedir",
	[VOLFS_FUSE_FSYNCDIR] = "fsyncdir",
	[VOLFS_FUSE_STATFS] = "statfs",
	[VOLFS_FUSE_SETXATTR] = "setxattr",
	[VOLFS_FUSE_GETXATTR] = "getxattr",
	[VOLFS_FUSE_LISTXATTR] = "listxattr",
	[VOLFS_FUSE_REMOVEXATTR] = "removexattr",
};

/*
 * One histogram per op, each on cache lines of its own: the threads
 * answering different ops do not share lines.  Buckets are not
 * cumulative here; the count is their sum, so that a scrape never shows a
 * count other than its +Inf bucket.
 */
struct metrics_hist {
	uint64_t bucket[METRICS_NBUCKETS + 1];
	uint64_t sum_ns;
} __attribute__((aligned(64)));

static struct metrics_hist metrics_fuse[VOLFS_FUSE_NOPS];

void volfs_metrics_fuse_done(enum volfs_fuse_op op,
			     const struct timespec *start)
{
	struct metrics_hist *h = &metrics_fuse[op];
	struct timespec now;
	uint64_t ns;
	unsigned b = 0;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (uint64_t)(now.tv_sec - start->tv_sec) * 1000000000u +
	     (uint64_t)now.tv_nsec - (uint64_t)start->tv_nsec;
	while (b < METRICS_NBUCKETS && ns > metrics_bound_ns[b])
		b++;
	__atomic_fetch_add(&h->bucket[b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&h->sum_ns, ns, __ATOMIC_RELAXED);
}

static void metrics_put_fuse(FILE *out)
{
	fputs("# HELP volfs_fuse_request_duration_seconds Time a FUSE request "
	      "takes from its handler's start until the handler returns, "
	      "which for most requests includes the reply.\n"
	      "# TYPE volfs_fuse_request_duration_seconds histogram\n",
	      out);
	for (unsigned op = 0; op < VOLFS_FUSE_NOPS; op++) {
		const struct metrics_hist *h = &metrics_fuse[op];
		const char *name = metrics_op_name[op];
		uint64_t n = 0, sum;

		for (unsigned b = 0; b < METRICS_NBUCKETS; b++) {
			n += __atomic_load_n(&h->bucket[b], __ATOMIC_RELAXED);
			fprintf(out,
				"volfs_fuse_request_duration_seconds_bucket"
				"{op=\"%s\",le=\"%s\"} %llu\n",
				name, metrics_bound_text[b],
				(unsigned long long)n);
		}
		n += __atomic_load_n(&h->bucket[METRICS_NBUCKETS],
				     __ATOMIC_RELAXED);
		sum = __atomic_load_n(&h->sum_ns, __ATOMIC_RELAXED);
		fprintf(out,
			"volfs_fuse_request_duration_seconds_bucket"
			"{op=\"%s\",le=\"+Inf\"} %llu\n"
			"volfs_fuse_request_duration_seconds_sum{op=\"%s\"} "
			"%llu.%09llu\n"
			"volfs_fuse_request_duration_seconds_count{op=\"%s\"} "
			"%llu\n",
			name, (unsigned long long)n, name,
			(unsigned long long)(sum / 1000000000u),
			(unsigned long long)(sum % 1000000000u), name,
			(unsigned long long)n);
	}
}

/* The staged volumes' counters, as metric families. */

struct metrics_vol {
	char *name;
	struct volfs_stage_stats st;
	int served;
};

struct metrics_vols {
	struct volfs_catalog *cat;
	struct metrics_vol *v;
	size_t n, cap;
};

struct metrics_family {
	const char *name;
	const char *type;
	const char *help;
	size_t off;
};

#define METRICS_STAT(field) offsetof(struct volfs_stage_stats, field)

static const struct metrics_family metrics_families[] = {
	{ "volfs_stage_dirty_files", "gauge",
	  "Files changed here and not on the store yet.",
	  METRICS_STAT(dirty_files) },
	{ "volfs_stage_dirty_bytes", "gauge",
	  "Bytes of the files changed here and not on the store yet.",
	  METRICS_STAT(dirty_bytes) },
	{ "volfs_stage_uploads_in_flight", "gauge", "Uploads under way.",
	  METRICS_STAT(uploading) },
	{ "volfs_stage_failed_files", "gauge",
	  "Files whose last upload failed (they are retried).",
	  METRICS_STAT(failed_files) },
	{ "volfs_stage_uploads_total", "counter",
	  "Uploads done since the volume was opened.", METRICS_STAT(uploads) },
	{ "volfs_stage_upload_failures_total", "counter",
	  "Uploads failed since the volume was opened.",
	  METRICS_STAT(upload_failures) },
	{ "volfs_stage_cache_used_bytes", "gauge",
	  "Bytes of local disk the cache uses.", METRICS_STAT(cache_used) },
	{ "volfs_stage_cache_capacity_bytes", "gauge",
	  "The cap of the cache (cache_size).", METRICS_STAT(cache_cap) },
	{ "volfs_stage_cache_hits_total", "counter",
	  "Opens served from a kept copy.", METRICS_STAT(hits) },
	{ "volfs_stage_cache_misses_total", "counter",
	  "Opens that fetched from the store anew.", METRICS_STAT(misses) },
	{ "volfs_stage_received_bytes_total", "counter",
	  "Bytes fetched from the store.", METRICS_STAT(bytes_in) },
	{ "volfs_stage_sent_bytes_total", "counter",
	  "Bytes sent to the store.", METRICS_STAT(bytes_out) },
	{ "volfs_stage_requests_total", "counter",
	  "Requests made to the store.", METRICS_STAT(requests) },
	{ "volfs_stage_request_errors_total", "counter",
	  "Requests to the store that failed.", METRICS_STAT(errors) },
	{ "volfs_stage_memory_used_bytes", "gauge",
	  "Memory the staging layer holds for its files.",
	  METRICS_STAT(mem_used) },
	{ "volfs_stage_memory_budget_bytes", "gauge",
	  "The staging layer's memory budget.", METRICS_STAT(mem_budget) },
};

/*
 * Whether pid, from a volume's counters, is a process that serves it.
 * The lock file is not asked (volfs_stage_stats_holder()): this process
 * may hold that lock itself, and closing a descriptor of the file would
 * drop it.  A clean close leaves pid 0; a crash leaves the pid of a
 * process that is gone.
 */
static int metrics_served(uint64_t pid)
{
	if (pid == 0 || pid > INT32_MAX)
		return 0;
	return (pid_t)pid == getpid() || kill((pid_t)pid, 0) == 0 ||
	       errno == EPERM;
}

static void metrics_vol_fn(void *arg, const char *name)
{
	struct metrics_vols *mv = arg;
	struct volfs_stage_stats st;
	char *dir;
	int rc;

	dir = volfs_volume_state_dir(mv->cat, name);
	if (!dir)
		return;
	rc = volfs_stage_stats_load(dir, &st);
	free(dir);
	if (rc == -EINVAL)
		volfs_log(VOLFS_LOG_DEBUG,
			  "metrics: the counters file of volume '%s' holds no "
			  "counters: left out",
			  name);
	if (rc < 0)
		return;
	if (mv->n == mv->cap) {
		size_t cap = mv->cap ? mv->cap * 2 : 16;
		struct metrics_vol *v = realloc(mv->v, cap * sizeof(*v));

		if (!v)
			return;
		mv->v = v;
		mv->cap = cap;
	}
	mv->v[mv->n].name = strdup(name);
	if (!mv->v[mv->n].name)
		return;
	mv->v[mv->n].st = st;
	mv->v[mv->n].served = metrics_served(st.pid);
	mv->n++;
}

/*
 * The staged volumes' families.  Volume names are [A-Za-z0-9_.-]: nothing
 * in them needs escaping in a label value.
 */
static void metrics_put_stage(FILE *out, struct volfs_catalog *cat)
{
	struct metrics_vols mv = { .cat = cat };
	struct volfs_err err = { "" };
	size_t nf = sizeof(metrics_families) / sizeof(metrics_families[0]);

	if (volfs_catalog_names(cat, metrics_vol_fn, &mv, &err) < 0)
		volfs_log(VOLFS_LOG_WARNING, "metrics: %s", err.msg);
	fputs("# HELP volfs_stage_served Whether a volfs process serves the "
	      "volume now (1) or the counters are the last it published "
	      "(0).\n"
	      "# TYPE volfs_stage_served gauge\n",
	      out);
	for (size_t i = 0; i < mv.n; i++)
		fprintf(out, "volfs_stage_served{volume=\"%s\"} %d\n",
			mv.v[i].name, mv.v[i].served);
	for (size_t f = 0; f < nf; f++) {
		const struct metrics_family *fam = &metrics_families[f];

		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", fam->name,
			fam->help, fam->name, fam->type);
		for (size_t i = 0; i < mv.n; i++) {
			uint64_t val;

			memcpy(&val, (const char *)&mv.v[i].st + fam->off,
			       sizeof(val));
			fprintf(out, "%s{volume=\"%s\"} %llu\n", fam->name,
				mv.v[i].name, (unsigned long long)val);
		}
	}
	for (size_t i = 0; i < mv.n; i++)
		free(mv.v[i].name);
	free(mv.v);
}

/* The endpoint. */

struct volfs_metrics {
	struct MHD_Daemon *mhd;
	/* Used by the daemon's one thread only. */
	struct volfs_catalog *cat;
	/* A unix socket's path, removed at stop. */
	char *unix_path;
};

static enum MHD_Result metrics_send(struct MHD_Connection *conn,
				    unsigned status, const char *type,
				    char *body, size_t len, int must_free)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(
		len, body,
		must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		if (must_free)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result metrics_text(struct MHD_Connection *conn,
				    unsigned status, const char *msg)
{
	return metrics_send(conn, status, "text/plain; charset=utf-8",
			    (char *)msg, strlen(msg), 0);
}

static enum MHD_Result metrics_handler(void *cls, struct MHD_Connection *conn,
				       const char *url, const char *method,
				       const char *version,
				       const char *upload_data,
				       size_t *upload_data_size, void **con_cls)
{
	static int seen;
	struct volfs_metrics *m = cls;
	char *body = NULL;
	size_t len = 0;
	FILE *out;

	(void)version;
	(void)upload_data;
	/* The first call has only the headers; a body is read and
	 * dropped. */
	if (!*con_cls) {
		*con_cls = &seen;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, METRICS_PATH) != 0)
		return metrics_text(conn, MHD_HTTP_NOT_FOUND,
				    "not found: the metrics are at "
				    METRICS_PATH "\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return metrics_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				    "method not allowed: use GET\n");
	out = open_memstream(&body, &len);
	if (!out)
		return metrics_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				    "out of memory\n");
	metrics_put_stage(out, m->cat);
	metrics_put_fuse(out);
	if (fclose(out) != 0) {
		free(body);
		return metrics_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				    "out of memory\n");
	}
	return metrics_send(conn, MHD_HTTP_OK, METRICS_CONTENT_TYPE, body, len,
			    1);
}

static void metrics_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t len;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	volfs_log(VOLFS_LOG_DEBUG, "metrics: %s", buf);
}

/* An address of --metrics, parsed. */
struct metrics_addr {
	struct sockaddr_storage sa;
	socklen_t len;
	/* For unix:, the path. */
	const char *path;
};

#define METRICS_ADDR_FORMS "127.0.0.1:PORT, [::1]:PORT or unix:/PATH"

static int metrics_parse_port(const char *s, const char *addr,
			      in_port_t *port, struct volfs_err *err)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v < 1 || v > 65535 || s[0] == '-' ||
	    s[0] == '+')
		return volfs_err_set(err, -EINVAL,
				     "invalid metrics address '%s': give a "
				     "port from 1 to 65535 after the last ':'",
				     addr);
	*port = htons((in_port_t)v);
	return 0;
}

static int metrics_parse_addr(const char *addr, struct metrics_addr *a,
			      struct volfs_err *err)
{
	const char *colon;
	char host[INET6_ADDRSTRLEN + 1];
	in_port_t port;
	size_t hlen;
	int rc;

	memset(a, 0, sizeof(*a));
	if (strncmp(addr, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&a->sa;
		const char *path = addr + 5;

		if (path[0] != '/')
			return volfs_err_set(err, -EINVAL,
					     "invalid metrics address '%s': "
					     "give an absolute path after "
					     "'unix:'",
					     addr);
		if (strlen(path) >= sizeof(un->sun_path))
			return volfs_err_set(err, -ENAMETOOLONG,
					     "invalid metrics address '%s': a "
					     "socket path is at most %zu bytes",
					     addr, sizeof(un->sun_path) - 1);
		un->sun_family = AF_UNIX;
		memcpy(un->sun_path, path, strlen(path) + 1);
		a->len = sizeof(*un);
		a->path = path;
		return 0;
	}
	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->sa;

		if (!close || close[1] != ':')
			goto bad;
		hlen = (size_t)(close - addr - 1);
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, addr + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad;
		if (!IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			goto not_loopback;
		rc = metrics_parse_port(close + 2, addr, &port, err);
		if (rc < 0)
			return rc;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = port;
		a->len = sizeof(*in6);
		return 0;
	}
	colon = strrchr(addr, ':');
	if (colon && colon != strchr(addr, ':'))
		return volfs_err_set(err, -EINVAL,
				     "invalid metrics address '%s': write an "
				     "IPv6 address in brackets, as in "
				     "[::1]:PORT",
				     addr);
	if (colon) {
		struct sockaddr_in *in = (struct sockaddr_in *)&a->sa;

		hlen = (size_t)(colon - addr);
		/* ":PORT" and "*:PORT" mean every address elsewhere. */
		if (hlen == 0 || (hlen == 1 && addr[0] == '*'))
			goto not_loopback;
		if (hlen >= sizeof(host))
			goto bad;
		memcpy(host, addr, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			goto bad;
		if ((ntohl(in->sin_addr.s_addr) >> 24) != 127)
			goto not_loopback;
		rc = metrics_parse_port(colon + 1, addr, &port, err);
		if (rc < 0)
			return rc;
		in->sin_family = AF_INET;
		in->sin_port = port;
		a->len = sizeof(*in);
		return 0;
	}
bad:
	return volfs_err_set(err, -EINVAL,
			     "invalid metrics address '%s': give "
			     METRICS_ADDR_FORMS,
			     addr);
not_loopback:
	return volfs_err_set(err, -EINVAL,
			     "refusing metrics address '%s': it is not a "
			     "loopback address, and the endpoint has no "
			     "authentication; give " METRICS_ADDR_FORMS
			     " (a proxy in front can publish it further)",
			     addr);
}

int volfs_metrics_check_addr(const char *addr, struct volfs_err *err)
{
	struct metrics_addr a;

	return metrics_parse_addr(addr, &a, err);
}

/*
 * Clears the way for bind() on a unix socket: nothing there, or a socket
 * nobody answers on (left by a crash), which is removed.
 */
static int metrics_unix_clear(const struct metrics_addr *a,
			      struct volfs_err *err)
{
	struct stat st;
	int fd, rc;

	if (lstat(a->path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return volfs_err_set(err, -errno,
				     "cannot serve metrics on %s: %s", a->path,
				     strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return volfs_err_set(err, -EEXIST,
				     "cannot serve metrics on %s: it exists "
				     "and is not a socket; remove it or "
				     "choose another path",
				     a->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return volfs_err_set(err, -errno, "cannot make a socket: %s",
				     strerror(errno));
	/* Non-blocking: a live server with a full backlog answers EAGAIN. */
	if (connect(fd, (const struct sockaddr *)&a->sa, a->len) == 0 ||
	    errno == EAGAIN)
		rc = -EADDRINUSE;
	else
		rc = errno == ECONNREFUSED ? 0 : -errno;
	close(fd);
	if (rc == -EADDRINUSE)
		return volfs_err_set(err, rc,
				     "cannot serve metrics on %s: another "
				     "process answers there; stop it or choose "
				     "another path",
				     a->path);
	if (rc < 0)
		return volfs_err_set(err, rc, "cannot serve metrics on %s: %s",
				     a->path, strerror(-rc));
	if (unlink(a->path) < 0 && errno != ENOENT)
		return volfs_err_set(err, -errno,
				     "cannot remove the stale socket %s: %s",
				     a->path, strerror(errno));
	return 0;
}

/* A listening socket on a: the descriptor, or -errno with why in err. */
static int metrics_listen(const struct metrics_addr *a, const char *addr,
			  struct volfs_err *err)
{
	int fd, one = 1, rc;

	if (a->path) {
		rc = metrics_unix_clear(a, err);
		if (rc < 0)
			return rc;
	}
	fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return volfs_err_set(err, -errno, "cannot make a socket: %s",
				     strerror(errno));
	if (!a->path)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->sa, a->len) < 0) {
		rc = -errno;
		close(fd);
		return volfs_err_set(err, rc,
				     "cannot serve metrics on %s: %s%s", addr,
				     strerror(-rc),
				     rc == -EADDRINUSE
					     ? " (choose another port)"
					     : "");
	}
	/* Counters name the volumes: root's only, as the state root is.  No
	 * one can connect before listen(). */
	if ((a->path && chmod(a->path, 0600) < 0) ||
	    listen(fd, METRICS_BACKLOG) < 0) {
		rc = -errno;
		close(fd);
		if (a->path)
			unlink(a->path);
		return volfs_err_set(err, rc, "cannot serve metrics on %s: %s",
				     addr, strerror(-rc));
	}
	return fd;
}

int volfs_metrics_start(const char *addr, const char *root,
			struct volfs_metrics **out, struct volfs_err *err)
{
	struct volfs_metrics *m;
	struct metrics_addr a;
	int fd, rc;

	rc = metrics_parse_addr(addr, &a, err);
	if (rc < 0)
		return rc;
	m = calloc(1, sizeof(*m));
	if (!m)
		return volfs_err_set(err, -ENOMEM, "out of memory");
	rc = volfs_catalog_open(root, &m->cat, err);
	if (rc < 0)
		goto err_free;
	if (a.path) {
		m->unix_path = strdup(a.path);
		if (!m->unix_path) {
			rc = volfs_err_set(err, -ENOMEM, "out of memory");
			goto err_cat;
		}
	}
	fd = metrics_listen(&a, addr, err);
	if (fd < 0) {
		rc = fd;
		goto err_cat;
	}
	/* One polling thread (epoll where there is one: serve's descriptors
	 * go past select()'s limit): a scrape is quick, and the catalog
	 * handle is then used by one thread only. */
	m->mhd = MHD_start_daemon(
		MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		metrics_handler, m, MHD_OPTION_EXTERNAL_LOGGER, metrics_mhd_log,
		m, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_CONN_LIMIT,
		MHD_OPTION_CONNECTION_TIMEOUT, METRICS_CONN_TIMEOUT,
		MHD_OPTION_END);
	if (!m->mhd) {
		close(fd);
		if (a.path)
			unlink(a.path);
		rc = volfs_err_set(err, -EIO,
				   "cannot serve metrics on %s: libmicrohttpd "
				   "failed to start",
				   addr);
		goto err_cat;
	}
	__atomic_store_n(&volfs_metrics_timing_on, 1, __ATOMIC_RELAXED);
	volfs_log(VOLFS_LOG_NOTICE, "serving metrics at %s%s", addr,
		  a.path ? "" : METRICS_PATH);
	*out = m;
	return 0;

err_cat:
	volfs_catalog_close(m->cat);
err_free:
	free(m->unix_path);
	free(m);
	return rc;
}

void volfs_metrics_stop(struct volfs_metrics *m)
{
	if (!m)
		return;
	/* Closes the listening socket and every connection. */
	MHD_stop_daemon(m->mhd);
	if (m->unix_path)
		unlink(m->unix_path);
	volfs_catalog_close(m->cat);
	free(m->unix_path);
	free(m);
}
