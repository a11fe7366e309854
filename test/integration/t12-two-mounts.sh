# SPDX-License-Identifier: MIT
# Two mounts of one volume see each other's changes (within the kernel's
# attribute cache time), and each unmounts on its own.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq

vol create shared >/dev/null
mount_vol shared "$T/m1"
mount_vol shared "$T/m2"
m1=$(abspath "$T/m1")
m2=$(abspath "$T/m2")

expect_exit 0 vol inspect shared
jq -e '.[0].refcount == 2 and (.[0].attachments | length) == 2' "$T/out" >/dev/null ||
	{ cat "$T/out" >&2; fail "two mounts are not two attachments"; }
assert_eq "$(ls_refs shared)" 2 "REFS with two mounts"

# has DIR/FILE CONTENT
has() {
	[ "$(cat "$1" 2>/dev/null)" = "$2" ]
}

echo one >"$m1/a"
wait_until 3 has "$m2/a" one || fail "m2 does not see a file written through m1"
echo two >"$m2/b"
wait_until 3 has "$m1/b" two || fail "m1 does not see a file written through m2"

# Rewrites of the same size and appends.
echo ONE >"$m1/a"
wait_until 3 has "$m2/a" ONE || fail "m2 does not see a rewrite through m1 (sees '$(cat "$m2/a")')"
echo more >>"$m2/b"
wait_until 3 has "$m1/b" "$(printf 'two\nmore')" || fail "m1 does not see an append through m2"

# Directories, renames and removals.
mkdir "$m1/d"
echo in >"$m1/d/f"
wait_until 3 has "$m2/d/f" in || fail "m2 does not see a new directory"
mv "$m2/d/f" "$m2/d/g"
wait_until 3 test ! -e "$m1/d/f" || fail "m1 still sees a renamed file's old name"
wait_until 3 has "$m1/d/g" in || fail "m1 does not see a renamed file's new name"
rm "$m1/a"
wait_until 3 test ! -e "$m2/a" || fail "m2 still sees a removed file"

# One unmount leaves the other working.
expect_exit 0 vol umount "$m1"
! is_mounted "$m1" || fail "m1 still mounted"
is_mounted "$m2" || fail "unmounting m1 took m2 with it"
has "$m2/b" "$(printf 'two\nmore')" || fail "m2 lost data when m1 went"
echo three >"$m2/c"
assert_eq "$(cat "$(data_dir shared)/c")" three "write through m2 after m1 went"
expect_exit 0 vol inspect shared
jq -e ".[0].refcount == 1 and .[0].attachments[0].consumer == \"mount:$m2\"" "$T/out" >/dev/null ||
	{ cat "$T/out" >&2; fail "attachments after unmounting m1"; }
expect_exit 0 vol umount "$m2"
assert_eq "$(ls_refs shared)" 0 "REFS after both unmounted"
exit 0
