# SPDX-License-Identifier: MIT
# A mount with uid=1000,gid=1000 shows every file as uid 1000's, and uid
# 1000 reads and writes them all; but what only a file's owner may do
# (chmod, chown, chgrp, setting times, other attributes, hard links to
# set-ID programs) it may do only to the files it really owns.  Above all
# it cannot make a root-owned program set-user-ID and run it from the host.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd setpriv setfattr

as_user() {
	setpriv --reuid=1000 --regid=1000 --clear-groups "$@"
}

h=$T/h
mkdir "$h"
cp /usr/bin/id "$h/id"
chmod 0755 "$h/id"
echo secret >"$h/rootonly"
chmod 0600 "$h/rootonly"
mkdir "$h/rootdir"
chmod 0755 "$h/rootdir"
cp /usr/bin/id "$h/suid"
chmod 4755 "$h/suid"
# A world-writable sticky directory, as /tmp, for uid 1000's own files.
mkdir "$h/pub"
chmod 1777 "$h/pub"
vol create -o path="$h" pv >/dev/null
mount_vol pv "$T/mnt" uid=1000,gid=1000,allow_other
mnt=$(abspath "$T/mnt")

# The mapping: every file shows as uid 1000's.
assert_eq "$(stat -c %u:%g "$mnt/id")" 1000:1000 "owner shown for id"
assert_eq "$(stat -c %u:%g "$h/id")" 0:0 "owner of id on the host"

# The escalation: chmod 4755 of root's program, then run it from the host.
expect_fail as_user chmod 4755 "$mnt/id"
assert_grep 'Operation not permitted' "$T/err"
assert_eq "$(stat -c %a "$h/id")" 755 "mode of root's id on the host"
out=$(as_user "$h/id")
case $out in
*'euid=0'*) fail "uid 1000 ran root's id as root: $out" ;;
esac
expect_fail as_user chmod u+s "$mnt/id"
assert_eq "$(stat -c %a "$h/id")" 755 "mode of root's id after chmod u+s"

# Root's 0600 file: readable and writable through the mapping, but its
# mode, group, owner and times stay root's to change.
assert_eq "$(as_user cat "$mnt/rootonly")" secret "uid 1000 reading root's file"
as_user sh -c "echo more >>'$mnt/rootonly'" || fail "uid 1000 cannot write root's file"
expect_fail as_user chmod 0644 "$mnt/rootonly"
assert_eq "$(stat -c %a "$h/rootonly")" 600 "mode of root's 0600 file"
expect_fail as_user chgrp 1000 "$mnt/rootonly"
assert_eq "$(stat -c %g "$h/rootonly")" 0 "group of root's file"
expect_fail as_user chown 1000 "$mnt/rootonly"
expect_fail as_user chown 1000:1000 "$mnt/rootonly"
assert_eq "$(stat -c %u:%g "$h/rootonly")" 0:0 "owner of root's file"
before=$(stat -c %Y "$h/rootonly")
expect_fail as_user touch -m -d 2001-02-03 "$mnt/rootonly"
assert_eq "$(stat -c %Y "$h/rootonly")" "$before" "mtime of root's file"
# Set to the present needs only write access, which the mapping gives.
as_user touch "$mnt/rootonly" || fail "uid 1000 cannot touch root's file"
# A directory of root's: no chmod either.
expect_fail as_user chmod 0777 "$mnt/rootdir"
assert_eq "$(stat -c %a "$h/rootdir")" 755 "mode of root's directory"
# Extended attributes: user.* follows write access; others the owner.
if setfattr -n user.t -v 1 "$h/rootonly" 2>/dev/null; then
	as_user setfattr -n user.t -v 2 "$mnt/rootonly" ||
		fail "uid 1000 cannot set user.t on a file it may write"
	expect_fail as_user setfattr -n user.t -v 1 "$mnt/pub"
	assert_grep 'Operation not permitted' "$T/err"
fi
# A hard link keeps a set-user-ID program of root's alive: refused.
expect_fail as_user ln "$mnt/suid" "$mnt/pub/suid-link"
[ ! -e "$h/pub/suid-link" ] || fail "uid 1000 linked root's set-user-ID program"
assert_eq "$(stat -c %a "$h/suid")" 4755 "mode of root's suid program"
as_user ln "$mnt/id" "$mnt/pub/id-link" || fail "uid 1000 cannot link a plain file"
# Writing root's set-user-ID file (the mapping lets it) clears the bit,
# as any write by a non-owner does.
as_user sh -c "echo >>'$mnt/suid'" || fail "uid 1000 cannot write root's set-user-ID file"
assert_eq "$(stat -c %a "$h/suid")" 755 "mode of root's suid file after uid 1000 wrote it"

# What uid 1000 really owns it still manages as its owner.
as_user sh -c "echo mine >'$mnt/pub/own'" || fail "uid 1000 cannot create a file"
assert_eq "$(stat -c %u:%g "$h/pub/own")" 1000:1000 "owner of uid 1000's new file"
as_user chmod 0640 "$mnt/pub/own" || fail "uid 1000 cannot chmod its own file"
assert_eq "$(stat -c %a "$h/pub/own")" 640 "mode of uid 1000's file"
as_user chmod 4755 "$mnt/pub/own" || fail "uid 1000 cannot chmod 4755 its own file"
assert_eq "$(stat -c %a:%u "$h/pub/own")" 4755:1000 "mode of uid 1000's set-user-ID file"
as_user ln "$mnt/pub/own" "$mnt/pub/own-link" || fail "uid 1000 cannot link its own set-user-ID file"
as_user chown 1000:1000 "$mnt/pub/own" || fail "uid 1000 cannot chown its file to itself"
as_user touch -m -d 2001-02-03 "$mnt/pub/own" || fail "uid 1000 cannot set its file's mtime"
assert_eq "$(stat -c %y "$h/pub/own" | cut -c1-10)" 2001-02-03 "mtime of uid 1000's file"
# chgrp: to its own groups only.
expect_fail as_user chgrp 0 "$mnt/pub/own"
assert_eq "$(stat -c %g "$h/pub/own")" 1000 "group of uid 1000's file after chgrp 0"
setpriv --reuid=1000 --regid=1000 --groups=2000 chgrp 2000 "$mnt/pub/own" ||
	fail "uid 1000 in group 2000 cannot chgrp its file to 2000"
assert_eq "$(stat -c %g "$h/pub/own")" 2000 "group after chgrp to a supplementary group"
# Set-group-ID only for a group the caller is in (the real group, not
# the one shown): the bit goes, the chmod stays.
chgrp 0 "$h/pub/own"
as_user chmod 2755 "$mnt/pub/own" || fail "uid 1000 cannot chmod 2755 its file"
assert_eq "$(stat -c %a "$h/pub/own")" 755 "mode after chmod 2755 with root's group"
as_user mkdir "$mnt/pub/owndir" || fail "uid 1000 cannot mkdir"
as_user chmod 0700 "$mnt/pub/owndir" || fail "uid 1000 cannot chmod its own directory"
assert_eq "$(stat -c %a "$h/pub/owndir")" 700 "mode of uid 1000's directory"

# Root through the mount is still root.
chmod 0640 "$mnt/rootonly" || fail "root cannot chmod through the mount"
assert_eq "$(stat -c %a "$h/rootonly")" 640 "mode after root's chmod"
chown 0:1000 "$mnt/rootonly" || fail "root cannot chgrp through the mount"
assert_eq "$(stat -c %g "$h/rootonly")" 1000 "group after root's chgrp"

# The same rule on a ram volume, whose owners volfs itself keeps.
vol create -b ram -o size=8m -o store=daemon r >/dev/null
mount_vol r "$T/rmnt" uid=1000,gid=1000,allow_other
rm_=$(abspath "$T/rmnt")
echo secret >"$rm_/rootonly"
chmod 0600 "$rm_/rootonly"
mkdir "$rm_/pub"
chmod 1777 "$rm_/pub"
expect_fail as_user chmod 4755 "$rm_/rootonly"
expect_fail as_user chown 1000 "$rm_/rootonly"
assert_eq "$(stat -c %a "$rm_/rootonly")" 600 "mode of root's file on ram"
as_user sh -c "echo mine >'$rm_/pub/own'" || fail "uid 1000 cannot create on ram"
as_user chmod 0640 "$rm_/pub/own" || fail "uid 1000 cannot chmod its file on ram"
assert_eq "$(stat -c %a "$rm_/pub/own")" 640 "mode of uid 1000's file on ram"
exit 0
