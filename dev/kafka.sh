#!/usr/bin/env bash
# Starts one Apache Kafka node (KRaft, broker and controller in one process) on 127.0.0.1, with
# its data in a folder of its own; formats that folder on first use. The process becomes the JVM
# (exec), so its pid is the broker's: SIGTERM stops it in order, SIGKILL is a crash.
#   dev/kafka.sh --dir DIR --port PORT --controller-port PORT [options]
#   dev/kafka.sh --new-cluster-id    prints a new cluster id, for the nodes of one cluster
#     --node-id N            default 1
#     --voters LIST          the KRaft quorum, e.g. 1@127.0.0.1:9093,2@127.0.0.1:9095
#                            (default: this node alone)
#     --cluster-id ID        required when DIR is new and the node is one of several; one node
#                            alone makes up its own
#     --replication N        replication factor of the internal topics and default of new
#                            topics, min.insync.replicas N-1 (at least 1); default 1
#     --heap SIZE            JVM heap, default 512m
#     --set KEY=VALUE        any other broker setting (repeatable; wins over the above)
#     --secure DIR           clients connect with SASL_SSL instead of PLAINTEXT (see below)
# Secured (--secure DIR): the client listener speaks SASL_SSL with SCRAM-SHA-512 and PLAIN, the
# broker certificate comes from dev/certs.sh DIR (clients trust DIR/ca.pem), and KRaft's
# StandardAuthorizer refuses whatever no ACL allows, except to the super user `admin`. DIR/users
# lists the users, one `NAME PASSWORD` a line (letters, digits, `_`, `-`), `admin` among them;
# their SCRAM credentials are written when DIR's node is formatted, and their PLAIN passwords
# are read at every start. The broker talks to itself (inter-broker) as `admin` over the same
# listener, and to its controller over SASL_PLAINTEXT with PLAIN on 127.0.0.1, so no listener
# lets an unauthenticated client in. ACLs are created afterwards, through the Admin API
# (storefront.dev.CreateAcls).
# Needs Java 17 and the classpath scripts/setup.sh resolves with Maven (dev/target/classpath).
# A folder formatted for another cluster or node, or left by another broker, is refused with
# the reason; nothing is ever wiped.
set -euo pipefail
DEV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$DEV_DIR/java.sh"

# Kafka's own form: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
new_cluster_id() {
  local id=""
  until [[ -n "$id" && "$id" != -* ]]; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
  done
  echo "$id"
}
if [[ "${1:-}" == "--new-cluster-id" ]]; then
  new_cluster_id
  exit 0
fi

dir="" port="" controller_port="" node_id=1 voters="" cluster_id="" replication=1 heap=512m
secure=""
overrides=()
while (($#)); do
  case "$1" in
    --dir) dir=$2 ;;
    --port) port=$2 ;;
    --controller-port) controller_port=$2 ;;
    --node-id) node_id=$2 ;;
    --voters) voters=$2 ;;
    --cluster-id) cluster_id=$2 ;;
    --replication) replication=$2 ;;
    --heap) heap=$2 ;;
    --set) overrides+=("$2") ;;
    --secure) secure=$2 ;;
    *) fail "kafka.sh: unknown option $1" ;;
  esac
  shift 2
done
[[ -n "$dir" && -n "$port" && -n "$controller_port" ]] ||
  fail "usage: kafka.sh --dir DIR --port PORT --controller-port PORT [options]"
[[ -n "$voters" ]] || voters="$node_id@127.0.0.1:$controller_port"
classpath=$(java_classpath)

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
data="$dir/data"
if compgen -G "$dir/*.db" >/dev/null; then
  fail "$dir holds sqlite files of the earlier local broker, which Apache Kafka cannot read; move or delete that folder to start an empty Kafka there"
fi
# meta.properties names the cluster and node a log directory was formatted for.
meta="$data/meta.properties"
if [[ -f "$meta" ]]; then
  formatted_cluster=$(sed -n 's/^cluster.id=//p' "$meta")
  formatted_node=$(sed -n 's/^node.id=//p' "$meta")
  if [[ -n "$cluster_id" && "$cluster_id" != "$formatted_cluster" ]]; then
    fail "$data was formatted for Kafka cluster $formatted_cluster, not $cluster_id; move or delete it to start afresh"
  fi
  if [[ "$formatted_node" != "$node_id" ]]; then
    fail "$data was formatted for node $formatted_node, not $node_id; move or delete it to start afresh"
  fi
  cluster_id=$formatted_cluster
elif [[ -n "$(ls -A "$data" 2>/dev/null)" ]]; then
  fail "$data is not empty but holds no Kafka meta.properties; move or delete it to start afresh"
elif [[ -z "$cluster_id" ]]; then
  [[ "$voters" == "$node_id@"* && "$voters" != *,* ]] ||
    fail "kafka.sh: --cluster-id is required for a node of several"
  cluster_id=$(new_cluster_id)
fi

# The settings of a secured node; fills `scram` with the credentials its format writes.
scram=()
security_settings() {
  local users="$secure/users" name password admin_password="" plain_users=""
  [[ -f "$users" ]] || fail "$users missing: list the users, one 'NAME PASSWORD' a line, admin among them"
  while read -r name password; do
    [[ -z "$name" ]] && continue
    [[ "$name$password" =~ ^[A-Za-z0-9_-]+$ ]] ||
      fail "$users: names and passwords take letters, digits, '_' and '-' only"
    [[ "$name" == admin ]] && admin_password=$password
    plain_users+=" user_$name=\"$password\""
    scram+=(--add-scram "SCRAM-SHA-512=[name=$name,password=$password]")
  done <"$users"
  [[ -n "$admin_password" ]] || fail "$users has no admin"
  local plain="org.apache.kafka.common.security.plain.PlainLoginModule required"
  plain+=" username=\"admin\" password=\"$admin_password\""
  echo "listeners=SASL_SSL://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port"
  echo "advertised.listeners=SASL_SSL://127.0.0.1:$port"
  echo "controller.listener.names=CONTROLLER"
  echo "inter.broker.listener.name=SASL_SSL"
  echo "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT"
  echo "sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN"
  echo "sasl.mechanism.inter.broker.protocol=PLAIN"
  echo "sasl.mechanism.controller.protocol=PLAIN"
  echo "listener.name.controller.sasl.enabled.mechanisms=PLAIN"
  echo "listener.name.controller.plain.sasl.jaas.config=$plain user_admin=\"$admin_password\";"
  echo "listener.name.sasl_ssl.plain.sasl.jaas.config=$plain$plain_users;"
  echo "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;"
  echo "ssl.keystore.type=PKCS12"
  echo "ssl.keystore.location=$secure/broker.p12"
  echo "ssl.keystore.password=$(cat "$secure/keystore-password")"
  echo "ssl.truststore.type=PEM"
  echo "ssl.truststore.location=$secure/ca.pem"
  echo "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer"
  echo "allow.everyone.if.no.acl.found=false"
  echo "super.users=User:admin"
}
if [[ -n "$secure" ]]; then
  mkdir -p "$secure"
  secure=$(cd "$secure" && pwd)
  bash "$DEV_DIR/certs.sh" "$secure"
fi

min_isr=$((replication > 1 ? replication - 1 : 1))
umask 077
{
  echo "process.roles=broker,controller"
  echo "node.id=$node_id"
  echo "controller.quorum.voters=$voters"
  if [[ -n "$secure" ]]; then
    security_settings
  else
    echo "listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port"
    echo "advertised.listeners=PLAINTEXT://127.0.0.1:$port"
    echo "controller.listener.names=CONTROLLER"
    echo "inter.broker.listener.name=PLAINTEXT"
    echo "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  fi
  echo "log.dirs=$data"
  echo "num.partitions=3"
  # As on managed clusters: a topic nobody created stays an error (librdkafka asks for
  # auto-creation by default).
  echo "auto.create.topics.enable=false"
  echo "default.replication.factor=$replication"
  echo "min.insync.replicas=$min_isr"
  echo "offsets.topic.replication.factor=$replication"
  echo "transaction.state.log.replication.factor=$replication"
  echo "transaction.state.log.min.isr=$min_isr"
  echo "share.coordinator.state.topic.replication.factor=$replication"
  echo "share.coordinator.state.topic.min.isr=$min_isr"
  # A group's first member need not wait 3 s for others (tests and local runs start one).
  echo "group.initial.rebalance.delay.ms=0"
  printf '%s\n' "${overrides[@]}"
} >"$dir/server.properties"

if [[ ! -f "$meta" ]]; then
  java -cp "$classpath" kafka.tools.StorageTool format --ignore-formatted \
    -t "$cluster_id" -c "$dir/server.properties" "${scram[@]}" >"$dir/format.log" 2>&1 ||
    fail "formatting $data failed; see $dir/format.log"
fi

exec java "-Xms64m" "-Xmx$heap" -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
  -cp "$classpath" kafka.Kafka "$dir/server.properties"
