#!/bin/sh
# Creates every topic and its dead-letter topic, then exits: the one-shot kafka-init service of
# docker-compose.yml runs it in the apache/kafka image (POSIX sh: the image's /bin/sh is busybox).
# Idempotent: --if-not-exists makes a second run a no-op, so a restarted stack keeps its data.
set -eu

: "${BOOTSTRAP_SERVERS:?}" "${TOPICS:?}" "${DEAD_LETTER_SUFFIX:?}" "${PARTITIONS:?}" "${REPLICATION_FACTOR:?}"
kafka_topics=/opt/kafka/bin/kafka-topics.sh

# create NAME [--config KEY=VALUE ...]
create() {
  name=$1
  shift
  echo "creating topic $name ($PARTITIONS partitions, replication factor $REPLICATION_FACTOR)"
  "$kafka_topics" --bootstrap-server "$BOOTSTRAP_SERVERS" --create --if-not-exists \
    --topic "$name" --partitions "$PARTITIONS" --replication-factor "$REPLICATION_FACTOR" "$@"
}

for topic in $TOPICS; do
  case " ${COMPACTED_TOPICS:-} " in
    *" $topic "*)
      create "$topic" --config cleanup.policy=compact
      # A topic made before it was declared compacted becomes compacted too.
      /opt/kafka/bin/kafka-configs.sh --bootstrap-server "$BOOTSTRAP_SERVERS" --alter \
        --entity-type topics --entity-name "$topic" --add-config cleanup.policy=compact
      ;;
    *) create "$topic" ;;
  esac
  # Dead letters are kept 14 days (as the KafkaTopics in k8s/infra/kafka), for inspection.
  create "$topic$DEAD_LETTER_SUFFIX" --config retention.ms=1209600000
done

echo "topics now on the broker:"
"$kafka_topics" --bootstrap-server "$BOOTSTRAP_SERVERS" --list
