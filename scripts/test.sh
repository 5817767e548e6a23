#!/usr/bin/env bash
# Runs every check and every test: formatting, lints, the offline checks of the deployment
# files, the release build, and the whole Rust test suite (unit, per-service integration and
# whole-system tests) against Apache Kafka and mongo-java-server on 127.0.0.1. Installs what is
# missing first. The shared test servers are its own (free ports, data in memory and under
# target/test-servers/), started here and stopped at the end, so a running scripts/run-local.sh
# is left alone; STOREFRONT_KAFKA_BOOTSTRAP or STOREFRONT_MONGODB_URI test against yours instead.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

bash scripts/setup.sh --test

# The tests' shared servers; the tests read them as the services do (APP_KAFKA__BOOTSTRAP_SERVERS,
# APP_DATABASE__URI).
use_private_servers "$REPO_ROOT/target/test-servers"
trap 'bash scripts/infra.sh stop' EXIT
bash scripts/infra.sh start

log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "release build: the command run-local.sh and the Dockerfile use, so CI builds what they ship"
cargo build --release --locked -p accounts -p orders -p fulfillment
log "deployment files (offline checks; the release binaries in the runtime image's packages)"
bash scripts/check-deploy.sh
log "cargo nextest"
rm -rf target/reliability
cargo nextest run --workspace --locked --no-fail-fast
log "the reliability table, from the rows the fault-injection suite and the lake wrote"
python3 scripts/reliability-table.py "${STOREFRONT_FAULT_STREAM:-10000}"
