# Two set-up commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOME_DIR ?= instance
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,bench]'

run: install
	@if [ ! -f $(HOME_DIR)/instance.json ]; then $(BIN)/drawsvc --home $(HOME_DIR) init --demo; fi
	$(BIN)/drawsvc --home $(HOME_DIR) serve --host $(HOST) --port $(PORT)

test: install-test
	$(BIN)/ruff check ledger drawsvc verifier web tests benchmarks
	$(BIN)/python -m pytest

lint: install-test
	$(BIN)/ruff check ledger drawsvc verifier web tests benchmarks

bench: install-test
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) $(HOME_DIR) .pytest_cache
