/* SPDX-License-Identifier: MIT */
/*
 * FUSE over io_uring: requests taken from, and answered through, per-CPU
 * queues of the kernel instead of read() and write() on /dev/fuse.
 */
#ifndef VOLFS_RING_H
#define VOLFS_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct fuse_session;

/* FUSE_OVER_IO_URING, in the flags2 half of the INIT flags. */
#define VOLFS_RING_INIT_FLAG2 (1u << (41 - 32))

struct volfs_ring;

/* Whether this build can serve FUSE over io_uring at all. */
int volfs_ring_built(void);

/*
 * Makes ready to serve se through the kernel's per-CPU queues (fd: the
 * session's /dev/fuse descriptor): threads_per_queue threads on each CPU,
 * each pinned to it, with its io_uring and request buffers of payload
 * bytes (the largest request or reply body the INIT reply allows).  Call
 * before the INIT reply asks for the ring: once it has, the kernel holds
 * every request until the ring serves or its registration fails.  NULL
 * with a message in why when it cannot.
 */
struct volfs_ring *volfs_ring_prepare(struct fuse_session *se, int fd,
				      unsigned threads_per_queue,
				      size_t payload, char *why, size_t whylen);

/*
 * Once the INIT reply is written: the threads register with the kernel,
 * which then sends requests their way.  0, or -errno with why when some
 * registration failed (the kernel then goes on through /dev/fuse; stop
 * the ring).
 */
int volfs_ring_go(struct volfs_ring *r, char *why, size_t whylen);

/*
 * A reply libfuse is about to write (r may be NULL while the ring starts):
 * when it answers a request that came through the ring, it goes back that
 * way and this returns the bytes taken (or a negative errno); 0 when it is
 * not the ring's to send.
 */
ssize_t volfs_ring_reply(struct volfs_ring *r, const struct iovec *iov,
			 int count);

/* The queues and threads in use, for messages. */
void volfs_ring_shape(const struct volfs_ring *r, unsigned *queues,
		      unsigned *threads);

/* Stops and joins the threads (their queued commands are cancelled). */
void volfs_ring_stop(struct volfs_ring *r);

#endif
