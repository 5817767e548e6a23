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

# The changelogs' cleanup.policy: compact, or delete while an upstream producer writes keyless
# records to them (docs/upstream-fleet.md).
policy=${CHANGELOG_CLEANUP_POLICY:-compact}
case "$policy" in
  compact | delete) ;;
  *)
    echo "CHANGELOG_CLEANUP_POLICY is '$policy'; use compact or delete" >&2
    exit 1
    ;;
esac

for topic in $TOPICS; do
  case " ${COMPACTED_TOPICS:-} " in
    *" $topic "*)
      create "$topic" --config "cleanup.policy=$policy"
      # An existing changelog is switched to the policy asked for.
      /opt/kafka/bin/kafka-configs.sh --bootstrap-server "$BOOTSTRAP_SERVERS" --alter \
        --entity-type topics --entity-name "$topic" --add-config "cleanup.policy=$policy"
      ;;
    *) create "$topic" ;;
  esac
  # Dead letters are kept 14 days (as the KafkaTopics in k8s/infra/kafka), for inspection.
  create "$topic$DEAD_LETTER_SUFFIX" --config retention.ms=1209600000
done

echo "topics now on the broker:"
"$kafka_topics" --bootstrap-server "$BOOTSTRAP_SERVERS" --list
