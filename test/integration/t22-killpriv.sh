# SPDX-License-Identifier: MIT
# Set-user-ID, set-group-ID and file capabilities go away on write,
# truncate, open(O_TRUNC) and chown exactly as on the kernel's own file
# systems: volfs asks the kernel for FUSE_HANDLE_KILLPRIV_V2 (no GETXATTR
# before every write) and clears the bits itself.  Every case runs in a
# native directory and on local and ram volumes; the modes must agree, both
# as the mount shows them right away (kernel cache) and on a fresh lookup.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd setpriv

as_user() {
	setpriv --reuid=1000 --regid=1000 --clear-groups "$@"
}

# One case in directory $1: file $2 made by uid 1000 with mode $3, then
# action $4 (run by $5: user or root); prints the mode afterwards.
run_case() {
	dir=$1 f=$1/$2 mode=$3 action=$4 who=$5
	rm -f "$f"
	as_user sh -c "echo data >'$f' && chmod $mode '$f'" ||
		fail "uid 1000 cannot make $f"
	case $action in
	append) cmd="echo more >>'$f'" ;;
	write) cmd="printf x | dd of='$f' bs=1 seek=2 conv=notrunc status=none" ;;
	truncate) cmd="truncate -s 1 '$f'" ;;
	otrunc) cmd=": >'$f'" ;;
	chown) cmd="chown 1000:1000 '$f'" ;;
	*) fail "unknown action $action" ;;
	esac
	if [ "$who" = user ]; then
		as_user sh -c "$cmd" || fail "uid 1000: $action of $f"
	else
		sh -c "$cmd" || fail "root: $action of $f"
	fi
	stat -c %a "$f"
}

native=$T/native
mkdir -p "$native"
chmod 1777 "$native"

vol create kl >/dev/null
mount_vol kl "$T/local" allow_other
chmod 1777 "$T/local"
targets="$native $(abspath "$T/local")"
if [ -e "$VOLFS_BACKEND_DIR/ram.so" ]; then
	vol create -b ram -o size=64m kr >/dev/null
	mount_vol kr "$T/ram" allow_other
	chmod 1777 "$T/ram"
	targets="$targets $(abspath "$T/ram")"
fi

n=0
for action in append write truncate otrunc chown; do
	for who in user root; do
		[ "$action" = chown ] && [ "$who" = user ] && continue
		for mode in 6755 4755 2755 2745 755; do
			n=$((n + 1))
			want=$(run_case "$native" "c$n" "$mode" "$action" "$who")
			for d in $targets; do
				[ "$d" = "$native" ] && continue
				got=$(run_case "$d" "c$n" "$mode" "$action" "$who")
				assert_eq "$got" "$want" "mode after $action by $who of a $mode file on $d (cached)"
			done
		done
	done
done
# The same modes after the kernel forgets what it cached.
vol umount "$T/local" >/dev/null || fail "volfs umount of the local volume"
mount_vol kl "$T/local" allow_other
for i in $(seq 1 $n); do
	assert_eq "$(stat -c %a "$T/local/c$i")" "$(stat -c %a "$native/c$i")" "mode of case $i after a remount"
done

# Writes by an unprivileged caller of a file without such bits leave the
# mode alone, and many writes keep working after a chmod in between.
f=$T/local/plain
as_user sh -c "echo a >'$f'; chmod 750 '$f'; for i in 1 2 3; do echo \$i >>'$f'; done"
assert_eq "$(stat -c %a "$f")" 750 "mode of a plain file after writes"
chmod 4750 "$f"
as_user sh -c "echo b >>'$f'" 2>/dev/null || true
assert_eq "$(stat -c %a "$f")" 750 "set-user-ID cleared by a write after chmod"

# File capabilities: dropped by a write, as on the native file system.
if command -v setcap >/dev/null 2>&1 && command -v getcap >/dev/null 2>&1; then
	for d in $targets; do
		f=$d/capfile
		rm -f "$f"
		echo x >"$f"
		chmod 755 "$f"
		if ! setcap cap_net_raw+ep "$f" 2>/dev/null; then
			echo "note: setcap not supported on $d" >&2
			continue
		fi
		getcap "$f" | grep -q cap_net_raw || fail "setcap did not stick on $d"
		echo y >>"$f"
		if getcap "$f" | grep -q cap_net_raw; then
			fail "a write kept the file capabilities of $f"
		fi
	done
fi
exit 0
