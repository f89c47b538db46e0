#!/usr/bin/env bash
# Renders the kustomize base and every overlay and validates each object offline
# against the Kubernetes schemas (kubernetes-validate, strict: unknown fields fail),
# plus the Secret template. Installs kubernetes-validate (PyPI) and kubectl (Debian)
# when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
K8S_VERSION="${K8S_VERSION:-1.31}"

if ! command -v kubectl >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null
fi
python3 -c 'import kubernetes_validate' 2>/dev/null || python3 -m pip install --quiet kubernetes-validate

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for dir in deploy/k8s/base deploy/k8s/overlays/*; do
  name=$(echo "$dir" | tr '/' '_')
  kubectl kustomize "$dir" > "$out/$name.yaml"
  kinds=$(grep -c '^kind:' "$out/$name.yaml")
  python3 -m kubernetes_validate --strict --kubernetes-version "$K8S_VERSION" "$out/$name.yaml"
  echo "ok: $dir ($kinds objects, Kubernetes $K8S_VERSION schemas)"
done
python3 -m kubernetes_validate --strict --kubernetes-version "$K8S_VERSION" deploy/k8s/base/secret.template.yaml
python3 -c 'import sys, yaml; [list(yaml.safe_load_all(open(f))) for f in sys.argv[1:]]' deploy/docker-compose.yml
echo "ok: secret template, docker-compose.yml parses"
