# Two commands on a fresh machine with only python3:
#   make run   - set up, migrate the SQLite default, serve on http://127.0.0.1:5000
#                (make run PORT=5001 WORKERS=4; the issuer follows HOST and PORT; on another
#                host than loopback set AUTHSERVER_ISSUER to the https URL in front of it)
#   make test  - set up and run the whole suite (SQLite and PostgreSQL)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= $(or $(AUTHSERVER_HOST),127.0.0.1)
PORT ?= $(or $(AUTHSERVER_PORT),5000)
WORKERS ?= $(or $(AUTHSERVER_WORKERS),2)
# -qq: pip's errors still print; its warnings (and build back-ends' chatter) do not.
PIP := $(BIN)/pip --disable-pip-version-check -qq

.PHONY: run test test-fast docs docs-serve bench setup browser prometheus haproxy wrk lint clean

# Both distributions editable, in one resolve: authserver's resource-guard requirement is
# met by the checkout's resource-guard/, so an edit under either is seen at once.
$(STAMP): pyproject.toml resource-guard/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e ./resource-guard -e '.[test,redis,bench,lint,docs]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	@$(BIN)/authserver db upgrade
	@$(BIN)/authserver serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

# Debian's chromium drives the login and consent pages in the browser tests.
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium); \
	  else sudo apt-get install -y -q chromium; fi; }

# Debian's prometheus scrapes a live server in tests/e2e/test_metrics_prometheus.py.
prometheus:
	@command -v prometheus >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q prometheus >/dev/null || (apt-get update -q && apt-get install -y -q prometheus >/dev/null); \
	  else sudo apt-get install -y -q prometheus; fi; }

# Debian's haproxy balances the three nodes of tests/e2e/test_cluster.py.
haproxy:
	@command -v haproxy >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q haproxy >/dev/null || (apt-get update -q && apt-get install -y -q haproxy >/dev/null); \
	  else sudo apt-get install -y -q haproxy; fi; }

# Lint, types and the documentation first: a finding fails the run before the suite starts.
# The suite runs in parallel (pytest-xdist): each worker has its own databases and ports.
TEST_WORKERS ?= 3
test: lint docs browser prometheus haproxy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# Everything but the tests marked slow (packaging, restart cycles, outages): for iterating.
test-fast: $(STAMP) browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "not slow" $(PYTEST_ARGS)

# The documentation site (MkDocs, Material theme) into site/; --strict: a broken link, a
# missing page or a generated part that fails stops the build.
export NO_MKDOCS_2_WARNING := 1
docs: $(STAMP)
	@$(BIN)/mkdocs build --strict --quiet

docs-serve: $(STAMP)
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

# ruff (lint + import order) over the tree; mypy --strict over both packages, the bench and the
# tests (pyproject.toml names them), then over the examples, which are loose scripts, not a package.
lint: $(STAMP)
	$(BIN)/ruff check authserver resource-guard tests bench examples migrations config docs build_backend.py
	$(BIN)/mypy
	$(BIN)/mypy examples docs/hooks.py

# Debian's wrk generates the benchmark load (bench/lua/ scripts its requests).
wrk:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk); \
	  else sudo apt-get install -y -q wrk; fi; }

# BENCH_ARGS=--quick for a one- to two-minute run; the full run writes bench/results.md.
bench: $(STAMP) wrk
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.operating_cost $(if $(findstring --quick,$(BENCH_ARGS)),--seconds 3 --rounds 2)
	$(BIN)/python -m bench.change_latency

clean:
	rm -rf $(VENV) build site *.egg-info resource-guard/build resource-guard/*.egg-info .pytest_cache
