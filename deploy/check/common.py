"""Shared by every check: the report each prints, YAML loading, the services and their ports,
and where compose, the overlays and the Dockerfile set the services' environment."""

import base64
import re
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


def dockerfile_instructions(dockerfile):
    """The Dockerfile as BuildKit's own parser reads it (PyPI package dockerfile)."""
    import dockerfile as parser

    return parser.parse_file(str(dockerfile))


def url_host_port(url):
    match = re.match(r"^(?:[a-z]+://)?([^/:]+):(\d+)", url or "")
    return (match.group(1), int(match.group(2))) if match else (None, None)
