# Shared by scripts/lab/build/*.sh: cache dirs, locking, logging, Go setup.
# Sourced, not run. A build lives in $KUBEWASM_CACHE/<name>-<version>/ and is
# present iff its .done exists; it is assembled in a temp dir beside it and
# renamed into place, so a killed build never looks finished.
_build_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$_build_here/../../lib.sh" # KUBEWASM_CACHE, log, die, apt_install

GO_MIN_MINOR=26               # containerd v2.4.x needs go >= 1.26.6
GO_TOOLCHAIN_VERSION=1.26.8   # fetched from the Go module proxy when no go is found

# exit_if_cached DIR: the fast path (no go, no network) of every build script.
exit_if_cached() {
  if [ -f "$1/.done" ]; then echo "cached: $1"; exit 0; fi
}

# build_begin NAME VERSION: takes the lock for this build (so two runs never
# build the same thing at once), re-checks the cache, prepares BUILD_TMP
# (with BUILD_TMP/bin) and BUILD_LOG, and sends stdout/stderr to the log.
# Sets BUILD_DIR, BUILD_TMP, BUILD_LOG, BUILD_START.
build_begin() {
  local name="$1" version="$2"
  BUILD_DIR="$KUBEWASM_CACHE/$name-$version"
  BUILD_TMP="$BUILD_DIR.tmp"
  BUILD_LOG="$KUBEWASM_CACHE/logs/$name-$version.log"
  mkdir -p "$KUBEWASM_CACHE/logs"
  exec {_build_lock_fd}>"$BUILD_DIR.lock"
  if ! flock -n "$_build_lock_fd"; then
    log "another build of $name $version is running; waiting for it (lock $BUILD_DIR.lock)"
    flock "$_build_lock_fd"
  fi
  exit_if_cached "$BUILD_DIR"
  rm -rf "$BUILD_TMP" && mkdir -p "$BUILD_TMP/bin"
  BUILD_START=$SECONDS
  echo "building $name $version; log: $BUILD_LOG"
  exec 3>&1 4>&2 >"$BUILD_LOG" 2>&1
  trap '_build_failed "$?"' EXIT
  log "build $name $version into $BUILD_TMP"
}

_build_failed() {
  local rc="$1"
  [ "$rc" -eq 0 ] && return 0
  exec 1>&3 2>&4
  printf 'error: building %s failed (exit %s); last lines of %s:\n' "$(basename "$BUILD_DIR")" "$rc" "$BUILD_LOG" >&2
  tail -n 25 "$BUILD_LOG" >&2
  printf 'fix the cause and re-run; the partial build in %s is discarded on the next run\n' "$BUILD_TMP" >&2
}

# build_finish: writes .done (what was built, with which go) and renames the
# temp dir into place; prints the result on the caller's stdout.
build_finish() {
  local secs=$((SECONDS - BUILD_START))
  { echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "seconds=$secs"; echo "go=$(go env GOVERSION)"
    (cd "$BUILD_TMP/bin" && sha256sum -- *); } >"$BUILD_TMP/.done.tmp"
  mv "$BUILD_TMP/.done.tmp" "$BUILD_TMP/.done"
  rm -rf "$BUILD_DIR" && mv "$BUILD_TMP" "$BUILD_DIR"
  log "done in ${secs}s: $BUILD_DIR"
  trap - EXIT
  exec 1>&3 2>&4
  echo "built: $BUILD_DIR in ${secs}s ($(du -sh "$BUILD_DIR/bin" | cut -f1))"
}

# ensure_go: a go new enough for every module built here. Debian's golang is
# too old, so when none is found, take the official toolchain from the Go
# module proxy (it is published there as module golang.org/toolchain).
ensure_go() {
  local minor
  minor="$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')" || minor=""
  if [ -n "$minor" ] && [ "$minor" -ge "$GO_MIN_MINOR" ]; then return 0; fi
  local dir="$KUBEWASM_CACHE/go-$GO_TOOLCHAIN_VERSION" lock
  # Builds run side by side (scripts/lab/prepare): the first fetches, the others wait for it.
  [ -f "$dir/.done" ] || { mkdir -p "$KUBEWASM_CACHE" && exec {lock}>"$dir.lock" && flock "$lock"; }
  if [ ! -f "$dir/.done" ]; then
    apt_install curl unzip ca-certificates
    local proxy="${GOPROXY:-https://proxy.golang.org}"; proxy="${proxy%%,*}"
    [ "$proxy" = direct ] || [ "$proxy" = off ] && proxy=https://proxy.golang.org
    local url="$proxy/golang.org/toolchain/@v/v0.0.1-go$GO_TOOLCHAIN_VERSION.linux-amd64.zip"
    log "no go >= 1.$GO_MIN_MINOR found: fetching $url"
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    curl -fsSL -o "$dir.tmp/go.zip" "$url" || die "download of the Go toolchain failed: $url; check that the Go module proxy is reachable"
    (cd "$dir.tmp" && unzip -q go.zip && rm go.zip) || die "unzip of $url failed"
    # The zip holds golang.org/toolchain@.../{bin,pkg,src}; unzip drops file modes.
    mv "$dir.tmp"/golang.org/toolchain@*/ "$dir.tmp/go" && rm -r "$dir.tmp/golang.org" && chmod +x "$dir.tmp"/go/bin/* "$dir.tmp"/go/pkg/tool/*/*
    touch "$dir.tmp/.done" && rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  [ -z "${lock:-}" ] || exec {lock}>&-
  export PATH="$dir/go/bin:$PATH"
  go version >/dev/null || die "go from $dir does not run"
}

# Settings every Go build here shares: static binaries, no VCS stamping, a
# persistent build cache (GOCACHE default: ~/.cache/go-build).
go_env() {
  ensure_go
  export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false}"
  case " $GOFLAGS " in *" -buildvcs=false "*) ;; *) export GOFLAGS="$GOFLAGS -buildvcs=false" ;; esac
}
