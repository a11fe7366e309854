# SPDX-License-Identifier: MIT
# The bash completion: commands, options, volume names, backends and their
# options, mount options after -o; loaded the way bash-completion loads it.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -eu

[ -n "${VOLFS:-}" ] || { echo "SKIP: VOLFS is not set (run through make check)" >&2; exit 77; }
bc=/usr/share/bash-completion/bash_completion
[ -r "$bc" ] || { echo "SKIP: $bc not found (install bash-completion)" >&2; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/volfs-t42.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

export VOLFS_ROOT=$T/state
# The completion runs the volfs the command line names: this build's.
mkdir "$T/bin"
ln -s "$VOLFS" "$T/bin/volfs"
PATH=$T/bin:$PATH
"$VOLFS" create alpha >/dev/null
"$VOLFS" create -b ram beta >/dev/null
"$VOLFS" --root "$T/other" create gamma >/dev/null

# bash_completion reads the interactive shell's settings; the functions
# work in a script as well.
set +eu
. "$bc"
. "$VOLFS_SRCDIR/packaging/bash-completion/volfs"
set -eu
complete -p volfs | grep -q -- '-F _volfs' || fail "the completion is not registered for volfs"

# comp WORD... : completes the last word, as bash splits the line (with
# COMP_WORDBREAKS); the replies are in $T/reply, one a line.
comp() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE=$(printf '%s' "$1"; shift; for w in "$@"; do
		case $w in = | =*) printf '%s' "$w" ;; *) [[ $prev_w == = ]] && printf '%s' "$w" || printf ' %s' "$w" ;; esac
		prev_w=$w
	done)
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	set +eu
	_volfs
	set -eu
	printf '%s\n' "${COMPREPLY[@]}" | sort >"$T/reply"
}
prev_w=

# want WORDS...: the replies are exactly these.
want() {
	printf '%s\n' "$@" | sort >"$T/want"
	if ! cmp -s "$T/want" "$T/reply"; then
		echo "--- completion of '$COMP_LINE': got" >&2
		cat "$T/reply" >&2
		echo "--- expected" >&2
		cat "$T/want" >&2
		fail "completion of '$COMP_LINE'"
	fi
}

# has WORD: WORD is among the replies.
has() {
	grep -qxF -e "$1" "$T/reply" || { cat "$T/reply" >&2; fail "'$1' not offered for '$COMP_LINE'"; }
}

comp volfs cr; want create
comp volfs ''; want create ls inspect rm prune mount umount serve stats gc version
comp volfs --log-level ''; want err warning notice info debug
comp volfs mount ''; want alpha beta
comp volfs inspect a; want alpha
comp volfs --root "$T/other" rm ''; want gamma
comp volfs rm -; has --force
comp volfs create -b ''; want $(cd "$VOLFS_BACKEND_DIR" && ls *.so | sed 's/\.so$//')
comp volfs create -b ram -o s; want size= store=
comp volfs create -o ''; want path=
comp volfs ls --format ''; want table json
comp volfs ls --filter d; want dangling=true dangling=false
comp volfs mount -o r; want ro rw
comp volfs mount -o ro,al; want ro,allow_other
# '=' breaks words: bash replaces only what follows it.
comp volfs mount -o uid = 1,ro,wr; want 1,ro,writeback_cache
comp volfs mount -o uid = ''; want
comp volfs serve -o max; want max_threads=
comp volfs serve --no; want --no-docker
comp volfs gc -; want --docker-host -h --help
comp volfs mount alpha "$T/"; has "$T/state"
comp volfs umount -; want -l --lazy --timeout -h --help
comp volfs stats --format ''; want table json
comp volfs serve --met; want --metrics
exit 0
