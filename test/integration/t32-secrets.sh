# SPDX-License-Identifier: MIT
# Secret options: sealed in the catalog (never plaintext anywhere under the
# state root), redacted by inspect, absent from logs and from the argv of a
# running create, decrypted for the backend (the test backend secretbe
# refuses to open unless it gets the password it was created with); the
# key file, what happens when it is lost, replaced or unsafe; old plaintext
# rows; credentials=FILE.
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq sqlite3

REAL_BE_DIR=$VOLFS_BACKEND_DIR
BE_DIR=$VOLFS_TEST_HELPERS/.libs
[ -e "$BE_DIR/secretbe.so" ] || skip "the secretbe test backend is not built ($BE_DIR/secretbe.so)"
VOLFS_BACKEND_DIR=$BE_DIR
export VOLFS_BACKEND_DIR

PW='Sup3r-S3cret-pw_1'
PW2='An0ther-s3cret'
KEY=$VOLFS_ROOT/secret.key
DB=$VOLFS_ROOT/catalog.db

# Nothing under the state root (catalog, WAL, key file, volume dirs) and
# nothing in the given files holds a plaintext secret.
assert_no_secret() {
	for _s in "$PW" "$PW2"; do
		if grep -rlaF -e "$_s" "$VOLFS_ROOT" "$@" >"$T/leak" 2>/dev/null; then
			cat "$T/leak" >&2
			fail "a secret is in plaintext in these files"
		fi
	done
}

stored() {
	sqlite3 "$DB" "select value from volume_options where volume = '$1' and key = '$2'"
}

# create -o password=: stored sealed, the key file made 0600.
[ ! -e "$KEY" ] || fail "a key file exists before any secret was stored"
expect_exit 0 vol --log-level debug create -b secretbe -o username=alice -o password="$PW" s1
assert_eq "$(cat "$T/out")" s1 "create output"
assert_no_secret "$T/out" "$T/err"
[ -f "$KEY" ] || fail "no key file $KEY after storing a secret"
assert_eq "$(stat -c '%a %s %u' "$KEY")" "600 32 0" "mode, size and owner of the key file"
sealed=$(stored s1 password)
case $sealed in
enc:v1:*) ;;
*) fail "the password of s1 is stored as '$sealed', not sealed" ;;
esac
assert_eq "$(stored s1 username)" alice "an ordinary option is stored as given"
assert_no_secret

# Two volumes with the same password: different sealed values.
vol create -b secretbe -o password="$PW" s2 >/dev/null
[ "$(stored s2 password)" != "$sealed" ] || fail "the same password sealed twice gave the same text"

# inspect, ls, ls --format json: never the secret.
expect_exit 0 vol --log-level debug inspect s1
assert_no_secret "$T/out" "$T/err"
jq -e '.[0].options == {"username": "alice", "password": "********"}' "$T/out" >/dev/null ||
	{ cat "$T/out" >&2; fail "inspect does not redact the password"; }
expect_exit 0 vol ls
assert_no_secret "$T/out"
expect_exit 0 vol ls --format json
assert_no_secret "$T/out"
if jq -e '.. | strings | select(startswith("enc:"))' "$T/out" >/dev/null; then
	fail "ls --format json shows a sealed value"
fi
# Without the backend, which options are secret is unknown: all hidden.
expect_exit 0 env VOLFS_BACKEND_DIR="$T/none" "$VOLFS" inspect s1
jq -e '.[0].options == {"username": "********", "password": "********"}' "$T/out" >/dev/null ||
	{ cat "$T/out" >&2; fail "inspect without the backend shows option values"; }

# The mount works: secretbe opens only with the password it was created with.
mkdir -p "$T/m1" "$T/m2" "$T/m3"
expect_exit 0 vol --log-level debug mount s1 "$T/m1"
echo "$(abspath "$T/m1")" >>"$T/mounts"
is_mounted "$(abspath "$T/m1")" || fail "s1 is not mounted"
assert_no_secret "$T/out" "$T/err"
assert_eq "$(head -1 "$T/m1/whoami")" "username=alice" "whoami of s1"
pid=$(mount_pid s1 "$(abspath "$T/m1")")
track_pid "$pid"
assert_no_secret "/proc/$pid/cmdline" "/proc/$pid/environ"
vol umount "$T/m1"

# volfs serve opens volumes the same way, and logs no secret at debug level.
mkdir -p "$T/srv"
srv=$(abspath "$T/srv")
echo "$srv" >>"$T/mounts"
"$VOLFS" --log-level debug serve -m "$srv" --idle-timeout 1 2>"$T/serve.err" &
spid=$!
track_pid "$spid"
wait_until 10 is_mounted "$srv" || { cat "$T/serve.err" >&2; fail "volfs serve did not mount $srv"; }
assert_eq "$(head -1 "$srv/s1/whoami")" "username=alice" "whoami of s1 through serve"
assert_no_secret "/proc/$spid/cmdline" "/proc/$spid/environ"
kill -TERM "$spid"
wait "$spid" || true
wait_until 10 not_mounted "$srv" || fail "volfs serve left $srv mounted"
assert_no_secret "$T/serve.err"

# With serve running, volfs mount binds serve's instance; when serve cannot
# open the volume, the mount says why, not only the errno of the bind.
"$VOLFS" serve -m "$srv" --no-docker 2>"$T/serve2.err" &
spid=$!
track_pid "$spid"
wait_until 10 is_mounted "$srv" || { cat "$T/serve2.err" >&2; fail "volfs serve did not mount $srv"; }
cp "$KEY" "$T/key.good"
head -c 32 /dev/urandom >"$KEY"
expect_exit 1 vol mount s1 "$T/m3"
assert_grep "process serving it \(pid $spid\) cannot open it" "$T/err"
assert_grep "cannot decrypt option 'password' of volume 's1'" "$T/err"
assert_no_secret "$T/err"
head -c 10 /dev/urandom >"$KEY"
expect_exit 1 vol mount s1 "$T/m3"
assert_grep "$KEY" "$T/err"
assert_no_grep "Invalid argument$" "$T/err"
! is_mounted "$(abspath "$T/m3")" || fail "a failed mount left $T/m3 mounted"
cat "$T/key.good" >"$KEY"
expect_exit 0 vol mount s1 "$T/m3"
echo "$(abspath "$T/m3")" >>"$T/mounts"
assert_eq "$(head -1 "$T/m3/whoami")" "username=alice" "whoami of s1 bound from serve"
vol umount "$T/m3"
kill -TERM "$spid"
wait "$spid" || true
wait_until 10 not_mounted "$srv" || fail "volfs serve left $srv mounted"

# A row written by a volfs that stored secrets in plaintext still opens,
# with a warning, and inspect still hides it.  (Its own plaintext: SQLite
# may keep deleted rows' bytes in free pages.)
PW3='Legacy-plain-pw'
vol create -b secretbe -o password="$PW3" old >/dev/null
sqlite3 "$DB" "update volume_options set value = '$PW3' where volume = 'old' and key = 'password'"
expect_exit 0 vol mount old "$T/m2"
echo "$(abspath "$T/m2")" >>"$T/mounts"
assert_grep "option 'password' of volume 'old' is stored unencrypted" "$T/err"
assert_no_grep "$PW3" "$T/err"
[ -f "$T/m2/whoami" ] || fail "the plaintext row did not open"
vol umount "$T/m2"
expect_exit 0 vol inspect old
jq -e '.[0].options.password == "********"' "$T/out" >/dev/null || fail "inspect shows an old plaintext password"
vol rm old >/dev/null

# An unsafe key file is refused, not used.
chmod 644 "$KEY"
expect_exit 1 vol mount s1 "$T/m1"
assert_grep "refusing the key file $KEY: its mode is 0644" "$T/err"
assert_grep "chmod 600" "$T/err"
expect_exit 1 vol create -b secretbe -o password="$PW" s3
assert_grep "refusing the key file" "$T/err"
assert_no_secret "$T/err"
chmod 600 "$KEY"

# The key file lost: a clear message, no new key made by mount.
mv "$KEY" "$T/key.saved"
expect_exit 1 vol mount s1 "$T/m1"
assert_grep "cannot decrypt option 'password' of volume 's1'" "$T/err"
assert_grep "$KEY does not exist" "$T/err"
assert_grep "restore it from a backup" "$T/err"
[ ! -e "$KEY" ] || fail "mount made a new key file"
not_mounted "$(abspath "$T/m1")" || fail "s1 mounted without its key"

# A new key (made by the next secret stored) does not open the old values.
vol create -b secretbe -o password="$PW2" s4 >/dev/null
[ -f "$KEY" ] || fail "no new key file"
expect_exit 1 vol mount s1 "$T/m1"
assert_grep "cannot decrypt option 'password' of volume 's1': the key file $KEY does not match" "$T/err"
assert_grep "restore the key file" "$T/err"
assert_no_secret "$T/err"
# rm needs the key (the backend is asked to delete with the password) ...
expect_exit 1 vol rm s2
assert_grep "cannot remove volume 's2': cannot decrypt option 'password'" "$T/err"
expect_exit 0 vol inspect s2
jq -e '.[0].state == "ready"' "$T/out" >/dev/null || fail "a failed rm left s2 not ready"
# ... unless forced: removed without the backend's destroy(), with a warning.
expect_exit 0 vol rm -f s2
assert_grep "removing volume 's2' without asking backend 'secretbe'" "$T/err"
expect_exit 1 vol inspect s2
[ ! -e "$VOLFS_ROOT/volumes/s2" ] || fail "rm -f left the state directory of s2"

# A value moved to another volume does not open there.
mv "$KEY" "$T/key.new"
mv "$T/key.saved" "$KEY"
sqlite3 "$DB" "update volume_options set value = '$(stored s1 password)' where volume = 's4' and key = 'password'"
expect_exit 1 vol mount s4 "$T/m1"
assert_grep "cannot decrypt option 'password' of volume 's4'" "$T/err"
vol rm -f s4 >/dev/null 2>&1

# The old key back: s1 opens again and rm asks the backend (which checks
# the password it gets).
mount_vol s1 "$T/m1"
assert_eq "$(head -1 "$T/m1/whoami")" "username=alice" "whoami of s1 with its key back"
vol umount "$T/m1"

# credentials=FILE, as mount.cifs reads it.
cat >"$T/cred" <<EOF
# for the share
user=bob
pass=$PW2

domain=CORP
EOF
chmod 600 "$T/cred"
expect_exit 0 vol create -b secretbe -o credentials="$T/cred" c1
assert_no_secret "$T/out" "$T/err"
case $(stored c1 password) in
enc:v1:*) ;;
*) fail "a password from a credentials file is not sealed" ;;
esac
assert_eq "$(sqlite3 "$DB" "select count(*) from volume_options where volume = 'c1' and key = 'credentials'")" 0 \
	"the credentials option is stored"
expect_exit 0 vol inspect c1
jq -e '.[0].options == {"username": "bob", "password": "********", "domain": "CORP"}' "$T/out" >/dev/null ||
	{ cat "$T/out" >&2; fail "inspect of a volume made from a credentials file"; }
mount_vol c1 "$T/m3"
assert_eq "$(cat "$T/m3/whoami")" "username=bob
domain=CORP" "whoami of c1"
vol umount "$T/m3"

# credentials=FILE errors: clear, naming file and line, never the secret,
# and nothing created.
assert_not_created() {
	expect_exit 1 vol inspect "$1"
}
chmod 644 "$T/cred"
expect_exit 1 vol create -b secretbe -o credentials="$T/cred" c2
assert_grep "refusing the credentials file $T/cred" "$T/err"
assert_grep "chmod o-rwx" "$T/err"
assert_not_created c2
chmod 600 "$T/cred"
expect_exit 1 vol create -b secretbe -o credentials="$T/cred" -o password=x c2
assert_grep "option 'password' is given both with -o and in the credentials file $T/cred \(line 3\)" "$T/err"
assert_not_created c2
printf 'username=u\npasswd=%s\n' "$PW" >"$T/cred2"
chmod 600 "$T/cred2"
expect_exit 1 vol create -b secretbe -o credentials="$T/cred2" c2
assert_grep "credentials file $T/cred2, line 2: the key is not an option of backend 'secretbe'" "$T/err"
assert_no_grep "passwd" "$T/err"
assert_no_secret "$T/err"
printf '%s\n' "$PW" >"$T/cred2"
expect_exit 1 vol create -b secretbe -o credentials="$T/cred2" c2
assert_grep "credentials file $T/cred2, line 1: not a KEY=VALUE line" "$T/err"
assert_no_secret "$T/err"
expect_exit 1 vol create -b secretbe -o credentials="$T/missing" c2
assert_grep "cannot read the credentials file $T/missing" "$T/err"
assert_not_created c2
# A backend without secret options takes none.
expect_exit 1 env VOLFS_BACKEND_DIR="$REAL_BE_DIR" "$VOLFS" create -b local -o credentials="$T/cred" c2
assert_grep "backend 'local' has no secret options" "$T/err"
assert_not_created c2
# Another secretbe error never echoes the value either.
expect_exit 2 vol create -b secretbe -o password="$PW" -o password="$PW" c2
assert_grep "'password' is given twice" "$T/err"
assert_no_secret "$T/err"
expect_exit 1 vol create -b secretbe -o username=u c2
assert_grep "needs option 'password'" "$T/err"

# rm hands destroy() the plaintext too (secretbe's destroy() checks it).
expect_exit 0 vol rm s1 c1
assert_no_secret "$T/out" "$T/err"
[ ! -e "$VOLFS_ROOT/volumes/s1" ] || fail "rm left the state directory of s1"

# argv: while create runs (held in validate()), /proc/PID/cmdline shows
# the key but not the secret.
"$VOLFS" create -b secretbe -o hold="$T/hold" --opt=password="$PW" h1 >/dev/null 2>"$T/herr" &
hpid=$!
track_pid "$hpid"
wait_until 10 test -e "$T/hold" || fail "create never reached validate()"
tr '\0' ' ' <"/proc/$hpid/cmdline" >"$T/cmdline"
rm -f "$T/hold"
wait "$hpid" || { cat "$T/herr" >&2; fail "the held create failed"; }
assert_grep 'opt=password=\*{17}( |$)' "$T/cmdline"
assert_grep "hold=$T/hold" "$T/cmdline"
assert_no_secret "$T/cmdline"
assert_eq "$(stored h1 password | cut -c1-7)" "enc:v1:" "the held create's password"

# Through the Docker plugin: Create seals the password as the CLI does
# (also from a credentials file), Get never shows it, Mount decrypts it for
# the backend, and the daemon's log never holds it.
if command -v curl >/dev/null 2>&1; then
	mkdir -p "$T/dsrv"
	dsrv=$(abspath "$T/dsrv")
	echo "$dsrv" >>"$T/mounts"
	"$VOLFS" --log-level debug serve -m "$dsrv" --docker-socket "$T/p.sock" \
		--docker-host "unix://$T/none.sock" 2>"$T/dserve.err" &
	dpid=$!
	track_pid "$dpid"
	wait_until 10 test -S "$T/p.sock" || fail "no plugin socket"
	dreq() {
		curl -sS --max-time 10 --unix-socket "$T/p.sock" -X POST -d "$2" \
			"http://plugin/VolumeDriver.$1" >"$T/dout" || fail "no answer to $1"
		assert_eq "$(jq -r .Err "$T/dout")" "" "Err of $1"
	}
	dreq Create "{\"Name\":\"d1\",\"Opts\":{\"backend\":\"secretbe\",\"username\":\"bob\",\"password\":\"$PW\"}}"
	assert_eq "$(stored d1 password | cut -c1-7)" "enc:v1:" "password of a Docker-made volume"
	printf 'username=carol\npassword=%s\n' "$PW2" >"$T/dcreds"
	chmod 600 "$T/dcreds"
	# The plugin never reads a host file for its caller: a volume made
	# from a credentials file is made on the host, and mounted by name.
	curl -sS --max-time 10 --unix-socket "$T/p.sock" -X POST \
		-d "{\"Name\":\"d2\",\"Opts\":{\"backend\":\"secretbe\",\"credentials\":\"$T/dcreds\"}}" \
		http://plugin/VolumeDriver.Create >"$T/dout" || fail "no answer to Create"
	assert_grep "option 'credentials' names a file on the host" "$T/dout"
	expect_exit 0 vol create -b secretbe -o credentials="$T/dcreds" d2
	dreq Get '{"Name":"d1"}'
	assert_eq "$(jq -r .Volume.Status.options.password "$T/dout")" "********" "password in Get"
	assert_eq "$(jq -r .Volume.Status.options.username "$T/dout")" bob "username in Get"
	cp "$T/dout" "$T/dget"
	dreq Mount '{"Name":"d2","ID":"m1"}'
	ls "$dsrv/d2" >/dev/null || fail "the Docker-made secret volume does not open"
	dreq Unmount '{"Name":"d2","ID":"m1"}'
	kill -TERM "$dpid"
	wait "$dpid" || true
	assert_no_secret "$T/dget" "$T/dserve.err"
fi

# An fstab line that creates its volume may name a credentials file.
ln -s "$VOLFS" "$T/mount.volfs"
mkdir -p "$T/m3"
"$T/mount.volfs" d3 "$T/m3" -o backend=secretbe,credentials="$T/dcreds" 2>"$T/merr" ||
	{ cat "$T/merr" >&2; fail "mount.volfs with credentials= failed"; }
echo "$(abspath "$T/m3")" >>"$T/mounts"
assert_eq "$(stored d3 password | cut -c1-7)" "enc:v1:" "password of an fstab-made volume"
assert_eq "$(stored d3 username)" carol "username from the credentials file"
ls "$T/m3" >/dev/null || fail "the fstab-made secret volume does not answer"
assert_no_secret "$T/merr"
exit 0
