"""Strimzi: the rendered resources split into core and custom ones, the custom ones agreeing
with each other, and the operator install landing in its namespace."""

import json
import re
from pathlib import Path

import yaml

from common import Report, group_of, is_custom, label, load_all


def cmd_split(rendered, source, core_out, custom_out):
    resources = load_all(rendered)
    core = [r for r in resources if not is_custom(r)]
    custom = [{"source": source, "resource": r} for r in resources if is_custom(r)]
    Path(core_out).write_text(yaml.safe_dump_all(core, sort_keys=False) if core else "")
    Path(custom_out).write_text(json.dumps(custom))
    print(f"{source}: {len(core)} core resources, {len(custom)} custom resources")


# ---------------------------------------------------------------------------------------------
# strimzi


def cmd_strimzi(custom_files):
    """What the published models (validate-models.mjs checks each resource against them) cannot
    express: how the resources of each rendered kustomization fit together."""
    report = Report()
    items = []
    for file in custom_files:
        items += [i for i in json.loads(Path(file).read_text()) if group_of(i["resource"]) == "kafka.strimzi.io"]

    by_source = {}
    for item in items:
        by_source.setdefault(item["source"], []).append(item["resource"])
    for source, resources in by_source.items():
        problems = []
        clusters = {r["metadata"]["name"]: r for r in resources if r["kind"] == "Kafka"}
        if not clusters and any(r["kind"] == "KafkaConnect" for r in resources):
            # The lake's kustomizations, on a Kafka of another one: the lake check covers them.
            continue
        if len(clusters) != 1:
            problems.append(f"{len(clusters)} Kafka clusters")
        for cluster in clusters.values():
            annotations = cluster["metadata"].get("annotations", {})
            if not (annotations.get("strimzi.io/kraft") == "enabled" and annotations.get("strimzi.io/node-pools") == "enabled"):
                problems.append(f"{label(cluster)} lacks the strimzi.io/kraft and strimzi.io/node-pools annotations")
            # The v1beta2 CRD (and so its model) still has spec.zookeeper, which Strimzi 0.46
            # and later ignore: ZooKeeper-based clusters are gone.
            if "zookeeper" in cluster["spec"]:
                problems.append(f"{label(cluster)} sets spec.zookeeper, which a KRaft cluster does not use")
            config = cluster["spec"]["kafka"].get("config", {})
            forbidden = [k for k in config if re.match(FORBIDDEN_KAFKA_CONFIG, k)]
            if forbidden:
                problems.append(f"{label(cluster)} sets options that Strimzi manages itself: {', '.join(forbidden)}")
        pools = [r for r in resources if r["kind"] == "KafkaNodePool"]
        for r in resources:
            if r["kind"] in ("KafkaNodePool", "KafkaTopic"):
                cluster = r["metadata"].get("labels", {}).get("strimzi.io/cluster")
                if cluster not in clusters or clusters[cluster]["metadata"].get("namespace") != r["metadata"].get("namespace"):
                    problems.append(f"{label(r)}: strimzi.io/cluster={cluster!r} names no Kafka in its namespace")
        roles = {role for pool in pools for role in pool["spec"].get("roles", [])}
        if not {"controller", "broker"} <= roles:
            problems.append(f"the node pools have roles {sorted(roles)}, not both controller and broker")
        brokers = sum(p["spec"].get("replicas", 0) for p in pools if "broker" in p["spec"].get("roles", []))
        for r in resources:
            if r["kind"] == "KafkaTopic" and r["spec"].get("replicas", 1) > brokers:
                problems.append(f"{label(r)} asks for {r['spec']['replicas']} replicas with {brokers} brokers")
        for cluster in clusters.values():
            config = cluster["spec"]["kafka"].get("config", {})
            for key in ("offsets.topic.replication.factor", "transaction.state.log.replication.factor", "default.replication.factor", "min.insync.replicas"):
                if int(config.get(key, 3 if key != "min.insync.replicas" else 1)) > brokers:
                    problems.append(f"{key} is {config.get(key, 3)} with {brokers} brokers")
        report.group(
            f"{source}: one KRaft cluster (no spec.zookeeper) with node pools holding controllers and {brokers} broker(s); every node pool "
            "and topic belongs to it; replication fits the brokers; no Strimzi-managed option set",
            problems,
        )
    if not items:
        report.fail("no Strimzi resources found to check")
    report.exit()


# Options the Strimzi operator sets itself and rejects in spec.kafka.config (Strimzi
# documentation, "Kafka broker configuration"): listeners, security, storage and node identity.
FORBIDDEN_KAFKA_CONFIG = (
    r"^(listeners|advertised\.|broker\.|listener\.(?!name\.[^.]+\.ssl\.)|host\.name|port$|"
    r"inter\.broker\.listener\.name|sasl\.|ssl\.|security\.|password\.|log\.dir|zookeeper\.|"
    r"authorizer\.|super\.user|node\.id|process\.roles|controller\.|metadata\.log\.dir|"
    r"cruise\.control\.metrics\.(topic|reporter\.bootstrap\.servers))"
)


CLUSTER_SCOPED = {
    "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Namespace",
    "PersistentVolume", "StorageClass", "PriorityClass", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "APIService",
}


def cmd_operator_namespace(rendered, namespace):
    """Every namespaced object of the rendered operator install is in `namespace`, and every
    ServiceAccount its bindings name is too: the operator runs there and watches it."""
    report = Report()
    objects = [o for o in load_all(rendered) if o]
    strays = [
        f"{o['kind']}/{o['metadata']['name']} in {o['metadata'].get('namespace', 'the current namespace')}"
        for o in objects
        if o["kind"] not in CLUSTER_SCOPED and o["metadata"].get("namespace") != namespace
    ]
    report.check(not strays, f"every namespaced object of the Strimzi operator install is in {namespace}", ", ".join(strays))
    subjects = [
        f"{o['kind']}/{o['metadata']['name']} names {s['name']} in {s.get('namespace')}"
        for o in objects
        if o["kind"] in ("RoleBinding", "ClusterRoleBinding")
        for s in o.get("subjects", [])
        if s.get("kind") == "ServiceAccount" and s.get("namespace") != namespace
    ]
    report.check(not subjects, f"every binding of the Strimzi operator names its ServiceAccount in {namespace}", ", ".join(subjects))
    report.ok(f"{len(objects)} objects checked")
    report.exit()
