#!/usr/bin/env bash
# Checks manifests/monitoring/prometheusrule.yaml with Prometheus' own tool (Debian's
# `prometheus` package): the rule groups under its spec pass `promtool check rules`, and the
# unit tests in rules_test.yaml (each alert firing and not firing) pass `promtool test rules`.
#   rules_test.sh WORK_DIR
set -euo pipefail
readonly here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly repo="$(cd "$here/../.." && pwd)"
readonly work="${1:?usage: rules_test.sh WORK_DIR}"
command -v promtool >/dev/null || { echo "promtool not found: install Debian's prometheus package (scripts/install-deps.sh)" >&2; exit 1; }
mkdir -p "$work"
# The PrometheusRule's spec, one level up: everything after `spec:`, two spaces less indented.
sed -n '/^spec:/,$p' "$repo/manifests/monitoring/prometheusrule.yaml" | tail -n +2 | sed 's/^  //' >"$work/rules.yaml"
cp "$here/rules_test.yaml" "$work/rules_test.yaml"
promtool check rules "$work/rules.yaml"
promtool test rules "$work/rules_test.yaml"
# The add-on renders: the rule and the board's ConfigMap for Grafana's sidecar.
rendered="$(kubectl kustomize "$repo/manifests/monitoring")"
grep -q '^kind: PrometheusRule$' <<<"$rendered"
grep -q 'grafana_dashboard: "1"' <<<"$rendered"
grep -q 'argocd-progressive-rollout.json:' <<<"$rendered"
echo "kustomization renders the PrometheusRule and the dashboard ConfigMap"
