# SPDX-License-Identifier: MIT
# mount -o ro: every write fails with EROFS, reads work, nothing changes.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq setfattr

vol create r >/dev/null
d=$(data_dir r)
echo original >"$d/file"
mkdir "$d/dir"
before=$(stat -c '%s %Y %a' "$d/file")

mount_vol r "$T/mnt" ro
mnt=$(abspath "$T/mnt")
assert_eq "$(cat "$mnt/file")" original "read through a read-only mount"
ls "$mnt/dir" >/dev/null || fail "listing a read-only mount failed"
case ",$(mount_opts "$mnt")," in
*,ro,*) ;;
*) fail "mountinfo options of $mnt are '$(mount_opts "$mnt")', expected ro" ;;
esac
expect_exit 0 vol inspect r
jq -e '.[0].attachments[0].readonly == true' "$T/out" >/dev/null ||
	{ cat "$T/out" >&2; fail "the attachment is not marked read-only"; }

erofs() {
	if sh -c "$1" 2>"$T/err"; then
		fail "succeeded on a read-only mount: $1"
	fi
	assert_grep 'Read-only file system' "$T/err"
}
erofs "echo x >'$mnt/new'"
erofs "echo x >>'$mnt/file'"
erofs "echo x >'$mnt/file'"
erofs "touch '$mnt/file'"
erofs "rm -f '$mnt/file'"
erofs "mkdir '$mnt/newdir'"
erofs "rmdir '$mnt/dir'"
erofs "mv '$mnt/file' '$mnt/moved'"
erofs "chmod 777 '$mnt/file'"
erofs "ln -s x '$mnt/link'"
erofs "ln '$mnt/file' '$mnt/hard'"
erofs "truncate -s 0 '$mnt/file'"
erofs "setfattr -n user.x -v 1 '$mnt/file'"

assert_eq "$(stat -c '%s %Y %a' "$d/file")" "$before" "the file after write attempts"
assert_eq "$(cat "$d/file")" original "the file's bytes after write attempts"
left=$(ls "$d" | tr '\n' ' ')
assert_eq "$left" "dir file " "data dir after write attempts"
expect_exit 0 vol umount "$mnt"

# A read-write mount of the same volume still writes.
mount_vol r "$T/mnt"
echo x >"$mnt/new" || fail "a read-write mount after a read-only one cannot write"
exit 0
