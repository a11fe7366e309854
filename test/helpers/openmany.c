/* SPDX-License-Identifier: MIT */
/*
 * openmany DIR COUNT BYTES: opens DIR/f0 .. DIR/f<COUNT-1> read-only,
 * reads BYTES from each and keeps them all open; prints "ready" and waits
 * until its standard input ends, then closes them.  For tests of a
 * daemon's memory with many open files.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long count, bytes;
	char path[4096], *buf;
	int *fds;

	if (argc != 4) {
		fprintf(stderr, "usage: openmany DIR COUNT BYTES\n");
		return 2;
	}
	count = strtol(argv[2], NULL, 10);
	bytes = strtol(argv[3], NULL, 10);
	fds = calloc((size_t)count, sizeof(*fds));
	buf = malloc(1 << 20);
	if (count <= 0 || bytes < 0 || !fds || !buf) {
		fprintf(stderr, "openmany: bad arguments or no memory\n");
		return 2;
	}
	for (long i = 0; i < count; i++) {
		long left = bytes;

		snprintf(path, sizeof(path), "%s/f%ld", argv[1], i);
		fds[i] = open(path, O_RDONLY);
		if (fds[i] < 0) {
			fprintf(stderr, "openmany: %s: %s\n", path,
				strerror(errno));
			goto fail;
		}
		while (left > 0) {
			ssize_t n = read(fds[i], buf,
					 left < (1 << 20) ? (size_t)left
							  : (size_t)1 << 20);

			if (n < 0) {
				fprintf(stderr, "openmany: read %s: %s\n",
					path, strerror(errno));
				goto fail;
			}
			if (n == 0)
				break;
			left -= n;
		}
	}
	printf("ready\n");
	fflush(stdout);
	while (read(0, buf, 1) > 0)
		;
	for (long i = 0; i < count; i++)
		close(fds[i]);
	free(fds);
	free(buf);
	return 0;
fail:
	free(fds);
	free(buf);
	return 1;
}
