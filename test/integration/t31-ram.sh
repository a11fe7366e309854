# SPDX-License-Identifier: MIT
# ram volumes through a mount, in both stores: the whole POSIX check, the
# size cap (ENOSPC, honest df), root mode and owner, one instance shared by
# every mount, data gone when the serving process ends, and memory given
# back after delete.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
[ -e "$VOLFS_BACKEND_DIR/ram.so" ] || skip "the ram backend module is not built"

# The POSIX surface.
vol create -b ram -o size=1200m r >/dev/null
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

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
used() { df -k --output=used "$1" | tail -1 | tr -d ' '; }
write1g() {
	for i in 1 2 3 4; do
		dd if=/dev/zero of="$1/big$i" bs=1M count=256 status=none ||
			fail "writing 1 GiB to the ram volume $1"
	done
}

# The tmpfs store (the default for root): the kernel keeps the files, df
# counts every page of them, the daemon's own memory stays as it was, and
# a delete gives the pages back.
assert_eq "$(df --output=itotal "$r" | tail -1 | tr -d ' ')" 1228800 \
	"inodes of a 1200m tmpfs-store volume (one per KiB)"
before=$(rss "$pid")
u0=$(used "$r")
write1g "$r"
u1=$(used "$r")
[ $((u1 - u0)) -ge 1048576 ] && [ $((u1 - u0)) -le 1049600 ] ||
	fail "df counted $((u1 - u0)) KiB for 1 GiB written"
[ $(($(rss "$pid") - before)) -lt 32768 ] ||
	fail "the daemon's RSS grew from $before to $(rss "$pid") KiB: the data should be the kernel's"
echo "store=tmpfs: df used $u0 -> $u1 KiB, daemon RSS $before -> $(rss "$pid") KiB after writing 1 GiB"
rm -f "$r"/big*
# The pages go when the kernel has released and forgotten the deleted
# files (RELEASE and FORGET are sent after rm returns).
wait_until 5 sh -c "[ \$(df -k --output=used '$r' | tail -1 | tr -d ' ') = $u0 ]" ||
	assert_eq "$(used "$r")" "$u0" "df after deleting 1 GiB"

# The daemon store: the daemon's memory holds the data and gives it back
# after a delete (not under ASan, whose allocator keeps freed memory on
# purpose).
vol create -b ram -o size=1200m -o store=daemon rd >/dev/null
mount_vol rd "$T/rd"
rd=$(abspath "$T/rd")
[ "$(df --output=itotal "$rd" | tail -1 | tr -d ' ')" != 1228800 ] ||
	fail "store=daemon made a tmpfs"
"$VOLFS_TEST_HELPERS/posixops" "$rd" >"$T/posix" 2>&1 ||
	{ cat "$T/posix" >&2; fail "posixops failed on a store=daemon ram volume"; }
if ! ldd "$VOLFS" 2>/dev/null | grep -q libasan; then
	dpid=$(mount_pid rd "$rd")
	before=$(rss "$dpid")
	write1g "$rd"
	full=$(rss "$dpid")
	echo "store=daemon: RSS $before KiB, $full KiB after writing 1 GiB"
	[ $((full - before)) -gt 1000000 ] && [ $((full - before)) -lt 1150000 ] ||
		fail "RSS grew by $((full - before)) KiB for 1 GiB of data"
	rm -f "$rd"/big*
	wait_until 5 sh -c "[ \$(awk '/^VmRSS/ { print \$2 }' /proc/$dpid/status) -lt $((before + 32768)) ]" ||
		fail "RSS stayed at $(rss "$dpid") KiB after deleting (started at $before KiB)"
	echo "store=daemon: RSS $(rss "$dpid") KiB after deleting it"
fi
expect_exit 0 vol umount "$rd"

# Written through the mount, the tmpfs store's pages are the writer's:
# charged to its memory cgroup, not the daemon's (where this machine lets
# a memory cgroup be made).
cg= usage=
if [ -f /sys/fs/cgroup/memory/memory.usage_in_bytes ] &&
	mkdir "/sys/fs/cgroup/memory/volfs-t31.$$" 2>/dev/null; then
	cg=/sys/fs/cgroup/memory/volfs-t31.$$ usage=memory.usage_in_bytes
elif grep -qw memory /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null &&
	mkdir "/sys/fs/cgroup/volfs-t31.$$" 2>/dev/null; then
	cg=/sys/fs/cgroup/volfs-t31.$$ usage=memory.current
fi
if [ -n "$cg" ]; then
	before=$(rss "$pid")
	sh -c 'echo $$ >"$1/cgroup.procs" &&
		dd if=/dev/zero of="$2/cg" bs=1M count=64 status=none' sh "$cg" "$r" ||
		{ rmdir "$cg"; fail "writing 64 MiB from a memory cgroup"; }
	charged=$(cat "$cg/$usage")
	rmdir "$cg" || true
	[ "$charged" -ge $((60 << 20)) ] ||
		fail "64 MiB written from a memory cgroup charged it only $charged bytes"
	[ $(($(rss "$pid") - before)) -lt 32768 ] ||
		fail "the daemon's RSS grew by $(($(rss "$pid") - before)) KiB for 64 MiB written"
	rm -f "$r/cg"
else
	echo "no memory cgroup could be made here: not checking whose the pages are"
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

# The size cap, in both stores: ENOSPC, nothing beyond it, space back
# after delete.
for store in tmpfs daemon; do
	vol create -b ram -o size=8m -o store=$store small-$store >/dev/null
	mount_vol small-$store "$T/s-$store"
	s=$(abspath "$T/s-$store")
	assert_eq "$(df -k --output=size "$s" | tail -1 | tr -d ' ')" 8192 "df size of an 8m $store volume"
	if dd if=/dev/zero of="$s/fill" bs=1M count=16 status=none 2>"$T/err"; then
		fail "writing 16 MiB into an 8 MiB $store volume succeeded"
	fi
	assert_grep "No space left on device" "$T/err"
	[ "$(stat -c %s "$s/fill")" -le 8388608 ] || fail "the file grew past the cap ($store)"
	rm "$s/fill"
	dd if=/dev/zero of="$s/again" bs=1M count=4 status=none ||
		fail "writing after freeing space failed ($store)"
	rm "$s/again"
	# Inodes count against size= too: beside 2,000 empty files (at
	# least 256 bytes each in either store) data gets less.
	(cd "$s" && seq -f 'e%g' 1 2000 | xargs touch) ||
		fail "making 2,000 files in an 8 MiB $store volume"
	if dd if=/dev/zero of="$s/fill" bs=1M count=16 status=none 2>"$T/err"; then
		fail "writing 16 MiB beside 2,000 files into an 8 MiB $store volume succeeded"
	fi
	sz=$(stat -c %s "$s/fill")
	echo "$store: $sz bytes of data beside 2,000 files in 8 MiB"
	[ $((sz + 2000 * 256)) -le 8388608 ] ||
		fail "data and inodes passed size= ($store): $sz bytes beside 2,000 files"
	expect_exit 0 vol umount "$s"
done

# Options: root mode and owner, and bad values.
vol create -b ram -o mode=0750 -o uid=1000 -o gid=1000 owned >/dev/null
mount_vol owned "$T/o"
assert_eq "$(stat -c %a:%u:%g "$T/o")" 750:1000:1000 "root of a ram volume with mode/uid/gid"
expect_exit 1 vol create -b ram -o size=12x bad
assert_grep "size" "$T/err"
expect_exit 1 vol create -b ram -o store=disk bad
assert_grep "option 'store': 'disk' is not one of auto, tmpfs, daemon" "$T/err"
expect_exit 1 vol create -b ram -o mode=99999 bad
assert_grep "mode" "$T/err"
exit 0
