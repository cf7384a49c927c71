# flatstart: the two commands a fresh machine needs are `make verify` and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch must come first and pinned: the CPU wheel on local disk (an unpinned torch pulls a CUDA build).
TORCH ?= torch==2.13.0

.PHONY: venv verify test test-all lint bench mutation clean

$(BIN)/flatstart: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test,distributed]'
	touch $@

venv: $(BIN)/flatstart

verify: venv  ## the quick report: every claim at the quick budget -> flatstart-report/
	$(BIN)/flatstart verify --budget quick --out flatstart-report

PYTEST_ARGS := -q -n 2 -p no:cacheprovider --doctest-modules tests flatstart

test: venv  ## the default suite: every claim at a small budget, doctests, lint, layer contracts
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: venv  ## everything, the slow statistical sweeps included
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check flatstart theory montecarlo validation tests benchmarks
	$(BIN)/mypy

bench: venv
	$(BIN)/python -m benchmarks.run

mutation: venv  ## plant faults in theory/, count how many the catalogue refutes (standard budget)
	$(BIN)/python -m benchmarks.mutation --budget standard

clean:
	rm -rf $(VENV) flatstart-report .flatstart-cache *.egg-info
