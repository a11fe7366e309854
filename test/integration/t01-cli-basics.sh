# SPDX-License-Identifier: MIT
# The command line itself: version, --help everywhere, exit codes 0/1/2.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

# version: "volfs X.Y.Z (backend ABI 3)"
expect_exit 0 vol version
assert_grep '^volfs [0-9]+\.[0-9]+\.[0-9]+ \(backend ABI 3\)$' "$T/out"
[ "$(wc -l <"$T/out")" -eq 1 ] || fail "version printed more than one line"

# Top-level help.
expect_exit 0 vol --help
assert_grep 'Usage' "$T/out"
for cmd in create ls inspect rm prune mount umount version; do
	assert_grep "^ +$cmd " "$T/out"
done

# Every command has --help on stdout, exit 0, without touching the state.
for cmd in create ls inspect rm prune mount umount version; do
	expect_exit 0 vol "$cmd" --help
	[ -s "$T/out" ] || fail "'volfs $cmd --help' printed nothing on stdout"
	assert_grep "[Uu]sage:.*$cmd" "$T/out"
done
[ ! -e "$VOLFS_ROOT/catalog.db" ] || fail "--help created the catalog"

# The options a command documents are in its help.
expect_exit 0 vol create --help
assert_grep '--backend' "$T/out"
assert_grep '--label' "$T/out"
expect_exit 0 vol ls --help
assert_grep '--format' "$T/out"
assert_grep '--filter' "$T/out"
expect_exit 0 vol prune --help
assert_grep '--filter' "$T/out"
expect_exit 0 vol mount --help
assert_grep 'allow_other' "$T/out"

# Usage errors: exit 2 with a message on stderr.
usage_error() {
	expect_exit 2 vol "$@"
	[ -s "$T/err" ] || fail "usage error without a message: volfs $*"
}
usage_error
usage_error nosuchcommand
assert_grep 'nosuchcommand' "$T/err"
usage_error --bogus-flag ls
usage_error --log-level loud ls
usage_error ls --bogus-flag
usage_error ls extra-argument
usage_error create --bogus-flag x
usage_error create one two
usage_error inspect
usage_error rm
usage_error rm --bogus-flag x
usage_error prune extra-argument
usage_error mount onlyname
usage_error mount a b c
usage_error mount --bogus-flag a "$T"
usage_error umount
usage_error umount a b
usage_error version extra

# Usage errors change nothing: not even a state root is made.
[ ! -e "$VOLFS_ROOT" ] || fail "usage errors made the state root $VOLFS_ROOT"

# A working command exits 0, a failing one 1.
expect_exit 0 vol create first
assert_eq "$(cat "$T/out")" first "create output"
expect_exit 1 vol inspect nosuchvolume
[ -s "$T/err" ] || fail "failure without a message"

# --root and $VOLFS_ROOT choose the state directory; --root wins.
expect_exit 0 vol --root "$T/other" create elsewhere
[ -e "$T/other/catalog.db" ] || fail "--root did not put the catalog in $T/other"
expect_exit 0 vol ls -q
assert_eq "$(cat "$T/out")" first "volumes under \$VOLFS_ROOT"
expect_exit 0 vol --root "$T/other" ls -q
assert_eq "$(cat "$T/out")" elsewhere "volumes under --root"
expect_exit 0 env VOLFS_ROOT="$T/other" "$VOLFS" ls -q
assert_eq "$(cat "$T/out")" elsewhere "volumes under VOLFS_ROOT=$T/other"

# --log-level accepts the documented levels.
for level in err warning notice info debug; do
	expect_exit 0 vol --log-level "$level" ls -q
done
exit 0
