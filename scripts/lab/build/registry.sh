#!/usr/bin/env bash
# Builds the OCI distribution registry (`registry`) from the Go module
# github.com/distribution/distribution/v3 at VERSION into
# $KUBEWASM_CACHE/registry-VERSION/bin (cached: a second run exits at once).
# The lab and the integration tests run it with TLS and htpasswd auth
# (scripts/lab/support/registry.ts) so that `kubewasm image push` and
# `install --registry` meet a registry as users have one.
# Usage: scripts/lab/build/registry.sh [v3.1.2]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

version="${1:-v3.1.2}"
[[ "$version" =~ ^v3\.[0-9]+\.[0-9]+$ ]] || { echo "usage: $0 [v3.X.Y] (default v3.1.2)" >&2; exit 2; }
exit_if_cached "$KUBEWASM_CACHE/registry-$version"

build_begin registry "$version"
go_env
mod=github.com/distribution/distribution/v3
# No replace directives in its go.mod, so `go install pkg@version` builds it as
# released; the version variables are the ones its Makefile sets.
GOBIN="$BUILD_TMP/bin" go install -trimpath \
  -ldflags "-s -w -X $mod/version.version=$version -X $mod/version.mainpkg=$mod" \
  "$mod/cmd/registry@$version"
"$BUILD_TMP/bin/registry" --version | grep -qF "$version" || die "registry --version does not say $version"
build_finish
