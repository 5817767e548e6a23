#!/usr/bin/env bash
# Builds and runs the whole storefront on this machine: the tansu broker and the MongoDB
# stand-in on 127.0.0.1, then accounts (8085), orders (8090) and fulfillment (8095).
# Prints the URLs; Ctrl-C stops everything it started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

bash scripts/setup.sh
log "building the services (release)"
cargo build --release --locked -p accounts -p orders -p fulfillment

stop_infra=false
if ! port_open "$BROKER_PORT" && ! port_open "$DATABASE_PORT"; then
  stop_infra=true
fi
bash scripts/infra.sh start

pids=()
cleanup() {
  trap - EXIT
  log "stopping the services"
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if $stop_infra; then
    bash scripts/infra.sh stop
  fi
}
trap cleanup EXIT
interrupted=false
# Ctrl-C reaches the services too (same process group); the trap only notes that it was asked.
trap 'interrupted=true' INT TERM

mkdir -p "$DATA_DIR"
declare -A ports=([accounts]=8085 [orders]=8090 [fulfillment]=8095)
for service in accounts orders fulfillment; do
  log "starting $service (log: $DATA_DIR/$service.log)"
  "target/release/$service" >"$DATA_DIR/$service.log" 2>&1 &
  pids+=($!)
done
for service in accounts orders fulfillment; do
  wait_http "http://127.0.0.1:${ports[$service]}/$service/actuator/health" 60
done

cat <<URLS

The storefront is running:
  accounts     http://127.0.0.1:8085/accounts/customers
  orders       http://127.0.0.1:8090/orders/customers
  fulfillment  http://127.0.0.1:8095/fulfillment/fulfillments
  broker       127.0.0.1:$BROKER_PORT (Kafka protocol)
  database     mongodb://127.0.0.1:$DATABASE_PORT
Load the sample data:  python3 scripts/refresh-sample-data.py
Press Ctrl-C to stop everything.
URLS

# Returns when a service exits on its own or Ctrl-C arrives.
wait -n "${pids[@]}" || true
if ! $interrupted; then
  log "a service stopped by itself; see its log in $DATA_DIR"
fi
