# SPDX-License-Identifier: MIT
# The state root is 0700 and the catalog's files (catalog.db, -wal, -shm)
# 0600, whatever the umask; a catalog of an older volfs (0644 under a 0755
# root) is made private by the next command; another user (uid 1000)
# cannot read the catalog with sqlite3.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd setpriv sqlite3

as_user() {
	setpriv --reuid=1000 --regid=1000 --clear-groups "$@"
}

mode() {
	stat -c %a "$1"
}

# private: the root 700, every catalog file present 600.
private() {
	assert_eq "$(mode "$VOLFS_ROOT")" 700 "mode of the state root ($1)"
	for f in "$VOLFS_ROOT/catalog.db" "$VOLFS_ROOT/catalog.db-wal" \
		"$VOLFS_ROOT/catalog.db-shm"; do
		[ -e "$f" ] || continue
		assert_eq "$(mode "$f")" 600 "mode of $f ($1)"
	done
}

# user_reads: whether uid 1000 can read the volumes table (immutable=1:
# without write access to -shm, as any reader of the file can).
user_reads() {
	as_user sqlite3 -readonly "file:$VOLFS_ROOT/catalog.db?immutable=1" \
		'SELECT name FROM volumes' >"$T/user.out" 2>"$T/user.err"
}

# A fresh state root, under a umask that takes nothing away.
(umask 000 && "$VOLFS" create secretive >/dev/null) || fail "create failed"
private "after create"
assert_eq "$(mode "$VOLFS_ROOT/catalog.db")" 600 "mode of catalog.db"

# The -wal and -shm files exist while a process has the catalog open:
# hold it open with sqlite3 (they take the database's mode) and look.
mkfifo "$T/hold"
sqlite3 "$VOLFS_ROOT/catalog.db" <"$T/hold" >/dev/null 2>&1 &
holder=$!
track_pid "$holder"
exec 9>"$T/hold"
echo "SELECT count(*) FROM volumes;" >&9
wait_until 10 test -e "$VOLFS_ROOT/catalog.db-shm" ||
	fail "no -shm file while the catalog is open"
(umask 000 && "$VOLFS" create another >/dev/null) || fail "second create failed"
[ -e "$VOLFS_ROOT/catalog.db-wal" ] || fail "no -wal file while the catalog is open"
private "with the catalog open"
exec 9>&-
wait "$holder" || true

if user_reads; then
	fail "uid 1000 read the catalog: $(cat "$T/user.out")"
fi

# A catalog as an older volfs left it: anyone could read it.
chmod 755 "$VOLFS_ROOT"
chmod 644 "$VOLFS_ROOT/catalog.db"
user_reads || fail "uid 1000 cannot read an open catalog (test setup): $(cat "$T/user.err")"
assert_grep secretive "$T/user.out"
# A command that only reads makes it private again.
expect_exit 0 vol ls -q
assert_grep secretive "$T/out"
private "after ls on an old catalog"
if user_reads; then
	fail "uid 1000 still reads the catalog after ls: $(cat "$T/user.out")"
fi
exit 0
