# SPDX-License-Identifier: MIT
# fsx (xfstests' file system exerciser) finds no wrong byte in a staged
# volume: reads, writes, truncates, mmap and closes mixed at random on a
# dirstore volume, through the data cache and its uploads; after umount
# the store holds what fsx left.
#
# Runs when VOLFS_FSX names an fsx binary (built from xfstests' ltp/fsx.c);
# VOLFS_FSX_OPS sets the number of operations (default 100000).
. "$VOLFS_SRCDIR/test/integration/lib.sh"

[ -n "${VOLFS_FSX:-}" ] ||
	skip "VOLFS_FSX is not set (an fsx binary, from xfstests' ltp/fsx.c)"
[ -x "$VOLFS_FSX" ] || fail "VOLFS_FSX=$VOLFS_FSX is not an executable"
[ -e "$VOLFS_BACKEND_DIR/dirstore.so" ] ||
	skip "the dirstore backend is not built"
OPS=${VOLFS_FSX_OPS:-100000}

mkdir -p "$T/store"
"$VOLFS" create -b dirstore -o path="$T/store" -o upload_delay=0 fx >/dev/null
mount_vol fx "$T/m"
# Closes and reopens now and then (-c), so uploads run between.
(cd "$T/m" && "$VOLFS_FSX" -q -N "$OPS" -c 1000 -S 7 fsxfile) >"$T/fsx.out" 2>&1 || {
	tail -40 "$T/fsx.out" >&2
	fail "fsx found a wrong byte on the staged volume (seed 7)"
}
tail -1 "$T/fsx.out"
cp "$T/m/fsxfile" "$T/last"
"$VOLFS" umount "$T/m"
cmp "$T/store/fsxfile" "$T/last" ||
	fail "the store does not hold what fsx last wrote"
exit 0
