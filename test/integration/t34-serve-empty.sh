# SPDX-License-Identifier: MIT
# volfs serve over an empty catalog: the janitor's rounds over no volumes
# (every 2 s) keep it up and answering, without a sanitizer report; a volume
# created later appears, and SIGTERM stops it cleanly.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

mkdir -p "$T/srv"
srv=$(abspath "$T/srv")
echo "$srv" >>"$T/mounts"
"$VOLFS" --log-level info serve -m "$srv" --idle-timeout 1 \
	--docker-socket "$T/plugin.sock" 2>"$T/serve.err" &
pid=$!
track_pid "$pid"
wait_until 10 sh -c "grep -q ' $srv fuse' /proc/self/mounts && stat -f '$srv' >/dev/null" ||
	{ cat "$T/serve.err" >&2; fail "volfs serve did not mount $srv"; }

# Three janitor rounds with nothing to look at.
sleep 7
kill -0 "$pid" 2>/dev/null || { cat "$T/serve.err" >&2; fail "serve died with an empty catalog"; }
[ -z "$(ls -A "$srv")" ] || fail "an empty catalog lists: $(ls -A "$srv")"
assert_no_grep 'runtime error|AddressSanitizer' "$T/serve.err"

vol create later >/dev/null
wait_until 10 test -d "$srv/later" || fail "a volume created later did not appear"
echo x >"$srv/later/x" || fail "cannot write to the new volume"

kill -TERM "$pid"
wait_until 20 not_mounted "$srv" || fail "SIGTERM left the mount"
wait_until 20 sh -c "! kill -0 $pid" || fail "serve still running after SIGTERM"
assert_no_grep 'runtime error|AddressSanitizer' "$T/serve.err"
exit 0
