# SPDX-License-Identifier: MIT
# volfs stats and volfs serve --metrics on a staged volume of the dirstore
# store (no server needed): files left dirty while the store is
# unreachable, failed uploads retried, their upload once it is back, cache
# hits, who serves the volume; errors for volumes without counters; the
# Prometheus endpoint, its latency histograms and its loopback-only
# addresses.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq curl
[ -e "$VOLFS_BACKEND_DIR/dirstore.so" ] ||
	skip "the dirstore backend module is not built ($VOLFS_BACKEND_DIR/dirstore.so)"

store=$T/store
mkdir "$store"
# Read by the process that serves the volume: while $T/outage exists,
# every store op fails as if the server were unreachable.
VOLFS_DIRSTORE_FAIL=$T/outage
export VOLFS_DIRSTORE_FAIL

vol create -b dirstore -o path="$store" -o upload_delay=0 sv >/dev/null
vol create loc >/dev/null

# Never opened: it has no counters yet.
expect_exit 0 vol stats --format json
assert_eq "$(jq length "$T/out")" 0 "volumes listed before any was opened"
expect_exit 1 vol stats sv
assert_grep "volume 'sv' is not staged" "$T/err"

mount_vol sv "$T/mnt"
mnt=$(abspath "$T/mnt")
pid=$(mount_pid sv "$mnt")

# st FIELD: that member of sv's counters; eq FIELD N: it is N; ge FIELD N:
# it is at least N.
st() {
	"$VOLFS" stats --format json sv | jq -r ".[0].$1"
}
eq() {
	[ "$(st "$1")" = "$2" ]
}
ge() {
	[ "$(st "$1")" -ge "$2" ]
}
# col NAME: the column NAME of sv's row in the table in $T/out.
col() {
	awk -v c="$1" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) n = i; next }
		$1 == "sv" { print $n }' "$T/out"
}

echo one >"$mnt/f"
wait_until 10 grep -qx one "$store/f" || fail "f never reached the store"
wait_until 5 eq dirty_files 0 || fail "f is still dirty once on the store"
assert_eq "$(st served_by)" "$pid" "served_by while mounted"
expect_exit 0 vol stats
assert_eq "$(col SERVED)" "$pid" "SERVED while mounted"

# The outage: a change made through a file opened before it is kept in the
# cache; its upload fails and is retried.
exec 3>>"$mnt/f"
: >"$T/outage"
echo two >&3
exec 3>&-
wait_until 10 ge dirty_files 1 || fail "no dirty file counted during the outage"
wait_until 10 ge upload_failures 1 || fail "no failed upload counted"
ge failed_files 1 || fail "no failed file counted"
n=$(st upload_failures)
wait_until 15 ge upload_failures $((n + 1)) ||
	fail "upload failures stay at $n: the upload is not retried"
assert_eq "$(st served_by)" "$pid" "served_by during the outage"
expect_exit 0 vol stats sv
assert_eq "$(col DIRTY)" 1 "DIRTY during the outage"
assert_eq "$(col SERVED)" "$pid" "SERVED during the outage"
[ "$(col FAILED)" -ge 1 ] || fail "FAILED is $(col FAILED) during the outage"
assert_eq "$(cat "$store/f")" one "the store's copy during the outage"

# The outage ends: a retry uploads it (retries back off up to a minute).
up=$(st uploads)
rm "$T/outage"
wait_until 70 eq dirty_files 0 || fail "still dirty after the outage"
ge uploads $((up + 1)) || fail "no upload counted after the outage"
assert_eq "$(st failed_files)" 0 "failed files after the outage"
assert_eq "$(printf '%s,' $(cat "$store/f"))" "one,two," "the store's copy"

# A kept copy serves opens: reading twice counts hits.
h=$(st hits)
cat "$mnt/f" >/dev/null
cat "$mnt/f" >/dev/null
ge hits $((h + 1)) || fail "reading f twice counted no hit ($h before)"
expect_exit 0 vol stats sv
assert_grep '^sv +[0-9]+ +0 +0B +0 +0 +[0-9.]+[KMGT]?i?B/[0-9.]+[KMGT]?i?B +[0-9.]+% ' "$T/out"

# Volumes without counters, and names that are not volumes.
expect_exit 1 vol stats loc
assert_grep "volume 'loc' is not staged" "$T/err"
[ ! -s "$T/out" ] || fail "stats of a local volume printed a table"
expect_exit 1 vol stats nosuch
assert_grep "no such volume: 'nosuch'" "$T/err"
expect_exit 2 vol stats 'a/b'
assert_grep "invalid volume name" "$T/err"
expect_exit 2 vol stats --format xml
expect_exit 1 vol stats --format json sv loc
jq -e 'map(.name) == ["sv"]' "$T/out" >/dev/null ||
	{ cat "$T/out" >&2; fail "stats sv loc does not show sv alone"; }
# Without names: every staged volume, and no other.
expect_exit 0 vol stats --format json
jq -e 'map(.name) == ["sv"] and (.[0] | has("mem_budget") and has("bytes_out"))' \
	"$T/out" >/dev/null || { cat "$T/out" >&2; fail "stats lists more or less than sv"; }

# --metrics: loopback only.
mkdir "$T/srv"
srv=$(abspath "$T/srv")
for a in 0.0.0.0:9100 192.0.2.1:9100 '[::]:9100' ':9100'; do
	expect_exit 2 vol serve -m "$srv" --no-docker --metrics "$a"
	assert_grep "not a loopback address" "$T/err"
done
expect_exit 2 vol serve -m "$srv" --no-docker --metrics localhost:9100
assert_grep "invalid metrics address" "$T/err"
! is_mounted "$srv" || fail "a refused serve mounted $srv"

# A port nobody listens on (neither side of any socket in the tables).
port=$((20000 + $$ % 10000))
while grep -qi ":$(printf '%04X' $port) " /proc/net/tcp /proc/net/tcp6 2>/dev/null; do
	port=$((port + 1))
done
echo "$srv" >>"$T/mounts"
"$VOLFS" serve -m "$srv" --no-docker --metrics "127.0.0.1:$port" 2>"$T/serve.log" &
serve_pid=$!
track_pid $serve_pid
wait_until 10 is_mounted "$srv" ||
	{ cat "$T/serve.log" >&2; fail "volfs serve --metrics did not mount $srv"; }
ls "$srv/loc" >/dev/null
curl -sf -D "$T/hdr" "http://127.0.0.1:$port/metrics" >"$T/metrics" ||
	{ cat "$T/serve.log" >&2; fail "GET /metrics failed"; }
assert_grep '^Content-Type: text/plain; version=0\.0\.4' "$T/hdr"
assert_grep '^volfs_stage_served\{volume="sv"\} 1$' "$T/metrics"
assert_grep '^volfs_stage_dirty_files\{volume="sv"\} 0$' "$T/metrics"
assert_grep '^volfs_stage_uploads_total\{volume="sv"\} [1-9][0-9]*$' "$T/metrics"
assert_grep '^volfs_stage_upload_failures_total\{volume="sv"\} [1-9][0-9]*$' "$T/metrics"
assert_grep '^volfs_stage_cache_hits_total\{volume="sv"\} [1-9][0-9]*$' "$T/metrics"
assert_grep '^# TYPE volfs_stage_uploads_total counter$' "$T/metrics"
assert_no_grep 'volume="loc"' "$T/metrics"
assert_grep '^# TYPE volfs_fuse_request_duration_seconds histogram$' "$T/metrics"
assert_grep '^volfs_fuse_request_duration_seconds_bucket\{op="lookup",le="0\.001"\} [0-9]+$' "$T/metrics"
assert_grep '^volfs_fuse_request_duration_seconds_count\{op="lookup"\} [1-9][0-9]*$' "$T/metrics"
inf=$(sed -n 's/^volfs_fuse_request_duration_seconds_bucket{op="lookup",le="+Inf"} //p' "$T/metrics")
cnt=$(sed -n 's/^volfs_fuse_request_duration_seconds_count{op="lookup"} //p' "$T/metrics")
assert_eq "$inf" "$cnt" "the lookup histogram's +Inf bucket and count"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/other")" 404 \
	"the status of another path"
kill -TERM $serve_pid
wait_until 10 not_mounted "$srv" || fail "volfs serve did not stop on SIGTERM"

# On a unix socket: root's only, removed at exit.
"$VOLFS" serve -m "$srv" --no-docker --metrics "unix:$T/metrics.sock" 2>"$T/serve.log" &
serve_pid=$!
track_pid $serve_pid
wait_until 10 is_mounted "$srv" ||
	{ cat "$T/serve.log" >&2; fail "volfs serve --metrics unix: did not mount $srv"; }
assert_eq "$(stat -c %a "$T/metrics.sock")" 600 "the mode of the metrics socket"
curl -sf --unix-socket "$T/metrics.sock" http://localhost/metrics >"$T/metrics" ||
	{ cat "$T/serve.log" >&2; fail "GET /metrics on the unix socket failed"; }
assert_grep '^volfs_stage_dirty_files\{volume="sv"\} 0$' "$T/metrics"
kill -TERM $serve_pid
wait_until 10 not_mounted "$srv" || fail "volfs serve did not stop on SIGTERM"
wait_until 5 [ ! -e "$T/metrics.sock" ] || fail "the metrics socket is left behind"
exit 0
