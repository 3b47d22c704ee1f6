#!/usr/bin/env bash
# Builds kubeadm and kube-proxy from the Go module k8s.io/kubernetes at VERSION
# into $KUBEWASM_CACHE/kind-kube-VERSION/bin (cached): the two Kubernetes
# programs a kind node needs beyond what ./kubernetes.sh builds for the lab.
# Same module setup and release ldflags as ./kubernetes.sh; run after it, the
# packages they share come from Go's build cache.
# Usage: scripts/lab/build/kind-kube.sh [v1.34.4]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

version="${1:-v1.34.4}"
[[ "$version" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || { echo "usage: $0 [v1.X.Y] (default v1.34.4)" >&2; exit 2; }
minor="${BASH_REMATCH[1]}"
staging_version="v0.$minor.${BASH_REMATCH[2]}"
exit_if_cached "$KUBEWASM_CACHE/kind-kube-$version"

build_begin kind-kube "$version"
go_env
pkgs=(k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kube-proxy)
src="$BUILD_TMP/src"
mkdir -p "$src" && cd "$src"
go mod init kubewasm.lab/kind-kube-build
kube_mod="$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
[ -f "$kube_mod" ] || die "could not download k8s.io/kubernetes@$version from the Go module proxy"
staging=$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/.*#\1#p' "$kube_mod")
[ -n "$staging" ] || die "no staging replace lines found in $kube_mod"
for m in $staging; do go mod edit -replace "$m=$m@$staging_version"; done
go mod edit -go="$(sed -n 's/^go \(.*\)/\1/p' "$kube_mod")"
sed -n 's/^godebug \(.*\)/\1/p' "$kube_mod" | while read -r d; do go mod edit -godebug="$d"; done
go get "${pkgs[@]/%/@$version}"

build_date="$(go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "k8s.io/kubernetes@$version" || true)"
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $p.gitVersion=$version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=${build_date:-1970-01-01T00:00:00Z}"
done
go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldflags" -o "$BUILD_TMP/bin/" "${pkgs[@]}"
cd / && rm -rf "$src"

grep -qx "$version" <<<"$("$BUILD_TMP/bin/kubeadm" version -o short)" || die "kubeadm version does not say $version"
build_finish
