# Shared by the storefront scripts: where things live, which servers to use, and how to wait for
# them. Sourced, not run.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Where cargo builds: the services' binaries are under $TARGET_DIR/release.
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
TOOLS_DIR="${STOREFRONT_TOOLS_DIR:-$HOME/.local/share/storefront}"
VENV_DIR="$TOOLS_DIR/venv"
# The data lake's own tools: versitygw (bin/) and the PyIceberg venv (venv/).
LAKE_TOOLS_DIR="$TOOLS_DIR/lake"

# Where the local servers keep their data and logs, where they listen, and which servers to use;
# read again by use_private_servers.
read_server_settings() {
  DATA_DIR="${STOREFRONT_DATA_DIR:-$REPO_ROOT/.data}"
  # The local servers (dev/kafka.sh, dev/mongodb.sh) listen here.
  KAFKA_PORT="${STOREFRONT_KAFKA_PORT:-9092}"
  KAFKA_CONTROLLER_PORT="${STOREFRONT_KAFKA_CONTROLLER_PORT:-9093}"
  DATABASE_PORT="${STOREFRONT_DATABASE_PORT:-27017}"
  # `memory`, or an H2 file: the local run keeps its data across restarts.
  DATABASE_STORAGE="${STOREFRONT_DATABASE_STORAGE:-$DATA_DIR/mongodb.h2}"
  # A Kafka or MongoDB of your own: set these and the scripts start nothing for that server.
  KAFKA_BOOTSTRAP="${STOREFRONT_KAFKA_BOOTSTRAP:-127.0.0.1:$KAFKA_PORT}"
  DATABASE_URI="${STOREFRONT_MONGODB_URI:-mongodb://127.0.0.1:$DATABASE_PORT}"
  # The data lake (docs/lake.md), when started: its object store, its Connect worker's REST
  # API and the worker's Prometheus metrics listen here.
  LAKE_S3_PORT="${STOREFRONT_LAKE_S3_PORT:-7070}"
  LAKE_CONNECT_PORT="${STOREFRONT_LAKE_CONNECT_PORT:-8083}"
  LAKE_METRICS_PORT="${STOREFRONT_LAKE_METRICS_PORT:-9404}"
  # `plaintext` (the default): anyone on 127.0.0.1 may read and write every topic. `sasl_ssl`:
  # the local Kafka takes SASL_SSL only (SCRAM-SHA-512, a local CA), one user per service with
  # a generated password, and the ACLs of deploy/kafka/grants.txt; its users, passwords, CA and
  # the admin client's settings are in KAFKA_SECURITY_DIR, its data in a folder of its own.
  KAFKA_SECURITY="${STOREFRONT_KAFKA_SECURITY:-plaintext}"
  KAFKA_SECURITY_DIR="$DATA_DIR/kafka-security"
}
read_server_settings

# Every topic with its dead-letter topic; shared-events/src/topics.rs is the source, and a test
# checks that this list matches it.
TOPICS=(
  accounts.customer.change
  orders.order.fulfill
  fulfillment.order.change
)
DEAD_LETTER_SUFFIX=".DLT"
# The changelogs among them, compacted: the latest record of each key is kept for good.
COMPACTED_TOPICS=(accounts.customer.change)
# Their cleanup.policy: `compact`, or `delete` while an upstream producer (the Spring accounts)
# still writes keyless records, which a compacted topic refuses (docs/upstream-fleet.md). Set on
# existing topics too, so a rerun of `infra.sh start` switches it.
CHANGELOG_CLEANUP_POLICY="${STOREFRONT_CHANGELOG_CLEANUP_POLICY:-compact}"

log() { printf '==> %s\n' "$*" >&2; }

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# A port nothing listens on right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# use_private_servers DIR: the servers scripts/infra.sh starts from now on are this script's own,
# on free ports, with their data in DIR (emptied first, after stopping what an interrupted run
# left there) and the database in memory; the services and tests started from here use them.
use_private_servers() {
  STOREFRONT_DATA_DIR=$1 bash "$REPO_ROOT/scripts/infra.sh" stop
  rm -rf "$1"
  STOREFRONT_DATA_DIR=$1
  STOREFRONT_KAFKA_PORT=$(free_port)
  STOREFRONT_KAFKA_CONTROLLER_PORT=$(free_port)
  STOREFRONT_DATABASE_PORT=$(free_port)
  STOREFRONT_DATABASE_STORAGE=memory
  STOREFRONT_LAKE_S3_PORT=$(free_port)
  STOREFRONT_LAKE_CONNECT_PORT=$(free_port)
  STOREFRONT_LAKE_METRICS_PORT=$(free_port)
  export STOREFRONT_DATA_DIR STOREFRONT_KAFKA_PORT STOREFRONT_KAFKA_CONTROLLER_PORT \
    STOREFRONT_DATABASE_PORT STOREFRONT_DATABASE_STORAGE STOREFRONT_LAKE_S3_PORT \
    STOREFRONT_LAKE_CONNECT_PORT STOREFRONT_LAKE_METRICS_PORT
  read_server_settings
  export APP_KAFKA__BOOTSTRAP_SERVERS="$KAFKA_BOOTSTRAP" APP_DATABASE__URI="$DATABASE_URI"
}

# kafka_settings_of SERVICE: in the secured mode, exports the APP_KAFKA__ settings with which
# SERVICE connects as its own user (password from KAFKA_SECURITY_DIR/users, the local CA); in
# the plain mode, nothing. Run it in the subshell that starts the service.
kafka_settings_of() {
  [[ $KAFKA_SECURITY == sasl_ssl ]] || return 0
  local password
  password=$(awk -v user="$1" '$1 == user { print $2 }' "$KAFKA_SECURITY_DIR/users" 2>/dev/null)
  if [[ -z $password ]]; then
    log "no Kafka user $1 in $KAFKA_SECURITY_DIR/users: start the secured Kafka first (scripts/infra.sh start)"
    return 1
  fi
  export APP_KAFKA__SECURITY_PROTOCOL=SASL_SSL APP_KAFKA__SASL_MECHANISM=SCRAM-SHA-512 \
    APP_KAFKA__SASL_USERNAME="$1" APP_KAFKA__SASL_PASSWORD="$password" \
    APP_KAFKA__SSL_CA_LOCATION="$KAFKA_SECURITY_DIR/ca.pem"
}

# wait_http URL SECONDS: wait until URL answers 2xx.
wait_http() {
  local url=$1 deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "$url did not answer within $2 s"
      return 1
    fi
    sleep 0.2
  done
}
