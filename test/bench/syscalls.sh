#!/bin/bash
# SPDX-License-Identifier: MIT
#
# What one file system operation costs the volfs daemon in system calls:
# a `local` volume is mounted with the kernel's caches off
# (entry_timeout=0,attr_timeout=0, as cold caches and path= volumes see it),
# strace counts every call of every daemon thread while a workload repeats
# an operation N times, and the table shows calls per operation, the
# requests' own /dev/fuse reads and writes included.
#
#   test/bench/syscalls.sh [--build DIR]... [-n N]
#
# --build names a configured and built volfs tree (default: the current
# directory); give it twice to compare two builds in one table.
#
# Operations: stat of a/b/c/f (4 lookups and a getattr), fstat of an open
# file, create+close+unlink of an empty file in a/b/c, and a plain listing
# (getdents) of a directory of 1,000 files, counted per entry.
# VOLFS_SYSCALLS_KEEP=PREFIX keeps strace's tables as PREFIX.BUILD.OP.
set -euo pipefail

N=2000
BUILDS=()
while [ $# -gt 0 ]; do
	case $1 in
	--build) BUILDS+=("$(cd "$2" && pwd)"); shift 2 ;;
	-n) N=$2; shift 2 ;;
	*) echo "usage: $0 [--build DIR]... [-n N]" >&2; exit 2 ;;
	esac
done
[ ${#BUILDS[@]} -gt 0 ] || BUILDS=("$(pwd)")
command -v strace >/dev/null || { echo "strace is needed (apt-get install strace)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "run as root (FUSE mounts)" >&2; exit 2; }

W=$(mktemp -d /tmp/volfs-syscalls.XXXXXX)
MNT=$W/mnt
DAEMON=
cleanup() {
	[ -n "$DAEMON" ] && umount "$MNT" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT

# count BUILD OP: runs OP's workload N times under strace, prints calls/op.
count() {
	local b=$1 op=$2 out pid spid total per
	out=$W/strace.$op
	pid=$DAEMON
	strace -f -c -p "$pid" -o "$out" 2>/dev/null &
	spid=$!
	sleep 1
	python3 - "$MNT" "$op" "$N" <<'EOF'
import os, sys
mnt, op, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if op == "stat":
    for _ in range(n):
        os.stat(os.path.join(mnt, "a/b/c/f"))
elif op == "fstat":
    fd = os.open(os.path.join(mnt, "a/b/c/f"), os.O_RDONLY)
    for _ in range(n):
        os.fstat(fd)
    os.close(fd)
elif op == "create":
    d = os.path.join(mnt, "a/b/c")
    for i in range(n):
        p = os.path.join(d, "n%d" % i)
        os.close(os.open(p, os.O_CREAT | os.O_WRONLY, 0o644))
        os.unlink(p)
elif op == "readdir":
    d = os.path.join(mnt, "list")
    for _ in range(max(1, n // 1000)):
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
        with os.scandir(fd) as it:
            for _e in it:
                pass
        os.close(fd)
EOF
	kill -INT "$spid"
	wait "$spid" 2>/dev/null || true
	# strace -c's last line: % time, seconds, usecs/call, calls, ...
	total=$(awk '$NF=="total" {print $4}' "$out")
	case $op in
	readdir) per=$(python3 -c "print('%.2f' % ($total / (max(1, $N // 1000) * 1000)))") ;;
	*) per=$(python3 -c "print('%.1f' % ($total / $N))") ;;
	esac
	echo "$per"
	[ -z "${VOLFS_SYSCALLS_KEEP:-}" ] || cp "$out" "$VOLFS_SYSCALLS_KEEP.$(basename "$b").$op"
}

printf '%-28s %10s %10s %10s %12s\n' build "stat 4-deep" fstat create+unlink "readdir/entry"
for b in "${BUILDS[@]}"; do
	export VOLFS_ROOT=$W/state.$(basename "$b")
	export VOLFS_BACKEND_DIR=$b/backends/.libs
	mkdir -p "$MNT"
	"$b/volfs" create sc >/dev/null
	"$b/volfs" mount -o entry_timeout=0,attr_timeout=0 sc "$MNT"
	DAEMON=$(pgrep -n -f "volfs mount.* sc $MNT" || true)
	[ -n "$DAEMON" ] || { echo "cannot find the daemon of $MNT" >&2; exit 1; }
	mkdir -p "$MNT/a/b/c" "$MNT/list"
	echo x >"$MNT/a/b/c/f"
	for i in $(seq 1 1000); do : >"$MNT/list/f$i"; done
	r1=$(count "$b" stat)
	r2=$(count "$b" fstat)
	r3=$(count "$b" create)
	r4=$(count "$b" readdir)
	printf '%-28s %10s %10s %10s %12s\n' "$(basename "$b")" "$r1" "$r2" "$r3" "$r4"
	umount "$MNT"
	DAEMON=
	sleep 1
done
