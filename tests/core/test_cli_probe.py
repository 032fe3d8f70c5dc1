"""A broad probe of every command with bad input and damaged run folders (issue 10's error policy).

Each case runs ``sleepedge ...`` in-process and asserts: the expected exit status (2 for every
refusal and error: exit 1 belongs to a failed budget limit only), exactly one error line on stderr,
that line names the file or setting concerned, and no traceback or "error inside sleepedge" (an
unexpected exception) ever reaches the user. Cases are grouped by command; the placeholders in the
arguments are filled by :func:`_fill`.
"""
from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from sleepedge.commands.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY_TFLITE = REPO / "tests" / "check" / "data" / "tiny.tflite"
TRAIN = ["train", "--preset", "tiny", "--dataset", "synthetic", "--out", "{tmp}/new"]

# (id, arguments, exit status, text the error line must contain); {run}: a copy of a small run folder,
# {tmp}: an empty folder, {file}: a regular file, {bin}: random bytes, {b}: a damaged input made by SETUP.
CASES: list[tuple[str, list[str], int, str]] = [
    # --- configuration (every key has a range; checked before any work)
    *[(f"set-{o}", TRAIN + ["--set", o], 2, o.split("=")[0]) for o in (
        "train.epochs=0", "train.batch_size=-4", "train.lr=inf", "train.lr=nan", "train.lr=0", "data.seq_len=0",
        "model.arch=bogus", "train.patience=-1", "train.weight_decay=-1", "train.class_weights=some",
        "train.device=tpu", "train.device=cuda:7", "train.max_minutes=-5", "train.threads=-2", "data.subjects=999",
        "data.val_subjects=0", "data.fold=25", "data.n_folds=1", "data.sfreq=50", "data.synthetic_hours=-1",
        "data.dataset=edf", "compress.stage1_step=0", "compress.stage1_max=1", "compress.stage2_from=0.9",
        "compress.hidden_step=0", "compress.min_accuracy=2", "export.formats=bogus", "export.opset=5",
        "export.formats=onnx_fp32,onnx_fp32", "bench.threads=0", "bench.runtimes=onnx", "bench.reference=x",
        "check.preset=", "train.epochs=1.5", "data.resample=maybe", "train.nokey=1", "nosection.key=1")],
    ("set-val+test-too-many", TRAIN + ["--set", "data.val_subjects=3", "--set", "data.test_subjects=3"], 2,
     "data.val_subjects"),
    *[(f"set-malformed-{i}", TRAIN + ["--set", o], 2, "section.key=value") for i, o in enumerate(("train", "=3", ".=3",
                                                                                                  "train.=3"))],
    ("seed-negative", TRAIN + ["--seed", "-1"], 2, "train.seed"),
    ("seed-huge", TRAIN + ["--seed", str(2**40)], 2, "train.seed"),
    ("seed-text", TRAIN + ["--seed", "abc"], 2, "--seed"),
    ("preset-unknown", ["train", "--preset", "nope", "--out", "{tmp}/new"], 2, "nope"),
    ("preset-binary", ["train", "--preset", "{b}", "--out", "{tmp}/new"], 2, "{b}"),
    ("preset-wrong-type", ["train", "--preset", "{b}", "--out", "{tmp}/new"], 2, "train.epochs"),
    ("preset-section-not-table", ["train", "--preset", "{b}", "--out", "{tmp}/new"], 2, "[train]"),
    ("train-out-is-file", TRAIN[:-1] + ["{file}"], 2, "{file}"),
    ("train-out-under-file", TRAIN[:-1] + ["{file}/run"], 2, "{file}"),
    ("train-no-data", ["train", "--preset", "tiny", "--dataset", "sleep-edf", "--data-dir", "{tmp}/nodata", "--out",
                       "{tmp}/new"], 2, "{tmp}/nodata"),
    ("train-finished", ["train", "--preset", "tiny", "--dataset", "synthetic", "--out", "{run}"], 2, "{run}/train"),
    # --- compress
    ("compress-no-run", ["compress", "--out", "{tmp}/none"], 2, "{tmp}/none"),
    ("compress-run-is-file", ["compress", "--out", "{file}"], 2, "{file}"),
    ("compress-train-manifest-list", ["compress", "--out", "{run}"], 2, "{run}/train/manifest.json"),
    ("compress-train-manifest-not-json", ["compress", "--out", "{run}"], 2, "{run}/train/manifest.json"),
    ("compress-train-manifest-binary", ["compress", "--out", "{run}"], 2, "{run}/train/manifest.json"),
    ("compress-train-manifest-no-schema", ["compress", "--out", "{run}"], 2, "{run}/train/manifest.json"),
    ("compress-train-outputs-not-object", ["compress", "--out", "{run}"], 2, "{run}/train/manifest.json"),
    ("compress-model-changed", ["compress", "--out", "{run}"], 2, "model.pt"),
    ("compress-finished", ["compress", "--out", "{run}"], 2, "{run}/compress"),
    *[(f"compress-set-{o}", ["compress", "--out", "{run}", "--overwrite", "--set", o], 2, o.split("=")[0]) for o in (
        "compress.stage1_step=0", "compress.hidden_floor=0", "compress.margin_points=-1", "compress.finetune_lr=0")],
    # --- export
    ("export-random-checkpoint", ["export", "--checkpoint", "{b}", "--data", "{run}/train", "--out", "{tmp}/e"], 2, "{b}"),
    ("export-list-checkpoint", ["export", "--checkpoint", "{b}", "--data", "{run}/train", "--out", "{tmp}/e"], 2, "{b}"),
    ("export-bad-arch-checkpoint", ["export", "--checkpoint", "{b}", "--data", "{run}/train", "--out", "{tmp}/e"], 2,
     "{b}"),
    ("export-missing-checkpoint", ["export", "--checkpoint", "{tmp}/no.pt", "--data", "{run}/train", "--out",
                                   "{tmp}/e"], 2, "{tmp}/no.pt"),
    ("export-checkpoint-without-data", ["export", "--checkpoint", "{run}/train/model.pt"], 2, "--data"),
    ("export-data-dir-empty", ["export", "--checkpoint", "{run}/train/model.pt", "--data", "{tmp}", "--out",
                               "{tmp}/e"], 2, "test.npz"),
    ("export-data-npz-corrupt", ["export", "--checkpoint", "{run}/train/model.pt", "--data", "{b}", "--out",
                                 "{tmp}/e"], 2, "test.npz"),
    ("export-out-is-file", ["export", "--checkpoint", "{run}/train/model.pt", "--data", "{run}/train", "--out",
                            "{file}"], 2, "{file}"),
    ("export-out-foreign-folder", ["export", "--checkpoint", "{run}/train/model.pt", "--data", "{run}/train", "--out",
                                   "{b}"], 2, "{b}"),
    ("export-name-escapes", ["export", "--checkpoint", "{run}/train/model.pt", "--data", "{run}/train", "--out",
                             "{tmp}/e", "--name", "../evil"], 2, "--name"),
    ("export-run-missing", ["export", "--run", "{tmp}/none"], 2, "{tmp}/none"),
    ("export-run-is-file", ["export", "--run", "{file}"], 2, "{file}"),
    ("export-from-wrong-stage", ["export", "--from", "{run}/export"], 2, "{run}/export"),
    ("export-finished", ["export", "--run", "{run}"], 2, "{run}/export"),
    ("export-stale-compress", ["export", "--run", "{run}", "--overwrite"], 2, "stale"),
    *[(f"export-set-{o}", ["export", "--run", "{run}", "--overwrite", "--set", o], 2, o.split("=")[0]) for o in (
        "export.timeout_s=0", "export.calib_sequences=0", "export.parity_tol=-1")],
    # --- bench
    ("merge-binary", ["bench", "--merge", "{bin}", "{bin}", "--out", "{tmp}/m.md"], 2, "{bin}"),
    ("merge-missing", ["bench", "--merge", "{tmp}/a.json", "{tmp}/b.json", "--out", "{tmp}/m.md"], 2, "{tmp}/a.json"),
    ("merge-one-file", ["bench", "--merge", "{b}", "--out", "{tmp}/m.md"], 2, "two"),
    ("merge-object", ["bench", "--merge", "{b}", "{b}", "--out", "{tmp}/m.md"], 2, "{b}"),
    ("merge-row-without-keys", ["bench", "--merge", "{b}", "{b}", "--out", "{tmp}/m.md"], 2, "{b}"),
    ("merge-device-not-object", ["bench", "--merge", "{b}", "{b}", "--out", "{tmp}/m.md"], 2, "{b}"),
    ("merge-out-exists", ["bench", "--merge", "{b}", "{b}", "--out", "{file}"], 2, "{file}"),
    ("merge-without-out", ["bench", "--merge", "{bin}", "{bin}"], 2, "--out"),
    ("bench-run-missing", ["bench", "--run", "{tmp}/none"], 2, "{tmp}/none"),
    ("bench-run-is-file", ["bench", "--run", "{file}"], 2, "{file}"),
    ("bench-export-manifest-list", ["bench", "--run", "{run}"], 2, "{run}/export/manifest.json"),
    ("bench-export-rows-empty", ["bench", "--run", "{run}"], 2, "{run}/export/manifest.json"),
    ("bench-export-output-outside", ["bench", "--run", "{run}"], 2, "outside"),
    ("bench-export-file-changed", ["bench", "--run", "{run}"], 2, "sha256"),
    ("bench-stale-export", ["bench", "--run", "{run}"], 2, "stale"),
    ("bench-test-sample-changed", ["bench", "--run", "{run}"], 2, "test.npz"),
    ("bench-threads-0", ["bench", "--run", "{run}", "--threads", "0"], 2, "bench.threads"),
    ("bench-runtime-unknown", ["bench", "--run", "{run}", "--runtimes", "bogus"], 2, "bench.runtimes"),
    ("bench-reference-bad", ["bench", "--run", "{run}", "--reference", "x"], 2, "bench.reference"),
    ("bench-reference-names-no-row", ["bench", "--run", "{run}", "--reference", "baseline/onnx_fp32/tflite"], 2,
     "names no row"),
    ("bundle-without-run", ["bench", "--merge", "{bin}", "{bin}", "--out", "{tmp}/x", "--bundle", "{tmp}/b.tar"], 2,
     "--bundle"),
    ("bundle-exists", ["bench", "--run", "{run}", "--bundle", "{file}"], 2, "{file}"),
    ("from-bundle-without-out", ["bench", "--from-bundle", "{bin}"], 2, "--out"),
    ("from-bundle-binary", ["bench", "--from-bundle", "{bin}", "--out", "{tmp}/o"], 2, "{bin}"),
    ("from-bundle-missing", ["bench", "--from-bundle", "{tmp}/no.tar", "--out", "{tmp}/o"], 2, "{tmp}/no.tar"),
    ("from-bundle-truncated", ["bench", "--from-bundle", "{b}", "--out", "{tmp}/o"], 2, "{b}"),
    ("from-bundle-unsafe-member", ["bench", "--from-bundle", "{b}", "--out", "{tmp}/o"], 2, "../escape"),
    ("from-bundle-planted-bench", ["bench", "--from-bundle", "{b}", "--out", "{tmp}/o"], 2, "bench/manifest.json"),
    ("from-bundle-output-outside", ["bench", "--from-bundle", "{b}", "--out", "{tmp}/o"], 2, "outside"),
    ("from-bundle-test-outside", ["bench", "--from-bundle", "{b}", "--out", "{tmp}/o"], 2, "outside"),
    ("from-bundle-out-is-file", ["bench", "--from-bundle", "{b}", "--out", "{file}"], 2, "{file}"),
    # --- check
    ("check-cut-tflite", ["check", "--budget", "{budget}", "{b}"], 2, "{b}"),
    ("check-magic-only-tflite", ["check", "--budget", "{budget}", "{b}"], 2, "{b}"),
    ("check-empty-file", ["check", "--budget", "{budget}", "{b}"], 2, "{b}"),
    ("check-random-file", ["check", "--budget", "{budget}", "{bin}"], 2, "{bin}"),
    ("check-target-missing", ["check", "--budget", "{budget}", "{tmp}/none"], 2, "{tmp}/none"),
    ("check-target-empty-folder", ["check", "--budget", "{budget}", "{tmp}"], 2, "{tmp}"),
    ("check-budget-missing", ["check", "--budget", "{tmp}/no.toml", "{run}"], 2, "{tmp}/no.toml"),
    ("check-budget-preset-unknown", ["check", "--budget", "nrf9999", "{run}"], 2, "nrf9999"),
    *[(f"check-budget-{n}", ["check", "--budget", "{b}", "{run}"], 2, "{b}") for n in (
        "binary", "syntax", "unknown-key", "negative", "text", "inf", "bool", "model-typo", "threads", "empty",
        "extends-unknown")],
    ("check-model-unknown", ["check", "--budget", "{budget}", "{run}", "--model", "bogus"], 2, "bogus"),
    ("check-target-name-unknown", ["check", "--budget", "{budget}", "{run}", "--target-name", "bogus"], 2, "bogus"),
    ("check-json-exists", ["check", "--budget", "{budget}", "{b}", "--json", "{file}"], 2, "{file}"),
    ("check-json-under-file", ["check", "--budget", "{budget}", "{b}", "--json", "{file}/r.json"], 2, "{file}"),
    ("check-export-manifest-list", ["check", "--budget", "{budget}", "{run}"], 2, "{run}/export/manifest.json"),
    ("check-export-manifest-empty-object", ["check", "--budget", "{budget}", "{run}"], 2, "{run}/export/manifest.json"),
    ("check-export-rows-not-list", ["check", "--budget", "{budget}", "{run}"], 2, "{run}/export/manifest.json"),
    ("check-export-output-outside", ["check", "--budget", "{budget}", "{run}"], 2, "outside"),
    ("check-export-file-changed", ["check", "--budget", "{budget}", "{run}"], 2, "sha256"),
    ("check-stale-export", ["check", "--budget", "{budget}", "{run}"], 2, "stale"),
    # --- pipeline and data
    ("pipeline-stages-unknown", ["pipeline", "--preset", "tiny", "--out", "{tmp}/p", "--stages", "bogus"], 2, "bogus"),
    ("pipeline-stages-none", ["pipeline", "--preset", "tiny", "--out", "{tmp}/p", "--stages", ","], 2, "--stages"),
    ("pipeline-budget-unknown", ["pipeline", "--preset", "tiny", "--out", "{tmp}/p", "--budget", "nope"], 2, "nope"),
    ("pipeline-out-is-file", ["pipeline", "--preset", "tiny", "--out", "{file}"], 2, "{file}"),
    ("pipeline-bad-setting", ["pipeline", "--preset", "tiny", "--out", "{tmp}/p", "--set", "train.epochs=0"], 2,
     "train.epochs"),
    # --- predict (scores EDF nights with exported files; reads with the training reader)
    ("predict-model-missing", ["predict", "--model", "{tmp}/no.onnx", "{file}", "--out", "{tmp}/o"], 2, "{tmp}/no.onnx"),
    ("predict-model-not-a-model", ["predict", "--model", "{bin}", "{file}", "--out", "{tmp}/o"], 2, "{bin}"),
    ("predict-model-random-onnx", ["predict", "--model", "{b}", "{file}", "--out", "{tmp}/o"], 2, "{b}"),
    ("predict-three-models", ["predict", "--model", "{b}", "--model", "{b}", "--model", "{b}", "{file}", "--out",
                              "{tmp}/o"], 2, "--model"),
    ("predict-pair-of-two-kinds", ["predict", "--model", "{b}", "--model", "{run}/export/compressed/model.onnx",
                                   "{file}", "--out", "{tmp}/o"], 2, "one kind"),
    ("predict-lone-feature-model", ["predict", "--model", "{b}", "{file}", "--out", "{tmp}/o"], 2, "second --model"),
    ("predict-model-folder-not-export", ["predict", "--model", "{tmp}", "{file}", "--out", "{tmp}/o"], 2, "{tmp}"),
    ("predict-model-folder-manifest-list", ["predict", "--model", "{run}/export/compressed", "{file}", "--out",
                                            "{tmp}/o"], 2, "{run}/export/manifest.json"),
    ("predict-model-folder-rows-not-list", ["predict", "--model", "{run}/export/compressed", "{file}", "--out",
                                           "{tmp}/o"], 2, "{run}/export/manifest.json"),
    ("predict-format-unknown", ["predict", "--model", "{run}/export/compressed", "--format", "bogus", "{file}",
                                "--out", "{tmp}/o"], 2, "bogus"),
    ("predict-recording-missing", ["predict", "--model", "{run}/export/compressed/model.onnx", "{tmp}/none.edf",
                                   "--out", "{tmp}/o"], 2, "{tmp}/none.edf"),
    ("predict-recording-random", ["predict", "--model", "{run}/export/compressed/model.onnx", "{bin}", "--out",
                                  "{tmp}/o"], 2, "{bin}"),
    ("predict-recording-empty", ["predict", "--model", "{run}/export/compressed/model.onnx", "{file}", "--out",
                                 "{tmp}/o"], 2, "{file}"),
    ("predict-folder-without-edf", ["predict", "--model", "{run}/export/compressed/model.onnx", "{tmp}", "--out",
                                    "{tmp}/o"], 2, "{tmp}"),
    ("predict-out-is-file", ["predict", "--model", "{run}/export/compressed/model.onnx", "{bin}", "--out", "{file}"],
     2, "{file}"),
    ("predict-threads-0", ["predict", "--model", "{run}/export/compressed/model.onnx", "{bin}", "--out", "{tmp}/o",
                           "--threads", "0"], 2, "--threads"),
    ("predict-lag-text", ["predict", "--model", "{run}/export/compressed/model.onnx", "{bin}", "--out", "{tmp}/o",
                          "--lag", "x"], 2, "--lag"),
    ("predict-lag-window-model", ["predict", "--model", "{run}/export/compressed/model.onnx", "{bin}", "--out",
                                  "{tmp}/o", "--lag", "1"], 2, "--lag"),
    ("predict-mode-unknown", ["predict", "--model", "{run}/export/compressed/model.onnx", "{bin}", "--out", "{tmp}/o",
                              "--mode", "live"], 2, "--mode"),
    ("data-fetch-subjects", ["data", "fetch", "--subjects", "x-y"], 2, "--subjects"),
    ("data-fetch-nights", ["data", "fetch", "--nights", "7"], 2, "--nights"),
    ("data-prepare-subjects", ["data", "prepare", "--dataset", "synthetic", "--subjects", "1-"], 2, "--subjects"),
    ("data-prepare-subject-range", ["data", "prepare", "--subjects", "90"], 2, "--subjects"),
    ("lab-unknown-tool", ["lab", "nope"], 2, "nope"),
    ("lab-tool-bad-argument", ["lab", "yardstick", "{tmp}/missing-run"], 2, "missing-run"),
]


def _w(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def _edit_manifest(stage_dir: Path, edit) -> None:
    p = stage_dir / "manifest.json"
    m = json.loads(p.read_text())
    edit(m)
    p.write_text(json.dumps(m))


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def _bundle_members(run: Path, tmp: Path) -> dict[str, bytes]:
    from sleepedge.firmware_bench import make_bundle

    good = make_bundle(run, tmp / "good.tar")
    with tarfile.open(good) as t:
        return {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}


def _evil_bundle(run: Path, tmp: Path, name: str) -> Path:
    members = _bundle_members(run, tmp)
    if name == "unsafe-member":
        members["../escape.txt"] = b"x"
    elif name == "planted-bench":
        members["bench/manifest.json"] = b"{}"
    elif name == "output-outside":
        m = json.loads(members["export/manifest.json"])
        next(iter(m["outputs"].values()))["path"] = str(_w(tmp / "secret.onnx", b"secret"))
        members["export/manifest.json"] = json.dumps(m).encode()
    else:  # test-outside
        info = json.loads(members["bundle.json"])
        info["test"]["path"] = "../secret.npz"
        members["bundle.json"] = json.dumps(info).encode()
    return _tar(tmp / f"{name}.tar", members)


def _merge_file(tmp: Path, case: str) -> Path:
    rows = {"merge-one-file": [], "merge-object": {}, "merge-row-without-keys": [{}],
            "merge-device-not-object": [{"model": "m", "format": "f", "runtime": "r", "status": "ok", "device": "x"}],
            "merge-out-exists": []}[case]
    return _w(tmp / "rows.json", json.dumps(rows))


BUDGETS = {"binary": os.urandom(64) + b"\xff", "syntax": "max_ = = 3", "unknown-key": "max_tflit_bytes = 3",
           "negative": "max_tflite_bytes = -3", "text": "max_tflite_bytes = '1 MB'", "inf": "max_latency_ms_p50 = inf",
           "bool": "max_params = true", "model-typo": "[model.compresed]\nmax_params = 1",
           "threads": "latency_threads = 0\nmax_params = 1", "empty": "", "extends-unknown": 'extends = "nrf9999"'}
MANIFESTS = {"list": "[]", "not-json": "{nope", "binary": b"\x80\x81\xff", "no-schema": "{}", "empty-object": "{}",
             "outputs-not-object": json.dumps({"schema": "sleepedge.manifest/1", "outputs": "x"})}


def _setup(case: str, run: Path, tmp: Path) -> str:  # noqa: C901 - one branch per damaged input, on purpose
    """Make the damaged input a case needs; returns what ``{b}`` stands for."""
    if case.startswith("check-budget-") and case != "check-budget-missing" and "preset" not in case:
        return str(_w(tmp / "budget.toml", BUDGETS[case[len("check-budget-"):]]))
    if case.startswith("compress-train-"):
        key = case.split("manifest-")[-1] if "manifest-" in case else "outputs-not-object"
        _w(run / "train" / "manifest.json", MANIFESTS[key])
    elif case == "compress-model-changed":
        _w(run / "train" / "model.pt", os.urandom(500))
    elif case.startswith(("bench-export-manifest-list", "check-export-manifest-list")):
        _w(run / "export" / "manifest.json", "[]")
    elif case == "check-export-manifest-empty-object":
        _w(run / "export" / "manifest.json", "{}")
    elif case in ("bench-export-rows-empty", "check-export-rows-not-list"):
        _edit_manifest(run / "export", lambda m: m["metrics"].update(rows=[] if case.startswith("bench") else "x"))
    elif case in ("bench-export-output-outside", "check-export-output-outside"):
        _edit_manifest(run / "export", lambda m: next(iter(m["outputs"].values())).update(path="/etc/hostname"))
    elif case in ("bench-export-file-changed", "check-export-file-changed"):
        _w(run / "export" / "compressed" / "model.onnx", os.urandom(100))
    elif case in ("bench-stale-export", "check-stale-export", "export-stale-compress"):
        _edit_manifest(run / "train", lambda m: m.update(created="redone later"))  # as if train was redone
    elif case == "bench-test-sample-changed":
        _w(run / "train" / "test.npz", os.urandom(100))
    elif case in ("export-random-checkpoint", "from-bundle-binary"):
        return str(_w(tmp / "x.pt", os.urandom(3000)))
    elif case in ("export-list-checkpoint", "export-bad-arch-checkpoint"):
        import torch

        torch.save([1, 2] if "list" in case else {"state_dict": {}, "arch": {"x": 1}}, tmp / "x.pt")
        return str(tmp / "x.pt")
    elif case == "export-data-npz-corrupt":
        _w(tmp / "d" / "test.npz", os.urandom(300))
        _w(tmp / "d" / "calib.npz", os.urandom(300))
        return str(tmp / "d")
    elif case == "export-out-foreign-folder":
        _w(tmp / "mine" / "keep.txt", "keep")
        return str(tmp / "mine")
    elif case in ("merge-one-file", "merge-object", "merge-row-without-keys", "merge-device-not-object",
                  "merge-out-exists"):
        return str(_merge_file(tmp, case))
    elif case == "from-bundle-truncated":
        from sleepedge.firmware_bench import make_bundle

        data = make_bundle(run, tmp / "good.tar").read_bytes()
        return str(_w(tmp / "cut.tar", data[: len(data) // 2]))
    elif case.startswith("from-bundle-") and case not in ("from-bundle-missing", "from-bundle-without-out"):
        if case == "from-bundle-out-is-file":
            from sleepedge.firmware_bench import make_bundle

            return str(make_bundle(run, tmp / "good.tar"))
        return str(_evil_bundle(run, tmp, case[len("from-bundle-"):]))
    elif case in ("check-cut-tflite", "check-magic-only-tflite", "check-empty-file", "check-json-exists",
                  "check-json-under-file"):
        data = TINY_TFLITE.read_bytes()
        cut = {"check-cut-tflite": data[: len(data) // 2], "check-magic-only-tflite": data[:8],
               "check-empty-file": b""}.get(case, data)
        return str(_w(tmp / "model.tflite", cut))
    elif case == "predict-model-random-onnx":
        return str(_w(tmp / "x.onnx", os.urandom(3000)))
    elif case in ("predict-three-models", "predict-pair-of-two-kinds"):
        return str(_w(tmp / "x.tflite", os.urandom(300)))
    elif case == "predict-lone-feature-model":
        return str(_feature_model(tmp / "features.onnx"))
    elif case == "predict-model-folder-manifest-list":
        _w(run / "export" / "manifest.json", "[]")
    elif case == "predict-model-folder-rows-not-list":
        _edit_manifest(run / "export", lambda m: m["metrics"].update(rows="x"))
    elif case == "preset-binary":
        return str(_w(tmp / "p.toml", os.urandom(50) + b"\xff"))
    elif case == "preset-wrong-type":
        return str(_w(tmp / "p.toml", "[train]\nepochs = 'many'\n"))
    elif case == "preset-section-not-table":
        return str(_w(tmp / "p.toml", "train = 3\n"))
    return ""


def _feature_model(path: Path) -> Path:
    """A streaming feature model of the tiny architecture (one epoch in, CNN features out), as ONNX."""
    import torch

    from sleepedge.export.onnx_export import export_onnx
    from sleepedge.models import DeepSleepNet, get_arch
    from sleepedge.models.streaming import split_model

    torch.manual_seed(0)
    model = DeepSleepNet(get_arch("tiny")).eval()
    features, _ = split_model(model)
    return export_onnx(features, path, 1, 17, input_shape=(1, 1, 1, model.arch.epoch_samples), output_name="features")


def _fill(args: list[str], values: dict[str, str]) -> list[str]:
    return [a.format(**values) for a in args]


@pytest.mark.parametrize("case, args, status, needle", CASES, ids=[c[0] for c in CASES])
def test_refusal_is_one_line_naming_the_problem(case, args, status, needle, onnx_run, tmp_path, capsys, monkeypatch):
    tmp = tmp_path / "t"
    tmp.mkdir()
    values = {"run": str(onnx_run), "tmp": str(tmp), "file": str(_w(tmp_path / "a-file", "x")),
              "bin": str(_w(tmp_path / "bin.dat", os.urandom(2000) + b"\xff")),
              "budget": str(_w(tmp_path / "size.toml", "max_tflite_bytes = 100000000\n"))}
    values["b"] = _setup(case, onnx_run, tmp)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    try:
        rc = main(_fill(args, values))
    except SystemExit as exc:  # argparse's own refusals (usage line + one error line, exit 2)
        rc = exc.code
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if ": error" in line]
    assert rc == status, err
    assert "Traceback" not in err and "error inside sleepedge" not in err, err
    assert len(errors) == 1, err
    assert needle.format(**values) in errors[0], errors[0]


def test_the_probe_covers_every_command():
    from sleepedge.commands.cli import SUBCOMMANDS

    assert {c[1][0] for c in CASES} == set(SUBCOMMANDS)
    assert len(CASES) >= 100
