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
.PHONY: help run test test-faults bench bench-floor wrk nginx install db migrate admin clean

help:
	@echo "make run          install, create + migrate the database, ensure the admin, start API, worker, beat, Flower"
	@echo "make test         install, then the test suite on real PostgreSQL/Redis (test DB built from migrations)"
	@echo "make test-faults  the slow fault-injection scenarios (pytest -m slow)"
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
# nginx: tests/deploy runs the compose deployment's front for real.
test: install nginx
	@echo "$(BIN)/pytest -m \"not slow\" $(PYTEST_ARGS)"
	@$(BIN)/pytest -m "not slow" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: FAILED, pytest collected no tests (exit 5)" >&2; fi; \
	exit $$rc

test-faults: install
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

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

# The compose deployment's front (deploy/nginx), for its tests: Debian's nginx and the module that
# drops the Server header, installed when missing. The tests start their own nginx on free loopback
# ports (where services may start, Debian also starts the package's own on port 80).
NGINX_PACKAGES := nginx libnginx-mod-http-headers-more-filter
nginx:
	@{ command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } && [ -e /usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so ] \
		|| $(SUDO) apt-get install -y -q --no-install-recommends $(NGINX_PACKAGES) >/dev/null \
		|| { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q --no-install-recommends $(NGINX_PACKAGES) >/dev/null; } \
		|| { echo "make: nginx is needed for tests/deploy; install it (apt-get install $(NGINX_PACKAGES))" >&2; exit 1; }

clean:
	rm -rf $(VENV) .pytest_cache
