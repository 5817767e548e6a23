"""The topics in compose and Kubernetes are those of scripts/lib.sh."""

import re
from pathlib import Path

import yaml

from common import PARTITIONS, Report, load_all


def cmd_topics(lib_sh, compose_file, minikube_file):
    report = Report()
    text = Path(lib_sh).read_text()
    # The same reading as the test in shared-events/src/topics.rs.
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("TOPICS=("))
    topics = []
    for line in lines[start + 1:]:
        if line.startswith(")"):
            break
        topics.append(line.strip())
    suffix = re.search(r'^DEAD_LETTER_SUFFIX="([^"]*)"', text, re.M).group(1)
    expected = set(topics) | {t + suffix for t in topics}
    compacted = re.search(r'^COMPACTED_TOPICS=\(([^)]*)\)', text, re.M).group(1).split()
    report.ok(f"scripts/lib.sh: topics {', '.join(topics)} with dead-letter suffix {suffix}, compacted: {', '.join(compacted)}")

    compose = yaml.safe_load(Path(compose_file).read_text()) or {}
    init = ((compose.get("services") or {}).get("kafka-init") or {}).get("environment") or {}
    report.check(init.get("TOPICS", "").split() == topics, "docker-compose.yml kafka-init creates the same topics", init.get("TOPICS"))
    report.check(init.get("DEAD_LETTER_SUFFIX") == suffix, "docker-compose.yml kafka-init uses the same dead-letter suffix", init.get("DEAD_LETTER_SUFFIX"))
    report.check(str(init.get("PARTITIONS")) == str(PARTITIONS), f"docker-compose.yml topics have {PARTITIONS} partitions", str(init.get("PARTITIONS")))
    report.check(init.get("COMPACTED_TOPICS", "").split() == compacted, "docker-compose.yml kafka-init compacts the same topics", init.get("COMPACTED_TOPICS"))

    kafka_topics = [r for r in load_all(minikube_file) if r.get("kind") == "KafkaTopic"]
    names = {r["spec"].get("topicName", r["metadata"]["name"]) for r in kafka_topics}
    report.check(names == expected, "k8s KafkaTopics are the topics and their dead-letter topics", f"missing {sorted(expected - names)}, extra {sorted(names - expected)}")
    wrong = [r["metadata"]["name"] for r in kafka_topics if r["spec"].get("partitions") != PARTITIONS]
    report.check(not wrong, f"k8s KafkaTopics have {PARTITIONS} partitions", ", ".join(wrong))
    compacted_k8s = sorted(
        r["spec"].get("topicName", r["metadata"]["name"])
        for r in kafka_topics
        if (r["spec"].get("config") or {}).get("cleanup.policy") == "compact"
    )
    report.check(compacted_k8s == sorted(compacted), "k8s KafkaTopics compact the same topics", ", ".join(compacted_k8s))
    report.exit()
