# SPDX-License-Identifier: MIT
# pjdfstest, the POSIX file system conformance suite, passes inside a local
# volume, a ram volume in each store, and a local volume under volfs serve.
#
# Runs when VOLFS_PJDFSTEST names a built pjdfstest tree (the directory
# holding the pjdfstest binary and tests/: autoreconf -ifs && ./configure
# && make pjdfstest); VOLFS_PJDFSTEST_TESTS narrows the run to some of its
# tests, as paths below tests/ ("rename chmod/00.t").  For each volume it
# prints prove's summary and, when some failed, the first failures.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

[ -n "${VOLFS_PJDFSTEST:-}" ] ||
	skip "VOLFS_PJDFSTEST is not set (a built pjdfstest tree, from https://github.com/pjd/pjdfstest)"
pjd=$(abspath "$VOLFS_PJDFSTEST") ||
	fail "VOLFS_PJDFSTEST=$VOLFS_PJDFSTEST is not a directory"
if [ ! -x "$pjd/pjdfstest" ] || [ ! -d "$pjd/tests" ]; then
	fail "VOLFS_PJDFSTEST=$pjd holds no built pjdfstest (pjdfstest and tests/)"
fi
need_cmd prove
tests=
for t in ${VOLFS_PJDFSTEST_TESTS:-}; do
	[ -e "$pjd/tests/$t" ] || fail "VOLFS_PJDFSTEST_TESTS: no $pjd/tests/$t"
	tests="$tests $pjd/tests/$t"
done
: "${tests:=$pjd/tests}"

identity_targets 1g

failed=
for tgt in $TARGETS; do
	name=${tgt%%=*}
	log=$T/pjdfstest-$name.log
	# pjdfstest works in the current directory, as root and as other
	# users: a fresh one that everyone may enter.
	mkdir -m 0755 "${tgt#*=}/pjd"
	rc=0
	# shellcheck disable=SC2086 # $tests is a word list
	(cd "${tgt#*=}/pjd" && prove -rv $tests) >"$log" 2>&1 || rc=$?
	sed -n '/^Test Summary Report/,/^Files=/p; /^All tests successful/p; /^Result:/p' "$log" |
		sed "s/^/$name: /"
	if [ $rc -eq 0 ]; then
		echo "$name: ok"
	else
		# The first failures, with the test file each is in (cut: the
		# paths of the PATH_MAX tests run to kilobytes).
		awk -v n="$name" '
			/\.t \.\.+/ { f = $1; sub(".*/tests/", "", f) }
			/^not ok/ && !/# TODO/ { print n ": " f ": " $0 }' "$log" |
			head -n 40 | cut -c -300 >&2
		failed="$failed $name"
	fi
done
[ -z "$failed" ] || fail "pjdfstest failed on:$failed"
exit 0
