# SPDX-License-Identifier: MIT
# Hard links are one file under several names: removing, renaming or
# replacing one name leaves the file whole under the others, stat counts
# the names, and an unlinked file stays readable and writable through the
# descriptors open on it.  On a local volume, a ram volume in each store,
# and a local volume under volfs serve.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

identity_targets 256m

# links FILE: the number of names of FILE, as stat sees it.
links() {
	stat -c %h "$1"
}

# same_file A B: A and B are one file (same inode number).
same_file() {
	[ "$(stat -c %i "$1")" = "$(stat -c %i "$2")" ] ||
		fail "$1 and $2 are different files (inodes $(stat -c %i "$1") and $(stat -c %i "$2"))"
}

check() {
	cd "$1"

	# A name goes; the file stays under its other name.
	mkdir a b
	echo hi >a/x
	ln a/x b/y || fail "ln a/x b/y"
	same_file a/x b/y
	rm b/y
	assert_eq "$(cat a/x)" hi "a/x after removing its link b/y"
	assert_eq "$(links a/x)" 1 "links of a/x after removing b/y"
	# The same, the first name going, the file looked up through both.
	ln a/x b/y || fail "ln a/x b/y again"
	cat b/y >/dev/null
	rm a/x
	assert_eq "$(cat b/y)" hi "b/y after removing a/x"
	[ ! -e a/x ] || fail "a/x still there after rm"

	# A rename over a linked file replaces that name only: the other
	# name keeps the old file, whether or not the kernel knows it yet.
	echo 1 >s
	echo 2 >d
	ln d dl || fail "ln d dl"
	mv s d
	assert_eq "$(cat dl)" 2 "dl after mv s d"
	assert_eq "$(cat d)" 1 "d after mv s d"
	echo 1 >s
	echo 2 >d2
	ln d2 dl2 || fail "ln d2 dl2"
	stat dl2 >/dev/null
	cat d2 >/dev/null
	mv s d2
	assert_eq "$(cat dl2)" 2 "dl2, stat'ed before mv s d2"
	assert_eq "$(cat d2)" 1 "d2 after mv s d2"
	assert_eq "$(links dl2)" 1 "links of dl2 after its other name was replaced"
	assert_eq "$(links d2)" 1 "links of d2 after mv s d2"
	[ "$(stat -c %i d2)" != "$(stat -c %i dl2)" ] ||
		fail "d2 and dl2 are still one file after mv s d2"

	# Renaming a linked name keeps one file; renaming the directory of
	# one of its names too.
	echo r >r1
	ln r1 c/r2 2>/dev/null && fail "ln into a missing directory succeeded"
	mkdir c
	ln r1 c/r2 || fail "ln r1 c/r2"
	mv c/r2 c/r3
	same_file r1 c/r3
	mv c e
	same_file r1 e/r3
	assert_eq "$(cat e/r3)" r "e/r3 after renaming its directory"
	echo more >>e/r3
	assert_eq "$(cat r1)" "$(printf 'r\nmore')" "r1 after a write through its link"

	# Link counts: every name counts, on every name; a rename over one
	# name takes one.
	echo n >n1
	assert_eq "$(links n1)" 1 "links of a new file"
	ln n1 n2
	ln n1 b/n3
	for f in n1 n2 b/n3; do
		assert_eq "$(links $f)" 3 "links of $f, one of three names"
	done
	: >o
	mv o n2
	assert_eq "$(links n1)" 2 "links of n1 after n2 was replaced"
	assert_eq "$(links b/n3)" 2 "links of b/n3 after n2 was replaced"
	rm n1
	assert_eq "$(links b/n3)" 1 "links of b/n3, the last name"
	assert_eq "$(cat b/n3)" n "b/n3, the last name"
	mkdir -p l/sub
	assert_eq "$(links l)" 3 "links of a directory with one subdirectory"

	# Unlinked while open: the descriptors still read and write the file,
	# which has no name left.
	echo orig >u
	exec 3<u 4>>u
	rm u
	[ ! -e u ] || fail "u still there after rm"
	echo more >&4
	assert_eq "$(cat <&3)" "$(printf 'orig\nmore')" "reading an unlinked file through its descriptor"
	assert_eq "$(stat -L -c %h /proc/self/fd/3)" 0 "links of an unlinked open file"
	exec 3<&- 4>&-
	# The last name of a linked file goes while open.
	echo v >v1
	ln v1 v2
	exec 3<v2
	rm v1 v2
	assert_eq "$(cat <&3)" v "an open file after both its names went"
	exec 3<&-
}

check_targets "hard links broken"
exit 0
