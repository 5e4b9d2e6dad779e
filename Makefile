# PCF pipeline — every install step lives here (and in .ci/run, which calls these targets).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PCF := $(VENV)/bin/pcf
STAMP := $(VENV)/.installed
DEMO_DB := .pcf/demo.duckdb
DEMO_WH := duckdb:///$(DEMO_DB)

.PHONY: help venv demo test test-unit lint format bench bench-bigquery-model bench-stack bqemu-venv stack-up stack-down stack-status clean

help:  ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

$(STAMP): requirements.txt requirements-local.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)  ## create .venv with runtime + dev dependencies and the pcf command

demo: $(STAMP)  ## the incident replay on the embedded default (DuckDB + in-process bus)
	@$(PY) -m shared.tools.demo --warehouse $(DEMO_WH)

test: $(STAMP)  ## the whole test suite (unit, real season, infra, emulator stack)
	$(PY) -m pytest

test-unit: $(STAMP)  ## fast tests only (no real season, no services)
	$(PY) -m pytest tests/unit

lint: $(STAMP)  ## ruff + mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(STAMP)  ## benchmarks: season vs set-based floor, 5 seasons, row building vs the previous code, a staged function's footprint
	@# Every benchmark runs and prints its figures; the target fails if any missed a target.
	@status=0; $(PY) -m tests.bench.season || status=1; $(PY) -m tests.bench.rows || status=1; \
	  $(PY) -m tests.bench.footprint || status=1; exit $$status

bench-bigquery-model: $(STAMP)  ## a backfill replayed through a model of BigQuery's latency, quotas and billing (1 and 5 seasons)
	$(PY) -m tests.bench.bigquery_model

clean:
	rm -rf .pcf build

# -- local emulator stack (Pub/Sub emulator, bqemulator, functions-framework servers) --------
BQEMU_VENV := .venv-bqemu
BQEMU_STAMP := $(BQEMU_VENV)/.installed

$(BQEMU_STAMP): requirements-bqemulator.txt
	test -x $(BQEMU_VENV)/bin/python || $(PYTHON) -m venv $(BQEMU_VENV)
	$(BQEMU_VENV)/bin/pip install --quiet -r requirements-bqemulator.txt
	touch $(BQEMU_STAMP)

bqemu-venv: $(BQEMU_STAMP)  ## bqemulator in its own venv (its pins clash with ours)

stack-up: $(STAMP) $(BQEMU_STAMP)  ## start the emulator stack (state in .pcf/stack)
	$(PY) -m shared.tools.stack up

stack-down: $(STAMP)  ## stop exactly the processes stack-up started
	$(PY) -m shared.tools.stack down

stack-status: $(STAMP)
	$(PY) -m shared.tools.stack status

bench-stack: $(STAMP) $(BQEMU_STAMP)  ## a month of dates through the emulator stack (dates/s, time shares)
	$(PY) -m tests.bench.stack

include infra/infra.mk

# `make test` on a fresh machine installs what the infra and emulator tests need too.
test: $(CHECKOV) $(TFSCHEMA_STAMP) $(BQEMU_STAMP)
