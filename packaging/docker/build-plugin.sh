#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Builds volfs's managed Docker plugin from the source tree and creates it
# in the local dockerd as NAME (default volfs/volfs:latest):
#
#   packaging/docker/build-plugin.sh [NAME]
#   docker plugin enable volfs/volfs:latest
#
# It needs a dockerd that can pull debian:bookworm-slim.
set -eu
name=${1:-volfs/volfs:latest}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"; docker rm -f volfs-plugin-rootfs-$$ >/dev/null 2>&1 || true' EXIT

docker build -f "$here/Dockerfile" -t volfs-plugin-rootfs "$top"
mkdir -p "$work/rootfs"
docker create --name "volfs-plugin-rootfs-$$" volfs-plugin-rootfs /bin/true >/dev/null
docker export "volfs-plugin-rootfs-$$" | tar -x -C "$work/rootfs"
cp "$here/config.json" "$work/config.json"
docker plugin create "$name" "$work"
echo "created plugin $name: docker plugin enable $name"
