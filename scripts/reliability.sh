#!/usr/bin/env bash
# Runs the fault-injection suite (system-tests/tests/faults.rs) against a broker and a database
# of its own per scenario, and the data lake's fault test (system-tests/tests/lake.rs), and
# prints the reliability table from the rows they wrote.
#   scripts/reliability.sh            a stream of 10,000 acknowledged changes per scenario
#   STOREFRONT_FAULT_STREAM=2000 scripts/reliability.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

bash scripts/setup.sh --test
export STOREFRONT_FAULT_STREAM="${STOREFRONT_FAULT_STREAM:-10000}"
rm -rf target/reliability
cargo build --locked -p accounts -p orders -p fulfillment
cargo nextest run --locked -p system-tests --test faults --test lake --no-fail-fast \
  -E 'binary(faults) | test(dead_letters_poison)'
python3 scripts/reliability-table.py "$STOREFRONT_FAULT_STREAM"
