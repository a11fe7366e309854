# SPDX-License-Identifier: MIT
# The backend conformance suite, through the ABI, against the smb backend
# and a real smbd.
. "$VOLFS_SRCDIR/test/servers/smb-test.sh"
smb_start
VOLFS_TEST_SMB_SHARE=$SMB_SHARE VOLFS_TEST_SMB_USER=$SMB_USER \
	VOLFS_TEST_SMB_PASS=$SMB_PASS VOLFS_CONF_ONLY=smb \
	"$VOLFS_TEST_UNIT/test_conformance" >"$T/conf.out" 2>&1 || {
	cat "$T/conf.out" >&2
	fail "the conformance suite failed against smb"
}
cat "$T/conf.out"
assert_grep "configuration 'smb \(a local smbd\)': backend 'smb'" "$T/conf.out"
assert_grep "PASSED" "$T/conf.out"
exit 0
