# SPDX-License-Identifier: MIT
# On kernels with FUSE passthrough, a local volume's files are read and
# written by the kernel itself (no READ or WRITE request reaches volfs), and
# files open several times at once, through hard links, mmap, O_APPEND,
# unlink and rename while open all behave as on the native file system;
# under volfs serve as well, for local and ram volumes.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd python3

vol create pt >/dev/null
mnt=$T/mnt
mkdir -p "$mnt"
mnt=$(abspath "$mnt")
echo "$mnt" >>"$T/mounts"
"$VOLFS" --log-level debug mount -f -o debug pt "$mnt" >"$T/log" 2>&1 &
track_pid $!
wait_until 10 is_mounted "$mnt" || fail "the debug mount did not come up"
if ! grep -q 'also asked for.*passthrough' "$T/log"; then
	skip "this kernel does not offer FUSE passthrough"
fi

cat >"$T/sem.py" <<'EOF'
import mmap, os, sys

def run(d):
    out = []
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, "a")
    # Two descriptors at once: one writes, the other sees it.
    w = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    r = os.open(p, os.O_RDONLY)
    os.write(w, b"0123456789")
    out.append(os.pread(r, 100, 0))
    # A hard link opened while the first name is open.
    q = os.path.join(d, "b")
    os.link(p, q)
    l = os.open(q, os.O_WRONLY | os.O_APPEND)
    os.write(l, b"APPEND")
    out.append(os.pread(r, 100, 0))
    # mmap through one descriptor, read through another.
    m = mmap.mmap(w, 16)
    m[0:2] = b"MM"
    m.flush()
    out.append(os.pread(r, 100, 0))
    m.close()
    # Unlinked and renamed while open.
    os.unlink(q)
    os.rename(p, os.path.join(d, "c"))
    os.pwrite(w, b"zz", 20)
    out.append(os.pread(r, 100, 0))
    out.append(os.fstat(r).st_size)
    os.ftruncate(w, 4)
    out.append(os.pread(r, 100, 0))
    for fd in (w, r, l):
        os.close(fd)
    # Another file, reopened after every descriptor of it closed.
    e = os.path.join(d, "e")
    fd = os.open(e, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"first")
    os.close(fd)
    fd = os.open(e, os.O_RDWR)
    os.write(fd, b"F")
    os.fsync(fd)
    os.close(fd)
    with open(e, "rb") as f:
        out.append(f.read())
    out.append(sorted(os.listdir(d)))
    os.unlink(os.path.join(d, "c"))
    os.unlink(e)
    return out

got = run(sys.argv[1])
want = run(sys.argv[2])
if got != want:
    print("through volfs:", got, file=sys.stderr)
    print("native:       ", want, file=sys.stderr)
    sys.exit(1)
EOF
python3 "$T/sem.py" "$mnt" "$T/native" || fail "file semantics through passthrough"

# Many files open at once (more than the table of backing files has
# chains), each twice, written through one descriptor and read through the
# other, then closed in another order.
cat >"$T/many.py" <<'EOF'
import os, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
fds = []
for i in range(400):
    p = os.path.join(d, "m%03d" % i)
    w = os.open(p, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    r = os.open(p, os.O_RDONLY)
    os.write(w, b"file %d" % i)
    fds.append((i, w, r))
for i, w, r in reversed(fds):
    if os.pread(r, 64, 0) != b"file %d" % i:
        sys.exit("m%03d reads back wrong" % i)
    os.close(w)
for i, w, r in fds:
    os.close(r)
for i in range(400):
    os.unlink(os.path.join(d, "m%03d" % i))
EOF
python3 "$T/many.py" "$mnt/many" || fail "400 files open twice at once"

# Data moved above: none of it went through volfs.
dd if=/dev/zero of="$mnt/big" bs=1M count=4 status=none
cat "$mnt/big" >/dev/null
assert_eq "$(cmp "$mnt/big" "$(data_dir pt)/big" && echo same)" same "data of a file written through passthrough"
if grep -Eq 'opcode: (READ|WRITE) ' "$T/log"; then
	grep -E 'opcode: (READ|WRITE) ' "$T/log" | head -3 >&2
	fail "READ or WRITE requests reached volfs despite passthrough"
fi

# Under serve too: a local volume and a ram volume (its tmpfs store) are
# read and written by the kernel.
vol create -b ram -o size=64m ptram >/dev/null
srv=$T/srv
mkdir -p "$srv"
srv=$(abspath "$srv")
echo "$srv" >>"$T/mounts"
"$VOLFS" --log-level debug serve -m "$srv" -o debug \
	--docker-socket "$T/plugin.sock" >"$T/slog" 2>&1 &
track_pid $!
wait_until 10 sh -c "stat -f '$srv' >/dev/null 2>&1 && [ -d '$srv/ptram' ]" ||
	{ cat "$T/slog" >&2; fail "volfs serve did not come up"; }
grep -q 'also asked for.*passthrough' "$T/slog" ||
	fail "volfs serve did not ask for passthrough"
python3 "$T/sem.py" "$srv/ptram" "$T/native2" ||
	fail "file semantics through passthrough, a ram volume under serve"
for v in pt ptram; do
	dd if=/dev/urandom of="$T/src" bs=1M count=4 status=none
	cp "$T/src" "$srv/$v/big2"
	cmp "$T/src" "$srv/$v/big2" || fail "4 MiB through serve to $v"
done
if grep -Eq 'opcode: (READ|WRITE) ' "$T/slog"; then
	grep -E 'opcode: (READ|WRITE) ' "$T/slog" | head -3 >&2
	fail "READ or WRITE requests reached volfs serve despite passthrough"
fi
exit 0
