#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The smb benchmark: one Samba server on loopback (in a private network
# namespace), three clients of it in one run, the same workloads:
#
#   volfs-smb   an smb volume, `volfs mount`
#   smbclient   Samba's own client, put/get: the raw limit of the server
#               and the protocol on this machine
#   rclone      `rclone mount :smb:` (rclone 1.60, default VFS options:
#               no local cache), the FUSE peer
#
# Workloads:
#   1. sequential write of a 1 GiB file (random data from the page cache)
#   2. sequential read of it (mounts: a fresh mount, so from the server),
#      then the same read again (volfs: from its cache on local disk)
#   3. random 4 KiB reads of it, 1 job and 4 jobs, O_DIRECT (fio; mounts
#      only: smbclient has no random access)
#   4. 2,000 files of 16 KiB written (cp -r, until unmounted: the files
#      are then on the server), then read back (cat)
# The clients take turns, --rounds times (default 3); the table holds the
# medians (random reads: the first round only).
#
#   test/bench/smb.sh [--size MIB] [--files N] [--runtime S] [--rounds N]
#                     [--out FILE]
#
# Needs root, smbd, smbclient, rclone, fio, fusermount3.  The password is
# never on a command line: volfs gets it through -o at create time from a
# variable (its create is not measured), smbclient through an
# authentication file (-A), rclone through RCLONE_SMB_PASS (obscured).
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd -P)
SRCDIR=${VOLFS_SRCDIR:-$(cd "$HERE/../.." && pwd -P)}
VOLFS=${VOLFS:-$SRCDIR/volfs}
export VOLFS_BACKEND_DIR=${VOLFS_BACKEND_DIR:-$SRCDIR/backends/.libs}

SIZE_MIB=1024
NFILES=2000
RUNTIME=15
ROUNDS=3
OUT=/var/tmp/volfs-bench-smb-$(date +%Y%m%d-%H%M%S).txt
while [ $# -gt 0 ]; do
	case $1 in
	--size) SIZE_MIB=$2; shift 2 ;;
	--files) NFILES=$2; shift 2 ;;
	--runtime) RUNTIME=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	-h | --help)
		sed -n '3,30p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) echo "smb.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done

[ "$(id -u)" = 0 ] || { echo "smb.sh: needs root" >&2; exit 1; }
for c in smbd smbclient rclone fio unshare ip fusermount3; do
	command -v $c >/dev/null || { echo "smb.sh: $c not found (packaging/install-deps.sh)" >&2; exit 1; }
done
[ -e "$VOLFS_BACKEND_DIR/smb.so" ] || { echo "smb.sh: no smb.so in $VOLFS_BACKEND_DIR: build with libsmbclient" >&2; exit 1; }

# Everything below runs in a network namespace of its own.
if [ -z "${VOLFS_BENCH_NETNS:-}" ]; then
	export VOLFS_BENCH_NETNS=1
	exec unshare -n bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" \
		--size "$SIZE_MIB" --files "$NFILES" --runtime "$RUNTIME" \
		--rounds "$ROUNDS" --out "$OUT"
fi

W=$(mktemp -d /var/tmp/volfs-bench-smb.XXXXXX)
chmod 755 "$W"
export VOLFS_ROOT=$W/state
SMBD_SH=$SRCDIR/test/servers/smbd.sh
USER_=volfstest
PASS=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
MNT=$W/mnt
mkdir -p "$MNT"

cleanup() {
	set +e
	if mountpoint -q "$MNT"; then
		"$VOLFS" umount "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"
	fi
	[ -n "${RCLONE_PID:-}" ] && kill "$RCLONE_PID" 2>/dev/null && wait "$RCLONE_PID" 2>/dev/null
	"$SMBD_SH" stop "$W/smb"
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT

"$SMBD_SH" setup "$W/smb" "$USER_" "$PASS" off >/dev/null 2>&1
# The benchmark measures the protocol, not Samba's debug log.
sed -i 's/^\tlog level = 1/\tlog level = 0/' "$W/smb/smb.conf"
"$SMBD_SH" start "$W/smb" >/dev/null
SHARE_DIR=$W/smb/share

umask 077
printf 'username = %s\npassword = %s\n' "$USER_" "$PASS" >"$W/auth"
umask 022
SMBC=(smbclient //127.0.0.1/share -p 4450 -A "$W/auth" -m SMB3 -q)
export RCLONE_CONFIG=$W/rclone.conf RCLONE_SMB_HOST=127.0.0.1 \
	RCLONE_SMB_PORT=4450 RCLONE_SMB_USER=$USER_
: >"$RCLONE_CONFIG"
RCLONE_SMB_PASS=$(printf '%s' "$PASS" | rclone obscure -)
export RCLONE_SMB_PASS

echo "smb.sh: preparing ${SIZE_MIB} MiB and $NFILES x 16 KiB of data" >&2
head -c $((SIZE_MIB * 1048576)) /dev/urandom >"$W/big"
mkdir "$W/small"
for i in $(seq -w 1 "$NFILES"); do
	head -c 16384 /dev/urandom >"$W/small/f$i"
done
cat "$W/big" "$W/small"/* >/dev/null

now() { date +%s.%N; }
# MiB/s of MIB moved in the seconds between $1 and $2.
rate() { awk -v a="$1" -v b="$2" -v m="$3" 'BEGIN { printf "%.1f", m / (b - a) }'; }
clear_share() { rm -rf --one-file-system "${SHARE_DIR:?}"/*; }

declare -A R

volfs_up() {
	"$VOLFS" mount volbench "$MNT"
}
volfs_down() {
	"$VOLFS" umount "$MNT"
}
rclone_up() {
	rclone mount :smb:share "$MNT" --allow-other >"$W/rclone.log" 2>&1 &
	RCLONE_PID=$!
	for _ in $(seq 100); do
		mountpoint -q "$MNT" && return 0
		sleep 0.1
	done
	cat "$W/rclone.log" >&2
	return 1
}
rclone_down() {
	fusermount3 -u "$MNT"
	wait "$RCLONE_PID" 2>/dev/null || true
	RCLONE_PID=
}

# fio random reads on a mounted file: IOPS.
randread() {
	fio --name=rr --filename="$1" --rw=randread --bs=4k --direct=1 \
		--ioengine=psync --numjobs="$2" --group_reporting \
		--time_based --runtime="$RUNTIME" --output-format=json \
		2>/dev/null | awk -F: '/"iops"/ { gsub(/[ ,]/, "", $2); print int($2); exit }'
}

# Workloads through a mount; $1 = target name, $2 = up fn, $3 = down fn.
mounted() {
	local t=$1 up=$2 down=$3 a b
	clear_share
	$up
	a=$(now)
	dd if="$W/big" of="$MNT/big" bs=1M conv=fsync status=none
	b=$(now)
	R[$t.seqw.$ROUND]=$(rate "$a" "$b" "$SIZE_MIB")
	$down
	$up
	a=$(now)
	dd if="$MNT/big" of=/dev/null bs=1M status=none
	b=$(now)
	R[$t.seqr.$ROUND]=$(rate "$a" "$b" "$SIZE_MIB")
	# Read again through the same mount: a cache serves it from local
	# disk.
	a=$(now)
	dd if="$MNT/big" of=/dev/null bs=1M status=none
	b=$(now)
	R[$t.warmr.$ROUND]=$(rate "$a" "$b" "$SIZE_MIB")
	cmp "$W/big" "$MNT/big" || { echo "smb.sh: $t: data differs" >&2; exit 1; }
	# fio runs for --runtime seconds: once, in the first round.
	if [ "$ROUND" = 1 ]; then
		R[$t.rr1.$ROUND]=$(randread "$MNT/big" 1)
		R[$t.rr4.$ROUND]=$(randread "$MNT/big" 4)
	fi
	# Until the files are on the server: the unmount waits for what a
	# write-back cache still holds.
	a=$(now)
	cp -r "$W/small" "$MNT/small"
	$down
	b=$(now)
	R[$t.smallw.$ROUND]=$(awk -v a="$a" -v b="$b" -v n="$NFILES" 'BEGIN { printf "%.0f", n / (b - a) }')
	$up
	a=$(now)
	cat "$MNT/small"/* >/dev/null
	b=$(now)
	R[$t.smallr.$ROUND]=$(awk -v a="$a" -v b="$b" -v n="$NFILES" 'BEGIN { printf "%.0f", n / (b - a) }')
	$down
}

run_smbclient() {
	local a b
	clear_share
	a=$(now)
	"${SMBC[@]}" -c "put $W/big big" >/dev/null
	b=$(now)
	R[smbclient.seqw.$ROUND]=$(rate "$a" "$b" "$SIZE_MIB")
	a=$(now)
	"${SMBC[@]}" -c "get big /dev/null" >/dev/null
	b=$(now)
	R[smbclient.seqr.$ROUND]=$(rate "$a" "$b" "$SIZE_MIB")
	a=$(now)
	"${SMBC[@]}" -c "get big /dev/null" >/dev/null
	b=$(now)
	R[smbclient.warmr.$ROUND]=$(rate "$a" "$b" "$SIZE_MIB")
	R[smbclient.rr1.$ROUND]=n/a
	R[smbclient.rr4.$ROUND]=n/a
	a=$(now)
	"${SMBC[@]}" -c "mkdir small; cd small; lcd $W/small; prompt off; mput *" >/dev/null
	b=$(now)
	R[smbclient.smallw.$ROUND]=$(awk -v a="$a" -v b="$b" -v n="$NFILES" 'BEGIN { printf "%.0f", n / (b - a) }')
	mkdir "$W/got"
	a=$(now)
	"${SMBC[@]}" -c "cd small; lcd $W/got; prompt off; mget *" >/dev/null
	b=$(now)
	R[smbclient.smallr.$ROUND]=$(awk -v a="$a" -v b="$b" -v n="$NFILES" 'BEGIN { printf "%.0f", n / (b - a) }')
	rm -rf "$W/got"
}

VOLFS_SHARE=//127.0.0.1:4450/share
"$VOLFS" create -b smb -o share="$VOLFS_SHARE" -o username="$USER_" \
	-o password="$PASS" -o encrypt=off volbench >/dev/null

# The machine is shared and noisy: the clients take turns, ROUNDS times,
# and the table shows medians.
for ROUND in $(seq "$ROUNDS"); do
	echo "smb.sh: round $ROUND: smbclient" >&2
	run_smbclient
	echo "smb.sh: round $ROUND: volfs-smb" >&2
	mounted volfs-smb volfs_up volfs_down
	echo "smb.sh: round $ROUND: rclone" >&2
	mounted rclone rclone_up rclone_down
done

# Each target's median per metric, and every round's values.
for t in volfs-smb smbclient rclone; do
	for k in seqw seqr warmr rr1 rr4 smallw smallr; do
		vals=()
		for r in $(seq "$ROUNDS"); do
			[ -n "${R[$t.$k.$r]:-}" ] && vals+=("${R[$t.$k.$r]}")
		done
		if [ "${vals[0]}" = n/a ]; then
			R[$t.$k]=n/a
		else
			R[$t.$k]=$(printf '%s\n' "${vals[@]}" | sort -g |
				awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
		fi
		R[$t.$k.all]="${vals[*]}"
	done
done

ratio() {
	case "$1$2" in
	*n/a*) echo - ;;
	*) awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }' ;;
	esac
}

{
	echo "volfs smb benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(uname -r)"
	echo "server: smbd $(smbd -V | awk '{ print $2 }'), loopback, smb encrypt = off; $(rclone version | head -1)"
	echo "command: test/bench/smb.sh --size $SIZE_MIB --files $NFILES --runtime $RUNTIME --rounds $ROUNDS"
	echo "medians of $ROUNDS rounds (random reads: the first round's fio run)"
	echo
	printf '| %-30s | %10s | %10s | %10s | %8s | %8s |\n' metric volfs-smb smbclient rclone "vs smbc" "vs rclone"
	printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' $(seq 32))" "-----------:" "-----------:" "-----------:" "---------:" "---------:"
	for m in seqw:"sequential write ${SIZE_MIB} MiB (MiB/s)" \
		seqr:"sequential read ${SIZE_MIB} MiB (MiB/s)" \
		warmr:"the same read again (MiB/s)" \
		rr1:"random 4 KiB read, 1 job (IOPS)" \
		rr4:"random 4 KiB read, 4 jobs (IOPS)" \
		smallw:"${NFILES} x 16 KiB written (files/s)" \
		smallr:"${NFILES} x 16 KiB read (files/s)"; do
		k=${m%%:*}
		printf '| %-30s | %10s | %10s | %10s | %8s | %8s |\n' "${m#*:}" \
			"${R[volfs-smb.$k]}" "${R[smbclient.$k]}" "${R[rclone.$k]}" \
			"$(ratio "${R[volfs-smb.$k]}" "${R[smbclient.$k]}")" \
			"$(ratio "${R[volfs-smb.$k]}" "${R[rclone.$k]}")"
	done
	echo
	echo "every round:"
	for k in seqw seqr warmr smallw smallr; do
		for t in volfs-smb smbclient rclone; do
			printf '  %-7s %-10s %s\n' "$k" "$t" "${R[$t.$k.all]}"
		done
	done
} | tee "$OUT"
echo "smb.sh: results in $OUT" >&2
