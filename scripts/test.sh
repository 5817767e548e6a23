#!/usr/bin/env bash
# Runs every check and every test: formatting, lints, the offline checks of the deployment files,
# the MongoDB stand-in's own tests, and the whole Rust test suite (unit, per-service integration and whole-system tests) against a local
# broker and database. Installs what is missing first, starts the broker and database when they
# are not already running, and stops again what it started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

bash scripts/setup.sh

if port_open "$BROKER_PORT" || port_open "$DATABASE_PORT"; then
  log "using the broker and database already running"
else
  trap 'bash scripts/infra.sh stop' EXIT
  # Tests need no durable broker, and tansu's in-memory storage holds up better under the
  # suite's parallel load than its sqlite storage. It never serves the rest of a batch to a
  # group resuming inside it, so tests that stop consumers use a private (sqlite) broker.
  export STOREFRONT_BROKER_STORAGE="memory://tansu/"
fi
bash scripts/infra.sh start

log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "deployment files (offline checks)"
bash scripts/check-deploy.sh
log "MongoDB stand-in tests"
"$VENV_DIR/bin/python" -m unittest dev/mongo-standin/test_server.py
log "release build: the command run-local.sh and the Dockerfile use, so CI builds what they ship"
cargo build --release --locked -p accounts -p orders -p fulfillment
log "cargo nextest"
cargo nextest run --workspace --locked --no-fail-fast
