# SPDX-License-Identifier: MIT
# The POSIX checks of test/helpers/posixops pass on a mounted volume.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

posixops=${VOLFS_TEST_HELPERS:-}/posixops
[ -x "$posixops" ] || fail "posixops helper not built ($posixops)"

vol create p >/dev/null
mount_vol p "$T/mnt"
rc=0
"$posixops" "$T/mnt" >"$T/posixops.out" 2>&1 || rc=$?
cat "$T/posixops.out"
[ $rc -eq 0 ] || fail "posixops on the mount: exit $rc ($(grep -c '^FAIL' "$T/posixops.out") checks failed)"
assert_grep '^posixops: [0-9]+ passed, 0 failed$' "$T/posixops.out"

# It left the volume as it found it, and the mount still works.
left=$(ls -A "$T/mnt")
[ -z "$left" ] || fail "posixops left files in the volume: $left"
echo after >"$T/mnt/after"
assert_eq "$(cat "$(data_dir p)/after")" after "write after posixops"
exit 0
