#!/usr/bin/env bash
# Builds and runs the whole storefront on this machine: Apache Kafka (9092) and mongo-java-server
# (27017) on 127.0.0.1 with their data in .data/, then accounts (8085), orders (8090) and
# fulfillment (8095). Prints the URLs; Ctrl-C stops everything it started.
# STOREFRONT_KAFKA_BOOTSTRAP or STOREFRONT_MONGODB_URI use a Kafka or MongoDB of your own instead
# (scripts/lib.sh lists every setting). STOREFRONT_KAFKA_SECURITY=sasl_ssl runs Kafka secured
# (scripts/infra.sh): each service then connects over SASL_SSL as its own user, with its own
# password, trusting the local CA, and may do only what its grants allow.
#   scripts/run-local.sh --lake   (or STOREFRONT_LAKE=1) also the data lake (docs/lake.md): Versity
#                                 S3 Gateway (7070) and a Kafka Connect worker (8083) with the
#                                 Iceberg sink copying the three topics into tables; on the
#                                 plaintext Kafka only, for now
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

lake=false
[[ "${STOREFRONT_LAKE:-0}" == 1 ]] && lake=true
case "${1:-}" in
  "") ;;
  --lake) lake=true ;;
  *)
    log "unknown option $1; see the top of scripts/run-local.sh"
    exit 2
    ;;
esac

bash scripts/setup.sh --packages
# Maven resolves the local servers while cargo builds: the one waits on the network, the other
# on the CPU.
{
  bash scripts/setup.sh --servers
  if $lake; then
    bash scripts/setup.sh --lake
  fi
} &
servers_built=$!
trap 'kill "$servers_built" 2>/dev/null || true' EXIT
log "building the services (release)"
cargo build --release --locked -p accounts -p orders -p fulfillment
if ! wait "$servers_built"; then
  log "the local servers were not built; see above"
  exit 1
fi

# Servers that were already running (an earlier scripts/infra.sh start) are left running; those
# this run starts are stopped at the end, also when it is interrupted while they start.
to_stop=()
names=(kafka mongodb)
# Stopped in this order: the lake's worker before the broker it reads.
$lake && names=(lake-connect lake-s3 "${names[@]}")
for name in "${names[@]}"; do
  bash scripts/infra.sh running "$name" || to_stop+=("$name")
done
pids=()
cleanup() {
  trap - EXIT
  if ((${#pids[@]})); then
    log "stopping the services"
  fi
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if ((${#to_stop[@]})); then
    bash scripts/infra.sh stop "${to_stop[@]}"
  fi
}
trap cleanup EXIT
interrupted=false
# Ctrl-C reaches the services too (same process group); the trap only notes that it was asked.
trap 'interrupted=true' INT TERM
bash scripts/infra.sh start
if $lake; then
  bash scripts/infra.sh start-lake
fi
export APP_KAFKA__BOOTSTRAP_SERVERS="$KAFKA_BOOTSTRAP" APP_DATABASE__URI="$DATABASE_URI"

mkdir -p "$DATA_DIR"
declare -A ports=([accounts]=8085 [orders]=8090 [fulfillment]=8095)
for service in accounts orders fulfillment; do
  log "starting $service (log: $DATA_DIR/$service.log)"
  # In a subshell: each service's Kafka user and password are in its environment only.
  (kafka_settings_of "$service" && exec "$TARGET_DIR/release/$service") >"$DATA_DIR/$service.log" 2>&1 &
  pids+=($!)
done
for service in accounts orders fulfillment; do
  wait_http "http://127.0.0.1:${ports[$service]}/$service/actuator/health" 60
done

kafka="(Apache Kafka, KRaft)"
[[ $KAFKA_SECURITY == sasl_ssl ]] && kafka="(Apache Kafka, KRaft; SASL_SSL, a user per service: $KAFKA_SECURITY_DIR)"
[[ -n "${STOREFRONT_KAFKA_BOOTSTRAP:-}" ]] && kafka="(yours)"
database="$DATABASE_URI (mongo-java-server)"
# A URI of your own may hold credentials: not printed.
[[ -n "${STOREFRONT_MONGODB_URI:-}" ]] && database="yours (STOREFRONT_MONGODB_URI)"
cat <<URLS

The storefront is running:
  accounts     http://127.0.0.1:8085/accounts/customers
  orders       http://127.0.0.1:8090/orders/customers
  fulfillment  http://127.0.0.1:8095/fulfillment/fulfillments
  Kafka        $KAFKA_BOOTSTRAP $kafka
  MongoDB      $database
Load the sample data:  python3 scripts/refresh-sample-data.py
URLS
if $lake; then
  cat <<LAKE
  The lake     Connect http://127.0.0.1:$LAKE_CONNECT_PORT/connectors, S3 http://127.0.0.1:$LAKE_S3_PORT
               metrics http://127.0.0.1:$LAKE_METRICS_PORT/metrics
               (data in $DATA_DIR/lake; the sink commits every minute)
Query it:      $LAKE_TOOLS_DIR/venv/bin/python scripts/lake.py report --chart lake.svg
LAKE
fi
cat <<END
Press Ctrl-C to stop everything.
END

# Returns when a service exits on its own or Ctrl-C arrives.
wait -n "${pids[@]}" || true
if ! $interrupted; then
  log "a service stopped by itself; see its log in $DATA_DIR"
fi
