#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Crowds of clients for the Docker plugin socket, for integration tests.

  plugin_clients.py SOCK slow N INTERVAL LIMIT [READY]
      Opens N connections and sends, on each, one byte of a request header
      every INTERVAL seconds, for at most LIMIT seconds.  Touches the file
      READY once all are open.  Prints "opened=A refused=B closed=C
      last_close=S": how many the server closed, and S, the seconds from
      the first connect to the last such close.

  plugin_clients.py SOCK burst N LIMIT
      Starts N non-blocking connects at once, then sends a Get on every
      connected one and reads the answers, for at most LIMIT seconds.
      Prints "connected=A failed=B answered=C" and the first error seen.

Every loop is bounded by LIMIT.  Exit status 0 unless the usage is wrong.
"""
import errno
import os
import resource
import select
import socket
import sys
import time

HEADER = (b"POST /VolumeDriver.List HTTP/1.1\r\nHost: plugin\r\n"
          b"Content-Length: 0\r\n" + b"X-Slow: " + b"z" * 4000)


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 64
    if soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(hard, want)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def slow(path, n, interval, limit, ready):
    start = time.monotonic()
    conns = []
    refused = 0
    for _ in range(n):
        if time.monotonic() - start > limit:
            break
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect(path)
        except OSError:
            refused += 1
            s.close()
            continue
        s.setblocking(False)
        conns.append([s, 0])
    opened = len(conns)
    if ready:
        open(ready, "w").close()
    closed = 0
    last_close = 0.0
    poller = select.poll()
    by_fd = {}
    for c in conns:
        poller.register(c[0], select.POLLIN)
        by_fd[c[0].fileno()] = c
    next_send = time.monotonic()
    while by_fd and time.monotonic() - start < limit:
        now = time.monotonic()
        if now >= next_send:
            for fd, c in list(by_fd.items()):
                try:
                    c[0].send(HEADER[c[1] % len(HEADER):][:1])
                    c[1] += 1
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    pass  # closed: poll reports it
            next_send = now + interval
        wait = max(0.0, min(next_send, start + limit) - time.monotonic())
        for fd, ev in poller.poll(wait * 1000):
            c = by_fd.get(fd)
            if c is None:
                continue
            try:
                data = c[0].recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                continue  # an answer: not a slow client's concern
            poller.unregister(fd)
            del by_fd[fd]
            c[0].close()
            closed += 1
            last_close = time.monotonic() - start
    for c in by_fd.values():
        c[0].close()
    print("opened=%d refused=%d closed=%d last_close=%.1f"
          % (opened, refused, closed, last_close))


def burst(path, n, limit):
    start = time.monotonic()
    socks = []
    failed = 0
    first_err = ""
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.setblocking(False)
        err = s.connect_ex(path)
        if err not in (0, errno.EINPROGRESS):
            failed += 1
            if not first_err:
                first_err = os.strerror(err)
            s.close()
            continue
        socks.append(s)
    body = b'{"Name":"v1"}\n'
    req = (b"POST /VolumeDriver.Get HTTP/1.1\r\nHost: plugin\r\n"
           b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
           + body)
    pending = {}
    for s in socks:
        s.setblocking(True)
        s.settimeout(5)
        try:
            s.sendall(req)
            s.setblocking(False)
            pending[s.fileno()] = [s, b""]
        except OSError as e:
            failed += 1
            if not first_err:
                first_err = str(e)
            s.close()
    answered = 0
    poller = select.poll()
    for fd in pending:
        poller.register(fd, select.POLLIN)
    while pending and time.monotonic() - start < limit:
        left = start + limit - time.monotonic()
        for fd, ev in poller.poll(max(0.0, left) * 1000):
            c = pending[fd]
            try:
                data = c[0].recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                c[1] += data
                continue
            poller.unregister(fd)
            del pending[fd]
            c[0].close()
            if b'"Name":"v1"' in c[1]:
                answered += 1
            elif not first_err:
                first_err = "answer: %r" % c[1][:200]
    for c in pending.values():
        c[0].close()
    print("connected=%d failed=%d answered=%d %s"
          % (len(socks), failed, answered, first_err))


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    path, mode = argv[1], argv[2]
    if mode == "slow" and len(argv) in (6, 7):
        raise_nofile(int(argv[3]))
        slow(path, int(argv[3]), float(argv[4]), float(argv[5]),
             argv[6] if len(argv) == 7 else None)
    elif mode == "burst" and len(argv) == 5:
        raise_nofile(int(argv[3]))
        burst(path, int(argv[3]), float(argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
