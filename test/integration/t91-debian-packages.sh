# SPDX-License-Identifier: MIT
# The Debian packages: dpkg-buildpackage builds them from a copy of the
# source tree (packaging/debian linked as debian/ there, never in the tree
# itself); the core package has the command, the unit and the local and
# ram modules and does not depend on libsmbclient or libcurl; each remote
# backend whose source is in the tree has its own package, and only those;
# the unpacked core runs (version, create, ls, a mount) without being
# installed on this machine.  lintian, when present, reports no error.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

# make check inside a package build would build the packages again.
[ -z "${DEB_RULES_REQUIRES_ROOT:-}" ] ||
	skip "running inside a package build"
for c in dpkg-buildpackage dpkg-deb dh dh_autoreconf git tar; do
	command -v "$c" >/dev/null 2>&1 ||
		skip "$c not found (run packaging/install-deps.sh)"
done
# Only reads the checkout: whoever owns it (a CI checkout may belong to
# another user than root), git may read it here.
git_src() {
	git -c safe.directory='*' -C "$VOLFS_SRCDIR" "$@"
}
git_src rev-parse --git-dir >/dev/null 2>&1 ||
	skip "$VOLFS_SRCDIR is not a git checkout: the packages are built from its files"

# The tree's files as git sees them (tracked, and new ones not ignored),
# with the packaging linked where dpkg-buildpackage looks for it.
src=$T/build/volfs
mkdir -p "$src"
git_src ls-files -z --cached --others --exclude-standard >"$T/files" ||
	fail "git ls-files failed in $VOLFS_SRCDIR"
(cd "$VOLFS_SRCDIR" && tar --null -T "$T/files" -cf "$T/src.tar") ||
	fail "cannot copy the source tree (a tracked file deleted?)"
tar -xf "$T/src.tar" -C "$src"
[ ! -e "$src/debian" ] || fail "the source tree has a debian/ of its own"
ln -s packaging/debian "$src/debian"

# The upstream tests are not run in here (nocheck): make check runs them.
# Nothing from the make check that runs this test reaches the build.
start=$(date +%s)
if ! (cd "$src" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	-u DEB_BUILD_PROFILES -u VOLFS_BACKEND_DIR -u VOLFS_ROOT \
	DEB_BUILD_OPTIONS="nocheck parallel=2" \
	dpkg-buildpackage -us -uc -b) >"$T/build.log" 2>&1; then
	tail -n 40 "$T/build.log" >&2
	fail "dpkg-buildpackage failed (log above; missing build dependencies: run packaging/install-deps.sh)"
fi
echo "$TEST_NAME: dpkg-buildpackage took $(($(date +%s) - start)) s"

out=$T/build
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
core=$out/volfs_${version}_$arch.deb
[ -f "$core" ] || fail "no $core; built: $(ls "$out")"

# contents DEB: the paths in DEB, one a line, without the leading ./
contents() {
	dpkg-deb -c "$1" | awk '{ print $6 }' | sed 's|^\./||'
}

contents "$core" >"$T/core.list"
assert_grep '^usr/bin/volfs$' "$T/core.list"
assert_grep '^usr/lib/[^/]+/volfs/backends/local\.so$' "$T/core.list"
assert_grep '^usr/lib/[^/]+/volfs/backends/ram\.so$' "$T/core.list"
assert_grep '^(usr/)?lib/systemd/system/volfs\.service$' "$T/core.list"
assert_no_grep '/(smb|http|dockerapi)\.so$' "$T/core.list"
assert_no_grep '\.la$' "$T/core.list"
assert_no_grep '^usr/include/' "$T/core.list"

# Dependencies come from the libraries the binaries use (shlibs) and
# fuse3 for fusermount3; libsmbclient and libcurl only for the modules.
dpkg-deb -f "$core" Depends >"$T/core.depends"
assert_grep '(^|, )fuse3(,|$)' "$T/core.depends"
assert_grep 'libfuse3-' "$T/core.depends"
assert_grep 'libsqlite3-' "$T/core.depends"
assert_no_grep 'libsmbclient|libcurl|samba' "$T/core.depends"

# The maintainer scripts install the unit without enabling or starting it,
# never stop or restart it on upgrade, and stop it on removal.
dpkg-deb -e "$core" "$T/control"
assert_no_grep 'deb-systemd-invoke (restart|try-restart)' "$T/control/postinst"
[ ! -e "$T/control/preinst" ] ||
	assert_no_grep 'deb-systemd-invoke stop' "$T/control/preinst"
assert_grep '"\$1" = remove.*run/systemd/system' "$T/control/prerm"
assert_grep 'deb-systemd-invoke stop .volfs\.service' "$T/control/prerm"
assert_grep 'was-enabled .volfs\.service' "$T/control/postinst"

# One package per optional module whose source is in the tree, with the
# module and its library; none for the others.
for pkg in volfs-backend-smb volfs-backend-http volfs-dockerapi; do
	case $pkg in
	volfs-backend-smb)
		src_files="backends/smb.c backends/smb" lib=libsmbclient
		module='volfs/backends/smb\.so' ;;
	volfs-backend-http)
		src_files="backends/http.c backends/http" lib=libcurl
		module='volfs/backends/http\.so' ;;
	volfs-dockerapi)
		src_files="src/dockerapi.c" lib=libcurl
		module='volfs/dockerapi\.so' ;;
	esac
	present=
	for f in $src_files; do
		[ ! -e "$src/$f" ] || present=1
	done
	deb=$out/${pkg}_${version}_$arch.deb
	assert_no_grep "^usr/lib/[^/]+/$module\$" "$T/core.list"
	if [ -n "$present" ]; then
		[ -f "$deb" ] || fail "no $pkg package: $deb"
		contents "$deb" >"$T/$pkg.list"
		assert_grep "^usr/lib/[^/]+/$module\$" "$T/$pkg.list"
		dpkg-deb -f "$deb" Depends >"$T/$pkg.depends"
		assert_grep "volfs \\(= $version\\)" "$T/$pkg.depends"
		assert_grep "$lib" "$T/$pkg.depends"
	else
		[ ! -e "$deb" ] || fail "$deb built without its module in the tree"
	fi
done

dev=$out/volfs-dev_${version}_all.deb
[ -f "$dev" ] || fail "no $dev"
contents "$dev" >"$T/dev.list"
assert_grep '^usr/include/volfs/backend\.h$' "$T/dev.list"
assert_grep '^usr/include/volfs/store\.h$' "$T/dev.list"

# The unpacked core runs from its scratch root; it looks for its modules
# where the package puts them.
root=$T/root
dpkg -x "$core" "$root"
VOLFS=$root/usr/bin/volfs
backends=$(ls -d "$root"/usr/lib/*/volfs/backends)
expect_exit 0 env VOLFS_BACKEND_DIR=/nonexistent "$VOLFS" version
assert_grep "^volfs ${version%%-*} " "$T/out"
if [ ! -e "${backends#"$root"}/local.so" ]; then
	expect_exit 1 env VOLFS_BACKEND_DIR= "$VOLFS" create nowhere
	assert_grep "${backends#"$root"}/local\\.so does not exist" "$T/err"
fi

VOLFS_BACKEND_DIR=$backends
export VOLFS_BACKEND_DIR
expect_exit 0 vol create x
expect_exit 0 vol create -b ram -o size=8m y
expect_exit 0 vol ls -q
assert_eq "$(tr '\n' ' ' <"$T/out")" "x y " "volumes listed by the packaged volfs"
mount_vol x "$T/m"
echo packaged >"$T/m/f"
assert_eq "$(cat "$(data_dir x)/f")" packaged "file written through the packaged volfs"
expect_exit 0 vol umount "$(abspath "$T/m")"

# Every module of every package loads: all its symbols resolve against the
# libraries its package depends on, and volfs finds and opens the backends
# (a missing option may be refused, a module that does not load may not).
for deb in "$out"/volfs-backend-*_"$arch".deb "$out"/volfs-dockerapi_*_"$arch".deb; do
	[ ! -e "$deb" ] || dpkg -x "$deb" "$root"
done
find "$root" -name '*.so' >"$T/modules"
assert_grep '/local\.so$' "$T/modules"
assert_grep '/dirstore\.so$' "$T/modules"
while read -r so; do
	ldd -r "$so" >"$T/ldd" 2>&1 || fail "ldd -r $so failed: $(cat "$T/ldd")"
	assert_no_grep 'undefined symbol|not found' "$T/ldd"
done <"$T/modules"
for so in "$backends"/*.so; do
	b=$(basename "$so" .so)
	rc=0
	vol create -b "$b" "probe-$b" >"$T/out" 2>"$T/err" || rc=$?
	assert_no_grep "cannot load backend|no backend|not a volfs backend" "$T/err"
	[ $rc -ne 0 ] || vol rm -f "probe-$b" >/dev/null
done

# The packaged unit names the packaged binary, and systemd accepts it.
unit=$(ls "$root"/lib/systemd/system/volfs.service \
	"$root"/usr/lib/systemd/system/volfs.service 2>/dev/null | head -n 1)
assert_grep '^ExecStart=/usr/bin/volfs serve$' "$unit"
if command -v systemd-analyze >/dev/null 2>&1; then
	mkdir "$T/units"
	sed "s|^ExecStart=/usr/bin/volfs|ExecStart=$VOLFS|" "$unit" \
		>"$T/units/volfs.service"
	systemd-analyze verify --man=no "$T/units/volfs.service" >"$T/verify" 2>&1 || true
	assert_no_grep 'volfs\.service' "$T/verify"
fi

# lintian: errors fail the test; warnings are shown.
if command -v lintian >/dev/null 2>&1; then
	lintian --allow-root "$out"/volfs_"${version}"_"$arch".changes \
		>"$T/lintian" 2>&1 || true
	sed 's/^/  lintian: /' "$T/lintian"
	assert_no_grep '^E: ' "$T/lintian"
fi
