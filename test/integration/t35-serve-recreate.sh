# SPDX-License-Identifier: MIT
# A volume removed and created again at once under volfs serve is a new
# volume everywhere: the first look at the new one shows it empty and
# writable (local and ram, through the CLI and through the plugin socket),
# while a process still inside the old one keeps the old one.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq curl

serve_plugin

req() {
	code=$(curl -sS --max-time 10 --unix-socket "$SOCK" -X POST \
		-o "$T/out" -w '%{http_code}' ${2+--data-binary "$2"} \
		"http://plugin/$1") || fail "no answer to $1"
	assert_eq "$code" 200 "HTTP status of $1"
	assert_eq "$(jq -r '.Err // ""' "$T/out")" "" "error of $1 $2"
}

# new_is_empty DIR WHAT: DIR is an empty volume that takes a new file.
new_is_empty() {
	assert_eq "$(ls -A "$1" | tr '\n' ' ')" "" "$2: listing of the new volume"
	[ ! -e "$1/old" ] || fail "$2: the removed volume's file is in the new one"
	echo new >"$1/new" 2>"$T/err" || { cat "$T/err" >&2; fail "$2: cannot write to the new volume"; }
	assert_eq "$(cat "$1/new")" new "$2: file written to the new volume"
}

# Through the CLI, for each backend; several rounds, since the kernel's
# and serve's caches must all see the change at once.
for b in local ram; do
	for round in 1 2 3; do
		v=re-$b
		vol create -b "$b" "$v" >/dev/null
		head -c 1048576 /dev/urandom >"$MNT/$v/old"
		mkdir "$MNT/$v/d"
		ls -lA "$MNT/$v" >/dev/null
		vol rm "$v" >/dev/null
		vol create -b "$b" "$v" >/dev/null
		new_is_empty "$MNT/$v" "$b round $round"
		vol rm "$v" >/dev/null
	done
done

# A process inside the old ram volume keeps it; the new one is new.
vol create -b ram keep >/dev/null
echo old-data >"$MNT/keep/old"
mkfifo "$T/go"
sh -c 'cd "$1" && echo in >"$2/in" && read x <"$2/go" && cat old >"$2/inside" &&
	ls -A >"$2/inside.ls"' sh "$MNT/keep" "$T" &
inside=$!
track_pid "$inside"
wait_until 5 test -s "$T/in" || fail "the process did not enter the volume"
vol rm keep >/dev/null
vol create -b ram keep >/dev/null
new_is_empty "$MNT/keep" "ram with a process in the old one"
echo go >"$T/go"
wait "$inside" || fail "the process inside the old volume could not read it"
assert_eq "$(cat "$T/inside")" old-data "the old volume, seen from inside it"
assert_eq "$(cat "$T/inside.ls")" old "the old volume's listing, seen from inside it"
vol rm keep >/dev/null

# Through the plugin socket, as Docker does it.
for b in local ram; do
	req VolumeDriver.Create "{\"Name\":\"p-$b\",\"Opts\":{\"backend\":\"$b\"}}"
	req VolumeDriver.Mount "{\"Name\":\"p-$b\",\"ID\":\"c1\"}"
	path=$(jq -r .Mountpoint "$T/out")
	head -c 1048576 /dev/urandom >"$path/old"
	ls -lA "$path" >/dev/null
	req VolumeDriver.Unmount "{\"Name\":\"p-$b\",\"ID\":\"c1\"}"
	req VolumeDriver.Remove "{\"Name\":\"p-$b\"}"
	req VolumeDriver.Create "{\"Name\":\"p-$b\",\"Opts\":{\"backend\":\"$b\"}}"
	req VolumeDriver.Mount "{\"Name\":\"p-$b\",\"ID\":\"c2\"}"
	path=$(jq -r .Mountpoint "$T/out")
	new_is_empty "$path" "plugin $b"
	req VolumeDriver.Unmount "{\"Name\":\"p-$b\",\"ID\":\"c2\"}"
done
kill -0 "$serve_pid" || fail "volfs serve died"
exit 0
