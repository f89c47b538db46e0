# ShopOps — the commands a developer and CI use. `make help` lists them.
CARGO ?= cargo
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_REDIS_URL ?= redis://127.0.0.1:6379

.PHONY: help run test test-services test-tools test-clients lint fmt bench k8s-validate docker openapi

help: ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run: ## serve on embedded defaults (SQLite in ./data, in-process cache) at :8080
	$(CARGO) run --bin shopops -- serve

test: test-tools ## unit + end-to-end tests on the embedded defaults (SQLite)
	$(CARGO) test --workspace --no-fail-fast

test-services: test-tools ## the same suite against PostgreSQL and Redis on 127.0.0.1
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(CARGO) test --workspace --no-fail-fast

test-clients: ## generate TypeScript and Python clients from the spec and run them against a server (needs Node.js, Python)
	scripts/test-clients.sh

# The alerting tests deliver real e-mail to a local SMTP server (aiosmtpd, from PyPI).
test-tools:
	@python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet aiosmtpd

lint: ## formatting and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

bench: ## release: start-up, idle memory, points vs pgbench, Kuaishou client vs its Python SDK, provider signing (docs/performance.md)
	$(CARGO) build --release --bin shopops
	scripts/bench-startup.sh
	$(CARGO) bench -p shopops --bench points_load
	scripts/bench-kuaishou.sh
	$(CARGO) bench -p shopops-integrations --bench signing

k8s-validate: ## render deploy/k8s (base + overlays) and validate against Kubernetes schemas
	scripts/validate-k8s.sh

docker: ## build the server image (needs a Docker engine)
	docker build -f deploy/Dockerfile -t shopops:dev .

openapi: ## write the OpenAPI document to openapi.json
	$(CARGO) run --quiet --bin shopops -- openapi > openapi.json
