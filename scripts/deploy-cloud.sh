#!/usr/bin/env bash
# Deploys the storefront to a cluster with Istio against a managed Kafka and MongoDB Atlas:
#   scripts/deploy-cloud.sh confluent-cloud|amazon-msk
# It first checks what only you can provide and stops with what to do when something is
# missing: the overlay's secrets.env (bootstrap servers) and <service>.env files (each service's
# own Kafka credentials and Atlas URI), and images
# from your registry (the overlays name storefront/<service>:0.1.0, which no registry serves
# until you build, push and set them in the overlay's kustomization.yaml under `images:`).
# Then it applies the overlay and istio/ to kubectl's current context and waits for the
# services. With --check it only checks (no cluster needed): scripts/check-deploy.sh runs it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

check_only=false
if [[ ${1:-} == --check ]]; then
  check_only=true
  shift
fi
OVERLAY_NAME=${1:-}
OVERLAY_DIR=${STOREFRONT_OVERLAY_DIR:-k8s/overlays/$OVERLAY_NAME}
case "$OVERLAY_NAME" in
  confluent-cloud | amazon-msk) ;;
  *)
    echo "usage: scripts/deploy-cloud.sh [--check] confluent-cloud|amazon-msk" >&2
    exit 2
    ;;
esac
command -v kubectl >/dev/null || { log "kubectl is needed; install it first"; exit 1; }

problems=()
secrets_there=true
for file in secrets accounts orders fulfillment; do
  if [[ ! -f $OVERLAY_DIR/$file.env ]]; then
    problems+=("$OVERLAY_DIR/$file.env is missing: cp $OVERLAY_DIR/$file.env.example $OVERLAY_DIR/$file.env and fill it in")
    secrets_there=false
  fi
done

# The images the overlay would pull, rendered with the example secrets if the real ones are not
# there yet (the images do not depend on them).
rendered=$(mktemp)
scratch=$(mktemp -d)
trap 'rm -rf "$rendered" "$scratch"' EXIT
if $secrets_there; then
  kubectl kustomize "$OVERLAY_DIR" >"$rendered"
else
  tar -C "$(dirname "$OVERLAY_DIR")/../.." --exclude='*.env' -cf - k8s deploy | tar -C "$scratch" -xf -
  copy="$scratch/k8s/overlays/$(basename "$OVERLAY_DIR")"
  for example in "$copy"/*.env.example; do
    cp "$example" "${example%.example}"
  done
  kubectl kustomize "$copy" >"$rendered"
fi
unpublished=$(grep -oE 'image: *storefront/[a-z]+:[^ ]+' "$rendered" | sed 's/image: *//' | sort -u || true)
if [[ -n $unpublished ]]; then
  problems+=("the overlay pulls $(echo "$unpublished" | paste -sd, -), which no registry serves: build and push the images (docker build --build-arg SERVICE=<service> -t REGISTRY/storefront/<service>:0.1.0 . && docker push ...), then set them under \`images:\` in $OVERLAY_DIR/kustomization.yaml")
fi

if ((${#problems[@]} > 0)); then
  log "not deploying $OVERLAY_NAME:"
  printf '  - %s\n' "${problems[@]}" >&2
  exit 1
fi
log "$OVERLAY_NAME: secrets.env and each service's .env are there, and every image comes from a registry"
$check_only && exit 0

log "applying $OVERLAY_DIR and istio/ to $(kubectl config current-context)"
kubectl apply -k "$OVERLAY_DIR"
kubectl apply -k istio
for service in accounts orders fulfillment; do
  kubectl -n dev rollout status "deployment/$service" --timeout=300s
done
log "deployed; the gateway: kubectl -n istio-system get service istio-ingressgateway"
