# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run chat test install lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/creditbot db upgrade
	CREDITBOT_REPORT_DELAY=$${CREDITBOT_REPORT_DELAY:-120} $(BIN)/creditbot serve

chat: install
	CREDITBOT_REPORT_DELAY=$${CREDITBOT_REPORT_DELAY:-120} $(BIN)/creditbot chat

test: install
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var
