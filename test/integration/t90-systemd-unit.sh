# SPDX-License-Identifier: MIT
# The systemd unit made by make: its ExecStart names the installed volfs,
# it has the settings that volfs serve as a FUSE daemon and Docker plugin
# needs and none that would hide its mount from the host; stopped as
# systemd stops it, also after a crash, it leaves no process and no mount;
# and systemd accepts it (systemd-analyze verify, which needs no running
# systemd).
# Readiness through NOTIFY_SOCKET is t30's job.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

unit=$(dirname "$VOLFS")/packaging/systemd/volfs.service
[ -f "$unit" ] || fail "$unit was not made (make builds it from volfs.service.in)"

# make substituted every placeholder; ExecStart is an absolute volfs serve.
assert_no_grep '@[a-z_]+@' "$unit"
assert_grep '^ExecStart=/([^ ]+/)?volfs serve$' "$unit"

# unit_value KEY: the value of KEY= in the unit (the last one wins).
unit_value() {
	sed -n "s/^$1=//p" "$unit" | tail -n 1
}

assert_eq "$(unit_value Type)" notify "Type"
assert_eq "$(unit_value NotifyAccess)" main "NotifyAccess"
assert_eq "$(unit_value Restart)" on-failure "Restart"
assert_eq "$(unit_value Before)" docker.service "Before"
assert_eq "$(unit_value WantedBy)" multi-user.target "WantedBy"
assert_eq "$(unit_value StateDirectory)" volfs "StateDirectory"
# The auto-unmount helper must outlive volfs serve: not mixed or process.
assert_eq "$(unit_value KillMode)" control-group "KillMode"
# /run/volfs holds the mountpoint: systemd must not remove it on stop.
assert_no_grep '^RuntimeDirectory=' "$unit"
# Each of these puts the service in a mount namespace of its own, where
# its FUSE mount would be invisible to Docker and to the host.
assert_no_grep '^(PrivateTmp|PrivateMounts|PrivateDevices|ProtectSystem|ProtectHome|ProtectKernelModules|ProtectKernelTunables|ProtectControlGroups|ReadOnlyPaths|ReadWritePaths|InaccessiblePaths|TemporaryFileSystem|BindPaths|BindReadOnlyPaths|MountFlags|RootDirectory|DynamicUser)=' "$unit"

# Stopping as systemd does with KillMode=control-group: SIGTERM to every
# process of the unit at once.  Those are volfs serve, started by the
# unit's ExecStart (on a mountpoint of this test's), and its mount's
# auto-unmount helper, which must outlive SIGTERM and clean up.
need_cmd pgrep
exec_start=$(sed -n 's/^ExecStart=[^ ]* *//p' "$unit")
# A volfs serve with a Docker plugin keeps its socket, and asks Docker,
# in this test's directory.
if "$VOLFS" serve --help | grep -q -- --docker-socket; then
	exec_start="$exec_start --docker-socket $T/plugin.sock --docker-host unix://$T/docker.sock"
fi
srv=$T/srv
mkdir -p "$srv"
srv=$(abspath "$srv")
echo "$srv" >>"$T/mounts"

# Starts the unit's command as systemd does for Type=notify: with a
# NOTIFY_SOCKET, ready once READY=1 comes.  Sets $main and $group (every
# process of the unit).
starts=0
start_unit() {
	starts=$((starts + 1))
	sock=$T/notify.$starts
	"$VOLFS_TEST_HELPERS/notify_listen" "$sock" 30 >"$T/notified.$starts" &
	track_pid $!
	wait_until 5 test -S "$sock" || fail "the notify listener did not start"
	# shellcheck disable=SC2086 # the unit's arguments, split as systemd does
	NOTIFY_SOCKET=$sock "$VOLFS" $exec_start -m "$srv" 2>>"$T/serve.err" &
	main=$!
	track_pid "$main"
	wait_until 20 grep -qx READY=1 "$T/notified.$starts" ||
		{ cat "$T/serve.err" >&2; fail "the unit's command never sent READY=1"; }
	is_mounted "$srv" || fail "READY=1 came before the mount of $srv"
	group="$main $(pgrep -P "$main" | tr '\n' ' ')"
	for p in $group; do
		[ "$p" = "$main" ] && continue
		track_pid "$p"
		comm=$(cat "/proc/$p/comm" 2>/dev/null || true)
		# Another kind of child would need KillMode= thought through.
		assert_eq "$comm" fusermount3 "child process of volfs serve"
	done
}

all_gone() {
	for p in $group; do
		! kill -0 "$p" 2>/dev/null || return 1
	done
}

start_unit
kill -TERM $group
wait_until 30 all_gone || fail "processes left 30 s after SIGTERM to the unit: $group"
not_mounted "$srv" || fail "SIGTERM to the unit left $srv mounted"

# A daemon that dies: systemd sends SIGTERM to what remains, which must
# not stop the unit from going (the helper leaves once volfs serve is
# gone, taking the dead mount away when fusermount3 manages to), and
# Restart= runs the command again on the same mountpoint, dead mount or
# not.
start_unit
kill -KILL "$main"
kill -TERM $group 2>/dev/null || true
wait_until 30 all_gone || fail "processes left 30 s after kill -9 and SIGTERM: $group"
start_unit
ls "$srv" >/dev/null || fail "the restarted mount on $srv does not answer"
kill -TERM $group
wait_until 30 all_gone || fail "processes left 30 s after SIGTERM to the unit: $group"
not_mounted "$srv" || fail "SIGTERM to the unit left $srv mounted"

command -v systemd-analyze >/dev/null 2>&1 ||
	skip "systemd-analyze not found (install systemd): the unit's syntax is unchecked"

# verify wants ExecStart's program to exist: point it at the built volfs;
# --man=no: the manual page need not be installed on this machine.
# It prints a line naming the unit for every setting it cannot parse, and
# exits non-zero only for some errors; messages about other units
# (docker.service, say) are not this test's business.
mkdir "$T/units"
sed "s|^ExecStart=[^ ]*|ExecStart=$VOLFS|" "$unit" >"$T/units/volfs.service"
rc=0
systemd-analyze verify --man=no "$T/units/volfs.service" >"$T/verify" 2>&1 || rc=$?
assert_no_grep 'volfs\.service' "$T/verify"
assert_eq "$rc" 0 "systemd-analyze verify status"

# The check itself can fail: a bad value is reported.
sed 's/^KillMode=.*/KillMode=bogus/' "$T/units/volfs.service" >"$T/units/x.service"
mv "$T/units/x.service" "$T/units/volfs.service"
systemd-analyze verify --man=no "$T/units/volfs.service" >"$T/verify" 2>&1 || true
assert_grep 'volfs\.service.*kill mode' "$T/verify"
