#!/usr/bin/env bash
# Builds (or finds cached) the kind node image's base root file system: debootstrap of
# Debian bookworm with ../kind/node/packages (../node-image/rootfs.sh's recipe), into
#   $KUBEWASM_CACHE/kind-rootfs-<sha256 of ../kind/node/packages>/rootfs.tar
# the directory ../kind/node-image names "base" and builds itself when it is missing.
# This is its slow part that waits on the network and the disk, so scripts/lab/prepare
# runs it beside the CPU-bound Go and cargo builds. Keep the key the same as there.
# Usage: scripts/lab/build/kind-rootfs.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lib.sh"               # KUBEWASM_CACHE, log, die
source "$here/../node-image/rootfs.sh" # build_rootfs
[ $# -eq 0 ] || { echo "usage: $0" >&2; exit 2; }

packages="$here/../kind/node/packages"
base="$KUBEWASM_CACHE/kind-rootfs-$(sha256sum <"$packages" | cut -c1-12)"
if [ -f "$base/.done" ]; then echo "cached: $base"; exit 0; fi
[ "$(id -u)" -eq 0 ] || die "debootstrap needs root; run as root"
mkdir -p "$KUBEWASM_CACHE"
exec {lock}>"$base.lock"
flock "$lock"
[ -f "$base/.done" ] || build_rootfs "$base" "${KUBEWASM_DEBIAN_MIRROR:-http://deb.debian.org/debian}" "$packages"
echo "built: $base"
