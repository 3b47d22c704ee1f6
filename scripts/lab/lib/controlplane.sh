# shellcheck shell=bash
# The lab's control plane: etcd (Debian), kube-apiserver, kube-controller-manager and
# kube-scheduler as background processes on this machine, each with a pidfile in
# $LAB_CLUSTER/run and a log in $LAB_CLUSTER/logs. etcd and the components' own
# ports listen on 127.0.0.1 only; kube-apiserver on the lab network's gateway.
# Debian's etcd is 3.4.23: kube-apiserver 1.34 accepts it, notes that it lacks
# RequestWatchProgress (so lists are served from etcd, not the watch cache), and,
# unless DetectCacheInconsistency is off, logs false "cache consistency check" errors
# after each compaction.
# Sourced by ../lab.

CP_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler)

_cp_pidfile() { echo "$LAB_CLUSTER/run/$1.pid"; }
_cp_log() { echo "$LAB_CLUSTER/logs/$1.log"; }

# proc_alive NAME: NAME's pidfile names a live process running NAME (not a reused pid).
proc_alive() {
  local pid
  pid="$(cat "$(_cp_pidfile "$1")" 2>/dev/null)" || return 1
  [ -n "$pid" ] && [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null)")" = "$1" ]
}

# proc_stop NAME [GRACE]: TERM, then KILL after GRACE seconds (default 10; kube-apiserver
# drains its watches for a minute or more when given the time).
proc_stop() {
  local name="$1" grace="${2:-10}" pid
  if proc_alive "$name"; then
    pid="$(cat "$(_cp_pidfile "$name")")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq $((grace * 4))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$(_cp_pidfile "$name")"
}

cp_healthy() {
  case "$1" in
    etcd) curl -sf --max-time 2 http://127.0.0.1:2379/health | grep -q '"health":"true"' ;;
    kube-apiserver) curl -sf --max-time 2 --cacert "$PKI/ca.crt" "https://$LAB_GATEWAY:$LAB_API_PORT/readyz" >/dev/null ;;
    kube-controller-manager) curl -skf --max-time 2 https://127.0.0.1:10257/healthz >/dev/null ;;
    kube-scheduler) curl -skf --max-time 2 https://127.0.0.1:10259/healthz >/dev/null ;;
  esac
}

cp_args() {
  local k8s="$KUBEWASM_CACHE/kubernetes-$K8S_VERSION/bin"
  case "$1" in
    etcd)
      echo /usr/bin/etcd --name lab --data-dir "$LAB_CLUSTER/etcd" \
        --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster lab=http://127.0.0.1:2380 --log-level warn ;;
    kube-apiserver)
      echo "$k8s/kube-apiserver" --advertise-address="$LAB_GATEWAY" --bind-address="$LAB_GATEWAY" \
        --secure-port="$LAB_API_PORT" --etcd-servers=http://127.0.0.1:2379 \
        --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
        --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
        --kubelet-preferred-address-types=InternalIP \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
        --service-cluster-ip-range="$LAB_SERVICE_CIDR" --authorization-mode=Node,RBAC \
        --enable-admission-plugins=NodeRestriction --allow-privileged=true --profiling=false \
        --feature-gates=DetectCacheInconsistency=false ;;
    kube-controller-manager)
      echo "$k8s/kube-controller-manager" --kubeconfig="$LAB_CLUSTER/controller-manager.kubeconfig" \
        --authentication-kubeconfig="$LAB_CLUSTER/controller-manager.kubeconfig" \
        --authorization-kubeconfig="$LAB_CLUSTER/controller-manager.kubeconfig" \
        --bind-address=127.0.0.1 --leader-elect=false --use-service-account-credentials=true \
        --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
        --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
        --service-cluster-ip-range="$LAB_SERVICE_CIDR" --profiling=false ;;
    kube-scheduler)
      echo "$k8s/kube-scheduler" --kubeconfig="$LAB_CLUSTER/scheduler.kubeconfig" \
        --authentication-kubeconfig="$LAB_CLUSTER/scheduler.kubeconfig" \
        --authorization-kubeconfig="$LAB_CLUSTER/scheduler.kubeconfig" \
        --bind-address=127.0.0.1 --leader-elect=false --profiling=false ;;
  esac
}

# cp_start NAME TIMEOUT: starts NAME unless it runs and answers; waits until it answers.
cp_start() {
  local name="$1" timeout="$2" log
  log="$(_cp_log "$name")"
  local args_file="$LAB_CLUSTER/run/$name.args"
  if proc_alive "$name" && [ "$(cat "$args_file" 2>/dev/null)" != "$(cp_args "$name")" ]; then
    log "$name runs with other arguments: restarting it"
    proc_stop "$name"
  fi
  if proc_alive "$name"; then
    cp_healthy "$name" && return 0
    # Running but not answering: maybe still starting; else restart it.
    wait_for 15 "$name" cp_healthy "$name" && return 0
    log "$name (pid $(cat "$(_cp_pidfile "$name")")) does not answer: restarting it"
  fi
  [ ! -f "$(_cp_pidfile "$name")" ] || log "$name is not running (stale pidfile): starting it again"
  proc_stop "$name"
  mkdir -p "$LAB_CLUSTER/run" "$LAB_CLUSTER/logs"
  # shellcheck disable=SC2046 # the arguments are words without spaces
  spawn "$log" "$(_cp_pidfile "$name")" $(cp_args "$name")
  cp_args "$name" >"$args_file"
  if ! wait_for "$timeout" "$name" cp_healthy "$name"; then
    tail -n 15 "$log" >&2
    die "$name did not become healthy within ${timeout}s; read $log"
  fi
}

cp_up() {
  cp_start etcd 30
  cp_start kube-apiserver 90
  cp_start kube-controller-manager 60
  cp_start kube-scheduler 60
}

# cp_down: stops everything at once and briefly: its state is about to be deleted.
cp_down() {
  local c
  for c in "${CP_COMPONENTS[@]}"; do proc_stop "$c" 2 & done
  wait
}

cp_status() {
  local c state
  for c in "${CP_COMPONENTS[@]}"; do
    if proc_alive "$c"; then
      if cp_healthy "$c"; then state="healthy"; else state="running, not answering"; fi
      printf '  %-24s %s (pid %s, log %s)\n' "$c" "$state" "$(cat "$(_cp_pidfile "$c")")" "$(_cp_log "$c")"
    else
      printf '  %-24s stopped\n' "$c"
    fi
  done
}
