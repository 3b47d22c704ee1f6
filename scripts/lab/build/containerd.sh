#!/usr/bin/env bash
# Builds containerd, containerd-shim-runc-v2 and ctr from the Go module
# github.com/containerd/containerd/v2 at VERSION into
# $KUBEWASM_CACHE/containerd-VERSION/bin (cached: a second run exits at once).
# Usage: scripts/lab/build/containerd.sh v2.2.9|v2.4.2
set -euo pipefail
source "$(dirname "$0")/lib.sh"

version="${1:-}"
[[ "$version" =~ ^v2\.[0-9]+\.[0-9]+$ ]] || { echo "usage: $0 v2.X.Y (e.g. v2.2.9)" >&2; exit 2; }
exit_if_cached "$KUBEWASM_CACHE/containerd-$version"

build_begin containerd "$version"
go_env
mod=github.com/containerd/containerd/v2
# The module has no replace directives, so `go install pkg@version` builds it
# as released. CGO_ENABLED=0 drops btrfs by itself (it needs cgo); devmapper
# is dropped too (the lab uses overlayfs and native). The runc shim is static
# upstream as well (SHIM_CGO_ENABLED=0).
ldflags="-s -w -X $mod/version.Version=$version -X $mod/version.Package=$mod"
GOBIN="$BUILD_TMP/bin" go install -trimpath -tags no_btrfs,no_devmapper -ldflags "$ldflags" \
  "$mod/cmd/containerd@$version" "$mod/cmd/containerd-shim-runc-v2@$version" "$mod/cmd/ctr@$version"

# Prove the binaries are what we asked for before declaring them done.
"$BUILD_TMP/bin/containerd" --version | grep -qF " $version" || die "containerd --version does not say $version"
"$BUILD_TMP/bin/containerd" config default | grep -qF 'io.containerd.cri.v1.runtime' \
  || die "the CRI plugin is missing from containerd config default"
build_finish
