"""The services' environment in the Dockerfile, compose and every overlay: only the variables
of services/settings.toml, each for a service that reads it, required ones set, values valid."""

import re
from pathlib import Path

import yaml

from common import CONTAINER_PORT, Report, SERVICES, compose_storefront_services, dockerfile_instructions, k8s_environment, k8s_storefront_containers, parse_overlays


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
