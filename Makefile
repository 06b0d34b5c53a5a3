# The two commands of the README: `make demo` and `make test`.
# Each sets up .venv on a fresh machine first (torch's CPU wheel before anything that needs torch).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: demo test serve stubs clean

$(BIN)/samestory: pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e clients/python -e '.[test]'
	touch $@

demo: $(BIN)/samestory
	$(BIN)/samestory demo

test: $(BIN)/samestory
	$(BIN)/python -m pytest

serve: $(BIN)/samestory
	$(BIN)/samestory serve

stubs: $(BIN)/samestory
	$(BIN)/python clients/python/scripts/generate_stubs.py

clean:
	rm -rf $(VENV)
