#!/usr/bin/env bash
# make docs-measurements: every measurement the docs quote, run now, each into docs/generated/NAME.md
# with its command, commit and machine (sleepedge.lab.docs_figures capture). Needs a finished $RUN (make demo)
# for the run-based ones. `scripts/docs_measurements.sh NAME...` runs only those (names below).
# All of them take about an hour on 2 cores; the timed ones should run on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
RUN=${RUN:-runs/demo}
SCRATCH=${SCRATCH:-runs/measurements}
AARCH64_CACHE="${SLEEPEDGE_AARCH64_CACHE:-$HOME/.cache/sleepedge-aarch64}"
cap() { "$PY" -m sleepedge.lab.docs_figures capture "$@"; }
abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }  # not realpath: keep the venv's symlink

quant_reports() {
  cap quant_report_compressed --markdown -- "$PY" -m sleepedge.lab.quant_report --run "$RUN" --model compressed
  cap quant_report_baseline --markdown -- "$PY" -m sleepedge.lab.quant_report --run "$RUN" --model baseline
}
train_throughput() { cap train_throughput -- "$PY" -m sleepedge.lab.throughput --arch paper --threads 2; }
cost_paper() { cap cost_paper -- "$PY" -m sleepedge.lab.cost --preset paper --threads 2 --repeats 2; }
ablation() { cap ablation --markdown -- "$PY" -m sleepedge.lab.ablation --run "$RUN"; }
# Issue 11: DeepSleepNet as the yardstick, the streaming pair, the converters, predict's wall time.
lstm_quantiser() { cap lstm_quantiser --markdown -- "$PY" -m sleepedge.lab.lstm_quantiser --run "$RUN"; }
yardstick() { cap yardstick --markdown -- "$PY" -m sleepedge.lab.yardstick "$RUN"; }
converters() {
  local emu=()
  [ -d "$AARCH64_CACHE/rootfs-bookworm-arm64" ] && emu=(--aarch64 "$AARCH64_CACHE/rootfs-bookworm-arm64:$AARCH64_CACHE/site-packages")
  cap converters --markdown -- "$PY" -m sleepedge.lab.converters --arch quick:0.6:16 "${emu[@]}" \
    --out "$SCRATCH/converters"
}
predict_walltime() {
  mkdir -p "$SCRATCH"
  local m="$RUN/export/compressed/stream_tflite_int8"
  cap predict_walltime -- env PYTHON="$(abspath "$PY")" scripts/aarch64_predict.sh --model "$m/features.tflite" \
    --model "$m/head.tflite" --hours 8 --repeat 1 --work "$SCRATCH/predict"
}
# Issue 12: Ray against the in-process executor, k-fold, the paper grid's fan-out bound.
ray_speedup() {
  cap ray_speedup_tiny -- "$PY" -m sleepedge.lab.speedup --preset tiny --dataset synthetic --ray-cpus 2 \
    --cpus-per-task 1 --out "$SCRATCH/speedup-tiny"
  cap ray_speedup_quick -- "$PY" -m sleepedge.lab.speedup --preset quick --dataset synthetic --ray-cpus 2 \
    --cpus-per-task 1 --train-dir "$RUN/train" --out "$SCRATCH/speedup-quick"
  cap ray_bound_quick -- "$PY" -m sleepedge.lab.speedup --preset quick --bound-only
  cap ray_bound_paper -- "$PY" -m sleepedge.lab.speedup --preset paper --bound-only
}
kfold_quick() {  # three folds of the quick preset, the recipe comparison left out (it is in the demo)
  rm -rf "$SCRATCH/kfold-quick"
  cap kfold_quick --markdown -- sh -c "'$(dirname "$PY")/sleepedge' pipeline --preset quick --dataset synthetic --folds 3 \
    --set compress.compare_recipes= --out '$SCRATCH/kfold-quick' >/dev/null 2>&1; cat '$SCRATCH/kfold-quick/kfold.md'"
}
kfold_tiny() {
  rm -rf "$SCRATCH/kfold-tiny"
  cap kfold_tiny --markdown -- sh -c "'$(dirname "$PY")/sleepedge' pipeline --preset tiny --dataset synthetic --folds 3 \
    --out '$SCRATCH/kfold-tiny' >/dev/null 2>&1; cat '$SCRATCH/kfold-tiny/kfold.md'"
}
# Issue 20: the pull-request comment of `sleepedge check --against`, on the run against itself.
check_comment() { cap check_comment --markdown -- "$PY" -m sleepedge.lab.check_comment --run "$RUN"; }

# Issue 21: int8 vs int16 state of the causal head's one-step model, over whole test nights.
state_quant() { cap state_quant --markdown -- "$PY" -m sleepedge.lab.state_quant "$RUN"; }

ALL=(quant_reports lstm_quantiser state_quant train_throughput cost_paper yardstick predict_walltime converters ray_speedup kfold_tiny kfold_quick ablation check_comment)
for name in "${@:-${ALL[@]}}"; do
  echo "== $name" >&2
  "$name"
done
