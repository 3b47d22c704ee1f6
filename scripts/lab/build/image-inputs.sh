#!/usr/bin/env bash
# Fetches the installer image's pinned runtime inputs for amd64 and arm64
# (lib/installer-image/inputs.ts: node-linux-{x64,arm64} from the npm registry,
# nsenter and the libraries it and node load from Debian 12's .debs), each
# checked against its pinned digest, into
#   $KUBEWASM_CACHE/image-inputs/          (content-addressed: <algo>-<digest>-<file>)
# The tests and the lab read them there (KUBEWASM_IMAGE_INPUTS), never the network.
# Uses the compiled kubewasm (npm run build) so the pins are read from one place.
# Usage: scripts/lab/build/image-inputs.sh [--print-path]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
source "$root/scripts/lib.sh"
dir="$KUBEWASM_CACHE/image-inputs"
case "${1:-}" in
  "") ;;
  --print-path) echo "$dir"; exit 0 ;;
  *) echo "usage: $0 [--print-path]" >&2; exit 2 ;;
esac
[ -f "$root/dist/lib/installer-image/inputs.js" ] || die "kubewasm is not built ($root/dist); run npm run build"
command -v xz >/dev/null || apt_install xz-utils
mkdir -p "$dir"
# Downloads only what is missing; checks every file (present or fetched) against its pin.
node --input-type=module -e '
  const { pinnedInputs, fetchPinned, runtimeFiles } = await import(process.argv[1]);
  const source = { dir: process.argv[2], offline: false };
  for (const arch of ["amd64", "arm64"]) {
    for (const input of pinnedInputs(arch)) await fetchPinned(input, source, (url, n) => console.log(`fetched ${url} (${n} bytes)`));
    const files = await runtimeFiles(arch, { ...source, offline: true });
    console.log(`${arch}: ${files.length} runtime files, ${(files.reduce((n, f) => n + (f.data?.length ?? 0), 0) / 1e6).toFixed(1)} MB`);
  }
' "$root/dist/lib/installer-image/inputs.js" "$dir" || die "fetching the installer image inputs failed (output above)"
echo "$dir"
