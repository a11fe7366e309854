# SPDX-License-Identifier: MIT
# The Docker plugin socket without Docker: every endpoint, and malformed
# requests (bad JSON, missing fields, wrong types, huge bodies, unknown
# paths, slow clients, many clients at once) get an error, never a crash or
# a hang of other requests; a Mount that fails leaves no reference.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq curl

serve_plugin

# req PATH [BODY]: POSTs to the plugin; the body in $T/out, the HTTP status
# in $code.
req() {
	code=$(curl -sS --max-time 10 --unix-socket "$SOCK" -X POST \
		-o "$T/out" -w '%{http_code}' ${2+--data-binary "$2"} \
		"http://plugin/$1") || fail "no answer to $1"
}

# expect_err PATH BODY CODE TEXT: an error answer with that status and text.
expect_err() {
	req "$1" "$2"
	assert_eq "$code" "$3" "HTTP status of $1 $2"
	assert_grep "$4" "$T/out"
	[ "$(jq -r .Err "$T/out")" != "" ] || fail "no Err in the answer to $1 $2"
}

assert_eq "$(stat -c %a "$SOCK")" 660 "mode of the plugin socket"

req Plugin.Activate
assert_eq "$(jq -c .Implements "$T/out")" '["VolumeDriver"]' "Activate"
req VolumeDriver.Capabilities
assert_eq "$(jq -r .Capabilities.Scope "$T/out")" local "Capabilities"
req VolumeDriver.List
assert_eq "$(jq -c .Volumes "$T/out")" '[]' "List of an empty catalog"

# Create, Get, List, Path, Mount, Unmount, Remove.
req VolumeDriver.Create '{"Name":"v1","Opts":null}'
assert_eq "$(jq -r .Err "$T/out")" "" "Create with Opts null"
req VolumeDriver.Create '{"Name":"v2","Opts":{"backend":"ram","size":"8m"}}'
assert_eq "$(jq -r .Err "$T/out")" "" "Create with options"
req VolumeDriver.Get '{"Name":"v2"}'
assert_eq "$(jq -r .Volume.Mountpoint "$T/out")" "$MNT/v2" "Get Mountpoint"
assert_eq "$(jq -r .Volume.Status.options.size "$T/out")" 8m "Get options"
assert_grep '"CreatedAt":"20[0-9-]+T' "$T/out"
req VolumeDriver.List
assert_eq "$(jq -r '[.Volumes[].Name] | join(",")' "$T/out")" "v1,v2" "List"
req VolumeDriver.Path '{"Name":"v1"}'
assert_eq "$(jq -r .Mountpoint "$T/out")" "$MNT/v1" "Path"
req VolumeDriver.Mount '{"Name":"v2","ID":"id1"}'
assert_eq "$(jq -r .Mountpoint "$T/out")" "$MNT/v2" "Mount"
echo data >"$MNT/v2/f" || fail "cannot write to a mounted volume"
req VolumeDriver.Mount '{"Name":"v2","ID":"id1"}'
req VolumeDriver.Get '{"Name":"v2"}'
assert_eq "$(jq -r .Volume.Status.refcount "$T/out")" 2 "one ID mounted twice"
expect_err VolumeDriver.Remove '{"Name":"v2"}' 200 "in use by docker:id1"
req VolumeDriver.Unmount '{"Name":"v2","ID":"id1"}'
req VolumeDriver.Get '{"Name":"v2"}'
assert_eq "$(jq -r .Volume.Status.refcount "$T/out")" 1 "after the first Unmount"
req VolumeDriver.Unmount '{"Name":"v2","ID":"id1"}'
# Unmount of what is not held (a failed start) is not an error.
req VolumeDriver.Unmount '{"Name":"v2","ID":"id1"}'
assert_eq "$(jq -r .Err "$T/out")" "" "Unmount of an ID that holds nothing"
req VolumeDriver.Remove '{"Name":"v2"}'
assert_eq "$(jq -r .Err "$T/out")" "" "Remove"
expect_err VolumeDriver.Get '{"Name":"v2"}' 200 "no such volume: 'v2'"
expect_err VolumeDriver.Mount '{"Name":"v2","ID":"id2"}' 200 "no such volume"
expect_err VolumeDriver.Remove '{"Name":"v2"}' 200 "no such volume"

# The CLI's validation and its messages.
expect_err VolumeDriver.Create '{"Name":"bad","Opts":{"colour":"red"}}' 200 "unknown option 'colour'"
expect_err VolumeDriver.Create '{"Name":"../x"}' 400 "invalid volume name"
expect_err VolumeDriver.Create '{"Name":"v1"}' 200 "already exists"
expect_err VolumeDriver.Create '{"Name":"b","Opts":{"backend":"ram","size":"lots"}}' 200 "size"
expect_fail "$VOLFS" inspect b

# A Mount whose volume cannot be opened fails with the backend's message
# and leaves no reference.
mkdir "$T/ext"
req VolumeDriver.Create "{\"Name\":\"ext\",\"Opts\":{\"path\":\"$T/ext\"}}"
assert_eq "$(jq -r .Err "$T/out")" "" "Create with path="
rmdir "$T/ext"
expect_err VolumeDriver.Mount '{"Name":"ext","ID":"id3"}' 200 "ext"
assert_eq "$("$VOLFS" inspect ext | jq -r '.[0].refcount')" 0 "references after a failed Mount"

# Malformed requests.
expect_err VolumeDriver.Get 'not json' 400 "invalid JSON"
expect_err VolumeDriver.Get '[1,2]' 400 "must be a JSON object"
expect_err VolumeDriver.Get '' 400 "invalid JSON"
expect_err VolumeDriver.Get '{}' 400 'no \\"Name\\" given'
expect_err VolumeDriver.Get '{"Name":7}' 400 'must be a string'
expect_err VolumeDriver.Get '{"Name":"v1","Name":"v1"}' 400 "invalid JSON"
expect_err VolumeDriver.Mount '{"Name":"v1"}' 400 'no \\"ID\\" given'
expect_err VolumeDriver.Mount '{"Name":"v1","ID":""}' 400 'ID'
expect_err VolumeDriver.Mount '{"Name":"v1","ID":"a b"}' 400 'ID'
expect_err VolumeDriver.Create '{"Name":"x","Opts":[1]}' 400 'Opts'
expect_err VolumeDriver.Create '{"Name":"x","Opts":{"size":1}}' 200 "must be a string"
expect_err VolumeDriver.Nothing '{}' 404 "unknown request"
expect_err ../etc/passwd '{}' 404 "unknown request"
code=$(curl -sS --max-time 10 --unix-socket "$SOCK" -o "$T/out" -w '%{http_code}' \
	http://plugin/VolumeDriver.List)
assert_eq "$code" 405 "GET instead of POST"
head -c 1048576 /dev/zero | tr '\0' 'a' >"$T/big"
code=$(curl -sS --max-time 10 --unix-socket "$SOCK" -o "$T/out" -w '%{http_code}' \
	-X POST --data-binary @"$T/big" http://plugin/VolumeDriver.Get)
assert_eq "$code" 413 "a 1 MiB body"
# Garbage that is not HTTP at all.
head -c 4096 /dev/urandom >"$T/garbage"
curl -sS --max-time 5 --unix-socket "$SOCK" -X POST -H "X-Junk: $(head -c 3000 /dev/zero | tr '\0' 'z')" \
	http://plugin/VolumeDriver.List >/dev/null 2>&1 || true

# A slow client dribbling its body holds its own connection only.
head -c 2000 /dev/zero | tr '\0' ' ' >"$T/slow"
curl -sS --max-time 120 --limit-rate 10 --unix-socket "$SOCK" -X POST \
	--data-binary @"$T/slow" http://plugin/VolumeDriver.List >/dev/null 2>&1 &
slow=$!
track_pid "$slow"
sleep 0.5
start=$(date +%s%N)
req VolumeDriver.Get '{"Name":"v1"}'
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 2000 ] || fail "a request took ${ms} ms next to a slow client"

# Many clients at once.
i=0
while [ $i -lt 100 ]; do
	curl -sS --max-time 30 --unix-socket "$SOCK" -X POST -d '{"Name":"v1"}' \
		-o "$T/par.$i" http://plugin/VolumeDriver.Get &
	i=$((i + 1))
done
wait_ok=0
i=0
while [ $i -lt 100 ]; do
	if [ "$(jq -r .Volume.Name "$T/par.$i" 2>/dev/null)" = v1 ]; then
		wait_ok=$((wait_ok + 1))
	fi
	i=$((i + 1))
done
# Let the background curls finish (the slow one is stopped at exit).
sleep 1
assert_eq "$wait_ok" 100 "answers to 100 concurrent Gets"
kill "$slow" 2>/dev/null || true

# A second serve cannot take a live socket; it leaves the first alone.
mkdir -p "$T/mnt2"
expect_exit 1 "$VOLFS" serve -m "$T/mnt2" --docker-socket "$SOCK"
assert_grep "another process answers there" "$T/err"
req VolumeDriver.Get '{"Name":"v1"}'
assert_eq "$(jq -r .Err "$T/out")" "" "the first serve after a refused second"
not_mounted "$(abspath "$T/mnt2")" || fail "the refused serve left its mount"

kill -0 "$serve_pid" || fail "volfs serve died"
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "volfs serve exited with status $? after SIGTERM"
[ ! -e "$SOCK" ] || fail "the plugin socket outlived serve"
exit 0
