# SPDX-License-Identifier: MIT
# volfs mount: the daemon is ready when mount returns; bytes written through
# the mount are the bytes in the data dir, and the other way round; the
# attachment lives as long as the mount.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq

vol create v >/dev/null
d=$(data_dir v)
echo "from the host" >"$d/hostfile"

# Errors: no such volume, no such directory.  No mount is left.
mkdir "$T/m0"
echo "$T/m0" >>"$T/mounts"
expect_exit 1 vol mount nosuch "$T/m0"
assert_grep 'no such volume' "$T/err"
! is_mounted "$T/m0" || fail "a failed mount left $T/m0 mounted"
expect_exit 1 vol mount v "$T/missing"
assert_grep "$T/missing" "$T/err"
[ ! -e "$T/missing" ] || fail "mount created the missing directory"

mount_vol v "$T/mnt"
mnt=$(abspath "$T/mnt")

# The attachment: mount:DIR, absolute, with the daemon's pid.
expect_exit 0 vol inspect v
jq -e ".[0].refcount == 1 and .[0].attachments[0].consumer == \"mount:$mnt\"" "$T/out" >/dev/null ||
	{ cat "$T/out" >&2; fail "inspect does not show the mount:$mnt attachment"; }
pid=$(mount_pid v "$mnt")
kill -0 "$pid" 2>/dev/null || fail "attachment pid $pid is not a live process"
assert_eq "$(ls_refs v)" 1 "REFS while mounted"

# Host -> mount.
assert_eq "$(cat "$mnt/hostfile")" "from the host" "hostfile through the mount"

# Mount -> host, byte for byte (1 MiB of random bytes plus an odd tail).
head -c 1048583 /dev/urandom >"$T/src"
cp "$T/src" "$mnt/f"
cmp "$T/src" "$d/f" || fail "the data file differs from what was written through the mount"
cmp "$T/src" "$mnt/f" || fail "reading back through the mount differs"
mkdir "$mnt/dir"
echo nested >"$mnt/dir/nested"
assert_eq "$(cat "$d/dir/nested")" nested "nested file on the host"
ls "$mnt" | sort | tr '\n' ' ' >"$T/ls"
assert_eq "$(cat "$T/ls")" "dir f hostfile " "ls of the mount"
rm "$mnt/hostfile"
[ ! -e "$d/hostfile" ] || fail "rm through the mount left the host file"

# umount: mount gone, daemon gone, attachment gone, data kept.
expect_exit 0 vol umount "$mnt"
! is_mounted "$mnt" || fail "still mounted after volfs umount"
wait_until 30 sh -c "! kill -0 $pid" || fail "daemon $pid still running 30 s after umount"
expect_exit 0 vol inspect v
jq -e '.[0].refcount == 0 and .[0].attachments == [] and .[0].mountpoints == []' "$T/out" >/dev/null ||
	{ cat "$T/out" >&2; fail "attachment left after umount"; }
assert_eq "$(ls_refs v)" 0 "REFS after umount"
cmp "$T/src" "$d/f" || fail "data changed by umount"
expect_exit 1 vol umount "$mnt"

# Mounting again shows the same data.
mount_vol v "$T/mnt"
cmp "$T/src" "$mnt/f" || fail "data differs after remounting"
expect_exit 0 vol umount "$mnt"

# The mountpoint may be given relative; the attachment records it absolute.
mkdir "$T/rel"
echo "$(abspath "$T/rel")" >>"$T/mounts"
(cd "$T" && "$VOLFS" mount v rel) || fail "mount with a relative directory failed"
is_mounted "$(abspath "$T/rel")" || fail "relative mount is not mounted"
expect_exit 0 vol inspect v
jq -e ".[0].attachments[0].consumer == \"mount:$(abspath "$T/rel")\"" "$T/out" >/dev/null ||
	{ cat "$T/out" >&2; fail "relative mountpoint not recorded absolute"; }
expect_exit 0 vol umount "$T/rel"
exit 0
