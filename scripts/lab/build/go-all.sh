#!/usr/bin/env bash
# Builds (or finds cached) every Go program the lab needs, in the order the
# tests need them, and prints how long each took. Long on a cold machine
# (kubernetes: tens of minutes on 2 cores); seconds when all are cached.
# Usage: scripts/lab/build/go-all.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

steps=("containerd.sh v2.2.9" "containerd.sh v2.4.2" "crictl.sh v1.34.0" "kubernetes.sh v1.34.4")
summary=()
for step in "${steps[@]}"; do
  start=$SECONDS
  # shellcheck disable=SC2086 # step is "script arg"
  "$here"/$step
  summary+=("$(printf '%-24s %5ss' "$step" "$((SECONDS - start))")")
done
printf '%s\n' "--- go builds (wall clock)" "${summary[@]}"
