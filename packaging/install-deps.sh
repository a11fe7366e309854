#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Installs every Debian 12 package that building volfs, running its tests
# and running its benchmarks needs, and makes sure /dev/fuse exists.
# Safe to run again: it installs only what is missing.
#
#   packaging/install-deps.sh            # as root, or through sudo
#
set -euo pipefail

# Building: the autotools, a compiler and the libraries configure.ac asks
# pkg-config for.
BUILD_PKGS=(
	build-essential autoconf automake libtool pkg-config
	libfuse3-dev libsqlite3-dev libssl-dev libjansson-dev
	libmicrohttpd-dev libcurl4-openssl-dev liburing-dev
)
# Testing: cmocka for the unit tests; fuse3 (fusermount3), sqlite3, jq,
# attr, util-linux (setpriv, mountpoint), procps, psmisc for the
# integration tests; valgrind for leak hunting; groff-base and man-db
# check the man pages, bash-completion the completion (and says where it
# is installed); python3 drives plugin clients and scans memory, strace
# counts what a command opens.
TEST_PKGS=(
	libcmocka-dev fuse3 sqlite3 jq attr util-linux procps psmisc
	valgrind groff-base man-db bash-completion
	curl iproute2 docker.io busybox-static python3 strace
)
# Benchmarks: fio and hyperfine drive them, bindfs is the FUSE peer.
BENCH_PKGS=(fio bindfs hyperfine)
# Packaging (packaging/debian, its test): debhelper and dpkg-dev build the
# .debs, whose Build-Depends also name the remote backends' libraries;
# lintian checks them; systemd brings systemd-analyze for the unit's test.
PACKAGING_PKGS=(
	debhelper dpkg-dev lintian systemd
	libsmbclient-dev libcurl4-openssl-dev
)
# The smb backend: libsmbclient to build it; Samba's smbd to test it;
# smbclient and rclone as the peers of its benchmark.
SMB_PKGS=(libsmbclient-dev samba smbclient rclone)

say() { printf 'install-deps: %s\n' "$*"; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
		say "not root: using sudo"
	else
		say "not root and no sudo: run this script as root" >&2
		exit 1
	fi
fi

if ! command -v apt-get >/dev/null 2>&1; then
	say "apt-get not found: this script is for Debian 12 (bookworm)" >&2
	exit 1
fi

missing=()
for pkg in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${BENCH_PKGS[@]}" \
	"${PACKAGING_PKGS[@]}" "${SMB_PKGS[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	if [ "$status" != "install ok installed" ]; then
		missing+=("$pkg")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	say "all packages already installed"
else
	say "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# The package lists may be empty (a fresh image) or stale: refresh
	# them before installing anything.
	say "apt-get update"
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}"
	say "packages installed"
fi

# FUSE needs the kernel module and its device node.
if [ -c /dev/fuse ]; then
	say "/dev/fuse present"
else
	if ! grep -qw fuse /proc/filesystems 2>/dev/null; then
		if command -v modprobe >/dev/null 2>&1; then
			say "loading the fuse kernel module"
			"${SUDO[@]}" modprobe fuse ||
				say "modprobe fuse failed" >&2
		else
			say "modprobe not found: cannot load the fuse module" >&2
		fi
	fi
	if [ ! -c /dev/fuse ] && grep -qw fuse /proc/filesystems 2>/dev/null
	then
		# The module is there but no device node (a container's
		# /dev): make it, with the kernel's fixed numbers.
		say "creating /dev/fuse"
		"${SUDO[@]}" mknod -m 0666 /dev/fuse c 10 229 ||
			say "mknod /dev/fuse failed" >&2
	fi
	if [ -c /dev/fuse ]; then
		say "/dev/fuse present"
	else
		say "WARNING: no /dev/fuse: the mount tests will be skipped" \
		    "(in a container, pass --device /dev/fuse" \
		    "--cap-add SYS_ADMIN)" >&2
	fi
fi
