"""Ports, probes, scrape paths, Services, PDBs, HPAs and Istio routes agree."""

import re
from pathlib import Path

import yaml

from common import CONSUMERS, CONTAINER_PORT, HOST_PORTS, PARTITIONS, Report, SERVICES, compose_storefront_services, k8s_storefront_containers, load_all, parse_overlays


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
