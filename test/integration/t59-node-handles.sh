# SPDX-License-Identifier: MIT
# Nodes of the local backend that hold a file handle instead of a
# descriptor (what it gives the files the kernel knows once the process's
# descriptors run short) behave as nodes with one.  VOLFS_LOCAL_NODE_FDS,
# a knob for tests read by the local backend only, gives node descriptors
# only below 16, so nearly every node has a handle; then, on a local
# volume, a ram volume in the tmpfs store (served by the local backend's
# code) and a local volume under volfs serve:
#  - the posixops checks pass;
#  - listing 2,000 files with ls -l leaves the daemon with few descriptors;
#  - a file replaced on the host by another that got the same inode number
#    reads as the new file, not as the deleted one (local volume);
#  - the hard link, deep path and rename race tests pass.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

VOLFS_LOCAL_NODE_FDS=16
export VOLFS_LOCAL_NODE_FDS
posixops=${VOLFS_TEST_HELPERS:-}/posixops
[ -x "$posixops" ] || fail "posixops helper not built ($posixops)"
need_cmd jq

# The volumes to check, as NAME=DIR=PID words (PID: the daemon's).
vol create loc >/dev/null
mount_vol loc "$T/loc"
d=$(abspath "$T/loc")
TARGETS="local=$d=$(mount_pid loc "$d")"
if [ -e "$VOLFS_BACKEND_DIR/ram.so" ]; then
	vol create -b ram -o size=256m -o store=tmpfs ram >/dev/null
	mount_vol ram "$T/ram"
	d=$(abspath "$T/ram")
	TARGETS="$TARGETS ram-tmpfs=$d=$(mount_pid ram "$d")"
else
	echo "the ram backend module is not built: ram volumes not checked"
fi
mkdir "$T/srv"
srv=$(abspath "$T/srv")
echo "$srv" >>"$T/mounts"
"$VOLFS" serve -m "$srv" --no-docker 2>"$T/serve.err" &
serve_pid=$!
track_pid $serve_pid
wait_until 10 is_mounted "$srv" ||
	{ cat "$T/serve.err" >&2; fail "volfs serve did not mount $srv"; }
vol create served >/dev/null
TARGETS="$TARGETS served=$srv/served=$serve_pid"

# With a descriptor per node, the listing alone would take 2,000.
FILES=2000
MAX_FDS=100

check() {
	dir=${1%=*} pid=${1##*=}
	"$posixops" "$dir" >"$T/posixops.out" 2>&1 || {
		cat "$T/posixops.out"
		fail "posixops: $(grep -c '^FAIL' "$T/posixops.out") checks failed"
	}
	assert_grep '^posixops: [0-9]+ passed, 0 failed$' "$T/posixops.out"

	mkdir "$dir/many"
	(cd "$dir/many" && seq -f 'f%.0f' 1 $FILES | xargs touch) ||
		fail "making $FILES files"
	assert_eq "$(ls -l "$dir/many" | grep -c '^-')" $FILES "files listed by ls -l"
	# The kernel holds every file listed: the nodes are still there.
	fds=$(ls "/proc/$pid/fd" | wc -l)
	echo "$name: $fds descriptors after listing $FILES files"
	[ "$fds" -lt $MAX_FDS ] ||
		fail "the daemon holds $fds descriptors after listing $FILES files (at most $MAX_FDS expected)"
	echo data >"$dir/many/f7"
	assert_eq "$(cat "$dir/many/f7")" data "a listed file written and read"
	rm -r "$dir/many"
}

check_targets "nodes with file handles broken"

# A deleted file's inode number is soon a new file's (on ext4, at once).
# Names cached long, attributes not: the kernel asks for the attributes of
# the node it has, whose handle no longer opens, and looks the name up
# again.
vol create reuse >/dev/null
mount_vol reuse "$T/reuse" entry_timeout=60,attr_timeout=0
m=$(abspath "$T/reuse")
data=$(data_dir reuse)
echo old >"$m/r"
assert_eq "$(cat "$m/r")" old "r before the host replaced it"
ino=$(stat -c %i "$data/r")
rm "$data/r"
i=0
while [ $i -lt 200 ]; do
	i=$((i + 1))
	echo "new $i" >"$data/n$i"
	if [ "$(stat -c %i "$data/n$i")" = "$ino" ]; then
		mv "$data/n$i" "$data/r"
		break
	fi
done
if [ -e "$data/r" ]; then
	assert_eq "$(cat "$m/r")" "new $i" "r after the host replaced it by a file with its inode number"
	assert_eq "$(stat -c %s "$m/r")" "$(stat -c %s "$data/r")" "size of the new r"
	rm "$data/r"
	[ ! -e "$m/r" ] || fail "r still there after the host removed it"
	echo "a file replaced on the host by one with its inode number: ok"
else
	echo "the file system gave none of 200 new files the inode number of a deleted one: not checked"
fi

# The tests of other behaviours, on nodes with handles.
for t in t54-hardlinks t55-deep-paths t56-rename-race; do
	rc=0
	sh "$VOLFS_SRCDIR/test/integration/$t.sh" >"$T/$t.out" 2>&1 || rc=$?
	sed "s/^/$t: /" "$T/$t.out"
	case $rc in
	0) ;;
	77) echo "$t skipped" ;;
	*) fail "$t failed with node handles (exit $rc)" ;;
	esac
done
exit 0
