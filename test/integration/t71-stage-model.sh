# SPDX-License-Identifier: MIT
# The staging layer against a model (test/helpers/stagemodel): random
# creates, writes, truncations, renames, unlinks, fsyncs and closes on a
# dirstore volume and on a plain directory at once give the same results
# and leave the same trees; what was closed or fsync'ed reaches the store
# directory; after the daemon is killed with SIGKILL and the volume is
# mounted again, each file shows its content at its last close or fsync or
# a newer one it had, never anything else; after a clean unmount and a
# mount, the volume still equals the model.
#
# VOLFS_MODEL_SEEDS (default "1 2 3k") lists the seeds, each run in a
# directory of its own; a seed ending in k runs with kills about every
# VOLFS_MODEL_KILL_EVERY ops (default 100).  VOLFS_MODEL_OPS (default 400)
# is the number of ops per seed.  For a longer run by hand:
#   VOLFS_MODEL_SEEDS="$(seq -s ' ' 10 40) 41k 42k 43k" VOLFS_MODEL_OPS=5000
. "$VOLFS_SRCDIR/test/integration/lib.sh"
need_cmd jq

stagemodel=${VOLFS_TEST_HELPERS:-}/stagemodel
[ -x "$stagemodel" ] || fail "stagemodel helper not built ($stagemodel)"
[ -e "$VOLFS_BACKEND_DIR/dirstore.so" ] ||
	skip "the dirstore backend module is not built ($VOLFS_BACKEND_DIR/dirstore.so)"
seeds=${VOLFS_MODEL_SEEDS:-1 2 3k}
ops=${VOLFS_MODEL_OPS:-400}
kill_every=${VOLFS_MODEL_KILL_EVERY:-100}

mkdir "$T/store" "$T/model"
store=$(abspath "$T/store")
vol create -b dirstore -o path="$store" -o upload_delay=0 sv >/dev/null
mount_vol sv "$T/mnt"
mnt=$(abspath "$T/mnt")

# The kill: SIGKILL to the daemon of the mount, then a lazy unmount (the
# handles stagemodel holds keep the dead mount busy until it drops them).
cat >"$T/kill.sh" <<EOF
set -eu
pid=\$("$VOLFS" inspect sv |
	jq -r '.[0].attachments[] | select(.consumer == "mount:$mnt") | .pid')
case \$pid in
'' | *[!0-9]*)
	echo "kill: no daemon for $mnt ('\$pid')" >&2
	exit 1
	;;
esac
kill -KILL "\$pid"
# Gone, or a zombie: either way it holds nothing any more.
i=0
while [ -d /proc/\$pid ] && ! grep -q '^State:.*Z' /proc/\$pid/status 2>/dev/null; do
	[ \$i -lt 100 ] || { echo "kill: daemon \$pid still alive" >&2; exit 1; }
	sleep 0.1
	i=\$((i + 1))
done
umount -l "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
EOF
# The restart: volfs mount again; the new daemon is stopped at exit too.
cat >"$T/remount.sh" <<EOF
set -eu
"$VOLFS" mount sv "$mnt"
pid=\$("$VOLFS" inspect sv |
	jq -r '.[0].attachments[] | select(.consumer == "mount:$mnt") | .pid')
echo "\$pid" >>"$T/pids"
EOF

for s in $seeds; do
	seed=${s%k}
	set -- --seed "$seed" --ops "$ops" --mount "$mnt/s$s" \
		--model "$T/model/s$s" --store "$store/s$s" \
		--store-ignore .volfs-tmp- --timeout 600
	if [ "$seed" != "$s" ]; then
		set -- "$@" --kill-every "$kill_every" \
			--kill-cmd "sh $T/kill.sh" --remount-cmd "sh $T/remount.sh"
	fi
	mkdir "$mnt/s$s" "$T/model/s$s"
	rc=0
	"$stagemodel" "$@" >"$T/model.out" 2>"$T/model.err" || rc=$?
	cat "$T/model.out"
	if [ $rc -ne 0 ]; then
		cat "$T/model.err" >&2
		fail "stagemodel found the volume unlike its model (seed $s, status $rc)"
	fi
	is_mounted "$mnt" || fail "$mnt is not mounted after seed $s"
	# No put was cut short outside the kills: no temporary file is left.
	if [ "$seed" = "$s" ]; then
		left=$(find "$store/s$s" -name '.volfs-tmp-*' | head -n 5)
		[ -z "$left" ] || fail "temporary files left on the store: $left"
	fi
done

# A clean unmount loses nothing: mounted again, the volume is the model.
expect_exit 0 vol umount "$mnt"
mount_vol sv "$T/mnt"
for s in $seeds; do
	if ! diff -r "$T/model/s$s" "$mnt/s$s" >"$T/diff" 2>&1; then
		head -n 20 "$T/diff" >&2
		fail "after an unmount and a mount, s$s differs from its model"
	fi
done
echo "seeds $seeds, $ops ops each: the volume matched its model"
exit 0
