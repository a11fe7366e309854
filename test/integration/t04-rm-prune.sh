# SPDX-License-Identifier: MIT
# volfs rm removes the volume and its data; volfs prune removes unused
# anonymous volumes (all unused with -a), asks first unless -f.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

listed() {
	vol ls -q | grep -qx "$1"
}

# rm: the row and the whole data dir go, whatever is in it.
vol create x >/dev/null
vol create y >/dev/null
d=$(data_dir x)
mkdir -p "$d/sub/deeper"
echo data >"$d/file"
echo data >"$d/sub/deeper/file"
echo ro >"$d/readonly"
chmod 000 "$d/readonly"
chmod 500 "$d/sub/deeper"
# Links out of the volume, to canaries that must survive.
mkdir -p "$T/canarydir/sub"
echo alive >"$T/canary"
echo alive >"$T/canarydir/file"
echo alive >"$T/canarydir/sub/file"
ln -s "$T/canary" "$d/filelink"
ln -s "$T/canarydir" "$d/dirlink"
ln -s ../../../../../canarydir "$d/sub/rellink"
expect_exit 0 vol rm x
! listed x || fail "x still listed after rm"
[ ! -e "$VOLFS_ROOT/volumes/x" ] && [ ! -L "$VOLFS_ROOT/volumes/x" ] ||
	fail "x's directory survived rm"
for f in canary canarydir/file canarydir/sub/file; do
	[ "$(cat "$T/$f" 2>/dev/null)" = alive ] || fail "rm followed a symlink out of the volume: $T/$f is gone"
done
listed y || fail "rm x removed y"

# Unknown names fail; the known ones in the same call are still removed.
expect_exit 1 vol rm nosuch
assert_grep 'no such volume' "$T/err"
expect_exit 1 vol rm nosuch y
! listed y || fail "rm nosuch y did not remove y"
[ ! -e "$VOLFS_ROOT/volumes/y" ] || fail "y's directory survived rm"

# Several at once.
vol create r1 >/dev/null
vol create r2 >/dev/null
expect_exit 0 vol rm r1 r2
! listed r1 && ! listed r2 || fail "rm r1 r2 left one"

# prune: only unused anonymous volumes, after a yes.
vol create n1 >/dev/null
vol create --label keep=yes n2 >/dev/null
vol create --label keep=no n3 >/dev/null
a1=$(vol create)
a2=$(vol create --label keep=yes)
a3=$(vol create)
mount_vol "$a3" "$T/m3"

expect_exit 0 vol ls -q
sort "$T/out" >"$T/before"
_lib_run vol prune </dev/null
vol ls -q | sort | cmp -s - "$T/before" || fail "prune without an answer removed volumes"
echo n | vol prune >/dev/null 2>&1 || true
vol ls -q | sort | cmp -s - "$T/before" || fail "prune answered 'n' removed volumes"

echo y | vol prune >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "prune answered 'y' failed"; }
! listed "$a1" || fail "prune kept unused anonymous $a1"
! listed "$a2" || fail "prune kept unused anonymous $a2"
[ ! -e "$VOLFS_ROOT/volumes/$a1" ] || fail "prune left $a1's data"
listed "$a3" || fail "prune removed mounted anonymous $a3"
is_mounted "$(abspath "$T/m3")" || fail "prune unmounted $a3"
listed n1 && listed n2 && listed n3 || fail "prune without -a removed a named volume"

# -a: named volumes too, filtered by label.
expect_exit 0 vol prune -a -f --filter label=keep=yes
! listed n2 || fail "prune -a --filter label=keep=yes kept n2"
listed n1 && listed n3 || fail "prune --filter label=keep=yes removed others"
vol create --label keep=yes n4 >/dev/null
expect_exit 0 vol prune -a -f --filter label=keep
! listed n3 && ! listed n4 || fail "prune -a --filter label=keep kept a labelled volume"
listed n1 || fail "prune --filter label=keep removed unlabelled n1"
expect_exit 0 vol prune -a -f
! listed n1 || fail "prune -a -f kept n1"
listed "$a3" || fail "prune -a removed the mounted $a3"

# Unmounted, it goes too.
expect_exit 0 vol umount "$T/m3"
expect_exit 0 vol prune -f
expect_exit 0 vol ls -q
[ ! -s "$T/out" ] || fail "volumes left after the last prune: $(cat "$T/out")"
left=$(ls -A "$VOLFS_ROOT/volumes" 2>/dev/null || true)
[ -z "$left" ] || fail "data left in $VOLFS_ROOT/volumes: $left"
exit 0
