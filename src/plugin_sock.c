/* SPDX-License-Identifier: MIT */
/*
 * The plugin's unix socket: bound without ever deleting what is not a
 * stale socket, listened on with room for bursts, and every connection
 * kept to a total deadline by one keeper thread that shuts down the socket
 * of a connection past it (libmicrohttpd's own timeout is an idle timeout,
 * which a client sending one byte now and then never reaches).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "plugin_int.h"
#include "volfs/backend.h"
#include "volfs/util.h"

/* Descriptors kept for everything but the plugin's connections (FUSE,
 * catalog handles, backends). */
#define PSOCK_FD_RESERVE 1024
/* How often the keeper reports what it closed, at most. */
#define PSOCK_REPORT_MS 60000
/* How often the keeper makes room while too many connections are open. */
#define PSOCK_EVICT_TICK_MS 250

struct plugin_conn {
	int fd;
	/* When the current deadline started (ms, monotonic). */
	int64_t since;
	/* Whether a deadline runs (not while the request is answered). */
	int armed;
	/* Shut down: it counts no more, its thread is closing it. */
	int cut;
	struct plugin_conn *prev, *next;
};

struct plugin_guard {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	int stop;
	int64_t timeout_ms;
	struct plugin_conn *head;
	/* Connections open, and how many of them are not cut. */
	unsigned nconns, nlive;
	/* PLUGIN_MAX_CONNECTIONS and PLUGIN_SOFT_CONNECTIONS, or less when
	 * file descriptors are short. */
	unsigned max, soft;
	/* Room for the keeper's sorting of eviction candidates. */
	struct plugin_conn **cand;
	size_t ncand;
	/* Closed since the last report: past the deadline, to make room. */
	unsigned long expired, evicted;
	int64_t reported;
};

static int64_t psock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The deadline in ms: the default, or shorter from the environment. */
static int64_t psock_timeout_ms(void)
{
	const char *s = getenv(PLUGIN_REQUEST_TIMEOUT_ENV);
	char *end;
	long v;

	if (!s || !*s)
		return PLUGIN_REQUEST_TIMEOUT * 1000;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > PLUGIN_REQUEST_TIMEOUT) {
		volfs_log(VOLFS_LOG_WARNING,
			  "ignoring %s='%s': give whole seconds from 1 to %d",
			  PLUGIN_REQUEST_TIMEOUT_ENV, s,
			  PLUGIN_REQUEST_TIMEOUT);
		return PLUGIN_REQUEST_TIMEOUT * 1000;
	}
	return (int64_t)v * 1000;
}

/* Shuts a connection's socket (its thread then closes it); lock held. */
static void psock_cut(struct plugin_guard *g, struct plugin_conn *c)
{
	if (c->cut)
		return;
	shutdown(c->fd, SHUT_RDWR);
	c->armed = 0;
	c->cut = 1;
	g->nlive--;
}

static int psock_older(const void *a, const void *b)
{
	const struct plugin_conn *x = *(struct plugin_conn *const *)a;
	const struct plugin_conn *y = *(struct plugin_conn *const *)b;

	return (x->since > y->since) - (x->since < y->since);
}

/*
 * Makes room while more than PLUGIN_SOFT_CONNECTIONS are open: closes the
 * connections that have waited longest for their request, oldest first,
 * skipping those that connected too recently to be slow rather than just
 * new.  Past PLUGIN_MAX_CONNECTIONS the oldest waiting one goes whatever
 * its age, so that a new client is never turned away.  An answer being
 * computed is never cut.  Lock held.
 */
static void psock_evict(struct plugin_guard *g, int64_t now)
{
	size_t n = 0;

	if (g->nlive <= g->soft)
		return;
	for (struct plugin_conn *c = g->head; c && n < g->ncand; c = c->next)
		if (c->armed)
			g->cand[n++] = c;
	qsort(g->cand, n, sizeof(*g->cand), psock_older);
	for (size_t i = 0; i < n && g->nlive > g->soft; i++) {
		if (g->nlive <= g->max &&
		    now - g->cand[i]->since < g->timeout_ms / 4)
			break;
		psock_cut(g, g->cand[i]);
		g->evicted++;
	}
}

static void psock_report(struct plugin_guard *g, int64_t now)
{
	if ((!g->expired && !g->evicted) || now - g->reported < PSOCK_REPORT_MS)
		return;
	volfs_log(VOLFS_LOG_NOTICE,
		  "docker plugin socket: closed %lu connection(s) that did not "
		  "send a whole request within %lld s, and %lu waiting "
		  "one(s) to make room for new clients",
		  g->expired, (long long)(g->timeout_ms / 1000), g->evicted);
	g->expired = 0;
	g->evicted = 0;
	g->reported = now;
}

static void *psock_keeper(void *arg)
{
	struct plugin_guard *g = arg;

	pthread_mutex_lock(&g->lock);
	while (!g->stop) {
		int64_t now = psock_now_ms(), next = now + g->timeout_ms;
		struct timespec ts;

		for (struct plugin_conn *c = g->head; c; c = c->next) {
			if (!c->armed)
				continue;
			if (now - c->since >= g->timeout_ms) {
				psock_cut(g, c);
				g->expired++;
				volfs_log(VOLFS_LOG_DEBUG,
					  "docker plugin socket: a request "
					  "took over %lld ms: connection "
					  "closed",
					  (long long)g->timeout_ms);
			} else if (c->since + g->timeout_ms < next) {
				next = c->since + g->timeout_ms;
			}
		}
		psock_evict(g, now);
		if (g->nlive > g->soft && next > now + PSOCK_EVICT_TICK_MS)
			next = now + PSOCK_EVICT_TICK_MS;
		psock_report(g, now);
		/* Deadlines only ever start later than the earliest one
		 * seen: only stop and a crowd wake the keeper early. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		next -= now;
		ts.tv_sec += next / 1000;
		ts.tv_nsec += (next % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&g->wake, &g->lock, &ts);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

int plugin_guard_start(struct plugin_guard **out, struct volfs_err *err)
{
	struct plugin_guard *g = calloc(1, sizeof(*g));
	pthread_condattr_t ca;
	int rc;

	if (!g)
		return volfs_err_set(err, -ENOMEM, "out of memory");
	g->timeout_ms = psock_timeout_ms();
	g->reported = psock_now_ms() - PSOCK_REPORT_MS;
	g->max = PLUGIN_MAX_CONNECTIONS;
	g->soft = PLUGIN_SOFT_CONNECTIONS;
	g->ncand = PLUGIN_MAX_CONNECTIONS + PLUGIN_SPARE_CONNECTIONS;
	g->cand = calloc(g->ncand, sizeof(*g->cand));
	if (!g->cand) {
		free(g);
		return volfs_err_set(err, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->wake, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&g->thread, NULL, psock_keeper, g);
	if (rc) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g->cand);
		free(g);
		return volfs_err_set(err, -rc,
				     "cannot start the docker plugin: cannot "
				     "make a thread: %s",
				     strerror(rc));
	}
	*out = g;
	return 0;
}

void plugin_guard_stop(struct plugin_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = 1;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	/* The HTTP daemon is stopped: every connection has been closed. */
	while (g->head) {
		struct plugin_conn *c = g->head;

		g->head = c->next;
		free(c);
	}
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g->cand);
	free(g);
}

unsigned plugin_guard_limit(struct plugin_guard *g)
{
	const rlim_t want = PLUGIN_MAX_CONNECTIONS + PLUGIN_SPARE_CONNECTIONS +
			    PSOCK_FD_RESERVE;
	/* A service's soft limit is often 1024 while it may have more. */
	const rlim_t cur = volfs_nofile_raise();
	rlim_t room = PLUGIN_MAX_CONNECTIONS;

	/* What the reserve and the spare connections leave. */
	if (cur && cur < want)
		room = want - cur < PLUGIN_MAX_CONNECTIONS
			       ? PLUGIN_MAX_CONNECTIONS - (want - cur)
			       : 16;
	if (room < PLUGIN_MAX_CONNECTIONS)
		volfs_log(VOLFS_LOG_NOTICE,
			  "docker plugin socket: at most %lu connections at "
			  "once (the limit of open files is %lu; raise it, "
			  "e.g. LimitNOFILE=%lu, for up to %d)",
			  (unsigned long)room, (unsigned long)cur,
			  (unsigned long)want, PLUGIN_MAX_CONNECTIONS);
	pthread_mutex_lock(&g->lock);
	g->max = (unsigned)room;
	g->soft = g->max * PLUGIN_SOFT_CONNECTIONS / PLUGIN_MAX_CONNECTIONS;
	pthread_mutex_unlock(&g->lock);
	return g->max + PLUGIN_SPARE_CONNECTIONS;
}

void plugin_guard_notify(void *cls, struct MHD_Connection *conn,
			 void **socket_context,
			 enum MHD_ConnectionNotificationCode code)
{
	struct plugin_guard *g = cls;
	struct plugin_conn *c = *socket_context;
	const union MHD_ConnectionInfo *info;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		info = MHD_get_connection_info(
			conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c = calloc(1, sizeof(*c));
		/* Without memory the connection runs without a deadline. */
		if (!c || !info) {
			free(c);
			return;
		}
		c->fd = info->connect_fd;
		pthread_mutex_lock(&g->lock);
		c->since = psock_now_ms();
		c->armed = 1;
		c->next = g->head;
		if (g->head)
			g->head->prev = c;
		g->head = c;
		g->nconns++;
		g->nlive++;
		psock_evict(g, c->since);
		/* Crowded: the keeper makes room every tick from now on. */
		if (g->nlive > g->soft)
			pthread_cond_signal(&g->wake);
		pthread_mutex_unlock(&g->lock);
		*socket_context = c;
		return;
	}
	if (!c)
		return;
	/* Called before libmicrohttpd closes the descriptor: the keeper never
	 * shuts down a number that was reused. */
	pthread_mutex_lock(&g->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		g->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	g->nconns--;
	if (!c->cut)
		g->nlive--;
	pthread_mutex_unlock(&g->lock);
	free(c);
	*socket_context = NULL;
}

static struct plugin_conn *psock_conn(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info;

	info = MHD_get_connection_info(conn,
				       MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return info ? info->socket_context : NULL;
}

void plugin_guard_busy(struct plugin_guard *g, struct MHD_Connection *conn)
{
	struct plugin_conn *c = psock_conn(conn);

	if (!c)
		return;
	pthread_mutex_lock(&g->lock);
	c->armed = 0;
	pthread_mutex_unlock(&g->lock);
}

void plugin_guard_idle(struct plugin_guard *g, struct MHD_Connection *conn)
{
	struct plugin_conn *c = psock_conn(conn);

	if (!c)
		return;
	pthread_mutex_lock(&g->lock);
	/* A connection cut as its request completed stays cut. */
	if (!c->cut) {
		c->since = psock_now_ms();
		c->armed = 1;
	}
	pthread_mutex_unlock(&g->lock);
}

/* Warns when the kernel caps the backlog below what the plugin asks. */
static void psock_check_somaxconn(void)
{
	FILE *f = fopen("/proc/sys/net/core/somaxconn", "re");
	long max = -1;

	if (!f)
		return;
	if (fscanf(f, "%ld", &max) != 1)
		max = -1;
	fclose(f);
	if (max >= 0 && max < PLUGIN_BACKLOG)
		volfs_log(VOLFS_LOG_WARNING,
			  "docker plugin socket: net.core.somaxconn is %ld, so "
			  "at most %ld connects wait to be accepted and a "
			  "burst of more fails; raise it with 'sysctl -w "
			  "net.core.somaxconn=%d'",
			  max, max, PLUGIN_BACKLOG);
}

/* Makes path's directory if missing. */
static int psock_mkdir(const char *path, struct volfs_err *err)
{
	char *dir = strdup(path), *slash;
	int rc = 0;

	if (!dir)
		return volfs_err_set(err, -ENOMEM, "out of memory");
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		rc = volfs_mkdir_p(dir, 0755);
		if (rc < 0)
			volfs_err_set(err, rc,
				      "cannot listen on %s: cannot make "
				      "directory %s: %s",
				      path, dir, strerror(-rc));
	}
	free(dir);
	return rc;
}

/*
 * Clears the way for bind(): nothing at path, or a socket nobody answers
 * on (left over from a crash), which is removed.
 */
static int psock_clear(const struct sockaddr_un *sa, struct volfs_err *err)
{
	const char *path = sa->sun_path;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return volfs_err_set(err, -errno, "cannot listen on %s: %s",
				     path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return volfs_err_set(err, -EEXIST,
				     "cannot listen on %s: it exists and is "
				     "not a socket; remove it yourself or "
				     "choose another --docker-socket",
				     path);
	/* Non-blocking: a live plugin with a full backlog answers EAGAIN
	 * instead of keeping this serve waiting. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return volfs_err_set(err, -errno, "cannot make a socket: %s",
				     strerror(errno));
	rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (rc == 0 || errno == EAGAIN) {
		close(fd);
		return volfs_err_set(err, -EADDRINUSE,
				     "cannot listen on %s: another process "
				     "answers there (is another volfs serve "
				     "running?); stop it or choose another "
				     "--docker-socket",
				     path);
	}
	if (errno != ECONNREFUSED) {
		rc = -errno;
		close(fd);
		return volfs_err_set(err, rc, "cannot listen on %s: %s", path,
				     strerror(-rc));
	}
	close(fd);
	if (unlink(path) < 0 && errno != ENOENT)
		return volfs_err_set(err, -errno,
				     "cannot remove the stale socket %s: %s",
				     path, strerror(errno));
	volfs_log(VOLFS_LOG_INFO,
		  "docker plugin socket: replaced the stale socket %s", path);
	return 0;
}

int plugin_sock_listen(const char *path, struct volfs_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return volfs_err_set(err, -ENAMETOOLONG,
				     "cannot listen on %s: a socket path is "
				     "at most %zu bytes; choose a shorter "
				     "--docker-socket",
				     path, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	rc = psock_mkdir(path, err);
	if (rc < 0)
		return rc;
	rc = psock_clear(&sa, err);
	if (rc < 0)
		return rc;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return volfs_err_set(err, -errno, "cannot make a socket: %s",
				     strerror(errno));
	/* Group rw only: the socket is for root and docker's group. */
	old = umask(0117);
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0) {
		rc = -errno;
		close(fd);
		if (rc == -EADDRINUSE)
			return volfs_err_set(err, rc,
					     "cannot listen on %s: something "
					     "was made there meanwhile; try "
					     "again or choose another "
					     "--docker-socket",
					     path);
		return volfs_err_set(err, rc, "cannot listen on %s: %s", path,
				     strerror(-rc));
	}
	if (chmod(path, 0660) < 0 || listen(fd, PLUGIN_BACKLOG) < 0) {
		rc = -errno;
		close(fd);
		unlink(path);
		return volfs_err_set(err, rc, "cannot listen on %s: %s", path,
				     strerror(-rc));
	}
	psock_check_somaxconn();
	return fd;
}
