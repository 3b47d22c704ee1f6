#!/usr/bin/env bash
# Builds the kind CLI from the Go module sigs.k8s.io/kind at VERSION into
# $KUBEWASM_CACHE/kind-VERSION/bin (cached: a second run exits at once).
# kind has no replace directives, so `go install pkg@version` builds it as
# released; -trimpath and an empty build id are the release's own flags.
# Usage: scripts/lab/build/kind.sh [v0.33.0]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

version="${1:-v0.33.0}"
[[ "$version" =~ ^v0\.[0-9]+\.[0-9]+$ ]] || { echo "usage: $0 [v0.X.Y] (default v0.33.0)" >&2; exit 2; }
exit_if_cached "$KUBEWASM_CACHE/kind-$version"

build_begin kind "$version"
go_env
GOBIN="$BUILD_TMP/bin" go install -trimpath -ldflags "-buildid= -s -w" "sigs.k8s.io/kind@$version"
grep -qF "kind ${version}" <<<"$("$BUILD_TMP/bin/kind" version)" || die "kind version does not say $version"
build_finish
