# Two commands for a newcomer: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-test migrate demo check bench clean-data

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[portal]'
	touch $@

$(TEST_STAMP): pyproject.toml $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(STAMP)

install-test: $(TEST_STAMP)

migrate: install
	$(BIN)/audit-portal migrate

demo: migrate
	$(BIN)/audit-portal catalogue load
	$(BIN)/audit-portal demo --if-empty

run: demo
	@echo "audit-portal: open http://$(HOST):$(PORT)/ (data in ./var)"
	$(BIN)/audit-portal serve --host $(HOST) --port $(PORT)

check: install
	$(BIN)/audit-portal check

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean-data:
	rm -rf var
