# ddb-streams-lab: `make help` lists every target.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
COUNT ?= 1000
ARGS ?=

.PHONY: help venv up down bootstrap seed logs test test-unit status query reconcile chaos bench clean distclean

help: ## list the targets
	@echo "ddb-streams-lab - DynamoDB Streams -> Lambda on a local AWS emulator"
	@echo
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-11s %s\n", $$1, $$2}'
	@echo
	@echo "  settings: EMULATOR=auto|localstack|ministack  AWS_ENDPOINT_URL=http://localhost:4566  COUNT=1000"
	@echo "  options for a tool: ARGS='...', e.g. make query ARGS='--state Ohio'  (each tool: ARGS=--help)"

venv: $(VENV)/.installed ## create the virtualenv from pyproject.toml (done by every target that needs it)

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found - install Python 3.10 or newer, or run: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "error: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); ddb-streams-lab needs 3.10 or newer - run: make PYTHON=python3.11 $(MAKECMDGOALS)"; exit 1; }
	@[ -x $(PY) ] || { echo "creating $(VENV) with $$($(PYTHON) --version)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing dependencies into $(VENV) from pyproject.toml (about a minute the first time)"
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2> >(grep -v "is ignored: it is neither" >&2)
	@touch $@

up: venv ## start the emulator (EMULATOR=auto) and converge the stack
	@$(PY) -m scripts.backend up
	@$(PY) -m scripts.bootstrap

bootstrap: venv ## converge the stack on whatever emulator answers (idempotent)
	@$(PY) -m scripts.bootstrap

down: venv ## stop what make up started
	@$(PY) -m scripts.backend down

status: venv ## which emulator answers, and each part of the stack on it
	@$(PY) -m scripts.status

seed: venv ## write the 5 walkthrough users through the API and COUNT more in bulk
	@$(PY) -m scripts.seed --count $(COUNT)

logs: venv ## follow the functions' log output (Ctrl-C to stop)
	@$(PY) -m scripts.logs $(ARGS) || [ $$? -eq 130 ]  # Ctrl-C is how you leave it, not an error

query: venv ## users by location: make query ARGS='--state "New York"' (or --city, both)
	@$(PY) -m scripts.query $(ARGS)

reconcile: venv ## compare users_by_location with the projection of users (ARGS=--fix repairs)
	@$(PY) -m scripts.reconcile $(ARGS)

chaos: venv ## fault drill: writes under injected target-write faults, then checks for drift
	@$(PY) -m scripts.chaos $(ARGS)

bench: venv ## replication throughput and latency, as ratios measured side by side
	@$(PY) -m scripts.bench $(ARGS)

test: venv ## unit and integration tests (starts an embedded MiniStack if none answers)
	@$(PY) -m pytest $(ARGS)

test-unit: venv ## unit tests only, no emulator
	@$(PY) -m pytest tests/unit $(ARGS)

clean: ## stop the emulator, remove run state and build output
	@[ ! -x $(PY) ] || $(PY) -m scripts.backend down
	@rm -rf .run build .pytest_cache .hypothesis *.egg-info
	@find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
	@echo "cleaned (the virtualenv stays: make distclean removes it too)"

distclean: clean ## clean, and remove the virtualenv
	@rm -rf $(VENV)
