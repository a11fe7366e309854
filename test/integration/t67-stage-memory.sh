# SPDX-License-Identifier: MIT
# Memory of a staged volume is bounded: with 2,000 files of a dirstore
# volume open at once, each read 1 MiB (so each has a copy in the cache),
# the daemon's resident memory grows by less than the staging layer's
# budget (16 MiB a volume, as `volfs stats` shows it), and every file read
# what the store holds.  Under AddressSanitizer the growth is shown, not
# judged.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

[ -e "$VOLFS_BACKEND_DIR/dirstore.so" ] ||
	skip "the dirstore backend is not built"
N=2000
# The budget, and the daemon's own share of a request (FUSE buffers).
LIMIT_KIB=16384
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -gt $((N + 100)) ] ||
	skip "the descriptor limit ($(ulimit -Hn)) is below $N open files"
ulimit -n $((N + 100)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
ASAN=
if ldd "$VOLFS" 2>/dev/null | grep -q libasan; then
	ASAN=1
	echo "volfs is built with AddressSanitizer: memory growth shown, not judged"
fi

vm() {
	awk -v k="$1:" '$1 == k { print $2 }' "/proc/$2/status"
}

mkdir -p "$T/store"
i=0
while [ $i -lt $N ]; do
	printf 'file %d\n' $i >"$T/store/f$i"
	truncate -s 1M "$T/store/f$i"
	i=$((i + 1))
done
"$VOLFS" create -b dirstore -o path="$T/store" mem >/dev/null
mount_vol mem "$T/m"
pid=$(mount_pid mem "$T/m")
cat "$T/m/f0" >/dev/null
before=$(vm VmRSS "$pid")

mkfifo "$T/hold"
"$VOLFS_TEST_HELPERS/openmany" "$T/m" $N 1048576 <"$T/hold" >"$T/om.out" &
om=$!
track_pid $om
exec 9>"$T/hold"
wait_until 120 grep -q ready "$T/om.out" ||
	fail "openmany did not open and read $N files: $(cat "$T/om.out")"
after=$(vm VmRSS "$pid")
grew=$((after - before))
echo "daemon RSS: $before KiB before, $after KiB with $N files open and read (grew $grew KiB, budget $LIMIT_KIB KiB)"
exec 9>&-
wait $om || fail "openmany failed"

[ -n "$ASAN" ] || [ $grew -lt $LIMIT_KIB ] ||
	fail "the daemon grew by $grew KiB with $N open files, over the $LIMIT_KIB KiB budget"
# What was read is what the store holds.
cmp "$T/m/f1999" "$T/store/f1999" || fail "f1999 differs from the store"
cmp "$T/m/f7" "$T/store/f7" || fail "f7 differs from the store"
exit 0
