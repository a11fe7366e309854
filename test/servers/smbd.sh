#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Runs Samba's smbd for tests, on 127.0.0.1, with a configuration, state and
# share of its own under DIR.  It never touches the system's Samba setup.
#
#   smbd.sh setup DIR USER PASSWORD [ENCRYPT]
#       writes DIR/smb.conf (share "share" at DIR/share, a second share
#       "other" at DIR/other; "smb encrypt = ENCRYPT", default if_required),
#       makes the Unix account USER if missing and its SMB password.
#   smbd.sh start DIR [PORT]
#       starts smbd in the foreground of a background job, in the caller's
#       network namespace, on PORT (default 4450); writes DIR/smbd.pid and
#       waits until the port answers (10 s at most).
#   smbd.sh stop DIR
#       stops the smbd whose pid is in DIR/smbd.pid, and waits for it.
#   smbd.sh encrypt DIR MODE
#       rewrites "smb encrypt" in DIR/smb.conf (takes effect on start).
#
# The caller runs all of this inside a private network namespace
# (unshare -n, then `ip link set lo up`), so nothing listens outside it.
set -eu

die() {
	echo "smbd.sh: $*" >&2
	exit 1
}

conf() {
	dir=$1 user=$2 enc=$3 port=$4
	cat >"$dir/smb.conf" <<CONF
[global]
	smb ports = $port
	interfaces = lo
	bind interfaces only = yes
	disable netbios = yes
	private dir = $dir/private
	lock directory = $dir/lock
	state directory = $dir/state
	cache directory = $dir/cache
	pid directory = $dir/run
	ncalrpc dir = $dir/ncalrpc
	log file = $dir/log.smbd
	log level = 1
	passdb backend = tdbsam:$dir/private/passdb.tdb
	server min protocol = SMB2_02
	server max protocol = SMB3_11
	smb encrypt = $enc
	load printers = no
	printcap name = /dev/null
	disable spoolss = yes
	map to guest = never
	server role = standalone server

[share]
	path = $dir/share
	read only = no
	valid users = $user
	create mask = 0666
	directory mask = 0777

[other]
	path = $dir/other
	read only = no
	valid users = $user
CONF
	echo "$user" >"$dir/user"
}

cmd=${1:-}
[ $# -ge 2 ] || die "usage: smbd.sh setup|start|stop|encrypt DIR ..."
dir=$2
case $cmd in
setup)
	[ $# -ge 4 ] || die "usage: smbd.sh setup DIR USER PASSWORD [ENCRYPT]"
	user=$3 pass=$4 enc=${5:-if_required}
	command -v smbd >/dev/null 2>&1 || die "smbd not found (install samba)"
	mkdir -p "$dir/private" "$dir/lock" "$dir/state" "$dir/cache" \
		"$dir/run" "$dir/ncalrpc" "$dir/share" "$dir/other"
	# The share's user must reach it through every parent.
	d=$dir
	while [ "$d" != / ] && [ -n "$d" ]; do
		case $d in
		/tmp/* | /var/tmp/* | "${TMPDIR:-/nonexistent}"/*) chmod a+x "$d" ;;
		esac
		d=$(dirname "$d")
	done
	chmod 0755 "$dir"
	echo 4450 >"$dir/port"
	conf "$dir" "$user" "$enc" 4450
	if ! id "$user" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$user" ||
			die "cannot make the Unix account $user"
	fi
	chown "$user" "$dir/share" "$dir/other"
	printf '%s\n%s\n' "$pass" "$pass" |
		smbpasswd -c "$dir/smb.conf" -s -a "$user" >/dev/null ||
		die "smbpasswd failed for $user"
	;;
encrypt)
	[ $# -ge 3 ] || die "usage: smbd.sh encrypt DIR MODE"
	sed -i "s/^\tsmb encrypt = .*/\tsmb encrypt = $3/" "$dir/smb.conf"
	;;
start)
	port=${3:-4450}
	sed -i "s/^\tsmb ports = .*/\tsmb ports = $port/" "$dir/smb.conf"
	echo "$port" >"$dir/port"
	# smbd -F makes a session of its own (setsid), and on SIGTERM
	# signals that group only; --no-process-group would make it ours.
	smbd -F --debug-stdout -s "$dir/smb.conf" \
		>>"$dir/smbd.out" 2>&1 </dev/null &
	echo $! >"$dir/smbd.pid"
	i=0
	while [ $i -lt 100 ]; do
		if bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
			exit 0
		fi
		kill -0 "$(cat "$dir/smbd.pid")" 2>/dev/null ||
			{ tail -20 "$dir/smbd.out" >&2; die "smbd exited at start"; }
		sleep 0.1
		i=$((i + 1))
	done
	die "smbd did not listen on 127.0.0.1:$port within 10 s"
	;;
stop)
	[ -s "$dir/smbd.pid" ] || exit 0
	pid=$(cat "$dir/smbd.pid")
	rm -f "$dir/smbd.pid"
	kill -TERM "$pid" 2>/dev/null || exit 0
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$pid" 2>/dev/null || true
	;;
*)
	die "unknown command '$cmd': use setup, start, stop or encrypt"
	;;
esac
