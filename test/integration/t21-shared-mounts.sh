# SPDX-License-Identifier: MIT
# Mounting a volume that is already mounted shares the live instance (a
# bind of it): one daemon, one set of caches, so writes through one mount
# show at once through the others even with long cache timeouts.  Binds
# go away with their daemon, and a dead one is replaced on the next mount.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq

vol create v >/dev/null
mount_vol v "$T/a" entry_timeout=60,attr_timeout=60
mount_vol v "$T/b"
mount_vol v "$T/c" ro
a=$(abspath "$T/a")
b=$(abspath "$T/b")
c=$(abspath "$T/c")

pid=$(mount_pid v "$a")
for m in "$b" "$c"; do
	assert_eq "$(mount_pid v "$m")" "$pid" "daemon serving $m"
done
assert_eq "$(ls_refs v)" 3 "REFS with three mounts"
expect_exit 0 vol inspect v
jq -e '[.[0].attachments[] | select(.readonly)] | length == 1' "$T/out" >/dev/null ||
	fail "the read-only mount is not recorded read-only"

# One instance: no cache to wait for.
echo one >"$a/f"
assert_eq "$(cat "$b/f")" one "b sees a's new file at once"
echo "two, longer" >"$b/f"
assert_eq "$(cat "$a/f")" "two, longer" "a sees b's rewrite at once"
assert_eq "$(cat "$c/f")" "two, longer" "c reads"
if sh -c 'echo x >"$1"' sh "$c/g" 2>"$T/err"; then
	fail "a write through the read-only mount succeeded"
fi
assert_grep "Read-only file system" "$T/err"
echo x >"$a/g" || fail "the read-only bind made the first mount read-only"

# The first mount goes; the others keep working on the same daemon.
expect_exit 0 vol umount "$a"
! is_mounted "$a" || fail "$a still mounted"
assert_eq "$(cat "$b/f")" "two, longer" "b after the first mount went"
kill -0 "$pid" || fail "the daemon stopped while binds remained"
assert_eq "$(ls_refs v)" 2 "REFS after one umount"
expect_exit 0 vol umount "$c"
expect_exit 0 vol umount "$b"
wait_until 30 sh -c "! kill -0 $pid" || fail "the daemon outlived its last mount"
assert_eq "$(ls_refs v)" 0 "REFS after the last umount"

# SIGTERM takes the binds down with the daemon.
mount_vol v "$T/a"
mount_vol v "$T/b"
pid=$(mount_pid v "$a")
kill -TERM "$pid"
wait_until 30 sh -c "! kill -0 $pid" || fail "daemon survived SIGTERM"
wait_until 30 not_mounted "$b" || fail "SIGTERM left the bind at $b"
not_mounted "$a" || fail "SIGTERM left $a mounted"
assert_eq "$(ls_refs v)" 0 "REFS after SIGTERM"

# kill -9: the bind is dead; mounting there again replaces it.
mount_vol v "$T/a"
mount_vol v "$T/b"
pid=$(mount_pid v "$a")
kill -KILL "$pid"
wait_until 30 not_mounted "$a" || fail "kill -9 left $a mounted"
assert_eq "$(ls_refs v)" 0 "REFS after kill -9"
expect_exit 0 vol mount v "$b"
assert_eq "$(cat "$b/f")" "two, longer" "data through the mount that replaced a dead one"
expect_exit 0 vol umount "$b"
exit 0
