# SPDX-License-Identifier: MIT
#
# Sourced (instead of lib.sh) by the smb integration tests.  It runs the
# test again inside a private network namespace with loopback up, so the
# smbd it starts, the test's volfs daemons and its clients all talk over a
# loopback of their own; FUSE mounts made there are visible outside.  Then
# it sources lib.sh and sets up (but does not start) an smbd in $SMB_DIR:
#
#   SMB_USER SMB_PASS   the account (a Unix system user made once, and a
#                       random SMB password for this test)
#   SMB_SHARE           //127.0.0.1:4450/share, served from $SMB_DIR/share
#   smb_start [PORT]    starts smbd (stopped at exit by lib.sh)
#   smb_stop            stops it and waits
#   smb_kill            kills it and all its processes at once (SIGKILL)
#   smb_encrypt MODE    sets "smb encrypt" for the next start
#
# Skips (77) when root, smbd, unshare or the smb module are missing.

if [ -z "${VOLFS_SMB_NETNS:-}" ]; then
	_smb_skip() {
		echo "SKIP: $*" >&2
		exit 77
	}
	[ "$(id -u)" = 0 ] || _smb_skip "needs root (a network namespace, smbd)"
	for _smb_c in smbd smbpasswd unshare ip; do
		command -v "$_smb_c" >/dev/null 2>&1 ||
			_smb_skip "$_smb_c not found (run packaging/install-deps.sh)"
	done
	[ -e "${VOLFS_BACKEND_DIR:-/nonexistent}/smb.so" ] ||
		_smb_skip "the smb backend is not built (configure found no libsmbclient)"
	VOLFS_SMB_NETNS=1
	export VOLFS_SMB_NETNS
	exec unshare -n sh -c 'ip link set lo up && exec sh "$@"' sh "$0" "$@"
fi

. "$VOLFS_SRCDIR/test/integration/lib.sh"

SMB_USER=volfstest
SMB_PASS=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
SMB_DIR=$T/smb
SMB_SHARE=//127.0.0.1:4450/share
SMBD_SH=$VOLFS_SRCDIR/test/servers/smbd.sh

"$SMBD_SH" setup "$SMB_DIR" "$SMB_USER" "$SMB_PASS" "${SMB_ENCRYPT:-if_required}" \
	>"$T/smbd-setup.out" 2>&1 || {
	cat "$T/smbd-setup.out" >&2
	fail "cannot set up smbd in $SMB_DIR"
}

smb_start() {
	"$SMBD_SH" start "$SMB_DIR" "${1:-4450}" || fail "cannot start smbd"
	track_pid "$(cat "$SMB_DIR/smbd.pid")"
}

smb_stop() {
	"$SMBD_SH" stop "$SMB_DIR"
}

smb_kill() {
	_smb_pid=$(cat "$SMB_DIR/smbd.pid")
	rm -f "$SMB_DIR/smbd.pid"
	# smbd leads a process group of its own: its connection processes.
	/bin/kill -KILL -- "-$_smb_pid" 2>/dev/null || kill -KILL "$_smb_pid"
	wait_until 10 sh -c "! kill -0 $_smb_pid" || fail "smbd did not die"
}

smb_encrypt() {
	"$SMBD_SH" encrypt "$SMB_DIR" "$1"
}

# Creates smb volume NAME on the test share with more -o options.
smb_create() {
	_smb_name=$1
	shift
	vol create -b smb -o share="$SMB_SHARE" -o username="$SMB_USER" \
		-o password="$SMB_PASS" "$@" "$_smb_name"
}

# The same with another share= value.
smb_create_at() {
	_smb_share=$1
	_smb_name=$2
	shift 2
	vol create -b smb -o share="$_smb_share" -o username="$SMB_USER" \
		-o password="$SMB_PASS" "$@" "$_smb_name"
}
