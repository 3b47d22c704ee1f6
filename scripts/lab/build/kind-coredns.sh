#!/usr/bin/env bash
# Builds CoreDNS from the Go module github.com/coredns/coredns at VERSION into
# $KUBEWASM_CACHE/kind-coredns-VERSION/bin (cached), for the kind node image's
# coredns image. Only the plugins kubeadm's Corefile names are compiled in
# (CoreDNS's documented way to choose plugins: a main package that imports
# them), which skips the cloud SDKs the full build pulls in.
# Usage: scripts/lab/build/kind-coredns.sh [v1.12.1]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

version="${1:-v1.12.1}"
[[ "$version" =~ ^v1\.[0-9]+\.[0-9]+$ ]] || { echo "usage: $0 [v1.X.Y] (default v1.12.1)" >&2; exit 2; }
exit_if_cached "$KUBEWASM_CACHE/kind-coredns-$version"

build_begin kind-coredns "$version"
go_env
src="$BUILD_TMP/src"
mkdir -p "$src" && cd "$src"
go mod init kubewasm.lab/coredns-build
# kubeadm's Corefile: errors health ready kubernetes prometheus(metrics) forward cache loop reload loadbalance; and log.
plugins=(errors health ready kubernetes metrics forward cache loop reload loadbalance log)
{
  echo 'package main'
  echo 'import ('
  for p in "${plugins[@]}"; do echo "	_ \"github.com/coredns/coredns/plugin/$p\""; done
  echo '	"github.com/coredns/coredns/coremain"'
  echo ')'
  echo 'func main() { coremain.Run() }'
} >main.go
go get "github.com/coredns/coredns@$version"
go mod tidy
go build -trimpath -ldflags "-s -w" -o "$BUILD_TMP/bin/coredns" .
cd / && rm -rf "$src"
grep -qF "CoreDNS-${version#v}" <<<"$("$BUILD_TMP/bin/coredns" -version)" || die "coredns -version does not say ${version#v}"
grep -qx 'kubernetes' <<<"$("$BUILD_TMP/bin/coredns" -plugins)" || die "the kubernetes plugin is missing from the build"
build_finish
