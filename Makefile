# Two set-up commands for a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOME_DIR ?= instance
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2

.PHONY: run test test-dates install install-test lint bench clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,bench]'

run: install
	@if [ ! -f $(HOME_DIR)/instance.json ]; then $(BIN)/drawsvc --home $(HOME_DIR) init --demo; fi
	$(BIN)/drawsvc --home $(HOME_DIR) serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: install-test
	$(BIN)/ruff check ledger drawsvc verifier web tests benchmarks
	$(BIN)/python -m pytest

# The date-sensitive suites under Debian's faketime at a year end, the first working day of a year
# chinese-calendar does not know, and a leap day; the tests' pinned clock follows the faked one.
# Browser tests and tests marked `timeless` (multi-process serving, fuzzing) run in `make test` only.
DATE_SUITES ?= tests/inspections tests/draws tests/web
FAKE_DATES := "2026-12-31 23:58:00" "2027-01-04 09:30:00" "2028-02-29 10:00:00"
test-dates: install-test
	@command -v faketime >/dev/null || { echo "faketime is missing: apt-get install -y faketime"; exit 2; }
	@set -e; for d in $(FAKE_DATES); do \
	  echo "== tests under faketime $$d"; \
	  SPOTCHECK_TEST_NOW=wall faketime "$$d" $(BIN)/python -m pytest -q -p no:cacheprovider -m "not browser and not timeless" $(DATE_SUITES); \
	done

lint: install-test
	$(BIN)/ruff check ledger drawsvc verifier web tests benchmarks

bench: install-test
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) $(HOME_DIR) .pytest_cache

# The one message catalogue: add the msgids the Python code, the templates and the page scripts
# (web/static/js, Babel's JavaScript extractor) use but messages.po lacks, with an empty English to
# fill (tests/web/test_web_i18n.py fails until it is filled), then compile
# web/translations/*/LC_MESSAGES/messages.po to the committed .mo (the test fails when they differ).
# Convert leftover t("中文", "English") pairs first with: $(BIN)/python scripts/i18n_convert.py FILE...
# (page scripts: $(BIN)/python scripts/i18n_convert_js.py FILE.js...)
messages:
	$(BIN)/python scripts/i18n_convert.py --sync
	$(BIN)/pybabel compile -d web/translations -D messages
