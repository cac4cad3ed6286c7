# The README's two commands: `make demo` and `make test`. Both set up everything first.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.wirelessml-installed

.PHONY: setup demo test lint

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh $(VENV)
	touch $(STAMP)

setup: $(STAMP)

## The main job on a small default: simulate OFDM data (TDL-A), train AdaFortiTran (cpu size)
## for a few minutes on CPU, and evaluate it against LS and LMMSE on a test grid.
DEMO := demo
demo: $(STAMP)
	$(BIN)/wirelessml simulate ofdm -n 20000 -o $(DEMO)/train.h5 --seed 1 --overwrite
	$(BIN)/wirelessml simulate ofdm -n 1000 -o $(DEMO)/val.h5 --seed 2 --overwrite
	$(BIN)/wirelessml simulate ofdm -n 540 -o $(DEMO)/test.h5 --seed 3 --set mode=grid --overwrite
	rm -rf $(DEMO)/run
	$(BIN)/wirelessml train channel-estimation -m adafortitran --train $(DEMO)/train.h5 \
		--val $(DEMO)/val.h5 -o $(DEMO)/run --epochs 1 --max-time 6m
	$(BIN)/wirelessml evaluate $(DEMO)/run --data $(DEMO)/test.h5

## The test suite (what CI runs).
test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
