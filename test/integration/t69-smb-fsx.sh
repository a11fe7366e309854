# SPDX-License-Identifier: MIT
# fsx (xfstests' file system exerciser) finds no wrong byte in an smb
# volume, through the staging cache to a real smbd; after umount the share
# holds what fsx left.
#
# Runs when VOLFS_FSX names an fsx binary (built from xfstests' ltp/fsx.c);
# VOLFS_FSX_OPS sets the number of operations (default 100000).
if [ -z "${VOLFS_FSX:-}" ]; then
	echo "SKIP: VOLFS_FSX is not set (an fsx binary, from xfstests' ltp/fsx.c)" >&2
	exit 77
fi
. "$VOLFS_SRCDIR/test/servers/smb-test.sh"
[ -x "$VOLFS_FSX" ] || fail "VOLFS_FSX=$VOLFS_FSX is not an executable"
OPS=${VOLFS_FSX_OPS:-100000}

smb_start
"$VOLFS" create -b smb -o share="$SMB_SHARE" -o username="$SMB_USER" \
	-o password="$SMB_PASS" -o encrypt=off -o upload_delay=0 fx >/dev/null
mount_vol fx "$T/m"
(cd "$T/m" && "$VOLFS_FSX" -q -N "$OPS" -c 1000 -S 7 fsxfile) >"$T/fsx.out" 2>&1 || {
	tail -40 "$T/fsx.out" >&2
	fail "fsx found a wrong byte on the smb volume (seed 7)"
}
tail -1 "$T/fsx.out"
cp "$T/m/fsxfile" "$T/last"
"$VOLFS" umount "$T/m"
cmp "$SMB_DIR/share/fsxfile" "$T/last" ||
	fail "the share does not hold what fsx last wrote"
exit 0
