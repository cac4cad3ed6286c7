# The README's two commands: `make demo` and `make test`. Both set up everything first.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.wirelessml-installed

.PHONY: setup demo test lint

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh $(VENV)
	touch $(STAMP)

setup: $(STAMP)

## The main job on a small default: simulate an OFDM dataset and describe it.
demo: $(STAMP)
	$(BIN)/wirelessml simulate ofdm --num-samples 2000 --out demo/ofdm.h5 --overwrite
	$(BIN)/wirelessml info demo/ofdm.h5

## The test suite (what CI runs).
test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
