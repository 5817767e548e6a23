#!/usr/bin/env bash
# Installs what building, running and testing the storefront locally needs, once per machine:
# the C toolchain pieces rdkafka builds with, Prometheus and Chromium (the tests use them), the tansu
# Kafka broker, and the Python environment of the MongoDB stand-in. Everything already present
# is skipped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

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

missing=()
for tool in gcc g++ make pkg-config curl; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
# The tests scrape the services with a real Prometheus server and check expositions with promtool.
command -v prometheus >/dev/null || missing+=(prometheus)
# ... and open each service's Swagger UI in headless Chromium.
command -v chromium >/dev/null || missing+=(chromium)
# rdkafka's bundled librdkafka links zlib and OpenSSL.
dpkg -s zlib1g-dev >/dev/null 2>&1 || missing+=(zlib1g-dev)
dpkg -s libssl-dev >/dev/null 2>&1 || missing+=(libssl-dev)
if ((${#missing[@]})); then
  apt_install "${missing[@]}"
else
  log "C toolchain present"
fi

if [[ -x "$(tansu_bin)" ]] && "$(tansu_bin)" --version | grep -q "$TANSU_VERSION"; then
  log "tansu $TANSU_VERSION present"
else
  log "building tansu $TANSU_VERSION (once per machine, several minutes)"
  cargo install tansu --version "$TANSU_VERSION" --locked --features libsql,dynostore
fi

# The MongoDB stand-in and the Python tools of the tests share one environment.
requirements=("$REPO_ROOT/dev/mongo-standin/requirements.txt" "$REPO_ROOT/scripts/requirements-tools.txt")
stamp="$VENV_DIR/.requirements"
if [[ -f "$stamp" ]] && [[ "$(cat "$stamp")" == "$(cat "${requirements[@]}")" ]]; then
  log "Python environment present"
else
  log "creating the Python environment in $VENV_DIR"
  mkdir -p "$TOOLS_DIR"
  python3 -m venv "$VENV_DIR"
  for file in "${requirements[@]}"; do
    "$VENV_DIR/bin/pip" install --quiet --disable-pip-version-check -r "$file"
  done
  cat "${requirements[@]}" >"$stamp"
fi
