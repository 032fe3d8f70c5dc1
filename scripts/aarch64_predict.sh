#!/usr/bin/env bash
# Wall time of `sleepedge predict` for one night on x86 and under aarch64 emulation (docs/predict.md).
#
#   scripts/aarch64_predict.sh --model M [--model M2] [--hours 8] [--work DIR] [--repeat 3]
#
# 1. Prepares the arm64 Debian root and the bench wheels with scripts/aarch64_check.sh --setup-only (needs
#    root + apt the first time; cached under $SLEEPEDGE_AARCH64_CACHE, default ~/.cache/sleepedge-aarch64).
# 2. Adds the aarch64 wheels `sleepedge[predict]` needs on top (MNE, scipy, edfio, matplotlib and their
#    pure-python dependencies), pinned to constraints.txt, in $CACHE/site-predict.
# 3. Writes one synthetic night as EDF on x86 (python -m sleepedge.lab.predict_walltime --make-edf), then times
#    `predict` on it natively and under qemu-aarch64-static, printing one JSON line each.
# Emulated figures are 30-170x slower than a board: they show that predict runs on aarch64 with
# sleepedge[predict] only (no torch, no TensorFlow), not how fast a Raspberry Pi is.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${SLEEPEDGE_AARCH64_CACHE:-$HOME/.cache/sleepedge-aarch64}"
HOST_PY="${PYTHON:-python3}"
ROOTFS="$CACHE/rootfs-bookworm-arm64"
SITE="$CACHE/site-packages"
SITE_PREDICT="$CACHE/site-predict"
PLATFORMS=(manylinux_2_17_aarch64 manylinux2014_aarch64 manylinux_2_27_aarch64 manylinux_2_28_aarch64)
MODELS=() HOURS=8 WORK="" REPEAT=3

log() { printf '[aarch64-predict %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODELS+=(--model "$(realpath "$2")"); shift 2 ;;
    --hours) HOURS="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --repeat) REPEAT="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) log "unknown argument $1"; exit 2 ;;
  esac
done
[ ${#MODELS[@]} -gt 0 ] || { log "--model is required"; exit 2; }

pin() { grep -i "^$1==" "$REPO/constraints.txt" | head -1; }

ensure_predict_site() {
  if [ -f "$SITE_PREDICT/.complete" ]; then log "predict wheels cached at $SITE_PREDICT"; return; fi
  local pkgs=() p platform_args=()
  for p in mne scipy edfio matplotlib contourpy kiwisolver pillow fonttools cycler pyparsing python-dateutil six \
           packaging pooch tqdm Jinja2 MarkupSafe lazy-loader decorator platformdirs requests idna certifi \
           charset-normalizer urllib3 typing_extensions; do pkgs+=("$(pin "$p")"); done
  for p in "${PLATFORMS[@]}"; do platform_args+=(--platform "$p"); done
  log "pip download aarch64 wheels for predict: ${pkgs[*]}"
  "$HOST_PY" -m pip download -q --dest "$CACHE/wheels-predict" --no-deps --only-binary=:all: --python-version 3.11 \
    --implementation cp "${platform_args[@]}" "${pkgs[@]}"
  rm -rf "$SITE_PREDICT"
  "$HOST_PY" -m pip install -q --no-deps --target "$SITE_PREDICT" --only-binary=:all: --python-version 3.11 \
    --implementation cp "${platform_args[@]}" "$CACHE"/wheels-predict/*.whl
  touch "$SITE_PREDICT/.complete"
}

main() {
  SLEEPEDGE_AARCH64_CACHE="$CACHE" PYTHON="$HOST_PY" "$REPO/scripts/aarch64_check.sh" --setup-only
  ensure_predict_site
  [ -n "$WORK" ] || WORK="$(mktemp -d /tmp/sleepedge-aarch64-predict.XXXXXX)"
  mkdir -p "$WORK"
  WORK="$(realpath "$WORK")"  # the emulated run works from $WORK: every path handed to it is absolute
  local edf="$WORK/night.edf"
  [ -f "$edf" ] || "$HOST_PY" -m sleepedge.lab.predict_walltime --make-edf "$edf" --hours "$HOURS" >/dev/null
  log "x86: predict on $edf"
  "$HOST_PY" -m sleepedge.lab.predict_walltime --edf "$edf" "${MODELS[@]}" --repeat "$REPEAT" | tee "$WORK/x86.json"
  "$HOST_PY" "$REPO/sleepedge/lab/package_copy.py" "$WORK/sleepedge-py" --repo "$REPO" >/dev/null
  log "aarch64 (qemu): predict on $edf"
  cd "$WORK"
  env -u PYTHONHOME PYTHONPATH="$WORK/sleepedge-py:$SITE:$SITE_PREDICT" SLEEPEDGE_EMULATED=1 PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR="$WORK/mpl" qemu-aarch64-static -L "$ROOTFS" "$ROOTFS/usr/bin/python3.11" \
    -m sleepedge.lab.predict_walltime --edf "$edf" "${MODELS[@]}" --repeat "$REPEAT" | tee "$WORK/aarch64.json"
}

main
