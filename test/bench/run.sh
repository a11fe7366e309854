#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The volfs benchmark: measures volfs next to native ext4, kernel tmpfs,
# bindfs and libfuse's passthrough_hp (FUSE peers) with the same workloads,
# in one run, and prints the medians and the ratios to native ext4
# (volfs-ram also to tmpfs).
#
#   test/bench/run.sh [--quick] [--reps N] [--targets LIST] [--tests LIST]
#                     [--out FILE] [--workdir DIR] [--cpu-latency-0]
#                     [--io-uring on|off] [--pin-cpu N] [--libfuse-src DIR]
#
# Targets (--targets takes a comma-separated subset, in this order):
#   native       a directory on the file system of --workdir (ext4 here)
#   tmpfs        mount -t tmpfs -o size=3g
#   bindfs       Debian's bindfs (libfuse 2) over a native directory
#   passthrough_hp  libfuse's example/passthrough_hp.cc (libfuse 3's
#                low-level API, multi-threaded: the closest peer of volfs
#                local), built with g++ from the libfuse source tree that
#                --libfuse-src names, against the installed fuse3, over a
#                native directory; skipped, with a note, without
#                --libfuse-src
#   volfs-local  a `local` volume, `volfs mount` with the default options
#   volfs-ram    a `ram` volume (volfs create -b ram -o size=3g: its
#                tmpfs store when run as root); skipped, with a note,
#                while the ram backend module is missing
#   volfs-ramd   the same with -o store=daemon (files in the daemon's
#                memory); only when --targets names it
#
# Workloads, all of them (or the groups --tests names: seq, rand, meta,
# small, tree) on every target, in every repetition:
#   1. sequential write (fio, 1 MiB blocks, psync, fsync at the end)
#   2. sequential read of that file, cold (after drop_caches) and warm
#   3. random 4 KiB reads, 1 job and 4 jobs, on a file read once beforehand
#   4. random 4 KiB writes, 1 job
#   5. empty files: create, stat, getxattr of an absent name (one request
#      each through FUSE), readdir, unlink (meta.c); on native, a pipe
#      round trip between two processes, the floor under any FUSE request
#   6. small files written, then read back and verified (meta.c)
#   7. untar of a tree of ~16,000 entries, then rm -rf of it
#
# After the timed repetitions, where the kernel has the fuse tracepoints,
# the FUSE requests of each metadata workload are counted on volfs-local
# (one untimed run each) and the report prints what one request at a time
# allows at most: waited requests per operation times the round trip.
#
# Each repetition runs every target once (the first target rotates from one
# repetition to the next, so no target always runs first or last).
#
# Every FUSE request wakes a daemon thread and then the caller.  On a virtual
# machine an idle CPU can take tens of microseconds to wake, which then
# dominates one-request-at-a-time workloads and makes them swing from run to
# run.  --cpu-latency-0 holds /dev/cpu_dma_latency at 0 while measuring, so
# idle CPUs poll instead of sleeping: the FUSE numbers then show volfs's own
# cost.  The header of the results says which way a run was made.
#
# volfs serves local and ram volumes over io_uring where the kernel offers
# it (Linux 6.14 and later, fuse.enable_uring=Y): requests are then answered
# on the caller's CPU.  The parameter is off by default; the benchmark sets
# it while it mounts the volfs targets (and puts it back once volfs mount
# returns: a mount keeps what it negotiated) unless --io-uring off.  Each
# target's line says whether its daemon uses the ring.
#
# --pin-cpu N runs every workload (fio, the metadata program, tar, rm) on
# CPU N only, as in a container given one CPU; the daemons stay free.  A
# FUSE caller that may move is otherwise often woken on the other, idle CPU
# when its answer comes, which on a virtual machine costs that CPU's
# wake-up on every request.
#
# Needs root (mounts, drop_caches), fio, jq, tar, a C compiler, bindfs for
# the bindfs target, a C++17 compiler ($CXX, else g++) and fuse3's
# development files for the passthrough_hp target.  The volfs binary is
# $VOLFS, else the one built next to this script (../../volfs), else
# `volfs` from PATH; backend modules come from $VOLFS_BACKEND_DIR, else
# ../../backends/.libs next to a built volfs.
# State goes to a private VOLFS_ROOT inside the work directory, which is
# removed at the end; every mount made is undone on exit, error or Ctrl-C.
#
set -euo pipefail
export LC_ALL=C

PROG=$(basename "$0")
HERE=$(cd "$(dirname "$0")" && pwd -P)

usage() {
	cat <<EOF
usage: $PROG [--quick] [--reps N] [--targets LIST] [--tests LIST] [--out FILE]
       [--workdir DIR] [--cpu-latency-0] [--io-uring on|off] [--pin-cpu N]
       [--libfuse-src DIR]

  --quick         small sizes, short fio runs, 1 repetition (a smoke check)
  --reps N        repetitions (default 3; 1 with --quick)
  --targets LIST  comma-separated subset of: $ALL_TARGETS_CSV
                  (default all but volfs-ramd)
  --tests LIST    comma-separated workload groups (default all): $ALL_TESTS_CSV
                  (seq: 1-2, rand: 3-4, meta: 5, small: 6, tree: 7)
  --out FILE      results file (default /var/tmp/volfs-bench-DATE.txt)
  --workdir DIR   where the work directory is made (default /var/tmp); the
                  native target runs there, so it should be on ext4
  --cpu-latency-0 keep idle CPUs polling while measuring (PM QoS through
                  /dev/cpu_dma_latency), for repeatable FUSE numbers
  --io-uring on|off  let the volfs targets use FUSE over io_uring where the
                  kernel has it (default on: fuse.enable_uring is set to Y
                  while they mount)
  --pin-cpu N     run the workloads on CPU N only (the daemons stay free)
  --libfuse-src DIR  a libfuse source tree (or its example/ directory):
                  its example/passthrough_hp.cc is built and measured as
                  the passthrough_hp target
EOF
}

ALL_TARGETS=(native tmpfs bindfs passthrough_hp volfs-local volfs-ram volfs-ramd)
DEFAULT_TARGETS=(native tmpfs bindfs passthrough_hp volfs-local volfs-ram)
ALL_TARGETS_CSV=$(
	IFS=,
	echo "${ALL_TARGETS[*]}"
)

ALL_TESTS=(seq rand meta small tree)
ALL_TESTS_CSV=$(
	IFS=,
	echo "${ALL_TESTS[*]}"
)

ORIG_ARGS="$*"
TESTS_ARG=
QUICK=0
REPS=
TARGETS_ARG=
OUT=
WORKDIR_PARENT=/var/tmp
CPU_LATENCY_0=0
IO_URING=on
PIN_CPU=
PIN=()
LIBFUSE_SRC=
URING_PARAM=/sys/module/fuse/parameters/enable_uring

while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 ;;
	--reps)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		REPS=$2
		shift
		;;
	--reps=*) REPS=${1#*=} ;;
	--targets)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		TARGETS_ARG=$2
		shift
		;;
	--targets=*) TARGETS_ARG=${1#*=} ;;
	--tests)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		TESTS_ARG=$2
		shift
		;;
	--tests=*) TESTS_ARG=${1#*=} ;;
	--out)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		OUT=$2
		shift
		;;
	--out=*) OUT=${1#*=} ;;
	--workdir)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		WORKDIR_PARENT=$2
		shift
		;;
	--workdir=*) WORKDIR_PARENT=${1#*=} ;;
	--cpu-latency-0) CPU_LATENCY_0=1 ;;
	--io-uring)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		IO_URING=$2
		shift
		;;
	--io-uring=*) IO_URING=${1#*=} ;;
	--pin-cpu)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		PIN_CPU=$2
		shift
		;;
	--pin-cpu=*) PIN_CPU=${1#*=} ;;
	--libfuse-src)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		LIBFUSE_SRC=$2
		shift
		;;
	--libfuse-src=*) LIBFUSE_SRC=${1#*=} ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "$PROG: unknown argument '$1'" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done

case $IO_URING in
on | off) ;;
*)
	echo "$PROG: --io-uring takes on or off, not '$IO_URING'" >&2
	exit 2
	;;
esac

if [ -n "$PIN_CPU" ]; then
	case $PIN_CPU in
	'' | *[!0-9]*)
		echo "$PROG: --pin-cpu needs a CPU number" >&2
		exit 2
		;;
	esac
	if ! taskset -c "$PIN_CPU" true 2>/dev/null; then
		echo "$PROG: --pin-cpu $PIN_CPU: no such CPU for this process" >&2
		exit 2
	fi
	PIN=(taskset -c "$PIN_CPU")
fi

if [ -n "$REPS" ]; then
	case $REPS in
	'' | *[!0-9]* | 0)
		echo "$PROG: --reps needs a positive number" >&2
		exit 2
		;;
	esac
fi

# The targets, in the canonical order, whatever order --targets gave.
TARGETS=()
if [ -n "$TARGETS_ARG" ]; then
	IFS=, read -r -a wanted <<<"$TARGETS_ARG"
	for w in "${wanted[@]}"; do
		case " ${ALL_TARGETS[*]} " in
		*" $w "*) ;;
		*)
			echo "$PROG: unknown target '$w' (known: $ALL_TARGETS_CSV)" >&2
			exit 2
			;;
		esac
	done
	for t in "${ALL_TARGETS[@]}"; do
		for w in "${wanted[@]}"; do
			if [ "$w" = "$t" ]; then
				TARGETS+=("$t")
				break
			fi
		done
	done
else
	TARGETS=("${DEFAULT_TARGETS[@]}")
fi

# The workload groups to run.
declare -A RUN_TEST=()
if [ -n "$TESTS_ARG" ]; then
	IFS=, read -r -a wanted <<<"$TESTS_ARG"
	for w in "${wanted[@]}"; do
		case " ${ALL_TESTS[*]} " in
		*" $w "*) RUN_TEST[$w]=1 ;;
		*)
			echo "$PROG: unknown test group '$w' (known: $ALL_TESTS_CSV)" >&2
			exit 2
			;;
		esac
	done
else
	for w in "${ALL_TESTS[@]}"; do
		RUN_TEST[$w]=1
	done
fi
wants() {
	[ -n "${RUN_TEST[$1]:-}" ]
}

if [ "$(id -u)" -ne 0 ]; then
	echo "$PROG: must run as root (it mounts file systems and drops the page cache)" >&2
	exit 1
fi

# --- Sizes --------------------------------------------------------------

if [ "$QUICK" = 1 ]; then
	SEQ_MIB=128
	RAND_MIB=32
	FIO_RUNTIME=1
	META_COUNT=1000
	PINGPONG_COUNT=2000
	SMALL_COUNT=200
	TREE_ENTRIES=2000
	: "${REPS:=1}"
else
	SEQ_MIB=1024
	RAND_MIB=256
	FIO_RUNTIME=5
	META_COUNT=10000
	PINGPONG_COUNT=20000
	SMALL_COUNT=2000
	TREE_ENTRIES=16000
	: "${REPS:=3}"
fi
SMALL_SIZE=16384
TMPFS_SIZE=3g
RAM_SIZE=3g
# No single step of a healthy run comes near this; a hung mount does.
STEP_TIMEOUT=900

# --- Tools --------------------------------------------------------------

for c in fio jq tar mountpoint timeout awk; do
	if ! command -v "$c" >/dev/null 2>&1; then
		echo "$PROG: $c not found (run packaging/install-deps.sh)" >&2
		exit 1
	fi
done
CC=${CC:-cc}
if ! command -v "$CC" >/dev/null 2>&1; then
	echo "$PROG: no C compiler ($CC) to build meta.c" >&2
	exit 1
fi

if [ -z "${VOLFS:-}" ]; then
	if [ -x "$HERE/../../volfs" ]; then
		VOLFS=$(cd "$HERE/../.." && pwd -P)/volfs
	else
		VOLFS=$(command -v volfs 2>/dev/null || true)
	fi
fi
if [ -z "${VOLFS_BACKEND_DIR:-}" ] && [ -n "${VOLFS:-}" ] &&
	[ -d "$(dirname "$VOLFS")/backends/.libs" ]; then
	VOLFS_BACKEND_DIR=$(cd "$(dirname "$VOLFS")/backends/.libs" && pwd -P)
fi
if [ -n "${VOLFS_BACKEND_DIR:-}" ]; then
	export VOLFS_BACKEND_DIR
fi

# --- Work directory, results file, cleanup ------------------------------

if [ ! -d "$WORKDIR_PARENT" ]; then
	echo "$PROG: --workdir $WORKDIR_PARENT is not a directory" >&2
	exit 1
fi
W=$(mktemp -d "$WORKDIR_PARENT/volfs-bench.XXXXXX")
W=$(cd "$W" && pwd -P)
: "${OUT:=/var/tmp/volfs-bench-$(date +%Y%m%d-%H%M%S).txt}"
: >"$OUT"
OUT=$(cd "$(dirname "$OUT")" && pwd -P)/$(basename "$OUT")
RAW=$W/raw.tsv
: >"$RAW"
REQ=$W/requests.tsv
: >"$REQ"
export VOLFS_ROOT=$W/state

# Mounts made (dir<TAB>kind), undone in reverse order; processes started.
MOUNTS=()
PIDS=()

log() {
	printf '%s\n' "$*" | tee -a "$OUT" >&2
}

# Prints stdin and appends it to the results file.
emit() {
	tee -a "$OUT"
}

is_mountpoint() {
	mountpoint -q "$1" 2>/dev/null
}

unmount_one() {
	local dir=$1 kind=$2 i
	is_mountpoint "$dir" || return 0
	if [ "$kind" = volfs ]; then
		timeout 30 "$VOLFS" umount "$dir" >/dev/null 2>&1 || true
	else
		timeout 30 umount "$dir" 2>/dev/null || true
	fi
	for i in 1 2 3 4 5 6 7 8 9 10; do
		is_mountpoint "$dir" || return 0
		sleep 0.2
	done
	umount -l "$dir" 2>/dev/null || true
	if is_mountpoint "$dir"; then
		echo "$PROG: cleanup: could not unmount $dir" >&2
		return 1
	fi
}

cleanup() {
	local rc=$? i pid n left=0
	set +e
	trap - EXIT INT TERM HUP
	if [ -n "${TRACE_BUF_SAVED:-}" ]; then
		echo 0 >"$FUSE_EV/enable"
		echo 0 >"$FUSE_EV/filter"
		echo "$TRACE_BUF_SAVED" >"$TRACING/buffer_size_kb"
	fi
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		unmount_one "${MOUNTS[i]%%$'\t'*}" "${MOUNTS[i]#*$'\t'}" || left=1
	done
	for pid in "${PIDS[@]}"; do
		kill -0 "$pid" 2>/dev/null || continue
		kill -TERM "$pid" 2>/dev/null
		n=0
		while kill -0 "$pid" 2>/dev/null && [ $n -lt 50 ]; do
			sleep 0.1
			n=$((n + 1))
		done
		kill -KILL "$pid" 2>/dev/null
	done
	if [ $left = 0 ]; then
		rm -rf --one-file-system "$W"
	else
		echo "$PROG: left $W in place: a mount below it would not go" >&2
	fi
	if [ $rc -ne 0 ]; then
		echo "$PROG: stopped with status $rc; partial results in $OUT" >&2
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

die() {
	log "$PROG: $*"
	exit 1
}

# --- Environment ----------------------------------------------------------

DROP_CACHES=1
if ! (echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null; then
	DROP_CACHES=0
fi

drop_caches() {
	sync
	if [ "$DROP_CACHES" = 1 ]; then
		echo 3 >/proc/sys/vm/drop_caches
	fi
}

fstype_of() {
	df --output=fstype "$1" | tail -n 1 | tr -d ' '
}

NATIVE_FS=$(fstype_of "$W")
MEM_TOTAL_KIB=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
MEM_AVAIL_KIB=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
FUSE3_VERSION=$(pkg-config --modversion fuse3 2>/dev/null ||
	dpkg-query -W -f='${Version}' libfuse3-3 2>/dev/null || echo unknown)
FUSE2_VERSION=$(dpkg-query -W -f='${Version}' libfuse2 2>/dev/null || echo unknown)
CPU_MODEL=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MAX_PAGES=$(cat /proc/sys/fs/fuse/max_pages_limit 2>/dev/null || echo unknown)

{
	echo "volfs benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "command:         $0${ORIG_ARGS:+ $ORIG_ARGS}"
	echo "machine:         $(nproc) CPUs ($CPU_MODEL), $((MEM_TOTAL_KIB / 1024)) MiB RAM, kernel $(uname -r)"
	echo "native fs:       $NATIVE_FS ($(df --output=source "$W" | tail -n 1)), work dir $W"
	echo "libfuse:         fuse3 $FUSE3_VERSION (volfs), fuse2 $FUSE2_VERSION (bindfs); fuse max_pages_limit $MAX_PAGES"
	echo "fio:             $(fio --version)"
	echo "volfs:           ${VOLFS:-not found} ($("${VOLFS:-false}" version 2>/dev/null || echo '?'))"
	echo "backend dir:     ${VOLFS_BACKEND_DIR:-(volfs default)}"
	echo "load average:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the start"
	echo "results file:    $OUT"
} | emit
[ "$NATIVE_FS" = ext4 ] ||
	log "NOTE: the work directory is on $NATIVE_FS, not ext4: 'native' is $NATIVE_FS here"
[ "$DROP_CACHES" = 1 ] ||
	log "NOTE: cannot write /proc/sys/vm/drop_caches: cold reads are not cold"
if [ "$QUICK" = 0 ] && [ "$MEM_AVAIL_KIB" -lt $((8 * 1024 * 1024)) ]; then
	log "NOTE: less than 8 GiB of memory available; tmpfs and ram targets hold up to $((SEQ_MIB + RAND_MIB)) MiB each"
fi

# --- Helpers: meta, the tarball ------------------------------------------

META=$W/meta
"$CC" -std=gnu11 -O2 -Wall -o "$META" "$HERE/meta.c" ||
	die "cannot compile $HERE/meta.c"

# A tree of TREE_ENTRIES entries (directories, files, links) from
# /usr/include, topped up from other system directories, parents first.
TARBALL=$W/tree.tar
TREE_COUNT=0 TREE_FILES=0 TREE_MIB=0
if wants tree; then
	: >"$W/tree.list"
	for src in usr/include usr/share/doc usr/share/locale usr/share/man usr/lib; do
		have=$(wc -l <"$W/tree.list")
		[ "$have" -lt "$TREE_ENTRIES" ] || break
		[ -d "/$src" ] || continue
		(cd / && find "$src" -xdev) >"$W/tree.more"
		head -n $((TREE_ENTRIES - have)) "$W/tree.more" >>"$W/tree.list"
	done
	rm -f "$W/tree.more"
	tar -C / --no-recursion -cf "$TARBALL" -T "$W/tree.list" 2>"$W/tar.err" ||
		die "cannot build the tarball: $(head -n 3 "$W/tar.err")"
	TREE_COUNT=$(tar -tf "$TARBALL" | wc -l)
	TREE_FILES=$(tar -tvf "$TARBALL" | grep -c '^-' || true)
	TREE_MIB=$(du -m "$TARBALL" | cut -f1)
	rm -f "$W/tree.list"
fi

# --- Targets ----------------------------------------------------------------

declare -A TDIR=()   # target -> directory the workloads run in
declare -A TNOTE=()  # target -> how it was set up, or why it was skipped
declare -A TMOUNT=() # target -> its mountpoint (all but native)
ACTIVE=()

wait_mounted() {
	local dir=$1 pid=${2:-} n=0
	while [ $n -lt 100 ]; do
		is_mountpoint "$dir" && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		sleep 0.1
		n=$((n + 1))
	done
	return 1
}

# The pid of the daemon serving volume $1 on $2, from volfs inspect.
volfs_pid() {
	"$VOLFS" inspect "$1" 2>/dev/null |
		jq -r --arg c "mount:$2" '.[0].attachments[] | select(.consumer == $c) | .pid' 2>/dev/null ||
		true
}

mount_opts_of() {
	awk -v d="$1" '$5 == d { o = $6; for (i = 7; i <= NF; i++) if ($i == "-") { s = $(i + 3); break } } END { print o " / " s }' /proc/self/mountinfo
}

setup_volfs() {
	local t=$1 name=$2 dir pid usaved rc ring
	shift 2
	if [ -z "${VOLFS:-}" ] || [ ! -x "$VOLFS" ]; then
		TNOTE[$t]="skipped: no volfs binary (set VOLFS)"
		return 1
	fi
	if ! "$VOLFS" create "$@" "$name" >"$W/create.out" 2>&1; then
		TNOTE[$t]="skipped: volfs create $* $name failed: $(head -n 2 "$W/create.out" | tr '\n' ' ')"
		return 1
	fi
	dir=$W/$t
	mkdir -p "$dir"
	MOUNTS+=("$dir"$'\t'volfs)
	usaved=
	if [ "$IO_URING" = on ] && [ -w "$URING_PARAM" ]; then
		usaved=$(cat "$URING_PARAM")
		echo Y >"$URING_PARAM"
	fi
	rc=0
	# volfs mount returns once INIT is answered, the last time the
	# kernel looks at the parameter for this mount.
	"$VOLFS" mount "$name" "$dir" >"$W/mount.out" 2>&1 || rc=$?
	[ -z "$usaved" ] || echo "$usaved" >"$URING_PARAM"
	if [ $rc -ne 0 ]; then
		TNOTE[$t]="skipped: volfs mount $name failed: $(head -n 2 "$W/mount.out" | tr '\n' ' ')"
		return 1
	fi
	wait_mounted "$dir" || {
		TNOTE[$t]="skipped: volfs mount returned but $dir is not mounted"
		return 1
	}
	pid=$(volfs_pid "$name" "$dir")
	case $pid in
	'' | *[!0-9]*) pid= ;;
	*) PIDS+=("$pid") ;;
	esac
	TDIR[$t]=$dir
	TMOUNT[$t]=$dir
	ring=$(cat /proc/"${pid:-0}"/task/*/comm 2>/dev/null | grep -c '^volfs-ring' || true)
	if [ "${ring:-0}" -gt 0 ]; then
		ring="FUSE over io_uring ($ring ring threads)"
	else
		ring="FUSE through /dev/fuse (no io_uring)"
	fi
	TNOTE[$t]="volfs create ${*:+$* }$name; volfs mount $name DIR (daemon pid ${pid:-?}); $ring; mount options: $(mount_opts_of "$dir")"
}

# libfuse's passthrough_hp, built from the source --libfuse-src names
# against the installed libfuse 3 (the one volfs uses), over a native
# directory, with its own defaults: as many threads as it wants, splice,
# entries and attributes cached for a day.
setup_passthrough_hp() {
	local t=passthrough_hp ex cxx flags version src dir pid
	if [ -z "$LIBFUSE_SRC" ]; then
		TNOTE[$t]="skipped: no libfuse source (--libfuse-src DIR)"
		return 1
	fi
	for ex in "$LIBFUSE_SRC/example" "$LIBFUSE_SRC"; do
		[ -f "$ex/passthrough_hp.cc" ] && break
	done
	if [ ! -f "$ex/passthrough_hp.cc" ]; then
		TNOTE[$t]="skipped: no example/passthrough_hp.cc in --libfuse-src $LIBFUSE_SRC"
		return 1
	fi
	cxx=${CXX:-g++}
	if ! command -v "$cxx" >/dev/null 2>&1; then
		TNOTE[$t]="skipped: no C++ compiler ($cxx) to build passthrough_hp"
		return 1
	fi
	if ! flags=$(pkg-config --cflags --libs fuse3 2>/dev/null); then
		TNOTE[$t]="skipped: pkg-config knows no fuse3 (install libfuse3-dev)"
		return 1
	fi
	# passthrough_hp.cc includes cxxopts.hpp from its own directory.  The
	# HAVE_ macros are what libfuse's meson finds on Linux; without
	# HAVE_UTIMENSAT (which libfuse 3.14's own build does not pass to
	# C++) setting a time by path fails with EOPNOTSUPP, and tar -x fails.
	mkdir -p "$W/bin"
	# shellcheck disable=SC2086 # flags is a word list
	if ! "$cxx" -O2 -std=c++17 -DHAVE_UTIMENSAT -DHAVE_POSIX_FALLOCATE \
		-DHAVE_SETXATTR -I"$ex" "$ex/passthrough_hp.cc" \
		-o "$W/bin/passthrough_hp" $flags >"$W/passthrough_hp.build" 2>&1; then
		TNOTE[$t]="skipped: $cxx could not build $ex/passthrough_hp.cc: $(grep -m 2 error "$W/passthrough_hp.build" | tr '\n' ' ')"
		return 1
	fi
	version=$(sed -n "s/^project(.*version *: *'\([^']*\)'.*/\1/p" \
		"$ex/../meson.build" 2>/dev/null | head -n 1)
	src=$W/passthrough_hp-src
	dir=$W/passthrough_hp
	mkdir -p "$src" "$dir"
	MOUNTS+=("$dir"$'\t'passthrough_hp)
	"$W/bin/passthrough_hp" --foreground "$src" "$dir" >"$W/passthrough_hp.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	if ! wait_mounted "$dir" "$pid"; then
		TNOTE[$t]="skipped: passthrough_hp would not mount: $(head -n 2 "$W/passthrough_hp.log" | tr '\n' ' ')"
		return 1
	fi
	TDIR[$t]=$dir
	TMOUNT[$t]=$dir
	TNOTE[$t]="libfuse ${version:-?} example/passthrough_hp.cc ($cxx -O2 -std=c++17 -DHAVE_UTIMENSAT -DHAVE_POSIX_FALLOCATE -DHAVE_SETXATTR, fuse3 $FUSE3_VERSION): passthrough_hp --foreground SRC DIR (pid $pid, $(awk '/^Threads:/ { print $2 }' "/proc/$pid/status") threads at the start, its defaults); mount options: $(mount_opts_of "$dir")"
}

setup_target() {
	local t=$1 dir src pid opts
	case $t in
	native)
		TDIR[$t]=$W/native
		mkdir -p "${TDIR[$t]}"
		TNOTE[$t]="a directory on $NATIVE_FS ($W/native)"
		;;
	tmpfs)
		dir=$W/tmpfs
		mkdir -p "$dir"
		MOUNTS+=("$dir"$'\t'tmpfs)
		mount -t tmpfs -o "size=$TMPFS_SIZE,mode=0755" volfs-bench-tmpfs "$dir" ||
			{ TNOTE[$t]="skipped: mount -t tmpfs failed"; return 1; }
		TDIR[$t]=$dir
		TMOUNT[$t]=$dir
		TNOTE[$t]="mount -t tmpfs -o size=$TMPFS_SIZE,mode=0755"
		;;
	bindfs)
		if ! command -v bindfs >/dev/null 2>&1; then
			TNOTE[$t]="skipped: bindfs not installed"
			return 1
		fi
		src=$W/bindfs-src
		dir=$W/bindfs
		mkdir -p "$src" "$dir"
		MOUNTS+=("$dir"$'\t'bindfs)
		# Debian's bindfs is built on libfuse 2, which writes in 4 KiB
		# requests unless told big_writes; fall back without it.
		for opts in "-o big_writes" ""; do
			# shellcheck disable=SC2086 # opts is a word list
			bindfs -f $opts "$src" "$dir" >"$W/bindfs.log" 2>&1 &
			pid=$!
			PIDS+=("$pid")
			if wait_mounted "$dir" "$pid"; then
				TDIR[$t]=$dir
				TMOUNT[$t]=$dir
				TNOTE[$t]="bindfs $(bindfs --version 2>/dev/null | head -n 1 | awk '{ print $2 }'): bindfs -f ${opts:+$opts }SRC DIR (pid $pid, single-threaded, its default); mount options: $(mount_opts_of "$dir")"
				return 0
			fi
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		done
		TNOTE[$t]="skipped: bindfs would not mount: $(head -n 2 "$W/bindfs.log" | tr '\n' ' ')"
		return 1
		;;
	passthrough_hp)
		setup_passthrough_hp || return 1
		;;
	volfs-local)
		setup_volfs "$t" bench-local || return 1
		;;
	volfs-ram | volfs-ramd)
		if [ -n "${VOLFS_BACKEND_DIR:-}" ] &&
			[ ! -e "$VOLFS_BACKEND_DIR/ram.so" ]; then
			TNOTE[$t]="skipped: no ram backend module ($VOLFS_BACKEND_DIR/ram.so does not exist yet)"
			return 1
		fi
		if [ "$t" = volfs-ram ]; then
			setup_volfs "$t" bench-ram -b ram -o "size=$RAM_SIZE" || return 1
		else
			setup_volfs "$t" bench-ramd -b ram -o "size=$RAM_SIZE" \
				-o store=daemon || return 1
		fi
		;;
	esac
}

for t in "${TARGETS[@]}"; do
	if setup_target "$t"; then
		ACTIVE+=("$t")
	fi
done
{
	echo
	echo "targets:"
	for t in "${TARGETS[@]}"; do
		printf '  %-14s %s\n' "$t" "${TNOTE[$t]}"
	done
} | emit
[ ${#ACTIVE[@]} -gt 0 ] || die "no target could be set up"

{
	echo
	echo "workloads (repetitions: $REPS; fio ioengine=psync, fallocate=none, invalidate=0; groups: $(
		IFS=,
		echo "${!RUN_TEST[*]}"
	)):"
	echo "  1. seq write   fio rw=write bs=1M size=${SEQ_MIB}M end_fsync=1 (MiB/s, fsync time included)"
	echo "  2. seq read    fio rw=read bs=1M of that file: cold after 'sync; echo 3 > drop_caches', then warm (MiB/s)"
	echo "  3. rand read   fio rw=randread bs=4k size=${RAND_MIB}M time_based runtime=${FIO_RUNTIME}s, numjobs=1 and 4 on one file, read once beforehand (IOPS)"
	echo "  4. rand write  fio rw=randwrite bs=4k size=${RAND_MIB}M time_based runtime=${FIO_RUNTIME}s numjobs=1, no fsync (IOPS)"
	echo "  5. metadata    $META_COUNT empty files in one directory: create, stat, getxattr of an absent name, readdir (entries/s, passes for >= 0.2 s), unlink (ops/s);"
	echo "                 native also: $PINGPONG_COUNT one-byte round trips between two processes over pipes (round trips/s)"
	echo "  6. small files $SMALL_COUNT files of $SMALL_SIZE bytes: write (create+write+close), read back and verify (files/s)"
	echo "  7. tree        tar -xf of $TREE_COUNT entries ($TREE_FILES files, $TREE_MIB MiB, from /usr/include and up), then rm -rf (seconds)"
} | emit

# --- Measuring ---------------------------------------------------------------

# A daemon that died leaves its mountpoint an ordinary directory of the
# native file system (auto_unmount): measuring that would be wrong.
check_mounted() { # target
	if [ -n "${TMOUNT[$1]:-}" ] && ! is_mountpoint "${TMOUNT[$1]}"; then
		die "$1: ${TMOUNT[$1]} is no longer mounted (did its daemon die?)"
	fi
}

record() { # rep target metric value
	check_mounted "$2"
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RAW"
	printf '    %-13s %s\n' "$3" "$4" | tee -a "$OUT" >&2
}

# The measuring helpers run in this shell (never in a command substitution,
# so a failure stops the run) and leave their result in VAL.
VAL=

# Runs fio with the common options and the given ones; its JSON report is
# left in $FIO_JSON.
FIO_JSON=$W/fio.json
FIO_COMMON=(--ioengine=psync --fallocate=none --invalidate=0 --group_reporting
	--output-format=json)
run_fio() {
	if ! timeout --foreground "$STEP_TIMEOUT" "${PIN[@]}" fio "${FIO_COMMON[@]}" \
		--output="$FIO_JSON" "$@" >"$W/fio.err" 2>&1; then
		cat "$W/fio.err" >&2
		die "fio failed: fio $*"
	fi
	if [ "$(jq '[.jobs[].error] | max' "$FIO_JSON")" != 0 ]; then
		die "fio reported an error: fio $* ($(jq -c '[.jobs[].error]' "$FIO_JSON"))"
	fi
}

# MiB/s (rw: read or write) of the last fio run.
fio_mibs() {
	VAL=$(jq -r --arg d "$1" '.jobs[0][$d].bw_bytes / 1048576 | . * 10 | round / 10' "$FIO_JSON")
}

# IOPS of the last fio run, summed over its jobs.
fio_iops() {
	VAL=$(jq -r --arg d "$1" '.jobs[0][$d].iops | round' "$FIO_JSON")
}

run_meta() { # dir count phase [size]
	timeout --foreground "$STEP_TIMEOUT" "${PIN[@]}" "$META" "$@" >"$W/meta.out" 2>"$W/meta.err" || {
		cat "$W/meta.err" >&2
		die "meta $* failed"
	}
	VAL=$(sed -n 's/.*rate=//p' "$W/meta.out")
	[ -n "$VAL" ] || die "meta $* printed no rate"
}

# Seconds a command takes, to the millisecond.
time_cmd() {
	local t0 t1
	t0=$EPOCHREALTIME
	timeout --foreground "$STEP_TIMEOUT" "${PIN[@]}" "$@" >"$W/cmd.err" 2>&1 || {
		cat "$W/cmd.err" >&2
		die "failed: $*"
	}
	t1=$EPOCHREALTIME
	VAL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
}

run_target() { # rep target
	local rep=$1 t=$2 d
	d=${TDIR[$t]}/rep$rep
	check_mounted "$t"
	mkdir -p "$d"
	sync

	if wants seq; then
		run_seq "$rep" "$t" "$d"
	fi
	if wants rand; then
		run_rand "$rep" "$t" "$d"
	fi
	if wants meta; then
		run_metaphases "$rep" "$t" "$d"
	fi
	if wants small; then
		run_small "$rep" "$t" "$d"
	fi
	if wants tree; then
		run_tree "$rep" "$t" "$d"
	fi
	rmdir "$d"
}

# 1, 2: sequential write, cold and warm read.
run_seq() { # rep target dir
	local rep=$1 t=$2 d=$3
	run_fio --name=seqwrite --filename="$d/seq" --rw=write --bs=1M \
		--size="${SEQ_MIB}M" --end_fsync=1
	fio_mibs write
	record "$rep" "$t" seqwrite "$VAL"
	drop_caches
	run_fio --name=seqread --filename="$d/seq" --rw=read --bs=1M \
		--size="${SEQ_MIB}M"
	fio_mibs read
	record "$rep" "$t" seqread_cold "$VAL"
	run_fio --name=seqread --filename="$d/seq" --rw=read --bs=1M \
		--size="${SEQ_MIB}M"
	fio_mibs read
	record "$rep" "$t" seqread_warm "$VAL"
	rm -f "$d/seq"
}

# 3, 4: random reads on a file read once beforehand, random writes.
run_rand() { # rep target dir
	local rep=$1 t=$2 d=$3
	run_fio --name=layout --filename="$d/rand" --rw=write --bs=1M \
		--size="${RAND_MIB}M" --end_fsync=1
	cat "$d/rand" >/dev/null
	run_fio --name=randread1 --filename="$d/rand" --rw=randread --bs=4k \
		--size="${RAND_MIB}M" --time_based --runtime="$FIO_RUNTIME" \
		--numjobs=1
	fio_iops read
	record "$rep" "$t" randread_1j "$VAL"
	run_fio --name=randread4 --filename="$d/rand" --rw=randread --bs=4k \
		--size="${RAND_MIB}M" --time_based --runtime="$FIO_RUNTIME" \
		--numjobs=4
	fio_iops read
	record "$rep" "$t" randread_4j "$VAL"
	run_fio --name=randwrite --filename="$d/rand" --rw=randwrite --bs=4k \
		--size="${RAND_MIB}M" --time_based --runtime="$FIO_RUNTIME" \
		--numjobs=1
	fio_iops write
	record "$rep" "$t" randwrite "$VAL"
	rm -f "$d/rand"
}

# 5: empty files.
run_metaphases() { # rep target dir
	local rep=$1 t=$2 d=$3 phase
	mkdir "$d/meta"
	for phase in create stat xattr readdir unlink; do
		run_meta "$d/meta" "$META_COUNT" "$phase"
		record "$rep" "$t" "$phase" "$VAL"
	done
	rmdir "$d/meta"
	if [ "$t" = native ]; then
		run_meta "$d" "$PINGPONG_COUNT" pingpong
		record "$rep" "$t" pingpong "$VAL"
	fi
}

# 6: small files.
run_small() { # rep target dir
	local rep=$1 t=$2 d=$3
	mkdir "$d/small"
	run_meta "$d/small" "$SMALL_COUNT" write "$SMALL_SIZE"
	record "$rep" "$t" small_write "$VAL"
	run_meta "$d/small" "$SMALL_COUNT" read "$SMALL_SIZE"
	record "$rep" "$t" small_read "$VAL"
	rm -rf "$d/small"
}

# 7: a tree, unpacked then removed.
run_tree() { # rep target dir
	local rep=$1 t=$2 d=$3
	mkdir "$d/tree"
	time_cmd tar -xf "$TARBALL" -C "$d/tree"
	record "$rep" "$t" untar "$VAL"
	time_cmd rm -rf "$d/tree"
	record "$rep" "$t" rm_rf "$VAL"
}

# Opened only now, so the daemons started above do not inherit it; the
# kernel drops the request when the last holder of the file exits.
if [ "$CPU_LATENCY_0" = 1 ]; then
	if ! exec {QOS_FD}>/dev/cpu_dma_latency || ! printf 0 >&"$QOS_FD"; then
		die "--cpu-latency-0: cannot write /dev/cpu_dma_latency"
	fi
	log "cpu idle:        /dev/cpu_dma_latency held at 0 while measuring (--cpu-latency-0)"
else
	log "cpu idle:        as configured ($(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo 'no cpuidle driver')); --cpu-latency-0 not given"
fi
if [ -n "$PIN_CPU" ]; then
	log "workload cpu:    every workload on CPU $PIN_CPU only (--pin-cpu); the daemons free"
else
	log "workload cpu:    as the scheduler places it (no --pin-cpu)"
fi
log "io_uring:        --io-uring $IO_URING; fuse.enable_uring is $(cat "$URING_PARAM" 2>/dev/null || echo 'not in this kernel') outside the volfs mounts"

START=$EPOCHREALTIME
log ""
for ((rep = 1; rep <= REPS; rep++)); do
	n=${#ACTIVE[@]}
	for ((k = 0; k < n; k++)); do
		t=${ACTIVE[$(((rep - 1 + k) % n))]}
		log "rep $rep/$REPS  $t  ($(date +%H:%M:%S))"
		run_target "$rep" "$t"
	done
done
ELAPSED=$(awk -v a="$START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')

# --- Requests per operation ----------------------------------------------

TRACING=/sys/kernel/tracing
FUSE_EV=$TRACING/events/fuse/fuse_request_send
TRACE_BUF_SAVED=

# Runs a command with the tracepoint fuse:fuse_request_send on, for the
# connection of one mount only, and appends "label<TAB>ops<TAB>OP=N ..." to
# $REQ (nothing when events were lost).
count_requests() { # mountdir label ops cmd...
	local dir=$1 label=$2 ops=$3 dev lost
	shift 3
	dev=$(mountpoint -d "$dir") || return 0
	# The kernel's dev_t: major << 20 | minor.
	dev=$(((${dev%%:*} << 20) | ${dev#*:}))
	echo "connection == $dev" >"$FUSE_EV/filter"
	: >"$TRACING/trace"
	echo 1 >"$FUSE_EV/enable"
	timeout --foreground "$STEP_TIMEOUT" "${PIN[@]}" "$@" >"$W/cmd.err" 2>&1 || {
		echo 0 >"$FUSE_EV/enable"
		cat "$W/cmd.err" >&2
		die "failed while counting requests: $*"
	}
	echo 0 >"$FUSE_EV/enable"
	echo 0 >"$FUSE_EV/filter"
	lost=$(cat "$TRACING"/per_cpu/cpu*/stats 2>/dev/null |
		awk '/^overrun:/ { n += $2 } END { print n + 0 }')
	if [ "$lost" -gt 0 ]; then
		log "requests of '$label': $lost trace events lost, not counted"
		return 0
	fi
	printf '%s\t%s\t%s\n' "$label" "$ops" "$(grep -o '(FUSE_[A-Z0-9_]*)' "$TRACING/trace" |
		tr -d '()' | sed 's/^FUSE_//' | sort | uniq -c |
		awk '{ printf "%s%s=%s", (NR > 1 ? " " : ""), $2, $1 }')" >>"$REQ"
}

count_all_requests() { # target
	local t=$1 d
	d=${TDIR[$t]}/count
	mkdir -p "$d/meta" "$d/small" "$d/tree"
	if wants meta; then
		count_requests "${TMOUNT[$t]}" create "$META_COUNT" "$META" "$d/meta" "$META_COUNT" create
		count_requests "${TMOUNT[$t]}" stat "$META_COUNT" "$META" "$d/meta" "$META_COUNT" stat
		count_requests "${TMOUNT[$t]}" unlink "$META_COUNT" "$META" "$d/meta" "$META_COUNT" unlink
	fi
	if wants small; then
		count_requests "${TMOUNT[$t]}" small_write "$SMALL_COUNT" "$META" "$d/small" "$SMALL_COUNT" write "$SMALL_SIZE"
	fi
	if wants tree; then
		count_requests "${TMOUNT[$t]}" untar "$TREE_COUNT" tar -xf "$TARBALL" -C "$d/tree"
		count_requests "${TMOUNT[$t]}" rm_rf "$TREE_COUNT" rm -rf "$d/tree"
	fi
	rm -rf "$d"
}

if [ -n "${TMOUNT[volfs-local]:-}" ] && { wants meta || wants small || wants tree; }; then
	if [ ! -d "$FUSE_EV" ] && [ -d "$TRACING" ] && ! is_mountpoint "$TRACING" &&
		mount -t tracefs nodev "$TRACING" 2>/dev/null; then
		MOUNTS+=("$TRACING"$'\t'tracefs)
	fi
	if [ -w "$FUSE_EV/enable" ] && [ "$(cat "$FUSE_EV/enable")" = 0 ] &&
		[ "$(cat "$TRACING/tracing_on")" = 1 ]; then
		TRACE_BUF_SAVED=$(cat "$TRACING/buffer_size_kb")
		echo 16384 >"$TRACING/buffer_size_kb"
		log ""
		log "counting volfs-local's FUSE requests per operation (tracepoint fuse:fuse_request_send, untimed)"
		count_all_requests volfs-local
		echo "$TRACE_BUF_SAVED" >"$TRACING/buffer_size_kb"
		TRACE_BUF_SAVED=
	else
		log "NOTE: no usable tracepoint fuse:fuse_request_send (tracefs at $TRACING, not in use by another tracer): requests per operation not counted"
	fi
fi

# --- Report ------------------------------------------------------------------

# metric|workload|label|unit|better (h: higher, l: lower)
METRICS="seqwrite|1. Sequential write, ${SEQ_MIB} MiB in 1 MiB blocks, fsync at the end|seq write|MiB/s|h
seqread_cold|2. Sequential read of it, cold|seq read cold|MiB/s|h
seqread_warm|2. Sequential read of it, warm (second read)|seq read warm|MiB/s|h
randread_1j|3. Random 4 KiB reads, ${RAND_MIB} MiB file, 1 job|rand read 1j|IOPS|h
randread_4j|3. Random 4 KiB reads, ${RAND_MIB} MiB file, 4 jobs|rand read 4j|IOPS|h
randwrite|4. Random 4 KiB writes, ${RAND_MIB} MiB file, 1 job|rand write|IOPS|h
create|5. ${META_COUNT} empty files: create|create|ops/s|h
stat|5. ${META_COUNT} empty files: stat|stat|ops/s|h
xattr|5. ${META_COUNT} empty files: getxattr of an absent name (through FUSE: one request each)|getxattr|ops/s|h
readdir|5. ${META_COUNT} empty files: readdir|readdir|entries/s|h
unlink|5. ${META_COUNT} empty files: unlink|unlink|ops/s|h
small_write|6. ${SMALL_COUNT} files of 16 KiB: write|small write|files/s|h
small_read|6. ${SMALL_COUNT} files of 16 KiB: read back and verify|small read|files/s|h
untar|7. Untar ${TREE_COUNT} entries|untar|s|l
rm_rf|7. rm -rf of the untarred tree|rm -rf|s|l
pingpong|5. One-byte round trips between two processes over pipes (measured in native's turn)|pipe rtt|trips/s|h"

ACTIVE_CSV=$(
	IFS=,
	echo "${ACTIVE[*]}"
)

awk -F'\t' -v metrics="$METRICS" -v targets="$ACTIVE_CSV" -v reqfile="$REQ" '
function median(arr, n,    i, j, tmp) {
	for (i = 2; i <= n; i++) {
		tmp = arr[i]
		for (j = i - 1; j >= 1 && arr[j] > tmp; j--)
			arr[j + 1] = arr[j]
		arr[j + 1] = tmp
	}
	if (n % 2)
		return arr[(n + 1) / 2]
	return (arr[n / 2] + arr[n / 2 + 1]) / 2
}
function fmt(v) {
	if (v == "")
		return "-"
	if (v >= 1000)
		return sprintf("%.0f", v)
	if (v >= 100)
		return sprintf("%.1f", v)
	return sprintf("%.3g", v)
}
function ratio(a, b) {
	if (a == "" || b == "" || b == 0)
		return "-"
	return sprintf("%.2fx", a / b)
}
{
	key = $2 SUBSEP $3
	cnt[key]++
	val[key, cnt[key]] = $4
	if (!(key in mn) || $4 + 0 < mn[key]) mn[key] = $4 + 0
	if (!(key in mx) || $4 + 0 > mx[key]) mx[key] = $4 + 0
}
END {
	nm = split(metrics, lines, "\n")
	nt = split(targets, tg, ",")
	for (i = 1; i <= nm; i++) {
		split(lines[i], f, "|")
		mkey[i] = f[1]; mtitle[i] = f[2]; mlabel[i] = f[3]
		munit[i] = f[4]; mbetter[i] = f[5]
		for (j = 1; j <= nt; j++) {
			key = tg[j] SUBSEP f[1]
			if (!(key in cnt))
				continue
			n = cnt[key]
			for (k = 1; k <= n; k++)
				tmp[k] = val[key, k] + 0
			med[key] = median(tmp, n)
		}
	}
	for (i = 1; i <= nm; i++) {
		m = mkey[i]
		printf "\n%s (%s, %s)\n", mtitle[i], munit[i],
			mbetter[i] == "h" ? "higher is better" : "lower is better; ratios are times, target / native"
		printf "  %-14s %10s %10s %10s %5s %10s %10s\n", "target",
			"median", "min", "max", "n", "vs native", "vs tmpfs"
		for (j = 1; j <= nt; j++) {
			key = tg[j] SUBSEP m
			if (!(key in med))
				continue
			vt = (tg[j] ~ /^volfs-ram/) ? ratio(med[key], med["tmpfs" SUBSEP m]) : ""
			printf "  %-14s %10s %10s %10s %5d %10s %10s\n", tg[j],
				fmt(med[key]), fmt(mn[key]), fmt(mx[key]), cnt[key],
				ratio(med[key], med["native" SUBSEP m]), vt
		}
	}

	printf "\nSummary: medians; every target column is the ratio to native ext4 (for untar and rm -rf: time ratio, lower is better)\n"
	printf "  %-14s %-10s %12s", "workload", "unit", "native"
	# Each target column as wide as its name, 12 at least.
	for (j = 1; j <= nt; j++) {
		cw[j] = length(tg[j]) > 12 ? length(tg[j]) : 12
		if (tg[j] != "native")
			printf " %" cw[j] "s", tg[j]
	}
	hasram = 0
	for (j = 1; j <= nt; j++)
		if (tg[j] == "volfs-ram") hasram = 1
	if (hasram)
		printf " %12s", "ram/tmpfs"
	printf "\n"
	for (i = 1; i <= nm; i++) {
		m = mkey[i]
		nkey = "native" SUBSEP m
		printf "  %-14s %-10s %12s", mlabel[i], munit[i], (nkey in med) ? fmt(med[nkey]) : "-"
		for (j = 1; j <= nt; j++)
			if (tg[j] != "native")
				printf " %" cw[j] "s", ratio(med[tg[j] SUBSEP m], med[nkey])
		if (hasram)
			printf " %12s", ratio(med["volfs-ram" SUBSEP m], med["tmpfs" SUBSEP m])
		printf "\n"
	}

	# The goals, on the medians of this run.
	printf "\nGoals (medians of this run)\n"
	L = "volfs-local"; R = "volfs-ram"; H = "passthrough_hp"
	# Data paths: at least 0.9x native; readdir 0.8x.
	ng = split("seqwrite:0.9 seqread_warm:0.9 seqread_cold:0.9 randread_1j:0.9 randread_4j:0.9 randwrite:0.9 readdir:0.8", goals, " ")
	for (g = 1; g <= ng; g++) {
		split(goals[g], gf, ":")
		a = med[L SUBSEP gf[1]]; b = med["native" SUBSEP gf[1]]
		if (a == "" || b == "" || b == 0) {
			printf "  %-50s %-8s not measured\n", "volfs-local " gf[1] " >= " gf[2] "x native", "-"
			continue
		}
		printf "  %-50s %-8s %.2fx\n", "volfs-local " gf[1] " >= " gf[2] "x native",
			(a / b >= gf[2] ? "met" : "MISSED"), a / b
	}
	a = med[L SUBSEP "untar"]; b = med["native" SUBSEP "untar"]
	if (a != "" && b != "" && b > 0)
		printf "  %-50s %-8s %.2fx\n", "volfs-local untar <= 2.5x native time",
			(a / b <= 2.5 ? "met" : "MISSED"), a / b
	else
		printf "  %-50s %-8s not measured\n", "volfs-local untar <= 2.5x native time", "-"
	# Ahead of libfuse passthrough_hp on every workload (ahead of
	# bindfs, where passthrough_hp was not measured).
	P = ((H SUBSEP "seqwrite") in med) ? H : "bindfs"
	for (i = 1; i <= nm; i++) {
		m = mkey[i]
		a = med[L SUBSEP m]; b = med[P SUBSEP m]
		if (a == "" || b == "" || m == "pingpong")
			continue
		ahead = (mbetter[i] == "h") ? (a >= b) : (a <= b)
		# getxattr measures the cost of one request, not a workload
		# of the goals: shown, not judged.
		printf "  %-50s %-8s %s vs %s %s (%.2fx)\n", "volfs-local ahead of " P ": " mlabel[i],
			(m == "xattr" ? "(info)" : ahead ? "met" : "MISSED"), fmt(a), fmt(b), munit[i],
			(mbetter[i] == "h") ? a / b : b / a
	}
	nd = split("seqwrite seqread_cold seqread_warm randread_1j randread_4j randwrite", data, " ")
	for (g = 1; g <= nd; g++) {
		a = med[R SUBSEP data[g]]; b = med["tmpfs" SUBSEP data[g]]
		if (a == "" || b == "" || b == 0)
			continue
		printf "  %-50s %-8s %.2fx\n", "volfs-ram " data[g] " >= 0.8x tmpfs",
			(a / b >= 0.8 ? "met" : "MISSED"), a / b
	}
	nd = split("create stat readdir unlink small_write small_read", data, " ")
	for (g = 1; g <= nd; g++) {
		a = med[R SUBSEP data[g]]; b = med[L SUBSEP data[g]]
		if (a == "" || b == "" || b == 0)
			continue
		printf "  %-50s %-8s %.2fx\n", "volfs-ram " data[g] " >= volfs-local",
			(a >= b ? "met" : "MISSED"), a / b
	}

	# What one request at a time allows: the caller waits for each of
	# these requests, and each costs at least one wake-up of the daemon
	# and one of the caller, which a pipe round trip measures.
	rtt = med["native" SUBSEP "pingpong"]
	xr = med[L SUBSEP "xattr"]
	nr = 0
	while ((getline line < reqfile) > 0) {
		split(line, rf, "\t")
		nr++
		rlabel[nr] = rf[1]; rops[nr] = rf[2]; rdetail[nr] = rf[3]
	}
	if (nr == 0)
		exit
	printf "\nRequests per operation on volfs-local (counted in one untimed run) and the best they allow\n"
	printf "  one request costs at least a round trip between two processes:"
	printf " pipe %s us (median of native'"'"'s turns), volfs-local getxattr %s us\n",
		(rtt > 0 ? sprintf("%.1f", 1e6 / rtt) : "-"), (xr > 0 ? sprintf("%.1f", 1e6 / xr) : "-")
	printf "  waited: requests the caller waits for (not RELEASE, RELEASEDIR, FORGET); best: the time of the native operation plus\n"
	printf "  one round trip per waited request, as a ratio to native (rates: at most; times: at least)\n"
	printf "  %-12s %7s %16s %16s %10s\n", "workload", "waited", "best (pipe)", "best (getxattr)", "measured"
	for (k = 1; k <= nr; k++) {
		n = split(rdetail[k], ops, " ")
		waited = 0; det = ""
		for (q = 1; q <= n; q++) {
			split(ops[q], kv, "=")
			if (kv[1] !~ /^(RELEASE|RELEASEDIR|FORGET|BATCH_FORGET|INTERRUPT)$/)
				waited += kv[2]
			det = det sprintf("%s%s %.2f", det == "" ? "" : ", ", kv[1], kv[2] / rops[k])
		}
		w = waited / rops[k]
		m = rlabel[k]
		nat = med["native" SUBSEP m]; meas = med[L SUBSEP m]
		lower = (m == "untar" || m == "rm_rf")
		bp = bx = ms = "-"
		if (nat > 0) {
			# The daemon does the native operation too, then the
			# round trips come on top.
			if (lower) {
				if (rtt > 0) bp = sprintf(">= %.2fx", 1 + waited / rtt / nat)
				if (xr > 0) bx = sprintf(">= %.2fx", 1 + waited / xr / nat)
			} else if (w >= 0.01) {
				if (rtt > 0) bp = sprintf("<= %.2fx", 1 / (1 + w * nat / rtt))
				if (xr > 0) bx = sprintf("<= %.2fx", 1 / (1 + w * nat / xr))
			} else {
				bp = bx = "cached"
			}
			if (meas != "") ms = sprintf("%.2fx", meas / nat)
		}
		printf "  %-12s %7.2f %16s %16s %10s\n", m, w, bp, bx, ms
		printf "  %-12s %7s %s\n", "", "", det == "" ? "(none)" : det
	}
}' "$RAW" | emit

{
	echo
	echo "raw measurements (rep, target, metric, value):"
	sed 's/^/  /' "$RAW"
	echo
	echo "elapsed: ${ELAPSED} s for $REPS repetition(s) of ${#ACTIVE[@]} target(s); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "results file: $OUT"
} | emit
