#!/usr/bin/env bash
# Wheels that let scripts/h200_paper_scale.sh use Ray on the device machine (python 3.12, x86-64, no
# network there). Run here, in the repository root; .whl/ is git-ignored and travels with carry=[".whl"].
# Ray's own wheel (79 MB) is over the 64 MiB a device call carries, so its Java jars, dashboard web build,
# RLlib and LLM packages (none used by tasks) are dropped: ~42 MB. jsonschema and its needs are missing
# on the device image; everything else Ray needs (click, filelock, msgpack, protobuf, pyyaml, requests) is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
mkdir -p .whl && rm -f .whl/*.whl
dl() {
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$1" "${@:2}"
}
tmp=$(mktemp -d)
dl "$tmp" ray==2.60.0
dl .whl jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1
"$PY" - "$tmp"/ray-*.whl .whl <<'PYEOF'
import sys, zipfile
from pathlib import Path
src, dst = Path(sys.argv[1]), Path(sys.argv[2]) / Path(sys.argv[1]).name
DROP = ("ray/jars/", "ray/dashboard/client/build/", "ray/rllib/", "ray/llm/")
with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zo:
    for info in zi.infolist():
        if not info.filename.startswith(DROP):
            zo.writestr(info, zi.read(info.filename), compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
print(f"{dst}: {dst.stat().st_size / 2**20:.1f} MiB (from {src.stat().st_size / 2**20:.1f})")
PYEOF
rm -rf "$tmp"
du -ch .whl/*.whl | tail -1
