#!/usr/bin/env bash
# Prints Strimzi's cluster operator release manifest ready to apply into one namespace:
#   deploy/strimzi/render-operator.sh MANIFEST NAMESPACE
# The release names the namespace "myproject" in its bindings and gives the ServiceAccount, the
# ConfigMap and the Deployment none, so applied as it is they land in the current namespace and
# the operator watches that one. Here the bindings are rewritten as Strimzi's documentation does
# (sed), and kustomize puts every namespaced object in NAMESPACE (cluster-scoped ones, such as the
# CRDs and ClusterRoles, stay as they are). scripts/check-deploy.sh checks the result on a
# manifest shaped like the release.
set -euo pipefail
manifest=$1 namespace=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s/namespace: .*/namespace: $namespace/" "$manifest" >"$work/operator.yaml"
printf 'namespace: %s\nresources:\n  - operator.yaml\n' "$namespace" >"$work/kustomization.yaml"
kubectl kustomize "$work"
