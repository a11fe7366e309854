# SPDX-License-Identifier: MIT
# A daemon serving an smb volume holds no plaintext copy of the password
# once it has connected (none of its own, none in libsmbclient, which is
# given the password's NT hash), and it leaves no core dump.
. "$VOLFS_SRCDIR/test/servers/smb-test.sh"
PY=/usr/bin/python3
[ -x "$PY" ] || skip "no $PY, which reads the daemon's memory"
smb_start
smb_create s >/dev/null

# A daemon in the foreground, in a directory of ours: a core dump, if
# any, would be written there (with the default core_pattern).
mkdir "$T/cwd" "$T/m"
m=$(abspath "$T/m")
echo "$m" >>"$T/mounts"
# (A sanitizer build leaves SIGSEGV to the kernel, as any other build does,
# instead of reporting it as a crash of its own.)
(cd "$T/cwd" && ulimit -c unlimited 2>/dev/null
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0" \
		exec "$VOLFS" mount -f s "$m") 2>"$T/daemon.log" &
pid=$!
track_pid "$pid"
wait_until 20 is_mounted "$m" || { cat "$T/daemon.log" >&2; fail "the smb volume did not mount"; }

# Connect every connection: files written and read from many processes.
# (Each batch waits for its own jobs: the daemon is one too.)  What this
# test checks is what the connections leave in memory; a parallel create
# that the server refused (seen once under AddressSanitizer: ENOMEM from
# libsmbclient) is reported and done again alone, where it must work.
jobs_=
for i in 1 2 3 4 5 6 7 8; do
	(echo "data $i" >"$m/f$i") 2>>"$T/warm.err" &
	jobs_="$jobs_ $!"
done
for j in $jobs_; do wait "$j" || true; done
for i in 1 2 3 4 5 6 7 8; do
	[ "$(cat "$m/f$i" 2>/dev/null)" = "data $i" ] ||
		echo "data $i" >"$m/f$i" || fail "cannot write $m/f$i"
done
if [ -s "$T/warm.err" ]; then
	echo "NOTE: parallel creates failed, then worked alone:" >&2
	cat "$T/warm.err" >&2
fi
jobs_=
for i in 1 2 3 4 5 6 7 8; do
	cat "$m/f$i" >/dev/null 2>>"$T/warm.err" &
	jobs_="$jobs_ $!"
done
for j in $jobs_; do wait "$j" || true; done
ls -l "$m" >/dev/null
assert_eq "$(cat "$m/f3")" "data 3" "a file through the mount"

# The password, anywhere in the daemon's memory.
n=$("$PY" "$VOLFS_SRCDIR/test/helpers/memscan.py" "$pid" "$SMB_PASS" 2>"$T/scan")
[ "$n" = 0 ] || { cat "$T/scan" >&2; fail "the daemon holds the password $n times"; }
# The scan can find what it looks for: the share's name is there.
n=$("$PY" "$VOLFS_SRCDIR/test/helpers/memscan.py" "$pid" "127.0.0.1" 2>/dev/null)
[ "$n" -gt 0 ] || fail "the memory scan finds nothing at all"

# No core dump, even when it crashes.
pattern=$(cat /proc/sys/kernel/core_pattern)
case $pattern in
'|'* | */*)
	echo "core_pattern is '$pattern': core dump check skipped" >&2
	exit 0
	;;
esac
[ "$(sh -c 'ulimit -c unlimited 2>/dev/null; ulimit -c')" = unlimited ] || {
	echo "cannot raise the core size limit: core dump check skipped" >&2
	exit 0
}
kill -SEGV "$pid"
wait_until 20 sh -c "! kill -0 $pid" || fail "the daemon did not die of SIGSEGV"
wait "$pid" 2>/dev/null || true
sleep 1
ls -A "$T/cwd" >"$T/cores"
if [ -s "$T/cores" ]; then
	grep -c "$SMB_PASS" "$T/cwd"/* >&2 || true
	fail "the daemon left a core dump: $(cat "$T/cores")"
fi
exit 0
