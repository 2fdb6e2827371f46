# Two commands for a newcomer: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
HOST ?= 127.0.0.1
PORT ?= 8000
TEST_WORKERS ?= 2
# The demo's collector instances read recorded inputs kept beside ./var (never inside it).
export AUDIT_PORTAL_COLLECTOR_PATH_ROOTS ?= $(CURDIR)/var-collector-inputs

.PHONY: run test lint install install-test migrate demo check bench clean-data lint-deploy messages

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

# The suite runs on two workers (pytest-xdist); each worker gets its own SQLite files and its
# own PostgreSQL schema. PYTEST_ARGS adds options, e.g. PYTEST_ARGS="-n 0 -k coverage". The 25
# slowest steps are listed at the end, so a slow new fixture shows in CI's log.
test: install-test lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --durations=25 $(PYTEST_ARGS)

# Lint, the import contracts (the layering in docs/architecture.md) and the type check.
lint: install-test
	$(BIN)/ruff check audit_portal collectors evidence_store tests bench
	$(BIN)/ruff format --check audit_portal collectors evidence_store tests bench
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy

# Translations (docs/i18n.md): extract every marked message from the templates and the code,
# then merge them into each language's catalogue; translate the new entries in the .po file.
LOCALE_DIR := audit_portal/locale
POT := $(VENV)/messages.pot
EXTRACT_KEYWORDS := --no-default-keywords -k _ -k gettext -k ngettext:1,2 -k N_
messages: install
	$(BIN)/pybabel extract -F babel.cfg $(EXTRACT_KEYWORDS) --sort-by-file --project audit-portal -o $(POT) .
	$(BIN)/pybabel update -i $(POT) -d $(LOCALE_DIR) -D messages -l nl --no-fuzzy-matching --ignore-obsolete

clean-data:
	rm -rf var var-collector-inputs

# Static checks of Dockerfile and Kubernetes manifests, in a venv of their own: checkov pins
# many libraries that must not constrain the portal's.
LINT_STAMP := .venv-lint/.installed

$(LINT_STAMP):
	$(PYTHON) -m venv .venv-lint
	.venv-lint/bin/python -m pip install --quiet 'checkov==3.3.30' 'kubernetes-validate==1.37.0'
	touch $@

lint-deploy: $(LINT_STAMP)
	bash deploy/lint.sh
