# SPDX-License-Identifier: MIT
# Reaping reads the mount table at most once per change of it, not once
# per "mount:" attachment: with 50 shared `volfs mount` attachments and 500
# other mounts, a `volfs inspect` (two transactions that reap) opens
# /proc/self/mountinfo only a few times, and `volfs ls` on the busy table
# still drops the attachment of a mount that went away.  Runs in a mount
# namespace of its own: the host's mount table is left alone.
if [ -z "${VOLFS_TEST_NS:-}" ]; then
	command -v unshare >/dev/null 2>&1 || { echo "SKIP: unshare not found" >&2; exit 77; }
	VOLFS_TEST_NS=1 exec unshare -m --propagation private "${SHELL:-/bin/sh}" "$0" "$@"
fi
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd strace jq
# The tmpfs below is no volfs mount: lib.sh would leave it.
trap '_t09_rc=$?; umount -l "$T/other" 2>/dev/null || true; set +e; (exit $_t09_rc); _lib_cleanup' EXIT

ATTACHED=50
OTHER=500

mkdir -p "$T/mnt" "$T/att" "$T/other"
MNT=$(abspath "$T/mnt")
echo "$MNT" >>"$T/mounts"
"$VOLFS" serve -m "$MNT" --no-docker 2>"$T/serve.log" &
track_pid $!
wait_until 10 is_mounted "$MNT" || { cat "$T/serve.log" >&2; fail "volfs serve did not mount"; }

i=0
while [ $i -lt $ATTACHED ]; do
	vol create "v$i" >/dev/null
	mount_vol "v$i" "$T/att/$i"
	i=$((i + 1))
done
# The other mounts sit on one tmpfs: detaching it at the end takes them.
mount -t tmpfs -o size=1m tmpfs "$T/other"
i=1
while [ $i -lt $OTHER ]; do
	mkdir "$T/other/$i"
	mount -t tmpfs -o size=4k tmpfs "$T/other/$i"
	i=$((i + 1))
done
echo "mount table: $(wc -l </proc/self/mountinfo) entries"

# (LeakSanitizer cannot check a traced process: not under strace.)
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	strace -f -qq -e trace=openat,open -o "$T/trace" "$VOLFS" inspect v0 >/dev/null ||
	fail "volfs inspect failed under strace"
opens=$(grep -c 'mountinfo' "$T/trace" || true)
echo "volfs inspect opened /proc/self/mountinfo $opens time(s)"
[ "$opens" -le 6 ] ||
	fail "volfs inspect read the mount table $opens times for $ATTACHED attachments"

# Still right: an attachment whose mount is gone is reaped.
umount "$(abspath "$T/att/0")"
expect_exit 0 vol inspect v0
assert_eq "$(jq -r '.[0].refcount' "$T/out")" 0 "refcount of v0 once unmounted"
assert_eq "$(ls_refs v1)" 1 "REFS of v1, still mounted"
exit 0
