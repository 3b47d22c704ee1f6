# shellcheck shell=bash disable=SC2034 # sourced: the variables are used by the scripts
# Shared by scripts/lab/*: where the lab keeps its state, its names and
# addresses, and the versions it runs. Sourced, not run.
_lab_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB_ROOT_DIR="$(cd "$_lab_here/../.." && pwd)" # the kubewasm clone
source "$_lab_here/../lib.sh"                  # KUBEWASM_CACHE, log, die, apt_install

LAB_STATE="${KUBEWASM_LAB_STATE:-/var/lib/kubewasm-lab}"
LAB_CLUSTER="$LAB_STATE/cluster"        # everything `up` makes on this machine; `down` removes it
LAB_KUBECONFIG="$LAB_STATE/kubeconfig"  # admin kubeconfig (a known path for tests)
LAB_DOCKER_DIR="$LAB_STATE/docker"      # dockerd's data root (images survive `down`)
LAB_DOCKERD_DIR="$LAB_STATE/dockerd"    # dockerd's log, pidfile and its own containerd

# The lab's docker network. An unusual private /24, so it collides with nothing;
# the host side of its bridge (the gateway) is where kube-apiserver listens.
LAB_NETWORK=kubewasm-lab
LAB_SUBNET=10.77.213.0/24
LAB_GATEWAY=10.77.213.1
LAB_POD_PREFIX=10.78         # node number i gets pods in 10.78.i.0/24 (no cross-node routing)
LAB_SERVICE_CIDR=10.79.0.0/24
LAB_SERVICE_IP=10.79.0.1     # the `kubernetes` Service; each node DNATs it to the apiserver
LAB_API_PORT=6443
LAB_REGISTRY_PORT=5443      # a test's registry listens on $LAB_GATEWAY:$LAB_REGISTRY_PORT; the nodes trust it (certs.d)
LAB_LABEL=io.kubewasm.lab    # on every container, volume and network the lab makes

K8S_VERSION=v1.34.4
CRICTL_VERSION=v1.34.0
LAB_PAUSE_IMAGE=registry.k8s.io/pause:3.10   # our own pause (scripts/lab/images/pause.c), never pulled
LAB_SMOKE_IMAGE=kubewasm.io/smoke:hello

# containerd_version MINOR: the build behind a --containerd choice ("" for Debian's 1.6).
containerd_version() {
  case "$1" in
    1.6) echo "" ;;
    2.2) echo v2.2.9 ;;
    2.4) echo v2.4.2 ;;
    *) return 1 ;;
  esac
}

export DOCKER_HOST=unix:///var/run/docker.sock

# pid_alive PIDFILE: the process in PIDFILE runs (a stale pidfile is not enough).
pid_alive() {
  local pid
  pid="$(cat "$1" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# wait_for SECONDS WHAT CMD...: polls CMD every half second; dies with WHAT on timeout.
wait_for() {
  local secs="$1" what="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# spawn LOG PIDFILE CMD...: runs CMD as a daemon: own session, stdin /dev/null, output
# appended to LOG, pid in PIDFILE, and none of our other file descriptors (an inherited
# lock fd would keep `lab`'s lock held for the daemon's whole life).
spawn() {
  local log="$1" pidfile="$2"; shift 2
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      fd="${fd##*/}"
      [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
    done
    exec setsid "$@"
  ) >>"$log" 2>&1 </dev/null &
  echo $! >"$pidfile"
}
