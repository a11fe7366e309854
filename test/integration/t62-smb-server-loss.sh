# SPDX-License-Identifier: MIT
# An smb mount when its server goes away.  Files are staged on local disk
# and uploaded whole after their close: an upload in progress when smbd is
# killed fails within the timeout (no hang) and never leaves part of the
# file under its name, the file stays readable from the mount, and once
# the server is back the upload completes and its temporary file goes;
# what was uploaded before is intact; a server that stops answering makes
# requests fail within the timeout; once it answers the same mount works
# again.
. "$VOLFS_SRCDIR/test/servers/smb-test.sh"
smb_start
expect_exit 0 smb_create s -o timeout=3 -o cache_ttl=1
mount_vol s "$T/m"
m=$(abspath "$T/m")

# Data that was safely uploaded before the trouble (fsync returns once the
# share has it).
head -c 8388608 /dev/urandom >"$T/src"
cp "$T/src" "$m/before"
sync "$m/before" || fail "fsync of the file written before"
cmp "$T/src" "$SMB_DIR/share/before" ||
	fail "the file written before is not on the share after fsync"

# Killed in the middle of an upload: big enough to be caught on its way.
head -c 805306368 /dev/urandom >"$T/big"
cp "$T/big" "$m/during" || fail "writing the file to upload"
uploading() {
	find "$SMB_DIR/share" -maxdepth 1 -name '.volfs-tmp-*' -size +16M |
		grep -q .
}
wait_until 20 uploading || fail "the upload did not get going"
smb_kill
[ ! -e "$SMB_DIR/share/during" ] ||
	fail "part of the file reached the share under its name"
start=$(date +%s)
if sync "$m/during" 2>"$T/sync.err"; then fail "fsync with the server killed succeeded"; fi
took=$(($(date +%s) - start))
[ $took -le 30 ] || fail "fsync took $took s to fail (timeout=3)"
cat "$T/sync.err"
cmp "$T/big" "$m/during" || fail "the file not uploaded is not readable from the mount"

# Requests while the server is gone fail, quickly.
start=$(date +%s)
if ls "$m/newname-$$" 2>"$T/err"; then fail "a lookup with no server succeeded"; fi
took=$(($(date +%s) - start))
[ $took -le 10 ] || fail "a lookup with no server took $took s"
cat "$T/err"

# The server is back: the mount recovers, the interrupted upload is done
# again, whole, and the temporary file it left is removed.
smb_start
wait_until 15 cmp "$T/src" "$m/before" || fail "the mount did not recover after the restart"
wait_until 60 cmp -s "$T/big" "$SMB_DIR/share/during" ||
	fail "the interrupted upload was not completed after the restart"
wait_until 15 sh -c "! find '$SMB_DIR/share' -name '.volfs-tmp-*' | grep -q ." ||
	fail "temporary files stayed on the share: $(find "$SMB_DIR/share" -name '.volfs-tmp-*')"
echo after >"$m/after" || fail "writing after the restart"
wait_until 10 sh -c "[ \"\$(cat '$SMB_DIR/share/after' 2>/dev/null)\" = after ]" ||
	fail "a file written after the restart did not reach the share"

# A server that stops answering (SIGSTOP): failures within the timeout.
# Past cache_ttl first, so that the names are asked of the server.
sleep 2
pid=$(cat "$SMB_DIR/smbd.pid")
/bin/kill -STOP -- "-$pid"
start=$(date +%s)
if cat "$m/never-seen-$$" 2>"$T/err"; then fail "a lookup on a frozen server succeeded"; fi
if echo x >"$m/frozen" 2>>"$T/err"; then fail "a create on a frozen server succeeded"; fi
took=$(($(date +%s) - start))
/bin/kill -CONT -- "-$pid"
cat "$T/err"
[ $took -le 20 ] || fail "requests to a frozen server took $took s (timeout=3)"
wait_until 15 sh -c "echo y >'$m/thawed'" || fail "the mount did not recover after the server thawed"
wait_until 10 sh -c "[ \"\$(cat '$SMB_DIR/share/thawed' 2>/dev/null)\" = y ]" ||
	fail "a file written after the thaw did not reach the share"
expect_exit 0 vol umount "$m"
exit 0
