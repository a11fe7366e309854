# SPDX-License-Identifier: MIT
# Directory listings and file data the kernel caches (volumes only volfs
# changes) follow every change made through the mount, through a second
# mount of the same volume, and across rewinddir; listings of a path=
# volume show host-side changes at once.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

# The sorted names in directory $1, on one line.
names() {
	ls -A "$1" | sort | tr '\n' ' '
}

# The listing through the mount must equal the data directory's.
same() { # mountdir hostdir what
	assert_eq "$(names "$1")" "$(names "$2")" "listing $3"
}

vol create dc >/dev/null
mount_vol dc "$T/m"
m=$(abspath "$T/m")
h=$(data_dir dc)
mkdir "$m/d"
for i in 1 2 3 4 5 6 7 8 9 10; do : >"$m/d/f$i"; done
same "$m/d" "$h/d" "after creating 10 files"
# Cached now: list again, change, list.
names "$m/d" >/dev/null
: >"$m/d/new"
same "$m/d" "$h/d" "after a create"
rm "$m/d/f1"
same "$m/d" "$h/d" "after an unlink"
mv "$m/d/f2" "$m/d/g2"
same "$m/d" "$h/d" "after a rename within"
mv "$m/d/f3" "$m/f3"
same "$m/d" "$h/d" "after a rename out"
same "$m" "$h" "of the root after a rename in"
mv "$m/f3" "$m/d/f3"
same "$m/d" "$h/d" "after a rename back in"
mkdir "$m/d/sub"
same "$m/d" "$h/d" "after a mkdir"
rmdir "$m/d/sub"
same "$m/d" "$h/d" "after a rmdir"
ln "$m/d/f4" "$m/d/hard"
ln -s f5 "$m/d/sym"
mknod "$m/d/fifo" p
same "$m/d" "$h/d" "after link, symlink, mknod"
echo data >"$m/d/f6"
same "$m/d" "$h/d" "after a write"

# A file keeps working under its other names when the name it was last
# looked up by goes (one kernel inode per file, whatever its names).
echo x >"$m/d/ha"
ln "$m/d/ha" "$m/d/hb"
assert_eq "$(cat "$m/d/hb")" x "a hard link read through its new name"
rm "$m/d/hb"
assert_eq "$(cat "$m/d/ha")" x "a file read after one of its names went"
ln "$m/d/ha" "$m/d/hc"
cat "$m/d/hc" >/dev/null
rm "$m/d/hc"
mv "$m/d/ha" "$m/d/hd"
assert_eq "$(cat "$m/d/hd")" x "a file renamed after one of its names went"
same "$m/d" "$h/d" "after the hard link changes"

# A second mount of the same volume shares the cache's invalidation.
mount_vol dc "$T/m2"
m2=$(abspath "$T/m2")
names "$m/d" >/dev/null
names "$m2/d" >/dev/null
: >"$m2/d/from2"
same "$m/d" "$h/d" "in mount 1 after a create in mount 2"
rm "$m/d/from2"
same "$m2/d" "$h/d" "in mount 2 after an unlink in mount 1"

# File data the kernel keeps across opens follows writes, truncates and
# overwrites through either mount.
printf 'first version\n' >"$m/d/data"
assert_eq "$(cat "$m2/d/data")" "first version" "data written in mount 1, read in mount 2"
printf 'v2\n' >"$m2/d/data"
assert_eq "$(cat "$m/d/data")" "v2" "data overwritten in mount 2, read in mount 1"
printf 'more\n' >>"$m/d/data"
assert_eq "$(cat "$m2/d/data")" "$(printf 'v2\nmore')" "data appended in mount 1"
truncate -s 2 "$m2/d/data"
assert_eq "$(cat "$m/d/data")" "v2" "data truncated in mount 2"
dd if=/dev/zero of="$m/d/data" bs=1 count=1 seek=1 conv=notrunc status=none
assert_eq "$(od -An -c "$m2/d/data" | tr -d ' ')" 'v\0' "data patched in mount 1"
assert_eq "$(od -An -c "$h/d/data" | tr -d ' ')" 'v\0' "data patched, in the data dir"

# rewinddir in one open directory sees a change made meanwhile.
if command -v python3 >/dev/null 2>&1; then
	python3 - "$m/d" <<'EOF' || fail "rewinddir did not show a new entry"
import os, sys
d = sys.argv[1]
fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
first = set(os.listdir(fd))
open(os.path.join(d, "during"), "w").close()
os.lseek(fd, 0, os.SEEK_SET)
second = set(os.listdir(fd))
os.close(fd)
sys.exit(0 if "during" in second and "during" not in first else 1)
EOF
fi
same "$m/d" "$h/d" "at the end"

# A path= volume: the host changes the directory behind volfs.
mkdir "$T/host"
vol create -o path="$T/host" dp >/dev/null
mount_vol dp "$T/p"
p=$(abspath "$T/p")
: >"$T/host/a"
same "$p" "$T/host" "of a path= volume"
: >"$T/host/b"
same "$p" "$T/host" "of a path= volume after a host-side create"
rm "$T/host/a"
same "$p" "$T/host" "of a path= volume after a host-side unlink"
exit 0
