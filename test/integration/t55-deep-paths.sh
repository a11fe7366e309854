# SPDX-License-Identifier: MIT
# A tree deeper than PATH_MAX: 48 levels of 100-byte names (4,848 bytes
# below the volume's root), made and walked with cd one level at a time as
# pjdfstest does; files at its bottom are made, read, written, stat'ed,
# renamed and removed, a directory halfway down is renamed, and rm -r takes
# it all.  On a local volume, a ram volume in each store, and a local
# volume under volfs serve.
. "$VOLFS_SRCDIR/test/integration/lib.sh"

identity_targets 256m

LEVELS=48
HALF=24
head -c 300001 /dev/urandom >"$T/src"
pad=$(printf '%097d' 0 | tr 0 d)

# The 100-byte name of level $1 (1..LEVELS), or of its renamed self.
level() {
	printf '%s%03d' "$pad" "$1"
}
renamed() {
	printf '%s%03d' "$(echo "$pad" | tr d r)" "$1"
}

# down FROM TO: cd from level FROM to level TO, one level at a time;
# level HALF + 1 by the name in $mid.  -P: the shell's logical path is
# longer than the kernel takes.
down() {
	_i=$(($1 + 1))
	while [ $_i -le "$2" ]; do
		if [ $_i -eq $((HALF + 1)) ]; then
			cd -P "$mid" || fail "cd to level $_i ($mid)"
		else
			cd -P "$(level $_i)" || fail "cd to level $_i"
		fi
		_i=$((_i + 1))
	done
}

check() {
	cd -P "$1"
	root=$1

	# Made one level at a time, a file at every eighth level.
	mkdir top
	cd -P top
	i=1
	while [ $i -le $LEVELS ]; do
		mkdir "$(level $i)" || fail "mkdir at level $i"
		cd -P "$(level $i)" || fail "cd to level $i"
		if [ $((i % 8)) -eq 0 ]; then
			echo "level $i" >at-level
		fi
		i=$((i + 1))
	done

	# At the bottom: write, read, stat, append, chmod, rename, symlink,
	# listing, remove.
	echo bottom >f
	assert_eq "$(cat f)" bottom "a file at the bottom"
	cp "$T/src" big || fail "cp to the bottom"
	cmp "$T/src" big || fail "the file copied to the bottom differs"
	assert_eq "$(stat -c %s big)" 300001 "size of the file at the bottom"
	echo more >>f
	assert_eq "$(cat f)" "$(printf 'bottom\nmore')" "a file appended to at the bottom"
	chmod 640 f
	touch -d @1000000000 f
	assert_eq "$(stat -c %a:%Y f)" 640:1000000000 "mode and mtime at the bottom"
	mkdir sub
	mv f sub/g || fail "rename at the bottom"
	[ ! -e f ] || fail "f still there after its rename"
	assert_eq "$(cat sub/g)" "$(printf 'bottom\nmore')" "a file renamed at the bottom"
	ln -s sub/g link
	assert_eq "$(cat link)" "$(printf 'bottom\nmore')" "a symlink at the bottom"
	assert_eq "$(ls -A | sort | tr '\n' ' ')" "at-level big link sub " "listing of the bottom"
	rm link
	ls -l >/dev/null || fail "ls -l at the bottom"

	# Back up one level at a time, through '..'.
	i=$LEVELS
	while [ $i -gt 0 ]; do
		cd -P .. || fail "cd .. from level $i"
		i=$((i - 1))
	done
	[ "$(stat -c %i .)" = "$(stat -c %i "$root/top")" ] ||
		fail "cd .. $LEVELS times did not lead back to the top"

	# A long relative path in one call: level HALF from the top, the
	# bottom from level HALF.
	p=$(i=1; while [ $i -le $HALF ]; do printf '%s/' "$(level $i)"; i=$((i + 1)); done)
	assert_eq "$(cat "${p}at-level")" "level $HALF" "a path of $(printf %s "$p" | wc -c) bytes"
	cd -P "$p"
	q=$(i=$((HALF + 1)); while [ $i -le $LEVELS ]; do printf '%s/' "$(level $i)"; i=$((i + 1)); done)
	assert_eq "$(cat "${q}sub/g")" "$(printf 'bottom\nmore')" "the bottom file by a path of $(printf %s "$q" | wc -c) bytes"

	# A directory halfway down renamed: the tree below follows it.
	mid=$(renamed $((HALF + 1)))
	mv "$(level $((HALF + 1)))" "$mid" || fail "rename at level $HALF"
	[ ! -e "$(level $((HALF + 1)))" ] || fail "the renamed directory is still there under its old name"
	down $HALF $LEVELS
	cmp "$T/src" big || fail "the bottom file after renaming a directory above it"
	assert_eq "$(cat at-level)" "level $LEVELS" "the bottom level's file after the rename"
	mv sub/g g
	echo again >>g
	assert_eq "$(tail -n 1 g)" again "a write at the bottom after the rename"

	# Every file is found from the top, and rm -r takes them all.
	cd -P "$root"
	assert_eq "$(find top -type f | wc -l)" $((LEVELS / 8 + 2)) "files found under top"
	assert_eq "$(find top -type d | wc -l)" $((LEVELS + 2)) "directories found under top"
	rm -r top || fail "rm -r of the tree"
	[ ! -e top ] || fail "the tree is still there after rm -r"
	assert_eq "$(ls -A)" "" "the volume after rm -r"
}

check_targets "deep paths broken"
exit 0
