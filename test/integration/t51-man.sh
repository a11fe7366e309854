# SPDX-License-Identifier: MIT
# The man pages render without a warning, volfs(1) covers every command of
# 'volfs --help' and every option of 'volfs mount --help', and
# mount.volfs(8) every option the helper treats specially.
set -eu
[ -n "${VOLFS:-}" ] || { echo "SKIP: VOLFS is not set (run through make check)" >&2; exit 77; }
command -v groff >/dev/null 2>&1 || { echo "SKIP: groff not found (install groff)" >&2; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/volfs-t41.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

man1=$VOLFS_SRCDIR/doc/volfs.1
man8=$VOLFS_SRCDIR/doc/mount.volfs.8

for page in "$man1" "$man8"; do
	groff -man -ww -z "$page" 2>"$T/err" || fail "groff failed on $page"
	if [ -s "$T/err" ]; then
		cat "$T/err" >&2
		fail "groff warns about $page"
	fi
	if command -v man >/dev/null 2>&1; then
		MANWIDTH=80 man -l "$page" >"$T/out" 2>"$T/err" || fail "man -l $page failed"
		[ ! -s "$T/err" ] || { cat "$T/err" >&2; fail "man -l $page warns"; }
		[ -s "$T/out" ] || fail "man -l $page rendered nothing"
	fi
done

# Every command of volfs --help has a section of its own in volfs(1).
"$VOLFS" --help >"$T/help"
cmds=$(awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }' "$T/help")
[ -n "$cmds" ] || fail "no commands found in volfs --help"
for c in $cmds; do
	grep -qx "\.SS $c" "$man1" || fail "volfs(1) has no section for the command '$c'"
done
# ...and the page lists no command that volfs does not have.
for c in $(sed -n 's/^\.SS //p' "$man1"); do
	echo "$cmds" | grep -qx "$c" || fail "volfs(1) documents '$c', which volfs --help does not list"
done

# Every mount option of volfs mount --help is in volfs(1) and in
# mount.volfs(8) (except debug, which the helper refuses).
"$VOLFS" mount --help >"$T/mhelp"
opts=$(sed -n 's/^ *-o \([a-z_]*\).*/\1/p' "$T/mhelp")
[ -n "$opts" ] || fail "no -o options found in volfs mount --help"
for o in $opts; do
	grep -q "$o" "$man1" || fail "volfs(1) does not mention the mount option '$o'"
	grep -q "$o" "$man8" || fail "mount.volfs(8) does not mention the mount option '$o'"
done

# mount.volfs(8) documents its own options and exit codes.
for w in volfs_root= backend= _netdev nofail x\\\\-systemd noauto '^\.B 32$' '^\.B \\-s$' '^\.B \\-f$'; do
	grep -q -e "$w" "$man8" || fail "mount.volfs(8) does not mention '$w'"
done
exit 0
