# ddb-streams-lab: `make help` lists every target and the settings. Each target calls the one CLI, ddblab
# (installed into .venv): `.venv/bin/ddblab --help` lists the same commands.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LAB := $(VENV)/bin/ddblab
COUNT ?= 1000
# make test's pytest-xdist workers. auto: 4 for the whole suite or a folder (the integration
# tests mostly wait on the emulator, so more workers than cores pay off); test files named in
# ARGS in the test process itself unless their tests took 30 s or more last time (a worker's
# start costs more than it saves); tests/conftest.py decides. TEST_WORKERS=0: one process.
TEST_WORKERS ?= auto
# said before pytest starts: its own error would name -n/--numprocesses, not the setting
CHECK_WORKERS = @echo "$(TEST_WORKERS)" | grep -qxE 'auto|[0-9]+' || { echo "error: TEST_WORKERS=$(TEST_WORKERS) \
  is not a number of workers (0: one process) nor auto - see make help" >&2; exit 2; }
ARGS ?=
# make query STATE="New York" CITY=Brooklyn  (or ARGS='--state Ohio')
STATE ?=
CITY ?=

.PHONY: help venv venv-test up down bootstrap seed logs test test-unit conformance lint status query reconcile chaos bench fuzz \
        outputs clean distclean
.PHONY: template package deploy-aws
.PHONY: dev event invoke redrive
.PHONY: doctor watch quarantine ui flow
.PHONY: mutants test-host
.PHONY: consumer

help: ## list the targets
	@echo "ddb-streams-lab - DynamoDB Streams -> Lambda on a local AWS emulator"
	@echo
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-11s %s\n", $$1, $$2}'
	@echo
	@echo "settings, with their defaults: on the command line (make up EMULATOR=ministack) or exported"
	@sed -n 's/^#> /  /p' $(MAKEFILE_LIST)
	@echo
	@echo "the CLI behind every target: .venv/bin/ddblab --help, .venv/bin/ddblab <command> --help"

# The settings make help lists, one a line: NAME=default, then what it does. The README's
# "Settings" table names the same ones (tests/unit/test_command_list.py keeps them in step,
# and with every variable ddblab/core/settings.py reads).
#> EMULATOR=auto                 ministack, localstack (Docker), localstack-host; auto: LocalStack where Docker answers
#> AWS_ENDPOINT_URL=http://localhost:4566  the emulator every command talks to (make up remembers the one it used)
#> STACK_PREFIX=                 prepended to every resource name: stacks of your own side by side on one emulator
#> COUNT=1000                    make seed: the generated users written after the walkthrough's five
#> ARGS=                         options for the command behind a target, e.g. make logs ARGS='--function audit'
#> MAX_RECORD_AGE=3600           seconds a failing batch is retried before the dead-letter queue (MiniStack, AWS)
#> MAX_RETRIES=10                retries of a failing batch before the dead-letter queue (LocalStack, AWS)
#> PARALLELIZATION_FACTOR=1      batches of one shard in flight at once, 1-10 (AWS; MiniStack polls one at a time)
#> TEST_WORKERS=auto             make test's workers: 4 for the suite or a folder, none for files in ARGS under 30 s
#> HYPOTHESIS_PROFILE=ci         make test's property tests: ci (every example) or dev (a fifth, while you edit)
#> LOCALSTACK_IMAGE=localstack/localstack:4.14.0  EMULATOR=localstack's image (a newer one needs LOCALSTACK_AUTH_TOKEN)
#> LOCALSTACK_AUTH_TOKEN=        passed to LocalStack from your environment, never stored
#> LOCALSTACK_PYTHON=            EMULATOR=localstack-host: a Python 3.13 (else one on PATH or pyenv, or built once)
#> PYTHON=python3                the Python (3.10 or newer) that creates .venv
#> AWS_DEFAULT_REGION=us-east-1  the region of every client and ARN (AWS_REGION too)
#> API_STAGE=dev                 the API's stage, in its URL
#> RUN_DIR=.run                  where make up keeps the endpoint, pid and log files and make down the snapshot
#> ALLOW_REMOTE_ENDPOINT=        1: let the tools talk to an endpoint that is not local (refused otherwise)

# Python started by make keeps its bytecode (__pycache__, ignored by git). Container images often
# set PYTHONDONTWRITEBYTECODE=1; then every test worker, CLI call and function process compiles
# all it imports again, and pytest re-rewrites the assertions of its plugins (schemathesis,
# hypothesis): seconds of CPU per process. The installs compile the virtualenv's packages too.
unexport PYTHONDONTWRITEBYTECODE

# The runtime first (fast: what make up needs), the test tooling only when a test target asks.
# uv installs it when it can be bootstrapped into the virtualenv; pip otherwise.
$(VENV)/bin/python:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found - install Python 3.10 or newer, or run: make PYTHON=/path/to/python3.11 ..."; exit 1; }
	@version=$$($(PYTHON) -c 'import platform; print(platform.python_version())' 2>/dev/null); \
	 [ -n "$$version" ] || { echo "error: $(PYTHON) does not run (a broken pyenv shim?) - run: make PYTHON=/path/to/python3.11 $(MAKECMDGOALS)"; exit 1; }; \
	 $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "error: $(PYTHON) is Python $$version; ddb-streams-lab needs 3.10 or newer - run: make PYTHON=python3.11 $(MAKECMDGOALS)"; exit 1; }; \
	 echo "creating $(VENV) with Python $$version"; $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check uv 2>/dev/null \
	  || echo "note: could not install uv into $(VENV); installing with pip instead (slower)"

define install
	@if [ -x $(VENV)/bin/uv ]; then $(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e '.$(1)'; \
	 else $(PY) -m pip install --quiet --disable-pip-version-check -e '.$(1)' 2> >(grep -v "is ignored: it is neither" >&2); fi
endef

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	@echo "installing ddblab and what running the pipeline needs into $(VENV)"
	$(call install,)
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	@echo "installing the test tooling into $(VENV) (pytest, hypothesis, schemathesis, ...)"
	$(call install,[test])
	@touch $@

venv: $(VENV)/.installed ## create the virtualenv from pyproject.toml (done by every target that needs it)

venv-test: $(VENV)/.installed-test ## the virtualenv with the test tooling too (done by every target that runs pytest)

up: venv ## start the emulator (EMULATOR=auto) and converge the stack
	@$(LAB) up

bootstrap: venv ## converge the stack on whatever emulator answers (idempotent; ARGS=--prune, ARGS='--rebuild NAME': see README)
	@$(LAB) bootstrap $(ARGS)

down: ## keep the users table in .run/, then stop what make up started (ARGS=--discard keeps nothing)
	@if [ -x $(LAB) ]; then $(LAB) down $(ARGS); else echo "backend: nothing started by make up is running (no $(VENV))"; fi

status: venv ## which emulator answers, and each part of the stack on it
	@$(LAB) status $(ARGS)

outputs: venv ## the stack's outputs; one for the shell: make -s outputs ARGS=api_url
	@$(LAB) outputs $(ARGS)

seed: venv ## write the 5 walkthrough users through the API and COUNT more in bulk
	@$(LAB) seed --count $(COUNT) $(ARGS)

logs: venv ## follow the functions' log output (Ctrl-C to stop)
	@$(LAB) logs $(ARGS) || [ $$? -eq 130 ]  # Ctrl-C is how you leave it, not an error

doctor: venv ## check every link of the chain; on a failure, the command that fixes it
	@$(LAB) doctor $(ARGS)

watch: venv ## live view of the users stream (ARGS='--from-start --event MODIFY --key ada@example.com')
	@$(LAB) watch $(ARGS) || [ $$? -eq 130 ]  # Ctrl-C is how you leave it, not an error

quarantine: venv ## list quarantine and dead-letter messages (user, reason, age) without consuming them
	@$(LAB) quarantine $(ARGS)

ui: venv ## the pipeline page on http://127.0.0.1:8002 and the tables in dynamodb-admin on :8001 (needs Node.js)
	@$(LAB) ui $(ARGS) || [ $$? -eq 130 ]

flow: venv ## the pipeline page alone on http://127.0.0.1:8002: the chain, live figures, each record's journey
	@$(LAB) flow $(ARGS) || [ $$? -eq 130 ]

query: venv ## users by location: make query STATE="New York" [CITY=Brooklyn], or CITY=Springfield
	@$(LAB) query $(if $(STATE),--state "$(STATE)") $(if $(CITY),--city "$(CITY)") $(ARGS)

reconcile: venv ## compare each recomputable view with users: users_by_location (ARGS=--fix repairs); others: replay
	@$(LAB) reconcile $(ARGS)

chaos: venv-test ## fault drill: writes under injected target-write faults, then checks for drift
	@$(LAB) chaos $(ARGS)

bench: venv ## replication throughput and latency, as ratios measured side by side
	@$(LAB) bench $(ARGS)

dev: venv ## watch handlers/ and redeploy what each save changes (Ctrl-C to stop)
	@$(LAB) dev $(ARGS) || [ $$? -eq 130 ]

event: venv ## print an event: make event ARGS='stream --email ada@example.com', ARGS='api GET /users'
	@$(LAB) event $(ARGS)

invoke: venv ## invoke a function: make invoke FUNCTION=audit EVENT=event.json (or ARGS='--records f.jsonl')
	@$(LAB) invoke $(or $(FUNCTION),replicate) $(if $(EVENT),--event "$(EVENT)") $(ARGS)

redrive: venv ## bring back the quarantine and dead-letter queues, each message to the consumer that failed it (ARGS=--dry-run)
	@$(LAB) redrive $(ARGS)

consumer: venv ## add a stream consumer: make consumer NAME=state_counts [ARGS='--index state']; then make bootstrap
	@[ -n "$(NAME)" ] || { echo "error: name the consumer: make consumer NAME=state_counts"; exit 2; }
	@$(LAB) new consumer "$(NAME)" $(ARGS)

lint: venv-test ## ruff over the tree, mypy over ddblab/ and handlers/
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy

test: venv-test ## unit and integration tests, on TEST_WORKERS workers (starts an embedded MiniStack if none answers)
	$(CHECK_WORKERS)
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder $(ARGS)

fuzz: venv-test ## schemathesis against the live API, longer than in make test (EXAMPLES=300 SEQUENCES=200)
	@SCHEMATHESIS_EXAMPLES=$(or $(EXAMPLES),300) SCHEMATHESIS_SEQUENCES=$(or $(SEQUENCES),200) \
	  $(PY) -m pytest -s tests/integration/test_api_contract.py $(ARGS)

template: venv ## print the stack as a CloudFormation template (ARGS='--out template.yaml')
	@$(LAB) template $(ARGS)

package: venv ## zip the functions into an S3 bucket on the emulator; print the stack parameters
	@$(LAB) package $(ARGS)

deploy-aws: venv ## package and deploy the template to YOUR AWS account (ARGS=--yes-deploy-to-aws)
	@$(LAB) deploy-aws $(ARGS)

conformance: venv-test ## what the backend really does: a matrix printed and written to .run/conformance.json
	@$(PY) -m pytest tests/conformance -m conformance $(ARGS)

test-host: venv-test ## the tests on LocalStack 4.14.0's own runtime on the host (no Docker): TEST_BACKEND=localstack-host
	$(CHECK_WORKERS)
	@TEST_BACKEND=localstack-host $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder tests/host tests/integration \
	  --ignore=tests/integration/test_least_privilege.py $(ARGS)  # that one runs on a MiniStack of its own (AUTH=true) anyway

test-unit: venv-test ## unit tests only, no emulator
	@$(PY) -m pytest tests/unit $(ARGS)

# mutmut reruns only the mutants named in ARGS (e.g. ARGS='handlers.projection.*'); a full run
# starts afresh, since a cached verdict would outlive the tests that gave it. Two workers at most:
# the machine is shared.
mutants: venv-test ## mutation testing of handlers/ by the unit tests; the score per file (slow: ~15 min, not in make test)
	@[ -n "$(ARGS)" ] || rm -rf mutants
	@$(VENV)/bin/mutmut run --max-children $(or $(CHILDREN),2) $(ARGS)
	@echo; echo "surviving mutants (the diff of one: .venv/bin/mutmut show <name>; why some are equivalent: tests/MUTANTS.md):"
	@$(VENV)/bin/mutmut results | grep -v ': not checked$$' || echo "  none"
	@echo; echo "mutation score, killed / checked (with ARGS: the mutants it names, and earlier verdicts kept in mutants/):"
	@$(VENV)/bin/mutmut results --all true | awk -F': ' '$$2 != "not checked" {split($$1, name, "."); file = name[2] ".py"; total[file]++; \
	  n[file, $$2]++; all++; killed += ($$2 == "killed")} END {for (f in total) printf "  %-14s %4d / %4d  survived %d, no tests %d, timeout %d\n", \
	  f, n[f, "killed"], total[f], n[f, "survived"], n[f, "no tests"], n[f, "timeout"] | "sort"; close("sort"); \
	  if (all) printf "  %-14s %4d / %4d  (%.1f%%)\n", "all", killed, all, 100 * killed / all}'

clean: ## stop the emulator keeping nothing, remove run state (and saved data) and build output
	@[ ! -x $(LAB) ] || $(LAB) down --discard
	@rm -rf .run build .pytest_cache .hypothesis *.egg-info mutants
	@find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +
	@echo "cleaned$(if $(filter distclean,$(MAKECMDGOALS)),, (the virtualenv stays: make distclean removes it too))"

distclean: clean ## clean, and remove the virtualenv
	@rm -rf $(VENV)
	@echo "removed $(VENV)"
