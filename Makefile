# The two commands of the README: `make demo` and `make test`.
# Each sets up .venv on a fresh machine first (torch's CPU wheel before anything that needs torch).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

.PHONY: demo test serve stubs clean system-deps

$(BIN)/samestory: pyproject.toml clients/python/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e clients/python -e '.[test,shared]'
	touch $@

demo: $(BIN)/samestory
	$(BIN)/samestory demo

# From Debian: docker-compose (the deployment tests check docker/compose.yaml with it; no engine
# needed), and PostgreSQL and Redis (the shared-backend tests start throwaway servers of their own).
system-deps:
	@command -v docker-compose >/dev/null && command -v redis-server >/dev/null \
	  && ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq docker-compose postgresql redis-server >/dev/null; }

test: $(BIN)/samestory system-deps
	$(BIN)/ruff check service clients tests bench
	$(BIN)/ruff format --check service clients tests bench
	$(BIN)/python -m pytest

serve: $(BIN)/samestory
	$(BIN)/samestory serve

stubs: $(BIN)/samestory
	$(BIN)/python clients/python/scripts/generate_stubs.py

clean:
	rm -rf $(VENV)
