#!/usr/bin/env bash
# Loads the sample data into the storefront on minikube through the Istio ingress gateway: the
# seven calls of scripts/refresh-sample-data.py, sent to one gateway URL (the services route by
# prefix, so one host serves all three).
#   scripts/refresh-sample-data-minikube.sh [GATEWAY_URL]
# Without a URL it uses the gateway's node port, or, when this host cannot reach the minikube
# node (docker driver on macOS or Windows), a temporary kubectl port-forward to the gateway.
# Settings: MINIKUBE_PROFILE (storefront), GATEWAY_URL, STOREFRONT_TOKEN (a JWT, when istio/jwt
# is applied: the sample endpoints then need one).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

PROFILE=${MINIKUBE_PROFILE:-storefront}
k() { kubectl --context "$PROFILE" "$@"; }
gateway=${1:-${GATEWAY_URL:-}}

answers() { curl -fsS --max-time 5 -o /dev/null "$1/accounts/actuator/health" 2>/dev/null; }

if [[ -z $gateway ]]; then
  log "finding the Istio ingress gateway of minikube profile $PROFILE"
  node_port=$(k -n istio-system get service istio-ingressgateway -o jsonpath='{.spec.ports[?(@.port==80)].nodePort}')
  gateway="http://$(minikube -p "$PROFILE" ip):$node_port"
  if ! answers "$gateway"; then
    # The node is not reachable from this host: forward a local port to the gateway instead.
    local_port=18080
    log "$gateway is not reachable from here; port-forwarding 127.0.0.1:$local_port to the gateway"
    k -n istio-system port-forward service/istio-ingressgateway "$local_port:80" >/dev/null 2>&1 &
    forward_pid=$!
    trap 'kill "$forward_pid" 2>/dev/null || true' EXIT
    gateway="http://127.0.0.1:$local_port"
    for _ in $(seq 50); do answers "$gateway" && break; sleep 0.2; done
  fi
fi

log "checking that the services answer through $gateway"
for service in accounts orders fulfillment; do
  wait_http "$gateway/$service/actuator/health" 60
done
log "loading the sample data through $gateway"
python3 scripts/refresh-sample-data.py --base "$gateway"
