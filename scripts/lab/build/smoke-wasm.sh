#!/usr/bin/env bash
# Compiles the lab's smoke module (test/fixtures/wasm/hello.wat) with wat2wasm into
#   $KUBEWASM_CACHE/smoke-wasm-<hash of the .wat>/hello.wasm
# Usage: scripts/lab/build/smoke-wasm.sh [--print-path]
#   stdout is only the .wasm path (also on a cache hit, after "cached: PATH" on stderr),
#   so callers use wasm="$(scripts/lab/build/smoke-wasm.sh)". --print-path: print it, no build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$root/scripts/lib.sh"
wat="$root/test/fixtures/wasm/hello.wat"

case "${1:-}" in
  "" | --print-path) ;;
  *) echo "usage: $0 [--print-path]" >&2; exit 2 ;;
esac

hash="$(sha256sum "$wat" | cut -c1-12)"
dir="$KUBEWASM_CACHE/smoke-wasm-$hash"
out="$dir/hello.wasm"
if [ "${1:-}" = --print-path ]; then echo "$out"; exit 0; fi
if [ -f "$dir/.done" ]; then echo "cached: $out" >&2; echo "$out"; exit 0; fi

apt_install wabt
tmp="$dir.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp"
wat2wasm "$wat" -o "$tmp/hello.wasm" >&2 || die "wat2wasm $wat failed (output above)"
touch "$tmp/.done"
if ! mv -T "$tmp" "$dir" 2>/dev/null; then
  rm -rf "$tmp"   # another run finished first
  [ -f "$dir/.done" ] || die "$dir exists without .done; remove it and rerun"
fi
echo "$out"
