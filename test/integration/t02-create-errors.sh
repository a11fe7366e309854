# SPDX-License-Identifier: MIT
# volfs create: bad names, bad options and duplicates fail with a message
# and leave nothing behind; good names work.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq

# No volume, no data dir.
assert_nothing() {
	# Without a catalog there is nothing to list (ls would say so).
	if [ -e "$VOLFS_ROOT/catalog.db" ]; then
		expect_exit 0 vol ls -q
		if [ -s "$T/out" ]; then
			cat "$T/out" >&2
			fail "$1: a volume was created"
		fi
	fi
	if [ -d "$VOLFS_ROOT/volumes" ] && [ -n "$(ls -A "$VOLFS_ROOT/volumes")" ]; then
		ls -la "$VOLFS_ROOT/volumes" >&2
		fail "$1: something was left in $VOLFS_ROOT/volumes"
	fi
}

long256=$(printf 'a%.0s' $(seq 1 256))
long255=$(printf 'b%.0s' $(seq 1 255))
tab=$(printf 'a\tb')
nl=$(printf 'a\nb')
ctl=$(printf 'a\001b')
esc=$(printf 'a\033b')

for name in '../x' 'a/b' '/abs' '' '.' '..' '.hidden' "$long256" "$tab" \
	"$nl" "$ctl" "$esc" 'a b' 'x:y' 'ä' '_x' 'a*'; do
	expect_exit 2 vol create -- "$name"
	[ -s "$T/err" ] || fail "invalid name '$name' refused without a message"
	assert_nothing "invalid name '$name'"
done
# A leading '-' without '--' is an unknown flag: a usage error.
expect_exit 2 vol create -zzz
expect_exit 2 vol create -- -dash
assert_nothing "name -dash"
[ ! -e "$T/x" ] && [ ! -e "$VOLFS_ROOT/x" ] || fail "'../x' created something"

# Options are validated by the backend; the key is named.
expect_exit 1 vol create -o bogus=1 v1
assert_grep 'bogus' "$T/err"
assert_nothing "unknown option"
expect_exit 1 vol create -o path="$T/missing/dir" v1
assert_grep 'path' "$T/err"
assert_nothing "-o path= of a missing dir"
: >"$T/afile"
expect_exit 1 vol create -o path="$T/afile" v1
assert_grep 'path' "$T/err"
assert_nothing "-o path= of a file"
expect_fail vol create -o novalue v1
[ $rc -le 2 ] || fail "-o without '=' exited $rc"
assert_nothing "-o without '='"

# Unknown backend.
expect_exit 1 vol create -b nosuchbackend v1
assert_grep 'nosuchbackend' "$T/err"
assert_nothing "unknown backend"
expect_exit 1 vol create --backend nosuchbackend v1
assert_nothing "unknown backend (--backend)"
expect_exit 1 vol create -b ../local v1
assert_nothing "backend name with a path"

# Good names: prints the name, makes the data dir.
for name in a A0 'a_b.c-d' "$long255" 0x; do
	expect_exit 0 vol create "$name"
	assert_eq "$(cat "$T/out")" "$name" "create output"
	[ -d "$(data_dir "$name")" ] || fail "no data dir for '$name'"
done
expect_exit 0 vol create -b local explicit
expect_exit 0 vol inspect explicit
jq -e '.[0].backend == "local"' "$T/out" >/dev/null || fail "-b local: backend is not local"
expect_exit 0 vol create implicit
expect_exit 0 vol inspect implicit
jq -e '.[0].backend == "local"' "$T/out" >/dev/null || fail "the default backend is not local"

# Duplicates fail and keep the first volume's data.
echo keep >"$(data_dir a)/keep"
expect_exit 1 vol create a
assert_grep 'already exists' "$T/err"
expect_exit 1 vol create -o bogus=1 a
[ "$(cat "$(data_dir a)/keep")" = keep ] || fail "a failed duplicate create touched the data"
expect_exit 0 vol ls -q
[ "$(grep -cx a "$T/out")" -eq 1 ] || fail "volume 'a' listed other than once"

# Anonymous volumes: 64 hex digits, all different.
expect_exit 0 vol create
anon1=$(cat "$T/out")
echo "$anon1" | grep -qxE '[0-9a-f]{64}' || fail "anonymous name '$anon1' is not 64 hex digits"
expect_exit 0 vol create
anon2=$(cat "$T/out")
[ "$anon1" != "$anon2" ] || fail "two anonymous volumes got the same name"
[ -d "$(data_dir "$anon1")" ] || fail "no data dir for the anonymous volume"
exit 0
