# The two commands of a fresh machine:
#   make demo   - create .venv, install, run the demo on the embedded defaults
#   make test   - install what the tests need (Python and Debian packages), lint, run the suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint venv system-deps services schema messages

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/.installed

system-deps:
	bash scripts/install-system-deps.sh

demo: venv
	$(BIN)/gridpatrol demo

lint: venv
	$(BIN)/ruff check .

services:
	bash scripts/start-services.sh

test: system-deps services venv lint
	$(BIN)/python -m pytest

schema: venv
	$(BIN)/python -m contract.schema

# Every message people read, extracted with Babel and merged into i18n/locale/*/gridpatrol.po;
# then translate the new zh-CN entries (tests/test_i18n.py fails on one left empty)
messages: venv
	$(BIN)/python -m i18n.extract
