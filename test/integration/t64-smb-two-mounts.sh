# SPDX-License-Identifier: MIT
# Two volumes on one share, each mounted by its own volfs process (as two
# hosts would): each sees the other's changes within cache_ttl (plus the
# kernel's one-second attribute cache), and its own at once.
. "$VOLFS_SRCDIR/test/servers/smb-test.sh"
smb_start
expect_exit 0 smb_create a -o cache_ttl=1
expect_exit 0 smb_create b -o cache_ttl=1
mount_vol a "$T/a"
mount_vol b "$T/b"
a=$(abspath "$T/a")
b=$(abspath "$T/b")
[ "$(mount_pid a "$a")" != "$(mount_pid b "$b")" ] ||
	fail "one process serves both volumes"

ls "$b" >/dev/null
echo one >"$a/f"
assert_eq "$(cat "$a/f")" one "own change, at once"
wait_until 3 test -e "$b/f" || fail "b did not see a's new file within 3 s"
assert_eq "$(cat "$b/f")" one "b reads a's file"

echo longer-content >"$b/f"
wait_until 3 sh -c "[ \"\$(cat '$a/f')\" = longer-content ]" ||
	fail "a did not see b's change within 3 s: $(cat "$a/f")"

mkdir "$a/d"
wait_until 3 test -d "$b/d" || fail "b did not see a's directory"
rm "$b/f"
wait_until 3 sh -c "! test -e '$a/f'" || fail "a still sees the removed file"
mv "$a/d" "$a/d2"
wait_until 3 sh -c "test -d '$b/d2' && ! test -e '$b/d'" ||
	fail "b did not see the rename"
exit 0
