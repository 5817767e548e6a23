"""Least privilege on the minikube deployment: the Strimzi listener, users and ACLs, the
services' Kafka and MongoDB credentials, and where each secret comes from."""

import base64
import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from common import SERVICES, Report, k8s_storefront_containers, label, load_all

# The generated list of grants (shared-events' test keeps it equal to what
# shared_events::acls::all_grants derives from the event contract and the lake's Connect worker):
# PRINCIPAL,TYPE,NAME,OPERATION, a NAME ending with `*` a prefix.
GRANTS = "deploy/kafka/grants.txt"


def read_grants(path):
    lines = [line for line in Path(path).read_text().splitlines() if line and not line.startswith("#")]
    return {tuple(line.split(",")) for line in lines}


# Strimzi's resource types and pattern types as grants.txt writes them.
RESOURCE_TYPES = {"topic": "Topic", "group": "Group", "transactionalId": "TransactionalId"}


def acl_grants(user):
    """The grants a KafkaUser's ACLs allow, as (principal, Type, name, Operation), a prefix as
    its name followed by `*` (as grants.txt writes it); and what in them is more than an allow
    on a named topic, group or transactional id, or on a prefix of one."""
    grants, problems = set(), []
    principal = user["metadata"]["name"]
    for acl in user["spec"].get("authorization", {}).get("acls", []):
        resource = acl["resource"]
        kind = resource["type"]
        pattern = resource.get("patternType", "literal")
        if acl.get("type", "allow") != "allow" or pattern not in ("literal", "prefix") \
                or kind not in RESOURCE_TYPES or resource.get("name", "*") in ("*", "") or acl.get("host", "*") != "*":
            problems.append(f"{label(user)} has an ACL that is not an allow on one named resource or prefix: {json.dumps(acl)}")
            continue
        name = resource["name"] + ("*" if pattern == "prefix" else "")
        operations = acl.get("operations") or [acl.get("operation")]
        grants |= {(principal, RESOURCE_TYPES[kind], name, operation) for operation in operations}
    return grants, problems


def env_entry(container, name):
    return next((entry for entry in container.get("env", []) if entry["name"] == name), None)


def secret_data(resources, namespace, name):
    for r in resources:
        if r.get("kind") == "Secret" and r["metadata"].get("namespace") == namespace and r["metadata"]["name"] == name:
            data = {k: base64.b64decode(v).decode() for k, v in (r.get("data") or {}).items()}
            data.update(r.get("stringData") or {})
            return data
    return None


def config_value(resources, container, namespace, name):
    """The value a container's ConfigMaps (envFrom) or env give `name`, if any."""
    entry = env_entry(container, name)
    if entry is not None:
        return entry.get("value")
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        for r in resources:
            if ref and r.get("kind") == "ConfigMap" and r["metadata"]["name"] == ref["name"] \
                    and r["metadata"].get("namespace") == namespace and name in (r.get("data") or {}):
                return r["data"][name]
    return None


def check_kafka(report, resources, grants, deploy_script):
    clusters = [r for r in resources if r.get("kind") == "Kafka"]
    if not report.check(len(clusters) == 1, "one Strimzi Kafka cluster", str(len(clusters))):
        return
    cluster = clusters[0]
    name, namespace = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
    kafka = cluster["spec"]["kafka"]
    listeners = kafka.get("listeners", [])
    open_listeners = [
        listener["name"] for listener in listeners
        if not listener.get("tls") or (listener.get("authentication") or {}).get("type") != "scram-sha-512"
    ]
    report.check(listeners and not open_listeners, f"{label(cluster)}: every listener is TLS with SCRAM-SHA-512 authentication",
                 "plain or unauthenticated: " + ", ".join(open_listeners))
    report.check((kafka.get("authorization") or {}).get("type") == "simple",
                 f"{label(cluster)}: simple authorization (whatever no ACL allows is refused)", json.dumps(kafka.get("authorization")))
    report.check("userOperator" in (cluster["spec"].get("entityOperator") or {}),
                 f"{label(cluster)}: the User Operator runs (it turns the KafkaUsers into credentials and ACLs)")

    users = {u["metadata"]["name"]: u for u in resources if u.get("kind") == "KafkaUser"}
    principals = {grant[0] for grant in grants}
    report.check(set(users) == principals, f"a KafkaUser per principal of {GRANTS}: {', '.join(sorted(principals))}",
                 f"KafkaUsers {sorted(users)}")
    for user in users.values():
        problems = []
        if user["metadata"].get("namespace") != namespace or user["metadata"].get("labels", {}).get("strimzi.io/cluster") != name:
            problems.append(f"not a user of {namespace}/{name}")
        if (user["spec"].get("authentication") or {}).get("type") != "scram-sha-512":
            problems.append("not a SCRAM-SHA-512 user")
        if (user["spec"].get("authorization") or {}).get("type") != "simple":
            problems.append("no simple authorization")
        allowed, more = acl_grants(user)
        problems += more
        expected = {grant for grant in grants if grant[0] == user["metadata"]["name"]}
        if allowed != expected:
            problems.append(f"ACLs differ from the contract's grants: extra {sorted(allowed - expected)}, missing {sorted(expected - allowed)}")
        report.group(f"{label(user)}: SCRAM-SHA-512, exactly the {len(expected)} grants of {GRANTS}, each an allow on a name or prefix", problems)

    tls = next((listener for listener in listeners if listener.get("tls")), None)
    bootstrap = f"{name}-kafka-bootstrap.{namespace}.svc.cluster.local:{tls['port'] if tls else '?'}"
    ca_secret = f"{name}-cluster-ca-cert"
    copied = set()
    for deployment, service, container, pod_namespace in k8s_storefront_containers(resources):
        problems = []
        setting = lambda key: config_value(resources, container, pod_namespace, key)  # noqa: E731
        if setting("APP_KAFKA__BOOTSTRAP_SERVERS") != bootstrap:
            problems.append(f"APP_KAFKA__BOOTSTRAP_SERVERS={setting('APP_KAFKA__BOOTSTRAP_SERVERS')}, not the TLS listener {bootstrap}")
        if setting("APP_KAFKA__SECURITY_PROTOCOL") != "SASL_SSL" or setting("APP_KAFKA__SASL_MECHANISM") != "SCRAM-SHA-512":
            problems.append("not SASL_SSL with SCRAM-SHA-512")
        if setting("APP_KAFKA__SASL_USERNAME") != service or service not in users:
            problems.append(f"APP_KAFKA__SASL_USERNAME={setting('APP_KAFKA__SASL_USERNAME')}, not its KafkaUser {service}")
        password = (env_entry(container, "APP_KAFKA__SASL_PASSWORD") or {}).get("valueFrom", {}).get("secretKeyRef", {})
        if password != {"name": service, "key": "password"}:
            problems.append(f"APP_KAFKA__SASL_PASSWORD is not secretKeyRef {{name: {service}, key: password}}, the User Operator's Secret: {password}")
        copied.add(service)
        ca = setting("APP_KAFKA__SSL_CA_LOCATION") or ""
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"].get("volumes", [])}
        mounted = [
            m for m in container.get("volumeMounts", [])
            if ca.startswith(m["mountPath"].rstrip("/") + "/")
            and (volumes.get(m["name"], {}).get("secret") or {}).get("secretName") == ca_secret
            and any(item["key"] == "ca.crt" and ca == f"{m['mountPath'].rstrip('/')}/{item['path']}"
                    for item in volumes[m["name"]]["secret"].get("items", []))
        ]
        if not mounted:
            problems.append(f"APP_KAFKA__SSL_CA_LOCATION={ca!r} is not ca.crt of Secret {ca_secret} mounted in the container")
        report.group(f"{pod_namespace}/{service}: SASL_SSL as KafkaUser {service} on {bootstrap}, password from the User Operator's "
                     f"Secret, CA from {ca_secret}", problems)
    script = Path(deploy_script).read_text()
    report.check("kafkauser -o jsonpath='{.items[*].metadata.name}'" in script and "copy_secret \"$user\" password" in script
                 and f"copy_secret {ca_secret} ca.crt" in script,
                 f"{deploy_script} copies every KafkaUser's Secret ({', '.join(sorted(copied))}) and {ca_secret} into the services' namespace")


def check_no_literal_passwords(report, resources):
    """No password is a literal of a container's env, nor a Kafka password in a ConfigMap or Secret."""
    found = []
    for r in resources:
        spec = (r.get("spec") or {}).get("template", {}).get("spec", {}) if r.get("kind") in ("Deployment", "StatefulSet") else {}
        for container in spec.get("containers", []):
            found += [f"{label(r)} env {e['name']}" for e in container.get("env", []) if "PASSWORD" in e["name"] and "value" in e]
        if r.get("kind") in ("ConfigMap", "Secret"):
            found += [f"{label(r)} {key}" for key in (r.get("data") or {}) if key == "APP_KAFKA__SASL_PASSWORD"]
    report.check(not found, "no password is written in a container's env, and no Kafka password in any manifest", ", ".join(found))


def check_mongodb(report, resources):
    configs = [r for r in resources if r.get("kind") == "ConfigMap" and "users.json" in (r.get("data") or {})]
    if not report.check(len(configs) == 1, "one ConfigMap holds the MongoDB users (users.json)", str(len(configs))):
        return
    users = {u["user"]: u for u in json.loads(configs[0]["data"]["users.json"])}
    mongo = next((r for r in resources if r.get("kind") == "StatefulSet" and r["metadata"]["name"] == "mongo"), None)
    if not report.check(mongo is not None, "MongoDB runs (StatefulSet mongo)"):
        return
    namespace = mongo["metadata"]["namespace"]
    container = mongo["spec"]["template"]["spec"]["containers"][0]
    mounted = any(
        m["mountPath"] == "/docker-entrypoint-initdb.d"
        and (v.get("configMap") or {}).get("name") == configs[0]["metadata"]["name"]
        for m in container.get("volumeMounts", []) for v in mongo["spec"]["template"]["spec"].get("volumes", []) if v["name"] == m["name"]
    )
    report.check(mounted, f"{label(mongo)} runs {label(configs[0])} from /docker-entrypoint-initdb.d on its first start")
    environment = {}
    for source in container.get("envFrom", []):
        if "secretRef" in source:
            environment.update(secret_data(resources, namespace, source["secretRef"]["name"]) or {})
    for deployment, service, app, pod_namespace in k8s_storefront_containers(resources):
        problems = []
        user = users.get(service)
        if user is None:
            report.fail(f"no MongoDB user for {service} in users.json")
            continue
        if user["roles"] != [{"role": "readWrite", "db": service}] or user["db"] != service:
            problems.append(f"its roles {json.dumps(user['roles'])} reach more than readWrite on {service}")
        ref = (env_entry(app, "APP_DATABASE__URI") or {}).get("valueFrom", {}).get("secretKeyRef")
        uri = (secret_data(resources, pod_namespace, ref["name"]) or {}).get(ref["key"]) if ref else None
        if uri is None:
            problems.append("APP_DATABASE__URI is not a secretKeyRef to a Secret of the overlay")
        else:
            parsed = urlparse(uri)
            auth_source = parse_qs(parsed.query).get("authSource", [parsed.path.strip("/") or "admin"])[0]
            database = config_value(resources, app, pod_namespace, "APP_DATABASE__NAME") or service
            if parsed.username != service or auth_source != service or database != service:
                problems.append(f"its URI is user {parsed.username} with authSource {auth_source}, database {database}")
            if environment.get(user["passwordEnv"]) != parsed.password:
                problems.append(f"the password of its URI is not the {user['passwordEnv']} MongoDB creates the user with")
        report.group(f"{pod_namespace}/{service}: MongoDB user {service}, readWrite on database {service} only, its URI from a Secret "
                     "with the password the user is created with", problems)
    extra = sorted(set(users) - set(SERVICES))
    report.check(not extra, "users.json holds no user but the services'", ", ".join(extra))


# What each service needs of its own on a managed Kafka and MongoDB Atlas.
OWN_CREDENTIALS = ("APP_KAFKA__SASL_USERNAME", "APP_KAFKA__SASL_PASSWORD", "APP_DATABASE__URI")


def check_cloud(report, name, resources):
    """A cloud overlay gives each service its own Kafka principal and database user: the
    credentials come from a Secret that only that service reads."""
    readers = {}
    for _, service, container, _ in k8s_storefront_containers(resources):
        refs = {
            setting: ((env_entry(container, setting) or {}).get("valueFrom") or {}).get("secretKeyRef", {}).get("name")
            for setting in OWN_CREDENTIALS
        }
        for secret in set(refs.values()) - {None}:
            readers.setdefault(secret, set()).add(service)
        missing = [setting for setting, secret in refs.items() if secret is None]
        report.check(not missing and len(set(refs.values())) == 1,
                     f"{name}: {service} reads {', '.join(OWN_CREDENTIALS)} from one Secret of its own",
                     f"not from a Secret: {', '.join(missing)}" if missing else json.dumps(refs))
    shared = {secret: sorted(services) for secret, services in readers.items() if len(services) > 1}
    report.check(not shared, f"{name}: no two services read the same credentials", json.dumps(shared))


def cmd_security(grants_file, minikube_file, deploy_script, *cloud_overlays):
    report = Report()
    grants = read_grants(grants_file)
    report.ok(f"{grants_file}: {len(grants)} grants of {len({g[0] for g in grants})} principals")
    resources = load_all(minikube_file)
    check_kafka(report, resources, grants, deploy_script)
    check_no_literal_passwords(report, resources)
    check_mongodb(report, resources)
    for overlay in cloud_overlays:
        name, _, path = overlay.partition("=")
        check_cloud(report, name, load_all(path))
    report.exit()
