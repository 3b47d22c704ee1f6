# shellcheck shell=bash
# The lab's nodes: one privileged docker container per node on the lab network,
# booting systemd, with containerd (Debian's 1.6 or a cached 2.x) and kubelet.
# kubelet, crictl and containerd 2.x are bind-mounted read-only from the cache;
# the node's own files (configs, units, certs) are rendered from ../node/ into
# $LAB_CLUSTER/nodes/NAME/root and copied in before the container first starts.
# Sourced by ../lab.

NODE_TEMPLATES="$LAB_ROOT_DIR/scripts/lab/node"

node_container() { echo "kubewasm-lab-$1"; }
node_ip() { echo "${LAB_SUBNET%.*}.$((10 + $1))"; }      # node i: .10+i on the lab network
node_pod_cidr() { echo "$LAB_POD_PREFIX.$1.0/24"; }     # node i: its own pod /24

kctl() { "$KUBEWASM_CACHE/kubernetes-$K8S_VERSION/bin/kubectl" --kubeconfig "$LAB_KUBECONFIG" "$@"; }

# node_render NAME INDEX CONTAINERD: writes the node's files under its root dir.
node_render() {
  local name="$1" idx="$2" ctd="$3" root="$LAB_CLUSTER/nodes/$1/root"
  local ctd_version
  ctd_version="$(containerd_version "$ctd")"
  rm -rf "$root" && mkdir -p "$root"/etc/{containerd,default,cni/net.d,kubernetes/pki} \
    "$root"/etc/systemd/system/multi-user.target.wants "$root"/usr/local/{bin,sbin}
  render() { # render TEMPLATE DEST [MODE]
    sed -e "s|@NAME@|$name|g" -e "s|@NODE_IP@|$(node_ip "$idx")|g" -e "s|@POD_CIDR@|$(node_pod_cidr "$idx")|g" \
      -e "s|@CONTAINERD@|$ctd|g" -e "s|@CONTAINERD_VERSION@|${ctd_version:-1.6 (Debian)}|g" \
      -e "s|@GATEWAY@|$LAB_GATEWAY|g" -e "s|@API_PORT@|$LAB_API_PORT|g" -e "s|@SERVICE_IP@|$LAB_SERVICE_IP|g" \
      -e "s|@PAUSE_IMAGE@|$LAB_PAUSE_IMAGE|g" "$NODE_TEMPLATES/$1" >"$root/$2"
    chmod "${3:-644}" "$root/$2"
  }
  render "containerd-$ctd.toml" etc/containerd/config.toml
  render kubelet.service etc/systemd/system/kubelet.service
  render kubelet.env etc/default/kubelet
  render kubelet-config.yaml etc/kubernetes/kubelet-config.yaml
  render kubelet.conf etc/kubernetes/kubelet.conf 600
  render kubewasm-lab-node.service etc/systemd/system/kubewasm-lab-node.service
  render kubewasm-lab-node-setup usr/local/sbin/kubewasm-lab-node-setup 755
  render cni.conflist etc/cni/net.d/10-kubewasm-lab.conflist
  render crictl.yaml etc/crictl.yaml
  # A registry at the gateway, with a certificate from the lab's CA (tests start it:
  # scripts/lab/support/registry.ts), is trusted through containerd's registry host
  # configuration: config_path = /etc/containerd/certs.d in every node's containerd config.
  local reg="$LAB_GATEWAY:$LAB_REGISTRY_PORT"
  mkdir -p "$root/etc/containerd/certs.d/$reg"
  printf 'server = "https://%s"\n\n[host."https://%s"]\n  capabilities = ["pull", "resolve"]\n  ca = "/etc/kubernetes/pki/ca.crt"\n' "$reg" "$reg" \
    >"$root/etc/containerd/certs.d/$reg/hosts.toml"
  ln -s /etc/systemd/system/kubelet.service "$root/etc/systemd/system/multi-user.target.wants/kubelet.service"
  ln -s /etc/systemd/system/kubewasm-lab-node.service "$root/etc/systemd/system/multi-user.target.wants/kubewasm-lab-node.service"
  ln -s /opt/kubewasm-lab/crictl/bin/crictl "$root/usr/local/bin/crictl"
  if [ -n "$ctd_version" ]; then
    mkdir -p "$root/etc/systemd/system/containerd.service.d"
    render containerd-2.x.conf etc/systemd/system/containerd.service.d/10-kubewasm-lab.conf
    ln -s /opt/kubewasm-lab/containerd/bin/ctr "$root/usr/local/bin/ctr"
  fi
  pki_node_cert "$name"
  cp "$PKI/ca.crt" "$root/etc/kubernetes/pki/ca.crt"
  cp "$PKI/node-$name.crt" "$root/etc/kubernetes/pki/kubelet-client.crt"
  install -m 600 "$PKI/node-$name.key" "$root/etc/kubernetes/pki/kubelet-client.key"
}

# node_run_args NAME INDEX CONTAINERD IMAGE: the `docker create` arguments.
node_run_args() {
  local name="$1" idx="$2" ctd="$3" image="$4" ctd_version
  ctd_version="$(containerd_version "$ctd")"
  local args=(
    --name "$(node_container "$name")" --hostname "$name" --network "$LAB_NETWORK" --ip "$(node_ip "$idx")"
    # systemd as PID 1 (kind's settings): privileged, own cgroup namespace (so kubelet's
    # cgroupfs root is the container's), tmpfs /run and /tmp, halt on SIGRTMIN+3.
    --privileged --cgroupns private --security-opt seccomp=unconfined --stop-signal SIGRTMIN+3
    --tmpfs /run --tmpfs /tmp
    # containerd's snapshots cannot be overlayfs on the container's overlayfs root: volumes.
    -v "kubewasm-lab-$name-containerd:/var/lib/containerd" -v "kubewasm-lab-$name-kubelet:/var/lib/kubelet"
    -v "$KUBEWASM_CACHE/kubernetes-$K8S_VERSION/bin:/opt/kubewasm-lab/kubernetes/bin:ro"
    -v "$KUBEWASM_CACHE/crictl-$CRICTL_VERSION/bin:/opt/kubewasm-lab/crictl/bin:ro"
    -v "$LAB_IMAGES_DIR:/opt/kubewasm-lab/images:ro"
    # No name service: docker's embedded DNS would forward a node's lookups (an image
    # pull of a missing image, say) to this machine's resolvers, off the machine.
    -v "$LAB_CLUSTER/resolv.conf:/etc/resolv.conf:ro"
    --label "$LAB_LABEL=1" --label "$LAB_LABEL.node=$name" --label "$LAB_LABEL.containerd=$ctd"
  )
  [ -z "$ctd_version" ] || args+=(-v "$KUBEWASM_CACHE/containerd-$ctd_version/bin:/opt/kubewasm-lab/containerd/bin:ro")
  [ ! -d /lib/modules ] || args+=(-v /lib/modules:/lib/modules:ro)
  printf '%s\n' "${args[@]}" "$image"
}

# node_spec_hash NAME INDEX CONTAINERD IMAGE: changes iff the node must be recreated.
node_spec_hash() {
  { node_run_args "$@"; tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$LAB_CLUSTER/nodes/$1/root" -cf - .; } \
    | sha256sum | cut -c1-16
}

node_remove() {
  local name="$1"
  docker rm -f "$(node_container "$name")" >/dev/null 2>&1 || true
  docker volume rm "kubewasm-lab-$name-containerd" "kubewasm-lab-$name-kubelet" >/dev/null 2>&1 || true
  rm -rf "${LAB_CLUSTER:?}/nodes/$name"
}

# node_ensure NAME INDEX CONTAINERD IMAGE: the node's container exists with this spec
# and runs; recreated when the spec changed or an earlier `up` did not finish it.
node_ensure() {
  local name="$1" ctr
  [ -f "$LAB_CLUSTER/resolv.conf" ] || printf '# kubewasm lab: no DNS (nothing listens here)\nnameserver 127.0.0.1\n' >"$LAB_CLUSTER/resolv.conf"
  ctr="$(node_container "$name")"
  local dir="$LAB_CLUSTER/nodes/$name" hash state
  mkdir -p "$dir"
  node_render "$1" "$2" "$3"
  hash="$(node_spec_hash "$@")"
  state="$(docker inspect -f '{{.Id}} {{.State.Running}} {{index .Config.Labels "io.kubewasm.lab.spec"}}' "$ctr" 2>/dev/null || true)"
  local id="${state%% *}"
  if [ -n "$state" ] && [ "${state##* }" = "$hash" ] && [ "$(cat "$dir/container-id" 2>/dev/null)" = "$id" ]; then
    case "$state" in *" true "*) return 0 ;; esac
    log "$name: starting its stopped container"
    date +%s >"$dir/started-at"
    docker start "$ctr" >/dev/null || die "docker start $ctr failed; run 'scripts/lab/lab down' and 'up' again"
    return 0
  fi
  if [ -n "$state" ]; then
    log "$name: its container is outdated or half-made: recreating it"
    kctl delete node "$name" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  fi
  docker rm -f "$ctr" >/dev/null 2>&1 || true
  docker volume rm "kubewasm-lab-$name-containerd" "kubewasm-lab-$name-kubelet" >/dev/null 2>&1 || true
  rm -f "$dir/container-id"
  local v
  for v in containerd kubelet; do
    docker volume create --label "$LAB_LABEL=1" --label "$LAB_LABEL.node=$name" "kubewasm-lab-$name-$v" >/dev/null
  done
  local args=()
  mapfile -t args < <(node_run_args "$@")
  # (stderr kept apart: docker warns that the host does not forward IPv4, on purpose.)
  id="$(docker create --label "$LAB_LABEL.spec=$hash" "${args[@]}" 2>"$dir/create.err")" \
    || { cat "$dir/create.err" >&2; die "docker create of node $name failed"; }
  tar --owner=0 --group=0 --numeric-owner -C "$dir/root" -cf - . | docker cp - "$ctr:/" \
    || die "copying the node files into $ctr failed"
  date +%s >"$dir/started-at"
  docker start "$ctr" >/dev/null || die "docker start $ctr failed; read: docker logs $ctr"
  echo "$id" >"$dir/container-id"
  log "$name: container $ctr started (containerd $3, $(node_ip "$2"), pods $(node_pod_cidr "$2"))"
}

# node_images NAME: the lab images are in the node's containerd (namespace k8s.io).
node_images() {
  local ctr have want file ref digest out
  ctr="$(node_container "$1")"
  wait_for 60 "containerd in $1" docker exec "$ctr" ctr version \
    || die "containerd in node $1 did not answer within 60s; read: docker exec $ctr journalctl -u containerd"
  have="$(docker exec "$ctr" ctr -n k8s.io images ls 2>/dev/null | awk 'NR > 1 {print $1 "@" $3}')"
  while read -r file ref digest; do
    want="$ref@$digest"
    grep -qxF "$want" <<<"$have" && continue
    out="$(docker exec "$ctr" ctr -n k8s.io images import "/opt/kubewasm-lab/images/$file" 2>&1)" \
      || { echo "$out" >&2; die "importing $file into node $1 failed; try: docker exec $ctr ctr -n k8s.io images import /opt/kubewasm-lab/images/$file"; }
  done <"$LAB_IMAGES_DIR/images.txt"
}

# node_ready NAME: Ready, as reported by a kubelet that runs since the container last
# started (the Node object keeps saying Ready for a while after its kubelet stopped).
node_ready() {
  local out since
  out="$(kctl get node "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}' 2>/dev/null)" || return 1
  [ "${out%% *}" = True ] || return 1
  since="$(cat "$LAB_CLUSTER/nodes/$1/started-at" 2>/dev/null || echo 0)"
  [ "$(date -d "${out#* }" +%s 2>/dev/null || echo 0)" -ge "$since" ]
}

# nodes_wait_ready TIMEOUT NAME...
nodes_wait_ready() {
  local timeout="$1"; shift
  local deadline=$((SECONDS + timeout)) n pending
  while :; do
    pending=()
    for n in "$@"; do node_ready "$n" || pending+=("$n"); done
    [ ${#pending[@]} -eq 0 ] && return 0
    if [ "$SECONDS" -ge "$deadline" ]; then
      for n in "${pending[@]}"; do
        echo "node $n is not Ready after ${timeout}s; its kubelet's last lines:" >&2
        docker exec "$(node_container "$n")" journalctl -u kubelet --no-pager -n 8 >&2 2>/dev/null || true
      done
      die "node(s) ${pending[*]} not Ready; read: docker exec kubewasm-lab-NODE journalctl -u kubelet (and -u containerd), control-plane logs in $LAB_CLUSTER/logs"
    fi
    sleep 1
  done
}

# nodes_existing: names of the lab's node containers, running or not.
nodes_existing() {
  docker ps -a --filter "label=$LAB_LABEL.node" --format "{{.Label \"$LAB_LABEL.node\"}}" | sort
}
