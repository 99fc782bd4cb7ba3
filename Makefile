# Evently. The two commands a newcomer needs are `make run` and `make test`
# (README.md); everything else here is a step they run or a convenience.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
BENCH_ARGS ?=
export FLASK_APP := wsgi

.DEFAULT_GOAL := help
.PHONY: help run test test-faults test-browser chromium bench bench-floor wrk install db migrate admin clean

help:
	@echo "make run          install, create + migrate the database, ensure the admin, start API, worker, beat, Flower"
	@echo "make test         install, then the test suite on real PostgreSQL/Redis (test DB built from migrations)"
	@echo "make test-faults  the slow fault-injection scenarios (pytest -m slow)"
	@echo "make test-browser Swagger UI rendered offline in headless Chromium (installs chromium if missing)"
	@echo "make bench        the flash-sale benchmark"
	@echo "make bench-floor  the machine's floor: one Lua call + one INSERT through Flask"
	@echo "make clean        remove the virtualenv"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-installs only when a requirements file changed since the last install.
$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

db: install
	$(BIN)/python -m evently.dbsetup

migrate: db
	$(BIN)/flask db upgrade

admin: migrate
	$(BIN)/flask ensure-admin

# honcho reads .env too, and gives the first process (the API) $PORT.
run: admin
	@$(BIN)/python -c 'import os, config; port = os.environ.get("PORT", "5000"); \
	print("\nEvently is starting (Ctrl-C stops every process):"); \
	print(f"  API        http://127.0.0.1:{port}/api"); \
	print(f"  Swagger UI http://127.0.0.1:{port}/api/docs   OpenAPI http://127.0.0.1:{port}/api/openapi.json"); \
	print(f"  Health     http://127.0.0.1:{port}/healthz    http://127.0.0.1:{port}/readyz"); \
	print("  Flower     http://127.0.0.1:5555  (local only, no auth)"); \
	print(f"  Admin      {config.Config.EVENTLY_ADMIN_EMAIL}\n")'
	$(BIN)/honcho start -f Procfile

# pytest exits 5 when it collected nothing; that is a failure, and said so.
test: install
	@echo "$(BIN)/pytest -m \"not slow and not browser\" $(PYTEST_ARGS)"
	@$(BIN)/pytest -m "not slow and not browser" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: FAILED, pytest collected no tests (exit 5)" >&2; fi; \
	exit $$rc

test-faults: install
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

# Swagger UI in a real browser with no network: Debian's Chromium, driven by
# playwright (pinned in requirements-browser.txt, installed only for this target).
BROWSER_STAMP := $(VENV)/.browser-installed
$(BROWSER_STAMP): $(STAMP) requirements-browser.txt
	$(BIN)/python -m pip install --quiet -r requirements-browser.txt
	touch $(BROWSER_STAMP)

test-browser: $(BROWSER_STAMP) chromium
	$(BIN)/pytest -m browser tests/browser $(PYTEST_ARGS)

bench: install wrk
	$(BIN)/python -m bench.flash_sale $(BENCH_ARGS)

bench-floor: install wrk
	$(BIN)/python -m bench.floor $(BENCH_ARGS)

# The benchmarks' load tool is wrk (a C program, not on PyPI): Debian's package, installed when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
wrk:
	@command -v wrk >/dev/null || $(SUDO) apt-get install -y -q wrk >/dev/null \
		|| { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q wrk >/dev/null; } \
		|| { echo "make: wrk is needed for the benchmark; install it (apt-get install wrk, brew install wrk)" >&2; exit 1; }

chromium:
	@command -v chromium >/dev/null || $(SUDO) apt-get install -y -q chromium >/dev/null \
		|| { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q chromium >/dev/null; } \
		|| { echo "make: chromium is needed for the browser check; install it (apt-get install chromium)" >&2; exit 1; }

clean:
	rm -rf $(VENV) .pytest_cache
