#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Benchmark of the Docker plugin socket: 10,000 volumes in the catalog, 50
# concurrent clients doing what Docker does to start and stop a container
# (Get, Mount, Unmount), p50/p99 latency and requests per second; and the
# time of `volfs ls` at 10,000 volumes.  Then the same load on a busy host:
# 200 `volfs mount` attachments and 3,000 other mounts, while a `volfs
# inspect` (which reaps, under the catalog's write lock) runs every 100 ms.
# The peer, in the same run, is rclone's Docker volume plugin (`rclone
# serve docker`, each volume a local directory remote), driven the same
# way.  Run by `make bench-plugin` as root, in a mount namespace of its own
# (the host's mount table is left alone).
#
#   VOLUMES=10000 CLIENTS=50 ROUNDS=40 PEER_VOLUMES=200 make bench-plugin
#   ATTACHED=200 OTHER_MOUNTS=3000 make bench-plugin   (0: skip that case)
#   PEER_VOLUMES=0 make bench-plugin                    (no rclone)
set -euo pipefail

if [ -z "${VOLFS_BENCH_NS:-}" ]; then
	VOLFS_BENCH_NS=1 exec unshare -m --propagation private "$BASH" "$0" "$@"
fi

: "${VOLFS:?run through make bench-plugin}"
: "${PLUGIN_LOAD:?run through make bench-plugin}"
VOLUMES=${VOLUMES:-10000}
CLIENTS=${CLIENTS:-50}
ROUNDS=${ROUNDS:-40}
PEER_VOLUMES=${PEER_VOLUMES:-200}
ATTACHED=${ATTACHED:-200}
OTHER_MOUNTS=${OTHER_MOUNTS:-3000}
# Seconds a load phase may take before it counts as hung.
PHASE_TIMEOUT=${PHASE_TIMEOUT:-180}

[ "$(id -u)" = 0 ] || { echo "bench-plugin: run as root (FUSE mount)" >&2; exit 1; }
T=$(mktemp -d /var/tmp/volfs-bench-plugin.XXXXXX)
export VOLFS_ROOT=$T/state
serve_pid=
rclone_pid=
reaper_pid=
cleanup() {
	[ -z "$reaper_pid" ] || kill "$reaper_pid" 2>/dev/null || true
	for d in "$T"/att/*; do umount -l "$d" 2>/dev/null || true; done
	[ -z "$serve_pid" ] || { kill -TERM "$serve_pid"; wait "$serve_pid" || true; }
	# The other mounts all sit on one tmpfs: detaching it takes them.
	umount -l "$T/other" 2>/dev/null || true
	stop_rclone
	rm -rf --one-file-system "$T"
}
stop_rclone() {
	[ -n "$rclone_pid" ] || return 0
	kill -TERM "$rclone_pid" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 "$rclone_pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$rclone_pid" 2>/dev/null || true
	wait "$rclone_pid" 2>/dev/null || true
	rclone_pid=
	# Its FUSE mounts, deepest first.
	awk -v d="$T/rclone-mnt/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r m; do fusermount3 -uz "$m" 2>/dev/null || true; done
}
# load SOCKET CLIENTS ROUNDS N PREFIX: one load phase, bounded in time.
load() {
	if ! timeout "$PHASE_TIMEOUT" "$PLUGIN_LOAD" "$1" load "$2" "$3" "$4" "$5"; then
		echo "  (no complete answer within ${PHASE_TIMEOUT} s, or errors: see above)"
	fi
}
trap cleanup EXIT

mkdir -p "$T/mnt"
"$VOLFS" serve -m "$T/mnt" --docker-socket "$T/plugin.sock" \
	--docker-host "unix://$T/no-docker.sock" 2>"$T/serve.log" &
serve_pid=$!
for _ in $(seq 100); do [ -S "$T/plugin.sock" ] && break; sleep 0.1; done
[ -S "$T/plugin.sock" ] || { cat "$T/serve.log" >&2; exit 1; }

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "== volfs $("$VOLFS" version | head -1)"
echo "== creating $VOLUMES volumes through the plugin ($CLIENTS clients)"
"$PLUGIN_LOAD" "$T/plugin.sock" create "$VOLUMES" vol "$CLIENTS"

echo "== volfs ls at $VOLUMES volumes (5 runs)"
times=()
for _ in 1 2 3 4 5; do
	s=$(date +%s%N)
	"$VOLFS" ls >/dev/null
	times+=($((($(date +%s%N) - s) / 1000000)))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
echo "volfs ls: runs ${sorted}ms; median $(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p) ms (goal < 100 ms)"

echo "== volfs: 1 client x 100 rounds of Get, Mount, Unmount on random volumes"
load "$T/plugin.sock" 1 100 "$VOLUMES" vol
echo "== volfs: $CLIENTS clients x $ROUNDS rounds of Get, Mount, Unmount on random volumes"
load "$T/plugin.sock" "$CLIENTS" "$ROUNDS" "$VOLUMES" vol
echo "(goal: Mount and Unmount p99 < 10 ms)"

if [ "$ATTACHED" -gt 0 ] && [ "$OTHER_MOUNTS" -gt 0 ]; then
	echo "== a busy host: $ATTACHED volfs mounts (mount: attachments) and $OTHER_MOUNTS other mounts"
	mkdir -p "$T/att" "$T/other"
	mount -t tmpfs -o size=1m tmpfs "$T/other"
	s=$(date +%s%N)
	for i in $(seq 0 $((ATTACHED - 1))); do
		mkdir "$T/att/$i"
		# Shares serve's instance: a bind mount and an attachment.
		"$VOLFS" mount "vol$i" "$T/att/$i" >/dev/null
	done
	echo "volfs mount x $ATTACHED: $((($(date +%s%N) - s) / 1000000)) ms"
	for i in $(seq 2 "$OTHER_MOUNTS"); do
		mkdir "$T/other/$i"
		mount -t tmpfs -o size=4k tmpfs "$T/other/$i"
	done
	echo "mount table: $(wc -l </proc/self/mountinfo) entries"
	times=()
	for _ in 1 2 3; do
		s=$(date +%s%N)
		"$VOLFS" inspect vol0 >/dev/null
		times+=($((($(date +%s%N) - s) / 1000000)))
	done
	echo "volfs inspect (reaps twice): runs $(printf '%s ' "${times[@]}")ms"
	( while :; do "$VOLFS" inspect vol0 >/dev/null; sleep 0.1; done ) &
	reaper_pid=$!
	echo "== volfs: $CLIENTS clients x $ROUNDS rounds, busy host, inspect every 100 ms"
	load "$T/plugin.sock" "$CLIENTS" "$ROUNDS" "$VOLUMES" vol
	echo "(goal: Mount and Unmount p99 < 10 ms)"
	kill "$reaper_pid"; wait "$reaper_pid" 2>/dev/null || true
	# The mount namespace goes with this script; serve's binds go first
	# so that it stops cleanly.
	for i in $(seq 0 $((ATTACHED - 1))); do umount -l "$T/att/$i"; done
fi
kill -TERM "$serve_pid"; wait "$serve_pid" || true; serve_pid=

if [ "$PEER_VOLUMES" -eq 0 ]; then
	echo "== peer: skipped (PEER_VOLUMES=0)"
	exit 0
fi
if ! command -v rclone >/dev/null 2>&1; then
	echo "== peer: rclone not found, skipped (install rclone)"
	exit 0
fi
echo "== peer: rclone serve docker ($(rclone version 2>/dev/null | head -1)), $PEER_VOLUMES volumes"
mkdir -p "$T/rclone-data" "$T/rclone-mnt"
rclone serve docker --socket-addr "$T/rclone.sock" --base-dir "$T/rclone-mnt" \
	--config "$T/rclone.conf" --cache-dir "$T/rclone-cache" 2>"$T/rclone.log" &
rclone_pid=$!
for _ in $(seq 100); do [ -S "$T/rclone.sock" ] && break; sleep 0.1; done
# One client creates them: rclone 1.60 stops answering any request after
# concurrent Creates, and its Create rate is not what is compared.
PLUGIN_LOAD_OPTS="{\"remote\":\"$T/rclone-data\"}" \
	"$PLUGIN_LOAD" "$T/rclone.sock" create "$PEER_VOLUMES" vol 1
echo "== rclone: 1 client x 100 rounds"
load "$T/rclone.sock" 1 100 "$PEER_VOLUMES" vol
echo "== rclone: $CLIENTS clients x $ROUNDS rounds"
load "$T/rclone.sock" "$CLIENTS" "$ROUNDS" "$PEER_VOLUMES" vol
stop_rclone
