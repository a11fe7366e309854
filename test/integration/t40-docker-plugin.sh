# SPDX-License-Identifier: MIT
# The Docker volume plugin against a real dockerd started here: volume
# create/ls/inspect/rm, two containers sharing a volume, :ro, --user 1000,
# docker cp into a running container, anonymous volumes (--rm, and kept
# until volfs prune), rm refused
# while in use, volfs restarted under a running container, dockerd
# restarted, stale references reconciled.
. "$VOLFS_SRCDIR/test/servers/dockerd.sh"
enter_namespaces "$0" "$@"
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd dockerd docker jq curl sqlite3
need_static_busybox

IMG=volfs-test/busybox
SOCK=/run/docker/plugins/volfs.sock
mkdir -p "$T/mnt"
MNT=$(abspath "$T/mnt")
echo "$MNT" >>"$T/mounts"

t40_cleanup() {
	rc=$?
	set +e
	if [ $rc -ne 0 ]; then
		echo "--- volfs serve log (tail):" >&2
		tail -30 "$T/serve.log" >&2
		echo "--- dockerd log (tail):" >&2
		tail -15 "$T/docker/dockerd.log" >&2
	fi
	dockerd_stop
	(exit $rc)
	_lib_cleanup
}
trap t40_cleanup EXIT

start_serve() {
	"$VOLFS" --log-level info serve -m "$MNT" \
		--docker-host "unix://$T/docker/docker.sock" >>"$T/serve.log" 2>&1 &
	serve_pid=$!
	track_pid "$serve_pid"
	wait_until 10 test -S "$SOCK" || fail "volfs serve did not open $SOCK"
	wait_until 10 is_mounted "$MNT" || fail "volfs serve did not mount $MNT"
}

stop_serve() {
	kill -TERM "$serve_pid"
	wait_until 30 sh -c "! kill -0 $serve_pid" || fail "volfs serve survived SIGTERM"
}

# refs NAME: volfs's reference count of NAME.
refs() {
	"$VOLFS" inspect "$1" | jq -r '.[0].refcount'
}

# plugin PATH JSON: one request to the plugin socket, the answer on stdout.
plugin() {
	curl -sS --max-time 10 --unix-socket "$SOCK" -X POST \
		-H 'Accept: application/vnd.docker.plugins.v1.2+json' \
		-d "$2" "http://plugin/$1"
}

start_serve
dockerd_start
dockerd_image "$IMG"
run() {
	docker run --rm --network none "$@"
}

# --- create / ls / inspect; the CLI's validation and messages.
docker volume create -d volfs -o backend=ram -o size=64m -o mode=0755 shared >/dev/null ||
	fail "docker volume create -d volfs failed"
docker volume ls --format '{{.Driver}} {{.Name}}' >"$T/ls"
assert_grep "^volfs shared$" "$T/ls"
assert_eq "$("$VOLFS" inspect shared | jq -r '.[0].backend')" ram "backend of the docker-created volume"
docker volume inspect shared >"$T/inspect"
assert_eq "$(jq -r '.[0].Mountpoint' "$T/inspect")" "$MNT/shared" "Mountpoint in docker volume inspect"
assert_eq "$(jq -r '.[0].Status.backend' "$T/inspect")" ram "Status.backend"
assert_eq "$(jq -r '.[0].Status.refcount' "$T/inspect")" 0 "Status.refcount"
assert_eq "$(jq -r '.[0].Status.options.size' "$T/inspect")" 64m "Status.options.size"
expect_fail docker volume create -d volfs -o bogus=1 bad
assert_grep "unknown option 'bogus' for backend 'local'" "$T/err"
expect_fail docker volume create -d volfs -o backend=nosuch bad2
assert_grep "nosuch" "$T/err"
expect_fail "$VOLFS" inspect bad
expect_fail "$VOLFS" inspect bad2

# --- two containers at once: one writes while the other reads.
docker run -d --name writer --network none -v shared:/data "$IMG" sh -c \
	'for i in $(seq 1 40); do echo line$i >>/data/log; sleep 0.05; done; touch /data/done; sleep 600' \
	>/dev/null || fail "docker run of the writer failed"
run -v shared:/data "$IMG" sh -c \
	'n=0; while [ ! -e /data/done ] && [ $n -lt 300 ]; do n=$((n+1)); sleep 0.1; done; wc -l </data/log' \
	>"$T/read" || fail "the reader container failed"
assert_eq "$(tr -d ' ' <"$T/read")" 40 "lines the reader saw"
assert_eq "$(refs shared)" 1 "references while only the writer runs"
docker run -d --name second --network none -v shared:/data "$IMG" sleep 600 >/dev/null
assert_eq "$(refs shared)" 2 "references with two containers running"
assert_eq "$(docker exec second cat /data/log | wc -l)" 40 "second container's view"

# --- rm refused while in use (docker's refusal; the volume stays).
expect_fail docker volume rm shared
"$VOLFS" inspect shared >/dev/null || fail "the volume went after a refused rm"

# --- :ro: reads work, writes fail.
run -v shared:/data:ro "$IMG" cat /data/log >/dev/null || fail "read through :ro failed"
if run -v shared:/data:ro "$IMG" sh -c 'echo x >/data/ro-write' 2>"$T/err"; then
	fail "a write through a :ro mount succeeded"
fi
assert_grep "Read-only file system" "$T/err"
[ ! -e "$MNT/shared/ro-write" ] || fail "the :ro write left a file"

# --- --user 1000: listing works (allow_other); writing where uid 1000
# may write works, elsewhere EACCES.
docker volume create -d volfs -o backend=ram -o uid=1000 -o gid=1000 mine >/dev/null
run --user 1000:1000 -v shared:/data "$IMG" ls /data >/dev/null ||
	fail "uid 1000 cannot list a volume"
run --user 1000:1000 -v mine:/data "$IMG" sh -c 'echo me >/data/f && stat -c %u /data/f' >"$T/out" ||
	fail "uid 1000 cannot write its own volume"
assert_eq "$(cat "$T/out")" 1000 "owner of a file written as uid 1000"
if run --user 1000:1000 -v shared:/data "$IMG" sh -c 'echo x >/data/u' 2>"$T/err"; then
	fail "uid 1000 wrote into a root-owned 0755 volume root"
fi
assert_grep "Permission denied" "$T/err"

# --- docker cp into a running container: Docker mounts the same ID again
# and unmounts it; the container keeps its volume.
echo copied >"$T/cpfile"
before=$(refs shared)
docker cp "$T/cpfile" writer:/data/cpfile || fail "docker cp into the container failed"
assert_eq "$(docker exec writer cat /data/cpfile)" copied "file copied in, seen by the container"
assert_eq "$(refs shared)" "$before" "references after docker cp"
docker exec writer sh -c 'echo after-cp >>/data/log' || fail "the volume went from under the container after docker cp"
assert_eq "$(tail -1 "$MNT/shared/log")" after-cp "write after docker cp"

# --- an anonymous volume with --rm: created on volfs, removed with the
# container.
n0=$("$VOLFS" ls -q | wc -l)
run --volume-driver volfs -v /anon "$IMG" sh -c 'echo x >/anon/f && cat /anon/f' >"$T/out" ||
	fail "docker run --rm with an anonymous volfs volume failed"
assert_eq "$(cat "$T/out")" x "data in the anonymous volume"
wait_until 10 sh -c "[ \$(\"$VOLFS\" ls -q | wc -l) -eq $n0 ]" ||
	fail "the anonymous volume was not removed with its container"
# Kept after its container (no --rm): Docker's 64-hex name and no options
# make it anonymous in volfs, so volfs prune removes it once unused.
docker run --network none --volume-driver volfs -v /anon --name anonkeep "$IMG" true ||
	fail "docker run with a kept anonymous volfs volume failed"
anon=$(docker inspect -f '{{range .Mounts}}{{.Name}}{{end}}' anonkeep)
assert_eq "$("$VOLFS" inspect "$anon" | jq -r '.[0].anonymous')" true "anonymous of Docker's anonymous volume"
docker rm anonkeep >/dev/null || fail "docker rm anonkeep failed"
"$VOLFS" prune -f >/dev/null || fail "volfs prune failed"
expect_exit 1 "$VOLFS" inspect "$anon"

# --- volfs restarted while a container runs: the volume stays listed and
# the reference is kept; the container's old mount fails cleanly (no hang)
# until it restarts.
stop_serve
start_serve
assert_eq "$(refs shared)" 2 "references after volfs restarted"
docker volume ls --format '{{.Name}}' >"$T/ls"
assert_grep "^shared$" "$T/ls"
if timeout 20 docker exec writer sh -c 'echo x >>/data/log' 2>"$T/err"; then
	fail "a write through the mount of a stopped volfs succeeded"
fi
[ $? -ne 124 ] || fail "a write through the mount of a stopped volfs hung"
# A ram volume's data lives as long as the daemon serving it.
[ ! -e "$MNT/shared/cpfile" ] || fail "a ram volume kept its data across a volfs restart"
docker restart -t 1 writer >/dev/null || fail "docker restart of the writer failed"
docker exec writer sh -c 'echo restarted >/data/marker' || fail "the restarted container cannot write"
assert_eq "$(cat "$MNT/shared/marker")" restarted "write after the container restarted"
assert_eq "$(refs shared)" 2 "references after the container restarted"

# --- dockerd restarted: volumes stay, containers come back with their
# volumes; no reference is lost or leaked.
dockerd_stop
wait_until 20 sh -c "[ \$(\"$VOLFS\" inspect shared | jq -r '.[0].refcount') -eq 0 ]" ||
	fail "references left after dockerd stopped its containers: $(refs shared)"
dockerd_start
docker volume ls --format '{{.Name}}' >"$T/ls"
assert_grep "^shared$" "$T/ls"
assert_grep "^mine$" "$T/ls"
run -v shared:/data "$IMG" cat /data/marker >"$T/out" || fail "run after the dockerd restart failed"
assert_eq "$(cat "$T/out")" restarted "data after the dockerd restart"

# --- stale references (a dockerd that died never unmounts): gc and the
# start of serve drop those of volumes no live container uses.
docker run -d --name keeper --network none -v mine:/data "$IMG" sleep 600 >/dev/null
plugin VolumeDriver.Mount '{"Name":"shared","ID":"stale1"}' >"$T/out"
assert_grep '"Err":""' "$T/out"
plugin VolumeDriver.Mount '{"Name":"mine","ID":"stale2"}' >/dev/null
assert_eq "$(refs shared)" 1 "stale reference recorded"
"$VOLFS" gc --docker-host "unix://$T/docker/docker.sock" >"$T/out" || fail "volfs gc failed"
assert_grep "dropped 1 docker reference" "$T/out"
assert_eq "$(refs shared)" 0 "references of shared after gc"
# mine is in use by keeper: its references stay (Docker cannot say which
# one is stale).
assert_eq "$(refs mine)" 2 "references of mine after gc"
docker rm -f keeper >/dev/null
# Docker's rm of a volume held only by stale references succeeds: the
# plugin asks Docker and drops them.
plugin VolumeDriver.Mount '{"Name":"mine","ID":"stale3"}' >/dev/null
docker volume rm mine >/dev/null || fail "docker volume rm with only stale references failed"
expect_fail "$VOLFS" inspect mine
# Docker down: gc keeps the references and says so.
plugin VolumeDriver.Mount '{"Name":"shared","ID":"stale4"}' >/dev/null
expect_exit 1 "$VOLFS" gc --docker-host "unix://$T/nothing.sock"
assert_grep "keeping every docker reference" "$T/err"
assert_eq "$(refs shared)" 1 "references kept while docker cannot be asked"
plugin VolumeDriver.Unmount '{"Name":"shared","ID":"stale4"}' >/dev/null

# --- docker volume rm of an unused volume removes it from volfs.
docker volume rm shared >/dev/null || fail "docker volume rm failed"
expect_fail "$VOLFS" inspect shared
docker volume ls --format '{{.Name}}' >"$T/ls"
assert_no_grep "^shared$" "$T/ls"
exit 0
