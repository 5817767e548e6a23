#!/usr/bin/env bash
# Benchmarks the storefront on this machine: builds the release binaries, starts a broker (tansu,
# in memory unless STOREFRONT_BROKER_STORAGE says otherwise) and a MongoDB stand-in of its own on free ports, then runs storefront-bench, which
# starts the three services on free ports with their own databases, consumer groups and topics,
# measures raw Kafka and MongoDB on those same two servers, drives the realistic flow, prints the
# tables (Markdown) and writes the report. Everything it started is stopped at the end.
#   scripts/bench.sh [storefront-bench options]    e.g. --flow-seconds 60 --concurrency 8; --help
# About 85 s of load by default, plus start-up and the build. The report:
# ${CARGO_TARGET_DIR:-target}/bench/report.json and report.md, each run's logs beside them.
#
# Why its own servers rather than the shared ones of scripts/infra.sh: other work's tests on the
# shared servers would distort the figures, and the benchmark's load can break the shared broker
# (tansu 0.6 panicked in its idempotent-producer check under this load, and then answered every
# request with an error until restarted).
# Why in memory: tansu's sqlite engine, not the services, was then the limit (the outbox relay's
# sends waited up to 2 s for acknowledgements, ~800 records/s), and it stopped serving records
# part-way through the bulk baseline.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"
BENCH_DIR="$TARGET_DIR/bench"

bash scripts/setup.sh
log "building the release binaries"
# Two builds, so that the services are exactly the binaries run-local.sh and the Dockerfile build:
# built together with the benchmark, cargo would unify features across all four and rebuild them.
cargo build --release --locked -p accounts -p orders -p fulfillment
cargo build --release --locked -p storefront-bench

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pids=()
stop_servers() {
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap stop_servers EXIT

servers="$BENCH_DIR/servers"
rm -rf "$servers"
mkdir -p "$servers/broker"
broker_port=$(free_port)
log "starting a broker on 127.0.0.1:$broker_port (log: $servers/broker.log)"
(cd "$servers/broker" && exec "$(tansu_bin)" broker \
  --listener-url "tcp://127.0.0.1:$broker_port" \
  --advertised-listener-url "tcp://127.0.0.1:$broker_port" \
  --storage-engine "${STOREFRONT_BROKER_STORAGE:-memory://tansu/}" >"$servers/broker.log" 2>&1) &
pids+=($!)
database_port=$(free_port)
log "starting a MongoDB stand-in on 127.0.0.1:$database_port (log: $servers/database.log)"
"$VENV_DIR/bin/python" dev/mongo-standin/server.py --host 127.0.0.1 --port "$database_port" \
  >"$servers/database.log" 2>&1 &
pids+=($!)
wait_port "$broker_port" broker 30
wait_port "$database_port" database 30

# The benchmark reads the settings the services read, and the services inherit them.
APP_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:$broker_port" \
  APP_DATABASE__URI="mongodb://127.0.0.1:$database_port" \
  "$TARGET_DIR/release/storefront-bench" \
  --bin-dir "$TARGET_DIR/release" --out "$BENCH_DIR/report.json" "$@"
