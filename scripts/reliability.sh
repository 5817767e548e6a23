#!/usr/bin/env bash
# Runs the fault-injection suite (system-tests/tests/faults.rs) against a broker and a database
# of its own per scenario, and prints the reliability table from the rows it wrote.
#   scripts/reliability.sh            a stream of 10,000 acknowledged changes per scenario
#   STOREFRONT_FAULT_STREAM=2000 scripts/reliability.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

bash scripts/setup.sh --test
export STOREFRONT_FAULT_STREAM="${STOREFRONT_FAULT_STREAM:-10000}"
rm -rf target/reliability
cargo build --locked -p accounts -p orders -p fulfillment
cargo nextest run --locked -p system-tests --test faults --no-fail-fast
python3 - "$STOREFRONT_FAULT_STREAM" <<'PY'
import json, pathlib, platform, sys
rows = [json.loads(p.read_text()) for p in sorted(pathlib.Path("target/reliability").glob("*.json"))]
print(f"\nStream: {sys.argv[1]} acknowledged changes per scenario; {platform.node()}, "
      f"{platform.machine()}, debug builds, Apache Kafka 4.0 (KRaft) and mongo-java-server on 127.0.0.1.\n")
print("| Scenario | Acknowledged | Applied downstream | Duplicated | Dead-lettered | Lost "
      "| Records per event | Recovery (s) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    factor = "n/a" if r["records_per_event"] is None else f"{r['records_per_event']:.3f}"
    print(f"| {r['scenario']} | {r['acknowledged']} | {r['applied']} | {r['duplicated']} "
          f"| {r['dead_lettered']} | {r['lost']} | {factor} | {r['recovery_seconds']:.1f} |")
print()
for r in rows:
    print(f"- {r['scenario']}: {r['notes']}")
PY
