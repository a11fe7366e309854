#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Benchmark of the Docker plugin socket: 10,000 volumes in the catalog, 50
# concurrent clients doing what Docker does to start and stop a container
# (Get, Mount, Unmount), p50/p99 latency and requests per second; and the
# time of `volfs ls` at 10,000 volumes.  Run by `make bench-plugin` as root.
#
#   VOLUMES=10000 CLIENTS=50 ROUNDS=40 make bench-plugin
set -euo pipefail

: "${VOLFS:?run through make bench-plugin}"
: "${PLUGIN_LOAD:?run through make bench-plugin}"
VOLUMES=${VOLUMES:-10000}
CLIENTS=${CLIENTS:-50}
ROUNDS=${ROUNDS:-40}

[ "$(id -u)" = 0 ] || { echo "bench-plugin: run as root (FUSE mount)" >&2; exit 1; }
T=$(mktemp -d /var/tmp/volfs-bench-plugin.XXXXXX)
export VOLFS_ROOT=$T/state
serve_pid=
cleanup() {
	[ -z "$serve_pid" ] || { kill -TERM "$serve_pid"; wait "$serve_pid" || true; }
	rm -rf --one-file-system "$T"
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

echo "== $CLIENTS clients x $ROUNDS rounds of Get, Mount, Unmount on random volumes"
"$PLUGIN_LOAD" "$T/plugin.sock" load "$CLIENTS" "$ROUNDS" "$VOLUMES" vol
echo "(goal: Mount and Unmount p99 < 10 ms)"
