#!/usr/bin/env bash
# Benchmarks the storefront on this machine: builds the release binaries, starts an Apache Kafka
# broker (one KRaft node) and a mongo-java-server (in memory) of its own on free ports
# (scripts/infra.sh, data and logs in target/bench/servers/), then runs
# storefront-bench, which starts the three services on free ports with their own databases and
# topics, measures raw Kafka and MongoDB on those same two servers, drives the realistic flow,
# prints the tables (Markdown) and writes the report. Everything it started is stopped at the end.
#   scripts/bench.sh [storefront-bench options]    e.g. --flow-seconds 60 --concurrency 8; --help
#   scripts/bench.sh backlog [--records N]         orders' memory working through a backlog
#   scripts/bench.sh scale [--instances 1,2,3]     1, 2 and 3 instances of each service, round robin
#   scripts/bench.sh growth [--sizes 10000,...]    cost as accounts and orders hold more customers;
#                                                  mongo-java-server keeps them in its heap: 12 GiB
#                                                  for this one unless STOREFRONT_MONGODB_HEAP says
# (`storefront-bench load --gateway URL` is the load generator on its own, against a running
# deployment: nothing is built or started for it here.)
# About 85 s of load by default, plus start-up and the build. The report:
# ${CARGO_TARGET_DIR:-target}/bench/report.json and report.md (with the servers' resident memory),
# each run's logs beside them.
#
# Why servers of its own rather than the shared ones of scripts/infra.sh: other work on the
# shared servers would distort the figures, and a fresh broker and database start every run
# from the same state.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

# The options, before anything is built or started: this script's own comment above, then the
# benchmark's help (clap's, bench/src/options.rs) if a release build is there to ask.
for argument in "$@"; do
  if [[ $argument == --help || $argument == -h ]]; then
    awk 'NR > 1 && /^#( |$)/ { if ($0 == "#") exit; sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
    echo
    if [[ -x $TARGET_DIR/release/storefront-bench ]]; then
      "$TARGET_DIR/release/storefront-bench" --help
    else
      echo "Every option of each command: cargo run -p storefront-bench -- [COMMAND] --help"
    fi
    exit 0
  fi
done

BENCH_DIR="$TARGET_DIR/bench"

bash scripts/setup.sh
log "building the release binaries"
# Two builds, so that the services are exactly the binaries run-local.sh and the Dockerfile build:
# built together with the benchmark, cargo would unify features across all four and rebuild them.
cargo build --release --locked -p accounts -p orders -p fulfillment
cargo build --release --locked -p storefront-bench

use_private_servers "$BENCH_DIR/servers"
# A million customers in each of two collections do not fit mongo-java-server's default heap.
if [[ ${1:-} == growth ]]; then
  export STOREFRONT_MONGODB_HEAP="${STOREFRONT_MONGODB_HEAP:-12g}"
fi
trap 'bash scripts/infra.sh stop' EXIT
bash scripts/infra.sh start

# The benchmark reads the settings the services read (APP_KAFKA__BOOTSTRAP_SERVERS,
# APP_DATABASE__URI), and the services inherit them.
# `scripts/bench.sh backlog ...`, `scale ...` and `growth ...` run those measurements instead
# (storefront-bench --help).
command=()
report=report
if [[ ${1:-} == backlog || ${1:-} == scale || ${1:-} == growth ]]; then
  command=("$1")
  report=$1
  shift
fi
# The database's CPU while the relays idle, when this script started the database.
if [[ $report == growth && -f $DATA_DIR/mongodb.pid ]]; then
  command+=(--database-pid "$(cat "$DATA_DIR/mongodb.pid")")
fi
"$TARGET_DIR/release/storefront-bench" "${command[@]}" \
  --bin-dir "$TARGET_DIR/release" --out "$BENCH_DIR/$report.json" "$@"

# The servers' own footprint, from the kernel: resident now (after the load) and at its peak.
{
  printf '\n### Servers (JVMs; heap at most 512 MiB for Kafka, %s for the database)\n\n' \
    "${STOREFRONT_MONGODB_HEAP:-512m}"
  echo "| server | RSS after the run MiB | peak RSS MiB |"
  echo "| --- | --- | --- |"
  for name in kafka mongodb; do
    # A server of the user's own (STOREFRONT_KAFKA_BOOTSTRAP, STOREFRONT_MONGODB_URI) is not ours to measure.
    [[ -f $DATA_DIR/$name.pid ]] || continue
    pid=$(cat "$DATA_DIR/$name.pid")
    awk -v name="$name" '/^VmRSS/ { rss = $2 } /^VmHWM/ { peak = $2 }
      END { printf "| %s | %.1f | %.1f |\n", name, rss / 1024, peak / 1024 }' "/proc/$pid/status"
  done
} | tee -a "$BENCH_DIR/$report.md"
