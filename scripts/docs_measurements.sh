#!/usr/bin/env bash
# make docs-measurements: every measurement the docs quote, run now, each into docs/generated/NAME.md
# with its command, commit and machine (sleepedge.docs_figures capture). Needs a finished runs/demo
# (make demo) for the run-based ones. Takes about half an hour on 2 cores (the ablation is most of it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RUN=${RUN:-runs/demo}
cap() { "$PY" -m sleepedge.docs_figures capture "$@"; }
cap quant_report_compressed --markdown -- "$PY" -m sleepedge.export.quant_report --run "$RUN" --model compressed
cap quant_report_baseline --markdown -- "$PY" -m sleepedge.export.quant_report --run "$RUN" --model baseline
cap train_throughput -- "$PY" -m sleepedge.train.throughput --arch paper --threads 2
cap cost_paper -- "$PY" -m sleepedge.compress.cost --preset paper --threads 2 --repeats 2
cap ablation --markdown -- "$PY" -m sleepedge.compress.ablation --run "$RUN"
