# SPDX-License-Identifier: MIT
# volfs rm refuses a mounted volume, naming the mount; rm -f unmounts it
# and removes it.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq

vol create busy >/dev/null
mount_vol busy "$T/mnt"
mnt=$(abspath "$T/mnt")
echo data >"$mnt/file"
pid=$(mount_pid busy "$mnt")

expect_exit 1 vol rm busy
assert_grep "mount:$mnt" "$T/err"
is_mounted "$mnt" || fail "a refused rm unmounted the volume"
vol ls -q | grep -qx busy || fail "a refused rm removed the volume"
assert_eq "$(cat "$mnt/file")" data "data after a refused rm"
assert_eq "$(cat "$(data_dir busy)/file")" data "host data after a refused rm"

# prune does not take it either.
expect_exit 0 vol prune -a -f
vol ls -q | grep -qx busy || fail "prune -a removed a mounted volume"

expect_exit 0 vol rm -f busy
wait_until 30 not_mounted "$mnt" || fail "still mounted 30 s after rm -f"
! vol ls -q | grep -qx busy || fail "rm -f left the volume listed"
[ ! -e "$VOLFS_ROOT/volumes/busy" ] || fail "rm -f left the data directory"
[ -n "$pid" ] || fail "no daemon pid"
wait_until 30 sh -c "! kill -0 $pid" || fail "daemon $pid still running after rm -f"
ls "$mnt" >/dev/null || fail "the mountpoint is unusable after rm -f"
exit 0
