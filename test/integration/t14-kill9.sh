# SPDX-License-Identifier: MIT
# A daemon killed with SIGKILL leaves no stale mount, and its attachment is
# reaped: REFS back to 0, rm works without -f.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq

vol create k >/dev/null
mount_vol k "$T/mnt"
mnt=$(abspath "$T/mnt")
echo survive >"$mnt/file"
pid=$(mount_pid k "$mnt")
[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || fail "no live daemon pid in inspect ('$pid')"

kill -9 "$pid"
wait_until 30 not_mounted "$mnt" || fail "the mount is still there 30 s after the daemon was killed"
# The mountpoint is a plain directory again, not "Transport endpoint is
# not connected".
ls "$mnt" >/dev/null || fail "the mountpoint is unusable after the kill"
wait_until 30 sh -c "! kill -0 $pid" || fail "daemon $pid still alive after SIGKILL"

assert_eq "$(ls_refs k)" 0 "REFS after the daemon died"
expect_exit 0 vol inspect k
jq -e '.[0].refcount == 0 and .[0].attachments == []' "$T/out" >/dev/null ||
	{ cat "$T/out" >&2; fail "the dead daemon's attachment was not reaped"; }
assert_eq "$(cat "$(data_dir k)/file")" survive "data after the kill"

# No attachment is left to refuse rm.
expect_exit 0 vol rm k
[ ! -e "$VOLFS_ROOT/volumes/k" ] || fail "rm left the data directory"
exit 0
