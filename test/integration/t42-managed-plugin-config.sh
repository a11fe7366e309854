# SPDX-License-Identifier: MIT
# The managed plugin's configuration: valid JSON with what Docker requires,
# and an entrypoint this volfs accepts.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq

cfg=$VOLFS_SRCDIR/packaging/docker/config.json
jq -e . "$cfg" >/dev/null || fail "$cfg is not valid JSON"
assert_eq "$(jq -r '.interface.types[0]' "$cfg")" docker.volumedriver/1.0 "interface type"
assert_eq "$(jq -r '.interface.socket' "$cfg")" volfs.sock "plugin socket name"
sock=$(jq -r '.entrypoint | index("--docker-socket") as $i | .[$i + 1]' "$cfg")
assert_eq "$sock" /run/docker/plugins/volfs.sock "socket the entrypoint listens on"
mnt=$(jq -r '.entrypoint | index("--mountpoint") as $i | .[$i + 1]' "$cfg")
assert_eq "$mnt" "$(jq -r .propagatedMount "$cfg")" "serve mountpoint vs propagatedMount"
jq -e '.linux.capabilities | index("CAP_SYS_ADMIN")' "$cfg" >/dev/null || fail "no CAP_SYS_ADMIN"
jq -e '.linux.devices[] | select(.path == "/dev/fuse")' "$cfg" >/dev/null || fail "no /dev/fuse"

# Every option of the entrypoint is one `volfs serve` knows.
"$VOLFS" serve --help >"$T/help"
for opt in $(jq -r '.entrypoint[] | select(startswith("--"))' "$cfg"); do
	assert_grep "$opt" "$T/help"
done
assert_eq "$(jq -r '.entrypoint[1]' "$cfg")" serve "entrypoint command"
exit 0
