# SPDX-License-Identifier: MIT
# volfs serve: every volume under one mount, appearing and disappearing
# with the catalog; volfs mount shares its instances; it refuses a second
# start on its mountpoint, closes idle volumes (never a ram volume, whose data
# would go), stops cleanly on SIGTERM and
# starts again cleanly after kill -9.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq

mkdir -p "$T/srv"
# Resolved once: a dead mount left by kill -9 cannot be cd'ed into.
srv=$(abspath "$T/srv")
echo "$srv" >>"$T/mounts"

serving() {
	is_mounted "$srv" && stat -f "$srv" >/dev/null
}

start_serve() {
	"$VOLFS" --log-level info serve -m "$srv" --idle-timeout 1 \
		--docker-socket "$T/plugin.sock" 2>>"$T/serve.err" &
	serve_pid=$!
	track_pid "$serve_pid"
	# Mounted and answering: a dead mount left by kill -9 is listed as
	# mounted too until the new serve replaces it.
	wait_until 10 serving ||
		{ cat "$T/serve.err" >&2; fail "volfs serve did not mount $srv"; }
}

vol create before >/dev/null
# Readiness reaches the service manager once the mount is up.
"$VOLFS_TEST_HELPERS/notify_listen" "$T/notify" 5 >"$T/notified" &
listener=$!
track_pid "$listener"
wait_until 5 test -S "$T/notify" || fail "the notify listener did not start"
NOTIFY_SOCKET=$T/notify
export NOTIFY_SOCKET
start_serve
unset NOTIFY_SOCKET
wait "$listener" || fail "volfs serve sent nothing to NOTIFY_SOCKET"
assert_grep "READY=1" "$T/notified"

# Volumes made before and after the start are there; the root is read-only
# for everything but volumes.
vol create after >/dev/null
assert_eq "$(ls "$srv" | tr '\n' ' ')" "after before " "listing of the serve root"
echo data >"$srv/before/f"
assert_eq "$(cat "$(data_dir before)/f")" data "file written through serve"
if mkdir "$srv/x" 2>"$T/err"; then
	fail "mkdir in the serve root succeeded"
fi
assert_grep "Operation not permitted" "$T/err"

# A second serve on the same mountpoint is refused.
expect_exit 1 vol serve -m "$srv" --docker-socket "$T/plugin2.sock"
assert_grep "already a volfs mount" "$T/err"

# volfs mount shares the serve instance; -o ro makes only that mount
# read-only.
mount_vol before "$T/m"
mount_vol before "$T/ro" ro
m=$(abspath "$T/m")
assert_eq "$(mount_pid before "$m")" "$serve_pid" "pid behind the shared mount"
assert_eq "$(cat "$m/f")" data "data through the shared mount"
echo more >>"$m/f"
assert_eq "$(cat "$srv/before/f")" "$(printf 'data\nmore')" "write through the mount, seen in serve"
if sh -c 'echo x >"$1"' sh "$T/ro/g" 2>"$T/err"; then
	fail "a write through the read-only mount succeeded"
fi
assert_grep "Read-only file system" "$T/err"

# In use: refused; unused: gone from the listing.
expect_exit 1 vol rm before
assert_grep "mount:$m" "$T/err"
expect_exit 0 vol umount "$m"
expect_exit 0 vol umount "$(abspath "$T/ro")"
kill -0 "$serve_pid" || fail "volfs serve exited when a shared mount went"
expect_exit 0 vol rm before
wait_until 5 sh -c "! ls '$srv' | grep -qx before" || fail "a removed volume is still listed"
wait_until 5 sh -c "[ ! -e '$srv/before' ]" || fail "a removed volume can still be reached"

# An unused volume is closed after the idle timeout.
ls "$srv/after" >/dev/null
wait_until 15 grep -q "closing volume 'after'" "$T/serve.err" ||
	{ cat "$T/serve.err" >&2; fail "the idle volume was never closed"; }
echo again >"$srv/after/g" || fail "a closed volume does not open again"

# A ram volume is never closed for being idle: that would empty it.  It
# stays while 'after', unused as long, is closed again.
vol create -b ram -o size=16m scratch >/dev/null
echo kept >"$srv/scratch/k"
n=$(grep -c "closing volume 'after'" "$T/serve.err")
wait_until 15 sh -c "[ \$(grep -c \"closing volume 'after'\" '$T/serve.err') -gt $n ]" ||
	{ cat "$T/serve.err" >&2; fail "the idle volume was not closed again"; }
sleep 3
assert_eq "$(cat "$srv/scratch/k")" kept "a file of an idle ram volume under serve"
if grep -q "closing volume 'scratch'" "$T/serve.err"; then
	fail "serve closed an idle ram volume"
fi

# volfs mount of a ram volume that serve holds is serve's instance: one set
# of files, whichever mount writes.
mount_vol scratch "$T/rs"
rs=$(abspath "$T/rs")
assert_eq "$(mount_pid scratch "$rs")" "$serve_pid" "pid behind a ram volume mounted under serve"
assert_eq "$(cat "$rs/k")" kept "serve's ram file through volfs mount"
echo both >"$rs/b"
assert_eq "$(cat "$srv/scratch/b")" both "a write through volfs mount, read through serve"
expect_exit 0 vol umount "$rs"
assert_eq "$(cat "$srv/scratch/b")" both "the ram file after the mount went"

# SIGTERM: the serve mount and the mounts sharing it go.
mount_vol after "$T/m"
kill -TERM "$serve_pid"
wait_until 30 sh -c "! kill -0 $serve_pid" || fail "volfs serve survived SIGTERM"
not_mounted "$srv" || fail "SIGTERM left $srv mounted"
wait_until 30 not_mounted "$m" || fail "SIGTERM left the shared mount $m"
assert_eq "$(ls_refs after)" 0 "REFS after serve stopped"

# kill -9: the mount goes with the daemon (fusermount3's auto_unmount),
# and whatever happens to it, serve starts again cleanly on the mountpoint:
# a dead mount left there is replaced, never "transport endpoint is not
# connected".
start_serve
kill -KILL "$serve_pid"
wait_until 30 sh -c "! kill -0 $serve_pid" || fail "serve survived kill -9"
if ! wait_until 30 not_mounted "$srv"; then
	echo "note: $srv still mounted 30 s after kill -9; fusermount3:" >&2
	ps -eo pid,ppid,stat,args | grep '[f]usermount3' >&2 || true
fi
start_serve
ls "$srv" >/dev/null || fail "the restarted serve mount does not answer"
assert_eq "$(cat "$srv/after/g")" again "data after a restart"
kill -TERM "$serve_pid"
wait_until 30 not_mounted "$srv" || fail "serve did not stop"
[ ! -e "$T/plugin.sock" ] || fail "SIGTERM left the plugin socket behind"

# --detach: returns once serving, the daemon runs on in its own session
# and stops on SIGTERM.
vol serve --detach -m "$srv" --docker-socket "$T/plugin.sock" ||
	fail "volfs serve --detach failed"
is_mounted "$srv" || fail "serve --detach returned before the mount was up"
test -S "$T/plugin.sock" || fail "serve --detach returned before its plugin socket was up"
serve_pid=$(sqlite3 "$VOLFS_ROOT/catalog.db" "SELECT pid FROM servers")
track_pid "$serve_pid"
assert_eq "$(ps -o sid= -p "$serve_pid" | tr -d ' ')" "$serve_pid" "session of the detached serve"
assert_eq "$(cat "$srv/after/g")" again "data through the detached serve"
kill -TERM "$serve_pid"
wait_until 30 not_mounted "$srv" || fail "the detached serve did not stop"
# A failure is reported by the command, not lost in the daemon.
: >"$T/file"
expect_exit 1 vol serve --detach -m "$T/file/x" --docker-socket "$T/plugin.sock"
assert_grep "cannot make mountpoint" "$T/err"
mkdir -p "$T/busy"
expect_exit 1 vol serve --detach -m "$T/busy" --docker-socket /proc/volfs-no/plugin.sock
assert_grep "plugin.sock" "$T/err"
not_mounted "$(abspath "$T/busy")" || fail "a failed serve --detach left its mount"
exit 0
