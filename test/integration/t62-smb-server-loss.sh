# SPDX-License-Identifier: MIT
# An smb mount when its server goes away: a write in progress when smbd is
# killed fails within the timeout (no hang) and what was written before
# is intact; a server that stops answering makes requests fail within the
# timeout; once the server is back the same mount works again.
. "$VOLFS_SRCDIR/test/servers/smb-test.sh"
need_cmd python3
smb_start
expect_exit 0 smb_create s -o timeout=3 -o cache_ttl=0.2
mount_vol s "$T/m"
m=$(abspath "$T/m")

# Data that was safely written before the trouble.
head -c 8388608 /dev/urandom >"$T/src"
cp "$T/src" "$m/before"
cmp "$T/src" "$m/before" || fail "the file written before differs"

# Killed in the middle of a big write.
head -c 268435456 /dev/urandom >"$T/big"
start=$(date +%s)
dd if="$T/big" of="$m/during" bs=1M status=none 2>"$T/dd.err" &
dd=$!
wait_until 20 sh -c "[ \$(stat -c %s '$SMB_DIR/share/during' 2>/dev/null || echo 0) -gt 16777216 ]" ||
	fail "the write did not get going"
smb_kill
rc=0
wait $dd || rc=$?
took=$(($(date +%s) - start))
[ $rc -ne 0 ] || fail "a write into a killed server succeeded"
[ $took -le 30 ] || fail "the write took $took s to fail (timeout=3)"
cat "$T/dd.err"

# Requests while the server is gone fail, quickly.
start=$(date +%s)
if ls "$m/newname-$$" 2>"$T/err"; then fail "a lookup with no server succeeded"; fi
took=$(($(date +%s) - start))
[ $took -le 10 ] || fail "a lookup with no server took $took s"
cat "$T/err"

# The server is back: the mount recovers.
smb_start
wait_until 15 cmp "$T/src" "$m/before" || fail "the mount did not recover after the restart"
# What reached the share of the interrupted file is what was written:
# writes travel several at a time, so each 1 MiB block holds its data or,
# where a write in flight never landed, nothing (a hole) -- never other
# bytes.  (What close or fsync confirmed, like "before", is all there.)
size=$(stat -c %s "$SMB_DIR/share/during")
[ "$size" -gt 0 ] || fail "nothing of the interrupted file reached the share"
python3 - "$T/big" "$SMB_DIR/share/during" <<'PY' || fail "the interrupted file holds bytes that were not written there"
import sys
src, got = open(sys.argv[1], "rb"), open(sys.argv[2], "rb")
blocks = 0
while True:
    g = got.read(1 << 20)
    if not g:
        break
    s = src.read(1 << 20)[:len(g)]
    assert g == s or g == bytes(len(g)), "block %d differs" % blocks
    blocks += 1
print("%d blocks of the interrupted file checked" % blocks)
PY
echo after >"$m/after" || fail "writing after the restart"
assert_eq "$(cat "$SMB_DIR/share/after")" after "a file written after the restart"

# A server that stops answering (SIGSTOP): failures within the timeout.
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
expect_exit 0 vol umount "$m"
exit 0
