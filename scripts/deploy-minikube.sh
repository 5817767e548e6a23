#!/usr/bin/env bash
# Deploys the storefront to minikube behind the Istio ingress gateway, with the real Kafka
# (Strimzi) and the real MongoDB, then prints the gateway URL:
#   1. starts minikube (profile "storefront") with enough CPU and memory for Istio and Kafka;
#   2. installs Istio (default profile) and its Prometheus and Grafana add-ons;
#   3. installs the Strimzi operator into the kafka namespace;
#   4. builds the three images and the load generator's into minikube's Docker;
#   5. applies k8s/overlays/minikube and istio/, and mounts the dashboard into Grafana;
#   6. waits until MongoDB, Kafka, the topics and the Kafka users are ready, copies each service's
#      Kafka password (the Secret the Strimzi User Operator generated) and the cluster CA into
#      dev, then waits for the services and the gateway.
#   7. with --lake (or STOREFRONT_LAKE=1): the data lake of k8s/lake/minikube (docs/lake.md): the
#      object store's and the lake tools' images, minikube's registry add-on (the Strimzi operator
#      builds the Connect image and pushes it there), the tables, the Connect cluster and the
#      sink, waiting until the connector runs.
# Idempotent: rerun it after any change; what is already there is left or updated in place, and
# the services restart only when their image changed.
# Needs minikube, kubectl, curl and (for the image build) the docker CLI. Settings, by environment:
#   MINIKUBE_PROFILE (storefront), MINIKUBE_CPUS (4), MINIKUBE_MEMORY (8192, MB),
#   MINIKUBE_DISK_SIZE (30g), MINIKUBE_DRIVER (minikube's choice), MINIKUBE_KUBERNETES_VERSION,
#   ISTIO_VERSION (1.29.2), STRIMZI_VERSION (0.47.0); with --lake, STOREFRONT_LAKE_CONTRACT_CHECK_REPOSITORY
#   (required: the Maven repository the lake's contract check is deployed to, docs/lake.md).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

PROFILE=${MINIKUBE_PROFILE:-storefront}
ISTIO_VERSION=${ISTIO_VERSION:-1.29.2}
# 0.47 serves kafka.strimzi.io/v1beta2 and runs Kafka 4.0.0, which k8s/infra/kafka asks for.
STRIMZI_VERSION=${STRIMZI_VERSION:-0.47.0}
IMAGE_TAG=0.1.0
SERVICES=(accounts orders fulfillment)
ISTIO_DIR="$TOOLS_DIR/istio-$ISTIO_VERSION"

k() { kubectl --context "$PROFILE" "$@"; }

lake=${STOREFRONT_LAKE:-0}
case "${1:-}" in
  "") ;;
  --lake) lake=1 ;;
  *) log "usage: scripts/deploy-minikube.sh [--lake]"; exit 2 ;;
esac
# The Maven repository the lake's contract check is deployed to (mvn deploy, docs/lake.md): the
# operator's build fetches the transform from there, as it is on no public repository.
if ((lake)) && [[ -z ${STOREFRONT_LAKE_CONTRACT_CHECK_REPOSITORY:-} ]]; then
  log "--lake: set STOREFRONT_LAKE_CONTRACT_CHECK_REPOSITORY to the Maven repository the contract check is deployed to (docs/lake.md)"
  exit 2
fi

for tool in minikube kubectl curl; do
  command -v "$tool" >/dev/null || { log "$tool is needed; install it first"; exit 1; }
done

# --- 1. minikube ----------------------------------------------------------------------------
if [[ "$(minikube -p "$PROFILE" status --format '{{.Host}} {{.APIServer}}' 2>/dev/null || true)" == "Running Running" ]]; then
  log "minikube profile $PROFILE is already running"
else
  # Istio's control plane and gateway, a Kafka node and MongoDB need about 6 GB together.
  log "starting minikube profile $PROFILE (${MINIKUBE_CPUS:-4} CPUs, ${MINIKUBE_MEMORY:-8192} MB)"
  # The registry add-on serves plain HTTP on a cluster IP of the service range: the nodes' Docker
  # pulls the lake's Connect image from it (--lake).
  args=(--cpus "${MINIKUBE_CPUS:-4}" --memory "${MINIKUBE_MEMORY:-8192}" --disk-size "${MINIKUBE_DISK_SIZE:-30g}"
    --container-runtime docker --insecure-registry 10.96.0.0/12)
  [[ -n ${MINIKUBE_DRIVER:-} ]] && args+=(--driver "$MINIKUBE_DRIVER")
  [[ -n ${MINIKUBE_KUBERNETES_VERSION:-} ]] && args+=(--kubernetes-version "$MINIKUBE_KUBERNETES_VERSION")
  minikube start -p "$PROFILE" "${args[@]}"
fi
log "enabling the metrics-server add-on (the HorizontalPodAutoscalers read CPU use from it)"
minikube -p "$PROFILE" addons enable metrics-server >/dev/null

# --- 2. Istio -------------------------------------------------------------------------------
if [[ ! -x "$ISTIO_DIR/bin/istioctl" ]]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) platform=linux-amd64 ;;
    Linux-aarch64 | Linux-arm64) platform=linux-arm64 ;;
    Darwin-x86_64) platform=osx ;;
    Darwin-arm64) platform=osx-arm64 ;;
    *) log "no Istio release for $(uname -s) $(uname -m)"; exit 1 ;;
  esac
  log "downloading Istio $ISTIO_VERSION ($platform) into $TOOLS_DIR"
  mkdir -p "$TOOLS_DIR"
  curl -fsSL "https://github.com/istio/istio/releases/download/$ISTIO_VERSION/istio-$ISTIO_VERSION-$platform.tar.gz" |
    tar -xz -C "$TOOLS_DIR"
fi
log "installing Istio $ISTIO_VERSION, default profile (istiod and the ingress gateway)"
"$ISTIO_DIR/bin/istioctl" install --context "$PROFILE" --set profile=default --skip-confirmation
log "installing Istio's Prometheus and Grafana add-ons"
k apply -f "$ISTIO_DIR/samples/addons/prometheus.yaml" -f "$ISTIO_DIR/samples/addons/grafana.yaml" >/dev/null

# --- 3. Strimzi -----------------------------------------------------------------------------
strimzi_manifest="$TOOLS_DIR/strimzi-cluster-operator-$STRIMZI_VERSION.yaml"
if [[ ! -s "$strimzi_manifest" ]]; then
  log "downloading the Strimzi $STRIMZI_VERSION operator manifest"
  mkdir -p "$TOOLS_DIR"
  curl -fsSL -o "$strimzi_manifest.part" \
    "https://github.com/strimzi/strimzi-kafka-operator/releases/download/$STRIMZI_VERSION/strimzi-cluster-operator-$STRIMZI_VERSION.yaml"
  mv "$strimzi_manifest.part" "$strimzi_manifest"
fi
log "installing the Strimzi $STRIMZI_VERSION operator into namespace kafka"
k create namespace kafka --dry-run=client -o yaml | k apply -f - >/dev/null
# Every namespaced object into kafka, the namespace the operator then watches (see the script).
# Server-side apply: the CRDs are too large for the annotation of a client-side apply.
bash deploy/strimzi/render-operator.sh "$strimzi_manifest" kafka |
  k apply --server-side --force-conflicts -f - >/dev/null
k wait --for condition=established --timeout=120s \
  crd/kafkas.kafka.strimzi.io crd/kafkanodepools.kafka.strimzi.io crd/kafkatopics.kafka.strimzi.io \
  crd/kafkausers.kafka.strimzi.io crd/kafkaconnects.kafka.strimzi.io crd/kafkaconnectors.kafka.strimzi.io >/dev/null
k -n kafka rollout status deployment/strimzi-cluster-operator --timeout=300s

# --- 4. images ------------------------------------------------------------------------------
# actuator/info reports it; the image build has no .git.
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
image_id() { docker image inspect --format '{{.Id}}' "storefront/$1:$IMAGE_TAG" 2>/dev/null || true; }
changed=()
# minikube's own Docker daemon: the images are then in the cluster with no registry, and the
# docker CLI sends only what .dockerignore allows. The Dockerfile's build stage is the same for
# the three images, so the second and third builds reuse it.
if command -v docker >/dev/null && docker_env=$(minikube -p "$PROFILE" docker-env --shell bash 2>/dev/null); then
  eval "$docker_env"
  for service in "${SERVICES[@]}"; do
    before=$(image_id "$service")
    log "building image storefront/$service:$IMAGE_TAG (the first build compiles the workspace: 10-20 minutes)"
    DOCKER_BUILDKIT=1 docker build --build-arg "SERVICE=$service" --build-arg "STOREFRONT_GIT_COMMIT=$commit" \
      -t "storefront/$service:$IMAGE_TAG" .
    [[ "$(image_id "$service")" == "$before" ]] || changed+=("$service")
  done
  log "building image storefront/loadgen:$IMAGE_TAG (the load generator of k8s/loadgen)"
  DOCKER_BUILDKIT=1 docker build --target loadgen -t "storefront/loadgen:$IMAGE_TAG" .
  if ((lake)); then
    for part in s3 tools; do
      log "building image storefront/lake-$part:$IMAGE_TAG (dev/lake/Dockerfile)"
      DOCKER_BUILDKIT=1 docker build -f dev/lake/Dockerfile --target "$part" -t "storefront/lake-$part:$IMAGE_TAG" .
    done
  fi
else
  for service in "${SERVICES[@]}"; do
    log "building image storefront/$service:$IMAGE_TAG inside minikube (no docker CLI, or not the docker runtime)"
    minikube -p "$PROFILE" image build -t "storefront/$service:$IMAGE_TAG" --build-opt "build-arg=SERVICE=$service" \
      --build-opt "build-arg=STOREFRONT_GIT_COMMIT=$commit" .
    changed+=("$service")
  done
  log "building image storefront/loadgen:$IMAGE_TAG inside minikube (the load generator of k8s/loadgen)"
  minikube -p "$PROFILE" image build -t "storefront/loadgen:$IMAGE_TAG" --build-opt "target=loadgen" .
  if ((lake)); then
    for part in s3 tools; do
      log "building image storefront/lake-$part:$IMAGE_TAG inside minikube (dev/lake/Dockerfile)"
      minikube -p "$PROFILE" image build -t "storefront/lake-$part:$IMAGE_TAG" -f dev/lake/Dockerfile \
        --build-opt "target=$part" .
    done
  fi
fi

# --- 5. the storefront ----------------------------------------------------------------------
log "applying k8s/overlays/minikube (namespaces dev, mongo, kafka; MongoDB; Kafka; the services)"
k apply -k k8s/overlays/minikube >/dev/null
log "applying istio/ (gateway, routes, destination rules, strict mTLS in dev)"
k apply -k istio >/dev/null
log "mounting the storefront dashboard into Istio's Grafana"
k -n istio-system patch deployment grafana --patch-file k8s/istio-addons/grafana-patch.yaml >/dev/null
for service in "${changed[@]}"; do
  # Same tag, new image: a restart makes the pods run it.
  log "restarting $service, whose image changed"
  k -n dev rollout restart "deployment/$service" >/dev/null
done

# --- 6. readiness ---------------------------------------------------------------------------
log "waiting for MongoDB"
k -n mongo rollout status statefulset/mongo --timeout=300s
log "waiting for the Kafka cluster (a few minutes on first start)"
k -n kafka wait kafka/storefront --for=condition=Ready --timeout=900s
log "waiting for the topics"
k -n kafka wait kafkatopic --all --for=condition=Ready --timeout=300s
log "waiting for the Kafka users"
k -n kafka wait kafkauser --all --for=condition=Ready --timeout=300s
# copy_secret NAME KEY: Secret NAME's KEY from kafka into dev, where the services read it (a pod
# reads Secrets of its own namespace only). The value goes through a pipe, never a command line.
copy_secret() {
  local value
  value=$(k -n kafka get secret "$1" -o "jsonpath={.data.${2//./\\.}}")
  [[ -n $value ]] || { log "Secret kafka/$1 has no $2"; exit 1; }
  printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: dev\ndata:\n  %s: %s\n' "$1" "$2" "$value" |
    k apply -f - >/dev/null
}
log "copying each service's Kafka password and the cluster CA into dev"
for user in $(k -n kafka get kafkauser -o jsonpath='{.items[*].metadata.name}'); do
  # The lake's Connect worker runs in kafka and reads its password there.
  [[ $user == lake-connect ]] && continue
  copy_secret "$user" password
done
copy_secret storefront-cluster-ca-cert ca.crt
for service in "${SERVICES[@]}"; do
  log "waiting for $service"
  k -n dev rollout status "deployment/$service" --timeout=300s
done
k -n istio-system rollout status deployment/istio-ingressgateway --timeout=300s

# --- 7. the lake ----------------------------------------------------------------------------
if ((lake)); then
  log "enabling the registry add-on (the operator pushes the lake's Connect image there)"
  minikube -p "$PROFILE" addons enable registry >/dev/null
  registry=$(k -n kube-system get service registry -o jsonpath='{.spec.clusterIP}')
  [[ -n $registry ]] || { log "the registry add-on has no Service"; exit 1; }
  printf 'CONNECT_IMAGE=%s/storefront/lake-connect:%s\nCONTRACT_CHECK_REPOSITORY=%s\n' "$registry" "$IMAGE_TAG" \
    "$STOREFRONT_LAKE_CONTRACT_CHECK_REPOSITORY" >k8s/lake/minikube/registry.env
  log "applying k8s/lake/minikube (object store, tables, the lake's topics, Connect and the Iceberg sink)"
  k apply -k k8s/lake/minikube >/dev/null
  k -n kafka rollout status deployment/lake-s3 --timeout=300s
  k -n kafka wait job/lake-tables --for=condition=complete --timeout=600s
  log "waiting for the Connect cluster (the operator builds its image first: several minutes)"
  k -n kafka wait kafkaconnect/storefront-lake --for=condition=Ready --timeout=1800s
  k -n kafka wait kafkaconnector/storefront-lake --for=condition=Ready --timeout=600s
fi
k -n istio-system rollout status deployment/grafana --timeout=300s

# The ingress gateway's Service is a LoadBalancer, which minikube serves through a node port.
node_port=$(k -n istio-system get service istio-ingressgateway \
  -o jsonpath='{.spec.ports[?(@.port==80)].nodePort}')
gateway="http://$(minikube -p "$PROFILE" ip):$node_port"
if curl -fsS --max-time 5 -o /dev/null "$gateway/accounts/actuator/health"; then
  reachable="answers"
else
  # With the docker driver on macOS or Windows the node's address is not reachable from the host.
  reachable="not reachable from here: run 'minikube -p $PROFILE tunnel' and use http://127.0.0.1, or scripts/refresh-sample-data-minikube.sh, which port-forwards"
fi

cat <<DONE

The storefront is running on minikube (profile $PROFILE), behind the Istio ingress gateway:
  gateway      $gateway  ($reachable)
  accounts     $gateway/accounts/customers
  orders       $gateway/orders/customers
  fulfillment  $gateway/fulfillment/fulfillments
Load the sample data:  scripts/refresh-sample-data-minikube.sh
Grafana (dashboard Storefront):  $ISTIO_DIR/bin/istioctl dashboard grafana --context $PROFILE
Prometheus:                      $ISTIO_DIR/bin/istioctl dashboard prometheus --context $PROFILE
mongo-express:  kubectl --context $PROFILE -n mongo port-forward svc/mongo-express 8081  (admin / storefront-dev-only)
Jaeger (traces):  kubectl --context $PROFILE -n tracing port-forward svc/jaeger 16686, then http://localhost:16686
Load through the gateway (5 minutes):  kubectl --context $PROFILE apply -k k8s/loadgen; kubectl --context $PROFILE -n dev logs -f job/storefront-loadgen
Require a JWT for writes:  edit istio/jwt/request-authentication.yaml, then kubectl --context $PROFILE apply -k istio/jwt
Remove it all:  scripts/teardown-minikube.sh  (--all also deletes the minikube profile)
DONE
if ((lake)); then
  cat <<LAKE
The lake (docs/lake.md):  kubectl --context $PROFILE -n kafka get kafkaconnector storefront-lake -o jsonpath='{.status.connectorStatus}'
  Connect's REST API:  kubectl --context $PROFILE -n kafka port-forward svc/storefront-lake-connect-api 8083
LAKE
fi
