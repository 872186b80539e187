# One command for the main job, one for the tests; both bootstrap .venv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
ARGS   ?=

.PHONY: run test lint pytest bench soak fmt clean help hftbacktest-venv

help:
	@echo "make run    - run the main job (see README)"
	@echo "make test   - lint (ruff, mypy) and run the whole test suite"
	@echo "make bench  - run the benchmark suite (thalex-mm bench)"
	@echo "make soak   - 10 minutes of seeded faults against the engine (docs/reliability.md)"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (found %s)" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/thalex-mm run --duration 60 $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(ARGS)

test: lint pytest

bench: $(STAMP)
	$(BIN)/thalex-mm bench $(ARGS)

soak: $(STAMP)
	$(BIN)/python -m thalex_mm.bench.soak $(ARGS)

fmt: $(STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

clean:
	rm -rf $(VENV) $(HBT_VENV) .mypy_cache .pytest_cache .ruff_cache

# hftbacktest, the peer the backtester is checked against, in a venv of its own (it needs
# numpy < 2.3); tests/backtest/test_vs_hftbacktest.py uses it when present.
HBT_VENV := .venv-hftbacktest
HBT_STAMP := $(HBT_VENV)/.installed-stamp

$(HBT_STAMP):
	$(PYTHON) -m venv $(HBT_VENV)
	$(HBT_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "hftbacktest==2.4.4" "numpy>=2.0,<2.3"
	@touch $(HBT_STAMP)

hftbacktest-venv: $(HBT_STAMP)
