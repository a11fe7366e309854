# SPDX-License-Identifier: MIT
# volfs umount of a staged volume (the dirstore store, no server needed)
# waits, within its bound, for the daemon to upload what is due: what the
# store does not take is kept in the cache, umount says so, and the next
# mount uploads it; with a slow store umount says once what it waits for,
# and nothing is left.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq timeout
[ -e "$VOLFS_BACKEND_DIR/dirstore.so" ] ||
	skip "the dirstore backend module is not built ($VOLFS_BACKEND_DIR/dirstore.so)"

store=$T/store
mkdir "$store"
# Read by the process that serves the volume: while $T/outage exists,
# every store op fails as if the server were unreachable.
VOLFS_DIRSTORE_FAIL=$T/outage
export VOLFS_DIRSTORE_FAIL

vol create -b dirstore -o path="$store" -o upload_delay=0 sv >/dev/null

st() {
	"$VOLFS" stats --format json sv | jq -r ".[0].$1"
}
eq() {
	[ "$(st "$1")" = "$2" ]
}
# gone PID: the process has exited (a zombie nobody reaps counts).
gone() {
	! kill -0 "$1" 2>/dev/null || grep -q ') Z ' "/proc/$1/stat" 2>/dev/null
}
# lines: the content of a store file on one line, "a,b,".
lines() {
	printf '%s,' $(cat "$1")
}

mount_vol sv "$T/mnt"
mnt=$(abspath "$T/mnt")
pid=$(mount_pid sv "$mnt")
echo one >"$mnt/f"
wait_until 10 grep -qx one "$store/f" || fail "f never reached the store"

# A change the store cannot take: the outage begins once the file is open.
exec 3>>"$mnt/f"
: >"$T/outage"
echo two >&3
exec 3>&-
wait_until 10 eq dirty_files 1 || fail "no dirty file counted during the outage"

start=$(date +%s)
expect_exit 0 timeout 60 "$VOLFS" umount --timeout 20 "$mnt"
took=$(($(date +%s) - start))
[ $took -le 21 ] || fail "umount took $took s, past its bound of 20 s"
sed 's/^/  stderr: /' "$T/err"
assert_grep "^volfs: 1 file\(s\) \([0-9.]+[KMGT]?i?B\) not uploaded yet are kept in the cache and uploaded when volume 'sv' is next opened$" "$T/err"
[ "$(grep -c 'kept in the cache' "$T/err")" = 1 ] || fail "the cache was spoken of more than once"
! is_mounted "$mnt" || fail "still mounted after volfs umount"
wait_until 10 gone "$pid" || fail "daemon $pid still running after umount"
assert_eq "$(lines "$store/f")" "one," "the store's copy after the umount"
expect_exit 0 vol stats --format json sv
jq -e '.[0].served_by == null and .[0].dirty_files == 1' "$T/out" >/dev/null ||
	{ cat "$T/out" >&2; fail "stats after the umount do not show the kept file"; }

# The outage ends: the next mount uploads what was kept.
rm "$T/outage"
mount_vol sv "$T/mnt"
wait_until 30 [ "$(lines "$store/f")" = "one,two," ] ||
	fail "the kept change never reached the store: $(lines "$store/f")"
wait_until 10 eq dirty_files 0 || fail "still dirty once uploaded"
expect_exit 0 timeout 60 "$VOLFS" umount "$mnt"
assert_no_grep "kept in the cache|waiting for" "$T/err"

# A slow store: the last upload is under way when umount starts, which
# says once what it waits for and leaves nothing behind.
VOLFS_DIRSTORE_DELAY_MS=3000
export VOLFS_DIRSTORE_DELAY_MS
mount_vol sv "$T/mnt"
unset VOLFS_DIRSTORE_DELAY_MS
pid=$(mount_pid sv "$mnt")
echo three >"$mnt/g"
wait_until 5 eq dirty_files 1 || fail "no dirty file counted while it uploads"
expect_exit 0 timeout 90 "$VOLFS" umount "$mnt"
sed 's/^/  stderr: /' "$T/err"
assert_grep "^volfs: waiting for 1 file\(s\) \(6B\) to reach the store\.\.\.$" "$T/err"
[ "$(grep -c 'waiting for' "$T/err")" = 1 ] || fail "umount said more than once what it waits for"
assert_no_grep "kept in the cache" "$T/err"
wait_until 10 gone "$pid" || fail "daemon $pid still running after umount"
assert_eq "$(cat "$store/g")" three "g on the store"
eq dirty_files 0 || fail "dirty files left after the umount of a slow store"
exit 0
