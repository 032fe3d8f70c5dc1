#!/usr/bin/env bash
# The paper preset at full size on the device machine (one H200), inside a time budget.
#
#   bash scripts/h200_paper_scale.sh [MAX_MINUTES [driver options]]   # default 5.5: no fine-tune starts after it
#   bash scripts/h200_paper_scale.sh 3 --preset tiny                    # the same script on a CPU, in a minute
#
# Needs there: python3 with torch (CUDA), numpy, scipy, matplotlib, tqdm, setuptools (the device image has
# them); no network. Ray is optional: when .whl/ holds the wheels of scripts/fetch_ray_wheels.sh (carried),
# they are installed into /tmp/site and the stage-2 chains run as Ray tasks sharing the GPU; without them
# the grid runs in-process. Figures go to $OUT (the device tool's folder) or /tmp/paper-scale-figures.
set -uo pipefail
cd "$(dirname "$0")/.."
FIG="${OUT:-/tmp/paper-scale-figures}"
mkdir -p "$FIG"
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg CUBLAS_WORKSPACE_CONFIG=:4096:8 RAY_AUTH_MODE=disabled
start=$(date +%s)
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH} || echo "ray wheels did not install: running in-process"
fi
if ! python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . ; then
  # An old setuptools there cannot read pyproject's license field: import the source through a folder that
  # mirrors the install's package-dir mapping (sleepedge.train = train/, ...).
  echo "editable install failed: importing sleepedge from /tmp/shim"
  rm -rf /tmp/shim && mkdir -p /tmp/shim && cp -r sleepedge /tmp/shim/
  for d in models train compress export firmware_bench; do ln -s "$PWD/$d" "/tmp/shim/sleepedge/$d"; done
  export PYTHONPATH=/tmp/shim${PYTHONPATH:+:$PYTHONPATH}
fi
python3 -c "import sleepedge.train.stage" || { echo "sleepedge does not import"; exit 3; }
echo "installs: $(( $(date +%s) - start )) s"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
# A hard stop 1 min after the budget: SIGINT, on which the driver still writes what it measured.
limit=$(python3 -c "print(int(float('${1:-5.5}') * 60 + 60))")
timeout -s INT -k 30 "$limit" python3 -m sleepedge.lab.paper_scale --out /tmp/paper-scale-run --figures "$FIG" \
  --max-minutes "${1:-5.5}" "${@:2}" 2>&1 | tee "$FIG/log.txt"
rc=${PIPESTATUS[0]}
echo "script wall: $(( $(date +%s) - start )) s, exit $rc"
exit "$rc"
