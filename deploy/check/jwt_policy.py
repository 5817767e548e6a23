"""istio/jwt's policies, evaluated as a table of method, path and token over every route the
services serve."""

import re
from pathlib import Path

from common import HOST_PORTS, Report, load_all


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
