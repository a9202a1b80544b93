# make demo: set up .venv and write the demo workbook (out/xl-segments-demo.xlsx).
# make test: set up .venv and run the whole test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench template clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/xl-segments demo --out out/xl-segments-demo.xlsx

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

template: $(STAMP)
	$(BIN)/python scripts/build_template.py

bench: $(STAMP)
	$(BIN)/python benchmarks/refresh.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
