#!/usr/bin/env python3
"""The offline checks of scripts/check-deploy.sh that need more than one command: one module per
check in this folder, this file the command line.

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
  lake GRANTS.txt COMPOSE.yaml MINIKUBE.yaml MONITORING.yaml [NAME=LAKE.yaml...]
                                                     the lake's compose profile and KafkaConnects
                                                     agree with its local run and grants
  security GRANTS.txt MINIKUBE.yaml DEPLOY_SCRIPT [NAME=CLOUD.yaml...]
                                                     Kafka users, ACLs, credentials (minikube),
                                                     a principal per service (cloud overlays)
  runtime-packages DOCKERFILE                        the Debian packages of the runtime image
  runtime-image DOCKERFILE DEBS ROOT BINARY...       the binaries in a folder of those packages
  runtime-trust DOCKERFILE DEBS ROOT SECURITY_DIR BINARY...  and with the image's CA bundle
                                                     holding a secured local broker's CA
"""

import sys

from build import cmd_build_command, cmd_build_context
from dashboard import cmd_dashboard
from environment import cmd_env
from jwt_policy import cmd_jwt_policy
from lake import cmd_lake
from loadgen import cmd_loadgen
from security import cmd_security
from runtime import cmd_runtime_image, cmd_runtime_packages, cmd_runtime_trust
from strimzi import cmd_operator_namespace, cmd_split, cmd_strimzi
from topics import cmd_topics
from tracing import cmd_tracing
from wiring import cmd_wiring


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
    elif command == "lake":
        cmd_lake(*args)
    elif command == "security":
        cmd_security(*args)
    elif command == "jwt-policy":
        cmd_jwt_policy(*args)
    elif command == "runtime-packages":
        cmd_runtime_packages(*args)
    elif command == "runtime-image":
        cmd_runtime_image(*args)
    elif command == "runtime-trust":
        cmd_runtime_trust(*args)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
