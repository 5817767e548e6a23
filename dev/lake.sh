#!/usr/bin/env bash
# The data lake's two servers (docs/lake.md), each on 127.0.0.1; scripts/infra.sh start-lake
# starts both, makes the tables and registers the sink. Each process becomes the server (exec),
# so its pid is the server's: SIGTERM stops it in order, SIGKILL is a crash.
#   dev/lake.sh s3 DIR PORT         Versity S3 Gateway, its posix backend in DIR (a bucket is a
#                                   folder there); the root user's keys from ROOT_ACCESS_KEY_ID
#                                   and ROOT_SECRET_ACCESS_KEY
#   dev/lake.sh connect DIR PORT BOOTSTRAP NAME METRICS_PORT
#                                   a Kafka Connect worker in distributed mode, REST on PORT,
#                                   Prometheus metrics on METRICS_PORT (the rules Strimzi gets too:
#                                   k8s/lake/base/connect-metrics.yaml),
#                                   group NAME with its internal topics NAME.configs, .offsets,
#                                   .status on BOOTSTRAP, the Iceberg sink and the contract check
#                                   in its plugin path;
#                                   the connector configuration reads LAKE_CATALOG_URI,
#                                   LAKE_WAREHOUSE, LAKE_S3_ENDPOINT, LAKE_S3_ACCESS_KEY and
#                                   LAKE_S3_SECRET_KEY from its environment (EnvVarConfigProvider),
#                                   so no key is stored in Connect's topics; on a secured
#                                   Kafka, LAKE_CONNECT_KAFKA_PROPERTIES names a file of client
#                                   settings appended to the worker's
# Needs what scripts/setup.sh --lake installs: versitygw in $LAKE_TOOLS_DIR/bin, the worker's
# classpath, its metrics agent and the plugin folder that Maven assembles from dev/lake/pom.xml.
set -euo pipefail
DEV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$DEV_DIR/java.sh"
source "$DEV_DIR/../scripts/lib.sh"

case "${1:-}" in
  s3)
    (($# == 3)) || fail "usage: lake.sh s3 DIR PORT"
    gateway="$LAKE_TOOLS_DIR/bin/versitygw"
    [[ -x "$gateway" ]] || fail "$gateway missing: run scripts/setup.sh --lake"
    [[ -n "${ROOT_ACCESS_KEY_ID:-}" && -n "${ROOT_SECRET_ACCESS_KEY:-}" ]] ||
      fail "lake.sh s3: set ROOT_ACCESS_KEY_ID and ROOT_SECRET_ACCESS_KEY"
    mkdir -p "$2"
    exec "$gateway" --port "127.0.0.1:$3" --quiet posix "$2"
    ;;
  connect)
    (($# == 6)) || fail "usage: lake.sh connect DIR PORT BOOTSTRAP NAME METRICS_PORT"
    dir=$2 port=$3 bootstrap=$4 name=$5 metrics_port=$6
    classpath_file="$DEV_DIR/lake/connect/target/classpath"
    plugins="$DEV_DIR/lake/iceberg-sink/target/plugins"
    contract_check="$DEV_DIR/lake/contract-check/target/plugins"
    agent="$DEV_DIR/lake/connect/target/agent/jmx_prometheus_javaagent.jar"
    [[ -f "$classpath_file" && -d "$plugins/iceberg-sink" && -d "$contract_check/contract-check" && -f "$agent" ]] ||
      fail "the Connect worker or its Iceberg plugin is missing: run scripts/setup.sh --lake"
    command -v java >/dev/null || fail "java not found: install a Java 17 runtime"
    mkdir -p "$dir"
    umask 077
    cat >"$dir/worker.properties" <<PROPERTIES
bootstrap.servers=$bootstrap
group.id=$name
config.storage.topic=$name.configs
offset.storage.topic=$name.offsets
status.storage.topic=$name.status
# -1: the broker's default replication factor (1 on the local one).
config.storage.replication.factor=-1
offset.storage.replication.factor=-1
status.storage.replication.factor=-1
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
value.converter.schemas.enable=false
listeners=http://127.0.0.1:$port
rest.advertised.host.name=127.0.0.1
rest.advertised.port=$port
plugin.path=$plugins,$contract_check
# How long a sink task's poll waits when its topics are quiet, so how often the Iceberg sink
# sees its control topic then: at the default (60 s) it answers the coordinator's call to
# commit after the commit timeout (30 s) and the tables fall behind while the topics are idle.
offset.flush.interval.ms=5000
config.providers=env
config.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider
config.providers.env.param.allowlist.pattern=^LAKE_.*
PROPERTIES
    # A secured Kafka: the client settings of the worker's user (scripts/infra.sh writes them for
    # the worker and, prefixed, its producers, consumers and admin clients).
    if [[ -n ${LAKE_CONNECT_KAFKA_PROPERTIES:-} ]]; then
      cat "$LAKE_CONNECT_KAFKA_PROPERTIES" >>"$dir/worker.properties"
    fi
    exec java -Xms64m "-Xmx${STOREFRONT_LAKE_CONNECT_HEAP:-768m}" -XX:+ExitOnOutOfMemoryError \
      -Djava.awt.headless=true \
      "-javaagent:$agent=127.0.0.1:$metrics_port:$DEV_DIR/../k8s/lake/base/connect-metrics.yaml" \
      "-Dlog4j2.configurationFile=$DEV_DIR/lake/connect-log4j2.properties" \
      -cp "$(cat "$classpath_file")" org.apache.kafka.connect.cli.ConnectDistributed \
      "$dir/worker.properties"
    ;;
  *)
    fail "usage: lake.sh s3 DIR PORT | connect DIR PORT BOOTSTRAP NAME METRICS_PORT"
    ;;
esac
