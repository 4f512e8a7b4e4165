# The two commands the README opens with: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[embed]"
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,embed]"
	touch $@

run: $(VENV)/.run-installed  ## install and serve on 127.0.0.1:3100 with ./lakehouse-data
	$(BIN)/lakehouse serve

test: $(VENV)/.dev-installed  ## install dev dependencies and run every gate
	PATH="$(abspath $(BIN)):$$PATH" scripts/check

soak: $(VENV)/.dev-installed  ## the long loops: schemathesis with many examples per operation
	LAKEHOUSE_FUZZ_EXAMPLES=200 $(BIN)/python -m pytest -q -p no:cacheprovider tests/server/test_schemathesis.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
