# SPDX-License-Identifier: MIT
# volfs mount does not hang on another volfs process that is stopped
# (SIGSTOP), not dead: it gives up on it within a few seconds, says which
# pid does not answer and what to do, and mounts without it.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq

stopped=
trap 'rc=$?; set +e; [ -z "$stopped" ] || kill -CONT $stopped 2>/dev/null; (exit $rc); _lib_cleanup' EXIT

# mount_within NAME DIR: volfs mount must finish within 15 s (it waits 3 s
# for the stopped daemon), successfully.
mount_within() {
	mkdir -p "$2"
	echo "$(abspath "$2")" >>"$T/mounts"
	start=$(date +%s)
	rc=0
	timeout -s KILL 30 "$VOLFS" mount "$1" "$2" 2>"$T/err" || rc=$?
	took=$(($(date +%s) - start))
	cat "$T/err" >&2
	[ $rc -ne 137 ] || fail "volfs mount hung on the stopped daemon (killed after 30 s)"
	[ $rc -eq 0 ] || fail "volfs mount failed ($rc)"
	[ $took -le 15 ] || fail "volfs mount took $took s with a stopped daemon"
	is_mounted "$(abspath "$2")" || fail "$2 is not mounted"
	echo "volfs mount beside a stopped daemon: $took s"
}

vol create v >/dev/null
mount_vol v "$T/a"
a=$(abspath "$T/a")
echo data >"$a/f"
pid=$(mount_pid v "$a")
case $pid in '' | *[!0-9]*) fail "no pid for the mount of v at $a" ;; esac

# The daemon of the first mount is stopped: a second mount of the volume
# elsewhere does not wait for it.
kill -STOP "$pid"
stopped=$pid
mount_within v "$T/b"
assert_grep "pid $pid\\) does not answer" "$T/err"
assert_grep "kill -CONT $pid" "$T/err"
assert_eq "$(cat "$T/b/f")" data "the volume through the second mount"
kill -CONT "$pid"
stopped=

# A ram volume's files live only in its daemon: a second instance would be
# another, empty volume, so the mount is refused, within the same bound,
# with what to do.
vol create -b ram r >/dev/null
mount_vol r "$T/r1"
echo mem >"$(abspath "$T/r1")/f"
rpid=$(mount_pid r "$(abspath "$T/r1")")
case $rpid in '' | *[!0-9]*) fail "no pid for the mount of r" ;; esac
kill -STOP "$rpid"
stopped=$rpid
mkdir -p "$T/r2"
start=$(date +%s)
expect_exit 1 timeout -s KILL 30 "$VOLFS" mount r "$T/r2"
took=$(($(date +%s) - start))
[ $took -le 15 ] || fail "the refused mount of r took $took s"
assert_grep "pid $rpid\), which does not answer" "$T/err"
assert_grep "another, empty volume" "$T/err"
assert_grep "kill -CONT $rpid" "$T/err"
! is_mounted "$(abspath "$T/r2")" || fail "a refused mount of r left $T/r2 mounted"
kill -CONT "$rpid"
stopped=
assert_eq "$(cat "$(abspath "$T/r1")/f")" mem "r after its daemon resumed"

# The same for a stopped volfs serve.
mkdir -p "$T/srv"
srv=$(abspath "$T/srv")
echo "$srv" >>"$T/mounts"
"$VOLFS" serve -m "$srv" --no-docker 2>"$T/serve.log" &
serve_pid=$!
track_pid "$serve_pid"
wait_until 10 is_mounted "$srv" || { cat "$T/serve.log" >&2; fail "volfs serve did not mount"; }
wait_until 10 test -e "$srv/v" || fail "volume v is not under the serve mount"
kill -STOP "$serve_pid"
stopped=$serve_pid
mount_within v "$T/c"
assert_grep "volfs serve \\(pid $serve_pid\\) does not answer" "$T/err"
assert_eq "$(cat "$T/c/f")" data "the volume through the third mount"
kill -CONT "$serve_pid"
stopped=
exit 0
