# seatflow: `make run` runs the main job on embedded defaults, `make test` runs the tests.
# Each target sets up its own virtualenv from a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help run test test-moodle bench-moodle lint typecheck validate build deploy serve sandbox doctor bench openapi clean

help:
	@echo "make run       run the sample order end to end on embedded defaults (moto + Moodle sandbox)"
	@echo "make test      run the test suite"
	@echo "make test-moodle  the workflow against the real Moodle peer (../shared/moodle-peer; skipped without one)"
	@echo "make lint      ruff + mypy + sam validate --lint"
	@echo "make serve     the order endpoint on http://127.0.0.1:8000 (local runtime)"
	@echo "make sandbox   the Moodle sandbox alone"
	@echo "make bench     the benchmark (figures in bench/latest.json)"
	@echo "make bench-moodle  300 new learners on the Moodle peer: seatflow vs tool_uploaduser (bench/moodle-latest.json)"
	@echo "make build     sam build;  make deploy: sam deploy --guided"

$(STAMP): pyproject.toml requirements-dev.txt layers/seatflow/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/seatflow run events/order_spocm1.json

test: $(STAMP)
	$(BIN)/python -m pytest

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

validate: $(STAMP)
	$(BIN)/python -m pip install --quiet aws-sam-cli
	$(BIN)/sam validate --lint

build: validate
	$(BIN)/sam build

deploy: build
	$(BIN)/sam deploy --guided

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .seatflow
