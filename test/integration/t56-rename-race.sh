# SPDX-License-Identifier: MIT
# Directories renamed back and forth while other threads look up, create
# and stat files below them (test/helpers/renamerace): afterwards every
# file made is found by stat at its final place and listed there, and
# nothing else is: no lookup that lost a race to a rename left the kernel
# a negative entry for an existing file.  On a local volume, a ram volume
# in each store, and a local volume under volfs serve.
# VOLFS_RACE_SECONDS sets how long each volume is raced (default 5).
. "$VOLFS_SRCDIR/test/integration/lib.sh"

renamerace=${VOLFS_TEST_HELPERS:-}/renamerace
[ -x "$renamerace" ] || fail "renamerace helper not built ($renamerace)"
seconds=${VOLFS_RACE_SECONDS:-5}

identity_targets 1g

check() {
	cd "$1"
	rc=0
	"$renamerace" . "$seconds" >"$T/made" 2>"$T/race.err" || rc=$?
	cat "$T/race.err"
	[ $rc -lt 128 ] || fail "renamerace crashed (status $rc)"
	[ $rc -eq 0 ] || fail "renamerace found files missing or wrong after the race"
	y=$(sed -n '1s/^y=//p' "$T/made")
	[ -n "$y" ] || fail "renamerace printed no final place"
	sed 1d "$T/made" >"$T/files"
	[ -s "$T/files" ] || fail "no file was made while racing"

	# Again from other processes: stat by path finds every file made...
	if ! (cd "$y" && xargs stat -c %n <"$T/files" >"$T/found" 2>"$T/stat.err"); then
		head -n 10 "$T/stat.err" >&2
		fail "stat does not find $(wc -l <"$T/stat.err") of the files made while racing"
	fi
	cmp -s "$T/files" "$T/found" || fail "stat printed other names than those made"
	# ... and ls lists exactly them, each once.
	(cd "$y" && ls -1 -- w*/) | awk '
		/:$/ { d = substr($0, 1, length($0) - 1); next }
		NF { print d $0 }' | sort >"$T/listed"
	sort "$T/files" >"$T/sorted"
	if ! cmp -s "$T/sorted" "$T/listed"; then
		diff "$T/sorted" "$T/listed" | head -n 20 >&2
		fail "ls lists other files than those made ($(wc -l <"$T/sorted") made, $(wc -l <"$T/listed") listed)"
	fi
	for other in a/x/m/y a/x/n/y b/x/m/y b/x/n/y; do
		[ "$other" = "$y" ] || [ ! -e "$other" ] ||
			fail "y is at $other as well as at $y"
	done
	echo "$(wc -l <"$T/files") files made while racing, all found at $y"
	cd /
	rm -r "$1/a" "$1/b" || fail "rm -r after the race"
}

check_targets "renames racing lookups lost files"
exit 0
