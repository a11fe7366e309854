#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Usage errors exit 2 with one message and a hint that names the command:
# invalid volume names everywhere, contradictory serve options.
. "$(dirname "$0")/lib.sh"

# The hint after an error of no particular command.
expect_exit 2 vol frobnicate
assert_grep "^See 'volfs --help'\.$" "$T/err"
expect_exit 2 vol create -zzz
assert_grep "^See 'volfs create --help'\.$" "$T/err"

# An invalid name is a usage error in every command that takes one.
cafe=$(printf 'caf\303\251')
for cmd in create inspect rm; do
	expect_exit 2 vol $cmd "$cafe"
	assert_grep "invalid volume name" "$T/err"
done
mkdir "$T/m"
expect_exit 2 vol mount 'a/b' "$T/m"
assert_grep "invalid volume name" "$T/err"
# The valid names of a mixed list are still acted on.
vol create good >/dev/null
expect_exit 2 vol inspect good '../bad'
assert_grep '"good"' "$T/out"

# --no-docker contradicts the plugin's own options: refused, not ignored.
expect_exit 2 vol serve -m "$T/m" --docker-socket "$T/p.sock" --no-docker
assert_grep "no-docker" "$T/err"
expect_exit 2 vol serve -m "$T/m" --no-docker --docker-host unix:///x.sock
assert_grep "docker-host" "$T/err"
! is_mounted "$T/m" || fail "a refused serve mounted $T/m"
[ ! -e "$T/p.sock" ] || fail "a refused serve made its socket"
