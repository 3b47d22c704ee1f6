#!/usr/bin/env bash
# Builds (or finds cached) every Go program the lab and the kind node image need,
# one after another, and prints how long each took. Long on a cold machine
# (kubernetes alone: tens of minutes on 2 cores); seconds when all are cached.
# One Go build already keeps two cores busy most of the time, so these run in
# sequence; scripts/lab/prepare runs this beside the cargo build and the downloads.
# Order: the smaller builds first, where waiting on the module proxy (module graph,
# downloads) is a larger share, while the cargo build can use the idle cores;
# kubernetes, mostly compiling, last.
# kind-kube follows kubernetes: the packages they share come from Go's build cache.
# Usage: scripts/lab/build/go-all.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../kind/lib.sh" # KIND_VERSION, KIND_ETCD_VERSION, KIND_COREDNS_VERSION (the node image's)

steps=("kind-coredns.sh $KIND_COREDNS_VERSION" "kind-etcd.sh $KIND_ETCD_VERSION" "registry.sh v3.1.2"
  "kind.sh $KIND_VERSION" "crictl.sh v1.34.0" "containerd.sh v2.2.9" "containerd.sh v2.4.2"
  "kubernetes.sh v1.34.4" "kind-kube.sh v1.34.4")
summary=()
for step in "${steps[@]}"; do
  start=$SECONDS
  # shellcheck disable=SC2086 # step is "script arg"
  "$here"/$step
  summary+=("$(printf '%-24s %5ss' "$step" "$((SECONDS - start))")")
done
printf '%s\n' "--- go builds (wall clock)" "${summary[@]}"
