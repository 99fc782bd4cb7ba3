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
.PHONY: help run check-ports test test-faults test-browser chromium bench bench-floor wrk nginx zbar install db migrate admin clean

help:
	@echo "make run          check the ports, install, create + migrate the database, ensure the admin, start the API, workers, beat, Flower"
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

# The ports first, before anything is installed or migrated: a busy port is one
# line (make's own "*** ... Stop."), not a traceback after a minute of setup.
# scripts/devstack.py then loads .env (python-dotenv, as config.py) and starts the
# Procfile with honcho. Ctrl-C reaches honcho and every process; the shell traps
# it so that honcho's exit by Ctrl-C (130) is a clean stop, not make's "Error 130".
run: check-ports
	@$(MAKE) --no-print-directory admin
	@trap true INT; $(BIN)/python scripts/devstack.py start -f Procfile; status=$$?; \
	if [ $$status -eq 130 ]; then exit 0; fi; exit $$status

check-ports:
	$(eval busy := $(shell $(PYTHON) scripts/devstack.py ports))
	$(if $(busy),$(error $(busy)))

# pytest exits 5 when it collected nothing; that is a failure, and said so.
# nginx: tests/deploy runs the compose deployment's front for real.
test: install nginx zbar
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

# The compose deployment's front (deploy/nginx), for its tests: Debian's nginx and the module that
# drops the Server header, installed when missing. The tests start their own nginx on free loopback
# ports (where services may start, Debian also starts the package's own on port 80).
NGINX_PACKAGES := nginx libnginx-mod-http-headers-more-filter
nginx:
	@{ command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; } && [ -e /usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so ] \
		|| $(SUDO) apt-get install -y -q --no-install-recommends $(NGINX_PACKAGES) >/dev/null \
		|| { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q --no-install-recommends $(NGINX_PACKAGES) >/dev/null; } \
		|| { echo "make: nginx is needed for tests/deploy; install it (apt-get install $(NGINX_PACKAGES))" >&2; exit 1; }

# The QR decoder the ticket tests read codes back with: Debian's zbar library (pyzbar loads it), when missing.
zbar:
	@ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0' || $(SUDO) apt-get install -y -q --no-install-recommends libzbar0 >/dev/null \
		|| { $(SUDO) apt-get update -q >/dev/null && $(SUDO) apt-get install -y -q --no-install-recommends libzbar0 >/dev/null; } \
		|| { echo "make: libzbar0 is needed for tests/tickets; install it (apt-get install libzbar0)" >&2; exit 1; }

clean:
	rm -rf $(VENV) .pytest_cache
