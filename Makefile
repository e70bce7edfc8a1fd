# seatflow: `make run` runs the main job on embedded defaults, `make test` runs the tests.
# Each target sets up its own virtualenv from a fresh clone, with the versions requirements-dev.lock pins.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The SAM CLI pins its own boto3 and pydantic: installed in .venv it would downgrade ours (and break mypy).
SAM_CLI_VERSION := 1.170.0
SAM_VENV  := .venv-sam
SAM       := $(SAM_VENV)/bin/sam
SAM_STAMP := $(SAM_VENV)/.installed-$(SAM_CLI_VERSION)
# `make lock LOCK_FLAGS=--upgrade` moves every pin to the newest version requirements-dev.txt allows.
LOCK_FLAGS ?=

.PHONY: help run test race unit integration workflow contract lint typecheck validate build deploy serve sandbox doctor bench bench-moodle test-moodle openapi lock clean

help:
	@echo "make run          run the sample order end to end on embedded defaults (moto + Moodle sandbox)"
	@echo "make test         run the test suite (all four suites, one pytest run)"
	@echo "make unit         tests/unit alone: models and rules, no AWS, no Moodle"
	@echo "make integration  tests/integration alone: handlers in-process with moto and the sandbox"
	@echo "make workflow     tests/workflow alone: the state machine end to end in the local runtime"
	@echo "make contract     tests/contract alone: the Moodle recordings replayed against the sandbox"
	@echo "make lint         ruff + mypy + sam validate --lint"
	@echo "make serve        every endpoint of the order API on http://127.0.0.1:8000 (local runtime)"
	@echo "make sandbox      the Moodle sandbox alone"
	@echo "make bench        the benchmark (figures in bench/latest.json)"
	@echo "make test-moodle  the workflow against the real Moodle peer (../shared/moodle-peer; skipped without one)"
	@echo "make bench-moodle 300 new learners on the Moodle peer: seatflow vs tool_uploaduser (bench/moodle-latest.json)"
	@echo "make build        sam build;  make deploy: sam deploy --guided (SAM CLI in .venv-sam)"
	@echo "make lock         re-pin requirements-dev.lock from requirements-dev.txt (LOCK_FLAGS=--upgrade)"

$(STAMP): pyproject.toml requirements-dev.lock layers/seatflow/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.lock -e .
	touch $(STAMP)

$(SAM_STAMP):
	rm -rf $(SAM_VENV)
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	touch $(SAM_STAMP)

lock: $(STAMP)
	$(BIN)/uv pip compile requirements-dev.txt --output-file requirements-dev.lock --python-version 3.11 \
		--custom-compile-command "make lock" $(LOCK_FLAGS)

run: $(STAMP)
	$(BIN)/seatflow run events/order_spocm1.json

test: $(STAMP)
	$(BIN)/python -m pytest

race: $(STAMP)
	@for i in $$(seq 1 20); do echo "race run $$i/20"; $(BIN)/python -m pytest -q -m race -p no:cacheprovider || exit 1; done

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration

workflow: $(STAMP)
	$(BIN)/python -m pytest tests/workflow

# Needs ../shared/moodle-ws beside the clone; skipped (with the reason in the summary) without it.
contract: $(STAMP)
	$(BIN)/python -m pytest tests/contract

# The peer's env is read from its kit when the shell has none (PEER_DIR defaults to ~/moodle-peer, as in the kit).
PEER_KIT ?= ../shared/moodle-peer
PEER_ENV = if [ -z "$$MOODLE_PG" ] && [ -f $(PEER_KIT)/env.sh ] \
	&& [ -f "$${PEER_DIR:-$$HOME/moodle-peer}/setup-output.json" ]; then eval "$$(bash $(PEER_KIT)/env.sh)"; fi

test-moodle: $(STAMP)
	@$(PEER_ENV); $(BIN)/python -m pytest tests/moodle -v

bench-moodle: $(STAMP)
	@$(PEER_ENV); $(BIN)/python -m seatflow_local.bench_moodle

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml

openapi: $(STAMP)
	$(BIN)/python -m seatflow_local.openapi > docs/openapi.json

serve: $(STAMP)
	$(BIN)/seatflow serve

sandbox: $(STAMP)
	$(BIN)/seatflow sandbox

doctor: $(STAMP)
	$(BIN)/seatflow doctor

bench: $(STAMP)
	$(BIN)/python -m seatflow_local.bench

validate: $(SAM_STAMP)
	$(SAM) validate --lint

build: validate
	$(SAM) build

deploy: build
	$(SAM) deploy --guided

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .seatflow
