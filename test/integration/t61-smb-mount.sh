# SPDX-License-Identifier: MIT
# smb volumes through a mount against a real smbd: create checks the share
# and says what failed (creating nothing), the POSIX surface SMB allows,
# files past 4 GiB, honest errors for what SMB cannot do, configured
# owner and modes, and no secret anywhere it could leak.  Files are staged
# on local disk and uploaded after their close: what is checked on the
# share is waited for (on_share), for a bounded while.
. "$VOLFS_SRCDIR/test/servers/smb-test.sh"
need_cmd jq
smb_start

# create: each way to get it wrong is named, and nothing is created.
expect_fail vol create -b smb -o share="$SMB_SHARE" -o username="$SMB_USER" \
	-o password=wrong-password bad
assert_grep "refused user '$SMB_USER'" "$T/err"
assert_grep "check the username, password and domain" "$T/err"
expect_fail smb_create_at //127.0.0.1:4450/nosuchshare bad
assert_grep "has no share 'nosuchshare'" "$T/err"
expect_fail smb_create_at //127.0.0.1:4451/share bad
assert_grep "cannot reach 127.0.0.1 port 4451: Connection refused" "$T/err"
expect_fail smb_create_at //127.0.0.1:4450/share/missing/dir bad
assert_grep "directory 'missing/dir' of share" "$T/err"
expect_fail smb_create_at share-without-slashes bad
assert_grep "option 'share'" "$T/err"
expect_fail smb_create bad -o encrypt=maybe
assert_grep "option 'encrypt'" "$T/err"
expect_fail smb_create bad -o timeout=0
assert_grep "option 'timeout'" "$T/err"
expect_fail smb_create bad -o uid=alice
assert_grep "option 'uid': 'alice' is not a user id: use a number" "$T/err"
expect_fail smb_create bad -o gid=-1
assert_grep "option 'gid': '-1' is not a group id" "$T/err"
expect_fail smb_create bad -o file_mode=0999
assert_grep "option 'file_mode': '0999' is not a mode: use octal digits" "$T/err"
expect_fail smb_create bad -o dir_mode=01777
assert_grep "option 'dir_mode': '01777' is not a mode" "$T/err"
expect_fail smb_create bad -o cache_ttl=86401
assert_grep "option 'cache_ttl'" "$T/err"
for f in "$T/err" "$T/out"; do
	assert_no_grep "$SMB_PASS" "$f"
done
assert_eq "$(vol ls -q | wc -l)" 0 "volumes after failed creates"
[ ! -e "$VOLFS_ROOT/volumes/bad" ] || fail "a failed create left its state directory"

# A good one, with owner and modes to show.
expect_exit 0 smb_create s -o uid=1000 -o gid=1001 -o file_mode=0640 \
	-o dir_mode=0750 -o cache_ttl=1 -o timeout=5
vol inspect s >"$T/inspect"
assert_no_grep "$SMB_PASS" "$T/inspect"
assert_eq "$(jq -r '.[0].options.password' "$T/inspect")" "********" "the password in inspect"
vol ls >"$T/ls"
assert_no_grep "$SMB_PASS" "$T/ls"

mount_vol s "$T/m"
m=$(abspath "$T/m")
pid=$(mount_pid s "$m")

# Waits until the share holds at NAME what the mount shows there.
on_share() {
	wait_until 10 cmp -s "$m/$1" "$SMB_DIR/share/$1" ||
		fail "$1 did not reach the share within 10 s of its close"
}
tr '\0' ' ' <"/proc/$pid/cmdline" >"$T/cmdline"
assert_no_grep "$SMB_PASS" "$T/cmdline"

# The POSIX checks SMB can pass, with the default modes they expect
# (utimens: libsmbclient sets times to the microsecond, checked below).
expect_exit 0 smb_create px
mount_vol px "$T/px"
"$VOLFS_TEST_HELPERS/posixops" "$(abspath "$T/px")" rw3m pread_pwrite append truncate \
	unlink_open rename statfs many_files seq64m >"$T/posix" 2>&1 ||
	{ cat "$T/posix" >&2; fail "posixops failed on an smb volume"; }
cat "$T/posix"
expect_exit 0 vol umount "$(abspath "$T/px")"

# Files go where smbd keeps the share, and come back.
echo hello >"$m/hello"
on_share hello
assert_eq "$(cat "$SMB_DIR/share/hello")" hello "the file on the share"
mkdir -p "$m/d/e"
if rmdir "$m/d" 2>"$T/err"; then fail "rmdir of a non-empty directory succeeded"; fi
assert_grep "not empty" "$T/err"
mkdir "$m/d/gone" && rmdir "$m/d/gone"
[ ! -e "$SMB_DIR/share/d/gone" ] || fail "rmdir left the directory on the share"
ls "$m/d" >"$T/ls-d"
assert_eq "$(cat "$T/ls-d")" e "listing of d"
echo deep >"$m/d/e/f"
on_share d/e/f
assert_eq "$(cat "$SMB_DIR/share/d/e/f")" deep "a file in subdirectories"
assert_eq "$(stat -c %a:%u:%g "$m/hello")" 640:1000:1001 "file mode and owner"
assert_eq "$(stat -c %a:%u:%g "$m/d")" 750:1000:1001 "directory mode and owner"

# A sequential read through the read-ahead: windows growing to 8 MiB,
# fetched in parts over several connections, a last one cut by the end of
# the file; the file as written by the server's side, and read again after
# another client changed it in the middle.
head -c $((40 * 1048576 + 12345)) /dev/urandom >"$T/seq"
cp "$T/seq" "$SMB_DIR/share/seq"
cmp "$T/seq" "$m/seq" || fail "a sequential read differs"
dd if="$m/seq" bs=64k status=none | cmp - "$T/seq" ||
	fail "a sequential read in 64 KiB requests differs"
printf 'XYZ' | dd of="$T/seq" bs=1 seek=$((20 * 1048576)) conv=notrunc status=none
cp "$T/seq" "$SMB_DIR/share/seq"
wait_until 5 cmp -s "$T/seq" "$m/seq" || fail "a change by another client was not seen"

# Past 4 GiB: a sparse write far out, read back.
printf 'far' | dd of="$m/big" bs=1 seek=5368709120 conv=notrunc status=none ||
	fail "writing at 5 GiB failed"
assert_eq "$(stat -c %s "$m/big")" 5368709123 "size of the file past 4 GiB"
assert_eq "$(dd if="$m/big" bs=1 skip=5368709120 count=3 status=none)" far \
	"the bytes at 5 GiB"
# Uploaded with its holes left out: in seconds, and sparse on the share.
wait_until 30 sh -c "[ \"\$(stat -c %s '$SMB_DIR/share/big' 2>/dev/null)\" = 5368709123 ]" ||
	fail "the file past 4 GiB did not reach the share"
assert_eq "$(dd if="$SMB_DIR/share/big" bs=1 skip=5368709120 count=3 status=none)" far \
	"the bytes at 5 GiB on the share"
[ "$(du -k "$SMB_DIR/share/big" | cut -f1)" -lt 1048576 ] ||
	fail "the holes of the file past 4 GiB were sent as data"
rm "$m/big"

# Overlapping writes land in order, reads see them, and after the close
# the mount (at once) and the share (once uploaded) hold exactly what was
# written.
need_cmd python3
python3 - "$m/overlap" "$SMB_DIR/share/overlap" <<'PY' || fail "overlapping writes"
import os, sys, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o644)
want = bytearray()
for i in range(300):
    off = (i * 1531) % 12288
    data = bytes([i % 251 + 1]) * (1024 + (i * 97) % 3072)
    os.pwrite(fd, data, off)
    if len(want) < off + len(data):
        want.extend(bytes(off + len(data) - len(want)))
    want[off:off + len(data)] = data
    if i % 50 == 49:
        assert os.pread(fd, 1 << 20, 0) == want, "read back differs at %d" % i
os.close(fd)
assert open(sys.argv[1], "rb").read() == want, "%s differs" % sys.argv[1]
for _ in range(100):
    try:
        if open(sys.argv[2], "rb").read() == want:
            break
    except FileNotFoundError:
        pass
    time.sleep(0.1)
else:
    raise AssertionError("%s differs 10 s after the close" % sys.argv[2])
PY

# Replacing rename and truncate, seen on the share.
echo one >"$m/r1"
echo two >"$m/r2"
mv "$m/r1" "$m/r2"
on_share r2
assert_eq "$(cat "$SMB_DIR/share/r2")" one "rename replacing"
[ ! -e "$SMB_DIR/share/r1" ] || fail "the renamed file is still there"
mkdir "$m/rd1" "$m/rd2" "$m/rd3"
echo x >"$m/rd1/x"
echo y >"$m/rd3/y"
mv -T "$m/rd1" "$m/rd2" || fail "renaming a directory over an empty one"
on_share rd2/x
assert_eq "$(cat "$SMB_DIR/share/rd2/x")" x "the directory renamed over an empty one"
if mv -T "$m/rd2" "$m/rd3" 2>"$T/err"; then fail "a rename over a non-empty directory succeeded"; fi
assert_grep "not empty" "$T/err"
if mv -T "$m/r2" "$m/rd3" 2>"$T/err"; then fail "a file renamed over a directory"; fi
truncate -s 2 "$m/r2"
assert_eq "$(cat "$m/r2")" on "truncate"
touch -d '2001-02-03 04:05:06 UTC' "$m/r2"
on_share r2
wait_until 10 sh -c "[ \$(stat -c %Y '$SMB_DIR/share/r2') = 981173106 ]" ||
	fail "mtime on the share: $(stat -c %Y "$SMB_DIR/share/r2")"

# What SMB cannot store gets an honest error.
if ln "$m/r2" "$m/hard" 2>"$T/err"; then fail "a hard link succeeded"; fi
if ln -s r2 "$m/sym" 2>"$T/err"; then fail "a symlink succeeded"; fi
if chmod 600 "$m/r2" 2>"$T/err"; then fail "chmod succeeded"; fi
assert_grep "not supported|not permitted" "$T/err"
if chown 5:5 "$m/r2" 2>"$T/err"; then fail "chown succeeded"; fi
if mkfifo "$m/fifo" 2>"$T/err"; then fail "mkfifo succeeded"; fi
# No xattrs: "not supported", the first time (volfs answers) and after
# (the kernel remembers), for reading and writing alike.
if command -v getfattr >/dev/null; then
	for _ in 1 2; do
		if getfattr -n user.x "$m/r2" 2>"$T/err"; then fail "getfattr succeeded"; fi
		assert_grep "not supported" "$T/err"
		if setfattr -n user.x -v 1 "$m/r2" 2>"$T/err"; then fail "setfattr succeeded"; fi
		assert_grep "not supported" "$T/err"
	done
fi
# A new file's attributes, answered from the local copy, agree with what
# the server says once it is uploaded.
printf 'new' >"$m/fresh"
assert_eq "$(stat -c '%s %F' "$m/fresh")" "3 regular file" "a new file's size and type"
assert_eq "$(cat "$m/fresh")" new "a new file's data"
on_share fresh
assert_eq "$(stat -c %s "$SMB_DIR/share/fresh")" 3 "a new file's size on the share"
df -k "$m" >"$T/df" || fail "df on the mount"

# Nothing of libsmbclient on stdout, nor the password in any log.  A
# volume's local cache serves one process at a time: the mount above goes
# first.
expect_exit 0 vol umount "$m"
mkdir "$T/m2"
vol --log-level debug mount -f s "$T/m2" >"$T/fg.out" 2>"$T/fg.err" &
fg=$!
track_pid $fg
abspath "$T/m2" >>"$T/mounts"
wait_until 10 is_mounted "$(abspath "$T/m2")" || { cat "$T/fg.err" >&2; fail "the foreground mount did not come up"; }
ls -la "$T/m2" >/dev/null
cat "$T/m2/hello" >/dev/null
expect_exit 0 vol umount "$(abspath "$T/m2")"
wait_until 30 sh -c "! kill -0 $fg" || fail "the foreground daemon did not exit"
[ ! -s "$T/fg.out" ] || { cat "$T/fg.out" >&2; fail "the daemon wrote to stdout"; }
assert_no_grep "$SMB_PASS" "$T/fg.err"

# cache_ttl takes fractions of a second, as it always did.
expect_exit 0 smb_create frac -o cache_ttl=0.5
expect_exit 0 vol rm frac
exit 0
