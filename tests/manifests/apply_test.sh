#!/usr/bin/env bash
# manifests_apply: the install manifests against the real test API server (scripts/testenv.sh).
#   1. `kubectl apply -k manifests/ --server-side` accepts every object, and each one exists;
#   2. the webhook configurations carry the kustomized caBundle and really intercept what they
#      should (fail closed with no server behind them) and nothing else;
#   3. the CRD accepts the seed example unchanged, fills the schema defaults, prunes unknown
#      fields, serves the status subresource, short name and printer columns;
#   4. the shipped Role gives the rollout's service account what it needs and no more.
# Everything it creates besides what testenv installs anyway (CRD, RBAC) is deleted again,
# webhook configurations first: with failurePolicy Fail and no server they would break every
# later test.
# Env: APR_TESTENV = the env file written by `scripts/testenv.sh start`.
set -euo pipefail

readonly repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ -n "${APR_TESTENV:-}" ] && [ -f "$APR_TESTENV" ] || { echo "APR_TESTENV not set or missing" >&2; exit 1; }
# shellcheck disable=SC1090
source "$APR_TESTENV"
readonly ns=$ARGOCD_NAMESPACE
readonly work="$(mktemp -d)"

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "ok:   $*"; }
k() { kubectl --kubeconfig "$KUBECONFIG_ADMIN" --request-timeout=30s "$@"; }
k_as() { local who=$1; shift; kubectl --kubeconfig "$who" --request-timeout=30s "$@" 2>/dev/null; }

cleanup() {
  k delete mutatingwebhookconfiguration argocd-progressive-rollout --ignore-not-found --wait=false >/dev/null 2>&1 || true
  k delete validatingwebhookconfiguration argocd-progressive-rollout --ignore-not-found --wait=false >/dev/null 2>&1 || true
  k -n "$ns" delete progressiverollouts --all --ignore-not-found >/dev/null 2>&1 || true
  k -n "$ns" delete applicationsets,applications --all --ignore-not-found >/dev/null 2>&1 || true
  k -n default delete applications --all --ignore-not-found >/dev/null 2>&1 || true
  k -n "$ns" delete deployment,service,poddisruptionbudget -l app.kubernetes.io/name=argocd-progressive-rollout \
    --ignore-not-found >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- 1. apply the kustomization ---------------------------------------------------------------
source_dir="$repo/manifests"
# policy/v1 PodDisruptionBudget exists from Kubernetes 1.21; the test API server is 1.20. Only
# then is the PDB rendered as policy/v1beta1 (same fields), through an overlay in $work.
if ! k api-versions | grep -qx 'policy/v1'; then
  mkdir -p "$work/overlay"
  cat >"$work/overlay/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $(realpath --relative-to="$work/overlay" "$repo/manifests")
patches:
  - target:
      kind: PodDisruptionBudget
    patch: |
      - op: replace
        path: /apiVersion
        value: policy/v1beta1
EOF
  source_dir="$work/overlay"
  echo "note: API server has no policy/v1; PodDisruptionBudget applied as policy/v1beta1"
fi

k kustomize "$source_dir" --load-restrictor LoadRestrictionsNone >"$work/rendered.yaml"
expected=$(k create --dry-run=client -f "$work/rendered.yaml" -o name 2>/dev/null | sort)
[ -n "$expected" ] || { echo "FAIL: kustomization rendered nothing"; exit 1; }

if k apply -k "$source_dir" --server-side --field-manager=apr-manifests-test -o name \
  >"$work/applied.txt" 2>"$work/apply.err"; then
  pass "kubectl apply -k manifests/ --server-side"
else
  fail "kubectl apply -k manifests/ --server-side: $(cat "$work/apply.err")"
fi
applied=$(sort "$work/applied.txt")
if [ "$applied" == "$expected" ]; then
  pass "applied exactly the $(wc -l <<<"$expected") rendered objects"
else
  fail "applied objects differ from rendered ones:"$'\n'"$(diff <(echo "$expected") <(echo "$applied") || true)"
fi
for obj in $expected; do
  if k -n "$ns" get "$obj" -o name >/dev/null; then pass "exists: $obj"; else fail "missing: $obj"; fi
done
if k -n "$ns" get configmap argocd-progressive-rollout-ca-bundle >/dev/null 2>&1; then
  fail "the local-config ConfigMap holding the caBundle was applied"
fi

# --- 2. webhook configurations ------------------------------------------------------------------
placeholder=$(sed -n 's/^ *caBundle: *//p' "$repo/manifests/webhook/ca-bundle.yaml")
for kind in mutatingwebhookconfiguration validatingwebhookconfiguration; do
  got=$(k get "$kind" argocd-progressive-rollout -o jsonpath='{.webhooks[0].clientConfig.caBundle}')
  if [ "$got" == "$placeholder" ]; then pass "$kind caBundle comes from webhook/ca-bundle.yaml"
  else fail "$kind caBundle is '$got', want the one in webhook/ca-bundle.yaml"; fi
done
mutating=$(k get mutatingwebhookconfiguration argocd-progressive-rollout -o json)
jq -e '.webhooks[0] | .clientConfig.service.path == "/mutate/applications"
  and .failurePolicy == "Fail" and .sideEffects == "None" and .timeoutSeconds == 5
  and .admissionReviewVersions == ["v1"]' <<<"$mutating" >/dev/null &&
  pass "mutating webhook: path, failurePolicy, sideEffects, timeout, versions" ||
  fail "mutating webhook settings: $(jq -c '.webhooks[0]' <<<"$mutating")"

application() {
  cat <<EOF
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: $1
  namespace: $2
spec:
  project: default
  source: {repoURL: "https://example.invalid/repo.git", path: ".", targetRevision: v1}
  destination: {server: "https://kubernetes.default.svc", namespace: default}
EOF
}
# No server answers behind the Service: a request the webhook matches must be refused
# (failurePolicy Fail), one it does not match must pass untouched.
if out=$(application fail-closed "$ns" | k create -f - 2>&1); then
  fail "an Application in $ns was created although the mutating webhook cannot be called"
elif grep -q 'failed calling webhook "applications.deployment.skyscanner.net"' <<<"$out"; then
  pass "Application CREATE in $ns goes through the mutating webhook (fails closed)"
else
  fail "Application CREATE in $ns refused for another reason: $out"
fi
if application outside default | k create -f - >/dev/null; then
  pass "Application in namespace default is outside the webhook's namespaceSelector"
else
  fail "Application in namespace default was refused: the namespaceSelector does not scope the webhook"
fi
if out=$(k create -f "$repo/manifests/samples/progressiverollout.yaml" 2>&1); then
  fail "a ProgressiveRollout was created although the validating webhook cannot be called"
elif grep -q 'failed calling webhook "progressiverollouts.deployment.skyscanner.net"' <<<"$out"; then
  pass "ProgressiveRollout CREATE goes through the validating webhook (fails closed)"
else
  fail "ProgressiveRollout CREATE refused for another reason: $out"
fi

# From here on no webhook server exists, so the configurations must go.
k delete mutatingwebhookconfiguration,validatingwebhookconfiguration argocd-progressive-rollout >/dev/null

# --- 3. the CRD's schema ----------------------------------------------------------------------
if k apply -k "$repo/manifests/samples" --server-side --field-manager=apr-manifests-test >/dev/null; then
  pass "samples (seed example unchanged + ApplicationSet my-app-set) accepted"
else
  fail "samples were refused"
fi
pr=$(k -n "$ns" get progressiverollout progressiverollout-sample -o json)
check_pr() {
  if jq -e "$1" <<<"$pr" >/dev/null; then pass "CRD: $2"; else fail "CRD: $2 ($1)"; fi
}
check_pr '.spec.sourceRef == {"apiGroup":"argoproj.io/v1alpha1","kind":"ApplicationSet","name":"my-app-set"}' \
  "sourceRef kept as written"
check_pr '.spec.paused == false' "paused defaults to false"
check_pr '[.spec.stages[].name] == ["canary in EMEA","eu-west-1","eu-central-1"]' "stage names in order"
check_pr '.spec.stages[0].maxUnavailable == 2 and .spec.stages[0].maxClusters == 2' "int maxUnavailable/maxClusters stay ints"
check_pr '.spec.stages[1].maxUnavailable == "25%" and .spec.stages[1].maxClusters == "100%"' "percent strings stay strings"
check_pr '.spec.stages[0].topologyKey == "region"' "stage topologyKey kept"
check_pr '.spec.stages[0].requeue == {"selector":{"matchLabels":{"drained":"true"}},"attempts":5,"interval":"30m"}' \
  "requeue kept"
check_pr 'all(.spec.stages[]; .bakeTime == "0s" and .progressDeadline == "30m" and .maxFailures == 0)' \
  "bakeTime/progressDeadline/maxFailures defaulted"

# Defaults for fields left out, and pruning of fields the API does not have.
# --validate=false: kubectl would refuse the unknown fields itself (from the published schema);
# the point is that the API server prunes them.
k -n "$ns" apply --server-side --validate=false --field-manager=apr-manifests-test -f - >/dev/null <<EOF
apiVersion: deployment.skyscanner.net/v1alpha1
kind: ProgressiveRollout
metadata:
  name: schema-check
spec:
  sourceRef: {kind: ApplicationSet, name: other-set}
  notAField: dropped
  stages:
    - name: all
      clusters:
        selector:
          matchExpressions: [{key: region, operator: In, values: [eu-west-1]}]
        topologyKey: zone
        alsoNotAField: dropped
      bogus: dropped
EOF
pr=$(k -n "$ns" get progressiverollout schema-check -o json)
check_pr '.spec.stages[0].maxClusters == "100%" and .spec.stages[0].maxUnavailable == 1' \
  "maxClusters defaults to \"100%\", maxUnavailable to 1"
check_pr '.spec | has("notAField") | not' "unknown spec field pruned"
check_pr '.spec.stages[0] | has("bogus") | not' "unknown stage field pruned"
check_pr '.spec.stages[0].clusters | (has("alsoNotAField") | not) and .topologyKey == "zone"' \
  "clusters.topologyKey kept, unknown field pruned"
check_pr '.spec.stages[0].clusters.selector.matchExpressions == [{"key":"region","operator":"In","values":["eu-west-1"]}]' \
  "matchExpressions kept"

# Range and format checks belong to the validating webhook, not the schema: with no webhook
# registered, a percentage out of range must still be stored.
if k -n "$ns" patch progressiverollout schema-check --type merge \
  -p '{"spec":{"stages":[{"name":"all","maxUnavailable":"125%","bakeTime":"soon"}]}}' >/dev/null; then
  pass "schema leaves range/format checks to the webhook (125%, 'soon' stored)"
else
  fail "schema rejected an out-of-range value the webhook should report"
fi
if k -n "$ns" patch progressiverollout schema-check --type merge \
  -p '{"spec":{"stages":[{"name":"all","maxFailures":"many"}]}}' >/dev/null 2>&1; then
  fail "schema accepted a string maxFailures"
else
  pass "schema rejects wrong types (maxFailures: \"many\")"
fi
if k -n "$ns" create -f - >/dev/null 2>&1 <<EOF
apiVersion: deployment.skyscanner.net/v1alpha1
kind: ProgressiveRollout
metadata: {name: no-stages}
spec:
  sourceRef: {kind: ApplicationSet, name: x}
EOF
then fail "a ProgressiveRollout without stages was accepted"; else pass "spec.stages is required"; fi

# Status only through the subresource; the printer columns and short name show it.
k -n "$ns" patch progressiverollout schema-check --subresource=status --type merge -p \
  '{"status":{"observedGeneration":1,"phase":"Progressing","currentStage":"all","progress":"3/8",
    "clustersDone":3,"clustersTotal":8,"pass":1,
    "conditions":[{"type":"Ready","status":"False","reason":"Progressing","message":"m",
                   "lastTransitionTime":"2026-01-02T03:04:05Z","observedGeneration":1}],
    "stages":[{"name":"all","phase":"Progressing","clusters":[{"name":"c1","phase":"Requeued","attempts":2,
               "nextAttemptAt":"2026-01-02T03:34:05Z","hash":"h"}]}]}}' >/dev/null ||
  fail "status subresource patch refused"
pr=$(k -n "$ns" get progressiverollout schema-check -o json)
check_pr '.status.progress == "3/8" and .status.stages[0].clusters[0].attempts == 2' "status written through /status"
k -n "$ns" patch progressiverollout schema-check --type merge -p '{"status":{"phase":"Completed"}}' >/dev/null || true
pr=$(k -n "$ns" get progressiverollout schema-check -o json)
check_pr '.status.phase == "Progressing"' "status ignored on the main resource (status subresource)"
columns=$(k -n "$ns" get pr schema-check)
if grep -q 'PHASE *STAGE *DONE *AGE' <<<"$columns" && grep -q 'schema-check *Progressing *all *3/8' <<<"$columns"; then
  pass "short name pr and printer columns Phase/Stage/Done/Age"
else
  fail "printer columns: $columns"
fi

# --- 4. least privilege of the shipped Role ---------------------------------------------------
can() {
  local expect=$1 verb=$2 resource=$3
  shift 3
  local got
  got=$(k_as "$KUBECONFIG_WEBHOOK" auth can-i "$verb" "$resource" "$@" || true)
  if [ "$got" == "$expect" ]; then pass "webhook SA can-i $verb $resource $*: $got"
  else fail "webhook SA can-i $verb $resource $*: $got, want $expect"; fi
}
can yes watch secrets -n "$ns"
can yes patch applications.argoproj.io -n "$ns"
can yes watch applicationsets.argoproj.io -n "$ns"
can yes patch applicationsets.argoproj.io -n "$ns"
can yes update progressiverollouts.deployment.skyscanner.net --subresource=status -n "$ns"
can yes update progressiverollouts.deployment.skyscanner.net --subresource=finalizers -n "$ns"
can yes create events -n "$ns"
can yes create events.events.k8s.io -n "$ns"
can yes create leases.coordination.k8s.io -n "$ns"
can yes update leases.coordination.k8s.io/argocd-progressive-rollout -n "$ns"
can no update leases.coordination.k8s.io/someone-elses-lease -n "$ns"
can no list secrets -n default
can no list secrets --all-namespaces
can no update secrets -n "$ns"
can no delete applications.argoproj.io -n "$ns"
can no create applications.argoproj.io -n "$ns"
can no update applicationsets.argoproj.io -n "$ns"
can no create progressiverollouts.deployment.skyscanner.net -n "$ns"
can no delete progressiverollouts.deployment.skyscanner.net -n "$ns"
can no patch applications.argoproj.io -n default

if ((failures)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
