#!/usr/bin/env bash
# Creates (or updates) the Kubernetes Secret surge-certs that deploy/k8s/
# mounts: the CA certificate, the coordinator's and the agent's certificate
# and key, and the gossip key, made by `coordinator certs init`.
#
#   scripts/k8s-secrets.sh [DIR]      # DIR defaults to ./surge-certs
#
# If DIR/ca.crt does not exist yet it runs `coordinator certs init --dir DIR`
# first; otherwise it reuses the files in DIR (so every run of the script
# uploads the same CA). ca.key and token are never uploaded: keep DIR
# somewhere safe, it is what issues new certificates.
#
# Environment:
#   SURGE_NAMESPACE  namespace of the Secret (default surge)
#   COORDINATOR      the coordinator binary (default bin/coordinator if it
#                    exists, else `go run ./cmd/coordinator`)
#   DRY_RUN=1        print the Secret's YAML instead of applying it (for a
#                    GitOps flow, pipe it to your secret encryption tool)
set -euo pipefail

ns=${SURGE_NAMESPACE:-surge}
dir=${1:-surge-certs}
secret=surge-certs
files=(ca.crt coordinator.crt coordinator.key agent.crt agent.key gossip.key)

if [[ -n ${COORDINATOR:-} ]]; then
	coordinator=("$COORDINATOR")
elif [[ -x bin/coordinator ]]; then
	coordinator=(bin/coordinator)
else
	coordinator=(go run ./cmd/coordinator)
fi

if [[ ! -e $dir/ca.crt ]]; then
	"${coordinator[@]}" certs init --dir "$dir"
fi

args=()
for f in "${files[@]}"; do
	if [[ ! -r $dir/$f ]]; then
		echo "k8s-secrets: $dir/$f is missing: run '${coordinator[*]} certs init --dir $dir' (add --force to replace a partial set)" >&2
		exit 1
	fi
	args+=("--from-file=$f=$dir/$f")
done

if [[ ${DRY_RUN:-} == 1 ]]; then
	kubectl create secret generic "$secret" --namespace "$ns" "${args[@]}" --dry-run=client -o yaml
	exit 0
fi
# create --dry-run | apply: creates the Secret, or updates it in place.
kubectl create secret generic "$secret" --namespace "$ns" "${args[@]}" --dry-run=client -o yaml |
	kubectl apply -f -
echo "k8s-secrets: secret $ns/$secret holds ${files[*]} from $dir (ca.key stays in $dir: keep it safe)"
