# SPDX-License-Identifier: MIT
# The managed Docker plugin, built from this build tree with
# packaging/docker/build-plugin.sh --build-dir, in a real dockerd started
# here: plugin create/set/enable, volume create/ls/inspect, one container
# writes and another reads back, the bytes are in the state directory on
# the host, volume rm, plugin disable/rm, and nothing left mounted or
# running.
. "$VOLFS_SRCDIR/test/servers/dockerd.sh"
enter_namespaces "$0" "$@"
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd dockerd docker containerd runc jq ldd make
need_static_busybox

IMG=volfs-test/busybox
PLUGIN=volfs/volfs:test
BUILD=$(dirname "$VOLFS")
[ -f "$BUILD/Makefile" ] || skip "$BUILD is not a build tree"
mkdir -p "$T/pstate"
PSTATE=$(abspath "$T/pstate")
plugin_made=
plugin_pid=

t43_cleanup() {
	rc=$?
	set +e
	if [ $rc -ne 0 ]; then
		echo "--- dockerd log (tail):" >&2
		tail -30 "$T/docker/dockerd.log" >&2
	fi
	if [ -n "$plugin_made" ]; then
		docker plugin disable -f "$PLUGIN" >/dev/null 2>&1
		docker plugin rm -f "$PLUGIN" >/dev/null 2>&1
	fi
	dockerd_stop
	# The plugin's daemon, should dockerd have left it running.
	[ -z "$plugin_pid" ] || track_pid "$plugin_pid"
	(exit $rc)
	_lib_cleanup
}
trap t43_cleanup EXIT

# plugin_pids EXE: the processes running the file EXE (by device and
# inode: they live in other mount and pid namespaces).
plugin_pids() {
	_want=$(stat -Lc '%d:%i' "$1")
	for _p in /proc/[0-9]*; do
		if [ "$(stat -Lc '%d:%i' "$_p/exe" 2>/dev/null)" = "$_want" ]; then
			echo "${_p#/proc/}"
		fi
	done
}

# fuse_mounts: volfs mounts below $T (this mount namespace began as a copy
# of the host's, with whatever others had mounted).
fuse_mounts() {
	awk -v d="$T/" '
		index($5, d) != 1 { next }
		{ for (i = 7; i <= NF; i++) if ($i == "-") { fs = $(i + 1); break } }
		fs == "fuse.volfs" { print fs, $5 }' /proc/self/mountinfo
}

# Run outside the make that runs the tests: its job server is not ours.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
	"$VOLFS_SRCDIR/packaging/docker/build-plugin.sh" --build-dir "$BUILD" \
	--output "$T/plugin" "$PLUGIN" >"$T/build.log" 2>&1 || {
	cat "$T/build.log" >&2
	fail "build-plugin.sh --build-dir failed"
}
[ -x "$T/plugin/rootfs/usr/bin/volfs" ] || fail "no /usr/bin/volfs in the plugin's rootfs"
# Only volfs's own files and libraries: nothing from this machine's /etc.
assert_eq "$(ls "$T/plugin/rootfs/etc" | tr '\n' ' ')" \
	"group ld.so.cache ld.so.conf nsswitch.conf passwd " "files in the rootfs's /etc"

dockerd_start
dockerd_image "$IMG"

# --- create, point the state directory and Docker's socket at this test's,
# enable.
docker plugin create "$PLUGIN" "$T/plugin" >/dev/null || fail "docker plugin create failed"
plugin_made=1
docker plugin set "$PLUGIN" "state.source=$PSTATE" \
	"docker-sock.source=$T/docker/docker.sock" || fail "docker plugin set failed"
timeout 60 docker plugin enable "$PLUGIN" >/dev/null || fail "docker plugin enable failed"
docker plugin ls --format '{{.Name}} {{.Enabled}}' >"$T/ls"
assert_grep "^$PLUGIN true$" "$T/ls"
id=$(docker plugin inspect -f '{{.Id}}' "$PLUGIN")
rootfs=$T/docker/data/plugins/$id/rootfs
exe=$(readlink -f "$rootfs/usr/bin/volfs")
[ -f "$exe" ] || fail "the plugin's volfs is not at $exe"
plugin_pid=$(plugin_pids "$exe")
case $plugin_pid in
'' | *[!0-9]*) fail "expected one volfs serve of the plugin, found '$plugin_pid'" ;;
esac
# It serves out of the state directory set above.
wait_until 10 test -f "$PSTATE/catalog.db" || {
	ls -la "$PSTATE" >&2
	fail "no catalog in the plugin's state directory"
}

# --- create / ls / inspect.
docker volume create -d "$PLUGIN" pvol >/dev/null || fail "docker volume create -d $PLUGIN failed"
docker volume ls --format '{{.Driver}} {{.Name}}' >"$T/ls"
assert_grep "^$PLUGIN pvol$" "$T/ls"
docker volume inspect pvol >"$T/inspect"
assert_eq "$(jq -r '.[0].Driver' "$T/inspect")" "$PLUGIN" "Driver in docker volume inspect"
assert_eq "$(jq -r '.[0].Status.backend' "$T/inspect")" local "Status.backend"
assert_eq "$(jq -r '.[0].Status.refcount' "$T/inspect")" 0 "Status.refcount"
# The path inside the plugin; Docker finds it under the plugin's mount,
# propagated out of the plugin.
assert_eq "$(jq -r '.[0].Mountpoint' "$T/inspect")" /mnt/volumes/pvol "Mountpoint in docker volume inspect"
fuse_mounts >"$T/fuse-mounts"
assert_grep "^fuse\.volfs $T/docker/data/plugins/$id/propagated-mount$" "$T/fuse-mounts"
expect_fail docker volume create -d "$PLUGIN" -o bogus=1 bad
assert_grep "unknown option 'bogus' for backend 'local'" "$T/err"

# --- one container writes, another reads back; the bytes are on the host.
seq 1 20000 >"$T/want"
docker run --rm --network none -v pvol:/data "$IMG" sh -c \
	'seq 1 20000 >/data/numbers && mkdir /data/d && echo hello >/data/d/f' ||
	fail "the writer container failed"
docker run --rm --network none -v pvol:/data:ro "$IMG" cat /data/numbers >"$T/read" ||
	fail "the reader container failed"
cmp "$T/want" "$T/read" || fail "the reader read other bytes than were written"
cmp "$T/want" "$PSTATE/volumes/pvol/_data/numbers" ||
	fail "the bytes are not in the plugin's state directory on the host"
assert_eq "$(cat "$PSTATE/volumes/pvol/_data/d/f")" hello "file in a subdirectory, on the host"

# --- a running container holds a reference.
docker run -d --name holder --network none -v pvol:/data "$IMG" sleep 600 >/dev/null ||
	fail "docker run -d failed"
assert_eq "$(docker volume inspect -f '{{.Status.refcount}}' pvol)" 1 "refcount with a container running"
assert_eq "$(docker exec holder cat /data/d/f)" hello "the running container's view"
# A volfs on the host sharing the plugin's state directory leaves the
# plugin's records alone: its daemon (pid 1 of another pid namespace) and
# its mount (of another mount namespace) are not taken for gone.
need_cmd sqlite3
servers() { sqlite3 "$PSTATE/catalog.db" 'SELECT count(*) FROM servers'; }
assert_eq "$(servers)" 1 "the plugin's server record"
VOLFS_ROOT=$PSTATE "$VOLFS" ls >"$T/host-ls" || fail "volfs ls on the host failed"
assert_grep " pvol +1$" "$T/host-ls"
VOLFS_ROOT=$PSTATE "$VOLFS" gc --docker-host "unix://$T/no-docker.sock" >/dev/null 2>&1 || true
assert_eq "$(servers)" 1 "the plugin's server record after the host's volfs ls and gc"
assert_eq "$(docker volume inspect -f '{{.Status.refcount}}' pvol)" 1 "refcount after the host's volfs ls"
expect_fail docker volume rm pvol
docker rm -f holder >/dev/null
assert_eq "$(docker volume inspect -f '{{.Status.refcount}}' pvol)" 0 "refcount after the container went"

# --- volume rm.
docker volume rm pvol >/dev/null || fail "docker volume rm failed"
docker volume ls --format '{{.Name}}' >"$T/ls"
assert_no_grep "^pvol$" "$T/ls"
[ ! -e "$PSTATE/volumes/pvol" ] || fail "docker volume rm left the volume's data"

# --- disable, rm: the daemon stops, its mount goes.
timeout 60 docker plugin disable "$PLUGIN" >/dev/null || fail "docker plugin disable failed"
wait_until 30 sh -c "! kill -0 $plugin_pid" || fail "the plugin's volfs serve survived disable"
plugin_pid=
fuse_mounts >"$T/mounts-left"
[ ! -s "$T/mounts-left" ] || fail "volfs mounts left after disable: $(cat "$T/mounts-left")"
docker plugin rm "$PLUGIN" >/dev/null || fail "docker plugin rm failed"
plugin_made=
docker plugin ls -q >"$T/ls"
[ ! -s "$T/ls" ] || fail "plugins left after rm: $(cat "$T/ls")"
awk -v d="$T/docker/data/plugins/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo >"$T/mounts-left"
[ ! -s "$T/mounts-left" ] || fail "plugin mounts left after rm: $(cat "$T/mounts-left")"
# The plugin's output is in dockerd's log: volfs's own messages, and a
# sanitizer build's reports.
assert_grep "serving every volume under /mnt/volumes" "$T/docker/dockerd.log"
assert_grep "stopped serving /mnt/volumes" "$T/docker/dockerd.log"
assert_no_grep "ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|Sanitizer has encountered|runtime error:" \
	"$T/docker/dockerd.log"
exit 0
