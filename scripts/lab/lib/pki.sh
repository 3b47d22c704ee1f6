# shellcheck shell=bash
# The lab's PKI, made with openssl (ECDSA P-256, 10 years): a CA, kube-apiserver's
# serving cert, the service-account key pair, client certs for admin, the
# control-plane components, the apiserver's kubelet client and one per node.
# Existing files are kept, so `up` after `up` changes nothing. Sourced by ../lab.

PKI="$LAB_CLUSTER/pki"

_pki_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }

# pki_cert NAME SUBJECT USAGE [SAN]: $PKI/NAME.{key,crt} signed by the CA; USAGE is
# clientAuth or serverAuth.
pki_cert() {
  local name="$1" subject="$2" usage="$3" san="${4:-}"
  [ -s "$PKI/$name.crt" ] && [ -s "$PKI/$name.key" ] && return 0
  _pki_key "$PKI/$name.key"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [ -z "$san" ] || echo "subjectAltName=$san"
  } >"$PKI/$name.ext"
  openssl req -new -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 3650 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt.tmp" 2>/dev/null \
    || die "openssl could not sign $name's certificate ($PKI)"
  mv "$PKI/$name.crt.tmp" "$PKI/$name.crt"
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

# kubeconfig FILE USER CERTNAME: a kubeconfig for the lab's apiserver with embedded certs.
kubeconfig() {
  local file="$1" user="$2" cert="$3"
  local b64="base64 -w0"
  cat >"$file.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kubewasm-lab
  cluster:
    server: https://$LAB_GATEWAY:$LAB_API_PORT
    certificate-authority-data: $($b64 <"$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $($b64 <"$PKI/$cert.crt")
    client-key-data: $($b64 <"$PKI/$cert.key")
contexts:
- name: kubewasm-lab
  context:
    cluster: kubewasm-lab
    user: $user
current-context: kubewasm-lab
EOF
  chmod 600 "$file.tmp" && mv "$file.tmp" "$file"
}

# pki_ensure: everything the control plane needs (node certs: pki_node_cert).
pki_ensure() {
  mkdir -p "$PKI"
  if [ ! -s "$PKI/ca.crt" ] || [ ! -s "$PKI/ca.key" ]; then
    _pki_key "$PKI/ca.key"
    openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=kubewasm-lab-ca" -days 3650 \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
      -out "$PKI/ca.crt" 2>/dev/null || die "openssl could not make the lab CA in $PKI"
  fi
  pki_cert apiserver "/CN=kube-apiserver" serverAuth \
    "IP:$LAB_GATEWAY,IP:127.0.0.1,IP:$LAB_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  pki_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth
  pki_cert admin "/O=system:masters/CN=kubewasm-lab-admin" clientAuth
  pki_cert controller-manager "/CN=system:kube-controller-manager" clientAuth
  pki_cert scheduler "/CN=system:kube-scheduler" clientAuth
  if [ ! -s "$PKI/sa.key" ]; then
    _pki_key "$PKI/sa.key"
    openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
  [ -s "$LAB_KUBECONFIG" ] || kubeconfig "$LAB_KUBECONFIG" kubewasm-lab-admin admin
  [ -s "$LAB_CLUSTER/controller-manager.kubeconfig" ] || kubeconfig "$LAB_CLUSTER/controller-manager.kubeconfig" system:kube-controller-manager controller-manager
  [ -s "$LAB_CLUSTER/scheduler.kubeconfig" ] || kubeconfig "$LAB_CLUSTER/scheduler.kubeconfig" system:kube-scheduler scheduler
}

# pki_node_cert NAME: the kubelet client cert of node NAME (Node authorizer identity).
pki_node_cert() {
  pki_cert "node-$1" "/O=system:nodes/CN=system:node:$1" clientAuth
}
