#!/usr/bin/env bash
# Builds etcd from the Go module go.etcd.io/etcd/server/v3 at VERSION into
# $KUBEWASM_CACHE/kind-etcd-VERSION/bin (cached), for the kind node image's
# etcd image. kubeadm v1.34 needs etcd 3.6: its static pod probes /livez and
# /readyz and passes --feature-gates, which Debian's etcd 3.4 does not know.
# The server module replaces its sibling modules with ../ paths, which Go
# ignores in a dependency, so a small main module requires their published
# versions (same trick as ./kubernetes.sh).
# Usage: scripts/lab/build/kind-etcd.sh [v3.6.5]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

version="${1:-v3.6.5}"
[[ "$version" =~ ^v3\.[0-9]+\.[0-9]+$ ]] || { echo "usage: $0 [v3.X.Y] (default v3.6.5)" >&2; exit 2; }
exit_if_cached "$KUBEWASM_CACHE/kind-etcd-$version"

build_begin kind-etcd "$version"
go_env
src="$BUILD_TMP/src"
mkdir -p "$src" && cd "$src"
go mod init kubewasm.lab/etcd-build
for m in go.etcd.io/etcd/api/v3 go.etcd.io/etcd/client/pkg/v3 go.etcd.io/etcd/client/v3 go.etcd.io/etcd/pkg/v3; do
  go mod edit -require "$m@$version"
done
go get "go.etcd.io/etcd/server/v3@$version"
go build -trimpath -ldflags "-s -w" -o "$BUILD_TMP/bin/etcd" go.etcd.io/etcd/server/v3
cd / && rm -rf "$src"
grep -qF "etcd Version: ${version#v}" <<<"$("$BUILD_TMP/bin/etcd" --version)" || die "etcd --version does not say ${version#v}"
build_finish
