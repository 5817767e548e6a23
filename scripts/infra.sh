#!/usr/bin/env bash
# Starts or stops the local Kafka and database on 127.0.0.1, for development and tests.
#   scripts/infra.sh start   Apache Kafka (KRaft, one node; data in .data/kafka) on 9092 and
#                            mongo-java-server (data in .data/mongodb.h2) on 27017, then every
#                            topic with 3 partitions plus its dead-letter topic
#   scripts/infra.sh stop [NAME]...      stops what start started (kafka, mongodb; both by default)
#   scripts/infra.sh running NAME        whether start started NAME here and it still runs
# Settings (scripts/lib.sh): STOREFRONT_KAFKA_PORT, STOREFRONT_DATABASE_PORT,
# STOREFRONT_DATABASE_STORAGE (memory or a file), STOREFRONT_DATA_DIR; STOREFRONT_KAFKA_BOOTSTRAP
# or STOREFRONT_MONGODB_URI point at a server of your own, and then none is started for it (the
# topics are still created there).
# STOREFRONT_KAFKA_SECURITY=sasl_ssl starts Kafka secured instead (dev/kafka.sh --secure, data in
# .data/kafka-secured): SASL_SSL only, a user per service and `admin` with passwords generated
# into .data/kafka-security/users on first start (never printed), the topics created as admin,
# and the ACLs of deploy/kafka/grants.txt (generated from the event contract) created.
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

# The Admin client's settings: anonymous PLAINTEXT, or the super user admin over SASL_SSL.
client_properties() {
  local file="$DATA_DIR/kafka-admin.properties" password
  (
    umask 077
    if [[ $KAFKA_SECURITY == sasl_ssl ]]; then
      password=$(awk '$1 == "admin" { print $2 }' "$KAFKA_SECURITY_DIR/users")
      printf '%s\n' "security.protocol=SASL_SSL" "sasl.mechanism=SCRAM-SHA-512" \
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$password\";" \
        "ssl.truststore.type=PEM" "ssl.truststore.location=$KAFKA_SECURITY_DIR/ca.pem"
    fi >"$file"
  )
  echo "$file"
}

# The users of the secured Kafka: admin and one per service, each with a password of its own,
# made once (the broker writes their SCRAM credentials when it formats its folder).
make_users() {
  local users="$KAFKA_SECURITY_DIR/users" name
  [[ -f $users ]] && return
  mkdir -p "$KAFKA_SECURITY_DIR"
  (
    umask 077
    for name in admin accounts orders fulfillment; do
      printf '%s %s\n' "$name" "$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
    done >"$users"
  )
  log "Kafka users admin, accounts, orders and fulfillment: passwords in $users"
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
      topics+=("$topic:compact")
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

case "${1:-}" in
  start)
    trap 'abort "interrupted"' INT TERM
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
    (($#)) || set -- mongodb kafka
    for name in "$@"; do
      stop_process "$name"
    done
    ;;
  running)
    server_pid "$2" >/dev/null
    ;;
  *)
    echo "usage: $0 start | stop [kafka|mongodb]... | running kafka|mongodb" >&2
    exit 2
    ;;
esac
