# One task runner for the README, developers and CI (.ci/run calls `make test`).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3.11
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
DATA ?= data
STATE := .kykytutka
PORT ?= 8000
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Evidently and MLflow must never phone home from this service.
export DO_NOT_TRACK := 1
export EVIDENTLY_DISABLE_TELEMETRY := 1
export MLFLOW_DISABLE_TELEMETRY := true
# Playwright drives Debian's chromium (`make browser`); it never downloads a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: help install browser demo test lint typecheck format unit bench-synth bench-train bench-pyfunc bench-serve bench-monitor bench-audit bench-pages soak docs serve-demo stop

help:
	@echo "make demo   install everything and run the main job end to end on embedded defaults"
	@echo "make test   install everything and run lint, type check and the whole test suite"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# Installs exactly the versions in uv.lock (the project itself in editable mode).
install: $(UV)
	$(UV) sync --frozen --python $(PYTHON)

demo: install
	$(BIN)/kykytutka synth --region pirkanmaa --rows 200000 --seed 1 --out $(DATA)/pirkanmaa.parquet
	$(BIN)/kykytutka synth --region etela-pohjanmaa --rows 50000 --seed 1 --out $(DATA)/etela-pohjanmaa.parquet
	$(BIN)/kykytutka validate $(DATA)/pirkanmaa.parquet
	$(BIN)/kykytutka validate $(DATA)/etela-pohjanmaa.parquet
	$(BIN)/kykytutka train --config experiments/default.yaml
	$(BIN)/kykytutka promote || echo "(promotion refused, the champion stays: see the reason above)"
	$(BIN)/kykytutka compare
	$(BIN)/kykytutka monitor --reference $(DATA)/pirkanmaa.parquet --current $(DATA)/etela-pohjanmaa.parquet --out reports/demo \
		|| echo "(monitor exit $$?: Etelä-Pohjanmaa is not the population the model was checked on; see reports/demo/index.html)"
	$(MAKE) --no-print-directory serve-demo

# Starts the API and the pages in the background (it keeps running; `make stop` ends it), shows one
# request, and prints the pages' address with a sign-in key for each role (kept in .kykytutka/).
serve-demo: install
	mkdir -p $(STATE)
	$(BIN)/kykytutka secrets --out $(STATE)/service.env
	test -s $(STATE)/demo-booking.key || $(BIN)/kykytutka apikey --name demo-booking-system --role booking-system > $(STATE)/demo-booking.key
	chmod 600 $(STATE)/demo-booking.key
	for role in front-desk coordinator auditor; do \
		test -s $(STATE)/demo-$$role.key || $(BIN)/kykytutka apikey --name demo-$$role --role $$role > $(STATE)/demo-$$role.key; \
		chmod 600 $(STATE)/demo-$$role.key; done
	-$(MAKE) --no-print-directory stop
	umask 077; set -a; . $(STATE)/service.env; set +a; nohup $(BIN)/kykytutka serve --port $(PORT) > $(STATE)/serve.log 2>&1 & echo $$! > $(STATE)/serve.pid
	$(BIN)/python -m kykytutka.sample http://127.0.0.1:$(PORT) $(STATE)/demo-booking.key
	@echo "The API runs on http://127.0.0.1:$(PORT) (docs: /docs, log: $(STATE)/serve.log); stop it with: make stop"
	@echo "The pages: http://127.0.0.1:$(PORT)/ui/sign-in  Sign in with the key of a role:"
	@for role in front-desk coordinator auditor; do printf '  %-12s %s\n' "$$role" "$$(cat $(STATE)/demo-$$role.key)"; done

stop:
	@if [ -f $(STATE)/serve.pid ]; then kill $$(cat $(STATE)/serve.pid) 2>/dev/null || true; rm -f $(STATE)/serve.pid; fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/python -m pytest -n 2 --dist loadfile

# The browser tests (tests/serving/pages/test_browser.py) use Debian's chromium.
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

test: browser lint typecheck unit

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: install
	$(BIN)/kykytutka contract --markdown > docs/contract.md
	for language in fi sv en; do $(BIN)/kykytutka texts --language $$language > docs/reasons-$$language.md; done

bench-synth: install
	$(BIN)/python benchmarks/synth_speed.py

bench-train: install
	$(BIN)/python benchmarks/train_speed.py

bench-monitor: install
	$(BIN)/python benchmarks/monitor_speed.py

bench-pyfunc: install
	$(BIN)/python benchmarks/pyfunc_speed.py

# The audit store's cost per write (chain, synchronous FULL vs NORMAL, group commit), SQLite and
# PostgreSQL (the suite's server, 127.0.0.1:5432).
bench-audit: install
	$(BIN)/python benchmarks/audit_speed.py

# wrk comes from Debian's archive; the benchmark uses it for both servers.
bench-serve: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python benchmarks/serve_speed.py

# The auditor's decision page with 100,000 stored decisions (goal: under 50 ms on the server).
bench-pages: install
	$(BIN)/python benchmarks/page_speed.py

# A few minutes of mixed good and bad requests (wrk on loopback): memory growth and errors.
# SOAK_SECONDS (default 180) sets how long.
soak: install
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python benchmarks/soak.py
