# One entry point per job. Every target builds the virtual environment first, so each works on a fresh clone.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export RAY_AUTH_MODE ?= disabled

SHARED_DATA ?= $(or $(ASTERRL_SHARED_DATA),../shared/data)

.PHONY: setup train quickstart test lint bench clean chromium

$(BIN)/asterrl: pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: $(PY) not found (Python 3.11 is required)"; exit 1; }
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip check
	@touch $(BIN)/asterrl

setup: $(BIN)/asterrl

## The main job: train the default agent (RLlib PPO) on the default data (Aster BTCUSDT perp 1h). Where the
## shared dataset is beside the repository it is imported into the store first, so this works offline;
## elsewhere the data is fetched from Aster (Binance as the fallback) on first use.
train: setup
	@if [ -f "$(SHARED_DATA)/manifest.csv" ]; then $(BIN)/asterrl data import "$(SHARED_DATA)" >/dev/null; fi
	$(BIN)/asterrl train $(ARGS)

## Data only: load market data into the store and list it (the shared dataset if present, else a fetch).
quickstart: setup
	@if [ -f "$(SHARED_DATA)/manifest.csv" ]; then \
		$(BIN)/asterrl data import "$(SHARED_DATA)" $(ARGS); \
	else \
		$(BIN)/asterrl data fetch $(ARGS); \
	fi
	$(BIN)/asterrl data list

lint: setup
	$(BIN)/ruff check asterrl envs agents experiments conf hydra_plugins tests benchmarks
	$(BIN)/ruff format --check asterrl envs agents experiments conf hydra_plugins tests benchmarks
	$(BIN)/mypy

## The HTML-report test opens the page in Debian's Chromium (driven by Playwright, never a downloaded
## browser): installed here when missing and we are root; without it that one test is skipped.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1; } || \
		echo "note: chromium not installed; the HTML report browser test will be skipped"

## The whole test suite, slow tests included, after lint and type checks.
test: lint chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Every benchmark script, one after the other (figures in benchmarks/README.md).
bench: setup
	$(BIN)/python -m pip install --quiet -e '.[bench]'   # the backtester's peers (vectorbt, backtesting.py)
	for b in data features env training forecast backtest; do $(BIN)/python benchmarks/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
