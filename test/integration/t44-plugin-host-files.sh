# SPDX-License-Identifier: MIT
# Host files and the plugin: a Docker Create may not make the daemon read
# a file of the host (credentials=, whatever the backend, a root-only file
# or a FIFO); no error ever shows a line or a key of a credentials file; a
# FIFO given to the CLI is refused at once instead of blocking; a Create
# that takes long (a backend checking its options) does not hold up the
# Mounts of other volumes; a name that is not ASCII is a 400 with a JSON
# error saying which names are allowed.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq curl python3

SBE=$VOLFS_TEST_HELPERS/.libs/secretbe.so
[ -e "$SBE" ] || skip "the secretbe test backend is not built ($SBE)"
# The real backends and the test one, in one directory.
mkdir "$T/be"
for so in "$VOLFS_BACKEND_DIR"/*.so "$SBE"; do
	ln -s "$so" "$T/be/"
done
VOLFS_BACKEND_DIR=$T/be
export VOLFS_BACKEND_DIR

serve_plugin

# req PATH BODY [MAXTIME]: the answer in $T/out, the status in $code.
req() {
	code=$(curl -sS --max-time "${3:-10}" --unix-socket "$SOCK" -X POST \
		-o "$T/out" -w '%{http_code}' --data-binary "$2" \
		"http://plugin/$1") || fail "no answer to $1 $2"
}

# A root-only file whose first line is not an option: once its key came
# back in the error.
printf 'db_password=Hunter2-db\n' >"$T/rootonly"
chmod 600 "$T/rootonly"
mkfifo "$T/fifo"

for opts in \
	"{\"backend\":\"smb\",\"share\":\"//127.0.0.1/x\",\"credentials\":\"$T/rootonly\"}" \
	"{\"backend\":\"secretbe\",\"credentials\":\"$T/rootonly\"}" \
	"{\"credentials\":\"$T/rootonly\"}" \
	"{\"backend\":\"nosuch\",\"credentials\":\"$T/rootonly\"}" \
	"{\"backend\":\"secretbe\",\"credentials\":\"$T/fifo\"}"; do
	req VolumeDriver.Create "{\"Name\":\"h1\",\"Opts\":$opts}"
	assert_eq "$code" 200 "status of a Create with $opts"
	assert_grep "option 'credentials' names a file on the host" "$T/out"
	assert_no_grep "db_password|Hunter2" "$T/out"
	expect_exit 1 vol inspect h1
done
assert_no_grep "db_password|Hunter2" "$T/serve.log"

# The CLI still reads credentials files, but never shows what is in one.
expect_exit 1 vol create -b secretbe -o credentials="$T/rootonly" c1
assert_grep "credentials file $T/rootonly, line 1: the key is not an option" "$T/err"
assert_no_grep "db_password|Hunter2" "$T/err"
printf 'username=u\npassword Hunter2-db\n' >"$T/rootonly"
expect_exit 1 vol create -b secretbe -o credentials="$T/rootonly" c1
assert_grep "line 2: not a KEY=VALUE line" "$T/err"
assert_no_grep "Hunter2" "$T/err"

# A FIFO (nobody writing to it) is refused at once, not waited on.
start=$(date +%s)
expect_exit 1 timeout 20 "$VOLFS" create -b secretbe -o credentials="$T/fifo" c2
assert_grep "credentials file $T/fifo: it is a FIFO, not a regular file" "$T/err"
[ $(($(date +%s) - start)) -lt 10 ] || fail "create with a FIFO took over 10 s"
expect_exit 1 vol create -b secretbe -o credentials="$T" c2
assert_grep "it is a directory, not a regular file" "$T/err"
expect_exit 1 vol inspect c2

# A Create whose backend takes long to check its options (secretbe's
# hold= waits until the file is removed) holds up no other request.
vol create v1 >/dev/null
curl -sS --max-time 60 --unix-socket "$SOCK" -X POST -o "$T/held.out" \
	--data-binary "{\"Name\":\"held\",\"Opts\":{\"backend\":\"secretbe\",\"password\":\"p\",\"hold\":\"$T/hold\"}}" \
	http://plugin/VolumeDriver.Create &
held=$!
track_pid "$held"
wait_until 20 test -e "$T/hold" || fail "the held Create never reached validate()"
start=$(date +%s%N)
req VolumeDriver.Mount '{"Name":"v1","ID":"m1"}' 20
assert_eq "$(jq -r .Err "$T/out")" "" "Mount next to a held Create"
req VolumeDriver.Create '{"Name":"v2","Opts":{"backend":"ram"}}' 20
assert_eq "$(jq -r .Err "$T/out")" "" "Create next to a held Create"
req VolumeDriver.Unmount '{"Name":"v1","ID":"m1"}' 20
req VolumeDriver.Remove '{"Name":"v2"}' 20
assert_eq "$(jq -r .Err "$T/out")" "" "Remove next to a held Create"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -lt 5000 ] || fail "Mount, Create, Unmount, Remove took $ms ms next to a held Create"
rm -f "$T/hold"
wait "$held" || fail "the held Create got no answer"
assert_eq "$(jq -r .Err "$T/held.out")" "" "the held Create"

# A name that is not ASCII: a 400 with valid JSON naming what is allowed.
for name in 'café' 'naïve-vol' 'x\u00ff' '\u65e5\u672c'; do
	req VolumeDriver.Create "{\"Name\":\"$name\"}"
	assert_eq "$code" 400 "status of a Create of '$name'"
	jq -e '.Err | test("invalid volume name: non-ASCII byte 0x[0-9a-f]{2} at byte [0-9]+; names are made of ASCII letters, digits")' \
		"$T/out" >/dev/null || { cat "$T/out" >&2; fail "the error for '$name'"; }
	req VolumeDriver.Get "{\"Name\":\"$name\"}"
	assert_eq "$code" 400 "status of a Get of '$name'"
	jq -e .Err "$T/out" >/dev/null || fail "Get of '$name' is not JSON"
done
# A message cut at its size limit in the middle of a character (an
# unknown option whose key is 700 'é') is still valid JSON.
key=$(python3 -c 'print("\u00e9" * 700)')
req VolumeDriver.Create "{\"Name\":\"k1\",\"Opts\":{\"$key\":\"v\"}}"
assert_eq "$code" 200 "status of a Create with a long unknown key"
jq -e '.Err | startswith("unknown option")' "$T/out" >/dev/null ||
	{ head -c 300 "$T/out" >&2; fail "the error for a long unknown key"; }
# Bytes that are not UTF-8 at all are not JSON: refused as such.
printf '{"Name":"caf\351"}' >"$T/latin1"
code=$(curl -sS --max-time 10 --unix-socket "$SOCK" -X POST -o "$T/out" \
	-w '%{http_code}' --data-binary @"$T/latin1" http://plugin/VolumeDriver.Create)
assert_eq "$code" 400 "status of a Latin-1 name"
jq -e '.Err | test("invalid JSON")' "$T/out" >/dev/null || fail "the error for a Latin-1 name"

kill -0 "$serve_pid" || fail "volfs serve died"
exit 0
