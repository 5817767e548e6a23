# Shared by the storefront scripts: where things live, and how to wait for a port.
# Sourced, not run.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA_DIR="${STOREFRONT_DATA_DIR:-$REPO_ROOT/.data}"
TOOLS_DIR="${STOREFRONT_TOOLS_DIR:-$HOME/.local/share/storefront}"
VENV_DIR="$TOOLS_DIR/venv"
TANSU_VERSION="0.6.0"
BROKER_PORT=9092
DATABASE_PORT=27017

# Every topic with its dead-letter topic; shared-events/src/topics.rs is the source, and a test
# checks that this list matches it.
TOPICS=(
  accounts.customer.change
  orders.order.fulfill
  fulfillment.order.change
)
DEAD_LETTER_SUFFIX=".DLT"

log() { printf '==> %s\n' "$*" >&2; }

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_port PORT NAME SECONDS: wait until something accepts connections on PORT.
wait_port() {
  local port=$1 name=$2 deadline=$((SECONDS + $3))
  until port_open "$port"; do
    if ((SECONDS >= deadline)); then
      log "$name did not open port $port within $3 s"
      return 1
    fi
    sleep 0.2
  done
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

tansu_bin() {
  command -v tansu 2>/dev/null || echo "$HOME/.cargo/bin/tansu"
}
