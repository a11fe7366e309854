#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Builds volfs's managed Docker plugin (config.json + rootfs/, see
# doc/docker.md) and creates it in the local dockerd as NAME (default
# volfs/volfs:latest), or only writes the plugin directory (--output):
#
#   packaging/docker/build-plugin.sh [NAME]
#       the root file system from packaging/docker/Dockerfile: needs a
#       dockerd that can pull debian:bookworm-slim
#   packaging/docker/build-plugin.sh --build-dir BUILD [NAME]
#       from a configured and built volfs tree: 'make install' into the
#       root file system, plus the shared libraries its programs and
#       modules need, taken from this machine; no image is pulled
#   packaging/docker/build-plugin.sh --staged DIR [NAME]
#       the same from a tree volfs is already installed in ('make install
#       DESTDIR=DIR', or 'dpkg-deb -x volfs_*.deb DIR')
#
#   --output DIR   write the plugin directory DIR (config.json, rootfs/)
#                  and stop: 'docker plugin create NAME DIR' makes the
#                  plugin from it
#
#   docker plugin enable volfs/volfs:latest
set -euo pipefail

usage() {
	sed -n '4,23s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

die() {
	echo "build-plugin: $*" >&2
	exit 1
}

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build='' staged='' output='' name=''
while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) [ $# -ge 2 ] || usage; build=$2; shift 2 ;;
	--staged) [ $# -ge 2 ] || usage; staged=$2; shift 2 ;;
	--output) [ $# -ge 2 ] || usage; output=$2; shift 2 ;;
	-h | --help) usage ;;
	-*) echo "build-plugin: unknown option '$1'" >&2; usage ;;
	*) [ -z "$name" ] || usage; name=$1; shift ;;
	esac
done
name=${name:-volfs/volfs:latest}
[ -z "$build" ] || [ -z "$staged" ] || die "give --build-dir or --staged, not both"

work=$(mktemp -d)
cid=
cleanup() {
	rm -rf "$work"
	[ -z "$cid" ] || docker rm -f "$cid" >/dev/null 2>&1 || true
}
trap cleanup EXIT

if [ -n "$output" ]; then
	mkdir -p "$output"
	[ -z "$(ls -A "$output")" ] || die "'$output' is not empty"
	plugin=$(cd "$output" && pwd)
else
	plugin=$work/plugin
	mkdir -p "$plugin"
fi
rootfs=$plugin/rootfs

# copy_file SRC: SRC (a library, a program) into the root file system at
# the same path, as a regular file.
copy_file() {
	mkdir -p "$rootfs$(dirname "$1")"
	[ -e "$rootfs$1" ] || cp -L "$1" "$rootfs$1"
}

# copy_libs FILE: every shared library FILE loads, and the loader, as ldd
# finds them on this machine.
copy_libs() {
	local out lib
	out=$(ldd "$1" 2>&1) || {
		# A static program has nothing to copy.
		case $out in *"not a dynamic executable"*) return 0 ;; esac
		die "ldd $1 failed: $out"
	}
	if grep -q 'not found' <<<"$out"; then
		die "$1 needs libraries this machine lacks: $(grep 'not found' <<<"$out" | tr -s ' \t\n' ' ')"
	fi
	while IFS= read -r lib; do
		copy_file "$lib"
	done < <(sed -n -e 's/^.*=> \(\/[^ ]*\) (0x.*$/\1/p' \
		-e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*$/\1/p' <<<"$out")
}

is_elf() {
	[ "$(head -c 4 "$1" 2>/dev/null)" = $'\x7fELF' ]
}

# A root file system from this machine's volfs and libraries.
host_rootfs() {
	local d f fusermount files
	mkdir -p "$rootfs"
	# The same top-level layout as this machine (a merged /usr or not),
	# so that every library lands where the loader looks.
	for d in bin sbin lib lib32 lib64 libx32; do
		if [ -L "/$d" ]; then
			ln -s "$(readlink "/$d")" "$rootfs/$d"
			mkdir -p "$rootfs/$(readlink -f "/$d")"
		fi
	done
	if [ -n "$build" ]; then
		[ -f "$build/Makefile" ] || die "'$build' is not a configured volfs build tree"
		make -C "$build" -s install DESTDIR="$rootfs" >"$work/install.log" 2>&1 ||
			{ cat "$work/install.log" >&2; die "make install in '$build' failed"; }
	else
		[ -d "$staged" ] || die "'$staged' is not a directory"
		tar -C "$staged" -cf - . | tar -C "$rootfs" -xf - --keep-directory-symlink
	fi
	# Documentation is of no use in the plugin.
	rm -rf "${rootfs:?}/usr/local/share" "${rootfs:?}/usr/share"
	f=$(cd "$rootfs" && find . -path '*/bin/volfs' \( -type f -o -type l \) | head -1)
	[ -n "$f" ] || die "no bin/volfs in the installed tree"
	# The entrypoint of config.json is /usr/bin/volfs; volfs finds its
	# modules at the paths it was configured with, kept as they are.
	if [ ! -e "$rootfs/usr/bin/volfs" ]; then
		mkdir -p "$rootfs/usr/bin"
		ln -s "$(realpath -m --relative-to=/usr/bin "/${f#./}")" \
			"$rootfs/usr/bin/volfs"
	fi
	# fusermount3 unmounts when a mount(2) is refused; not needed as
	# root with CAP_SYS_ADMIN, but the fallback should not be missing.
	if fusermount=$(command -v fusermount3); then
		copy_file "$fusermount"
	fi
	# volfs's programs and modules, and fusermount3: ldd lists all that
	# each loads, directly or not.
	mapfile -d '' files < <(find "$rootfs" -type f -print0)
	for f in "${files[@]}"; do
		! is_elf "$f" || copy_libs "$f"
	done
	# glibc loads libgcc_s when a thread is cancelled (libfuse cancels
	# its workers when the mount ends); ldd does not list it.
	for f in /lib/*/libgcc_s.so.1 /usr/lib/*/libgcc_s.so.1; do
		[ ! -e "$f" ] || copy_file "$f"
	done
	mkdir -p "$rootfs/etc" "$rootfs/tmp" "$rootfs/mnt/volumes" \
		"$rootfs/var/lib/volfs" "$rootfs/run/docker/plugins" \
		"$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
	chmod 1777 "$rootfs/tmp"
	cat >"$rootfs/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/usr/sbin/nologin
		nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
	EOF
	cat >"$rootfs/etc/group" <<-'EOF'
		root:x:0:
		nogroup:x:65534:
	EOF
	echo 'passwd: files' >"$rootfs/etc/nsswitch.conf"
	echo 'group: files' >>"$rootfs/etc/nsswitch.conf"
	# Libraries found through /etc/ld.so.conf here are found through the
	# cache there too.
	(cd "$rootfs" && find . -name 'lib*.so*' \( -type f -o -type l \) -printf '%h\n') |
		sed 's/^\.//' | sort -u >"$rootfs/etc/ld.so.conf"
	if [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null 2>&1; then
		ldconfig -r "$rootfs"
	fi
}

# A root file system from packaging/docker/Dockerfile.
docker_rootfs() {
	docker build -f "$here/Dockerfile" -t volfs-plugin-rootfs "$top"
	mkdir -p "$rootfs"
	cid=$(docker create volfs-plugin-rootfs /bin/true)
	docker export "$cid" | tar -x -C "$rootfs"
}

if [ -n "$build" ] || [ -n "$staged" ]; then
	host_rootfs
else
	docker_rootfs
fi
cp "$here/config.json" "$plugin/config.json"
if [ -n "$output" ]; then
	echo "wrote plugin $plugin: docker plugin create $name $plugin"
	exit 0
fi
docker plugin create "$name" "$plugin"
echo "created plugin $name: docker plugin enable $name"
