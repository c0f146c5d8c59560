#!/usr/bin/env bash
# Prints the webhook configurations of manifests/webhook/ rewritten for a server that runs
# outside the cluster (the demo, the e2e tests): same rules, selectors and policies as an
# install, only the name and each webhook's clientConfig differ (a URL on loopback, with the
# path the manifest's service names, and the given caBundle).
#
# Usage: scripts/local-webhooks.sh BASE_URL CA_BUNDLE NAME | kubectl apply -f -
set -euo pipefail
readonly repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -eq 3 ] || { echo "usage: $0 BASE_URL CA_BUNDLE NAME" >&2; exit 2; }
base_url=$1 ca_bundle=$2 name=$3

for file in mutating validating; do
  manifest="$repo/manifests/webhook/$file.yaml"
  ops="{\"op\":\"replace\",\"path\":\"/metadata/name\",\"value\":\"$name\"}"
  index=0
  # Each webhook's clientConfig.service.path, in order (the only `path:` keys of these files).
  for path in $(sed -n 's/^ *path: *\(\/[^ ]*\) *$/\1/p' "$manifest"); do
    ops+=",{\"op\":\"replace\",\"path\":\"/webhooks/$index/clientConfig\",\"value\":{\"url\":\"$base_url$path\",\"caBundle\":\"$ca_bundle\"}}"
    index=$((index + 1))
  done
  echo ---
  KUBECONFIG=/dev/null kubectl patch --local -o yaml --type json -f "$manifest" -p "[$ops]"
done
