/* SPDX-License-Identifier: MIT */
/*
 * FUSE over io_uring (Linux 6.14 and later, with the fuse module's
 * enable_uring parameter set).
 *
 * Through /dev/fuse a request wakes a daemon thread sleeping in read(),
 * mostly on another CPU, and the answer wakes the caller back across CPUs:
 * on a virtual machine whose idle CPUs halt, those two wakeups are most of
 * what a small request costs.  Over io_uring the kernel queues a request on
 * the queue of the CPU its caller runs on; the volfs threads of that queue
 * are pinned to that CPU, so caller and daemon take turns on one CPU, and
 * a thread answers and fetches the next request in one system call
 * (COMMIT_AND_FETCH).
 *
 * Each thread owns an io_uring and one ring entry: a header buffer and a
 * payload buffer as large as the largest request.  The kernel puts the
 * request's fuse_in_header in the header's in_out, the opcode's fixed
 * argument in op_in and the rest in the payload; volfs lays the two headers
 * out just before the payload, so libfuse gets the request as /dev/fuse
 * would have given it, the payload not copied.  The answer goes back as the
 * fuse_out_header in in_out and everything after it in the payload.
 *
 * FORGET and INTERRUPT still come through /dev/fuse, and so does every
 * request until each CPU's queue has an entry: libfuse's own loop keeps
 * running beside the ring.
 */
#define FUSE_USE_VERSION 312
#include "config.h"

#include <errno.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <string.h>

#include "ring.h"

#ifdef HAVE_LIBURING

#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "volfs/backend.h"
#include "volfs/util.h"

/* The kernel's interface (include/uapi/linux/fuse.h, protocol 7.42). */
struct ring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;
	uint32_t payload_sz;
	uint32_t padding;
	uint64_t reserved;
};

struct ring_req_header {
	char in_out[128];
	char op_in[128];
	struct ring_ent_in_out io;
};

enum { RING_CMD_REGISTER = 1, RING_CMD_COMMIT_AND_FETCH = 2 };

struct ring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

/* Room in front of the payload for the two headers: a page, so the
 * payload (written data) stays page aligned. */
#define RING_FRONT 4096
/* Submission queue size of a thread: a commit and the wakeup's poll. */
#define RING_DEPTH 4
/* user_data of the wakeup poll; entries use their address. */
#define RING_WAKE 1u
/* How long to retry registering while the kernel still finishes INIT. */
#define RING_REGISTER_TRIES 200
/* Refused answers in a row after which an entry is given up. */
#define RING_REFUSALS_MAX 3

struct ring_thread;

struct ring_ent {
	struct ring_thread *t;
	struct ring_req_header hdr;
	struct iovec iov[2];
	char *mem; /* RING_FRONT + payload bytes, mmap'd */
	uint64_t commit_id;
	/* The request being answered (0: none): replies find their entry by
	 * it. */
	_Atomic uint64_t unique;
	/* Answered by another thread: the owner is to commit it. */
	atomic_int answered;
	int live;
	/* Answers the kernel refused in a row. */
	int refused;
};

struct ring_thread {
	struct volfs_ring *r;
	unsigned qid;
	pthread_t tid;
	int created;
	int efd;
	int uring_ok;
	struct io_uring uring;
	struct ring_ent ent;
};

struct volfs_ring {
	struct fuse_session *se;
	int fd;
	unsigned nqueues, per_queue, nthreads;
	size_t payload;
	atomic_int stopping;
	struct ring_thread *threads;
	/* Start-up, in two steps: each thread reports its ring and buffers
	 * ready (step 0), waits for go, then reports its entry registered
	 * with the kernel (step 1). */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int go;
	unsigned reported[2], failed[2];
	int first_rc;
	char why[160];
};

/* The entry this thread is serving, if it is a ring thread. */
static __thread struct ring_ent *ring_tl_ent;

int volfs_ring_built(void)
{
	return 1;
}

/* Queues the kernel has: one per possible CPU (the highest number in
 * /sys/devices/system/cpu/possible, plus one). */
static unsigned ring_queues(void)
{
	char line[256];
	unsigned max = 0;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "re");

	if (!f || !fgets(line, sizeof(line), f)) {
		long n = sysconf(_SC_NPROCESSORS_CONF);

		if (f)
			fclose(f);
		return n > 0 ? (unsigned)n : 1;
	}
	fclose(f);
	for (char *p = line; *p;) {
		char *end;
		unsigned long v = strtoul(p, &end, 10);

		if (end == p)
			break;
		if (v > max)
			max = (unsigned)v;
		p = end;
		if (*p == '-' || *p == ',')
			p++;
	}
	return max + 1;
}

static void ring_prep_cmd(struct io_uring_sqe *sqe, int fd, uint32_t op,
			  unsigned qid, uint64_t commit_id,
			  const struct iovec *iov)
{
	struct ring_cmd_req *req = (struct ring_cmd_req *)sqe->cmd;

	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, iov, iov ? 2 : 0, 0);
	sqe->cmd_op = op;
	memset(sqe->cmd, 0, 80);
	req->qid = (uint16_t)qid;
	req->commit_id = commit_id;
}

static struct io_uring_sqe *ring_sqe(struct ring_thread *t)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->uring);

	if (!sqe) {
		io_uring_submit(&t->uring);
		sqe = io_uring_get_sqe(&t->uring);
	}
	return sqe;
}

static void ring_arm_wake(struct ring_thread *t)
{
	struct io_uring_sqe *sqe = ring_sqe(t);

	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, t->efd, POLLIN);
	io_uring_sqe_set_data64(sqe, RING_WAKE);
}

/* The answer in e goes to the kernel, which hands e the next request. */
static void ring_commit(struct ring_thread *t, struct ring_ent *e)
{
	struct io_uring_sqe *sqe = ring_sqe(t);

	if (!sqe) {
		/* Cannot happen with one entry per thread and RING_DEPTH 4;
		 * the entry is lost rather than the answer corrupted. */
		volfs_log(VOLFS_LOG_ERR, "io_uring queue %u: no room to answer",
			  t->qid);
		e->live = 0;
		return;
	}
	ring_prep_cmd(sqe, t->r->fd, RING_CMD_COMMIT_AND_FETCH, t->qid,
		      e->commit_id, NULL);
	io_uring_sqe_set_data(sqe, e);
}

static void ring_register(struct ring_thread *t, struct ring_ent *e)
{
	struct io_uring_sqe *sqe = ring_sqe(t);

	if (!sqe) {
		e->live = 0;
		return;
	}
	ring_prep_cmd(sqe, t->r->fd, RING_CMD_REGISTER, t->qid, 0, e->iov);
	io_uring_sqe_set_data(sqe, e);
}

/* Answers a request that cannot be handed to libfuse. */
static void ring_fail(struct ring_thread *t, struct ring_ent *e,
		      uint64_t unique, int error)
{
	struct fuse_out_header oh = {
		.len = sizeof(oh),
		.error = -error,
		.unique = unique,
	};

	memcpy(e->hdr.in_out, &oh, sizeof(oh));
	e->hdr.io.payload_sz = 0;
	ring_commit(t, e);
}

/* A request arrived in e: rebuilt in front of its payload, given to
 * libfuse, whose reply comes back through volfs_ring_reply. */
static void ring_serve(struct ring_thread *t, struct ring_ent *e)
{
	struct fuse_in_header in;
	uint32_t psz = e->hdr.io.payload_sz;
	size_t arg0;
	char *start;
	struct fuse_buf buf = { 0 };

	memcpy(&in, e->hdr.in_out, sizeof(in));
	e->commit_id = e->hdr.io.commit_id;
	if (in.len < sizeof(in) || psz > t->r->payload ||
	    in.len - sizeof(in) < psz ||
	    in.len - sizeof(in) - psz > sizeof(e->hdr.op_in)) {
		volfs_log(VOLFS_LOG_ERR,
			  "io_uring queue %u: request %llu has lengths that do "
			  "not add up (%u, payload %u): answered EIO",
			  t->qid, (unsigned long long)in.unique, in.len, psz);
		ring_fail(t, e, in.unique, EIO);
		return;
	}
	arg0 = in.len - sizeof(in) - psz;
	start = e->mem + RING_FRONT - arg0 - sizeof(in);
	memcpy(start, &in, sizeof(in));
	memcpy(start + sizeof(in), e->hdr.op_in, arg0);
	buf.size = in.len;
	buf.mem = start;
	atomic_store(&e->unique, in.unique);
	ring_tl_ent = e;
	fuse_session_process_buf(t->r->se, &buf);
	ring_tl_ent = NULL;
}

static void ring_cqe(struct ring_thread *t, uint64_t data, int res)
{
	struct ring_ent *e = &t->ent;

	if (data == RING_WAKE) {
		uint64_t v;

		if (read(t->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
			volfs_log(VOLFS_LOG_WARNING,
				  "io_uring queue %u: wakeup: %s", t->qid,
				  strerror(errno));
		if (atomic_exchange(&e->answered, 0))
			ring_commit(t, e);
		if (!atomic_load(&t->r->stopping))
			ring_arm_wake(t);
		return;
	}
	if (res < 0) {
		/* The connection is gone (ENOTCONN, ECANCELED: unmounted,
		 * stopping), or the kernel refused an answer (its request
		 * ended meanwhile): the entry registers again, a few times
		 * in a row at most. */
		if (res == -ENOTCONN || res == -ECANCELED ||
		    atomic_load(&t->r->stopping) ||
		    ++e->refused > RING_REFUSALS_MAX) {
			if (res != -ENOTCONN && res != -ECANCELED &&
			    !atomic_load(&t->r->stopping))
				volfs_log(VOLFS_LOG_WARNING,
					  "io_uring queue %u: entry given up: "
					  "%s", t->qid, strerror(-res));
			e->live = 0;
			return;
		}
		volfs_log(VOLFS_LOG_WARNING,
			  "io_uring queue %u: the kernel refused an entry (%s): "
			  "registering it again", t->qid, strerror(-res));
		ring_register(t, e);
		return;
	}
	e->refused = 0;
	ring_serve(t, e);
}

static void ring_loop(struct ring_thread *t)
{
	while (t->ent.live && !atomic_load(&t->r->stopping)) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		int rc = io_uring_submit_and_wait(&t->uring, 1);

		if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
			volfs_log(VOLFS_LOG_ERR, "io_uring queue %u: %s",
				  t->qid, strerror(-rc));
			break;
		}
		io_uring_for_each_cqe(&t->uring, head, cqe)
		{
			n++;
			ring_cqe(t, cqe->user_data, cqe->res);
		}
		io_uring_cq_advance(&t->uring, n);
	}
}

static void ring_report(struct ring_thread *t, int step, int rc)
{
	struct volfs_ring *r = t->r;

	pthread_mutex_lock(&r->lock);
	if (rc < 0 && !r->first_rc) {
		r->first_rc = rc;
		snprintf(r->why, sizeof(r->why), "queue %u: %s%s", t->qid,
			 strerror(-rc),
			 rc == -EOPNOTSUPP ? " (fuse.enable_uring is off)"
					   : "");
	}
	if (rc < 0)
		r->failed[step]++;
	r->reported[step]++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Waits for every thread's report of step; the number that failed. */
static unsigned ring_wait_reports(struct volfs_ring *r, int step)
{
	unsigned failed;

	pthread_mutex_lock(&r->lock);
	while (r->reported[step] < r->nthreads)
		pthread_cond_wait(&r->cond, &r->lock);
	failed = r->failed[step];
	pthread_mutex_unlock(&r->lock);
	return failed;
}

/* 1 once volfs_ring_go, 0 if stopped before. */
static int ring_wait_go(struct volfs_ring *r)
{
	int go;

	pthread_mutex_lock(&r->lock);
	while (!r->go && !atomic_load(&r->stopping))
		pthread_cond_wait(&r->cond, &r->lock);
	go = r->go && !atomic_load(&r->stopping);
	pthread_mutex_unlock(&r->lock);
	return go;
}

/* The ring, the wakeup and the buffers; < 0 on failure. */
static int ring_setup(struct ring_thread *t)
{
	struct volfs_ring *r = t->r;
	struct ring_ent *e = &t->ent;
	struct io_uring_params p = {
		.flags = IORING_SETUP_SQE128 | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN,
	};
	int rc;

	rc = io_uring_queue_init_params(RING_DEPTH, &t->uring, &p);
	if (rc == -EINVAL) {
		/* A kernel without deferred task work. */
		p = (struct io_uring_params){ .flags = IORING_SETUP_SQE128 };
		rc = io_uring_queue_init_params(RING_DEPTH, &t->uring, &p);
	}
	if (rc < 0)
		return rc;
	t->uring_ok = 1;
	/* A child forked later (fs_ring_guard) must not keep the ring, and
	 * through it the connection, alive with its copy of the mappings. */
	rc = io_uring_ring_dontfork(&t->uring);
	if (rc < 0)
		return rc;
	t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->efd < 0)
		return -errno;
	e->t = t;
	e->mem = mmap(NULL, RING_FRONT + r->payload, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e->mem == MAP_FAILED) {
		e->mem = NULL;
		return -ENOMEM;
	}
	e->iov[0] = (struct iovec){ &e->hdr, sizeof(e->hdr) };
	e->iov[1] = (struct iovec){ e->mem + RING_FRONT, r->payload };
	ring_arm_wake(t);
	return 0;
}

/*
 * The entry's registration, once the kernel has the INIT reply; < 0 on
 * failure (the kernel then stops waiting for the ring itself).  A refusal
 * comes back at once; a registered entry completes only when a request
 * arrives, which ring_loop then serves.  EAGAIN (INIT not yet taken in)
 * cannot follow a written INIT reply, but would leave the kernel waiting
 * for the ring: it is retried for a while.
 */
static int ring_start_entry(struct ring_thread *t)
{
	struct ring_ent *e = &t->ent;

	for (int i = 0; i < RING_REGISTER_TRIES; i++) {
		struct io_uring_cqe *cqe;
		int rc;

		e->live = 1;
		ring_register(t, e);
		if (!e->live)
			return -ENOMEM;
		rc = io_uring_submit(&t->uring);
		if (rc < 0)
			return rc;
		if (io_uring_peek_cqe(&t->uring, &cqe) != 0 ||
		    cqe->user_data == RING_WAKE || cqe->res >= 0)
			return 0;
		rc = cqe->res;
		io_uring_cqe_seen(&t->uring, cqe);
		if (rc != -EAGAIN)
			return rc;
		usleep(5000);
	}
	return -ETIMEDOUT;
}

static void ring_teardown(struct ring_thread *t)
{
	struct ring_ent *e = &t->ent;

	/* Closing the ring cancels the entry's command in the kernel; the
	 * wakeup and the buffers go once every thread is joined (ring_free):
	 * other threads may still look at them until then. */
	e->live = 0;
	if (t->uring_ok)
		io_uring_queue_exit(&t->uring);
	t->uring_ok = 0;
}

static void *ring_main(void *arg)
{
	struct ring_thread *t = arg;
	char name[16];
	int rc;

	snprintf(name, sizeof(name), "volfs-ring%u", t->qid);
	pthread_setname_np(pthread_self(), name);
	rc = ring_setup(t);
	ring_report(t, 0, rc);
	if (rc == 0 && ring_wait_go(t->r)) {
		rc = ring_start_entry(t);
		ring_report(t, 1, rc);
		if (rc == 0)
			ring_loop(t);
	}
	ring_teardown(t);
	return NULL;
}

static void ring_wake(struct ring_thread *t)
{
	uint64_t one = 1;

	if (t->efd >= 0 && write(t->efd, &one, sizeof(one)) < 0)
		volfs_log(VOLFS_LOG_WARNING, "io_uring queue %u: wakeup: %s",
			  t->qid, strerror(errno));
}

static void ring_free(struct volfs_ring *r)
{
	for (unsigned i = 0; r->threads && i < r->nthreads; i++) {
		struct ring_thread *t = &r->threads[i];

		if (t->efd >= 0)
			close(t->efd);
		if (t->ent.mem)
			munmap(t->ent.mem, RING_FRONT + r->payload);
	}
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r->threads);
	free(r);
}

void volfs_ring_stop(struct volfs_ring *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	atomic_store(&r->stopping, 1);
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; i < r->nthreads; i++)
		if (r->threads[i].created)
			ring_wake(&r->threads[i]);
	for (unsigned i = 0; i < r->nthreads; i++)
		if (r->threads[i].created)
			pthread_join(r->threads[i].tid, NULL);
	ring_free(r);
}

struct volfs_ring *volfs_ring_prepare(struct fuse_session *se, int fd,
				      unsigned threads_per_queue,
				      size_t payload, char *why, size_t whylen)
{
	struct volfs_ring *r = calloc(1, sizeof(*r));

	if (!r) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	r->se = se;
	r->fd = fd;
	r->payload = payload;
	r->nqueues = ring_queues();
	r->per_queue = threads_per_queue ? threads_per_queue : 1;
	r->nthreads = r->nqueues * r->per_queue;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->threads = calloc(r->nthreads, sizeof(*r->threads));
	if (!r->threads) {
		snprintf(why, whylen, "out of memory");
		ring_free(r);
		return NULL;
	}
	for (unsigned i = 0; i < r->nthreads; i++) {
		struct ring_thread *t = &r->threads[i];
		pthread_attr_t attr;
		cpu_set_t cpus;
		int rc;

		t->r = r;
		t->qid = i / r->per_queue;
		t->efd = -1;
		pthread_attr_init(&attr);
		CPU_ZERO(&cpus);
		CPU_SET(t->qid, &cpus);
		pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
		rc = pthread_create(&t->tid, &attr, ring_main, t);
		if (rc == EINVAL) {
			/* A CPU this process may not run on (a cpuset): its
			 * queue is served from wherever the thread runs. */
			rc = pthread_create(&t->tid, NULL, ring_main, t);
		}
		pthread_attr_destroy(&attr);
		if (rc != 0) {
			ring_report(t, 0, -rc);
			ring_report(t, 1, -rc);
			continue;
		}
		t->created = 1;
	}
	if (ring_wait_reports(r, 0)) {
		snprintf(why, whylen, "%s", r->why);
		volfs_ring_stop(r);
		return NULL;
	}
	return r;
}

int volfs_ring_go(struct volfs_ring *r, char *why, size_t whylen)
{
	pthread_mutex_lock(&r->lock);
	r->go = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (ring_wait_reports(r, 1)) {
		snprintf(why, whylen, "%s", r->why);
		return r->first_rc;
	}
	return 0;
}

/* The entry answering unique, from any thread. */
static struct ring_ent *ring_find(struct volfs_ring *r, uint64_t unique)
{
	for (unsigned i = 0; i < r->nthreads; i++)
		if (atomic_load(&r->threads[i].ent.unique) == unique)
			return &r->threads[i].ent;
	return NULL;
}

ssize_t volfs_ring_reply(struct volfs_ring *r, const struct iovec *iov,
			 int count)
{
	struct fuse_out_header oh;
	struct ring_ent *e;
	size_t total = 0, body, off = 0, skip;

	if (count < 1 || iov[0].iov_len < sizeof(oh))
		return 0;
	memcpy(&oh, iov[0].iov_base, sizeof(oh));
	/* Notifications (unique 0) go through /dev/fuse. */
	if (!oh.unique)
		return 0;
	e = ring_tl_ent;
	if (!e || atomic_load(&e->unique) != oh.unique)
		e = r ? ring_find(r, oh.unique) : NULL;
	if (!e)
		return 0;
	for (int i = 0; i < count; i++)
		total += iov[i].iov_len;
	body = total - sizeof(oh);
	if (body > r->payload)
		return -EINVAL;
	memcpy(e->hdr.in_out, &oh, sizeof(oh));
	skip = sizeof(oh);
	for (int i = 0; i < count; i++) {
		const char *p = iov[i].iov_base;
		size_t n = iov[i].iov_len;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		memcpy(e->mem + RING_FRONT + off, p + skip, n - skip);
		off += n - skip;
		skip = 0;
	}
	e->hdr.io.payload_sz = (uint32_t)body;
	atomic_store(&e->unique, 0);
	if (e == ring_tl_ent) {
		/* The owner: committed with its next wait, one system call. */
		ring_commit(e->t, e);
	} else {
		atomic_store(&e->answered, 1);
		ring_wake(e->t);
	}
	return (ssize_t)total;
}

void volfs_ring_shape(const struct volfs_ring *r, unsigned *queues,
		      unsigned *threads)
{
	*queues = r->nqueues;
	*threads = r->per_queue;
}

#else /* !HAVE_LIBURING */

int volfs_ring_built(void)
{
	return 0;
}

struct volfs_ring *volfs_ring_prepare(struct fuse_session *se, int fd,
				      unsigned threads_per_queue,
				      size_t payload, char *why, size_t whylen)
{
	(void)se;
	(void)fd;
	(void)threads_per_queue;
	(void)payload;
	snprintf(why, whylen, "volfs was built without liburing");
	return NULL;
}

int volfs_ring_go(struct volfs_ring *r, char *why, size_t whylen)
{
	(void)r;
	snprintf(why, whylen, "volfs was built without liburing");
	return -ENOSYS;
}

ssize_t volfs_ring_reply(struct volfs_ring *r, const struct iovec *iov,
			 int count)
{
	(void)r;
	(void)iov;
	(void)count;
	return 0;
}

void volfs_ring_shape(const struct volfs_ring *r, unsigned *queues,
		      unsigned *threads)
{
	(void)r;
	*queues = *threads = 0;
}

void volfs_ring_stop(struct volfs_ring *r)
{
	(void)r;
}

#endif
