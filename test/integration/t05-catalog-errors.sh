# SPDX-License-Identifier: MIT
# A damaged, foreign or newer catalog: a clear error, exit 1, no crash,
# and the file is left as it was.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd sqlite3

# Garbage where the catalog should be.
mkdir -p "$VOLFS_ROOT"
chmod 700 "$VOLFS_ROOT"
{
	echo "this is not an SQLite database"
	head -c 65536 /dev/urandom
} >"$VOLFS_ROOT/catalog.db"
cp "$VOLFS_ROOT/catalog.db" "$T/garbage.orig"
for cmd in "ls" "ls -q" "create x" "inspect x" "rm x" "prune -f"; do
	# shellcheck disable=SC2086
	expect_exit 1 vol $cmd
	assert_grep 'catalog' "$T/err"
	assert_no_grep 'locked' "$T/err"
done
cmp -s "$VOLFS_ROOT/catalog.db" "$T/garbage.orig" || fail "volfs wrote over a damaged catalog"
mkdir "$T/mnt"
echo "$T/mnt" >>"$T/mounts"
expect_exit 1 vol mount x "$T/mnt"
assert_grep 'catalog' "$T/err"

# A catalog from a newer volfs.
rm -rf "$VOLFS_ROOT"
expect_exit 0 vol create keep
sqlite3 "$VOLFS_ROOT/catalog.db" 'PRAGMA user_version=99'
for cmd in "ls" "create y" "inspect keep" "rm keep"; do
	# shellcheck disable=SC2086
	expect_exit 1 vol $cmd
	assert_grep 'newer' "$T/err"
done
assert_eq "$(sqlite3 "$VOLFS_ROOT/catalog.db" 'PRAGMA user_version')" 99 \
	"user_version after refusing a newer catalog"
[ -d "$(data_dir keep)" ] || fail "refusing a newer catalog removed data"

# Another application's database, valid SQLite but not a catalog.
rm -rf "$VOLFS_ROOT"
mkdir -p "$VOLFS_ROOT"
sqlite3 "$VOLFS_ROOT/catalog.db" 'PRAGMA user_version=3; CREATE TABLE volumes (x)'
_lib_run vol ls
[ $rc -le 1 ] || fail "a foreign database: exit $rc"

# A catalog cut short.
rm -rf "$VOLFS_ROOT"
for i in $(seq 1 40); do
	vol create --label "n=$i" "vol$i" >/dev/null
done
sqlite3 "$VOLFS_ROOT/catalog.db" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
rm -f "$VOLFS_ROOT/catalog.db-wal" "$VOLFS_ROOT/catalog.db-shm"
size=$(stat -c %s "$VOLFS_ROOT/catalog.db")
truncate -s $((size / 2)) "$VOLFS_ROOT/catalog.db"
for cmd in "ls" "inspect vol1" "create z"; do
	# shellcheck disable=SC2086
	_lib_run vol $cmd
	[ $rc -le 1 ] || fail "truncated catalog: 'volfs $cmd' exit $rc"
done

# An empty file is a new, empty catalog (what SQLite makes of it).
rm -rf "$VOLFS_ROOT"
mkdir -p "$VOLFS_ROOT"
: >"$VOLFS_ROOT/catalog.db"
expect_exit 0 vol ls -q
expect_exit 0 vol create fresh

# The state root is a file.
: >"$T/notadir"
expect_exit 1 vol --root "$T/notadir" ls
[ -s "$T/err" ] || fail "state root is a file: no message"
expect_exit 1 vol --root "$T/notadir/sub" ls
exit 0
