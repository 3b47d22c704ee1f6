#!/usr/bin/env bash
# Builds crictl from the Go module sigs.k8s.io/cri-tools at VERSION into
# $KUBEWASM_CACHE/crictl-VERSION/bin (cached: a second run exits at once).
# Usage: scripts/lab/build/crictl.sh [v1.34.0]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

version="${1:-v1.34.0}"
[[ "$version" =~ ^v1\.[0-9]+\.[0-9]+$ ]] || { echo "usage: $0 [v1.X.Y] (default v1.34.0)" >&2; exit 2; }
exit_if_cached "$KUBEWASM_CACHE/crictl-$version"

build_begin crictl "$version"
go_env
# No replace directives in cri-tools' go.mod, so `go install pkg@version` works;
# the version variable is the one cri-tools' Makefile sets.
GOBIN="$BUILD_TMP/bin" go install -trimpath \
  -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$version" \
  "sigs.k8s.io/cri-tools/cmd/crictl@$version"
"$BUILD_TMP/bin/crictl" --version | grep -qF "$version" || die "crictl --version does not say $version"
build_finish
