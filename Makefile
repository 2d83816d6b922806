# Two entry points that work from a fresh clone: `make run` and `make test`.
# Both build .venv from the pinned lock first (only when the lock changed).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test test-unit test-integration test-compose test-removal lint bench lock clean

$(STAMP): requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

## Run the app on its embedded defaults (SQLite, file sessions) at http://127.0.0.1:4200
run: $(STAMP)
	$(BIN)/python -m app db upgrade
	$(BIN)/python -m app serve

## Run every test (integration tests need MariaDB, Redis and memcached on 127.0.0.1)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

## Remove the school demo in a copy of the project and run the suite that remains
test-removal: $(STAMP)
	$(BIN)/python -m pytest tests/removal $(PYTEST_ARGS)

## Build the image, run the compose stack, test it, tear it down (needs docker compose)
test-compose: $(STAMP)
	$(BIN)/python -m pytest tests/compose $(PYTEST_ARGS)

## Measure the template against bare Flask (needs wrk, MariaDB and Redis on 127.0.0.1)
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

## Lint Python (ruff), the Dockerfile (hadolint) and shell scripts (shellcheck)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile
	$(BIN)/shellcheck docker/entrypoint.sh .ci/run

## Re-pin requirements*.lock from pyproject.toml (needs `pip install uv`)
lock:
	echo "setuptools>=75" | uv pip compile - --universal --python-version 3.11 --generate-hashes -q -o requirements-build.lock
	uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes -q -o requirements.lock
	uv pip compile pyproject.toml --extra test --extra lint --extra bench --universal --python-version 3.11 --generate-hashes -q -o requirements-dev.lock

clean:
	rm -rf $(VENV) .pytest_cache
