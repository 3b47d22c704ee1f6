# shellcheck shell=bash disable=SC2034 # sourced: the variables are used by the scripts
# Shared by scripts/lab/kind/*: the versions the kind node image is built from
# and where its inputs come from. Sourced after ../lib.sh, not run.
_kind_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$_kind_here/../build/lib.sh" # ensure_go, build helpers

KIND_VERSION=v0.33.0            # the kind CLI (scripts/lab/build/kind.sh) and its base image recipe
KIND_CONTAINERD_VERSION=v2.2.9  # kind v0.33's base image builds v2.3.x; the lab has 2.2 and 2.4
KIND_ETCD_VERSION=v3.6.5        # kubeadm v1.34's etcd (3.6.5-0)
KIND_COREDNS_VERSION=v1.12.1    # kubeadm v1.34's CoreDNS
KIND_BIN="$KUBEWASM_CACHE/kind-$KIND_VERSION/bin/kind"

# kind_module_dir: the sigs.k8s.io/kind module source from the Go module proxy
# (cached in Go's module cache): its images/base holds kind's node recipe.
kind_module_dir() {
  ensure_go
  local d
  d="$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  [ -d "$d" ] || die "could not download sigs.k8s.io/kind@$KIND_VERSION from the Go module proxy"
  echo "$d"
}

# lab_pause_binary: the lab's static pause (scripts/lab/images/pause.c), built once.
lab_pause_binary() {
  local src="$_kind_here/../images/pause.c" out
  out="$KUBEWASM_CACHE/kind-pause-$(sha256sum <"$src" | cut -c1-12)/pause"
  if [ ! -x "$out" ]; then
    apt_install gcc libc6-dev
    mkdir -p "$(dirname "$out")"
    gcc -static -Os -o "$out.tmp" "$src" && strip "$out.tmp" && mv "$out.tmp" "$out" || die "gcc -static of $src failed"
  fi
  echo "$out"
}
