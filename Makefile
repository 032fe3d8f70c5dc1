# Quick start: `make demo` (main job, offline synthetic data) and `make test` (whole suite).
# Both create an isolated virtual env in .venv and install sleepedge with the pinned constraints.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN ?= runs/demo

.PHONY: venv demo test test-fast bench-train aarch64-check clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all]"
	touch $@

demo: venv
	$(BIN)/sleepedge pipeline --preset quick --dataset synthetic --out $(RUN)
	@echo "report: $(RUN)/report.md"

test: venv
	$(BIN)/pytest

test-fast: venv
	$(BIN)/pytest -m "not slow and not tensorflow"

# Printed figures, not tests: training throughput of the paper-size model, params and MACs.
bench-train: venv
	$(BIN)/python -m sleepedge.train.throughput --arch paper --threads 2

# Functional check of the bench on aarch64 under qemu (needs root + apt; downloads cached).
aarch64-check: venv
	PYTHON=$(abspath $(BIN))/python scripts/aarch64_check.sh

clean:
	rm -rf $(VENV) build *.egg-info
