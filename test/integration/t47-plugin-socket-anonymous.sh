# SPDX-License-Identifier: MIT
# serve --docker-socket FILE replaces only a stale socket: a regular file,
# a directory or a symlink there is refused and left as it was.  Volumes
# Docker creates for `docker run -v /path` (a 64-hex name, no options) are
# anonymous: `volfs prune` removes them once unused, and nothing else.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq curl python3

mkdir -p "$T/mnt"
MNT=$(abspath "$T/mnt")
echo "$MNT" >>"$T/mounts"

# Not a socket: refused, untouched.
echo keep >"$T/file.sock"
expect_exit 1 timeout -s TERM 20 "$VOLFS" serve -m "$MNT" --docker-socket "$T/file.sock"
assert_grep "cannot listen on $T/file.sock: it exists and is not a socket" "$T/err"
assert_eq "$(cat "$T/file.sock")" keep "a regular file at the socket path"
not_mounted "$MNT" || fail "a refused serve left its mount"
mkdir "$T/dir.sock"
expect_exit 1 timeout -s TERM 20 "$VOLFS" serve -m "$MNT" --docker-socket "$T/dir.sock"
assert_grep "it exists and is not a socket" "$T/err"
[ -d "$T/dir.sock" ] || fail "a directory at the socket path is gone"
ln -s "$T/file.sock" "$T/link.sock"
expect_exit 1 timeout -s TERM 20 "$VOLFS" serve -m "$MNT" --docker-socket "$T/link.sock"
assert_grep "it exists and is not a socket" "$T/err"
[ -L "$T/link.sock" ] || fail "a symlink at the socket path is gone"
assert_eq "$(cat "$T/file.sock")" keep "the symlink's target"

# A stale socket (its listener gone) is replaced.
SOCK=$T/plugin.sock
python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$SOCK"
[ -S "$SOCK" ] || fail "no stale socket made"
serve_plugin

req() {
	curl -sS --max-time 20 --unix-socket "$SOCK" -X POST -o "$T/out" \
		--data-binary "$2" "http://plugin/$1" || fail "no answer to $1 $2"
	assert_eq "$(jq -r .Err "$T/out")" "" "Err of $1 $2"
}
anon() {
	vol inspect "$1" | jq -r '.[0].anonymous'
}

A1=$(printf 'a%.0s' $(seq 64))
A2=$(printf '0123456789abcdef%.0s' 1 2 3 4)
A3=$(printf 'b%.0s' $(seq 64))
A4=$(printf 'c%.0s' $(seq 64))
A5=$(printf 'D%.0s' $(seq 64))
req VolumeDriver.Create "{\"Name\":\"$A1\",\"Opts\":null}"
req VolumeDriver.Create "{\"Name\":\"$A2\",\"Opts\":{}}"
req VolumeDriver.Create "{\"Name\":\"$A3\"}"
# Options, a name of another length or in capitals: named as asked.
req VolumeDriver.Create "{\"Name\":\"$A4\",\"Opts\":{\"backend\":\"ram\"}}"
req VolumeDriver.Create "{\"Name\":\"$A5\",\"Opts\":null}"
req VolumeDriver.Create "{\"Name\":\"${A1}a\",\"Opts\":null}"
req VolumeDriver.Create '{"Name":"named","Opts":null}'
for v in "$A1" "$A2" "$A3"; do
	assert_eq "$(anon "$v")" true "anonymous of a Docker anonymous volume"
done
for v in "$A4" "$A5" "${A1}a" named; do
	assert_eq "$(anon "$v")" false "anonymous of $v"
done

# prune: the anonymous ones that no container uses go, nothing else.
req VolumeDriver.Mount "{\"Name\":\"$A1\",\"ID\":\"c1\"}"
expect_exit 0 vol prune -f
vol ls -q | sort >"$T/left"
printf '%s\n' "$A1" "$A4" "$A5" "${A1}a" named | sort >"$T/want"
diff "$T/want" "$T/left" >&2 || fail "volumes left by prune"
req VolumeDriver.Unmount "{\"Name\":\"$A1\",\"ID\":\"c1\"}"
expect_exit 0 vol prune -f
expect_exit 1 vol inspect "$A1"

kill -0 "$serve_pid" || fail "volfs serve died"
exit 0
