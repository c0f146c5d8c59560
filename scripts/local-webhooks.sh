#!/usr/bin/env bash
# Prints the webhook configurations of manifests/webhook/ rewritten for a server that runs
# outside the cluster (the demo, the e2e tests): same rules, selectors and policies as an
# install, only the name and clientConfig differ (a URL on loopback and the given caBundle).
#
# Usage: scripts/local-webhooks.sh BASE_URL CA_BUNDLE NAME | kubectl apply -f -
set -euo pipefail
readonly repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -eq 3 ] || { echo "usage: $0 BASE_URL CA_BUNDLE NAME" >&2; exit 2; }
base_url=$1 ca_bundle=$2 name=$3

for entry in mutating:/mutate/applications validating:/validate/progressiverollouts; do
  file=${entry%%:*} path=${entry#*:}
  echo ---
  KUBECONFIG=/dev/null kubectl patch --local -o yaml --type json -f "$repo/manifests/webhook/$file.yaml" -p \
    "[{\"op\":\"replace\",\"path\":\"/metadata/name\",\"value\":\"$name\"},
      {\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig\",\"value\":{\"url\":\"$base_url$path\",\"caBundle\":\"$ca_bundle\"}}]"
done
