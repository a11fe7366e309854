# SPDX-License-Identifier: MIT
# volfs serve --detach logs to syslog: a private /dev with a /dev/log of the
# test's own catches what the detached daemon says.
. "$VOLFS_SRCDIR/test/servers/dockerd.sh"
enter_namespaces "$0" "$@"
. "$VOLFS_SRCDIR/test/integration/lib.sh"

t32_cleanup() {
	rc=$?
	set +e
	umount -l /dev 2>/dev/null
	for n in null zero fuse urandom; do
		umount "$T/dev/$n" 2>/dev/null
	done
	(exit $rc)
	_lib_cleanup
}
trap t32_cleanup EXIT

# A /dev of our own: the devices volfs and fusermount3 use, and /dev/log.
mkdir "$T/dev"
for n in null zero fuse urandom; do
	: >"$T/dev/$n"
	mount --bind "/dev/$n" "$T/dev/$n"
done
"$VOLFS_TEST_HELPERS/notify_listen" "$T/dev/log" 10 >"$T/syslog" &
listener=$!
track_pid "$listener"
wait_until 5 test -S "$T/dev/log" || fail "the syslog listener did not start"
mount --rbind "$T/dev" /dev

mkdir -p "$T/srv"
srv=$(abspath "$T/srv")
echo "$srv" >>"$T/mounts"
vol create logged >/dev/null
vol --log-level info serve --detach -m "$srv" --docker-socket "$T/plugin.sock" \
	>"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "serve --detach failed"; }
# Once serving, nothing more reaches the terminal (what it said while
# starting, warnings included, did).
[ ! -s "$T/out" ] || fail "serve --detach wrote to stdout: $(cat "$T/out")"
assert_no_grep "serving every volume|opened volume" "$T/err"
serve_pid=$(sqlite3 "$VOLFS_ROOT/catalog.db" "SELECT pid FROM servers")
track_pid "$serve_pid"
ls "$srv/logged" >/dev/null || fail "the detached serve does not answer"
kill -TERM "$serve_pid"
wait_until 30 not_mounted "$srv" || fail "the detached serve did not stop"
assert_no_grep "opened volume|stopped serving" "$T/err"
wait "$listener" || true
assert_grep "volfs\[$serve_pid\]: .*serving every volume under $srv" "$T/syslog"
assert_grep "volfs\[$serve_pid\]: .*opened volume 'logged'" "$T/syslog"
assert_grep "volfs\[$serve_pid\]: .*stopped serving $srv" "$T/syslog"
exit 0
