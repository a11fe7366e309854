# SPDX-License-Identifier: MIT
# Symlinks never let the daemon reach outside the volume.  A symlink is
# returned as is (readlink); the kernel may follow it on the client side,
# with the caller's rights, which is no escape.  But a directory or file
# that the kernel caches and that is swapped for a symlink on the host side
# must not make the daemon (root) act on the host path.
#
# To tell the daemon following a link from the kernel following it, most
# attempts run as uid 1000 against a secret only root can read: the kernel
# following the link as uid 1000 gets EACCES; the daemon following it as
# root would succeed.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd setpriv getfattr setfattr

as_user() {
	setpriv --reuid=1000 --regid=1000 --clear-groups "$@"
}

# (Every link here points into $T: a buggy volfs must not reach system files.)
mkdir "$T/secret"
echo "TOP-SECRET-$$" >"$T/secret/secretfile"
chmod 600 "$T/secret/secretfile"
chmod 700 "$T/secret"
echo "HOST-FILE-$$" >"$T/hostfile"
snap() {
	stat -c '%a %u %g %s %Y' "$T/secret" "$T/secret/secretfile" 2>&1 || true
	ls -A "$T/secret" 2>&1 || true
	cat "$T/secret/secretfile" 2>&1 || true
	getfattr -d "$T/secret/secretfile" 2>&1 || true
}
snap >"$T/secret.before"
secret_intact() {
	snap >"$T/secret.now"
	cmp -s "$T/secret.before" "$T/secret.now" ||
		fail "$1: the host secret was changed through the mount"
}

# no_leak WHAT: the attempt's output ($T/out, $T/err) shows no secret.
no_leak() {
	if grep -q "TOP-SECRET" "$T/out" "$T/err" 2>/dev/null; then
		fail "$1: the daemon followed a host-side symlink and read the secret"
	fi
	secret_intact "$1"
}

vol create s >/dev/null
mount_vol s "$T/mnt" allow_other,entry_timeout=60,attr_timeout=60
mnt=$(abspath "$T/mnt")
d=$(data_dir s)
chmod 1777 "$mnt"

# A symlink to a host file: readlink shows the target as written.
ln -s "$T/hostfile" "$mnt/link"
assert_eq "$(readlink "$mnt/link")" "$T/hostfile" "readlink through the mount"
assert_eq "$(readlink "$d/link")" "$T/hostfile" "readlink in the data dir"
ln -s ../../../../secret "$mnt/up"
assert_eq "$(readlink "$mnt/up")" ../../../../secret "readlink of a relative link"

# swap_dir NAME: a directory the kernel has cached becomes, on the host, a
# symlink to the secret directory.
swap_dir() {
	mv "$d/$1" "$d/$1.old"
	ln -s "$T/secret" "$d/$1"
}
# make_dir NAME [USER-CMD]: makes and caches directory NAME through the mount.
make_dir() {
	${2:-} mkdir "$mnt/$1"
	${2:-} sh -c "echo inner >'$mnt/$1/inner'"
	${2:-} ls -la "$mnt/$1" >/dev/null
	${2:-} cat "$mnt/$1/inner" >/dev/null
}

# The plain case, as root: read a file inside a swapped directory.
make_dir d
swap_dir d
if cat "$mnt/d/secretfile" >"$T/out" 2>"$T/err"; then
	fail "reading d/secretfile through the mount succeeded: $(cat "$T/out")"
fi
no_leak "cat d/secretfile as root"

# The same and more as uid 1000, each on a fresh directory.
attempt_dir() {
	name=$1
	shift
	make_dir "$name" as_user
	swap_dir "$name"
	as_user sh -c "$*" >"$T/out" 2>"$T/err" || true
	no_leak "$*"
}
attempt_dir d1 "cat '$mnt/d1/secretfile'"
attempt_dir d2 "ls -la '$mnt/d2'"
assert_no_grep secretfile "$T/out"
attempt_dir d3 "stat '$mnt/d3/secretfile'"
attempt_dir d4 "echo pwned >'$mnt/d4/newfile'"
attempt_dir d5 "mkdir '$mnt/d5/newdir'"
attempt_dir d6 "rm -f '$mnt/d6/secretfile'"
attempt_dir d7 "mv '$mnt/d7/secretfile' '$mnt/moved'"
[ ! -e "$d/moved" ] || fail "a rename through the mount moved the host secret into the volume"
attempt_dir d8 "ln '$mnt/d8/secretfile' '$mnt/hard'"
[ ! -e "$d/hard" ] || fail "a link through the mount reached the host secret"
attempt_dir d9 "getfattr -d '$mnt/d9/secretfile'; setfattr -n user.x -v 1 '$mnt/d9/secretfile'"

# Files the kernel caches, swapped for a symlink to the secret file.
attempt_file() {
	name=$1
	shift
	as_user sh -c "echo public >'$mnt/$name'"
	as_user cat "$mnt/$name" >/dev/null
	rm "$d/$name"
	ln -s "$T/secret/secretfile" "$d/$name"
	as_user sh -c "$*" >"$T/out" 2>"$T/err" || true
	no_leak "$*"
}
attempt_file f1 "cat '$mnt/f1'"
attempt_file f2 "echo overwrite >'$mnt/f2'"
attempt_file f3 "echo more >>'$mnt/f3'"
attempt_file f4 "chmod 666 '$mnt/f4'"
attempt_file f5 "truncate -s 0 '$mnt/f5'"
attempt_file f6 "touch -d @1000000000 '$mnt/f6'"
attempt_file f7 "setfattr -n user.x -v 1 '$mnt/f7'"

# As root, chown -h (which the kernel never follows) of a cached file must
# not reach the secret either.
echo public >"$mnt/f8"
cat "$mnt/f8" >/dev/null
rm "$d/f8"
ln -s "$T/secret/secretfile" "$d/f8"
chown -h 1000:1000 "$mnt/f8" 2>/dev/null || true
secret_intact "chown -h f8 as root"
exit 0
