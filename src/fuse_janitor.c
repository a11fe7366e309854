/* SPDX-License-Identifier: MIT */
/*
 * Serve's janitor: asks the kernel to forget the volumes that were removed
 * (or whose name now stands for a new volume) as soon as the source says
 * so, and those of persistent volumes unused for a while; once the kernel
 * has, fs_vol_forgotten() closes them.  A volume still in use (open files,
 * a working directory in it) stays: the kernel keeps what is busy.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fuse_int.h"

/*
 * Passes woken by a change of the source are this far apart at least, so a
 * burst of catalog writes (the plugin's references) costs a few listings,
 * not one each.
 */
#define FS_JANITOR_GAP_MS 10

/* The volumes of the source, each "NAME\0ID", sorted by name. */
struct fs_names {
	char **v;
	size_t n, alloc;
	int oom;
};

static void fs_names_add(void *arg, const char *name, const char *id)
{
	struct fs_names *l = arg;
	size_t ln = strlen(name), li = strlen(id);
	char *e;

	if (l->oom)
		return;
	if (l->n == l->alloc) {
		size_t na = l->alloc ? 2 * l->alloc : 64;
		char **nv = realloc(l->v, na * sizeof(*nv));

		if (!nv) {
			l->oom = 1;
			return;
		}
		l->v = nv;
		l->alloc = na;
	}
	e = malloc(ln + li + 2);
	if (!e) {
		l->oom = 1;
		return;
	}
	memcpy(e, name, ln + 1);
	memcpy(e + ln + 1, id, li + 1);
	l->v[l->n++] = e;
}

static int fs_names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void fs_names_free(struct fs_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* Whether the source still serves v under its name and identity. */
static int fs_names_has(const struct fs_names *l, const struct fs_vol *v)
{
	char *const *e;

	if (!l->n)
		return 0;
	e = bsearch(&v->name, l->v, l->n, sizeof(*l->v), fs_names_cmp);
	return e && strcmp(*e + strlen(*e) + 1, v->id) == 0;
}

/*
 * Why the kernel should forget v now, or NULL: removed, or (at a periodic
 * pass, for a persistent volume) unused for idle seconds.  A volume with
 * open files or directories is in use, even when their I/O never reaches
 * volfs (passthrough, io_uring).  vols_lock held.
 */
static const char *fs_janitor_why(struct fs_vol *v, const struct fs_names *live,
				  int listed, unsigned long seq, int periodic,
				  time_t now, unsigned idle)
{
	time_t used = __atomic_load_n(&v->used, __ATOMIC_RELAXED);

	if (!v->ov)
		return NULL;
	/* Only a volume known before the list was read can be missing
	 * from it: one looked up since may be newer than the list. */
	if (!v->gone && listed && v->seq <= seq && !fs_names_has(live, v))
		v->gone = 1;
	if (v->gone)
		return "removed";
	/* A volume whose data lives only in this process (ram) goes only
	 * when removed: closing it would empty it. */
	if (!periodic || !(v->caps & VOLFS_CAP_PERSISTENT) ||
	    __atomic_load_n(&v->nopen, __ATOMIC_RELAXED) ||
	    now - used < (time_t)idle)
		return NULL;
	return "idle";
}

/* One pass: marks and invalidates what fs_janitor_why() says. */
static void fs_janitor_pass(struct volfs_fs *fs, int periodic, unsigned idle)
{
	struct fs_names live = { 0 };
	char **names = NULL;
	const char **whys = NULL;
	size_t n = 0, cap = 0;
	time_t now = time(NULL);
	unsigned long seq = __atomic_load_n(&fs->vol_seq, __ATOMIC_SEQ_CST);
	int listed;

	/* What the source holds, in one read, not one per open volume. */
	listed = fs->src->list(fs->src->ctx, fs_names_add, &live) >= 0 &&
		 !live.oom;
	if (listed && live.n)
		qsort(live.v, live.n, sizeof(*live.v), fs_names_cmp);
	pthread_mutex_lock(&fs->vols_lock);
	for (struct fs_vol *v = fs->vols; v; v = v->next) {
		const char *why = fs_janitor_why(v, &live, listed, seq,
						 periodic, now, idle);

		if (!why)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			char **nn = realloc(names, nc * sizeof(*nn));
			const char **nw = nn ? realloc(whys, nc * sizeof(*nw))
					     : NULL;

			if (nn)
				names = nn;
			if (!nw)
				break;
			whys = nw;
			cap = nc;
		}
		names[n] = strdup(v->name);
		whys[n] = why;
		if (names[n])
			n++;
	}
	pthread_mutex_unlock(&fs->vols_lock);
	fs_names_free(&live);
	/* Outside the lock: the kernel answers with forgets, which take it. */
	for (size_t i = 0; i < n; i++) {
		volfs_log(VOLFS_LOG_DEBUG, "invalidating volume '%s' (%s)",
			  names[i], whys[i]);
		fuse_lowlevel_notify_inval_entry(fs->se, VOLFS_NODES_ROOT,
						 names[i], strlen(names[i]));
		free(names[i]);
	}
	free(names);
	free(whys);
	fs_vols_reap(fs);
}

static int64_t fs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Drains what the source's watch descriptor has to say.  The generation
 * goes up first: a lookup that finds nothing to read then finds the
 * generation changed (fs_src_unchanged()).
 */
static void fs_janitor_drain(struct volfs_fs *fs, int fd)
{
	char buf[4096];

	__atomic_add_fetch(&fs->src_gen, 1, __ATOMIC_SEQ_CST);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

static void *fs_janitor(void *arg)
{
	struct volfs_fs *fs = arg;
	unsigned idle = fs->cfg.idle_timeout ? fs->cfg.idle_timeout
					      : FS_IDLE_DEFAULT;
	int watch = fs->src->watch ? fs->src->watch(fs->src->ctx) : -1;
	int64_t next = fs_now_ms() + FS_JANITOR_PERIOD * 1000;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = fs->stop_fd, .events = POLLIN },
			{ .fd = watch, .events = POLLIN },
		};
		int64_t left = next - fs_now_ms();
		int periodic;

		if (left > 0 && poll(p, 2, (int)left) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;
		periodic = fs_now_ms() >= next;
		if (periodic)
			next = fs_now_ms() + FS_JANITOR_PERIOD * 1000;
		if (p[1].revents) {
			fs_janitor_drain(fs, watch);
			/* Let the writer finish its burst; its rows are
			 * read once. */
			poll(p, 1, FS_JANITOR_GAP_MS);
			fs_janitor_drain(fs, watch);
		}
		fs_janitor_pass(fs, periodic, idle);
	}
	return NULL;
}

int fs_janitor_start(struct volfs_fs *fs)
{
	int rc;

	fs->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fs->stop_fd < 0)
		return -errno;
	rc = -pthread_create(&fs->janitor, NULL, fs_janitor, fs);
	if (rc < 0) {
		close(fs->stop_fd);
		return rc;
	}
	fs->janitor_running = 1;
	return 0;
}

void fs_janitor_stop(struct volfs_fs *fs)
{
	uint64_t one = 1;

	if (!fs->janitor_running)
		return;
	if (write(fs->stop_fd, &one, sizeof(one)) < 0)
		volfs_log(VOLFS_LOG_WARNING, "cannot stop the janitor: %s",
			  strerror(errno));
	pthread_join(fs->janitor, NULL);
	close(fs->stop_fd);
	fs->janitor_running = 0;
}
