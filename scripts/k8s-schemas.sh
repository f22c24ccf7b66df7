#!/bin/sh
# Regenerates the JSON schemas deploy_test.go validates the Kubernetes
# manifests against with kubeconform, offline, into deploy/schemas/.
#
# Sources, pinned, both fetched through the Go module proxy (the only
# network this needs; GitHub is not): the OpenAPI v3 spec inside the
# k8s.io/kubernetes module for built-in kinds, and the Prometheus Operator's
# CustomResourceDefinition for ServiceMonitor. Only the kinds deploy/k8s uses
# are written, to keep the repository small. To move to another Kubernetes
# release, change K8S_VERSION here and KubernetesVersion in
# deploy/render_test.go.
#
# Environment:
#   SCHEMAS_OUT  directory to write into instead of deploy/schemas (the
#                tests regenerate into a temporary one and compare)
set -eu

K8S_VERSION=v1.34.4
PROMETHEUS_OPERATOR_VERSION=v0.85.0
KINDS="v1/Namespace v1/Service v1/ConfigMap v1/PersistentVolumeClaim
apps/v1/StatefulSet apps/v1/Deployment batch/v1/Job policy/v1/PodDisruptionBudget
networking.k8s.io/v1/NetworkPolicy"

cd "$(dirname "$0")/.."
moddir() {
	go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}
k8s=$(moddir "k8s.io/kubernetes@$K8S_VERSION")
po=$(moddir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
if [ -z "$k8s" ] || [ -z "$po" ]; then
	echo "k8s-schemas.sh: could not download the modules" >&2
	exit 1
fi
out="${SCHEMAS_OUT:-deploy/schemas}/$K8S_VERSION-standalone-strict"
rm -rf "$out"
# shellcheck disable=SC2086 # KINDS is a list of words
go run ./deploy/internal/schemagen -spec "$k8s/api/openapi-spec/v3" -out "$out" \
	-crd "monitoring.coreos.com/v1/ServiceMonitor=$po/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
	$KINDS
