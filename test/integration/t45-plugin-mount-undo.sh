# SPDX-License-Identifier: MIT
# A Mount whose client gave up before the answer (Docker's timeout, a
# client that died) leaves no reference: no Unmount will ever come for it.
# Docker retrying the Mount with the same ID counts once; the same ID
# mounted twice on purpose (docker cp) still counts twice.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq curl python3

serve_plugin
vol create v1 >/dev/null

req() {
	curl -sS --max-time 20 --unix-socket "$SOCK" -X POST -o "$T/out" \
		--data-binary "$2" "http://plugin/$1" || fail "no answer to $1 $2"
	assert_eq "$(jq -r .Err "$T/out")" "" "Err of $1 $2"
}

# The reference count as Docker sees it (Get counts every Mount of an ID).
refs() {
	curl -sS --max-time 20 --unix-socket "$SOCK" -X POST -d '{"Name":"v1"}' \
		http://plugin/VolumeDriver.Get | jq -r .Volume.Status.refcount
}

# The catalog's write lock held by another process for 4 s: the Mount
# waits for it, and its client gives up after 1 s.
python3 - "$VOLFS_ROOT/catalog.db" "$T/locked" <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(4)
db.execute("ROLLBACK")
PY
locker=$!
track_pid "$locker"
wait_until 10 test -e "$T/locked" || fail "the catalog was never locked"
rc=0
curl -sS --max-time 1 --unix-socket "$SOCK" -X POST \
	--data-binary '{"Name":"v1","ID":"gaveup"}' http://plugin/VolumeDriver.Mount \
	>/dev/null 2>&1 || rc=$?
assert_eq "$rc" 28 "curl's status for a Mount it gave up on"
wait "$locker" || fail "the catalog locker failed"
# The Mount goes through once the lock is free, then finds nobody to
# answer: it drops its reference again.
wait_until 20 grep -q "docker mounted volume 'v1' for gaveup" "$T/serve.log" ||
	fail "the abandoned Mount never ran"
wait_until 10 test "$(refs)" = 0 ||
	fail "an abandoned Mount left $(refs) reference(s)"
assert_grep "gave up on the Mount of volume 'v1' for gaveup" "$T/serve.log"

# Docker's retry with the same ID: one reference.
req VolumeDriver.Mount '{"Name":"v1","ID":"gaveup"}'
assert_eq "$(refs)" 1 "references after the retried Mount"
req VolumeDriver.Unmount '{"Name":"v1","ID":"gaveup"}'
assert_eq "$(refs)" 0 "references after its Unmount"

# docker cp: the running container's ID mounted once more, then
# unmounted; the container keeps its reference.
req VolumeDriver.Mount '{"Name":"v1","ID":"ctr"}'
req VolumeDriver.Mount '{"Name":"v1","ID":"ctr"}'
assert_eq "$(refs)" 2 "one ID mounted twice"
req VolumeDriver.Unmount '{"Name":"v1","ID":"ctr"}'
assert_eq "$(refs)" 1 "after docker cp's Unmount"
req VolumeDriver.Unmount '{"Name":"v1","ID":"ctr"}'
assert_eq "$(refs)" 0 "after the container's Unmount"

kill -0 "$serve_pid" || fail "volfs serve died"
exit 0
