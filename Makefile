# Quick start: `make demo` (main job, offline synthetic data) and `make test` (whole suite).
# Both create an isolated virtual env in .venv and install sleepedge with the pinned constraints.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN ?= runs/demo

.PHONY: venv demo test test-fast bench-train aarch64-check docs-figures docs-measurements yardstick converters aarch64-predict clean

venv: $(VENV)/.installed

# The install's wall time is kept in $(VENV)/install_seconds for the demo's timing record.
$(VENV)/.installed: pyproject.toml constraints.txt
	@t0=$$(date +%s); \
	$(PYTHON) -m venv $(VENV) && \
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23.2" && \
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[all]" && \
	echo $$(( $$(date +%s) - t0 )) > $(VENV)/install_seconds && touch $@

# The pipeline's wall time (and the install's) go to $(RUN)/make_demo.json; make docs-figures renders them.
demo: venv
	@t0=$$(date +%s); $(BIN)/sleepedge pipeline --preset quick --dataset synthetic --out $(RUN); rc=$$?; \
	$(BIN)/python -m sleepedge.lab.docs_figures timing --run $(RUN) --install-seconds-file $(VENV)/install_seconds \
	  --pipeline-seconds $$(( $$(date +%s) - t0 )) > /dev/null; \
	echo "report: $(RUN)/report.md"; exit $$rc

# README's demo table and docs/generated/demo.md from $(RUN) (refuses a run of other code or a dirty tree).
docs-figures: venv
	$(BIN)/python -m sleepedge.lab.docs_figures render --run $(RUN)

# The measurements the docs quote beyond the demo (int8 reports, ablation, cost, throughput), each into
# docs/generated/NAME.md with its command and commit; about half an hour on 2 cores.
docs-measurements: venv
	PY=$(abspath $(BIN))/python RUN=$(RUN) scripts/docs_measurements.sh

# Every tier (fast, integration, slow; not the aarch64 emulation), with the 15 slowest tests.
test: venv
	$(BIN)/pytest --durations=15

# The fast tier only: no run built, no TensorFlow (under a minute on 2 cores).
test-fast: venv
	$(BIN)/pytest -m fast

# Printed figures, not tests: training throughput of the paper-size model, params and MACs.
bench-train: venv
	$(BIN)/python -m sleepedge.lab.throughput --arch paper --threads 2

# Functional check of the bench on aarch64 under qemu (needs root + apt; downloads cached). Not part of
# `make test`: the same check as a test is `pytest -m emulation` (tests/bench/test_aarch64.py).
aarch64-check: venv
	PYTHON=$(abspath $(BIN))/python scripts/aarch64_check.sh

# Deployment figures (docs/streaming.md, docs/converters.md, docs/predict.md), each from a finished $(RUN).
yardstick: venv
	$(BIN)/python -m sleepedge.lab.yardstick $(RUN)

# onnx2tf vs the tf_keras build on the same models (~15 min on 2 cores; add --aarch64 ROOTFS:SITE for emulated timings).
converters: venv
	$(BIN)/python -m sleepedge.lab.converters --arch quick --arch quick:0.6:32 --out runs/converters

# predict wall time for one 8-hour synthetic night, x86 and aarch64 under qemu (needs root + apt the first time).
aarch64-predict: venv
	PYTHON=$(abspath $(BIN))/python scripts/aarch64_predict.sh \
	  --model $(RUN)/export/compressed/stream_tflite_int8/features.tflite --model $(RUN)/export/compressed/stream_tflite_int8/head.tflite

clean:
	rm -rf $(VENV) build *.egg-info
