#!/usr/bin/env bash
# Installs what building and running the storefront locally needs, once per machine: the C
# toolchain pieces rdkafka builds with, Java and Maven, and the local servers (Apache Kafka and
# mongo-java-server, resolved from Maven Central by dev/pom.xml).
#   scripts/setup.sh             what scripts/run-local.sh needs
#   scripts/setup.sh --test      also what the tests need: cargo-nextest, Prometheus and
#                                Chromium, the Python tools (OpenAPI validator, schemathesis,
#                                jsonschema) and the npm ones (AsyncAPI's parser)
#   scripts/setup.sh --packages  only the Debian packages (what the Rust build needs among them)
#   scripts/setup.sh --servers   only the local servers, with Maven (run-local.sh runs this while
#                                cargo builds: the one waits on the network, the other on the CPU)
#   scripts/setup.sh --lake      only the data lake's parts (docs/lake.md): the Kafka Connect worker
#                                and the Iceberg sink plugin (Maven, dev/lake/pom.xml), Versity S3
#                                Gateway (built from the Go module proxy) and the PyIceberg venv;
#                                --test installs them too, for the lake's system test
# Everything already present is skipped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

with_tests=false packages=true servers=true lake=false
case "${1:-}" in
  "") ;;
  --test) with_tests=true lake=true ;;
  --packages) servers=false ;;
  --servers) packages=false ;;
  --lake) packages=false servers=false lake=true ;;
  *)
    log "unknown option $1; see the top of scripts/setup.sh"
    exit 2
    ;;
esac

apt_updated=false
apt_install() {
  if ! $apt_updated; then
    log "apt-get update"
    apt-get update -qq
    apt_updated=true
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_packages() {
  local missing=()
  for tool in gcc g++ make pkg-config curl; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  # rdkafka's bundled librdkafka links OpenSSL (zlib is compiled from the libz-sys crate).
  dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
  # The local Kafka and MongoDB servers run on Java 17, resolved and compiled by Maven.
  command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
  command -v mvn >/dev/null || missing+=(maven)
  if $with_tests; then
    # The tests scrape the services with a real Prometheus server and check expositions with
    # promtool, and open each service's Swagger UI in headless Chromium.
    command -v prometheus >/dev/null || missing+=(prometheus)
    command -v chromium >/dev/null || missing+=(chromium)
    # The secured broker of the security tests gets its CA and certificate from openssl.
    command -v openssl >/dev/null || missing+=(openssl)
  fi
  if ((${#missing[@]})); then
    apt_install "${missing[@]}"
  else
    log "C toolchain, Java and Maven present"
  fi
}

build_servers() {
  # The local servers: compiled and their classpath resolved again only when dev/ changed.
  local stamp="$REPO_ROOT/dev/target/.inputs" inputs maven_log
  inputs=$(cd "$REPO_ROOT/dev" && find pom.xml src -type f | sort | xargs sha256sum)
  if [[ -f "$stamp" && -f "$REPO_ROOT/dev/target/classpath" ]] && [[ "$(cat "$stamp")" == "$inputs" ]]; then
    log "local servers (Kafka, mongo-java-server) present"
  else
    log "resolving Apache Kafka and mongo-java-server with Maven (once per change of dev/pom.xml)"
    mkdir -p "$REPO_ROOT/dev/target"
    maven_log="$REPO_ROOT/dev/target/maven.log"
    if ! mvn -B -f "$REPO_ROOT/dev/pom.xml" compile dependency:build-classpath >"$maven_log" 2>&1; then
      log "Maven failed to build the local servers; see $maven_log"
      exit 1
    fi
    echo "$inputs" >"$stamp"
  fi
}

# The lake's object store, built from the Go module proxy.
VERSITYGW_VERSION=v1.8.0

build_lake() {
  local stamp="$REPO_ROOT/dev/lake/.inputs" inputs maven_log gateway="$LAKE_TOOLS_DIR/bin/versitygw"
  if ! command -v javac >/dev/null || ! command -v mvn >/dev/null; then
    install_packages
  fi
  # The POMs, the contract check's sources and the schemas it packages.
  inputs=$(cd "$REPO_ROOT" && { find dev/lake -name pom.xml -not -path '*/target/*'
    find dev/lake/contract-check/src shared-events/schemas -type f; } | sort | xargs sha256sum)
  if [[ -f "$stamp" && -f "$REPO_ROOT/dev/lake/connect/target/classpath" ]] &&
    [[ "$(cat "$stamp")" == "$inputs" ]]; then
    log "Kafka Connect, the Iceberg sink and the contract check present"
  else
    log "resolving Kafka Connect and the Iceberg sink, building the contract check with Maven (once per change of dev/lake or the schemas)"
    maven_log="$REPO_ROOT/dev/lake/maven.log"
    rm -rf "$REPO_ROOT/dev/lake/iceberg-sink/target/plugins" "$REPO_ROOT/dev/lake/contract-check/target/plugins"
    if ! mvn -B -f "$REPO_ROOT/dev/lake/pom.xml" package >"$maven_log" 2>&1; then
      log "Maven failed to assemble the lake's Connect worker; see $maven_log"
      exit 1
    fi
    echo "$inputs" >"$stamp"
  fi
  if [[ -x "$gateway" && "$(cat "$gateway.version" 2>/dev/null)" == "$VERSITYGW_VERSION" ]]; then
    log "Versity S3 Gateway present"
  else
    # The Go toolchain of this kind of machine; Debian's golang-go is too old for versitygw.
    command -v go >/dev/null || PATH="$PATH:/usr/local/go/bin"
    command -v go >/dev/null || {
      log "go not found: Versity S3 Gateway needs Go 1.24 or newer (the machine's toolchain)"
      exit 1
    }
    log "building Versity S3 Gateway $VERSITYGW_VERSION (once per machine, a few minutes)"
    mkdir -p "$LAKE_TOOLS_DIR/bin"
    GOBIN="$LAKE_TOOLS_DIR/bin" go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
    echo "$VERSITYGW_VERSION" >"$gateway.version"
  fi
  local requirements="$REPO_ROOT/scripts/requirements-lake.txt" venv="$LAKE_TOOLS_DIR/venv"
  if [[ "$(cat "$venv/.requirements" 2>/dev/null)" == "$(cat "$requirements")" ]]; then
    log "the lake's Python tools present"
  else
    log "installing the lake's Python tools (PyIceberg, DuckDB, matplotlib) into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cat "$requirements" >"$venv/.requirements"
  fi
}

if $packages; then
  install_packages
fi
if $servers; then
  build_servers
fi
if $lake; then
  build_lake
fi
$with_tests || exit 0

if command -v cargo-nextest >/dev/null; then
  log "cargo-nextest present"
else
  log "building cargo-nextest (once per machine, a few minutes)"
  cargo install cargo-nextest --locked
fi

requirements="$REPO_ROOT/scripts/requirements-tools.txt"
stamp="$VENV_DIR/.requirements"
if [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$(cat "$requirements")" ]]; then
  log "Python tools present"
else
  log "installing the Python tools into $VENV_DIR"
  mkdir -p "$TOOLS_DIR"
  python3 -m venv "$VENV_DIR"
  "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  cat "$requirements" >"$stamp"
fi

# The npm tools the tests use: AsyncAPI's own parser, which validates each service's document.
npm_packages="@asyncapi/parser@3.6.6"
npm_dir="$TOOLS_DIR/npm-tools"
if [[ "$(cat "$npm_dir/.packages" 2>/dev/null)" == "$npm_packages" ]]; then
  log "npm tools present"
else
  log "installing $npm_packages into $npm_dir"
  command -v npm >/dev/null || apt_install nodejs npm
  mkdir -p "$npm_dir"
  [[ -f "$npm_dir/package.json" ]] || echo '{"private": true, "type": "module"}' >"$npm_dir/package.json"
  (cd "$npm_dir" && npm install --silent --no-audit --no-fund --no-save $npm_packages)
  echo "$npm_packages" >"$npm_dir/.packages"
fi
