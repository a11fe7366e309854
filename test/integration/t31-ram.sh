# SPDX-License-Identifier: MIT
# ram volumes through a mount: the whole POSIX check, the size cap (ENOSPC,
# honest df), root mode and owner, one instance shared by every mount, data
# gone when the serving process ends, and memory given back after delete.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
[ -e "$VOLFS_BACKEND_DIR/ram.so" ] || skip "the ram backend module is not built"

# The POSIX surface.
vol create -b ram -o size=256m r >/dev/null
mount_vol r "$T/r"
r=$(abspath "$T/r")
"$VOLFS_TEST_HELPERS/posixops" "$r" >"$T/posix" 2>&1 ||
	{ cat "$T/posix" >&2; fail "posixops failed on a ram volume"; }

# Shared: a second mount is the same data.
mount_vol r "$T/r2"
echo shared >"$r/s"
assert_eq "$(cat "$T/r2/s")" shared "the second mount of a ram volume"
pid=$(mount_pid r "$r")
assert_eq "$(mount_pid r "$(abspath "$T/r2")")" "$pid" "one process serves both"

# Memory comes back after deleting what was written (not under ASan,
# whose allocator keeps freed memory on purpose).
if ! ldd "$VOLFS" 2>/dev/null | grep -q libasan; then
	rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
	before=$(rss)
	for i in 1 2 3 4; do
		dd if=/dev/zero of="$r/big$i" bs=1M count=50 status=none ||
			fail "writing 200 MiB to the ram volume"
	done
	full=$(rss)
	[ $((full - before)) -gt 150000 ] ||
		fail "RSS grew by only $((full - before)) KiB for 200 MiB of data"
	rm -f "$r"/big*
	wait_until 5 sh -c "[ \$(awk '/^VmRSS/ { print \$2 }' /proc/$pid/status) -lt $((before + 32768)) ]" ||
		fail "RSS stayed at $(rss) KiB after deleting (started at $before KiB)"
fi

# Sparse files cost nothing.
used0=$(df -k --output=used "$r" | tail -1)
dd if=/dev/zero of="$r/sparse" bs=1 count=1 seek=10G status=none
assert_eq "$(stat -c %s "$r/sparse")" 10737418241 "size of the sparse file"
used1=$(df -k --output=used "$r" | tail -1)
[ $((used1 - used0)) -lt 1024 ] || fail "a 1-byte sparse file used $((used1 - used0)) KiB"

# Data lives as long as the serving process.
expect_exit 0 vol umount "$(abspath "$T/r2")"
expect_exit 0 vol umount "$r"
wait_until 30 sh -c "! kill -0 $pid" || fail "the daemon did not exit"
mount_vol r "$T/r"
[ ! -e "$r/s" ] || fail "a ram volume kept its data across a daemon restart"
expect_exit 0 vol umount "$r"

# The size cap: ENOSPC, nothing beyond it, space back after delete.
vol create -b ram -o size=8m small >/dev/null
mount_vol small "$T/s"
s=$(abspath "$T/s")
assert_eq "$(df -k --output=size "$s" | tail -1 | tr -d ' ')" 8192 "df size of an 8m volume"
if dd if=/dev/zero of="$s/fill" bs=1M count=16 status=none 2>"$T/err"; then
	fail "writing 16 MiB into an 8 MiB volume succeeded"
fi
assert_grep "No space left on device" "$T/err"
[ "$(stat -c %s "$s/fill")" -le 8388608 ] || fail "the file grew past the cap"
rm "$s/fill"
dd if=/dev/zero of="$s/again" bs=1M count=4 status=none ||
	fail "writing after freeing space failed"
expect_exit 0 vol umount "$s"

# Options: root mode and owner, and bad values.
vol create -b ram -o mode=0750 -o uid=1000 -o gid=1000 owned >/dev/null
mount_vol owned "$T/o"
assert_eq "$(stat -c %a:%u:%g "$T/o")" 750:1000:1000 "root of a ram volume with mode/uid/gid"
expect_exit 1 vol create -b ram -o size=12x bad
assert_grep "size" "$T/err"
expect_exit 1 vol create -b ram -o mode=99999 bad
assert_grep "mode" "$T/err"
exit 0
