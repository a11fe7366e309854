# SPDX-License-Identifier: MIT
# -o path=DIR: a local volume that serves an existing host directory, and
# whose removal leaves that directory alone.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq

h=$T/host
mkdir -p "$h/sub"
echo existing >"$h/a"
echo deeper >"$h/sub/b"
chmod 640 "$h/a"

vol create -o path="$h" pv >/dev/null
expect_exit 0 vol inspect pv
jq -e ".[0].options.path == \"$h\"" "$T/out" >/dev/null ||
	{ cat "$T/out" >&2; fail "inspect does not show the path option"; }

mount_vol pv "$T/mnt"
mnt=$(abspath "$T/mnt")
assert_eq "$(cat "$mnt/a")" existing "existing file through the mount"
assert_eq "$(cat "$mnt/sub/b")" deeper "existing nested file"
assert_eq "$(stat -c %a "$mnt/a")" 640 "mode of an existing file"
echo new >"$mnt/new"
assert_eq "$(cat "$h/new")" new "new file in the host dir"
expect_exit 0 vol umount "$mnt"

expect_exit 0 vol rm pv
[ -d "$h" ] || fail "rm of a path= volume removed the host dir"
assert_eq "$(cat "$h/a")" existing "host file after rm"
assert_eq "$(cat "$h/sub/b")" deeper "host nested file after rm"
assert_eq "$(cat "$h/new")" new "file written through the mount, after rm"

# Same with rm -f of a mounted one.
vol create -o path="$h" pv2 >/dev/null
mount_vol pv2 "$T/mnt2"
expect_exit 0 vol rm -f pv2
wait_until 30 not_mounted "$(abspath "$T/mnt2")" || fail "rm -f left pv2 mounted"
[ -f "$h/a" ] && [ -f "$h/sub/b" ] || fail "rm -f of a mounted path= volume removed host files"

# Two volumes may not be confused: each has its own path.
mkdir "$T/other"
vol create -o path="$T/other" pv3 >/dev/null
mount_vol pv3 "$T/mnt3"
[ ! -e "$T/mnt3/a" ] || fail "pv3 shows another volume's files"

# A host directory gone since create: the mount says so, and what to check;
# a managed volume whose data directory went: what to do.
mkdir "$T/gone"
vol create -o path="$T/gone" pv4 >/dev/null
rmdir "$T/gone"
mkdir -p "$T/mnt4"
expect_exit 1 vol mount pv4 "$T/mnt4"
assert_grep "check that the host directory still exists" "$T/err"
vol create lost >/dev/null
rm -rf "$(data_dir lost)"
expect_exit 1 vol mount lost "$T/mnt4"
assert_grep "remove the volume and create it again" "$T/err"
exit 0
