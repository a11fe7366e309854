# SPDX-License-Identifier: MIT
# The mount daemon runs valgrind-clean: no invalid access, no use of
# uninitialised memory, no leak, through the whole POSIX check and an
# unmount.  Through /dev/fuse: valgrind does not see the kernel fill
# io_uring's buffers (t25 covers the ring, also in the sanitizer build).
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd valgrind
if ldd "$VOLFS" 2>/dev/null | grep -q 'libasan'; then
	skip "volfs is built with sanitizers; valgrind cannot run it"
fi

vol create vg >/dev/null
mkdir -p "$T/mnt"
mnt=$(abspath "$T/mnt")
echo "$mnt" >>"$T/mounts"
valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
	--log-file="$T/valgrind.log" \
	"$VOLFS" mount -f -o io_uring=off vg "$mnt" 2>"$T/daemon.err" &
vgpid=$!
track_pid "$vgpid"
wait_until 60 is_mounted "$mnt" || fail "the mount under valgrind never came up"

"$VOLFS_TEST_HELPERS/posixops" "$mnt" >"$T/posix" 2>&1 ||
	{ cat "$T/posix" >&2; fail "posixops failed under valgrind"; }
ls -laR "$mnt" >/dev/null
vol umount "$mnt" || fail "umount failed"

rc=0
wait "$vgpid" || rc=$?
if [ "$rc" -ne 0 ]; then
	cat "$T/valgrind.log" >&2
	fail "the daemon exited with status $rc under valgrind"
fi
if grep -q 'ERROR SUMMARY: [1-9]' "$T/valgrind.log"; then
	cat "$T/valgrind.log" >&2
	fail "valgrind found errors"
fi
exit 0
