# SPDX-License-Identifier: MIT
# volfs ls (table, -q, json, filters) and volfs inspect (JSON fields).
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq

mkdir "$T/host"
vol create --label env=prod --label tier=web alpha >/dev/null
vol create --label env=dev beta >/dev/null
vol create -o path="$T/host" gamma >/dev/null
anon=$(vol create)

# ls -q: names only, one per line.
expect_exit 0 vol ls -q
printf '%s\n' alpha beta gamma "$anon" | sort >"$T/want"
sort "$T/out" >"$T/got"
cmp -s "$T/want" "$T/got" || { diff "$T/want" "$T/got" >&2; fail "ls -q lists the wrong names"; }

# The table: a header with BACKEND NAME REFS, one row per volume.
expect_exit 0 vol ls
assert_grep '^BACKEND +NAME +REFS' "$T/out"
[ "$(wc -l <"$T/out")" -eq 5 ] || fail "ls table: expected a header and 4 rows"
for name in alpha beta gamma "$anon"; do
	assert_grep "^local +$name +0( |\$)" "$T/out"
done
assert_eq "$(ls_refs alpha)" 0 "REFS of alpha"
expect_exit 0 vol ls --format table
assert_grep '^BACKEND +NAME +REFS' "$T/out"

# JSON: an array of objects with name and backend.
expect_exit 0 vol ls --format json
jq -e 'type == "array" and length == 4' "$T/out" >/dev/null ||
	fail "ls --format json is not an array of 4"
jq -r '.[].name' "$T/out" | sort >"$T/got"
cmp -s "$T/want" "$T/got" || fail "ls --format json lists the wrong names"
jq -e 'all(.[]; .backend == "local")' "$T/out" >/dev/null ||
	fail "ls --format json: backend is not local"
expect_fail vol ls --format yaml
[ $rc -le 2 ] || fail "bad --format exited $rc"

# Filters.
filter_is() {
	want=$1
	shift
	expect_exit 0 vol ls -q "$@"
	got=$(sort "$T/out" | tr '\n' ' ')
	assert_eq "$got" "$want" "ls -q $*"
}
filter_is "alpha beta " --filter label=env
filter_is "alpha " --filter label=env=prod
filter_is "beta " --filter label=env=dev
filter_is "" --filter label=env=test
filter_is "alpha " --filter label=tier
filter_is "" --filter label=nosuch
filter_is "$(printf '%s\n' alpha beta gamma "$anon" | sort | tr '\n' ' ')" --filter backend=local
filter_is "" --filter backend=ram
expect_fail vol ls --filter bogus=1
[ $rc -le 2 ] || fail "bad --filter exited $rc"

# inspect: every documented field.
expect_exit 0 vol inspect alpha
jq -e 'type == "array" and length == 1' "$T/out" >/dev/null || fail "inspect alpha: not an array of one"
check() {
	jq -e "$1" "$T/out" >/dev/null || { cat "$T/out" >&2; fail "inspect: $1"; }
}
check '.[0].name == "alpha"'
check '.[0].backend == "local"'
check '.[0].labels == {"env": "prod", "tier": "web"}'
check '.[0].options | type == "object"'
check '.[0].created != null and .[0].created != ""'
check '.[0].state | type == "string" and length > 0'
check '.[0].state_dir | type == "string" and length > 0'
check '.[0].refcount == 0'
check '.[0].mountpoints == []'
check '.[0].attachments == []'
state_dir=$(jq -r '.[0].state_dir' "$T/out")
[ -d "$state_dir" ] || fail "state_dir $state_dir is not a directory"

expect_exit 0 vol inspect gamma
check ".[0].options.path == \"$T/host\""
check '.[0].labels == {}'

# Several names: one entry each, in order.
expect_exit 0 vol inspect beta alpha "$anon"
check 'length == 3 and .[0].name == "beta" and .[1].name == "alpha"'
check ".[2].name == \"$anon\""

# Unknown names fail.
expect_exit 1 vol inspect nosuch
assert_grep 'no such volume' "$T/err"
assert_grep 'nosuch' "$T/err"
expect_exit 1 vol inspect alpha nosuch
assert_grep 'no such volume' "$T/err"

# A mounted volume: refcount, attachments, mountpoints, dangling filter.
mount_vol beta "$T/mnt"
mnt=$(abspath "$T/mnt")
expect_exit 0 vol inspect beta
check '.[0].refcount == 1'
check ".[0].mountpoints | index(\"$mnt\") != null"
check '.[0].attachments | length == 1'
check ".[0].attachments[0].consumer == \"mount:$mnt\""
check ".[0].attachments[0].target == \"$mnt\""
check '.[0].attachments[0].readonly == false'
check '.[0].attachments[0].since != null'
check '.[0].attachments[0].pid | type == "number" and . > 1'
assert_eq "$(ls_refs beta)" 1 "REFS of mounted beta"
filter_is "beta " --filter dangling=false
filter_is "$(printf '%s\n' alpha gamma "$anon" | sort | tr '\n' ' ')" --filter dangling=true
expect_exit 0 vol umount "$mnt"
filter_is "" --filter dangling=false
exit 0
