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

.PHONY: run test bench setup browser wrk lint clean

# Both distributions editable, in one resolve: authserver's resource-guard requirement is
# met by the checkout's resource-guard/, so an edit under either is seen at once.
$(STAMP): pyproject.toml resource-guard/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e ./resource-guard -e '.[test,redis,bench,lint]'
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

# Lint and types first: a finding fails the run before the suite starts.
test: lint browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff (lint + import order) over the tree; mypy --strict over both packages, the bench and the
# tests (pyproject.toml names them), then over the examples, which are loose scripts, not a package.
lint: $(STAMP)
	$(BIN)/ruff check authserver resource-guard tests bench examples migrations config build_backend.py
	$(BIN)/mypy
	$(BIN)/mypy examples

# Debian's wrk generates the benchmark load (bench/lua/ scripts its requests).
wrk:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q wrk >/dev/null || (apt-get update -q && apt-get install -y -q wrk); \
	  else sudo apt-get install -y -q wrk; fi; }

# BENCH_ARGS=--quick for a one- to two-minute run; the full run writes bench/results.md.
bench: $(STAMP) wrk
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info resource-guard/build resource-guard/*.egg-info .pytest_cache
