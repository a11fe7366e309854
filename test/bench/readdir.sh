#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The daemon's memory while a large directory of a `local` volume is listed:
# N empty files (default 1,000,000) are made in the volume's data directory
# (not through FUSE, which would take long), the volume is mounted, and
# `ls -f` (plain READDIR) and then `ls -l` (READDIRPLUS and a stat of each)
# list it after drop_caches.  Prints each listing's time and the daemon's
# peak RSS growth (VmHWM after clear_refs), and its descriptors after ls -l.
#
#   test/bench/readdir.sh [--build DIR] [-n N]
#
# --build names a built volfs tree (default: the current directory).  Needs
# root; state and mount live in a private directory under /var/tmp.
set -euo pipefail

B=$(pwd)
N=1000000
while [ $# -gt 0 ]; do
	case $1 in
	--build) B=$(cd "$2" && pwd); shift 2 ;;
	-n) N=$2; shift 2 ;;
	*) echo "usage: $0 [--build DIR] [-n N]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "run as root (FUSE mounts, drop_caches)" >&2; exit 2; }

W=$(mktemp -d /var/tmp/volfs-readdir.XXXXXX)
MNT=$W/mnt
cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	rm -rf "$W"
}
trap cleanup EXIT
export VOLFS_ROOT=$W/state VOLFS_BACKEND_DIR=$B/backends/.libs
mkdir -p "$MNT"
"$B/volfs" create rd >/dev/null
mkdir "$VOLFS_ROOT/volumes/rd/_data/big"
python3 - "$VOLFS_ROOT/volumes/rd/_data/big" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    os.close(os.open("%s/f%07d" % (d, i), os.O_CREAT | os.O_WRONLY, 0o644))
PY
"$B/volfs" mount rd "$MNT"
pid=$(pgrep -n -f "volfs mount rd $MNT")
hwm() { awk '/^VmHWM/ { print $2 }' "/proc/$pid/status"; }

# list HOW: one listing, cold.
list() {
	local before after t0 t1 n
	sync
	echo 3 >/proc/sys/vm/drop_caches
	echo 5 >"/proc/$pid/clear_refs"
	before=$(hwm)
	t0=$(date +%s.%N)
	n=$(ls "$1" "$MNT/big" | wc -l)
	t1=$(date +%s.%N)
	after=$(hwm)
	printf 'ls %s: %d lines in %.1f s, daemon peak RSS %d -> %d KiB (+%d KiB)\n' \
		"$1" "$n" "$(echo "$t1 - $t0" | bc)" "$before" "$after" $((after - before))
}
echo "$("$B/volfs" version), $N files"
list -f
list -l
echo "daemon descriptors after ls -l: $(ls "/proc/$pid/fd" | wc -l) (soft limit $(awk '/Max open files/ { print $4 }' "/proc/$pid/limits"))"
