# SPDX-License-Identifier: MIT
# Many volfs processes at once on one catalog: nobody sees "locked",
# exactly one of the racers on a shared name wins, the end state is
# consistent.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

N=20
# The catalog exists before the races (only create makes one).
vol create warmup >/dev/null
vol rm warmup >/dev/null
mkdir "$T/r"

# run_bg TAG CMD...: runs CMD in the background, status in $T/r/TAG.rc
run_bg() {
	tag=$1
	shift
	( rc=0; "$@" >"$T/r/$tag.out" 2>"$T/r/$tag.err" || rc=$?; echo $rc >"$T/r/$tag.rc" ) &
	track_pid $!
}

# count_rc PREFIX N: how many of PREFIX.* exited with status N
count_rc() {
	cat "$T/r/$1".*.rc 2>/dev/null | grep -cx "$2" || true
}

check_no_locked() {
	if grep -il 'locked' "$T/r"/*.err >/dev/null 2>&1; then
		grep -i 'locked' "$T/r"/*.err >&2
		fail "$1: a process reported the catalog locked"
	fi
	for f in "$T/r"/*.rc; do
		[ "$(cat "$f")" -le 1 ] || fail "$1: $(basename "$f" .rc) exit $(cat "$f")"
	done
}

# Distinct names and one shared name, all at once.
i=1
while [ $i -le $N ]; do
	run_bg "c.$i" "$VOLFS" create "c$i"
	run_bg "s.$i" "$VOLFS" create shared
	i=$((i + 1))
done
wait
check_no_locked "parallel create"
[ "$(count_rc c 0)" -eq $N ] || fail "parallel create: only $(count_rc c 0) of $N distinct creates succeeded"
[ "$(count_rc s 0)" -eq 1 ] || fail "parallel create of one name: $(count_rc s 0) succeeded, expected 1"
for f in "$T/r"/s.*.rc; do
	tag=$(basename "$f" .rc)
	if [ "$(cat "$f")" != 0 ]; then
		assert_grep 'already exists' "$T/r/$tag.err"
	fi
done
expect_exit 0 vol ls -q
[ "$(wc -l <"$T/out")" -eq $((N + 1)) ] || fail "ls -q after parallel create: $(wc -l <"$T/out") volumes"

# Removing while creating: distinct rm, creates of new names, and racing
# rm of the shared name.
rm -f "$T/r"/*
i=1
while [ $i -le $N ]; do
	run_bg "r.$i" "$VOLFS" rm "c$i"
	run_bg "n.$i" "$VOLFS" create "new$i"
	run_bg "s.$i" "$VOLFS" rm shared
	run_bg "l.$i" "$VOLFS" ls
	i=$((i + 1))
done
wait
check_no_locked "parallel rm"
[ "$(count_rc r 0)" -eq $N ] || fail "parallel rm: only $(count_rc r 0) of $N succeeded"
[ "$(count_rc n 0)" -eq $N ] || fail "create during rm: only $(count_rc n 0) of $N succeeded"
[ "$(count_rc l 0)" -eq $N ] || fail "ls during rm: only $(count_rc l 0) of $N succeeded"
[ "$(count_rc s 0)" -eq 1 ] || fail "parallel rm of one name: $(count_rc s 0) succeeded, expected 1"

# The catalog and the data directories agree.
expect_exit 0 vol ls -q
sort "$T/out" >"$T/listed"
i=1
: >"$T/want"
while [ $i -le $N ]; do
	echo "new$i" >>"$T/want"
	i=$((i + 1))
done
sort -o "$T/want" "$T/want"
cmp -s "$T/listed" "$T/want" || { diff "$T/want" "$T/listed" >&2; fail "ls after the races is wrong"; }
ls "$VOLFS_ROOT/volumes" | sort >"$T/dirs"
cmp -s "$T/dirs" "$T/want" || { diff "$T/want" "$T/dirs" >&2; fail "data dirs disagree with the catalog"; }
exit 0
