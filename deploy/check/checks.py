#!/usr/bin/env python3
"""The offline checks of scripts/check-deploy.sh that need more than one command.

Each subcommand prints one line per check ("ok   ..." or "FAIL ...") and exits 1 if any
failed. The script runs them in its Python environment (PyYAML, dockerfile).

  split RENDERED.yaml SOURCE CORE.yaml CUSTOM.json   core resources vs custom resources
  strimzi CUSTOM.json...                             Strimzi resources agree with each other
  env SETTINGS TOMLS DOCKERFILE COMPOSE.yaml OVERLAYS  environment variables of the services
  wiring COMPOSE.yaml PROMETHEUS.yml OVERLAYS ISTIO   ports, probes, scrape paths, routes
  topics LIB_SH COMPOSE.yaml MINIKUBE.yaml           topic lists agree
  tracing COMPOSE.yaml COLLECTOR.yaml MINIKUBE.yaml  services -> collector -> Jaeger
  loadgen COMPOSE.yaml JOB.yaml ISTIO.yaml           the load generator reaches every service
  dashboard DASHBOARD.json METRICS.txt RULES_OUT [SCRAPE_FILES...]
  build-command DOCKERFILE RUN_LOCAL_SH BENCH_SH [SCRIPT...]  one build path (SCRIPTs run it
                                                     too; the load generator as BENCH_SH builds it)
  build-context DOCKERFILE DOCKERIGNORE WORK          the first COPYs hold a loadable workspace
  operator-namespace RENDERED.yaml NAMESPACE         the Strimzi operator lands in NAMESPACE
  jwt-policy RENDERED.yaml                           the JWT policies over every route served
  runtime-packages DOCKERFILE                        the Debian packages of the runtime image
  runtime-image DOCKERFILE DEBS ROOT BINARY...       the binaries in a folder of those packages
"""

import base64
import json
import re
import shlex
import sys
from pathlib import Path

import yaml

SERVICES = ("accounts", "orders", "fulfillment")
HOST_PORTS = {"accounts": 8085, "orders": 8090, "fulfillment": 8095}
CONTAINER_PORT = 8080
# Partitions of every topic: a consumer group uses at most this many instances.
PARTITIONS = 3
# The services that consume, each in a group of its own.
CONSUMERS = ("orders", "fulfillment")


class Report:
    def __init__(self):
        self.failures = 0

    def ok(self, message):
        print(f"ok   {message}")

    def fail(self, message):
        print(f"FAIL {message}")
        self.failures += 1

    def warn(self, message):
        print(f"WARN {message}")

    def group(self, message, problems):
        """One line for several checks: ok, or FAIL with every problem found."""
        if problems:
            self.fail(f"{message}: " + "; ".join(problems))
        else:
            self.ok(message)

    def check(self, condition, message, detail=""):
        if condition:
            self.ok(message)
        else:
            self.fail(f"{message}{': ' + detail if detail else ''}")
        return condition

    def exit(self):
        sys.exit(1 if self.failures else 0)


def load_all(path):
    return [doc for doc in yaml.safe_load_all(Path(path).read_text()) if doc]


def parse_overlays(arguments):
    """NAME=PATH arguments: rendered kustomize overlays."""
    overlays = {}
    for argument in arguments:
        name, _, path = argument.partition("=")
        overlays[name] = load_all(path)
    return overlays


def group_of(resource):
    api_version = resource.get("apiVersion", "")
    return api_version.split("/")[0] if "/" in api_version else ""


def is_custom(resource):
    group = group_of(resource)
    return "." in group and not group.endswith(".k8s.io")


def label(resource):
    meta = resource.get("metadata", {})
    namespace = meta.get("namespace")
    return f"{resource.get('kind')}/{(namespace + '/') if namespace else ''}{meta.get('name')}"


# ---------------------------------------------------------------------------------------------
# tracing


def url_host_port(url):
    match = re.match(r"^(?:[a-z]+://)?([^/:]+):(\d+)", url or "")
    return (match.group(1), int(match.group(2))) if match else (None, None)


def collector_problems(config):
    """What is wrong with an OpenTelemetry Collector configuration; also its OTLP/HTTP port and
    the (host, port) its traces go to."""
    problems = []
    pipeline = ((config.get("service") or {}).get("pipelines") or {}).get("traces") or {}
    for kind in ("receivers", "processors", "exporters"):
        for name in pipeline.get(kind, []):
            if name not in (config.get(kind) or {}):
                problems.append(f"the traces pipeline uses {kind[:-1]} {name}, which is not defined")
    for name in (config.get("service") or {}).get("extensions", []):
        if name not in (config.get("extensions") or {}):
            problems.append(f"extension {name} is enabled but not defined")
    if "health_check" not in (config.get("service") or {}).get("extensions", []):
        problems.append("no health_check extension for the probes")
    http_port = None
    for name in pipeline.get("receivers", []):
        http = ((((config.get("receivers") or {}).get(name) or {}).get("protocols") or {}).get("http")) or {}
        if name.split("/")[0] == "otlp" and "endpoint" in http:
            http_port = url_host_port(http["endpoint"])[1]
    if http_port is None:
        problems.append("no OTLP receiver takes HTTP in the traces pipeline (the services send OTLP/HTTP)")
    targets = [
        url_host_port(((config.get("exporters") or {}).get(name) or {}).get("endpoint"))
        for name in pipeline.get("exporters", [])
        if name.split("/")[0] == "otlp"
    ]
    if not targets:
        problems.append("the traces pipeline exports to no OTLP destination")
    return problems, http_port, targets


def cmd_tracing(compose_file, collector_file, minikube_file):
    """The services' OTLP endpoint reaches the collector, and the collector reaches Jaeger, in
    compose and in the minikube overlay."""
    report = Report()
    config = yaml.safe_load(Path(collector_file).read_text()) or {}
    problems, http_port, targets = collector_problems(config)
    report.group(f"{collector_file}: a complete traces pipeline from OTLP/HTTP to OTLP", problems)
    jaeger_otlp = 4317

    compose = yaml.safe_load(Path(compose_file).read_text()) or {}
    services = compose.get("services") or {}
    problems = []
    collector = services.get("otel-collector") or {}
    command = " ".join(collector.get("command") or [])
    config_path = (re.search(r"--config=(\S+)", command) or [None, None])[1]
    # Long syntax (docker compose) or SOURCE:TARGET[:MODE] (docker-compose 1).
    volumes = [v if isinstance(v, dict) else dict(zip(("source", "target"), str(v).split(":"))) for v in collector.get("volumes", [])]
    mounted = {v.get("target"): Path(v.get("source", "")).name for v in volumes}
    if mounted.get(config_path) != Path(collector_file).name:
        problems.append(f"otel-collector does not read {collector_file} (--config={config_path}, mounts {mounted})")
    for name, service, spec in compose_storefront_services(compose):
        endpoint = (spec.get("environment") or {}).get("APP_TELEMETRY__OTLP_ENDPOINT")
        if url_host_port(endpoint) != ("otel-collector", http_port):
            problems.append(f"{name} sends traces to {endpoint}, not to otel-collector:{http_port}")
    for host, port in targets:
        if host not in services or port != jaeger_otlp:
            problems.append(f"the collector exports to {host}:{port}, not to a compose service's OTLP port")
    report.group("docker-compose.yml: services -> otel-collector (OTLP/HTTP) -> jaeger (OTLP)", problems)

    resources = load_all(minikube_file)
    index = {(r["kind"], r["metadata"].get("namespace", "default"), r["metadata"]["name"]): r for r in resources if "metadata" in r}
    problems = []

    def reaches(host, port, where):
        """The Deployment behind Service `host` (NAME or NAME.NAMESPACE...) and its container
        listening on `port`; None (and a problem) if there is none."""
        name, _, rest = host.partition(".")
        namespace = rest.split(".")[0] if rest else where
        service = index.get(("Service", namespace, name))
        if service is None:
            problems.append(f"no Service {namespace}/{name} for {host}:{port}")
            return None
        ports = [p for p in service["spec"].get("ports", []) if p.get("port") == port]
        if not ports:
            problems.append(f"Service {namespace}/{name} has no port {port}")
            return None
        target = ports[0].get("targetPort", port)
        selector = service["spec"].get("selector") or {}
        for r in resources:
            if r.get("kind") != "Deployment" or r["metadata"].get("namespace") != namespace:
                continue
            labels = r["spec"]["template"]["metadata"].get("labels") or {}
            if not selector or any(labels.get(k) != v for k, v in selector.items()):
                continue
            for container in r["spec"]["template"]["spec"]["containers"]:
                for p in container.get("ports", []):
                    if target in (p.get("name"), p.get("containerPort")):
                        return r, container
        problems.append(f"no pod of Service {namespace}/{name} listens on {target}")
        return None

    endpoints = {
        v
        for _, _, container, namespace in k8s_storefront_containers(resources)
        for v, _ in k8s_environment(report, "minikube", resources, container, namespace).get("APP_TELEMETRY__OTLP_ENDPOINT", [])
    }
    if not endpoints:
        problems.append("the services have no APP_TELEMETRY__OTLP_ENDPOINT")
    for endpoint in endpoints:
        host, port = url_host_port(endpoint)
        if port != http_port:
            problems.append(f"the services send to port {port}, the collector takes OTLP/HTTP on {http_port}")
        found = reaches(host, port, "dev") if host else None
        if found is None:
            continue
        deployment, container = found
        namespace = deployment["metadata"]["namespace"]
        mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
        args = " ".join(container.get("args", []))
        config_path = (re.search(r"--config=(\S+)", args) or [None, None])[1]
        in_cluster = None
        for volume in deployment["spec"]["template"]["spec"].get("volumes", []):
            name = (volume.get("configMap") or {}).get("name")
            config_map = index.get(("ConfigMap", namespace, name))
            if config_map and config_path and config_path.startswith(mounts.get(volume["name"], "?") + "/"):
                in_cluster = yaml.safe_load((config_map.get("data") or {}).get(Path(config_path).name, "")) or None
        if in_cluster != config:
            problems.append(f"the collector in {namespace} does not run {collector_file} (--config={config_path})")
        for target_host, target_port in targets:
            reaches(target_host, target_port, namespace)
    report.group("minikube overlay: services -> otel-collector (OTLP/HTTP) -> jaeger (OTLP), same collector configuration", problems)
    report.exit()


# ---------------------------------------------------------------------------------------------
# loadgen


def loadgen_urls(args):
    """The base URL of each service that `storefront-bench load ARGS` calls."""
    options = dict(zip(args[::2], args[1::2]))
    gateway = options.get("--gateway", "").rstrip("/")
    return {
        service: options.get(f"--{service}", f"{gateway}/{service}" if gateway else None)
        for service in SERVICES
    }


def cmd_loadgen(compose_file, job_file, istio_file):
    """The load generator reaches every service: in compose each service by its name, port and
    base path; in the cluster the Istio ingress gateway, on the port its Gateway serves, under
    the prefixes its VirtualService routes."""
    report = Report()
    compose = yaml.safe_load(Path(compose_file).read_text()) or {}
    spec = (compose.get("services") or {}).get("loadgen") or {}
    problems = []
    if spec.get("profiles") != ["loadgen"]:
        problems.append(f"not only under the loadgen profile: {spec.get('profiles')}")
    if (spec.get("build") or {}).get("target") != "loadgen":
        problems.append("not built from the Dockerfile's loadgen stage")
    for service, url in loadgen_urls(spec.get("command") or []).items():
        if url != f"http://{service}:{CONTAINER_PORT}/{service}":
            problems.append(f"calls {service} at {url}")
        if (spec.get("depends_on") or {}).get(service, {}).get("condition") != "service_healthy":
            problems.append(f"does not wait for {service} to be healthy")
    report.group(f"docker-compose.yml: loadgen (profile loadgen) calls each service at http://SERVICE:{CONTAINER_PORT}/SERVICE once healthy", problems)

    istio = load_all(istio_file)
    gateways = [r for r in istio if r["kind"] == "Gateway"]
    ports = {s["port"]["number"] for g in gateways for s in g["spec"].get("servers", [])}
    prefixes = {
        (m.get("uri") or {}).get("prefix")
        for r in istio if r["kind"] == "VirtualService"
        for h in r["spec"].get("http", []) for m in h.get("match", [])
    }
    jobs = [r for r in load_all(job_file) if r.get("kind") == "Job"]
    problems = [] if jobs else ["no Job"]
    for job in jobs:
        pod = job["spec"]["template"]
        for container in pod["spec"]["containers"]:
            if container.get("image", "").split(":")[0] != "storefront/loadgen":
                problems.append(f"runs {container.get('image')}, not the storefront/loadgen image")
            for service, url in loadgen_urls(container.get("args") or []).items():
                host, port = url_host_port(re.sub(r"^(https?://[^/:]+)(/|$)", lambda m: m.group(1) + ":80" + m.group(2), url or ""))
                if host != "istio-ingressgateway.istio-system.svc.cluster.local" or port not in ports:
                    problems.append(f"calls {service} at {url}, not the ingress gateway on a port its Gateway serves {sorted(ports)}")
                if not any(prefix and f"/{service}/".startswith(prefix) for prefix in prefixes):
                    problems.append(f"the gateway routes no prefix of /{service}/")
        if (pod["metadata"].get("annotations") or {}).get("sidecar.istio.io/inject") != "false":
            problems.append("a sidecar would keep the Job's pod running after the load generator ends")
    report.group(f"{job_file}: the Job calls every service through the Istio ingress gateway, without a sidecar", problems)
    report.exit()


# ---------------------------------------------------------------------------------------------
# split


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


# ---------------------------------------------------------------------------------------------
# env


def read_configuration_table(settings):
    """services/settings.toml: {variable: {"default": str, "meaning": str, "services": set}}."""
    import tomllib

    table = {}
    for name, row in tomllib.loads(Path(settings).read_text()).items():
        services = set(row.get("services", SERVICES))
        unknown = services - set(SERVICES)
        if unknown:
            raise SystemExit(f"{settings}: {name} names unknown services {sorted(unknown)}")
        table[name] = {"default": row["default"], "meaning": row["meaning"], "services": services}
    if not table:
        raise SystemExit(f"{settings}: no settings")
    return table


def settings_set_by_production(tomls):
    """APP_ variables that every service's production.toml sets, e.g. APP_HTTP__HOST."""
    import tomllib

    sets = []
    for toml in tomls:
        data = tomllib.loads(Path(toml).read_text())
        sets.append({f"APP_{section.upper()}__{key.upper()}" for section, values in data.items() for key in values})
    return set.intersection(*sets) if sets else set()


def required_settings(table, production):
    """Settings a container must set: those whose local default is the loopback address and that
    production.toml does not replace (the database URI and the brokers, today)."""
    return sorted(name for name, row in table.items() if "127.0.0.1" in row["default"] and name not in production)


ALLOWED_VALUES = {
    "APP_ENVIRONMENT": {"production"},
    "APP_KAFKA__SECURITY_PROTOCOL": {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"},
    "APP_KAFKA__SASL_MECHANISM": {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"},
    "APP_OUTBOX__RELAY_ENABLED": {"true"},
}


def check_environment(report, where, service, env, table, required):
    """env: {name: [(value or None, source), ...]}; one line per service and place."""
    problems = []
    unknown = sorted(n for n in env if n not in table)
    if unknown:
        problems.append("not in services/settings.toml: " + ", ".join(unknown))
    foreign = sorted(n for n in env if n in table and service not in table[n]["services"])
    if foreign:
        problems.append(f"not read by {service}: " + ", ".join(foreign))
    twice = sorted(n for n, sources in env.items() if len(sources) > 1)
    if twice:
        problems.append("set more than once: " + ", ".join(f"{n} ({', '.join(s for _, s in env[n])})" for n in twice))
    value = {n: sources[-1][0] for n, sources in env.items()}
    # A value of None comes from valueFrom, unknown here but set.
    missing = [n for n in ["APP_ENVIRONMENT", *required] if n not in env or value[n] == ""]
    if missing:
        problems.append("required but not set: " + ", ".join(missing))
    for name, allowed in ALLOWED_VALUES.items():
        if value.get(name) is not None and value[name] not in allowed:
            problems.append(f"{name}={value[name]!r} (expected {' or '.join(sorted(allowed))})")
    uri = value.get("APP_DATABASE__URI")
    if uri is not None and not re.match(r"^mongodb(\+srv)?://", uri):
        problems.append("APP_DATABASE__URI is not a mongodb:// or mongodb+srv:// URI")
    for name, row in table.items():
        if value.get(name) is not None and re.fullmatch(r"`?\d+`?", row["default"]) and not re.fullmatch(r"\d+", value[name]):
            problems.append(f"{name}={value[name]!r} is not a whole number")
    if value.get("APP_HTTP__PORT") not in (None, str(CONTAINER_PORT)):
        problems.append(f"APP_HTTP__PORT={value['APP_HTTP__PORT']} but the probes and Services use {CONTAINER_PORT}")
    if value.get("APP_HTTP__BASE_PATH") not in (None, f"/{service}"):
        problems.append(f"APP_HTTP__BASE_PATH={value['APP_HTTP__BASE_PATH']} but the routes and probes use /{service}")
    if value.get("APP_CONSUMER__GROUP_ID") not in (None, service):
        problems.append(f"APP_CONSUMER__GROUP_ID={value['APP_CONSUMER__GROUP_ID']} is not the {service} group")
    protocol = value.get("APP_KAFKA__SECURITY_PROTOCOL") or "PLAINTEXT"
    if protocol.startswith("SASL_"):
        for name in ("APP_KAFKA__SASL_MECHANISM", "APP_KAFKA__SASL_USERNAME", "APP_KAFKA__SASL_PASSWORD"):
            if name not in env:
                problems.append(f"{protocol} needs {name}")
    elif any(n.startswith("APP_KAFKA__SASL_") for n in env):
        problems.append(f"SASL settings with security protocol {protocol}, which does not use them")
    report.group(
        f"{where}: {service} sets {', '.join(sorted(env))}: each read by {service} (services/settings.toml), set once, "
        "required ones set, values valid",
        problems,
    )


def compose_storefront_services(compose):
    for name, service in compose.get("services", {}).items():
        args = (service.get("build") or {}).get("args") or {}
        if args.get("SERVICE") in SERVICES:
            yield name, args["SERVICE"], service


def k8s_storefront_containers(resources):
    """(deployment, service name, container, namespace) of every storefront Deployment."""
    for r in resources:
        if r.get("kind") != "Deployment":
            continue
        labels = r["spec"]["template"]["metadata"].get("labels", {})
        if labels.get("app.kubernetes.io/part-of") != "storefront" or labels.get("app.kubernetes.io/name") not in SERVICES:
            continue
        for container in r["spec"]["template"]["spec"]["containers"]:
            yield r, labels["app.kubernetes.io/name"], container, r["metadata"].get("namespace", "default")


def k8s_environment(report, where, resources, container, namespace):
    index = {(r["kind"], r["metadata"].get("namespace", "default"), r["metadata"]["name"]): r for r in resources if "metadata" in r}
    env = {}
    for source in container.get("envFrom", []):
        for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            if key not in source:
                continue
            name = source[key]["name"]
            found = index.get((kind, namespace, name))
            if found is None:
                if not source[key].get("optional"):
                    report.fail(f"{where}: {container['name']} reads {kind} {name}, which the overlay does not define")
                continue
            data = dict(found.get("data") or {})
            if kind == "Secret":
                data = {k: base64.b64decode(v).decode() for k, v in data.items()}
                data.update(found.get("stringData") or {})
            for k, v in data.items():
                env.setdefault(source.get("prefix", "") + k, []).append((v, f"{kind} {name}"))
    for entry in container.get("env", []):
        env.setdefault(entry["name"], []).append((entry.get("value"), "env"))
    return env


def cmd_env(settings, production_tomls, dockerfile, compose_file, overlay_arguments):
    report = Report()
    table = read_configuration_table(settings)
    production = settings_set_by_production(production_tomls.split(","))
    required = required_settings(table, production)
    report.ok(f"{settings}: {len(table)} variables; required in a container: APP_ENVIRONMENT=production, {', '.join(required)}")

    image_env = {}
    for instruction in dockerfile_instructions(dockerfile):
        if instruction.cmd == "ENV":
            values = list(instruction.value)
            image_env.update(dict(zip(values[0::2], values[1::2])))
    unknown = sorted(n for n in image_env if n not in table)
    report.check(not unknown, f"{dockerfile}: ENV sets only variables the services read ({', '.join(image_env)})", ", ".join(unknown))
    report.check(image_env.get("APP_ENVIRONMENT") == "production", f"{dockerfile}: the image defaults to APP_ENVIRONMENT=production")

    compose = yaml.safe_load(Path(compose_file).read_text()) or {}
    found = set()
    for name, service, spec in compose_storefront_services(compose):
        found.add(service)
        environment = spec.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        env = {k: [(None if v is None else str(v), "environment")] for k, v in environment.items()}
        check_environment(report, "docker-compose.yml", service, env, table, required)
    report.check(found == set(SERVICES), "docker-compose.yml builds the three services", str(sorted(found)))

    needs_tls = set()
    for overlay, resources in parse_overlays(overlay_arguments).items():
        found = set()
        for deployment, service, container, namespace in k8s_storefront_containers(resources):
            found.add(service)
            env = k8s_environment(report, overlay, resources, container, namespace)
            check_environment(report, overlay, service, env, table, required)
            protocol = (env.get("APP_KAFKA__SECURITY_PROTOCOL") or [("", "")])[-1][0] or ""
            mechanism = (env.get("APP_KAFKA__SASL_MECHANISM") or [("", "")])[-1][0] or ""
            if protocol in ("SSL", "SASL_SSL") or mechanism.startswith("SCRAM-"):
                needs_tls.add(overlay)
        report.check(found == set(SERVICES), f"{overlay}: deploys the three services", str(sorted(found)))

    # librdkafka supports SSL, SASL_SSL and SCRAM only when built with OpenSSL: the rdkafka
    # crate's ssl (or ssl-vendored) feature. Not a failure of the deployment files, but those
    # overlays cannot connect until the feature is on.
    import tomllib

    workspace = tomllib.loads(Path("Cargo.toml").read_text())
    rdkafka = workspace.get("workspace", {}).get("dependencies", {}).get("rdkafka", {})
    features = set(rdkafka.get("features", [])) if isinstance(rdkafka, dict) else set()
    if needs_tls and not features & {"ssl", "ssl-vendored"}:
        report.warn(
            f"{', '.join(sorted(needs_tls))} use TLS (SASL_SSL, SCRAM), but Cargo.toml builds rdkafka without its "
            "ssl feature, so librdkafka has no OpenSSL and those services cannot connect: add "
            'features = ["ssl"] to rdkafka in Cargo.toml (the Dockerfile and the runtime image already have OpenSSL)'
        )
    elif needs_tls:
        report.ok(f"rdkafka is built with {sorted(features & {'ssl', 'ssl-vendored'})[0]}, as {', '.join(sorted(needs_tls))} need")
    report.exit()


# ---------------------------------------------------------------------------------------------
# wiring


def cmd_wiring(compose_file, prometheus_file, istio_file, overlay_arguments):
    report = Report()
    compose = yaml.safe_load(Path(compose_file).read_text()) or {}
    if not compose:
        report.fail("docker-compose config gave no configuration to check (see its error above)")
    # Nothing of the stack (MongoDB without auth, Kafka, the UIs) is published beyond this host.
    def on_loopback(port):
        if isinstance(port, dict):
            return port.get("host_ip") == "127.0.0.1"
        return str(port).startswith("127.0.0.1:")

    exposed = [
        f"{name} {port}"
        for name, spec in (compose.get("services") or {}).items()
        for port in spec.get("ports", [])
        if not on_loopback(port)
    ]
    report.check(not exposed, "docker-compose.yml publishes every port on 127.0.0.1 only", ", ".join(exposed))
    for name, service, spec in compose_storefront_services(compose):
        ports = [str(p.get("published")) + ":" + str(p.get("target")) if isinstance(p, dict) else str(p).removesuffix("/tcp") for p in spec.get("ports", [])]
        # `--scale` gives each instance the next port of the range: room for one per partition.
        first, last = HOST_PORTS[service], HOST_PORTS[service] + PARTITIONS - 1
        report.check(
            any(p.endswith(f"{first}-{last}:{CONTAINER_PORT}") for p in ports),
            f"docker-compose.yml: {service} on host ports {first}-{last}, one per instance of --scale={PARTITIONS}",
            str(ports),
        )
        # A fixed group.instance.id would be the same in every instance of --scale: the broker
        # would fence all but one of them.
        environment = spec.get("environment") or {}
        report.check(
            "APP_CONSUMER__INSTANCE_ID" not in environment,
            f"docker-compose.yml: {service} sets no fixed APP_CONSUMER__INSTANCE_ID, so --scale runs each instance",
            str(environment.get("APP_CONSUMER__INSTANCE_ID")),
        )
        test = " ".join(spec.get("healthcheck", {}).get("test", []))
        report.check(f":{CONTAINER_PORT}/{service}/actuator/health/readiness" in test, f"docker-compose.yml: {service} health check asks /{service}/actuator/health/readiness", test)
        depends = spec.get("depends_on", {})
        conditions = {k: (v or {}).get("condition") for k, v in depends.items()} if isinstance(depends, dict) else {}
        report.check(
            conditions.get("mongo") == "service_healthy" and conditions.get("kafka-init") == "service_completed_successfully",
            f"docker-compose.yml: {service} starts once MongoDB is healthy and the topics exist",
            str(conditions),
        )
    prometheus = yaml.safe_load(Path(prometheus_file).read_text())
    # Every instance of a scaled service is scraped: its name resolved to each container's
    # address by DNS (A records), not one static target that reaches a single instance.
    jobs = {}
    for job in prometheus.get("scrape_configs", []):
        for discovery in job.get("dns_sd_configs", []):
            if discovery.get("type") == "A":
                for name in discovery.get("names", []):
                    jobs[f"{name}:{discovery.get('port')}"] = job.get("metrics_path", "/metrics")
    for service in SERVICES:
        report.check(
            jobs.get(f"{service}:{CONTAINER_PORT}") == f"/{service}/actuator/prometheus",
            f"deploy/prometheus/prometheus.yml scrapes every instance of {service} (DNS A records):{CONTAINER_PORT}/{service}/actuator/prometheus",
            str(jobs.get(f"{service}:{CONTAINER_PORT}")),
        )

    for overlay, resources in parse_overlays(overlay_arguments).items():
        for deployment, service, container, namespace in k8s_storefront_containers(resources):
            problems = []
            template = deployment["spec"]["template"]
            annotations = template["metadata"].get("annotations", {})
            ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
            if ports.get("http") != CONTAINER_PORT:
                problems.append(f"container ports {ports}")
            probes = {}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                http = (container.get(probe) or {}).get("httpGet") or {}
                probes[probe] = (http.get("path"), http.get("port"))
            if not (
                probes["livenessProbe"] == (f"/{service}/actuator/health/liveness", "http")
                and probes["readinessProbe"] == (f"/{service}/actuator/health/readiness", "http")
                and probes["startupProbe"][0] in (f"/{service}/actuator/health/liveness", None)
            ):
                problems.append(f"probes {probes}")
            scrape = {k: v for k, v in annotations.items() if k.startswith("prometheus.io")}
            if scrape != {"prometheus.io/scrape": "true", "prometheus.io/port": str(CONTAINER_PORT), "prometheus.io/path": f"/{service}/actuator/prometheus"}:
                problems.append(f"Prometheus annotations {scrape}")
            pod_security = template["spec"].get("securityContext", {})
            security = container.get("securityContext", {})
            if not (
                pod_security.get("runAsNonRoot") is True
                and security.get("readOnlyRootFilesystem") is True
                and security.get("allowPrivilegeEscalation") is False
                and "ALL" in (security.get("capabilities") or {}).get("drop", [])
            ):
                problems.append("not non-root with a read-only root filesystem and no capabilities")
            resources_spec = container.get("resources", {})
            if not all(resources_spec.get(kind, {}).get(r) for kind in ("requests", "limits") for r in ("cpu", "memory")):
                problems.append("CPU or memory request or limit missing")
            selector = deployment["spec"]["selector"]["matchLabels"]
            namespace = deployment["metadata"].get("namespace")
            services = [
                r for r in resources
                if r["kind"] == "Service" and r["metadata"].get("namespace") == namespace
                and r["spec"].get("selector") and all(selector.get(k) == v for k, v in r["spec"]["selector"].items())
            ]
            if not any(r["metadata"]["name"] == service and any(p.get("name") == "http" and p.get("port") == CONTAINER_PORT for p in r["spec"]["ports"]) for r in services):
                problems.append(f"no Service {service} with port http {CONTAINER_PORT} selecting the pods")
            for kind in ("PodDisruptionBudget", "HorizontalPodAutoscaler"):
                owners = [r for r in resources if r["kind"] == kind and r["metadata"].get("namespace") == namespace]
                if kind == "PodDisruptionBudget":
                    match = [r for r in owners if r["spec"]["selector"].get("matchLabels") == selector]
                else:
                    match = [r for r in owners if r["spec"]["scaleTargetRef"].get("name") == deployment["metadata"]["name"]]
                if len(match) != 1:
                    problems.append(f"{len(match)} {kind}s")
                elif kind == "HorizontalPodAutoscaler":
                    # Pod CPU would count the Istio sidecar, which can dominate it.
                    metrics = match[0]["spec"].get("metrics", [])
                    if not metrics or any(
                        m.get("type") != "ContainerResource" or m["containerResource"].get("container") != container["name"]
                        for m in metrics
                    ):
                        problems.append(f"the HPA scales on more than the {container['name']} container's own use")
                    bounds = (match[0]["spec"].get("minReplicas", 1), match[0]["spec"].get("maxReplicas"))
                    if not (isinstance(bounds[1], int) and 1 <= bounds[0] <= bounds[1] <= PARTITIONS):
                        problems.append(f"the HPA's bounds {bounds} are not within 1..{PARTITIONS} (partitions per topic)")
            if service in CONSUMERS:
                # Static membership by the pod's name: unique per pod, kept across its restarts.
                instance = next((e for e in container.get("env", []) if e.get("name") == "APP_CONSUMER__INSTANCE_ID"), {})
                field = ((instance.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
                if field != "metadata.name":
                    problems.append(f"APP_CONSUMER__INSTANCE_ID is not the pod's name: {instance}")
            report.group(
                f"{overlay}: {service}: port http {CONTAINER_PORT}, probes and scrape annotations under /{service}/actuator, "
                f"non-root, read-only root filesystem, requests and limits, Service, PDB, HPA within 1..{PARTITIONS} replicas"
                + (", the pod's name as consumer instance id" if service in CONSUMERS else ""),
                problems,
            )

    # The Istio routes lead to the Services and to pods that the subsets select.
    istio = load_all(istio_file)
    minikube = next(iter(parse_overlays(overlay_arguments[:1]).values()))
    pods = {service: d["spec"]["template"]["metadata"]["labels"] for d, service, _, _ in k8s_storefront_containers(minikube)}
    rules = {r["spec"]["host"]: r for r in istio if r["kind"] == "DestinationRule"}
    routes = [h for r in istio if r["kind"] == "VirtualService" for h in r["spec"].get("http", [])]
    for service in SERVICES:
        host = f"{service}.dev.svc.cluster.local"
        route = [
            h for h in routes
            if any((m.get("uri") or {}).get("prefix") == f"/{service}/" for m in h.get("match", []))
        ]
        destinations = [d["destination"] for h in route for d in h.get("route", [])]
        report.check(
            route and all(d["host"] == host and (d.get("port") or {}).get("number") == CONTAINER_PORT for d in destinations)
            and not any("rewrite" in h for h in route),
            f"istio: /{service}/ routes to {host}:{CONTAINER_PORT} with no rewrite",
        )
        # The gateway waits for the service's own answer: past its request deadline the service
        # answers 503 `timeout` itself, so a try must last longer, and the route's timeout must
        # fit every try. Retries only where the request never reached the service: anything
        # else could act twice.
        deadline = service_request_timeout(service)
        for h in route:
            retries = h.get("retries") or {}
            per_try = duration_seconds(retries.get("perTryTimeout", h.get("timeout", "0s")))
            attempts = int(retries.get("attempts", 0))
            total = duration_seconds(h.get("timeout", "0s"))
            report.check(
                per_try > deadline and total >= (attempts + 1) * per_try,
                f"istio: /{service}/ waits longer than the service's {deadline:g} s deadline per try, and its timeout fits every try",
                f"perTryTimeout {per_try:g} s, {attempts} retries, timeout {total:g} s",
            )
            unsafe = set(str(retries.get("retryOn", "")).split(",")) - SAFE_RETRY_ON - {""}
            report.check(not unsafe, f"istio: /{service}/ retries only what never reached the service", ", ".join(sorted(unsafe)))
        subsets = {s["name"]: s.get("labels", {}) for s in (rules.get(host) or {}).get("spec", {}).get("subsets", [])}
        wanted = {d.get("subset") for d in destinations}
        report.check(
            wanted and all(s in subsets and all(pods.get(service, {}).get(k) == v for k, v in subsets[s].items()) for s in wanted),
            f"istio: the {service} subsets {sorted(w for w in wanted if w)} select its pods",
            str(subsets),
        )
    report.exit()


# ---------------------------------------------------------------------------------------------
# topics


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


# ---------------------------------------------------------------------------------------------
# dashboard

PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
    "unless", "inf", "nan", "atan2",
}
GRAFANA_SUBSTITUTIONS = {
    "$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "${datasource}": "", "$application": ".*",
}


def read_exported_metrics(path):
    families = {}
    for line in Path(path).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, kind, *labels = line.split()
        families[name] = {"type": kind, "labels": set(labels) | {"application"}}
    series = {}
    for name, family in families.items():
        if family["type"] == "histogram":
            series[f"{name}_bucket"] = (name, family["labels"] | {"le"})
            series[f"{name}_sum"] = (name, family["labels"])
            series[f"{name}_count"] = (name, family["labels"])
        else:
            series[name] = (name, family["labels"])
    return families, series


def promql_parts(expr):
    """(metric names, label names used in matchers and grouping clauses) of a PromQL expression."""
    labels = set()
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    for matchers in re.findall(r"\{([^}]*)\}", text):
        labels |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)", matchers))
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    for clause in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", text):
        labels |= {l.strip() for l in clause.split(",") if l.strip()}
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+\S+", " ", text)
    metrics = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        following = text[match.end():].lstrip()
        if word.lower() in PROMQL_WORDS or following.startswith("("):
            continue
        before = text[:match.start()]
        if before and (before[-1].isdigit() or before[-1] == "."):
            continue
        metrics.add(word)
    return metrics, labels


def panels_of(panels):
    for panel in panels:
        yield panel
        yield from panels_of(panel.get("panels", []))


def cmd_dashboard(dashboard_file, metrics_file, rules_out, scrape_files):
    report = Report()
    try:
        dashboard = json.loads(Path(dashboard_file).read_text())
        report.ok(f"{dashboard_file} parses as JSON")
    except json.JSONDecodeError as error:
        report.fail(f"{dashboard_file} does not parse: {error}")
        report.exit()
    families, series = read_exported_metrics(metrics_file)

    queries = []
    stray_sources = []
    for panel in panels_of(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                queries.append((panel.get("title", "?"), target["expr"]))
        if panel.get("type") != "row" and (panel.get("datasource") or {}).get("uid") != "${datasource}":
            stray_sources.append(panel.get("title", "?"))
    variables = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        variables[variable["name"]] = variable
        query = variable.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        match = re.match(r"^\s*label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,\s*([A-Za-z_]\w*)\s*\)\s*$", query or "")
        if variable.get("type") == "query":
            if match:
                queries.append((f"variable {variable['name']}", f'{match.group(1)}{{{match.group(2)}!=""}}'))
            else:
                report.fail(f"variable {variable['name']}: unsupported query {query!r}")
    report.check(
        variables.get("datasource", {}).get("type") == "datasource" and not stray_sources,
        "every panel queries the Prometheus chosen by the datasource variable (no data source uid baked in)",
        "panels with another data source: " + ", ".join(stray_sources),
    )
    report.check(len(queries) > 0, f"the dashboard has {len(queries)} queries")

    used = set()
    rules = []
    for where, expr in queries:
        metrics, labels = promql_parts(expr)
        unknown = sorted(m for m in metrics if m not in series)
        allowed = set().union(*(series[m][1] for m in metrics if m in series)) | {"instance", "job"} if metrics else {"instance", "job"}
        # Labels are judged only against known metrics; an unknown metric is reported instead.
        stray = [] if unknown else sorted(labels - allowed)
        used |= {series[m][0] for m in metrics if m in series}
        report.check(not unknown and not stray and metrics, f"'{where}': {', '.join(sorted(metrics)) or 'no metric'}",
                     "; ".join(filter(None, [unknown and f"not exported: {', '.join(unknown)}", stray and f"labels not on these metrics: {', '.join(stray)}"])))
        substituted = expr
        for grafana, value in GRAFANA_SUBSTITUTIONS.items():
            substituted = substituted.replace(grafana, value)
        rules.append({"record": f"storefront:check:{len(rules)}", "expr": substituted})
    unused = sorted(set(families) - used)
    report.check(not unused, "every exported metric is on the dashboard", "not shown: " + ", ".join(unused))
    Path(rules_out).write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, sort_keys=False))
    print(f"wrote the {len(rules)} queries to {rules_out} for promtool to parse")

    # Live scrapes: together (accounts consumes nothing, so it has no consumer metrics, and a
    # labelled series appears once first used) they must expose every metric the dashboard uses,
    # each series labelled with its application.
    exposed, unlabelled = set(), set()
    scraped_labels = {}
    for scrape in scrape_files:
        source, _, file = scrape.partition("=")
        for line in Path(file).read_text().splitlines():
            if line.startswith("# TYPE "):
                exposed.add(line.split()[2])
            if line.startswith("#") or not line.strip():
                continue
            name = re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line).group(0)
            exposed.add(name)
            if name in series and 'application="' not in line:
                unlabelled.add(f"{name} ({source})")
            if name in series:
                matchers = re.match(r"[^{\s]*\{(.*)\}", line)
                names = set(re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="', matchers.group(1))) if matchers else set()
                scraped_labels.setdefault(series[name][0], set()).update(names - {"le"})
    if scrape_files:
        missing = sorted(
            name for name in used
            if not any(s in exposed for s, (family, _) in series.items() if family == name) and name not in exposed
        )
        report.check(
            not missing,
            f"the {len(scrape_files)} live scrape(s) together expose every metric of the dashboard",
            "missing (a labelled series appears after its first use: load the sample data first): " + ", ".join(missing),
        )
        report.check(not unlabelled, "every scraped series of these metrics has an application label", ", ".join(sorted(unlabelled)))
        differ = [
            f"{family}: scraped {sorted(labels)}, listed {sorted(families[family]['labels'])}"
            for family, labels in sorted(scraped_labels.items()) if labels != families[family]["labels"]
        ]
        report.check(not differ, f"the scraped label names are those of {metrics_file}", "; ".join(differ))
    report.exit()


# ---------------------------------------------------------------------------------------------
# build-command


def shell_commands(text):
    """Commands in shell text: continuation lines joined, split at ;, &&, || and |."""
    text = re.sub(r"\\\n", " ", text)
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"&&|\|\||;|\|", line):
            part = part.strip()
            if part:
                yield part


def cargo_builds(commands):
    found = []
    for command in commands:
        try:
            words = shlex.split(command)
        except ValueError:
            words = command.split()
        if len(words) >= 2 and Path(words[0]).name == "cargo" and words[1] in ("build", "b", "rustc", "install", "chef"):
            found.append(" ".join(words))
    return found


def dockerfile_instructions(dockerfile):
    """The Dockerfile as BuildKit's own parser reads it (PyPI package dockerfile)."""
    import dockerfile as parser

    return parser.parse_file(str(dockerfile))


def cmd_build_command(dockerfile, run_local, bench_sh, *also):
    report = Report()
    bench = [b for b in cargo_builds(shell_commands(Path(bench_sh).read_text())) if "storefront-bench" in b.split()]
    local = cargo_builds(shell_commands(Path(run_local).read_text()))
    if not report.check(len(local) == 1, f"{run_local} has one build command", str(local)):
        report.exit()
    expected = local[0]
    report.ok(f"{run_local} builds with: {expected}")
    for script in also:
        builds = cargo_builds(shell_commands(Path(script).read_text()))
        report.check(expected in builds, f"{script} runs the same build, so CI builds what the images hold", str(builds))
    instructions = dockerfile_instructions(dockerfile)
    runs = []
    for instruction in instructions:
        if instruction.cmd == "RUN":
            runs += [" ".join(instruction.value)] if instruction.json else list(shell_commands(instruction.value[0]))
    docker = cargo_builds(runs)
    report.check(len(docker) > 0, f"{dockerfile} runs a cargo build")
    for command in docker:
        if "storefront-bench" in command.split():
            report.check(command in bench, f"{dockerfile} builds the load generator with: {command}", f"differs from {bench_sh}: {bench}")
        else:
            report.check(command == expected, f"{dockerfile} builds with: {command}", f"differs from {run_local}: {expected}")
    stages = {ins.value[2].lower(): i for i, ins in enumerate(instructions) if ins.cmd == "FROM" and len(ins.value) == 3}
    if report.check("loadgen" in stages, f"{dockerfile} has a loadgen stage (the load generator's image)"):
        following = [i for i, ins in enumerate(instructions) if ins.cmd == "FROM" and i > stages["loadgen"]]
        loadgen = instructions[stages["loadgen"]:(following[0] if following else None)]
        users = [ins.value[0] for ins in loadgen if ins.cmd == "USER"]
        report.check(
            bool(users) and re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]) is not None,
            f"{dockerfile}: the loadgen image runs as a numeric non-root user", str(users),
        )

    # The runtime stage: the last FROM and what follows it.
    last_from = max(i for i, ins in enumerate(instructions) if ins.cmd == "FROM")
    runtime = instructions[last_from:]
    users = [ins.value[0] for ins in runtime if ins.cmd == "USER"]
    report.check(
        bool(users) and re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", users[-1]) is not None,
        f"{dockerfile}: the runtime image runs as a numeric non-root user", str(users),
    )
    exposed = [port for ins in runtime if ins.cmd == "EXPOSE" for port in ins.value]
    report.check(str(CONTAINER_PORT) in exposed, f"{dockerfile}: the runtime image exposes {CONTAINER_PORT}", str(exposed))
    report.exit()


def dockerignore_includes(patterns):
    """Whether a path is in the build context, by .dockerignore's rules: the last pattern that
    matches a path (or a folder above it) decides, `!` lets it back in."""
    import fnmatch

    rules = []
    for line in patterns:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        rules.append((include, pattern))

    def matches(path, pattern):
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if pattern.startswith("**/"):
            tail = pattern[3:]
            return any(fnmatch.fnmatch(part, tail) for part in parts)
        return any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes)

    def included(path):
        verdict = True
        for include, pattern in rules:
            if matches(path, pattern):
                verdict = include
        return verdict

    return included


def cmd_build_context(dockerfile, dockerignore, work):
    """The build stage's dependency layer as Docker would assemble it: the files .dockerignore
    lets into the context and the Dockerfile copies before its first `cargo build`, each crate
    given the empty target the Dockerfile gives it; cargo must load that workspace."""
    import shutil
    import subprocess

    report = Report()
    included = dockerignore_includes(Path(dockerignore).read_text().splitlines())
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout.split()
    context = [path for path in tracked if included(path)]
    work = Path(work)
    copied = []
    instructions = dockerfile_instructions(dockerfile)
    # A COPY of a folder must find all of it: .dockerignore keeping out part of a crate's
    # sources fails the build only at compile time.
    under = lambda source: [p for p in tracked if p == source.rstrip("/") or p.startswith(source.rstrip("/") + "/")]
    absent = sorted({
        path
        for instruction in instructions
        if instruction.cmd == "COPY" and not any(flag.startswith("--from") for flag in instruction.flags)
        for source in instruction.value[:-1]
        for path in (under(source) or [source])
        if not included(path)
    })
    report.check(not absent, f"every file each COPY of {dockerfile} names is in the build context", ", ".join(absent[:8]) + (" ..." if len(absent) > 8 else ""))
    for instruction in instructions:
        if instruction.cmd == "RUN" and "cargo build" in " ".join(instruction.value):
            break
        if instruction.cmd != "COPY" or any(flag.startswith("--from") for flag in instruction.flags):
            continue
        *sources, destination = instruction.value
        for source in sources:
            source = source.rstrip("/")
            for path in context:
                if path == source or path.startswith(source + "/"):
                    relative = Path(path).relative_to(Path(source).parent) if path != source else Path(Path(path).name)
                    target = work / destination / relative if destination.endswith("/") else work / destination
                    if destination in ("./", "."):
                        target = work / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
                    copied.append(path)
    report.ok(f"the dependency layer copies {len(copied)} files: {', '.join(sorted(copied))}")
    # cargo metadata loads a manifest whose build script is missing; cargo build does not.
    import tomllib
    scripts, missing = 0, []
    for manifest in work.rglob("Cargo.toml"):
        build = tomllib.loads(manifest.read_text()).get("package", {}).get("build")
        if isinstance(build, str):
            scripts += 1
            script = (manifest.parent / build).resolve()
            if not script.exists():
                missing.append(f"{manifest.relative_to(work)} -> {script.relative_to(work.resolve())}")
        source = manifest.parent / "src"
        if manifest.parent != work and not source.exists():
            source.mkdir(parents=True)
            (source / "lib.rs").write_text("")
    report.check(not missing, f"every build script a manifest names is copied with it ({scripts})", ", ".join(sorted(missing)))
    result = subprocess.run(
        ["cargo", "metadata", "--offline", "--no-deps", "--format-version", "1",
         "--manifest-path", str(work / "Cargo.toml")],
        capture_output=True, text=True,
    )
    report.check(
        result.returncode == 0,
        "cargo loads the workspace from what the build stage copies",
        result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "",
    )
    report.exit()


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


# Envoy's retry conditions that fire before the request reached the upstream service.
SAFE_RETRY_ON = {"connect-failure", "refused-stream", "reset-before-request"}


def duration_seconds(text):
    """An Istio duration (`15s`, `500ms`, `1m`) in seconds."""
    match = re.fullmatch(r"([0-9.]+)(ms|s|m|h)", str(text).strip())
    if not match:
        return 0.0
    value, unit = float(match.group(1)), match.group(2)
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def service_request_timeout(service):
    """The service's request deadline in seconds (http.request_timeout of its base settings, ms)."""
    text = Path(f"services/{service}/configuration/base.toml").read_text()
    return int(re.search(r"^request_timeout\s*=\s*([0-9]+)", text, re.M).group(1)) / 1000


ROUTE_MACRO = re.compile(r'#\[(get|post|put|patch|delete)\("([^"]+)"\)\]')


def served_routes():
    """(METHOD, path) of every route the services serve, read from their route macros: each
    service's own routes and the actuator's, under its base path; path parameters become `x`."""
    routes = []
    actuator = ROUTE_MACRO.findall(Path("platform/src/http/actuator.rs").read_text())
    for service in HOST_PORTS:
        found = list(actuator)
        for source in sorted(Path(f"services/{service}/src/routes").glob("*.rs")):
            found += ROUTE_MACRO.findall(source.read_text())
        for method, path in found:
            routes.append((method.upper(), f"/{service}" + re.sub(r"\{[^}]+\}", "x", path)))
    return routes


def istio_path_matches(pattern, path):
    """Istio's path matching: exact, prefix (`/a/*`), suffix (`*/a`) or any (`*`)."""
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return path.endswith(pattern[1:])
    return path == pattern


def istio_rule_matches(rule, method, path, token):
    def source(spec):
        if "notRequestPrincipals" in spec:
            return not token
        if "requestPrincipals" in spec:
            return token
        return True

    def operation(spec):
        if "methods" in spec and method not in spec["methods"]:
            return False
        if "notMethods" in spec and method in spec["notMethods"]:
            return False
        if "paths" in spec and not any(istio_path_matches(p, path) for p in spec["paths"]):
            return False
        if "notPaths" in spec and any(istio_path_matches(p, path) for p in spec["notPaths"]):
            return False
        return True

    sources = [entry.get("source", {}) for entry in rule.get("from", [])]
    operations = [entry.get("operation", {}) for entry in rule.get("to", [])]
    return (not sources or any(source(s) for s in sources)) and (
        not operations or any(operation(o) for o in operations)
    )


def cmd_jwt_policy(rendered):
    """The JWT policies as a table of (method, path, token?) -> allowed, for every route the
    services serve, through the gateway (its policies, then the workload's): reads are open,
    changes and every sample endpoint need a token, and of the actuator only health answers."""
    report = Report()
    policies = [o for o in load_all(rendered) if o.get("kind") == "AuthorizationPolicy"]
    unsupported = [p["metadata"]["name"] for p in policies if p["spec"].get("action", "ALLOW") != "DENY"]
    report.check(not unsupported, "the JWT policies are DENY policies (the table reads those)", ", ".join(unsupported))

    def denied(method, path, token):
        return any(
            istio_rule_matches(rule, method, path, token)
            for policy in policies
            for rule in policy["spec"].get("rules", [])
        )

    wrong = []
    routes = served_routes()
    for method, path in routes:
        for token in (False, True):
            if "/actuator" in path:
                expected = re.search(r"/actuator/health(/|$)", path) is not None
            elif "/sample" in path:
                expected = token
            else:
                expected = token or method in ("GET", "HEAD", "OPTIONS")
            allowed = not denied(method, path, token)
            if allowed != expected:
                wrong.append(f"{method} {path} {'with' if token else 'without'} a token: {'allowed' if allowed else 'denied'}")
    report.ok(f"{len(routes)} routes, each with and without a token")
    report.check(not wrong, "reads open, changes and sample endpoints need a token, only actuator/health through the gateway", "; ".join(wrong))
    report.exit()


# The Debian 12 packages each runtime image is made of (distroless: its base layer, then the
# packages its variant adds). A runtime image not listed here fails the check until it is.
RUNTIME_IMAGE_PACKAGES = {
    "gcr.io/distroless/cc-debian12": [
        "libc6", "libssl3", "ca-certificates", "tzdata", "netbase",
        "libgcc-s1", "libstdc++6", "gcc-12-base", "libgomp1",
    ],
}
# Where the dynamic loader of a Debian 12 amd64 system looks for libraries.
LIBRARY_DIRS = ("lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "lib", "usr/lib")


def runtime_image(dockerfile):
    """The image of the Dockerfile's last stage, without its tag or digest."""
    froms = [ins.value[0] for ins in dockerfile_instructions(dockerfile) if ins.cmd == "FROM"]
    return froms[-1].split("@")[0].rsplit(":", 1)[0] if froms else ""


def cmd_runtime_packages(dockerfile):
    image = runtime_image(dockerfile)
    if image not in RUNTIME_IMAGE_PACKAGES:
        print(f"the runtime image {image} is not one whose packages checks.py knows; list them in RUNTIME_IMAGE_PACKAGES")
        sys.exit(1)
    print(" ".join(RUNTIME_IMAGE_PACKAGES[image]))


def needed_libraries(binary):
    import subprocess

    dynamic = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True, check=True).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_in_root(root, binary, service, report):
    """Starts the binary inside `root` as the image starts it (production settings, uid 65532),
    listening on 127.0.0.1 and talking to the servers of this environment; it must answer its
    liveness endpoint, then stop in order on SIGTERM."""
    import os
    import signal
    import subprocess
    import time
    import urllib.request

    port = free_port()
    env = {
        "APP_ENVIRONMENT": "production",
        "APP_HTTP__HOST": "127.0.0.1",
        "APP_HTTP__PORT": str(port),
        "APP_DATABASE__URI": os.environ["APP_DATABASE__URI"],
        "APP_KAFKA__BOOTSTRAP_SERVERS": os.environ["APP_KAFKA__BOOTSTRAP_SERVERS"],
        "APP_DATABASE__NAME": f"runtime-image-check-{service}",
    }
    import shutil

    inside = "/usr/local/bin/service"
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    if os.geteuid() == 0:
        command = [chroot, "--userspec=65532:65532", str(root), inside]
    else:
        command = [shutil.which("unshare") or "unshare", "--map-root-user", chroot, str(root), inside]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/{service}/actuator/health/liveness"
    answered = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                answered = response.status
                break
        except OSError:
            time.sleep(0.2)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, errors = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, errors = process.communicate()
    report.check(
        answered == 200 and process.returncode == 0,
        f"{service} runs in the runtime image's packages: liveness answered {answered}, exit {process.returncode} on SIGTERM",
        " | ".join(errors.strip().splitlines()[-3:]),
    )


def cmd_runtime_image(dockerfile, debs, root, *binaries):
    """The release binaries in a folder holding exactly the Debian packages of the runtime
    image: every library they need is there (readelf), and with servers to talk to
    (APP_DATABASE__URI and APP_KAFKA__BOOTSTRAP_SERVERS set) each starts and answers."""
    import os
    import shutil
    import subprocess

    report = Report()
    image = runtime_image(dockerfile)
    packages = RUNTIME_IMAGE_PACKAGES.get(image)
    if not report.check(packages is not None, f"the runtime image {image} has a known package list"):
        report.exit()
    root = Path(root)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for package in packages:
        found = sorted(Path(debs).glob(f"{package}_*.deb"))
        if report.check(len(found) == 1, f"{package} fetched", f"{len(found)} files for it in {debs}"):
            subprocess.run(["dpkg", "-x", str(found[0]), str(root)], check=True)
    present = {path.name for directory in LIBRARY_DIRS if (root / directory).is_dir() for path in (root / directory).iterdir()}
    servers = all(os.environ.get(name) for name in ("APP_DATABASE__URI", "APP_KAFKA__BOOTSTRAP_SERVERS"))
    for binary in binaries:
        service = Path(binary).name
        needed = needed_libraries(binary)
        missing = [library for library in needed if library not in present]
        report.check(not missing, f"{service} needs {', '.join(needed)}; {image} has them all", "missing: " + ", ".join(missing))
        (root / "usr/local/bin").mkdir(parents=True, exist_ok=True)
        shutil.copy2(binary, root / "usr/local/bin/service")
        if servers:
            start_in_root(root, binary, service, report)
    if not servers:
        print("skip starting the binaries: set APP_DATABASE__URI and APP_KAFKA__BOOTSTRAP_SERVERS to servers they can use")
    report.exit()


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    command, args = argv[1], argv[2:]
    if command == "split":
        cmd_split(*args)
    elif command == "strimzi":
        cmd_strimzi(args)
    elif command == "env":
        cmd_env(args[0], args[1], args[2], args[3], args[4:])
    elif command == "wiring":
        cmd_wiring(args[0], args[1], args[2], args[3:])
    elif command == "loadgen":
        cmd_loadgen(*args)
    elif command == "tracing":
        cmd_tracing(*args)
    elif command == "topics":
        cmd_topics(*args)
    elif command == "dashboard":
        cmd_dashboard(args[0], args[1], args[2], args[3:])
    elif command == "build-command":
        cmd_build_command(*args)
    elif command == "build-context":
        cmd_build_context(*args)
    elif command == "operator-namespace":
        cmd_operator_namespace(*args)
    elif command == "jwt-policy":
        cmd_jwt_policy(*args)
    elif command == "runtime-packages":
        cmd_runtime_packages(*args)
    elif command == "runtime-image":
        cmd_runtime_image(*args)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
