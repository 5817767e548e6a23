#!/usr/bin/env bash
# Starts or stops the local Kafka and database on 127.0.0.1, for development and tests.
#   scripts/infra.sh start   Apache Kafka (KRaft, one node; data in .data/kafka) on 9092 and
#                            mongo-java-server (data in .data/mongodb.h2) on 27017, then every
#                            topic with 3 partitions plus its dead-letter topic; the changelog
#                            with STOREFRONT_CHANGELOG_CLEANUP_POLICY (compact by default)
#   scripts/infra.sh start-lake   the data lake (docs/lake.md) on the Kafka above: Versity S3
#                            Gateway (data in .data/lake/s3) on 7070, the Iceberg tables (catalog
#                            in .data/lake/catalog.db), a Kafka Connect worker on 8083, and the
#                            Iceberg sink registered and running
#   scripts/infra.sh stop [NAME]...      stops what start and start-lake started (lake-connect,
#                            lake-s3, mongodb, kafka; all by default)
#   scripts/infra.sh running NAME        whether start started NAME here and it still runs
# Settings (scripts/lib.sh): STOREFRONT_CHANGELOG_CLEANUP_POLICY, STOREFRONT_KAFKA_PORT, STOREFRONT_DATABASE_PORT,
# STOREFRONT_DATABASE_STORAGE (memory or a file), STOREFRONT_DATA_DIR; STOREFRONT_KAFKA_BOOTSTRAP
# or STOREFRONT_MONGODB_URI point at a server of your own, and then none is started for it (the
# topics are still created there). The lake's: STOREFRONT_LAKE_S3_PORT,
# STOREFRONT_LAKE_CONNECT_PORT, STOREFRONT_LAKE_METRICS_PORT, STOREFRONT_LAKE_NAME (the Connect group, connector and the
# prefix of their topics, default storefront-lake), STOREFRONT_LAKE_TOPICS (the three topics it
# reads, comma-separated in the contract's order, default the contract's names) and
# STOREFRONT_LAKE_COMMIT_INTERVAL_MS (how often the sink commits to the tables, default 60000).
# STOREFRONT_KAFKA_SECURITY=sasl_ssl starts Kafka secured instead (dev/kafka.sh --secure, data in
# .data/kafka-secured): SASL_SSL only, a user per service, `lake-connect` for the lake's Connect
# worker and `admin` with passwords generated into .data/kafka-security/users on first start
# (never printed), the topics created as admin, and the ACLs of deploy/kafka/grants.txt
# (generated from the event contract) created; start-lake then runs Connect as lake-connect.
# A port taken by something else, a server that exits during start or does not answer in time:
# one line says which, with its log, and whatever this run started is stopped again.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$REPO_ROOT/dev/java.sh"

# How long a server may take to accept connections: Kafka needs seconds on 2 busy cores.
START_SECONDS=120

pid_file() { echo "$DATA_DIR/$1.pid"; }

# The pid of server NAME that this data folder started, if it still runs: the process must be
# that server's launcher or JVM (a stale pid file, after a reboot say, may name any process).
server_pid() {
  local file pid pattern
  file=$(pid_file "$1")
  [[ -f "$file" ]] || return 1
  pid=$(cat "$file")
  case "$1" in
    kafka) pattern='dev/kafka\.sh|kafka\.Kafka' ;;
    mongodb) pattern='dev/mongodb\.sh|storefront\.dev\.LocalMongoServer' ;;
    lake-s3) pattern='dev/lake\.sh|versitygw' ;;
    lake-connect) pattern='dev/lake\.sh|ConnectDistributed' ;;
    *) return 1 ;;
  esac
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -Eq "$pattern" || return 1
  echo "$pid"
}

started=()
# Stops what this run started, then says why, last.
abort() {
  local name
  for name in "${started[@]}"; do
    stop_process "$name"
  done
  log "$*"
  exit 1
}

# start_process NAME PORT COMMAND...: starts COMMAND in a session of its own, logging to
# .data/NAME.log, and waits until it accepts connections on PORT.
start_process() {
  local name=$1 port=$2
  shift 2
  local log_file="$DATA_DIR/$name.log"
  if server_pid "$name" >/dev/null && port_open "$port"; then
    log "$name already running on 127.0.0.1:$port (log: $log_file)"
    return
  fi
  if port_open "$port"; then
    abort "$name: 127.0.0.1:$port is taken by another process; stop it, or choose another port (scripts/lib.sh)"
  fi
  mkdir -p "$DATA_DIR"
  log "starting $name on 127.0.0.1:$port (log: $log_file)"
  setsid "$@" >"$log_file" 2>&1 &
  local pid=$!
  echo "$pid" >"$(pid_file "$name")"
  started+=("$name")
  local deadline=$((SECONDS + START_SECONDS))
  until port_open "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      abort "$name exited during start: $(tail -n 1 "$log_file") (log: $log_file)"
    fi
    if ((SECONDS >= deadline)); then
      abort "$name did not accept connections on 127.0.0.1:$port within $START_SECONDS s (log: $log_file)"
    fi
    sleep 0.2
  done
}

stop_process() {
  local name=$1 pid
  if pid=$(server_pid "$name"); then
    log "stopping $name"
    kill -TERM "$pid" 2>/dev/null || true
    # Kafka's controlled shutdown takes a few seconds.
    for _ in $(seq 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$name")"
}

# client_settings USER [PREFIX]: a Java client's settings as USER over SASL_SSL (its password
# from the users file, the local CA), each key after PREFIX.
client_settings() {
  local password
  password=$(awk -v user="$1" '$1 == user { print $2 }' "$KAFKA_SECURITY_DIR/users")
  printf "${2:-}%s\\n" "security.protocol=SASL_SSL" "sasl.mechanism=SCRAM-SHA-512" \
    "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$1\" password=\"$password\";" \
    "ssl.truststore.type=PEM" "ssl.truststore.location=$KAFKA_SECURITY_DIR/ca.pem"
}

# The Admin client's settings: anonymous PLAINTEXT, or the super user admin over SASL_SSL.
client_properties() {
  local file="$DATA_DIR/kafka-admin.properties"
  (
    umask 077
    if [[ $KAFKA_SECURITY == sasl_ssl ]]; then
      client_settings admin
    fi >"$file"
  )
  echo "$file"
}

# The users of the secured Kafka: admin, one per service and the lake's Connect worker
# (lake-connect), each with a password of its own, made once (the broker writes their SCRAM
# credentials when it formats its folder).
make_users() {
  local users="$KAFKA_SECURITY_DIR/users" name
  [[ -f $users ]] && return
  mkdir -p "$KAFKA_SECURITY_DIR"
  (
    umask 077
    for name in admin accounts orders fulfillment lake-connect; do
      printf '%s %s\n' "$name" "$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
    done >"$users"
  )
  log "Kafka users admin, accounts, orders, fulfillment and lake-connect: passwords in $users"
}

# The ACLs of deploy/kafka/grants.txt, as admin.
create_acls() {
  local grants=() line output
  while IFS= read -r line; do
    [[ -z $line || $line == \#* ]] || grants+=("$line")
  done <"$REPO_ROOT/deploy/kafka/grants.txt"
  if ! output=$(java -Dstorefront.log.level=warn -cp "$(java_classpath)" storefront.dev.CreateAcls \
    "$KAFKA_BOOTSTRAP" "$(client_properties)" "${grants[@]}" 2>&1); then
    abort "creating the ACLs on $KAFKA_BOOTSTRAP failed: $(tail -n 3 <<<"$output")"
  fi
  log "ACLs on $KAFKA_BOOTSTRAP: ${#grants[@]} grants of deploy/kafka/grants.txt"
}

create_topics() {
  local topics=() topic output
  for topic in "${TOPICS[@]}"; do
    if [[ " ${COMPACTED_TOPICS[*]} " == *" $topic "* ]]; then
      topics+=("$topic:$CHANGELOG_CLEANUP_POLICY")
    else
      topics+=("$topic")
    fi
    topics+=("$topic$DEAD_LETTER_SUFFIX")
  done
  # The cluster's default replication factor: 1 on ours, whatever yours sets.
  if ! output=$(java -Dstorefront.log.level=warn -cp "$(java_classpath)" storefront.dev.CreateTopics \
    "$KAFKA_BOOTSTRAP" "$(client_properties)" 3 default "${topics[@]}" 2>&1); then
    abort "creating the topics on $KAFKA_BOOTSTRAP failed: $(tail -n 3 <<<"$output")"
  fi
  log "topics on $KAFKA_BOOTSTRAP: $(tr '\n' ' ' <<<"$output")"
}

# The lake's settings for scripts/lake.py, with the object store's keys (made here once).
write_lake_settings() {
  local lake_dir=$1 name=$2 lake_topics=$3 keys="$1/credentials"
  umask 077
  if [[ ! -f "$keys" ]]; then
    python3 -c 'import secrets, string
alphabet = string.ascii_uppercase + string.digits
print("".join(secrets.choice(alphabet) for _ in range(20)))
print(secrets.token_urlsafe(30))' >"$keys"
  fi
  LAKE_S3_ACCESS_KEY=$(sed -n 1p "$keys")
  LAKE_S3_SECRET_KEY=$(sed -n 2p "$keys")
  LAKE_S3_ENDPOINT="http://127.0.0.1:$LAKE_S3_PORT"
  LAKE_WAREHOUSE="s3://lake/warehouse"
  LAKE_CATALOG_URI="jdbc:sqlite:$lake_dir/catalog.db"
  python3 - "$lake_dir/settings.json" <<PYTHON
import json, sys
topics = "$lake_topics".split(",")
contract = ["accounts.customer.change", "orders.order.fulfill", "fulfillment.order.change"]
if len(topics) != 3:
    sys.exit("STOREFRONT_LAKE_TOPICS: three topics, comma-separated")
json.dump({
    "name": "$name",
    "topics": dict(zip(contract, topics)),
    "control_topic": "$name.control",
    "dead_letter_topic": "$name.DLT",
    "commit_interval_ms": int("${STOREFRONT_LAKE_COMMIT_INTERVAL_MS:-60000}"),
    "catalog_file": "$lake_dir/catalog.db",
    "warehouse": "$LAKE_WAREHOUSE",
    "connect_url": "http://127.0.0.1:$LAKE_CONNECT_PORT",
    "metrics_url": "http://127.0.0.1:$LAKE_METRICS_PORT/metrics",
    "s3": {"endpoint": "$LAKE_S3_ENDPOINT", "region": "us-east-1",
           "access_key": "$LAKE_S3_ACCESS_KEY", "secret_key": "$LAKE_S3_SECRET_KEY"},
}, open(sys.argv[1], "w"), indent=2)
PYTHON
  umask 022
}

start_lake() {
  local lake_dir="$DATA_DIR/lake" name="${STOREFRONT_LAKE_NAME:-storefront-lake}"
  local lake_topics="${STOREFRONT_LAKE_TOPICS:-$(IFS=,; echo "${TOPICS[*]}")}"
  local lake_python="$LAKE_TOOLS_DIR/venv/bin/python" output
  [[ -x "$lake_python" ]] || abort "$lake_python missing: run scripts/setup.sh --lake"
  mkdir -p "$lake_dir"
  lake_dir=$(cd "$lake_dir" && pwd)
  # On the secured Kafka the worker, its connectors' clients and the sink's own clients (which
  # read the worker's file) log in as lake-connect, allowed what deploy/kafka/grants.txt grants it.
  local kafka_settings=""
  if [[ $KAFKA_SECURITY == sasl_ssl ]]; then
    grep -q '^lake-connect ' "$KAFKA_SECURITY_DIR/users" ||
      abort "the secured Kafka in $DATA_DIR was made before the lake's user lake-connect: stop it and remove $DATA_DIR/kafka-secured and $KAFKA_SECURITY_DIR, then start again"
    kafka_settings="$lake_dir/connect-kafka.properties"
    (
      umask 077
      for prefix in "" producer. consumer. admin.; do
        client_settings lake-connect "$prefix"
      done >"$kafka_settings"
    )
  fi
  write_lake_settings "$lake_dir" "$name" "$lake_topics"
  ROOT_ACCESS_KEY_ID=$LAKE_S3_ACCESS_KEY ROOT_SECRET_ACCESS_KEY=$LAKE_S3_SECRET_KEY \
    start_process lake-s3 "$LAKE_S3_PORT" "$REPO_ROOT/dev/lake.sh" s3 "$lake_dir/s3" "$LAKE_S3_PORT"
  "$lake_python" "$REPO_ROOT/scripts/lake.py" --lake-dir "$lake_dir" create-tables >&2 ||
    abort "creating the lake's tables failed"
  # The broker creates no topic itself, and lake-connect may not create any: the sink's control
  # topic (its coordinator and workers talk over it), the worker's configuration (one partition),
  # offset and status topics (compacted, as Connect requires) and the dead-letter topic, as admin.
  local partitions topics
  for partitions in 1 3; do
    if ((partitions == 1)); then
      topics=("$name.control" "$name.configs:compact")
    else
      topics=("$name.offsets:compact" "$name.status:compact" "$name$DEAD_LETTER_SUFFIX")
    fi
    if ! output=$(java -Dstorefront.log.level=warn -cp "$(java_classpath)" storefront.dev.CreateTopics \
      "$KAFKA_BOOTSTRAP" "$(client_properties)" "$partitions" default "${topics[@]}" 2>&1); then
      abort "creating the lake's topics on $KAFKA_BOOTSTRAP failed: $(tail -n 3 <<<"$output")"
    fi
  done
  LAKE_CATALOG_URI=$LAKE_CATALOG_URI LAKE_WAREHOUSE=$LAKE_WAREHOUSE \
    LAKE_S3_ENDPOINT=$LAKE_S3_ENDPOINT LAKE_S3_ACCESS_KEY=$LAKE_S3_ACCESS_KEY \
    LAKE_S3_SECRET_KEY=$LAKE_S3_SECRET_KEY LAKE_CONNECT_KAFKA_PROPERTIES=$kafka_settings \
    start_process lake-connect "$LAKE_CONNECT_PORT" "$REPO_ROOT/dev/lake.sh" connect \
    "$lake_dir/connect" "$LAKE_CONNECT_PORT" "$KAFKA_BOOTSTRAP" "$name" "$LAKE_METRICS_PORT"
  "$lake_python" "$REPO_ROOT/scripts/lake.py" --lake-dir "$lake_dir" register >&2 ||
    abort "the lake's connector did not start (log: $DATA_DIR/lake-connect.log)"
}

case "${1:-}" in
  start-lake)
    trap 'abort "interrupted"' INT TERM
    java_classpath >/dev/null
    start_lake
    ;;
  start)
    trap 'abort "interrupted"' INT TERM
    case "$CHANGELOG_CLEANUP_POLICY" in
      compact | delete) ;;
      *) abort "STOREFRONT_CHANGELOG_CLEANUP_POLICY is \`$CHANGELOG_CLEANUP_POLICY\`; use compact or delete" ;;
    esac
    java_classpath >/dev/null
    if compgen -G "$DATA_DIR/broker/*.db" >/dev/null; then
      log "note: $DATA_DIR/broker holds the earlier local broker's sqlite files, which nothing reads any more; delete that folder when you no longer need it"
    fi
    case $KAFKA_SECURITY in
      plaintext) kafka_dir="$DATA_DIR/kafka" secure=() ;;
      sasl_ssl) kafka_dir="$DATA_DIR/kafka-secured" secure=(--secure "$KAFKA_SECURITY_DIR") ;;
      *) abort "STOREFRONT_KAFKA_SECURITY=$KAFKA_SECURITY: plaintext or sasl_ssl" ;;
    esac
    if [[ -n "${STOREFRONT_KAFKA_BOOTSTRAP:-}" ]]; then
      [[ $KAFKA_SECURITY == plaintext ]] ||
        abort "STOREFRONT_KAFKA_SECURITY=$KAFKA_SECURITY secures the Kafka this script starts, not one of your own (STOREFRONT_KAFKA_BOOTSTRAP)"
      log "using the Kafka at $KAFKA_BOOTSTRAP"
    else
      # A broker of the other mode on this data folder would take the port.
      if pid=$(server_pid kafka) && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$kafka_dir/"; then
        abort "kafka: the running broker is not the $KAFKA_SECURITY one; stop it first (scripts/infra.sh stop kafka)"
      fi
      if [[ $KAFKA_SECURITY == sasl_ssl ]]; then
        make_users
      fi
      start_process kafka "$KAFKA_PORT" "$REPO_ROOT/dev/kafka.sh" --dir "$kafka_dir" \
        --port "$KAFKA_PORT" --controller-port "$KAFKA_CONTROLLER_PORT" "${secure[@]}"
    fi
    if [[ -n "${STOREFRONT_MONGODB_URI:-}" ]]; then
      log "using the MongoDB at its URI (STOREFRONT_MONGODB_URI)"
    else
      start_process mongodb "$DATABASE_PORT" "$REPO_ROOT/dev/mongodb.sh" "$DATABASE_PORT" \
        "$DATABASE_STORAGE"
    fi
    create_topics
    if [[ $KAFKA_SECURITY == sasl_ssl ]]; then
      create_acls
    fi
    ;;
  stop)
    shift
    (($#)) || set -- lake-connect lake-s3 mongodb kafka
    for name in "$@"; do
      stop_process "$name"
    done
    ;;
  running)
    server_pid "$2" >/dev/null
    ;;
  *)
    echo "usage: $0 start | start-lake | stop [lake-connect|lake-s3|mongodb|kafka]... | running NAME" >&2
    exit 2
    ;;
esac
