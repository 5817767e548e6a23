#!/usr/bin/env bash
# Benchmarks the storefront on this machine: builds the release binaries, starts the broker and
# database when they are not running, then runs storefront-bench, which starts the three services
# on free ports with a database, consumer group and topics of its own (so a development stack can
# keep running beside it), measures raw Kafka and MongoDB on the same servers, drives the
# realistic flow, prints the tables (Markdown) and writes the report.
#   scripts/bench.sh [storefront-bench options]    e.g. --flow-seconds 60 --concurrency 8; --help
# About 75 s of load by default, plus start-up and build. The report:
# ${CARGO_TARGET_DIR:-target}/bench/report.json and report.md, the services' logs beside them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_ROOT/target}"

bash scripts/setup.sh
log "building the release binaries"
cargo build --release --locked -p accounts -p orders -p fulfillment -p storefront-bench

# Stops the broker and database at the end only when this script started both.
if ! port_open "$BROKER_PORT" && ! port_open "$DATABASE_PORT"; then
  trap 'bash scripts/infra.sh stop' EXIT
fi
bash scripts/infra.sh start

mkdir -p "$TARGET_DIR/bench"
"$TARGET_DIR/release/storefront-bench" \
  --bin-dir "$TARGET_DIR/release" --out "$TARGET_DIR/bench/report.json" "$@"
