#!/usr/bin/env bash
# Starts or stops the local broker and database on 127.0.0.1, for development and tests.
#   scripts/infra.sh start   tansu on 9092 (sqlite in .data/), the MongoDB stand-in on 27017,
#                            and every topic with 3 partitions plus its dead-letter topic
#                            (STOREFRONT_BROKER_STORAGE=memory://tansu/ keeps records in memory)
#   scripts/infra.sh stop    stops what start started
# A server already listening on its port is used as it is.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pid_file() { echo "$DATA_DIR/$1.pid"; }

start_process() {
  local name=$1 port=$2 directory=$3
  shift 3
  if port_open "$port"; then
    log "$name already listening on 127.0.0.1:$port"
    return
  fi
  mkdir -p "$DATA_DIR" "$directory"
  log "starting $name on 127.0.0.1:$port (log: $DATA_DIR/$name.log)"
  (cd "$directory" && exec setsid "$@" >"$DATA_DIR/$name.log" 2>&1) &
  echo $! >"$(pid_file "$name")"
  wait_port "$port" "$name" 30
}

stop_process() {
  local name=$1 file
  file=$(pid_file "$name")
  [[ -f "$file" ]] || return 0
  local pid
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping $name"
    kill -TERM "$pid"
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

create_topics() {
  local topic
  for topic in "${TOPICS[@]}"; do
    for name in "$topic" "$topic$DEAD_LETTER_SUFFIX"; do
      if output=$("$(tansu_bin)" topic create --broker "tcp://127.0.0.1:$BROKER_PORT" \
        --partitions 3 "$name" 2>&1); then
        log "topic $name created"
      elif grep -qi "exist" <<<"$output"; then
        log "topic $name exists"
      else
        log "creating topic $name failed: $output"
        return 1
      fi
    done
  done
}

case "${1:-}" in
  start)
    start_process broker "$BROKER_PORT" "$DATA_DIR/broker" "$(tansu_bin)" broker \
      --listener-url "tcp://127.0.0.1:$BROKER_PORT" \
      --advertised-listener-url "tcp://127.0.0.1:$BROKER_PORT" \
      --storage-engine "${STOREFRONT_BROKER_STORAGE:-sqlite://tansu.db}"
    start_process database "$DATABASE_PORT" "$DATA_DIR" "$VENV_DIR/bin/python" \
      "$REPO_ROOT/dev/mongo-standin/server.py" --host 127.0.0.1 --port "$DATABASE_PORT"
    create_topics
    ;;
  stop)
    stop_process database
    stop_process broker
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
