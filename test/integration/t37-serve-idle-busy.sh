# SPDX-License-Identifier: MIT
# volfs serve's janitor lets go of volumes that are unused, never of one in
# use through open files only: a volume whose file is read for 10 s (its
# reads may never reach volfs: passthrough) is not invalidated once, while
# an unused one is, with --idle-timeout 1.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd python3

mkdir -p "$T/mnt"
MNT=$(abspath "$T/mnt")
echo "$MNT" >>"$T/mounts"

vol create busy >/dev/null
vol create idle >/dev/null
vol create -b ram busyram >/dev/null
"$VOLFS" --log-level debug serve -m "$MNT" --no-docker --idle-timeout 1 \
	2>"$T/serve.log" &
track_pid $!
wait_until 10 is_mounted "$MNT" || { cat "$T/serve.log" >&2; fail "volfs serve did not mount"; }

head -c 4194304 /dev/urandom >"$MNT/busy/f"
head -c 4194304 /dev/urandom >"$MNT/busyram/f"
ls "$MNT/idle" >/dev/null

# One process per volume reads its open file over and over for 10 s,
# never looking a name up again.
python3 - "$MNT/busy/f" "$MNT/busyram/f" <<'PY' || fail "streaming reads failed"
import os, sys, threading, time
def stream(path):
    fd = os.open(path, os.O_RDONLY)
    end = time.monotonic() + 10
    n = 0
    while time.monotonic() < end:
        n += len(os.pread(fd, 1 << 20, (n % 4) << 20))
    os.close(fd)
    print("%s: %d MiB read" % (path, n >> 20))
ts = [threading.Thread(target=stream, args=(p,)) for p in sys.argv[1:]]
for t in ts:
    t.start()
for t in ts:
    t.join()
PY

grep "invalidating volume" "$T/serve.log" | sort | uniq -c
busy=$(grep -c "invalidating volume 'busy'" "$T/serve.log" || true)
busyram=$(grep -c "invalidating volume 'busyram'" "$T/serve.log" || true)
idle=$(grep -c "invalidating volume 'idle' (idle)" "$T/serve.log" || true)
[ "$idle" -ge 1 ] || fail "the unused volume was never invalidated"
assert_eq "$busy" 0 "invalidations of the volume read through an open file"
assert_eq "$busyram" 0 "invalidations of the ram volume read through an open file"
exit 0
