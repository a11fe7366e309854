# SPDX-License-Identifier: MIT
# Listing a directory of 200,000 entries streams it: the daemon's resident
# memory grows by less than 50 MiB while ls -f (plain readdir) and ls -l
# (readdirplus, an entry and attributes for every name) run through the
# mount, and every entry is listed.  On a local volume (the files made
# directly in its data directory), a ram volume in each store (made through
# the mount), and a local volume under volfs serve.
# VOLFS_READDIR_N sets the number of entries.  Under AddressSanitizer the
# growth is shown, not judged.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

N=${VOLFS_READDIR_N:-200000}
case $N in
'' | *[!0-9]*) fail "VOLFS_READDIR_N=$N is not a number" ;;
esac
LIMIT_KIB=51200
# Under AddressSanitizer the bound means nothing (its allocator pads every
# block and keeps freed memory in quarantine): the growth is shown only.
ASAN=
if ldd "$VOLFS" 2>/dev/null | grep -q libasan; then
	ASAN=1
	echo "volfs is built with AddressSanitizer: memory growth shown, not judged"
fi

# VmRSS or VmHWM (the peak) of a process, in KiB.
vm() {
	awk -v k="$1:" '$1 == k { print $2 }' "/proc/$2/status"
}

# Before each listing the kernel drops its cached entries, inodes and
# pages, where this machine lets a test do that, so the listing reaches
# the daemon.
DROP=1
(echo 3 >/proc/sys/vm/drop_caches) 2>/dev/null || {
	DROP=0
	echo "cannot write /proc/sys/vm/drop_caches: listings after the first may come from the kernel's caches"
}
drop() {
	sync
	[ $DROP -eq 0 ] || echo 3 >/proc/sys/vm/drop_caches
}

# make_files DIR: N empty files in DIR, made with as few processes as may
# be.
make_files() {
	mkdir "$1"
	if ! (cd "$1" && seq -f 'entry-%.0f' 1 "$N" | xargs touch 2>"$T/touch.err"); then
		head -n 5 "$T/touch.err" >&2
		fail "making $N files in $1 ($(wc -l <"$T/touch.err") failed)"
	fi
}

# listed PID WHAT CMD...: runs CMD (a listing, stdout in $T/out) and
# checks the daemon PID's peak RSS while it ran against its RSS before.
listed() {
	_pid=$1 _what=$2
	shift 2
	drop
	# 5: the peak (VmHWM) starts again from the current RSS.
	echo 5 >"/proc/$_pid/clear_refs" ||
		fail "cannot reset the peak RSS of the daemon $_pid"
	_before=$(vm VmRSS "$_pid")
	_t0=$(date +%s.%N)
	"$@" >"$T/out" || fail "$_what failed"
	_secs=$(awk -v a="$_t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	_grew=$(($(vm VmHWM "$_pid") - _before))
	echo "$name: $_what: $_secs s, daemon RSS $_before KiB, peak +$_grew KiB"
	[ -n "$ASAN" ] || [ $_grew -lt $LIMIT_KIB ] ||
		fail "the daemon's RSS grew by $_grew KiB during $_what (limit $LIMIT_KIB KiB)"
}

# check NAME DIR PID [make]: lists DIR/big through the mount, the daemon
# being PID; with "make", makes the files through the mount first.
check() {
	name=$1
	set +e
	(
		set -e
		fail() {
			echo "FAIL: $name: $*" >&2
			exit 1
		}
		[ "${4:-}" != make ] || make_files "$2/big"
		cd "$2/big"
		listed "$3" "ls -f" ls -f
		assert_eq "$(wc -l <"$T/out")" $((N + 2)) "entries listed by ls -f"
		listed "$3" "ls -l" ls -l
		assert_eq "$(grep -c '^-' "$T/out")" "$N" "files listed by ls -l"
	)
	_rc=$?
	set -e
	if [ $_rc -eq 0 ]; then
		echo "$name: ok"
	else
		failed="$failed $name"
	fi
}
failed=

vol create loc >/dev/null
make_files "$(data_dir loc)/big"
mount_vol loc "$T/loc"
check local "$(abspath "$T/loc")" "$(mount_pid loc "$(abspath "$T/loc")")"

if [ -e "$VOLFS_BACKEND_DIR/ram.so" ]; then
	for store in tmpfs daemon; do
		vol create -b ram -o size=1g -o store=$store ram-$store >/dev/null
		mount_vol ram-$store "$T/ram-$store"
		d=$(abspath "$T/ram-$store")
		check ram-$store "$d" "$(mount_pid ram-$store "$d")" make
		vol umount "$d"
	done
else
	echo "the ram backend module is not built: ram volumes not checked"
fi

vol create served >/dev/null
make_files "$(data_dir served)/big"
mkdir "$T/srv"
srv=$(abspath "$T/srv")
echo "$srv" >>"$T/mounts"
"$VOLFS" serve -m "$srv" --no-docker 2>"$T/serve.err" &
serve_pid=$!
track_pid $serve_pid
wait_until 10 is_mounted "$srv" ||
	{ cat "$T/serve.err" >&2; fail "volfs serve did not mount $srv"; }
check served "$srv/served" "$serve_pid"

[ -z "$failed" ] || fail "listing $N entries took too much memory, or listed them wrong, on:$failed"
exit 0
