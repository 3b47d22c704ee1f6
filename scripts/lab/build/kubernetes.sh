#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
# kubectl from the Go module k8s.io/kubernetes at VERSION into
# $KUBEWASM_CACHE/kubernetes-VERSION/bin (cached: a second run exits at once).
# Usage: scripts/lab/build/kubernetes.sh [v1.34.4]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

version="${1:-v1.34.4}"
[[ "$version" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || { echo "usage: $0 [v1.X.Y] (default v1.34.4)" >&2; exit 2; }
minor="${BASH_REMATCH[1]}"
staging_version="v0.$minor.${BASH_REMATCH[2]}" # staging modules are published as v0.<minor>.<patch>
exit_if_cached "$KUBEWASM_CACHE/kubernetes-$version"

build_begin kubernetes "$version"
go_env
cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)
pkgs=("${cmds[@]/#/k8s.io/kubernetes/cmd/}")

# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them
# with ./staging/... paths, which Go ignores in a dependency; so a small main
# module replaces each one with its published version. The list comes from
# the kubernetes go.mod itself, so a new staging module cannot be missed.
src="$BUILD_TMP/src"
mkdir -p "$src" && cd "$src"
go mod init kubewasm.lab/kubernetes-build
kube_mod="$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
[ -f "$kube_mod" ] || die "could not download k8s.io/kubernetes@$version from the Go module proxy"
staging=$(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/.*#\1#p' "$kube_mod")
[ -n "$staging" ] || die "no staging replace lines found in $kube_mod"
log "staging modules ($(wc -w <<<"$staging")) -> $staging_version: $(tr '\n' ' ' <<<"$staging")"
for m in $staging; do go mod edit -replace "$m=$m@$staging_version"; done
# Same language version and GODEBUG defaults as upstream's own build.
go mod edit -go="$(sed -n 's/^go \(.*\)/\1/p' "$kube_mod")"
sed -n 's/^godebug \(.*\)/\1/p' "$kube_mod" | while read -r d; do go mod edit -godebug="$d"; done
go get "${pkgs[@]/%/@$version}"

# The ldflags and tags hack/lib/{version,golang}.sh use for a release build;
# buildDate is the release's date on the module proxy, so rebuilds are identical.
build_date="$(go list -m -f '{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}' "k8s.io/kubernetes@$version" || true)"
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $p.gitVersion=$version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=${build_date:-1970-01-01T00:00:00Z}"
done
# One invocation, so the packages the five share compile once.
go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$ldflags" -o "$BUILD_TMP/bin/" "${pkgs[@]}"

"$BUILD_TMP/bin/kubelet" --version | grep -qx "Kubernetes $version" || die "kubelet --version does not say Kubernetes $version"
build_finish
