#!/usr/bin/env bash
# Starts or stops the local Kafka and database on 127.0.0.1, for development and tests.
#   scripts/infra.sh start   Apache Kafka (KRaft, one node; data in .data/kafka) on 9092 and
#                            mongo-java-server (data in .data/mongodb.h2) on 27017, then every
#                            topic with 3 partitions plus its dead-letter topic; the changelog
#                            with STOREFRONT_CHANGELOG_CLEANUP_POLICY (compact by default)
#   scripts/infra.sh stop [NAME]...      stops what start started (kafka, mongodb; both by default)
#   scripts/infra.sh running NAME        whether start started NAME here and it still runs
# Settings (scripts/lib.sh): STOREFRONT_CHANGELOG_CLEANUP_POLICY, STOREFRONT_KAFKA_PORT, STOREFRONT_DATABASE_PORT,
# STOREFRONT_DATABASE_STORAGE (memory or a file), STOREFRONT_DATA_DIR; STOREFRONT_KAFKA_BOOTSTRAP
# or STOREFRONT_MONGODB_URI point at a server of your own, and then none is started for it (the
# topics are still created there).
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
    "$KAFKA_BOOTSTRAP" 3 default "${topics[@]}" 2>&1); then
    abort "creating the topics on $KAFKA_BOOTSTRAP failed: $(tail -n 3 <<<"$output")"
  fi
  log "topics on $KAFKA_BOOTSTRAP: $(tr '\n' ' ' <<<"$output")"
}

case "${1:-}" in
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
    if [[ -n "${STOREFRONT_KAFKA_BOOTSTRAP:-}" ]]; then
      log "using the Kafka at $KAFKA_BOOTSTRAP"
    else
      start_process kafka "$KAFKA_PORT" "$REPO_ROOT/dev/kafka.sh" --dir "$DATA_DIR/kafka" \
        --port "$KAFKA_PORT" --controller-port "$KAFKA_CONTROLLER_PORT"
    fi
    if [[ -n "${STOREFRONT_MONGODB_URI:-}" ]]; then
      log "using the MongoDB at its URI (STOREFRONT_MONGODB_URI)"
    else
      start_process mongodb "$DATABASE_PORT" "$REPO_ROOT/dev/mongodb.sh" "$DATABASE_PORT" \
        "$DATABASE_STORAGE"
    fi
    create_topics
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
