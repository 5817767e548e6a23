#!/usr/bin/env bash
# Removes what scripts/deploy-minikube.sh deployed: the namespaces dev, mongo and kafka, with the
# services, MongoDB and its data, Kafka and its topics, the lake (k8s/lake/minikube: Connect, the
# object store and the catalog with their volumes), and the Istio routes. Keeps minikube,
# Istio with its add-ons (and the storefront dashboard ConfigMaps its Grafana mounts), the Strimzi
# CRDs and the built images, so that a new deployment is quick.
#   scripts/teardown-minikube.sh          the storefront only
#   scripts/teardown-minikube.sh --all    deletes the whole minikube profile instead
# Idempotent: what is already gone is skipped. Settings: MINIKUBE_PROFILE (storefront).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

PROFILE=${MINIKUBE_PROFILE:-storefront}
k() { kubectl --context "$PROFILE" "$@"; }

if [[ ${1:-} == --all ]]; then
  log "deleting minikube profile $PROFILE and everything in it"
  minikube delete -p "$PROFILE"
  exit 0
fi

if [[ "$(minikube -p "$PROFILE" status --format '{{.APIServer}}' 2>/dev/null || true)" != Running ]]; then
  log "minikube profile $PROFILE is not running: nothing to remove"
  exit 0
fi

log "removing the optional JWT policy and the Istio routes"
k delete -k istio/jwt --ignore-not-found >/dev/null
k delete -k istio --ignore-not-found >/dev/null

if k get namespace kafka >/dev/null 2>&1; then
  # While the operators still run: they remove the finalizers of the topics and the cluster, which
  # would otherwise hold the namespace in Terminating.
  log "deleting the lake's connector and Connect cluster, the Kafka topics and cluster"
  k -n kafka delete kafkaconnector --all --timeout=120s >/dev/null || true
  k -n kafka delete kafkaconnect --all --timeout=300s >/dev/null || true
  k -n kafka delete kafkatopic --all --timeout=120s >/dev/null || true
  k -n kafka delete kafka --all --timeout=300s >/dev/null || true
  k -n kafka delete kafkanodepool --all --timeout=120s >/dev/null || true
fi

for namespace in dev mongo kafka tracing; do
  if k get namespace "$namespace" >/dev/null 2>&1; then
    log "deleting namespace $namespace and everything in it (its volumes too)"
    k delete namespace "$namespace" --timeout=300s >/dev/null
  else
    log "namespace $namespace is already gone"
  fi
done
log "done; deploy again with scripts/deploy-minikube.sh"
