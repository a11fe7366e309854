# SPDX-License-Identifier: MIT
# A volume's reference count is one number everywhere: the plugin's Get
# (which does not reap), volfs inspect and volfs ls agree, with a consumer
# that holds the volume twice and an attachment whose owner died and was
# not reaped yet.  A "mount:" attachment stops counting as soon as its
# mount is gone, also for serve's long-lived catalog handles (which keep
# the mount table until it changes).
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq curl sqlite3

serve_plugin

vol create data >/dev/null
# Behind the catalog's back: a Docker mount id held twice (as after a
# retried Mount), and the attachment of a process that is gone.
sh -c 'exit 0' &
dead=$!
wait "$dead"
sqlite3 "$VOLFS_ROOT/catalog.db" "
	INSERT INTO attachments (volume, consumer, since, pid, pid_start, mounts)
	VALUES ('data', 'docker:aa', 1, 0, 0, 2);
	INSERT INTO attachments (volume, consumer, since, pid, pid_start, mounts)
	VALUES ('data', 'cli:gone', 1, $dead, 12345, 1);" ||
	fail "cannot write the catalog with sqlite3"

get=$(curl -sS --max-time 10 --unix-socket "$SOCK" -X POST \
	--data-binary '{"Name":"data"}' http://plugin/VolumeDriver.Get |
	jq -r .Volume.Status.refcount) || fail "no answer to Get"
expect_exit 0 vol inspect data
inspect=$(jq -r '.[0].refcount' "$T/out")
ls=$(ls_refs data)
expect_exit 0 vol ls --format json
lsjson=$(jq -r '.[] | select(.name == "data") | .refcount' "$T/out")
echo "refcount: plugin Get $get, inspect $inspect, ls $ls, ls json $lsjson"
assert_eq "$get" 2 "refcount from the plugin's Get"
assert_eq "$inspect" 2 "refcount from volfs inspect"
assert_eq "$ls" 2 "REFS from volfs ls"
assert_eq "$lsjson" 2 "refcount from volfs ls --format json"

# get_refs NAME: the refcount of NAME from the plugin's Get.
get_refs() {
	curl -sS --max-time 10 --unix-socket "$SOCK" -X POST \
		--data-binary "{\"Name\":\"$1\"}" http://plugin/VolumeDriver.Get |
		jq -r .Volume.Status.refcount
}
vol create m >/dev/null
mount_vol m "$T/b"
for _ in 1 2 3 4 5; do
	assert_eq "$(get_refs m)" 1 "refcount from Get while mounted"
done
# Gone behind volfs's back: the attachment stays, the mount does not.
umount "$(abspath "$T/b")" || fail "cannot unmount $T/b"
for _ in 1 2 3 4 5; do
	assert_eq "$(get_refs m)" 0 "refcount from Get once unmounted"
done
assert_eq "$(ls_refs m)" 0 "REFS from volfs ls once unmounted"
exit 0
