"""The data lake's deployments agree with its local run: the connector's configuration and its
contract checks, the plugins' Maven coordinates, the Connect worker's settings, the versions, the metrics, the topics and the
Kafka grants of the lake's Connect worker (docs/lake.md)."""

import hashlib
import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import yaml

from common import Report, label, load_all

SINK_JSON = "dev/lake/iceberg-sink.json"
SINK_POM = "dev/lake/iceberg-sink/pom.xml"
CHECK_POM = "dev/lake/contract-check/pom.xml"
CHECK_CLASS = "com.storefront.lake.ContractCheck"
SCHEMAS = Path("shared-events/schemas")
LAKE_POM = "dev/lake/pom.xml"
LAKE_SH = "dev/lake.sh"
PLUGIN_FOLDER = Path("dev/lake/iceberg-sink/target/plugins/iceberg-sink")
MAVEN = "{http://maven.apache.org/POM/4.0.0}"
# What a KafkaConnector sets outside spec.config.
SPEC_KEYS = {"connector.class": "class", "tasks.max": "tasksMax"}
# Worker settings that differ by place by design: where the worker listens and finds plugins.
PLACE_KEYS = {"bootstrap.servers", "listeners", "rest.advertised.host.name", "rest.advertised.port", "plugin.path"}


def properties(text):
    """key=value lines (no continuation lines), comments and blank lines left out."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def pom_coordinates():
    """The iceberg-sink module's dependencies as group:artifact -> version, with the parent's
    properties and the AWS SDK's BOM version filled in; and hadoop-common's version."""
    parent = ElementTree.parse(LAKE_POM).getroot()
    props = {child.tag.removeprefix(MAVEN): child.text for child in parent.find(f"{MAVEN}properties")}
    root = ElementTree.parse(SINK_POM).getroot()
    resolve = lambda text: re.sub(r"\$\{([^}]+)\}", lambda m: props[m.group(1)], text or "")  # noqa: E731
    bom = next(d for d in root.iter(f"{MAVEN}dependency") if d.findtext(f"{MAVEN}artifactId") == "bom")
    managed = {bom.findtext(f"{MAVEN}groupId"): resolve(bom.findtext(f"{MAVEN}version"))}
    coordinates = {}
    for dependency in root.find(f"{MAVEN}dependencies"):
        group, artifact = dependency.findtext(f"{MAVEN}groupId"), dependency.findtext(f"{MAVEN}artifactId")
        version = resolve(dependency.findtext(f"{MAVEN}version")) or managed[group]
        coordinates[f"{group}:{artifact}"] = version
    return coordinates, props


def check_coordinates():
    """The contract check's group:artifact:version (group and version from the parent POM)."""
    parent = ElementTree.parse(LAKE_POM).getroot()
    root = ElementTree.parse(CHECK_POM).getroot()
    field = lambda name: root.findtext(f"{MAVEN}{name}") or parent.findtext(f"{MAVEN}{name}")  # noqa: E731
    return f"{field('groupId')}:{field('artifactId')}:{field('version')}"


def check_contract_plugin(report, where, plugins):
    """The contract check is a plugin of its own: the one maven artifact of its POM, from the
    repository it is deployed to (it is not on Maven Central); Strimzi adds the validator and
    its dependencies, as the POM's runtime dependencies."""
    artifacts = plugins.get("contract-check", [])
    found = [f"{a.get('group')}:{a.get('artifact')}:{a.get('version')}" for a in artifacts if a.get("type") == "maven"]
    repository = artifacts[0].get("repository", "") if len(artifacts) == 1 else ""
    report.check(found == [check_coordinates()] and re.match(r"^https?://", repository)
                 and "repo1.maven.org" not in repository,
                 f"{where}: plugin contract-check is {check_coordinates()} of {CHECK_POM} from the Maven repository it is deployed "
                 f"to ({repository})", f"artifacts {found}, repository {repository!r}")


def check_build(report, where, connect):
    coordinates, props = pom_coordinates()
    hadoop_version = coordinates.pop("org.apache.hadoop:hadoop-common")
    plugins = {plugin["name"]: plugin["artifacts"] for plugin in connect["spec"]["build"]["plugins"]}
    report.check(set(plugins) == {"iceberg-sink", "contract-check"}, f"{where}: the plugins iceberg-sink and contract-check",
                 ", ".join(sorted(plugins)))
    check_contract_plugin(report, where, plugins)
    artifacts = plugins.get("iceberg-sink", [])
    maven = {f"{a['group']}:{a['artifact']}": a["version"] for a in artifacts if a["type"] == "maven"}
    report.check(maven == coordinates, f"{where}: the plugin's maven artifacts are the dependencies of {SINK_POM} at its versions",
                 f"extra {sorted(set(maven.items()) - set(coordinates.items()))}, missing {sorted(set(coordinates.items()) - set(maven.items()))}")
    jars = [a for a in artifacts if a["type"] == "jar"]
    problems = []
    names = set()
    for jar in jars:
        match = re.match(r"^https://repo1\.maven\.org/maven2/(.+)/([^/]+)/([^/]+)/\2-\3\.jar$", jar.get("url", ""))
        if not match or not re.fullmatch(r"[0-9a-f]{128}", jar.get("sha512sum", "")):
            problems.append(f"{jar.get('url')} is not a Maven Central jar with its SHA-512")
            continue
        names.add(f"{match.group(2)}-{match.group(3)}.jar")
    if f"hadoop-common-{hadoop_version}.jar" not in names:
        problems.append(f"no hadoop-common-{hadoop_version}.jar")
    if any(name.startswith("avro-") for name in names):
        problems.append("an Avro jar among hadoop-common's (the POM excludes it)")
    report.group(f"{where}: hadoop-common {hadoop_version} and {len(jars) - 1} of its dependencies as Maven Central jars, each with "
                 "its SHA-512", problems)
    if PLUGIN_FOLDER.is_dir():
        problems = []
        for jar in jars:
            file = PLUGIN_FOLDER / jar["url"].rsplit("/", 1)[1]
            if not file.is_file():
                problems.append(f"{file.name} is not in the local plugin folder")
            elif hashlib.sha512(file.read_bytes()).hexdigest() != jar["sha512sum"]:
                problems.append(f"{file.name}: SHA-512 differs from the local plugin folder's")
        report.group(f"{where}: those jars are in the plugin folder Maven made from {SINK_POM} ({PLUGIN_FOLDER}), same SHA-512",
                     problems)
    else:
        report.ok(f"{where}: no local plugin folder to compare the jars with (scripts/setup.sh --lake makes it)")
    report.check(connect["spec"].get("version") == props["kafka.version"],
                 f"{where}: Connect runs Kafka {props['kafka.version']}, the broker's version of {LAKE_POM}", str(connect["spec"].get("version")))


def check_connect(report, where, resources, sink, grants):
    connects = [r for r in resources if r.get("kind") == "KafkaConnect"]
    if not report.check(len(connects) == 1, f"{where}: one KafkaConnect", str(len(connects))):
        return
    connect = connects[0]
    name, namespace = connect["metadata"]["name"], connect["metadata"]["namespace"]
    report.check(connect["metadata"].get("annotations", {}).get("strimzi.io/use-connector-resources") == "true",
                 f"{where}: {label(connect)} takes its connectors from KafkaConnector resources")
    check_build(report, where, connect)

    worker = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in connect["spec"].get("config", {}).items()}
    compose_worker = properties(Path("deploy/lake/connect-worker.properties").read_text())
    heredoc = re.search(r"<<PROPERTIES\n(.*?)\nPROPERTIES\n", Path(LAKE_SH).read_text(), re.S)
    local_worker = {k: v for k, v in properties(heredoc.group(1) if heredoc else "").items() if "$" not in v}
    differ = sorted(k for k in (set(worker) | set(compose_worker)) - PLACE_KEYS if worker.get(k) != compose_worker.get(k))
    differ += sorted(k for k in set(local_worker) - PLACE_KEYS if local_worker[k] != compose_worker.get(k))
    report.check(not differ, f"{where}: the worker's settings are those of deploy/lake/connect-worker.properties and {LAKE_SH}",
                 ", ".join(differ))

    metrics = connect["spec"].get("metricsConfig") or {}
    ref = (metrics.get("valueFrom") or {}).get("configMapKeyRef") or {}
    config_map = next((r for r in resources if r.get("kind") == "ConfigMap" and r["metadata"]["name"] == ref.get("name")
                       and r["metadata"].get("namespace") == namespace), None)
    rules = yaml.safe_load((config_map or {}).get("data", {}).get(ref.get("key"), "") or "{}") or {}
    patterns = " ".join(rule.get("pattern", "") for rule in rules.get("rules", []))
    report.check(metrics.get("type") == "jmxPrometheusExporter" and "connector-task-metrics" in patterns and "status" in patterns,
                 f"{where}: JMX exporter metrics with rules from ConfigMap {ref.get('name')} that export each task's status")

    connectors = [r for r in resources if r.get("kind") == "KafkaConnector"]
    report.check(len(connectors) == 1 and connectors[0]["metadata"].get("labels", {}).get("strimzi.io/cluster") == name,
                 f"{where}: one KafkaConnector, of {label(connect)}")
    user = (connect["spec"].get("authentication") or {}).get("username")
    principal = "lake-connect"
    for connector in connectors:
        config = {k: str(v) for k, v in connector["spec"].get("config", {}).items()}
        expected = {k: v for k, v in sink.items() if k not in SPEC_KEYS}
        spec_problems = [f"{key} is {connector['spec'].get(field)!r}" for key, field in SPEC_KEYS.items()
                         if str(connector["spec"].get(field)) != sink[key]]
        catalog = sorted(k for k in set(expected) | set(config) if k.startswith("iceberg.catalog.") and config.get(k) != expected.get(k))
        other = sorted(k for k in set(expected) | set(config)
                       if not k.startswith(("iceberg.catalog.", "iceberg.kafka.")) and config.get(k) != expected.get(k))
        report.check(not spec_problems and not other,
                     f"{label(connector)} in {where}: the configuration of {SINK_JSON}"
                     + (f", the catalog's settings apart ({', '.join(catalog)})" if catalog else ", key by key")
                     + "; besides it only the sink's own Kafka clients' iceberg.kafka.*",
                     "; ".join(spec_problems + [f"{k}: {config.get(k)!r} instead of {expected.get(k)!r}" for k in other]))
        env = {e["name"] for e in connect["spec"].get("template", {}).get("connectContainer", {}).get("env", [])}
        wanted = {m for value in config.values() for m in re.findall(r"\$\{env:([A-Z_]+)\}", value)}
        report.check(wanted <= env, f"{label(connector)} in {where}: every ${{env:...}} it reads is in the worker's environment",
                     f"missing {sorted(wanted - env)}")
        login = config.get("iceberg.kafka.sasl.jaas.config", "")
        report.check(f'username="{user}"' in login and f"/opt/kafka/connect-password/{connect['spec']['authentication']['passwordSecret']['secretName']}:" in login,
                     f"{label(connector)} in {where}: the sink's own clients log in as the worker does ({user})")
        lake_grants = {(kind, name_) for (p, kind, name_, _) in grants if p == principal}
        named = {
            ("Group", worker.get("group.id")), ("Group", f"connect-{connector['metadata']['name']}"),
            ("Group", f"connect-{connector['metadata']['name']}-coord"),
            ("Group", config["iceberg.control.group-id-prefix"] + "*"),
            ("TransactionalId", config["iceberg.coordinator.transactional.prefix"] + "*"),
            ("Topic", config["iceberg.control.topic"]), ("Topic", config["errors.deadletterqueue.topic.name"]),
        } | {("Topic", worker[k]) for k in ("config.storage.topic", "offset.storage.topic", "status.storage.topic")} \
          | {("Topic", t) for t in config["topics"].split(",")}
        report.check(named <= lake_grants, f"{where}: every group, topic and transactional id the worker and the sink use is granted "
                     f"to {principal} in deploy/kafka/grants.txt", f"not granted: {sorted(named - lake_grants)}")
    if connect["spec"]["authentication"]["type"] == "scram-sha-512":
        report.check(user == principal, f"{where}: {label(connect)} logs in as the SCRAM user {principal}", str(user))
    return connect, connectors


def check_topics(report, where, resources, connect, connectors, kafka_resources):
    topics = [r for r in resources if r.get("kind") == "KafkaTopic"]
    if not topics:
        report.ok(f"{where}: the lake's topics are made outside this kustomization (its documentation lists them)")
        return
    worker, config = connect["spec"]["config"], connectors[0]["spec"]["config"]
    internal = [worker["config.storage.topic"], worker["offset.storage.topic"], worker["status.storage.topic"]]
    expected = set(internal) | {config["iceberg.control.topic"], config["errors.deadletterqueue.topic.name"]}
    by_name = {t["spec"].get("topicName", t["metadata"]["name"]): t for t in topics}
    report.check(set(by_name) == expected, f"{where}: KafkaTopics for the worker's topics, the control topic and the dead-letter topic",
                 f"missing {sorted(expected - set(by_name))}, extra {sorted(set(by_name) - expected)}")
    problems = [f"{name} is not compacted" for name in internal
                if (by_name.get(name, {}).get("spec", {}).get("config") or {}).get("cleanup.policy") != "compact"]
    if by_name.get(worker["config.storage.topic"], {}).get("spec", {}).get("partitions") != 1:
        problems.append(f"{worker['config.storage.topic']} has more than one partition")
    clusters = {(r["metadata"]["name"], r["metadata"].get("namespace")) for r in kafka_resources if r.get("kind") == "Kafka"}
    brokers = sum(p["spec"].get("replicas", 0) for p in kafka_resources
                  if p.get("kind") == "KafkaNodePool" and "broker" in p["spec"].get("roles", []))
    for topic in topics:
        if (topic["metadata"].get("labels", {}).get("strimzi.io/cluster"), topic["metadata"].get("namespace")) not in clusters:
            problems.append(f"{label(topic)} names no Kafka of the minikube overlay")
        if topic["spec"].get("replicas", 1) > brokers:
            problems.append(f"{label(topic)} asks for more replicas than the {brokers} broker(s)")
    report.group(f"{where}: the internal topics compacted, the configuration topic with one partition, each topic on the minikube "
                 "overlay's Kafka with replicas that fit its brokers", problems)


def check_compose(report, compose_file, sink):
    compose = yaml.safe_load(Path(compose_file).read_text()) or {}
    services = compose.get("services", {})
    lake = {name: s for name, s in services.items() if "lake" in (s.get("profiles") or [])}
    report.check({"lake-s3", "lake-tables", "lake-connect", "lake"} <= set(lake),
                 "docker-compose.yml: the object store, the tables, the Connect worker and its registration under profile lake",
                 ", ".join(sorted(lake)))
    connect = services.get("lake-connect", {})
    env = set((connect.get("environment") or {}).keys())
    wanted = {m for value in sink.values() for m in re.findall(r"\$\{env:([A-Z_]+)\}", value)}
    report.check(wanted <= env, "docker-compose.yml: lake-connect's environment has every ${env:...} of the connector",
                 f"missing {sorted(wanted - env)}")
    kafka_image = (services.get("kafka") or {}).get("image", "")
    dockerfile = Path("dev/lake/Dockerfile").read_text()
    arg = lambda name: (re.search(rf"^ARG {name}=(\S+)", dockerfile, re.M) or [None, None])[1]  # noqa: E731
    _, props = pom_coordinates()
    report.check(kafka_image == f"apache/kafka:{arg('KAFKA_VERSION')}" and arg("KAFKA_VERSION") == props["kafka.version"],
                 f"dev/lake/Dockerfile's Connect image is the broker's ({kafka_image}) and {LAKE_POM}'s Kafka version",
                 f"KAFKA_VERSION={arg('KAFKA_VERSION')}, kafka.version={props['kafka.version']}")
    plugin_path = properties(Path("deploy/lake/connect-worker.properties").read_text()).get("plugin.path")
    copied = re.findall(r"^COPY --from=plugins /src/dev/lake/([\w-]+)/target/plugins/\1 (\S+)$", dockerfile, re.M)
    report.check(sorted(copied) == [("contract-check", f"{plugin_path}/contract-check"), ("iceberg-sink", f"{plugin_path}/iceberg-sink")],
                 f"dev/lake/Dockerfile's Connect image has the plugin folders iceberg-sink and contract-check in its plugin.path ({plugin_path})",
                 str(copied))
    setup = re.search(r"^VERSITYGW_VERSION=(\S+)", Path("scripts/setup.sh").read_text(), re.M)
    report.check(setup and arg("VERSITYGW_VERSION") == setup.group(1),
                 "dev/lake/Dockerfile builds the Versity S3 Gateway version of scripts/setup.sh",
                 f"{arg('VERSITYGW_VERSION')} vs {setup.group(1) if setup else None}")
    depends = lambda name: (services.get(name) or {}).get("depends_on") or {}  # noqa: E731
    report.check(depends("lake").get("lake-connect", {}).get("condition") == "service_healthy"
                 and depends("lake-connect").get("lake-tables", {}).get("condition") == "service_completed_successfully"
                 and depends("lake-tables").get("lake-s3", {}).get("condition") == "service_healthy",
                 "docker-compose.yml: the object store healthy, then the tables, then the worker healthy, then the registration")


def check_scrapes(report, where, connect, monitors):
    """Istio's Prometheus (pod annotations) and prometheus-operator (the PodMonitor) scrape the
    port where Strimzi serves the JMX exporter: 9404, named tcp-prometheus."""
    annotations = connect["spec"].get("template", {}).get("pod", {}).get("metadata", {}).get("annotations", {})
    report.check(annotations.get("prometheus.io/scrape") == "true" and annotations.get("prometheus.io/port") == "9404"
                 and annotations.get("prometheus.io/path") == "/metrics",
                 f"{where}: the Connect pods ask Istio's Prometheus to scrape :9404/metrics", json.dumps(annotations))
    name, namespace = connect["metadata"]["name"], connect["metadata"]["namespace"]
    found = [m for m in monitors if m["spec"]["selector"].get("matchLabels", {}).get("strimzi.io/cluster") == name
             and m["spec"]["selector"]["matchLabels"].get("strimzi.io/kind") == "KafkaConnect"
             and namespace in m["spec"].get("namespaceSelector", {}).get("matchNames", [])
             and any(e.get("port") == "tcp-prometheus" for e in m["spec"].get("podMetricsEndpoints", []))]
    report.check(bool(found), f"{where}: a PodMonitor of k8s/monitoring/prometheus-operator scrapes its pods' tcp-prometheus port")


def check_contract_transforms(report, sink):
    """Each of the connector's topics has a contract check, picked by a TopicNameMatches
    predicate of that topic alone, with an accepted schema of the contract."""
    problems = []
    checked = {}
    for name in sink["transforms"].split(","):
        if sink.get(f"transforms.{name}.type") != CHECK_CLASS:
            continue
        schema = sink.get(f"transforms.{name}.schema", "")
        if not schema.endswith(".accepted.json") or not (SCHEMAS / schema).is_file():
            problems.append(f"{name}: {schema!r} is no accepted schema in {SCHEMAS}")
        predicate = sink.get(f"transforms.{name}.predicate", "")
        if sink.get(f"predicates.{predicate}.type") != "org.apache.kafka.connect.transforms.predicates.TopicNameMatches" \
                or sink.get(f"transforms.{name}.negate", "false") != "false":
            problems.append(f"{name}: not picked by a TopicNameMatches predicate")
            continue
        pattern = sink.get(f"predicates.{predicate}.pattern", "")
        for topic in sink["topics"].split(","):
            if re.fullmatch(pattern, topic):
                checked.setdefault(topic, []).append(name)
    for topic in sink["topics"].split(","):
        if len(checked.get(topic, [])) != 1:
            problems.append(f"{topic} has {len(checked.get(topic, []))} contract checks")
    report.group(f"{SINK_JSON}: each topic's values are checked against an accepted schema of {SCHEMAS} ({CHECK_CLASS})",
                 problems)


def cmd_lake(grants_file, compose_file, minikube_file, monitoring_file, *renderings):
    report = Report()
    sink = json.loads(Path(SINK_JSON).read_text())
    check_contract_transforms(report, sink)
    lines = [line for line in Path(grants_file).read_text().splitlines() if line and not line.startswith("#")]
    grants = {tuple(line.split(",")) for line in lines}
    check_compose(report, compose_file, sink)
    kafka_resources = load_all(minikube_file)
    monitors = [r for r in load_all(monitoring_file) if r.get("kind") == "PodMonitor"]
    for rendering in renderings:
        where, _, path = rendering.partition("=")
        resources = load_all(path)
        checked = check_connect(report, where, resources, sink, grants)
        if checked:
            check_topics(report, where, resources, *checked, kafka_resources)
            check_scrapes(report, where, checked[0], monitors)
    report.exit()
