/* SPDX-License-Identifier: MIT */
/*
 * notify_listen SOCKET SECONDS: binds a datagram socket at SOCKET, as a
 * service manager does for $NOTIFY_SOCKET, and prints every message that
 * arrives, one per line, until SECONDS pass without one.  Exit 0 if any
 * message came, 1 if none, 2 on a usage or socket error.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, got = 0, ms;
	char buf[4096];

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: notify_listen SOCKET SECONDS\n");
		return 2;
	}
	ms = atoi(argv[2]) * 1000;
	memcpy(sa.sun_path, argv[1], strlen(argv[1]));
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "notify_listen: %s: %s\n", argv[1],
			strerror(errno));
		return 2;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, ms) <= 0)
			break;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			break;
		buf[n] = '\0';
		printf("%s\n", buf);
		fflush(stdout);
		got = 1;
	}
	close(fd);
	unlink(argv[1]);
	return got ? 0 : 1;
}
