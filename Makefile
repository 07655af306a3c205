# One command per habit; the same locally and in CI.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install postgres test lint typecheck demo dev prod prod-check sandbox reliability bench lock clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# Debian's PostgreSQL server, for the PostgreSQL-backed tests and `make prod`, and faketime for the
# lease tests' skewed-clock writer (needs root or sudo).
postgres:
	@{ ls /usr/lib/postgresql/*/bin/initdb && command -v faketime; } >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends postgresql faketime; }

# Two workers (the machine has 2 cores; most tests wait on servers), one test file per worker.
test: install postgres
	$(BIN)/python -m pytest -q -m "not slow" -n 2 --dist loadfile sync_pipeline_tests

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# The production shape on this machine (PostgreSQL, code server, webserver, daemon; .prod/).
prod: install postgres
	$(BIN)/sync-pipeline deploy-local

# The same, fresh, until a scheduled run and a backfill succeed under the daemon (exit 0/1).
prod-check: install postgres
	$(BIN)/sync-pipeline deploy-local --check

sandbox: install
	$(BIN)/sync-pipeline sandbox --seed 200

demo: install
	$(BIN)/python -m sync_pipeline.demo

dev: install
	$(BIN)/python -m sync_pipeline.devserver

# The long suites: the slow tests (make prod-check's deployment, the quick bench), then the
# reliability parts.
reliability: install postgres
	$(BIN)/python -m pytest -q -m slow sync_pipeline_tests
	$(BIN)/python -m sync_pipeline_tests.reliability

bench: install postgres
	$(BIN)/python -m sync_pipeline_tests.bench

lock: install
	$(BIN)/python -m pip freeze --exclude-editable | sed '1i # Lock file: the full pinned tree for Python 3.11 (regenerate with `make lock`).' > requirements.lock

clean:
	rm -rf $(VENV) .sync_state .prod .pytest_cache .mypy_cache .ruff_cache
