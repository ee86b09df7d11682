# One entry point per job. Every target builds the virtual environment first, so each works on a fresh clone.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export RAY_AUTH_MODE ?= disabled

SHARED_DATA ?= $(or $(ASTERRL_SHARED_DATA),../shared/data)

.PHONY: setup quickstart test lint bench-data clean

$(BIN)/asterrl: pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: $(PY) not found (Python 3.11 is required)"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip check
	@touch $(BIN)/asterrl

setup: $(BIN)/asterrl

## The main job (until training lands): load market data into the store and show what is there.
## Imports the shared dataset when it is present, otherwise fetches the default series (Aster BTCUSDT 1h).
quickstart: setup
	@if [ -f "$(SHARED_DATA)/manifest.csv" ]; then \
		$(BIN)/asterrl data import "$(SHARED_DATA)" $(ARGS); \
	else \
		$(BIN)/asterrl data fetch $(ARGS); \
	fi
	$(BIN)/asterrl data list

lint: setup
	$(BIN)/ruff check asterrl envs agents experiments conf tests benchmarks
	$(BIN)/ruff format --check asterrl envs agents experiments conf tests benchmarks
	$(BIN)/mypy

## The whole test suite, slow tests included, after lint and type checks.
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench-data: setup
	$(BIN)/python benchmarks/data.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
