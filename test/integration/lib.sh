# SPDX-License-Identifier: MIT
#
# Sourced by every integration test (POSIX sh: make check runs them with
# $SHELL, which may be dash).  It checks the test can run here, makes a
# private temp dir $T with the state root $T/state, and cleans up on exit:
# unmounts what the test mounted, stops the processes it started, removes
# $T.  Exit 77 means "skipped", with the reason on stderr.

set -eu

skip() {
	echo "SKIP: $*" >&2
	exit 77
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# The test's name, for messages.
TEST_NAME=$(basename "$0" .sh)

[ -n "${VOLFS:-}" ] || skip "VOLFS is not set (run the tests through make check)"
[ -x "$VOLFS" ] || fail "VOLFS=$VOLFS is not an executable"
[ "$(id -u)" = 0 ] || skip "needs root (FUSE mounts, chown, other users)"
[ -c /dev/fuse ] || skip "no /dev/fuse (load the fuse module)"
command -v fusermount3 >/dev/null 2>&1 || skip "fusermount3 not found (install fuse3)"

T=$(mktemp -d "${TMPDIR:-/tmp}/volfs-$TEST_NAME.XXXXXX")
# Readable by others: some tests act as an unprivileged user below $T.
chmod 755 "$T"
VOLFS_ROOT=$T/state
export VOLFS_ROOT
: >"$T/mounts"
: >"$T/pids"

# Unmounts one directory, gently first.
_lib_unmount() {
	if ! is_mounted "$1"; then
		return 0
	fi
	timeout 10 "$VOLFS" umount "$1" >/dev/null 2>&1 || true
	if is_mounted "$1"; then
		umount -l "$1" 2>/dev/null || fusermount3 -uz "$1" 2>/dev/null || true
	fi
	if is_mounted "$1"; then
		echo "$TEST_NAME: cleanup: could not unmount $1" >&2
	fi
}

_lib_cleanup() {
	rc=$?
	set +e
	# Unmount in reverse order: a later mount may sit inside an earlier.
	if [ -s "$T/mounts" ]; then
		for dir in $(tac "$T/mounts"); do
			_lib_unmount "$dir"
		done
	fi
	for pid in $(cat "$T/pids" 2>/dev/null); do
		kill -TERM "$pid" 2>/dev/null || continue
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 30 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$pid" 2>/dev/null
	done
	# --one-file-system: never reach into a mount that would not go.
	rm -rf --one-file-system "$T"
	exit $rc
}
trap _lib_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs volfs.
vol() {
	"$VOLFS" "$@"
}

# Remembers a process this test started, to stop it at exit.
track_pid() {
	echo "$1" >>"$T/pids"
}

# Skips unless the commands exist.
need_cmd() {
	for _lib_c in "$@"; do
		command -v "$_lib_c" >/dev/null 2>&1 || skip "$_lib_c not found (run packaging/install-deps.sh)"
	done
}

# Runs a command with stdout in $T/out and stderr in $T/err; sets $rc.
# A status above 128 (killed by a signal, a crash) always fails the test.
_lib_run() {
	rc=0
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	if [ $rc -gt 128 ]; then
		cat "$T/err" >&2
		fail "crashed (exit status $rc): $*"
	fi
}

# expect_fail CMD...: CMD must fail (status 1..128).  Its stderr stays in
# $T/err, its stdout in $T/out.
expect_fail() {
	_lib_run "$@"
	if [ $rc -eq 0 ]; then
		cat "$T/out" >&2
		fail "expected a failure, got success: $*"
	fi
	sed 's/^/  stderr: /' "$T/err" >&2
}

# expect_exit N CMD...: CMD must exit with status N.
expect_exit() {
	_lib_want=$1
	shift
	_lib_run "$@"
	if [ $rc -ne "$_lib_want" ]; then
		cat "$T/out" >&2
		cat "$T/err" >&2
		fail "expected exit status $_lib_want, got $rc: $*"
	fi
}

# assert_grep PATTERN FILE: an extended regexp must match a line of FILE.
assert_grep() {
	if ! grep -qE -e "$1" "$2"; then
		echo "--- $2:" >&2
		cat "$2" >&2
		fail "'$1' not found in $2"
	fi
}

# assert_no_grep PATTERN FILE: no line of FILE may match.
assert_no_grep() {
	if grep -qE -e "$1" "$2"; then
		echo "--- $2:" >&2
		cat "$2" >&2
		fail "'$1' unexpectedly found in $2"
	fi
}

# assert_eq GOT WANT WHAT
assert_eq() {
	if [ "$1" != "$2" ]; then
		fail "$3: got '$1', expected '$2'"
	fi
}

# wait_until TIMEOUT_S CMD...: polls CMD every 0.1 s; 0 once it succeeds,
# 1 if it never did within TIMEOUT_S seconds.
wait_until() {
	_lib_left=$(($1 * 10))
	shift
	while [ $_lib_left -gt 0 ]; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
		_lib_left=$((_lib_left - 1))
	done
	"$@" >/dev/null 2>&1
}

# is_mounted DIR: DIR is a fuse.volfs mountpoint.
is_mounted() {
	awk -v d="$1" '
		{ for (i = 7; i <= NF; i++) if ($i == "-") { fs = $(i + 1); break } }
		$5 == d && fs == "fuse.volfs" { found = 1 }
		END { exit !found }' /proc/self/mountinfo
}

# not_mounted DIR, for wait_until.
not_mounted() {
	! is_mounted "$1"
}

# The mount options (field 6 of mountinfo) of mountpoint DIR.
mount_opts() {
	awk -v d="$1" '$5 == d { o = $6 } END { print o }' /proc/self/mountinfo
}

# Prints DIR as an absolute path without symlinks (mountinfo's spelling).
abspath() {
	(cd "$1" && pwd -P)
}

# mount_vol NAME DIR [OPTS]: mounts volume NAME on DIR (created if
# missing); the mount is undone at exit.  Fails the test unless volfs mount
# succeeds and DIR is a fuse.volfs mount when it returns.
mount_vol() {
	mkdir -p "$2"
	_lib_dir=$(abspath "$2")
	echo "$_lib_dir" >>"$T/mounts"
	if ! "$VOLFS" mount ${3:+-o "$3"} "$1" "$_lib_dir"; then
		fail "volfs mount ${3:+-o $3 }$1 $_lib_dir failed"
	fi
	if ! is_mounted "$_lib_dir"; then
		fail "volfs mount returned 0 but $_lib_dir is not a fuse.volfs mount"
	fi
	# Stop the daemon at exit should unmounting leave it running.
	_lib_pid=$(mount_pid "$1" "$_lib_dir" 2>/dev/null || true)
	case $_lib_pid in
	'' | *[!0-9]*) ;;
	*) track_pid "$_lib_pid" ;;
	esac
}

# serve_plugin: starts volfs serve on $T/mnt with its Docker plugin socket
# at $T/plugin.sock (and Docker's API at a socket nobody answers), and
# waits for both.  Sets SOCK, MNT and serve_pid; its log is $T/serve.log.
serve_plugin() {
	SOCK=$T/plugin.sock
	mkdir -p "$T/mnt"
	MNT=$(abspath "$T/mnt")
	echo "$MNT" >>"$T/mounts"
	"$VOLFS" --log-level info serve -m "$MNT" --docker-socket "$SOCK" \
		--docker-host "unix://$T/no-docker.sock" 2>"$T/serve.log" &
	serve_pid=$!
	track_pid "$serve_pid"
	wait_until 10 test -S "$SOCK" ||
		{ cat "$T/serve.log" >&2; fail "no plugin socket"; }
	wait_until 10 is_mounted "$MNT" ||
		{ cat "$T/serve.log" >&2; fail "volfs serve did not mount $MNT"; }
}

# The pid of the process serving NAME's mount on DIR, from inspect.
mount_pid() {
	"$VOLFS" inspect "$1" |
		jq -r --arg c "mount:$2" '.[0].attachments[] | select(.consumer == $c) | .pid'
}

# ls_refs NAME: the REFS column of NAME's row in the ls table.
ls_refs() {
	"$VOLFS" ls | awk -v n="$1" '
		NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "NAME") nc = i; if ($i == "REFS") rc = i } next }
		$nc == n { print $rc }'
}

# The data directory of local volume NAME.
data_dir() {
	echo "$VOLFS_ROOT/volumes/$1/_data"
}

# identity_targets SIZE: the volumes the checks of files known by identity
# run on, as NAME=DIR words in TARGETS: a local volume, a ram volume of
# SIZE in each store (when ram.so is built), and a local volume under a
# volfs serve of its own.
identity_targets() {
	local store srv
	vol create loc >/dev/null
	mount_vol loc "$T/loc"
	TARGETS="local=$(abspath "$T/loc")"
	if [ -e "$VOLFS_BACKEND_DIR/ram.so" ]; then
		for store in tmpfs daemon; do
			vol create -b ram -o size="$1" -o store=$store ram-$store >/dev/null
			mount_vol ram-$store "$T/ram-$store"
			TARGETS="$TARGETS ram-$store=$(abspath "$T/ram-$store")"
		done
	else
		echo "the ram backend module is not built: ram volumes not checked"
	fi
	mkdir "$T/srv"
	srv=$(abspath "$T/srv")
	echo "$srv" >>"$T/mounts"
	"$VOLFS" serve -m "$srv" --no-docker 2>"$T/serve.err" &
	track_pid $!
	wait_until 10 is_mounted "$srv" ||
		{ cat "$T/serve.err" >&2; fail "volfs serve did not mount $srv"; }
	vol create served >/dev/null
	TARGETS="$TARGETS served=$srv/served"
}

# check_targets WHAT: runs the test's check() on each NAME=ARG word of
# TARGETS, with ARG, each in a subshell where fail() names the target, so
# one failing target hides no other; then fails saying which were broken.
check_targets() {
	local tgt name rc failed=
	for tgt in $TARGETS; do
		name=${tgt%%=*}
		set +e
		(
			set -e
			fail() {
				echo "FAIL: $name: $*" >&2
				exit 1
			}
			check "${tgt#*=}"
		)
		rc=$?
		set -e
		if [ $rc -eq 0 ]; then
			echo "$name: ok"
		else
			failed="$failed $name"
		fi
	done
	[ -z "$failed" ] || fail "$1 on:$failed"
}
