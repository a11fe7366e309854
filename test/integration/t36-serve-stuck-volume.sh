# SPDX-License-Identifier: MIT
# One smb volume whose server stops answering (smbd stopped with SIGSTOP)
# does not stall the other volumes of the same volfs serve: with 20
# processes stuck in it (some on a volume it was serving, some on one it
# was opening), a stat in a local volume and the plugin's Get and List
# answer within 100 ms.
. "$VOLFS_SRCDIR/test/servers/smb-test.sh"
need_cmd python3 curl jq

smbd_pid=
stuck=

# Whatever happens, smbd runs again before lib.sh stops it, and nothing
# stays stuck in the mount.
thaw() {
	[ -z "$smbd_pid" ] || /bin/kill -CONT -- "-$smbd_pid" 2>/dev/null || true
	for p in $stuck; do
		kill -KILL "$p" 2>/dev/null || true
	done
}
trap 'rc=$?; set +e; thaw; (exit $rc); _lib_cleanup' EXIT

smb_start
# Long enough that the stuck requests stay stuck while the test measures.
expect_exit 0 smb_create busy -o timeout=60 -o cache_ttl=0
expect_exit 0 smb_create cold -o timeout=60 -o cache_ttl=0
vol create -b local loc >/dev/null

serve_plugin

echo x >"$MNT/loc/f"
echo y >"$MNT/busy/f" || fail "cannot write to the smb volume"
smbd_pid=$(cat "$SMB_DIR/smbd.pid")
/bin/kill -STOP -- "-$smbd_pid"

# 16 processes stuck in the open volume, 4 on the one being opened.
i=0
while [ $i -lt 20 ]; do
	if [ $i -lt 16 ]; then
		p=$MNT/busy/new-$i
	else
		p=$MNT/cold/new-$i
	fi
	timeout 120 stat "$p" >/dev/null 2>&1 &
	stuck="$stuck $!"
	i=$((i + 1))
done
sleep 2
n=0
for p in $stuck; do
	kill -0 "$p" 2>/dev/null && n=$((n + 1))
done
[ $n -eq 20 ] || fail "only $n of 20 processes are stuck on the stopped server"

# Each stat after the kernel's caches of the serve root (1 s) ran out, so
# that it asks volfs serve again: a lookup of the volume, of the file, and
# of a name that does not exist.
rc=0
timeout 30 python3 - "$MNT/loc" >"$T/times" <<'PY' || rc=$?
import os, sys, time
d = sys.argv[1]
worst = 0.0
for i in range(6):
    time.sleep(1.2)
    t = time.monotonic()
    os.stat(os.path.join(d, "f"))
    try:
        os.stat(os.path.join(d, "missing-%d" % i))
    except FileNotFoundError:
        pass
    ms = (time.monotonic() - t) * 1000
    worst = max(worst, ms)
    print("stat %d: %.1f ms" % (i, ms))
print("worst %.1f ms" % worst)
PY
cat "$T/times"
[ $rc -ne 124 ] || fail "stats in a local volume did not answer within 30 s with another volume stuck"
[ $rc -eq 0 ] || fail "a stat in the local volume failed"
worst=$(awk '/^worst/ { print int($2) }' "$T/times")
[ "$worst" -lt 100 ] || fail "a stat in a local volume took $worst ms with another volume stuck"

# The plugin answers too.
for what in Get List Path; do
	t=$(curl -sS --max-time 30 --unix-socket "$SOCK" -X POST -o "$T/out" \
		-w '%{time_total}' --data-binary '{"Name":"loc"}' \
		"http://plugin/VolumeDriver.$what") || fail "no answer to $what"
	ms=$(awk -v t="$t" 'BEGIN { print int(t * 1000) }')
	echo "plugin $what: $ms ms"
	[ "$(jq -r '.Err // ""' "$T/out")" = "" ] || fail "$what: $(cat "$T/out")"
	[ "$ms" -lt 100 ] || fail "the plugin's $what took $ms ms with another volume stuck"
done

thaw
smbd_pid=
for p in $stuck; do
	wait "$p" 2>/dev/null || true
done
stuck=
kill -0 "$serve_pid" || fail "volfs serve died"
exit 0
