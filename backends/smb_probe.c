/* SPDX-License-Identifier: MIT */
/*
 * The smb backend's encryption probe: an SMB2 NEGOTIATE of its own that
 * reads whether the server would encrypt (see smb.c), with the timeout=
 * bound on every step.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "volfs/backend.h"
#include "volfs/backend_util.h"
#include "smb_int.h"

static void smb_put16(unsigned char *b, uint16_t v)
{
	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
}

static void smb_put32(unsigned char *b, uint32_t v)
{
	smb_put16(b, (uint16_t)v);
	smb_put16(b + 2, (uint16_t)(v >> 16));
}

static uint16_t smb_get16(const unsigned char *b)
{
	return (uint16_t)(b[0] | b[1] << 8);
}

static uint32_t smb_get32(const unsigned char *b)
{
	return smb_get16(b) | (uint32_t)smb_get16(b + 2) << 16;
}

int64_t smb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline: 0, -ETIMEDOUT or -errno. */
static int smb_poll(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - smb_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

static int smb_connect(const struct smb_params *p, int64_t deadline,
		       int *fdp)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	char port[8];
	int fd = -1, rc = -EHOSTUNREACH, gai;

	snprintf(port, sizeof(port), "%u", p->port);
	gai = getaddrinfo(p->host, port, &hints, &ai);
	if (gai)
		return gai == EAI_SYSTEM ? -errno : -ENXIO;
	for (a = ai; a; a = a->ai_next) {
		socklen_t sl = sizeof(int);
		int soerr = 0;

		fd = socket(a->ai_family,
			    a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    a->ai_protocol);
		if (fd < 0) {
			rc = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		rc = errno == EINPROGRESS ? smb_poll(fd, POLLOUT, deadline)
					  : -errno;
		if (rc == 0) {
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
			rc = -soerr;
			if (rc == 0)
				break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return rc;
	*fdp = fd;
	return 0;
}

static int smb_io(int fd, unsigned char *buf, size_t len, int out,
		  int64_t deadline)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n;
		int rc;

		n = out ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
			: recv(fd, buf + done, len - done, 0);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		rc = smb_poll(fd, out ? POLLOUT : POLLIN, deadline);
		if (rc)
			return rc;
	}
	return 0;
}

int smb_probe(const struct smb_params *p, int *enc)
{
	/* NetBIOS length, header, request, 3 dialects padded to 8, contexts. */
	unsigned char req[4 + 64 + 36 + 12 + 48 + 18], rsp[4 + 65536];
	unsigned char *h = req + 4, *n = h + 64, *ctx;
	int64_t deadline = smb_now_ms() + p->timeout_ms;
	uint32_t len, off;
	uint16_t dialect;
	int fd = -1, rc;

	memset(req, 0, sizeof(req));
	/* SMB2 header: NEGOTIATE, one credit. */
	memcpy(h, "\xfeSMB", 4);
	smb_put16(h + 4, 64);
	smb_put16(h + 14, 1);
	/* The request: 3 dialects, signing enabled, encryption capable. */
	smb_put16(n, 36);
	smb_put16(n + 2, 3);
	smb_put16(n + 4, 1);
	smb_put32(n + 8, 0x40);
	if (getrandom(n + 12, 16, 0) != 16)
		memset(n + 12, 0x5a, 16);
	smb_put32(n + 28, 64 + 36 + 12);
	smb_put16(n + 32, 2);
	smb_put16(n + 36, 0x0300);
	smb_put16(n + 38, 0x0302);
	smb_put16(n + 40, 0x0311);
	/* Contexts, 8-aligned from the header: preauth (SHA-512)... */
	ctx = h + 64 + 36 + 12;
	smb_put16(ctx, 1);
	smb_put16(ctx + 2, 38);
	smb_put16(ctx + 8, 1);
	smb_put16(ctx + 10, 32);
	smb_put16(ctx + 12, 1);
	if (getrandom(ctx + 14, 32, 0) != 32)
		memset(ctx + 14, 0xa5, 32);
	/* ... and the ciphers: AES-128-GCM, AES-128-CCM, AES-256-GCM/CCM. */
	ctx += 48;
	smb_put16(ctx, 2);
	smb_put16(ctx + 2, 10);
	smb_put16(ctx + 8, 4);
	smb_put16(ctx + 10, 2);
	smb_put16(ctx + 12, 1);
	smb_put16(ctx + 14, 4);
	smb_put16(ctx + 16, 3);
	len = (uint32_t)(sizeof(req) - 4);
	req[1] = (unsigned char)(len >> 16);
	req[2] = (unsigned char)(len >> 8);
	req[3] = (unsigned char)len;

	rc = smb_connect(p, deadline, &fd);
	if (rc)
		return rc;
	rc = smb_io(fd, req, 4 + len, 1, deadline);
	if (rc)
		goto out;
	rc = smb_io(fd, rsp, 4, 0, deadline);
	if (rc)
		goto out;
	len = (uint32_t)rsp[1] << 16 | (uint32_t)rsp[2] << 8 | rsp[3];
	if (rsp[0] != 0 || len < 64 + 64 || len > sizeof(rsp) - 4) {
		rc = -EPROTO;
		goto out;
	}
	rc = smb_io(fd, rsp + 4, len, 0, deadline);
	if (rc)
		goto out;
	h = rsp + 4;
	n = h + 64;
	if (memcmp(h, "\xfeSMB", 4) != 0 || smb_get32(h + 8) != 0) {
		rc = -EPROTO;
		goto out;
	}
	dialect = smb_get16(n + 4);
	*enc = 0;
	if (dialect == 0x0300 || dialect == 0x0302) {
		*enc = (smb_get32(n + 24) & 0x40) != 0;
	} else if (dialect == 0x0311) {
		unsigned count = smb_get16(n + 6);

		off = smb_get32(n + 60);
		for (unsigned i = 0; i < count && off + 8 <= len; i++) {
			uint16_t type = smb_get16(h + off);
			uint16_t dlen = smb_get16(h + off + 2);

			if (off + 8 + dlen > len)
				break;
			if (type == 2 && dlen >= 4 &&
			    smb_get16(h + off + 8) >= 1 &&
			    smb_get16(h + off + 10) != 0)
				*enc = 1;
			off = (off + 8 + dlen + 7) & ~7u;
		}
	}
out:
	close(fd);
	return rc;
}
