# SPDX-License-Identifier: MIT
# mount.volfs through util-linux: mount -T FSTAB DIR, mount -a, umount DIR.
# fstab lines with mount(8)'s and systemd's options, ro, uid=/gid=, noauto,
# a volume created by its fstab line (backend=ram,size=64m), the helper's
# -f, -s and volfs_root=, and its refusals.  mount(8) finds helpers only in
# /sbin: the test runs in a mount namespace of its own where an overlay
# adds mount.volfs to /sbin; nothing outside the namespace changes.

# Re-run in a private mount namespace before lib.sh makes $T.
if [ -z "${VOLFS_T40_NS:-}" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: needs root (mount namespaces, FUSE mounts)" >&2
		exit 77
	fi
	if ! unshare -m --propagation private true 2>/dev/null; then
		echo "SKIP: cannot make a mount namespace (unshare -m)" >&2
		exit 77
	fi
	VOLFS_T40_NS=1 exec unshare -m --propagation private sh "$0" "$@"
fi

. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq mount umount

for d in m1 m2 m3 m4 m5 m6; do
	mkdir "$T/$d"
	echo "$T/$d" >>"$T/mounts"
done
m1=$T/m1 m2=$T/m2 m3=$T/m3 m4=$T/m4 m5=$T/m5 m6=$T/m6

cat >"$T/fstab" <<EOF
# volfs volumes
v1    $m1  volfs  defaults,_netdev,nofail,x-systemd.automount  0 0
v2    $m2  volfs  ro,uid=1234,gid=4321,allow_other,x-systemd.requires=network-online.target  0 0
v1    $m3  volfs  noauto,rw,comment=manual  0 0
r1    $m4  volfs  backend=ram,size=64m,nofail,noexec  0 0
v1    $m5  volfs  noauto,bogus  0 0
nosuch $m6 volfs  noauto  0 0
EOF

vol create v1 >/dev/null
vol create v2 >/dev/null
echo one >"$(data_dir v1)/f"
echo two >"$(data_dir v2)/g"

# Remembers the daemon serving NAME on DIR, to stop it at exit.
track_mount() {
	_p=$(mount_pid "$1" "$2" 2>/dev/null || true)
	case $_p in
	'' | *[!0-9]*) ;;
	*) track_pid "$_p" ;;
	esac
}

# Without the helper, mount(8) knows no type volfs: the test depends on it.
# (Unless a volfs is installed on this machine: its helper is then shadowed
# by this build's below.)
if [ ! -e /sbin/mount.volfs ] && [ ! -e /sbin/fs.d/mount.volfs ] &&
	[ ! -e /sbin/fs/mount.volfs ]; then
	expect_fail mount -T "$T/fstab" "$m1"
	! is_mounted "$m1" || fail "$m1 mounted without mount.volfs"
else
	echo "note: an installed mount.volfs exists; this build's is put over it" >&2
fi

# mount.volfs in /sbin of this namespace only: an overlay of /sbin's real
# directory with a directory holding the link.
sbin=$(readlink -f /sbin)
mkdir "$T/helper"
ln -s "$VOLFS" "$T/helper/mount.volfs"
if ! mount -t overlay overlay -o "lowerdir=$T/helper:$sbin" "$sbin" 2>"$T/err"; then
	cat "$T/err" >&2
	skip "cannot overlay $sbin inside the test's mount namespace"
fi
[ "$(readlink /sbin/mount.volfs)" = "$VOLFS" ] ||
	fail "this build's mount.volfs is not the one visible in the namespace"

# An fstab line with mount(8)'s and systemd's options.
expect_exit 0 mount -T "$T/fstab" "$m1"
is_mounted "$m1" || fail "mount -T fstab $m1 did not mount"
track_mount v1 "$m1"
assert_eq "$(cat "$m1/f")" one "a file through the fstab mount"
echo new >"$m1/new" || fail "cannot write through the fstab mount"
assert_eq "$(cat "$(data_dir v1)/new")" new "a file written through the fstab mount"
expect_exit 0 vol inspect v1
jq -e --arg d "$m1" '.[0].attachments | map(select(.target == $d)) | length == 1' \
	"$T/out" >/dev/null || { cat "$T/out" >&2; fail "no attachment for $m1"; }

# ro, uid=, gid=, allow_other.
expect_exit 0 mount -T "$T/fstab" "$m2"
track_mount v2 "$m2"
assert_eq "$(cat "$m2/g")" two "a file through the read-only mount"
assert_eq "$(stat -c %u:%g "$m2/g")" 1234:4321 "owner with uid=/gid="
case ",$(mount_opts "$m2")," in
*,ro,*) ;;
*) fail "mount options of $m2 are '$(mount_opts "$m2")', expected ro" ;;
esac
if sh -c "echo x >'$m2/x'" 2>"$T/err"; then
	fail "wrote through a read-only fstab mount"
fi
assert_grep 'Read-only file system' "$T/err"
assert_grep "allow_other" /proc/self/mountinfo

# mount -a: mounts r1 (created by its line), skips noauto lines, and does
# not mount v1 and v2 a second time.
assert_eq "$(vol ls -q | grep -c '^r1$' || true)" 0 "r1 before mount -a"
expect_exit 0 mount -a -T "$T/fstab"
! is_mounted "$m3" || fail "mount -a mounted the noauto line on $m3"
! is_mounted "$m5" || fail "mount -a mounted the noauto line on $m5"
is_mounted "$m4" || fail "mount -a did not mount r1 on $m4"
track_mount r1 "$m4"
n=$(awk -v d="$m1" '$5 == d' /proc/self/mountinfo | wc -l)
assert_eq "$n" 1 "mounts on $m1 after mount -a"
expect_exit 0 vol ls --format json
jq -e '.[] | select(.name == "r1") | .backend == "ram" and .refcount == 1' \
	"$T/out" >/dev/null || { cat "$T/out" >&2; fail "r1 is not a ram volume with one user"; }
expect_exit 0 vol inspect r1
jq -e --arg d "$m4" '.[0].options.size == "64m" and .[0].attachments[0].target == $d' \
	"$T/out" >/dev/null || { cat "$T/out" >&2; fail "r1's options or attachment"; }
echo ram >"$m4/x" || fail "cannot write to the ram volume"
assert_eq "$(cat "$m4/x")" ram "a file in the ram volume"
# size=64m reached the backend: 70 MiB do not fit.
if head -c 70m /dev/zero >"$m4/big" 2>"$T/err"; then
	fail "70 MiB fit in a ram volume created with size=64m"
fi
assert_grep 'No space left' "$T/err"
rm -f "$m4/big"
# noexec: nothing on the volume runs.
case ",$(mount_opts "$m4")," in
*,noexec,*) ;;
*) fail "mount options of $m4 are '$(mount_opts "$m4")', expected noexec" ;;
esac
printf '#!/bin/sh\nexit 0\n' >"$m4/prog"
chmod 755 "$m4/prog"
if "$m4/prog" 2>"$T/err"; then
	fail "ran a program on a noexec mount"
fi
assert_grep 'Permission denied' "$T/err"

# A noauto line mounts when named.
expect_exit 0 mount -T "$T/fstab" "$m3"
is_mounted "$m3" || fail "the noauto line did not mount on $m3"
assert_eq "$(cat "$m3/new")" new "v1 through its second mount"

# Refusals: an unknown option, a volume that does not exist.
expect_fail mount -T "$T/fstab" "$m5"
assert_grep "unknown mount option 'bogus'" "$T/err"
! is_mounted "$m5" || fail "a refused mount left $m5 mounted"
expect_fail mount -T "$T/fstab" "$m6"
assert_grep "volume 'nosuch' does not exist" "$T/err"
assert_grep "backend=NAME" "$T/err"
! is_mounted "$m6" || fail "a refused mount left $m6 mounted"
assert_eq "$(vol ls -q | grep -c '^nosuch$' || true)" 0 "nosuch after its refused mount"
# A backend option without backend=, a bad value: named, nothing mounted.
expect_fail mount -t volfs -o size=1m v1 "$m5"
assert_grep "size=" "$T/err"
expect_fail mount -t volfs -o backend=ram,colour=red r2 "$m5"
assert_grep "colour" "$T/err"
expect_fail mount -t volfs -o uid=abc v1 "$m5"
assert_grep "uid" "$T/err"
! is_mounted "$m5" || fail "a refused mount left $m5 mounted"
assert_eq "$(vol ls -q | grep -c '^r2$' || true)" 0 "r2 after its refused mount"
# The helper's own exit status for a usage error is mount(8)'s 1, for a
# failed mount 32.
expect_exit 1 /sbin/mount.volfs v1 "$m5" -o bogus
expect_exit 32 /sbin/mount.volfs nosuch "$m5"
expect_exit 1 /sbin/mount.volfs v1 "$m5" -o debug
assert_grep "volfs mount -f -o debug" "$T/err"
expect_exit 1 /sbin/mount.volfs -t ext4 v1 "$m5"
assert_grep "type 'ext4'" "$T/err"
expect_exit 1 /sbin/mount.volfs v1
expect_exit 1 /sbin/mount.volfs v1 "$m5" -o backend=nosuchbackend
assert_grep "nosuchbackend" "$T/err"
expect_exit 32 /sbin/mount.volfs v1 "$T/missing"
assert_grep "missing" "$T/err"
! is_mounted "$m5" || fail "a refused mount left $m5 mounted"

# -s: unknown options are ignored.
expect_exit 0 mount -s -t volfs -o bogus,ro v1 "$m5"
is_mounted "$m5" || fail "mount -s did not mount on $m5"
expect_exit 0 umount "$m5"

# -f: everything is checked, nothing created or mounted.
expect_exit 0 mount -f -v -t volfs -o backend=ram,size=8m fakevol "$m5"
! is_mounted "$m5" || fail "mount -f mounted $m5"
assert_eq "$(vol ls -q | grep -c '^fakevol$' || true)" 0 "a volume created by mount -f"
expect_fail mount -f -t volfs -o backend=ram,colour=red fakevol "$m5"

# -N: mount(8) passes on the mount namespace to mount in (here a pid's).
unshare -m --propagation private sleep 600 &
nspid=$!
track_pid "$nspid"
wait_until 10 sh -c "[ \"\$(readlink /proc/$nspid/ns/mnt)\" != \"\$(readlink /proc/self/ns/mnt)\" ]" ||
	fail "no mount namespace of its own for process $nspid"
vol create v3 >/dev/null
expect_exit 0 mount -N "$nspid" -t volfs v3 "$m6"
! is_mounted "$m6" || fail "mount -N mounted in the test's own namespace"
nsenter -t "$nspid" -m sh -c "grep -q ' $m6 .* fuse.volfs v3 ' /proc/self/mountinfo" ||
	fail "mount -N did not mount in the namespace given"
pid=$(nsenter -t "$nspid" -m "$VOLFS" inspect v3 |
	jq -r --arg c "mount:$m6" '.[0].attachments[] | select(.consumer == $c) | .pid')
track_pid "$pid"
nsenter -t "$nspid" -m umount "$m6" || fail "cannot unmount $m6 in the namespace"
wait_until 30 sh -c "! kill -0 $pid" || fail "the daemon of the -N mount survived umount"
kill "$nspid"

# volfs_root=: another state directory.
expect_exit 0 mount -t volfs -o "volfs_root=$T/state2,backend=local" other "$m5"
is_mounted "$m5" || fail "volfs_root= mount did not mount"
"$VOLFS" --root "$T/state2" inspect other >"$T/out" ||
	fail "volume 'other' is not in $T/state2"
jq -e --arg d "$m5" '.[0].attachments[0].target == $d' "$T/out" >/dev/null ||
	{ cat "$T/out" >&2; fail "no attachment of 'other' in $T/state2"; }
pid=$(jq -r '.[0].attachments[0].pid' "$T/out")
track_pid "$pid"
expect_exit 0 umount "$m5"
wait_until 30 sh -c "! kill -0 $pid" || fail "the daemon of $m5 survived umount"

# umount(8): the mount goes, its daemon exits, its attachment is gone.
for pair in "v2 $m2" "r1 $m4" "v1 $m3" "v1 $m1"; do
	set -- $pair
	pid=$(mount_pid "$1" "$2")
	expect_exit 0 umount "$2"
	! is_mounted "$2" || fail "umount left $2 mounted"
	expect_exit 0 vol inspect "$1"
	jq -e --arg d "$2" '.[0].attachments | map(select(.target == $d)) | length == 0' \
		"$T/out" >/dev/null || { cat "$T/out" >&2; fail "attachment of $2 left after umount"; }
	if [ "$2" != "$m3" ]; then
		wait_until 30 sh -c "! kill -0 $pid" || fail "the daemon of $2 survived umount"
	fi
done
assert_eq "$(ls_refs v1)" 0 "REFS of v1 after umount"
assert_eq "$(ls_refs r1)" 0 "REFS of r1 after umount"
exit 0
