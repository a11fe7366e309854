# SPDX-License-Identifier: MIT
# encrypt=required: refused at create by a server that does not encrypt;
# works (and the session is encrypted, as smbd reports) with one that
# requires it; and a mount whose server comes back without encryption
# fails its requests instead of going on in plaintext, printing nothing.
SMB_ENCRYPT=off
. "$VOLFS_SRCDIR/test/servers/smb-test.sh"
need_cmd smbstatus
smb_start

expect_fail smb_create e -o encrypt=required
assert_grep "refuses SMB3 encryption, which encrypt=required demands" "$T/err"
assert_eq "$(vol ls -q | wc -l)" 0 "volumes after the refused create"
# Without the requirement the same server is fine.
expect_exit 0 smb_create plain -o encrypt=desired
assert_eq "$(cat "$T/out")" plain "the whole output of create (nothing of libsmbclient)"
mount_vol plain "$T/p"
echo p >"$T/p/f" || fail "writing to a share without encryption, encrypt=desired"
expect_exit 0 vol umount "$(abspath "$T/p")"
expect_exit 0 vol rm plain

smb_stop
smb_encrypt required
smb_start
expect_exit 0 smb_create e -o encrypt=required -o timeout=3
mkdir "$T/m"
m=$(abspath "$T/m")
echo "$m" >>"$T/mounts"
vol --log-level info mount -f e "$m" >"$T/fg.out" 2>"$T/fg.err" &
fg=$!
track_pid $fg
wait_until 10 is_mounted "$m" || { cat "$T/fg.err" >&2; fail "the mount did not come up"; }
echo secret-data >"$m/f" || fail "writing through an encrypted session"
# Uploaded after the close; fsync waits for it.
sync "$m/f" || fail "uploading through an encrypted session"
assert_eq "$(cat "$SMB_DIR/share/f")" secret-data "the file on the share"
smbstatus -s "$SMB_DIR/smb.conf" -b >"$T/status" 2>/dev/null
cat "$T/status"
assert_grep "$SMB_USER .*AES-(128|256)-(GCM|CCM)" "$T/status"
assert_no_grep "$SMB_USER .*SMB3_11 +- " "$T/status"

# The server returns without encryption: no plaintext session.
smb_stop
smb_encrypt off
smb_start
sleep 0.5
# A name never looked up must reach the server.
if ls "$m/new-$$" 2>"$T/err"; then fail "a lookup went through without encryption"; fi
cat "$T/err"
assert_grep "Permission denied" "$T/err"
wait_until 5 grep -q "no longer offers SMB3 encryption" "$T/fg.err" ||
	{ cat "$T/fg.err" >&2; fail "the daemon did not say why"; }
smbstatus -s "$SMB_DIR/smb.conf" -b >"$T/status" 2>/dev/null
assert_no_grep "$SMB_USER" "$T/status"
expect_exit 0 vol umount "$m"
wait_until 30 sh -c "! kill -0 $fg" || fail "the daemon did not exit"
[ ! -s "$T/fg.out" ] || { cat "$T/fg.out" >&2; fail "something was printed on the daemon's stdout"; }
exit 0
