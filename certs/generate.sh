#!/usr/bin/env bash
# Makes a CA and a serving certificate for the admission webhook with the openssl CLI, and prints
# the CA as a one-line base64 caBundle on stdout (everything else goes to stderr), so that
#   CA_BUNDLE=$(certs/generate.sh)
# is all a deploy script needs.
#
# The API server dials <service>.<namespace>.svc and verifies SANs only (Go ≥1.15 ignores the
# CN), so the certificate carries every name the Service is reached by, plus 127.0.0.1 and
# localhost for URL webhooks and local runs. EC P-256 keys: small and fast to handshake.
#
# An existing CA in the output directory is reused (the caBundle stays the same when only the
# serving certificate is renewed); --force makes a new CA too. Keys are written mode 0600 and
# never belong in git (.gitignore covers certs/out/, *.key, *.pem).
set -euo pipefail

usage() {
  cat >&2 <<'EOF'
usage: certs/generate.sh [--service NAME] [--namespace NS] [--out DIR] [--days N] [--force]
  --service    Service name            (env SERVICE,   default argocd-progressive-rollout)
  --namespace  Service namespace       (env NAMESPACE, default argocd)
  --out        output directory        (env OUT_DIR,   default certs/out next to this script)
  --days       serving cert lifetime   (env DAYS,      default 365; the CA gets 10 years)
  --force      make a new CA even if DIR/ca.crt and DIR/ca.key exist
Writes DIR/ca.crt, DIR/ca.key, DIR/tls.crt, DIR/tls.key; prints the base64 caBundle on stdout.
EOF
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
service=${SERVICE:-argocd-progressive-rollout}
namespace=${NAMESPACE:-argocd}
out_dir=${OUT_DIR:-$script_dir/out}
days=${DAYS:-365}
force=0

while (($#)); do
  case "$1" in
    --service) service=${2:?--service needs a value}; shift 2 ;;
    --namespace) namespace=${2:?--namespace needs a value}; shift 2 ;;
    --out) out_dir=${2:?--out needs a value}; shift 2 ;;
    --days) days=${2:?--days needs a value}; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "generate.sh: unknown argument '$1'" >&2; usage; exit 2 ;;
  esac
done

# DNS-1035 labels: what a Service name and a namespace can be.
label_re='^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$'
[[ $service =~ $label_re ]] || { echo "generate.sh: invalid service name '$service'" >&2; exit 2; }
[[ $namespace =~ $label_re ]] || { echo "generate.sh: invalid namespace '$namespace'" >&2; exit 2; }
[[ $days =~ ^[1-9][0-9]*$ ]] || { echo "generate.sh: --days must be a positive integer" >&2; exit 2; }
command -v openssl >/dev/null || { echo "generate.sh: openssl not found (apt-get install openssl)" >&2; exit 1; }

umask 077
mkdir -p "$out_dir"
work=$(mktemp -d "$out_dir/.generate.XXXXXX")
trap 'rm -rf "$work"' EXIT

fqdn="$service.$namespace.svc"

if [[ $force == 1 || ! -s $out_dir/ca.crt || ! -s $out_dir/ca.key ]]; then
  echo "generate.sh: new CA in $out_dir" >&2
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$work/ca.key" -sha256 -days 3650 \
    -subj "/CN=$service-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$work/ca.crt"
  mv "$work/ca.key" "$out_dir/ca.key"
  mv "$work/ca.crt" "$out_dir/ca.crt"
else
  echo "generate.sh: reusing the CA in $out_dir (--force for a new one)" >&2
fi

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/tls.key" 2>/dev/null
openssl req -new -key "$work/tls.key" -subj "/CN=$fqdn" -out "$work/tls.csr"
cat >"$work/ext.cnf" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=DNS:$fqdn,DNS:$fqdn.cluster.local,DNS:$service,DNS:$service.$namespace,DNS:localhost,IP:127.0.0.1
EOF
# A random 128-bit serial instead of a .srl file next to the CA: no state, no collisions.
openssl x509 -req -in "$work/tls.csr" -CA "$out_dir/ca.crt" -CAkey "$out_dir/ca.key" \
  -set_serial "0x$(openssl rand -hex 16)" -days "$days" -sha256 \
  -extfile "$work/ext.cnf" -out "$work/tls.crt" 2>/dev/null
openssl verify -CAfile "$out_dir/ca.crt" "$work/tls.crt" >/dev/null

# Key before certificate, each by rename: a server watching the directory never sees a torn file.
mv "$work/tls.key" "$out_dir/tls.key"
mv "$work/tls.crt" "$out_dir/tls.crt"
chmod 0644 "$out_dir/ca.crt" "$out_dir/tls.crt"

echo "generate.sh: serving certificate for $fqdn in $out_dir/tls.crt, key $out_dir/tls.key" >&2
base64 -w0 <"$out_dir/ca.crt"
echo
