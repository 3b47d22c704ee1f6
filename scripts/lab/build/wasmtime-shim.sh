#!/usr/bin/env bash
# Builds the lab's containerd-shim-wasmtime-v1 (scripts/lab/wasmtime-shim: runwasi's
# containerd-shim-wasm library + wasmtime, from crates.io) into
#   $KUBEWASM_CACHE/wasmtime-shim-<crate version>-<hash>/bin/containerd-shim-wasmtime-v1
# <hash> covers Cargo.toml, Cargo.lock, .cargo/config.toml and src/, so editing the crate rebuilds.
# Cargo's target dir lives in the cache too, so a rebuild after an edit is incremental.
# Usage: scripts/lab/build/wasmtime-shim.sh [--print-path]
#   stdout is only the binary's path (also on a cache hit, after "cached: PATH" on stderr),
#   so callers use shim="$(scripts/lab/build/wasmtime-shim.sh)". --print-path: print it, no build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$root/scripts/lib.sh"
crate="$root/scripts/lab/wasmtime-shim"
bin_name=containerd-shim-wasmtime-v1

case "${1:-}" in
  "" | --print-path) ;;
  *) echo "usage: $0 [--print-path]" >&2; exit 2 ;;
esac

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$crate/Cargo.toml" | head -n1)"
[ -n "$version" ] || die "no version in $crate/Cargo.toml"
# Paths are relative to the crate, so every clone of the same sources gets the same key.
hash="$(cd "$crate" && find Cargo.toml Cargo.lock .cargo src -type f -print0 | LC_ALL=C sort -z \
  | xargs -0 sha256sum | sha256sum | cut -c1-12)"
key="$version-$hash"
dir="$KUBEWASM_CACHE/wasmtime-shim-$key"
bin="$dir/bin/$bin_name"

if [ "${1:-}" = --print-path ]; then echo "$bin"; exit 0; fi
if [ -f "$dir/.done" ]; then echo "cached: $bin" >&2; echo "$bin"; exit 0; fi

# Build dependencies: protoc (containerd-client's gRPC code), libdbus and libseccomp
# (youki's libcontainer links them), pkg-config to find them, a C compiler for cc-rs.
apt_install pkg-config libdbus-1-dev libseccomp-dev protobuf-compiler gcc libc6-dev
command -v cargo >/dev/null \
  || die "cargo not found; install Rust >= 1.86 (wasmtime 36 needs it; Debian's rustc is too old)"

target="$KUBEWASM_CACHE/cargo-target/wasmtime-shim"
mkdir -p "$target"
log "building $bin_name $key (cargo, target dir $target; about 10 min cold on 2 cores)"
start=$SECONDS
# Run from the crate: cargo reads its .cargo/config.toml (static libseccomp) only from
# there; rustc finds libseccomp.a only through LIBSECCOMP_LIB_PATH.
seccomp_dir="$(pkg-config --variable=libdir libseccomp)" \
  || die "pkg-config finds no libseccomp; install libseccomp-dev"
(cd "$crate" && KUBEWASM_SHIM_KEY="$key" CARGO_TARGET_DIR="$target" LIBSECCOMP_LIB_PATH="$seccomp_dir" \
  cargo build --release --locked --bin "$bin_name" >&2) \
  || die "cargo build of $crate failed (output above); fix the crate, or rerun if it was interrupted"
log "cargo build took $((SECONDS - start))s"

# Stage beside the final dir and rename, so a killed build never looks finished.
tmp="$dir.tmp.$$"
rm -rf "$tmp" && mkdir -p "$tmp/bin"
cp "$target/release/$bin_name" "$tmp/bin/$bin_name"
"$tmp/bin/$bin_name" -v >/dev/null || die "the built $bin_name does not run ($tmp/bin/$bin_name -v)"
touch "$tmp/.done"
if ! mv -T "$tmp" "$dir" 2>/dev/null; then
  # Another run finished the same key first; its copy is as good as ours.
  rm -rf "$tmp"
  [ -f "$dir/.done" ] || die "$dir exists without .done; remove it and rerun"
fi
echo "$bin"
