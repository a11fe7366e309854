# SPDX-License-Identifier: MIT
# What an smb volume's staging cache promises, against a real smbd that
# goes away:
#  - a file written and closed while the server is unreachable survives
#    kill -9 of the daemon and is on the share, whole, once both are back;
#  - fsync returns only when the share has the data, or fails after
#    timeout= and keeps the data for the retry;
#  - nothing that a close or an fsync confirmed is lost to the outage;
#  - a file open and never closed when the daemon dies is not half
#    written to the share;
#  - cache_size holds: a writer past it gets ENOSPC and the cache stays
#    within it.
. "$VOLFS_SRCDIR/test/servers/smb-test.sh"
smb_start
expect_exit 0 smb_create c -o timeout=3 -o upload_delay=0
mount_vol c "$T/m"
m=$(abspath "$T/m")
share=$SMB_DIR/share

# The daemon serving the volume, and a kill -9 of it with its mount.
daemon() { mount_pid c "$m"; }
crash() {
	_pid=$(daemon)
	kill -KILL "$_pid"
	wait_until 10 sh -c "! kill -0 $_pid 2>/dev/null || grep -q '^State:.*Z' /proc/$_pid/status" ||
		fail "the daemon did not die"
	umount -l "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || true
}
dirty() {
	"$VOLFS" stats --format json c | sed -n 's/.*"dirty_files": *\([0-9]*\).*/\1/p'
}
some_dirty() { [ "$(dirty)" -ge 1 ]; }
none_dirty() { [ "$(dirty)" = 0 ]; }

# Files known before the outage: one to write while it lasts, one to fsync,
# one confirmed (fsync'ed) before it.
head -c 3000000 /dev/urandom >"$T/a.1"
head -c 2000000 /dev/urandom >"$T/a.2"
head -c 1000000 /dev/urandom >"$T/b"
head -c 500000 /dev/urandom >"$T/keep"
: >"$m/b"
cp "$T/keep" "$m/keep"
sync "$m/keep" || fail "fsync with the server up failed"
# fsync returned: the share has it, at once.
cmp "$T/keep" "$share/keep" || fail "fsync returned before the share had the data"
cat "$T/a.1" "$T/a.2" >"$T/a"

# An open file written across the outage, closed during it.
exec 3>"$m/a"
cat "$T/a.1" >&3
smb_kill
cat "$T/a.2" >&3
exec 3>&-
# Confirmed by the close: counted as waiting for the store.
wait_until 10 some_dirty ||
	fail "the file closed during the outage is not counted as dirty: $("$VOLFS" stats --format json c 2>&1)"

# fsync during the outage fails (within the timeout), the data stays.
start=$(date +%s)
if dd if="$T/b" of="$m/b" bs=64k conv=fsync,notrunc status=none 2>"$T/dd.err"; then
	fail "fsync with the server gone succeeded"
fi
took=$(($(date +%s) - start))
[ $took -le 30 ] || fail "fsync took $took s to fail (timeout=3)"
cmp "$T/b" "$m/b" || fail "the data of the failed fsync is not in the mount"

# A file open and never closed when the daemon dies.
exec 4>>"$m/keep"
printf 'never closed' >&4
crash
exec 4>&-

# Both back: the closed files reach the share whole; the one never closed
# stays as the share had it.
smb_start
mount_vol c "$m"
wait_until 60 cmp -s "$T/a" "$share/a" ||
	fail "the file closed during the outage is not on the share after both came back"
wait_until 60 cmp -s "$T/b" "$share/b" ||
	fail "the file whose fsync failed is not on the share after both came back"
cmp "$T/keep" "$share/keep" || fail "a file open at the crash was half written"
cmp "$T/a" "$m/a" || fail "the mount does not show the file uploaded"
[ -z "$(find "$share" -name '.volfs-tmp-*')" ] ||
	fail "temporary files were left on the share"
wait_until 10 none_dirty || fail "files are still counted as dirty"
"$VOLFS" umount "$m"

# The cap: a writer past it gets ENOSPC, the cache stays within it.
expect_exit 0 smb_create cap -o timeout=3 -o upload_delay=0 -o cache_size=16M
mount_vol cap "$T/mc"
if dd if=/dev/zero of="$T/mc/big" bs=1M count=24 2>"$T/cap.err"; then
	fail "writing 24 MiB through a 16 MiB cache succeeded"
fi
grep -q 'No space left' "$T/cap.err" || fail "the writer got $(cat "$T/cap.err"), not ENOSPC"
used=$(du -sk "$VOLFS_ROOT/volumes/cap/cache/data" | cut -f1)
[ "$used" -le $((16 * 1024 + 1024)) ] ||
	fail "the cache holds $used KiB, over its 16 MiB cap"
# Reading a file bigger than the cap streams through it.
head -c 25165824 /dev/urandom >"$T/big"
cp "$T/big" "$share/big2"
cmp "$T/big" "$T/mc/big2" || fail "a file bigger than the cache does not read whole"
used=$(du -sk "$VOLFS_ROOT/volumes/cap/cache/data" | cut -f1)
[ "$used" -le $((16 * 1024 + 1024)) ] ||
	fail "the cache holds $used KiB after a big read, over its 16 MiB cap"
exit 0
