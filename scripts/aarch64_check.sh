#!/usr/bin/env bash
# Functional check of the bench on aarch64 under emulation (issue 5, "On an ARM board").
#
#   scripts/aarch64_check.sh [--run RUN] [--work DIR] [--runtimes LIST] [--setup-only]
#
# 1. Installs Debian's qemu-user-static and debootstrap when missing (needs root + apt).
# 2. Builds an arm64 Debian bookworm root holding python3.11 (debootstrap --foreign, then the
#    downloaded .debs unpacked with dpkg -x: no chroot and no binfmt_misc needed).
# 3. Fetches aarch64 wheels from PyPI (numpy, onnxruntime, ai-edge-litert, tflite-runtime, psutil) and
#    installs them with pip --target; copies the pure-python sleepedge package beside them.
# 4. On x86: makes a bundle of RUN (default: a tiny run built by tests/fixtures/tiny_export_run.py) and
#    benches it; under qemu-aarch64: `sleepedge bench --from-bundle` on the same bundle.
#    Runtimes: onnxruntime and ai-edge-litert (what `pip install sleepedge[bench]` installs on a board).
#    --runtimes onnxruntime,ai-edge-litert,tflite-runtime adds tflite-runtime 2.14: under Debian bookworm's
#    qemu 7.2 its optimised int8 FULLY_CONNECTED kernel segfaults whenever the layer has more than one
#    input row (one row works, as does the reference kernel), so int8 models with such layers fail there.
# 5. Compares the predictions (same stage per epoch, logits within runtime rounding) and merges the
#    two results files into one table (the aarch64 figures are labelled emulated).
#
# Downloads are cached under $SLEEPEDGE_AARCH64_CACHE (default ~/.cache/sleepedge-aarch64), so a rerun
# only repeats steps 4-5. Exit status: 0 matched, 1 predictions differ, 3 the emulator could not be set up.
# Environment: PYTHON (host python with sleepedge, torch and TensorFlow; default: python3),
# DEBIAN_MIRROR (default http://deb.debian.org/debian).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${SLEEPEDGE_AARCH64_CACHE:-$HOME/.cache/sleepedge-aarch64}"
HOST_PY="${PYTHON:-python3}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ROOTFS="$CACHE/rootfs-bookworm-arm64"
WHEELS="$CACHE/wheels"
SITE="$CACHE/site-packages"
# Pinned to the versions the x86 environment uses (constraints.txt). psutil 5.9.5 has no aarch64 wheel;
# the bench uses psutil only where /proc is missing, so any wheel-shipping release will do.
PACKAGES=(numpy==1.26.4 onnxruntime==1.23.0 ai-edge-litert==2.1.0 tflite-runtime==2.14.0 psutil==7.0.0)
PLATFORMS=(manylinux_2_17_aarch64 manylinux2014_aarch64 manylinux_2_27_aarch64 manylinux_2_28_aarch64 manylinux_2_34_aarch64)
RUN="" WORK="" SETUP_ONLY=0 RUNTIMES="onnxruntime,ai-edge-litert"

log() { printf '[aarch64-check %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $2"; exit "$1"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --run) RUN="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --runtimes) RUNTIMES="$2"; shift 2 ;;
    --setup-only) SETUP_ONLY=1; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) die 2 "unknown argument $1 (see --help)" ;;
  esac
done

ensure_tools() {
  if command -v qemu-aarch64-static >/dev/null && command -v debootstrap >/dev/null; then return; fi
  [ "$(id -u)" = 0 ] || die 3 "qemu-user-static/debootstrap missing and not root: apt-get install -y qemu-user-static debootstrap"
  command -v apt-get >/dev/null || die 3 "qemu-user-static/debootstrap missing and no apt-get on this machine"
  log "installing qemu-user-static and debootstrap with apt-get"
  apt-get update -qq || die 3 "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static debootstrap >/dev/null \
    || die 3 "apt-get install qemu-user-static debootstrap failed"
}

ensure_rootfs() {
  if [ -x "$ROOTFS/usr/bin/python3.11" ]; then log "arm64 root cached at $ROOTFS"; return; fi
  [ "$(id -u)" = 0 ] || die 3 "debootstrap needs root to build $ROOTFS"
  local stage="$CACHE/debootstrap"
  rm -rf "$stage" "$ROOTFS.tmp"
  log "debootstrap --foreign arm64 bookworm (minbase + python3.11) from $MIRROR"
  debootstrap --foreign --arch=arm64 --variant=minbase --include=python3.11 bookworm "$stage" "$MIRROR" \
    > "$CACHE/debootstrap.log" 2>&1 || die 3 "debootstrap failed; see $CACHE/debootstrap.log"
  # --foreign leaves the second stage (which would need to run arm64 code in a chroot) undone; for a
  # python that runs under qemu-user unpacking every downloaded package is all that is needed.
  mkdir -p "$ROOTFS.tmp"
  for deb in "$stage"/var/cache/apt/archives/*.deb; do dpkg -x "$deb" "$ROOTFS.tmp"; done
  [ -x "$ROOTFS.tmp/usr/bin/python3.11" ] || die 3 "no usr/bin/python3.11 after unpacking the debootstrap packages"
  mv "$ROOTFS.tmp" "$ROOTFS"
  rm -rf "$stage"
}

ensure_site() {
  if [ -f "$SITE/.complete" ]; then log "aarch64 wheels cached at $SITE"; return; fi
  local platform_args=() p
  for p in "${PLATFORMS[@]}"; do platform_args+=(--platform "$p"); done
  log "pip download aarch64 wheels: ${PACKAGES[*]}"
  "$HOST_PY" -m pip download -q --dest "$WHEELS" --no-deps --only-binary=:all: --python-version 3.11 \
    --implementation cp "${platform_args[@]}" "${PACKAGES[@]}" || die 3 "pip download of aarch64 wheels failed"
  rm -rf "$SITE"
  "$HOST_PY" -m pip install -q --no-deps --target "$SITE" --only-binary=:all: --python-version 3.11 \
    --implementation cp "${platform_args[@]}" "$WHEELS"/*.whl || die 3 "pip install --target of aarch64 wheels failed"
  touch "$SITE/.complete"
}

copy_sleepedge() {  # the package is pure python: one helper lays it out as pip would (sleepedge/lab/package_copy.py)
  "$HOST_PY" "$REPO/sleepedge/lab/package_copy.py" "$1" --repo "$REPO" >/dev/null
}

main() {
  local t0=$SECONDS
  mkdir -p "$CACHE"
  ensure_tools
  ensure_rootfs
  ensure_site
  log "setup done in $((SECONDS - t0)) s"
  [ "$SETUP_ONLY" = 1 ] && return 0
  [ -n "$WORK" ] || WORK="$(mktemp -d /tmp/sleepedge-aarch64.XXXXXX)"
  mkdir -p "$WORK"
  WORK="$(realpath "$WORK")"  # the emulated run works from $WORK: every path handed to it is absolute
  if [ -z "$RUN" ]; then
    RUN="$WORK/run"
    log "building a tiny run in $RUN"
    "$HOST_PY" "$REPO/tests/fixtures/tiny_export_run.py" "$RUN" > "$WORK/make_tiny_run.log" 2>&1 \
      || { tail -20 "$WORK/make_tiny_run.log" >&2; die 2 "could not build the tiny run (needs torch and TensorFlow)"; }
  fi
  local settings=(--set bench.rounds=1 --set bench.min_time_s=0.05 --set bench.min_runs=3 --set bench.warmup=1
                  --set bench.test_sequences=4 --set "bench.runtimes=$RUNTIMES")
  "$HOST_PY" -m sleepedge.commands.bench --run "$RUN" --bundle "$WORK/bundle.tar" "${settings[@]}"
  log "x86 bench of the bundle"
  "$HOST_PY" -m sleepedge.commands.bench --from-bundle "$WORK/bundle.tar" --out "$WORK/x86" "${settings[@]}" \
    > "$WORK/x86.log" 2>&1 || { tail -20 "$WORK/x86.log" >&2; die 2 "x86 bench failed"; }
  copy_sleepedge "$WORK/sleepedge-py"
  local t1=$SECONDS
  log "aarch64 (qemu) bench of the bundle"
  cd "$WORK"  # not the repository: its sleepedge/ folder would shadow the copied package
  env -u PYTHONHOME PYTHONPATH="$WORK/sleepedge-py:$SITE" SLEEPEDGE_EMULATED=1 PYTHONDONTWRITEBYTECODE=1 \
    SLEEPEDGE_WORKER_LAUNCHER="qemu-aarch64-static -L $ROOTFS" \
    qemu-aarch64-static -L "$ROOTFS" "$ROOTFS/usr/bin/python3.11" -m sleepedge.commands.bench \
    --from-bundle "$WORK/bundle.tar" --out "$WORK/arm" "${settings[@]}" > "$WORK/arm.log" 2>&1 \
    || { tail -20 "$WORK/arm.log" >&2; die 1 "aarch64 bench failed"; }
  log "aarch64 bench took $((SECONDS - t1)) s"
  "$HOST_PY" -m sleepedge.commands.bench --merge "$WORK/x86/bench/results.json" "$WORK/arm/bench/results.json" \
    --out "$WORK/merged.md" > /dev/null
  local rc=0
  "$HOST_PY" -m sleepedge.lab.compare_predictions "$WORK/x86/bench/predictions.npz" "$WORK/arm/bench/predictions.npz" || rc=$?
  log "total $((SECONDS - t0)) s; work folder $WORK; merged table $WORK/merged.md"
  return $rc
}

main
