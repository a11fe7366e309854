# SPDX-License-Identifier: MIT
# The store conformance suite, through struct volfs_store alone (no
# staging layer, no mount), against the smb store and a real smbd.
. "$VOLFS_SRCDIR/test/servers/smb-test.sh"
smb_start
# Under LeakSanitizer the leak check at exit of this process crashes while
# it walks a thread's dynamic TLS left by libsmbclient ("Tracer caught
# signal 11", a DTLS range that is not one); AddressSanitizer's other
# checks stay on, and t60 runs the smb store under LeakSanitizer through
# the staging layer.
VOLFS_TEST_SMB_SHARE=$SMB_SHARE VOLFS_TEST_SMB_USER=$SMB_USER \
	VOLFS_TEST_SMB_PASS=$SMB_PASS VOLFS_STORE_ONLY=smb \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	"$VOLFS_TEST_UNIT/test_store" >"$T/store.out" 2>&1 || {
	cat "$T/store.out" >&2
	fail "the store conformance suite failed against smb"
}
cat "$T/store.out"
assert_grep "configuration 'smb': store 'smb'" "$T/store.out"
assert_grep "PASSED" "$T/store.out"
# The suite's files are gone, the store's temporary ones with them.
left=$(find "$SMB_DIR/share" -mindepth 1 | head -5)
[ -z "$left" ] || fail "the suite left files on the share: $left"
exit 0
