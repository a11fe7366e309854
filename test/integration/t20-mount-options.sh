# SPDX-License-Identifier: MIT
# volfs mount's options and its refusals: uid=/gid= ownership, timeouts,
# foreground mode, bad options, a directory already mounted, a volume whose
# storage vanished.  A refused mount leaves nothing mounted or attached.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq

vol create v >/dev/null
mkdir -p "$T/m"
m=$(abspath "$T/m")
echo "$m" >>"$T/mounts"

# Usage errors: exit 2, naming what is wrong.
expect_exit 2 vol mount -o bogus v "$m"
assert_grep "bogus" "$T/err"
expect_exit 2 vol mount -o uid=abc v "$m"
assert_grep "uid" "$T/err"
expect_exit 2 vol mount -o entry_timeout=-1 v "$m"
assert_grep "entry_timeout" "$T/err"
expect_exit 2 vol mount -o max_threads=0 v "$m"
# One message with the one range that is valid.
expect_exit 2 vol mount -o max_threads=100000000 v "$m"
assert_eq "$(grep -c 'max_threads' "$T/err")" 1 "lines naming max_threads"
assert_grep "from 1 to 1024" "$T/err"
# NaN compares false with every bound: each spelling is refused.
for bad in nan -nan NAN inf; do
	expect_exit 2 vol mount -o entry_timeout=$bad v "$m"
	assert_grep "entry_timeout" "$T/err"
	expect_exit 2 vol mount -o attr_timeout=$bad v "$m"
	assert_grep "attr_timeout" "$T/err"
done
expect_exit 2 vol mount v
expect_exit 2 vol mount -o debug v "$m"
assert_grep "needs -f" "$T/err"
expect_exit 2 vol mount "../v" "$m"
assert_grep "invalid volume name" "$T/err"
echo x >"$T/file"
expect_exit 1 vol mount v "$T/file"
assert_grep "not a directory" "$T/err"
! is_mounted "$m" || fail "a refused mount left $m mounted"
assert_eq "$(ls_refs v)" 0 "REFS after refused mounts"

# uid=/gid= present every file as owned by them; the host keeps the truth.
mount_vol v "$m" uid=1234,gid=4321,entry_timeout=5,attr_timeout=5,max_threads=4
echo hi >"$m/f"
mkdir "$m/d"
assert_eq "$(stat -c %u:%g "$m/f")" 1234:4321 "owner of f through the mount"
assert_eq "$(stat -c %u:%g "$m/d")" 1234:4321 "owner of d through the mount"
assert_eq "$(stat -c %u:%g "$(data_dir v)/f")" 0:0 "owner of f on the host"

# The same directory cannot be mounted twice.
expect_exit 1 vol mount v "$m"
assert_grep "already a volfs mount" "$T/err"
expect_exit 0 vol umount "$m"

# writeback_cache: the kernel gathers writes; appends and reads stay right.
mount_vol v "$m" writeback_cache
printf one >"$m/wb"
printf two >>"$m/wb"
sh -c 'exec 3>>"$1"; printf three >&3' sh "$m/wb"
assert_eq "$(cat "$m/wb")" onetwothree "appends with the writeback cache"
head -c 3000000 /dev/urandom >"$T/rnd"
cp "$T/rnd" "$m/rnd"
sync
cmp "$T/rnd" "$(data_dir v)/rnd" || fail "data written with the writeback cache differs on the host"
expect_exit 0 vol umount "$m"

# Foreground: runs until unmounted, then exits 0 and detaches.
"$VOLFS" mount -f v "$m" 2>"$T/fg.err" &
fg=$!
track_pid "$fg"
wait_until 10 is_mounted "$m" || fail "foreground mount never came up"
assert_eq "$(ls_refs v)" 1 "REFS with a foreground mount"
assert_eq "$(cat "$m/f")" hi "data through the foreground mount"
expect_exit 0 vol umount "$m"
rc=0
wait "$fg" || rc=$?
assert_eq "$rc" 0 "exit status of the foreground mount"
assert_eq "$(ls_refs v)" 0 "REFS after the foreground mount ended"

# -o debug: every FUSE request is printed.
"$VOLFS" mount -f -o debug v "$m" 2>"$T/debug.err" &
fg=$!
track_pid "$fg"
wait_until 10 is_mounted "$m" || fail "debug mount never came up"
assert_eq "$(cat "$m/f")" hi "data through the debug mount"
expect_exit 0 vol umount "$m"
wait "$fg" || fail "the debug mount exited with an error"
assert_grep "opcode: INIT" "$T/debug.err"
assert_grep "opcode: LOOKUP" "$T/debug.err"
assert_grep "opcode: OPEN" "$T/debug.err"

# SIGTERM stops a daemon cleanly: unmounted, detached.
mount_vol v "$m"
pid=$(mount_pid v "$m")
kill -TERM "$pid"
wait_until 30 not_mounted "$m" || fail "SIGTERM left $m mounted"
wait_until 30 sh -c "! kill -0 $pid" || fail "daemon $pid survived SIGTERM"
assert_eq "$(ls_refs v)" 0 "REFS after SIGTERM"

# A path= volume whose host directory went away cannot be mounted, and
# says which directory is missing.
mkdir "$T/host"
vol create -o path="$T/host" gone >/dev/null
rmdir "$T/host"
expect_exit 1 vol mount gone "$m"
assert_grep "$T/host" "$T/err"
! is_mounted "$m" || fail "the mount of a volume with no storage is up"
assert_eq "$(ls_refs gone)" 0 "REFS of the volume with no storage"
exit 0
