"""The load generator: compose's loadgen profile calls each service, the Job in k8s/loadgen
calls them through the Istio ingress gateway's port and routes, without a sidecar."""

import re
from pathlib import Path

import yaml

from common import CONTAINER_PORT, Report, SERVICES, load_all, url_host_port


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
