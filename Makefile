# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8080
TEST_WORKERS ?= 2

.PHONY: run test test-fast install test-deps lint bench faults clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

install: $(STAMP)

run: install
	@$(BIN)/gridintake setup
	@echo
	@echo "gridintake is starting on http://$(HOST):$(PORT)/ with its outbox worker (Ctrl-C stops both)."
	@echo "Open http://$(HOST):$(PORT)/ for the admin and operator pages. In another terminal try:"
	@echo "  $(BIN)/gridintake report --text '淇滨大道与九州路交叉口的井盖坏了'"
	@echo "  $(BIN)/gridintake chat          # report as a resident, line by line"
	@echo "  $(BIN)/gridintake classify '路灯不亮了'   |  $(BIN)/gridintake geocode '华夏南路与淇滨大道路口'"
	@echo "  curl http://$(HOST):$(PORT)/healthz"
	@echo
	$(BIN)/gridintake serve --host $(HOST) --port $(PORT)

# Test-only outside dependencies: the Telegram Bot API emulator (npm) and headless Chromium (Debian).
test-deps:
	@if command -v npm >/dev/null 2>&1 && [ -f tests/tgemu/package.json ]; then \
	  [ -d tests/tgemu/node_modules ] || npm ci --silent --no-audit --no-fund --prefix tests/tgemu; \
	else echo "npm not found: the Telegram emulator tests will be skipped"; fi
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null) \
	      || echo "could not install chromium: browser tests will be skipped"; \
	  else echo "chromium not found: browser tests will be skipped"; fi; }

# A skip for a missing dependency fails here (GRIDINTAKE_REQUIRE_TEST_DEPS): a green run is complete.
test: install test-deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	GRIDINTAKE_REQUIRE_TEST_DEPS=1 $(BIN)/python -m pytest -q -n $(TEST_WORKERS)

# Everything but the subprocess, kill and browser tests (marked slow), for the edit-test loop.
test-fast: install
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Real processes on a private PostgreSQL cluster under faults (kill -9, database restart,
# platform outage): one table. OUTAGE is how long the platform answers 500 (seconds).
OUTAGE ?= 600
faults: install
	$(BIN)/python bench/faults.py --outage $(OUTAGE)

clean:
	rm -rf $(VENV) var .pytest_cache
