# SPDX-License-Identifier: MIT
# FUSE over io_uring: where the kernel offers it, local and ram volumes are
# served by per-CPU ring threads; the POSIX checks pass through them, files
# deleted in bulk are forgotten (FORGETs still come through /dev/fuse), the
# daemon stops cleanly on SIGTERM and leaves nothing stale after SIGKILL;
# io_uring=off and io_uring=on behave as documented, and a bad value is
# refused with a message.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

param=/sys/module/fuse/parameters/enable_uring
[ -w "$param" ] || skip "the kernel has no FUSE over io_uring ($param)"
posixops=${VOLFS_TEST_HELPERS:-}/posixops
[ -x "$posixops" ] || fail "posixops helper not built ($posixops)"

saved=$(cat "$param")
restore_param() { echo "$saved" >"$param" 2>/dev/null || true; }
trap 'rc_=$?; restore_param; [ -z "${dsaved:-}" ] || echo "$dsaved" >/proc/sys/kernel/io_uring_disabled; (exit $rc_); _lib_cleanup' EXIT

# The kernel offers the ring to a connection made and initialised while
# the parameter is Y; the connection keeps it after, so the parameter is Y
# only meanwhile.
mount_ring() { # VOLUME DIR [OPTIONS]
	echo Y >"$param"
	# volfs mount returns once INIT is answered (the kernel looks at the
	# parameter again then).
	mount_vol "$@"
	restore_param
}

ring_threads() { # PID: names of its ring threads, one per line
	cat /proc/"$1"/task/*/comm 2>/dev/null | grep '^volfs-ring' || true
}

ring_switches() { # PID: context switches of its ring threads, summed
	local t sum=0 n
	for t in /proc/"$1"/task/*; do
		grep -q '^volfs-ring' "$t/comm" 2>/dev/null || continue
		n=$(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")
		sum=$((sum + n))
	done
	echo "$sum"
}

ncpu=$(awk -F'[-,]' '{print $NF + 1}' /sys/devices/system/cpu/possible)

vol create -b ram -o size=256m ringram >/dev/null
vol create ringlocal >/dev/null
for v in ringram ringlocal; do
	mnt=$T/$v
	mount_ring "$v" "$mnt"
	mnt=$(abspath "$mnt")
	pid=$(mount_pid "$v" "$mnt")
	threads=$(ring_threads "$pid" | wc -l)
	if [ "$threads" -eq 0 ]; then
		# A build without liburing says so with io_uring=on.
		"$VOLFS" mount --help | grep -q 'io_uring=' ||
			fail "mount --help does not document io_uring"
		skip "volfs serves no ring threads here (built without liburing?)"
	fi
	[ "$threads" -eq $((ncpu * 2)) ] ||
		fail "$v: $threads ring threads, expected 2 for each of $ncpu CPUs"
	before=$(ring_switches "$pid")

	rc=0
	"$posixops" "$mnt" >"$T/posixops.out" 2>&1 || rc=$?
	[ $rc -eq 0 ] || {
		cat "$T/posixops.out"
		fail "$v: posixops through the ring: exit $rc"
	}
	assert_grep '^posixops: [0-9]+ passed, 0 failed$' "$T/posixops.out"
	after=$(ring_switches "$pid")
	[ $((after - before)) -gt 100 ] ||
		fail "$v: the ring threads did not serve posixops ($before -> $after switches)"

	# Large writes and reads go through the ring's buffers whole.
	head -c 3145728 /dev/urandom >"$T/big"
	cp "$T/big" "$mnt/big"
	cmp "$T/big" "$mnt/big" || fail "$v: a 3 MiB file read back differs"
	rm "$mnt/big"

	# 3,000 files made and deleted: their FORGETs come through /dev/fuse,
	# read by a reader that looks now and then instead of sleeping in
	# read(); the mount stays consistent and usable meanwhile.
	mkdir "$mnt/many"
	(cd "$mnt/many" && seq 1 3000 | xargs touch) ||
		fail "$v: creating 3000 files"
	assert_eq "$(ls "$mnt/many" | wc -l)" 3000 "$v: files listed"
	rm -r "$mnt/many"
	[ -z "$(ls -A "$mnt")" ] || fail "$v: files left: $(ls -A "$mnt")"

	# SIGTERM: unmounted, daemon gone, within a few seconds.
	kill -TERM "$pid"
	wait_until 20 not_mounted "$mnt" || fail "$v: still mounted 20 s after SIGTERM"
	wait_until 20 sh -c "! kill -0 $pid" || fail "$v: daemon $pid alive 20 s after SIGTERM"
done

# SIGKILL with the ring in use: no stale mount, and it mounts again.
mnt=$T/killed
mount_ring ringram "$mnt"
mnt=$(abspath "$mnt")
pid=$(mount_pid ringram "$mnt")
echo data >"$mnt/f"
kill -9 "$pid"
wait_until 30 not_mounted "$mnt" || fail "still mounted 30 s after SIGKILL"
ls "$mnt" >/dev/null || fail "the mountpoint is unusable after SIGKILL"
mount_ring ringram "$mnt"
pid=$(mount_pid ringram "$mnt")
[ "$(ring_threads "$pid" | wc -l)" -gt 0 ] || fail "no ring after the remount"
echo again >"$mnt/f"
assert_eq "$(cat "$mnt/f")" again "write after the remount"
"$VOLFS" umount "$mnt" 2>/dev/null || fusermount3 -u "$mnt"
wait_until 20 not_mounted "$mnt" || fail "umount left the mount"

# start_fg DIR LOG COMMAND...: a daemon in the foreground mounting DIR
# (made, and absolute in fg_dir), its pid in fg_pid, its stderr in LOG;
# fails unless the mount comes up and answers.  stop_fg: SIGTERM, and the
# mount must go.
start_fg() {
	mkdir -p "$1"
	fg_dir=$(abspath "$1")
	fg_log=$2
	shift 2
	"$@" 2>"$fg_log" &
	fg_pid=$!
	track_pid "$fg_pid"
	echo "$fg_dir" >>"$T/mounts"
	wait_until 20 is_mounted "$fg_dir" && timeout 10 stat "$fg_dir" >/dev/null
}
stop_fg() {
	kill -TERM "$fg_pid"
	wait_until 20 not_mounted "$fg_dir" || fail "SIGTERM left $fg_dir mounted"
}

# serve -o io_uring=on: every volume through the ring.
echo Y >"$param"
start_fg "$T/serve" "$T/serve.log" \
	"$VOLFS" serve --mountpoint "$(abspath "$T")/serve" -o io_uring=on ||
	{ restore_param; cat "$fg_log" >&2; fail "serve did not mount"; }
restore_param
[ "$(ring_threads "$fg_pid" | wc -l)" -gt 0 ] || fail "serve -o io_uring=on has no ring threads"
echo through-serve >"$fg_dir/ringlocal/s" || fail "write through serve's ring"
assert_eq "$(cat "$fg_dir/ringlocal/s")" through-serve "read through serve's ring"
rm "$fg_dir/ringlocal/s"
stop_fg

# io_uring=off: /dev/fuse only, even where the kernel offers the ring.
mount_ring ringram "$T/off" io_uring=off
pid=$(mount_pid ringram "$(abspath "$T/off")")
[ -z "$(ring_threads "$pid")" ] || fail "io_uring=off still started ring threads"
echo x >"$T/off/x" && rm "$T/off/x" || fail "the io_uring=off mount does not work"

# io_uring=on where the kernel does not offer it: a warning, and the mount
# works through /dev/fuse.
echo N >"$param"
start_fg "$T/on" "$T/on.log" \
	"$VOLFS" mount -f -o io_uring=on ringlocal "$(abspath "$T")/on" ||
	{ cat "$fg_log" >&2; fail "io_uring=on without the kernel's offer did not mount"; }
echo y >"$fg_dir/y" && rm "$fg_dir/y" || fail "the io_uring=on mount does not work"
[ -z "$(ring_threads "$fg_pid")" ] || fail "ring threads without the kernel's offer"
assert_grep 'enable_uring' "$fg_log"
stop_fg
restore_param

# io_uring itself disabled (kernel.io_uring_disabled=2) while the kernel
# offers the ring: volfs does not ask for a ring it cannot set up (the
# kernel would hold every request for it), warns, and serves through
# /dev/fuse.
sysctl=/proc/sys/kernel/io_uring_disabled
if [ -w "$sysctl" ]; then
	dsaved=$(cat "$sysctl")
	echo 2 >"$sysctl"
	echo Y >"$param"
	ok=1
	start_fg "$T/dis" "$T/dis.log" \
		"$VOLFS" mount -f ringram "$(abspath "$T")/dis" || ok=0
	echo "$dsaved" >"$sysctl"
	restore_param
	[ $ok = 1 ] || { cat "$fg_log" >&2; fail "with io_uring disabled the mount did not answer"; }
	echo d >"$fg_dir/d" && rm "$fg_dir/d" || fail "the mount with io_uring disabled does not work"
	assert_grep 'FUSE over io_uring not used' "$fg_log"
	stop_fg
fi

# A bad value: refused, with what to give.
mkdir -p "$T/bad"
expect_exit 2 "$VOLFS" mount -o io_uring=maybe ringram "$T/bad"
assert_grep "invalid value 'maybe' for mount option 'io_uring': give auto, on or off" "$T/err"
exit 0
