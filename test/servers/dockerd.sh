# SPDX-License-Identifier: MIT
#
# A real dockerd for tests, sourced after lib.sh by a test that already
# runs in private mount and network namespaces (see enter_namespaces).  It
# keeps everything under $T: data root, exec root, API socket, logs.  Images
# cannot be pulled here: dockerd_image builds a busybox image from Debian's
# busybox-static.

# enter_namespaces "$0" "$@": re-runs the calling test in new mount and
# network namespaces (loopback up, /run a private tmpfs), once.  Call it
# before sourcing lib.sh.
enter_namespaces() {
	if [ -n "${VOLFS_TEST_IN_NS:-}" ]; then
		ip link set lo up
		mount -t tmpfs -o mode=0755 tmpfs /run
		return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: needs root (namespaces, FUSE, dockerd)" >&2
		exit 77
	fi
	for _ns_c in unshare ip; do
		command -v "$_ns_c" >/dev/null 2>&1 || {
			echo "SKIP: $_ns_c not found (install util-linux, iproute2)" >&2
			exit 77
		}
	done
	VOLFS_TEST_IN_NS=1 exec unshare --mount --net --propagation private \
		"${SHELL:-/bin/sh}" "$@"
}

# dockerd_start: starts dockerd and waits until its API answers.
dockerd_start() {
	mkdir -p "$T/docker"
	dockerd --iptables=false --ip6tables=false --bridge=none \
		--storage-driver=vfs --data-root "$T/docker/data" \
		--exec-root "$T/docker/exec" -H "unix://$T/docker/docker.sock" \
		--pidfile "$T/docker/dockerd.pid" >>"$T/docker/dockerd.log" 2>&1 &
	dockerd_pid=$!
	DOCKER_HOST=unix://$T/docker/docker.sock
	export DOCKER_HOST
	if ! wait_until 60 docker version; then
		tail -20 "$T/docker/dockerd.log" >&2
		fail "dockerd did not answer within 60 s"
	fi
}

# dockerd_stop: stops every container, then dockerd, and waits for it.
dockerd_stop() {
	[ -n "${dockerd_pid:-}" ] || return 0
	_c=$(docker ps -aq 2>/dev/null || true)
	[ -z "$_c" ] || docker rm -f $_c >/dev/null 2>&1 || true
	kill -TERM "$dockerd_pid" 2>/dev/null || true
	wait_until 60 sh -c "! kill -0 $dockerd_pid" ||
		kill -KILL "$dockerd_pid" 2>/dev/null || true
	wait "$dockerd_pid" 2>/dev/null || true
	umount "$T/docker/exec/netns/default" 2>/dev/null || true
	dockerd_pid=
}

# dockerd_image NAME: imports a busybox rootfs as image NAME.
dockerd_image() {
	_root=$T/docker/rootfs
	mkdir -p "$_root/bin" "$_root/tmp" "$_root/etc"
	cp /bin/busybox "$_root/bin/busybox"
	for _c in sh ls cat echo sleep mkdir rm stat id touch wc seq test \
		grep head tail true false; do
		ln -s busybox "$_root/bin/$_c"
	done
	echo 'root:x:0:0:root:/:/bin/sh' >"$_root/etc/passwd"
	tar -cf "$T/docker/rootfs.tar" -C "$_root" .
	docker import -c 'ENV PATH=/bin' "$T/docker/rootfs.tar" "$1" >/dev/null ||
		fail "docker import of the busybox image failed"
}

# need_static_busybox: skips unless /bin/busybox runs without libraries.
need_static_busybox() {
	[ -x /bin/busybox ] || skip "/bin/busybox not found (install busybox-static)"
	if ldd /bin/busybox >/dev/null 2>&1; then
		skip "/bin/busybox is dynamically linked (install busybox-static)"
	fi
}
