# SPDX-License-Identifier: MIT
# -o path=DIR refuses what would expose more than the volume's own data:
# the whole host, the state directory (catalog.db, secret.key, managed
# volumes' data) or a directory around it, and a directory inside or around
# another volume's; from the CLI and through the plugin alike.  A symlink
# is resolved at create: the volume keeps serving the directory it named
# then, whatever the link points to later.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq

S=$(abspath "$T")/state
vol create managed >/dev/null
mkdir -p "$T/h1/sub" "$T/h2" "$T/around/inner"

# refused PATH TEXT: create fails, says TEXT and what to do, makes nothing.
refused() {
	expect_exit 1 vol create -o path="$1" bad
	assert_grep "$2" "$T/err"
	assert_grep ': (give|use) ' "$T/err"
	expect_fail vol inspect bad
}

refused / "/ is the whole host"
refused "$S" "is the volfs state directory"
refused "$S/volumes" "is inside the volfs state directory"
refused "$S/volumes/managed/_data" "is inside the volfs state directory"
refused "$T" "contains the volfs state directory"
# The same through a symlink to the state directory.
ln -s "$S" "$T/statelink"
refused "$T/statelink/volumes" "is inside the volfs state directory"

vol create -o path="$T/h1" one >/dev/null
refused "$T/h1" "already served by volume 'one'"
refused "$T/h1/sub" "inside $(abspath "$T/h1"), which volume 'one' serves"
vol create -o path="$T/around/inner" two >/dev/null
refused "$T/around" "contains $(abspath "$T/around/inner"), which volume 'two' serves"
ln -s "$T/h1/sub" "$T/sublink"
refused "$T/sublink" "inside $(abspath "$T/h1"), which volume 'one' serves"

# A symlink is stored resolved, and serves what it named at create.
echo first >"$T/h2/which"
mkdir "$T/h3"
echo second >"$T/h3/which"
ln -s "$T/h2" "$T/link"
vol create -o path="$T/link" viaLink >/dev/null
assert_eq "$(vol inspect viaLink | jq -r '.[0].options.path')" \
	"$(abspath "$T/h2")" "path stored for a symlink"
ln -sfn "$T/h3" "$T/link"
mount_vol viaLink "$T/mnt"
assert_eq "$(cat "$T/mnt/which")" first "file served after the link moved"
vol umount "$T/mnt"
# A directory on the way replaced by a symlink since create: not followed.
mkdir -p "$T/up/d"
vol create -o path="$T/up/d" swapped >/dev/null
mv "$T/up" "$T/up.old"
ln -s "$T/h3" "$T/up"
mkdir -p "$T/mnt5"
expect_exit 1 vol mount swapped "$T/mnt5"
assert_grep "leads through a symlink" "$T/err"
assert_no_grep . "$T/out"

# The plugin goes through the same create.
serve_plugin
if command -v curl >/dev/null 2>&1; then
	# create_req PATH: the plugin's answer to a Create with path=PATH.
	create_req() {
		curl -sS --max-time 10 --unix-socket "$SOCK" -X POST \
			--data-binary "{\"Name\":\"pbad\",\"Opts\":{\"path\":\"$1\"}}" \
			http://plugin/VolumeDriver.Create >"$T/out" ||
			fail "no answer from the plugin"
	}
	create_req /
	assert_grep '/ is the whole host' "$T/out"
	create_req "$S"
	assert_grep 'is the volfs state directory' "$T/out"
	create_req "$T/h1/sub"
	assert_grep "which volume 'one' serves" "$T/out"
	expect_fail vol inspect pbad
fi
exit 0
