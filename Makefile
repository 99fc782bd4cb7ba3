# Evently: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export FLASK_APP := wsgi

.PHONY: run test test-faults bench install migrate admin services clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# Create the database if it does not exist yet, then apply every migration.
migrate: install
	$(BIN)/python -m evently.dbsetup
	$(BIN)/flask db upgrade

admin: migrate
	$(BIN)/flask ensure-admin

run: admin
	@echo "API      http://127.0.0.1:$${PORT:-5000}/api   (docs: /api/docs)"
	@echo "Flower   http://127.0.0.1:5555"
	$(BIN)/honcho start -f Procfile

test: install
	$(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

test-faults: install
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench.flash_sale

clean:
	rm -rf $(VENV) .pytest_cache
