# SPDX-License-Identifier: MIT
# An unprivileged user (uid 1000) works in a volume mounted with
# allow_other: creates, writes, reads, lists; what it creates is owned by
# it in the data dir; it cannot read what it may not.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd setpriv

as_user() {
	setpriv --reuid=1000 --regid=1000 --clear-groups "$@"
}

vol create u >/dev/null
mount_vol u "$T/mnt" allow_other
mnt=$(abspath "$T/mnt")
d=$(data_dir u)

# The volume root is root's; open it up, as a shared /tmp-like dir.
chmod 1777 "$mnt"
[ "$(stat -c %a "$d")" = 1777 ] || fail "chmod of the mount root did not reach the data dir"

as_user sh -c "echo hello >'$mnt/userfile'" || fail "uid 1000 cannot create a file"
assert_eq "$(as_user cat "$mnt/userfile")" hello "uid 1000 reading its file"
as_user sh -c "echo more >>'$mnt/userfile'" || fail "uid 1000 cannot append"
as_user mkdir "$mnt/userdir" || fail "uid 1000 cannot mkdir"
as_user sh -c "echo x >'$mnt/userdir/f'" || fail "uid 1000 cannot create in its dir"
as_user ls -la "$mnt" >"$T/ls" || fail "uid 1000 cannot list the mount"
assert_grep 'userfile' "$T/ls"
assert_grep 'userdir' "$T/ls"

# Ownership as seen through the mount and on the host.
for p in userfile userdir userdir/f; do
	assert_eq "$(stat -c %u:%g "$mnt/$p")" 1000:1000 "owner of $p through the mount"
	assert_eq "$(stat -c %u:%g "$d/$p")" 1000:1000 "owner of $p in the data dir"
done
assert_eq "$(cat "$d/userfile")" "$(printf 'hello\nmore')" "userfile on the host"

# The caller's umask decides new modes, not the daemon's.
as_user sh -c "umask 002; echo x >'$mnt/groupfile'; mkdir '$mnt/groupdir'" ||
	fail "uid 1000 cannot create with umask 002"
assert_eq "$(stat -c %a "$d/groupfile")" 664 "mode of a file made with umask 002"
assert_eq "$(stat -c %a "$d/groupdir")" 775 "mode of a dir made with umask 002"
as_user sh -c "umask 077; echo x >'$mnt/privfile'"
assert_eq "$(stat -c %a "$d/privfile")" 600 "mode of a file made with umask 077"

# Permissions are enforced for it.
echo secret >"$mnt/rootonly"
chmod 600 "$mnt/rootonly"
if as_user cat "$mnt/rootonly" >"$T/out" 2>"$T/err"; then
	fail "uid 1000 read a root-owned 0600 file"
fi
assert_grep 'Permission denied' "$T/err"
assert_no_grep secret "$T/out"
if as_user sh -c "echo x >>'$mnt/rootonly'" 2>"$T/err"; then
	fail "uid 1000 wrote to a root-owned 0600 file"
fi
if as_user rm -f "$mnt/rootonly" 2>"$T/err"; then
	fail "uid 1000 removed root's file from a sticky directory"
fi
[ -e "$d/rootonly" ] || fail "root's file is gone"
if as_user chown 0 "$mnt/userfile" 2>"$T/err"; then
	fail "uid 1000 gave its file to root"
fi
# root through the mount is still root.
assert_eq "$(cat "$mnt/userfile" | head -1)" hello "root reading uid 1000's file"
exit 0
