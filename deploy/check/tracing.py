"""traces: the services send OTLP to the collector, whose pipeline is complete and ends at
Jaeger, with the same collector configuration in compose and minikube."""

import re
from pathlib import Path

import yaml

from common import Report, compose_storefront_services, k8s_environment, k8s_storefront_containers, load_all, url_host_port




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
