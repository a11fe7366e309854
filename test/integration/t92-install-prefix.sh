# SPDX-License-Identifier: MIT
# Where make install puts the systemd unit: under a prefix other than /usr,
# below that prefix, never over the system's unit (which may be a
# package's, running another volfs); for prefix /usr, where pkg-config says
# systemd keeps units.  Configured in a copy of the source tree: the tree
# under test may itself be configured in place.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

need_cmd pkg-config
[ -x "$VOLFS_SRCDIR/configure" ] || skip "no configure script in $VOLFS_SRCDIR"

src=$T/src
mkdir "$src"
tar -C "$VOLFS_SRCDIR" --exclude=./.git --exclude=./build-asan --exclude=./build-asan-logs \
	--exclude='*.o' --exclude='*.lo' --exclude=.libs -cf - . |
	tar -C "$src" -xf -
rm -f "$src/config.status" "$src/config.cache"

# unit_dir PREFIX: the unit directory configure picks for PREFIX,
# expanded as make expands it.
unit_dir() {
	(cd "$src" && ./configure -q --prefix="$1" >"$T/configure.out" 2>&1) ||
		{ cat "$T/configure.out" >&2; fail "configure --prefix=$1 failed"; }
	# A make check run by make -jN passes its flags down (-w among them),
	# and this make's output is the answer: it gets none.
	MAKEFLAGS= make -s --no-print-directory -C "$src" -f - print-unitdir <<'MK'
include Makefile
print-unitdir:
	@echo $(systemdsystemunitdir)
MK
}

assert_eq "$(unit_dir "$T/opt")" "$T/opt/lib/systemd/system" \
	"unit dir for prefix $T/opt"
# make install of the unit alone: it lands under the prefix, and the
# system's unit directory is left as it was.
sysdir=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null || true)
before=
[ -n "$sysdir" ] && [ -e "$sysdir/volfs.service" ] &&
	before=$(stat -c '%Y %i %s' "$sysdir/volfs.service")
make -s --no-print-directory -C "$src" packaging/systemd/volfs.service \
	install-systemdsystemunitDATA >"$T/make.out" 2>&1 ||
	{ cat "$T/make.out" >&2; fail "make install of the unit failed"; }
[ -f "$T/opt/lib/systemd/system/volfs.service" ] ||
	fail "the unit is not under the prefix"
assert_grep "^ExecStart=$T/opt/bin/volfs serve" \
	"$T/opt/lib/systemd/system/volfs.service"
if [ -n "$sysdir" ]; then
	after=
	[ -e "$sysdir/volfs.service" ] &&
		after=$(stat -c '%Y %i %s' "$sysdir/volfs.service")
	assert_eq "$after" "$before" "the system's unit after install"
fi

assert_eq "$(unit_dir /usr/local)" /usr/local/lib/systemd/system \
	"unit dir for prefix /usr/local"
if [ -n "$sysdir" ]; then
	assert_eq "$(unit_dir /usr)" "$sysdir" "unit dir for prefix /usr"
fi
