# SPDX-License-Identifier: MIT
# Commands that only read or remove (ls, inspect, rm, prune, gc)
# never make a state root or a catalog: a mistyped --root fails, saying
# there is none and what to do; create makes one.  A state root on a
# read-only file system, or on a full one, is named as such, with what to
# do, by every command.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

# The tmpfs below is no volfs mount: lib.sh would leave it.
trap '_t08_rc=$?; umount -l "$T/ro" 2>/dev/null || true; set +e; (exit $_t08_rc); _lib_cleanup' EXIT

# A --root that does not exist.
typo=$T/typo
for cmd in "ls" "ls -q" "inspect x" "rm x" "prune -f" "gc"; do
	# shellcheck disable=SC2086
	expect_exit 1 vol --root "$typo" $cmd
	assert_grep "no state root '$typo'" "$T/err"
	assert_grep "volfs create" "$T/err"
	[ ! -e "$typo" ] || fail "'volfs $cmd' created the state root $typo"
done
# A root that exists but holds no catalog.
mkdir "$T/empty"
expect_exit 1 vol --root "$T/empty" ls
assert_grep "no catalog in state root '$T/empty'" "$T/err"
[ ! -e "$T/empty/catalog.db" ] || fail "ls created a catalog in $T/empty"
# Through $VOLFS_ROOT too.
VOLFS_ROOT=$typo expect_exit 1 vol ls
[ ! -e "$typo" ] || fail "ls created the state root \$VOLFS_ROOT"
# create makes it; then ls works there.
expect_exit 0 vol --root "$typo" create made
expect_exit 0 vol --root "$typo" ls -q
assert_eq "$(cat "$T/out")" made "ls after create"

# A read-only file system: a tmpfs of the test's own, remounted ro.
mkdir "$T/ro"
mount -t tmpfs -o size=8m tmpfs "$T/ro" || skip "cannot mount a tmpfs"
ro=$T/ro/state
expect_exit 0 vol --root "$ro" create keep
mount -o remount,ro "$T/ro" || fail "cannot remount $T/ro read-only"
for cmd in "ls" "inspect keep" "create other" "rm keep"; do
	# shellcheck disable=SC2086
	expect_exit 1 vol --root "$ro" $cmd
	assert_grep "read-only file system" "$T/err"
	assert_grep "$ro/catalog.db" "$T/err"
	assert_grep "remount" "$T/err"
	assert_no_grep "does not exist|No such file" "$T/err"
done
expect_exit 1 vol --root "$T/ro/new" create other
assert_grep "cannot create state root '$T/ro/new': Read-only file system" "$T/err"
umount "$T/ro"

# A full file system: a tiny tmpfs, filled up once the catalog is there.
mount -t tmpfs -o size=256k tmpfs "$T/ro" || fail "cannot mount a tmpfs"
full=$T/ro/state
expect_exit 0 vol --root "$full" create keep
dd if=/dev/zero of="$T/ro/fill" bs=4k 2>/dev/null || true
for cmd in "create other" "rm keep"; do
	# shellcheck disable=SC2086
	expect_exit 1 vol --root "$full" $cmd
	assert_grep "no space left" "$T/err"
	assert_grep "$full/catalog.db" "$T/err"
	assert_grep "free some space" "$T/err"
	assert_no_grep "disk I/O error" "$T/err"
done
expect_exit 1 vol --root "$T/ro/new" create other
assert_grep "no space left|No space left" "$T/err"
assert_no_grep "disk I/O error" "$T/err"
# With room again, everything works as before.
rm -f "$T/ro/fill"
expect_exit 0 vol --root "$full" create other
expect_exit 0 vol --root "$full" ls -q
assert_grep other "$T/out"
umount "$T/ro"
exit 0
