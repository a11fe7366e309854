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

# The entrypoint is `volfs [OPTIONS] serve [OPTIONS]`, every option one
# volfs knows where it stands.
assert_eq "$(jq -r '.entrypoint[0]' "$cfg")" /usr/bin/volfs "entrypoint program"
jq -e '.entrypoint | index("serve")' "$cfg" >/dev/null || fail "the entrypoint does not run serve"
"$VOLFS" --help >"$T/help-main"
"$VOLFS" serve --help >"$T/help"
for opt in $(jq -r '.entrypoint | index("serve") as $i | .[1:$i][] | select(startswith("--"))' "$cfg"); do
	assert_grep "$opt" "$T/help-main"
done
for opt in $(jq -r '.entrypoint | index("serve") as $i | .[$i + 1:][] | select(startswith("--"))' "$cfg"); do
	assert_grep "$opt" "$T/help"
done

# The state directory and Docker's socket are bound from the host, their
# sources settable (`docker plugin set NAME state.source=DIR`).
root=$(jq -r '.env[] | select(.name == "VOLFS_ROOT") | .value' "$cfg")
assert_eq "$(jq -r '.mounts[] | select(.name == "state") | .destination' "$cfg")" "$root" \
	"the state mount's destination vs VOLFS_ROOT"
for m in state docker-sock; do
	assert_eq "$(jq -r --arg m "$m" '.mounts[] | select(.name == $m) | .settable | join(",")' "$cfg")" \
		source "settable fields of mount '$m'"
done
host=$(jq -r '.entrypoint | index("--docker-host") as $i | .[$i + 1]' "$cfg")
assert_eq "$host" "unix://$(jq -r '.mounts[] | select(.name == "docker-sock") | .destination' "$cfg")" \
	"--docker-host vs the docker-sock mount"
exit 0
