# SPDX-License-Identifier: MIT
# The plugin socket under a crowd: connections that dribble a request one
# header byte at a time are closed at the request deadline (total, not
# idle), more of them than the plugin has connection slots never keep an
# honest client out, and a burst of 500 connects all get in and answered.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq curl python3

CLIENTS="python3 $VOLFS_SRCDIR/test/helpers/plugin_clients.py"
# The deadline shortened to 4 s (the default is 10 s).
VOLFS_PLUGIN_REQUEST_TIMEOUT=4
export VOLFS_PLUGIN_REQUEST_TIMEOUT
serve_plugin
vol create v1 >/dev/null

# 1100 clients that each send one header byte per second: more than the
# plugin serves at once (1024).
$CLIENTS "$SOCK" slow 1100 1 30 "$T/slow.ready" >"$T/slow.out" 2>&1 &
slow=$!
track_pid "$slow"
wait_until 30 test -e "$T/slow.ready" || fail "the slow clients never connected"

# An honest client is answered within 6 s (a quarter of the deadline, the
# age a waiting client is closed at to make room, plus slack).
start=$(date +%s%N)
code=$(curl -sS --max-time 20 --unix-socket "$SOCK" -X POST -d '{"Name":"v1"}' \
	-o "$T/out" -w '%{http_code}' http://plugin/VolumeDriver.Get) ||
	fail "no answer next to 1100 slow clients"
ms=$((($(date +%s%N) - start) / 1000000))
assert_eq "$code" 200 "status of a Get next to slow clients"
assert_eq "$(jq -r .Volume.Name "$T/out")" v1 "Get next to slow clients"
[ "$ms" -lt 6000 ] || fail "a Get took $ms ms next to 1100 slow clients"
echo "a Get next to 1100 slow clients: $ms ms"

# Every slow client is closed by the server, although it keeps sending:
# the deadline (4 s) is not an idle timeout.
wait "$slow" || fail "the slow clients' helper failed"
cat "$T/slow.out"
opened=$(sed -n 's/.*opened=\([0-9]*\).*/\1/p' "$T/slow.out")
closed=$(sed -n 's/.*closed=\([0-9]*\).*/\1/p' "$T/slow.out")
last=$(sed -n 's/.*last_close=\([0-9]*\).*/\1/p' "$T/slow.out")
[ "$opened" -ge 1024 ] || fail "only $opened of 1100 slow clients connected"
assert_eq "$closed" "$opened" "slow clients closed by the server within 30 s"
[ "$last" -le 20 ] || fail "the last slow client was closed after $last s"
assert_grep "did not send a whole request within 4 s" "$T/serve.log"

# 500 connects at once all get in (no EAGAIN: the listen backlog) and
# all are answered.
$CLIENTS "$SOCK" burst 500 60 >"$T/burst.out" 2>&1 || fail "the burst helper failed"
cat "$T/burst.out"
assert_grep "^connected=500 failed=0 answered=500" "$T/burst.out"

kill -0 "$serve_pid" || fail "volfs serve died"
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "volfs serve exited with status $? after SIGTERM"
exit 0
