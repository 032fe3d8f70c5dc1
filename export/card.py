"""A model card (markdown) beside every exported model: ``RUN/export/<model>/MODEL_CARD.md``.

Every figure in a card is read from the manifests: the export rows (``metrics.rows``: sizes, parameters,
MACs, scores with confidence intervals, int8 vs fp32, TFLite Micro arenas, boards), the train stage
(data, split, PyTorch test scores), the compress stage (which step was selected) and the environment
stamp (runtime versions). Nothing is typed by hand; the same manifests give the same card, byte for
byte. Standard library only.

    python -m sleepedge.export.card RUN/export [--model compressed]    print the card(s) from the manifests
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path
from typing import Any

from sleepedge.core.errors import ConfigError, ManifestError, UserError

CARD_NAME = "MODEL_CARD.md"
CARD_ROW_KEYS = ("model", "format", "status", "arch", "params", "macs_per_epoch", "seq_len", "converter")  # what a card reads
RUNTIME_PACKAGES = ("onnxruntime", "ai-edge-litert", "tflite-runtime", "tensorflow", "onnx2tf", "tflite-micro", "torch")


def _pct(v: Any) -> str:
    return "" if v is None else f"{100 * v:.1f}"


def _ci(r: dict[str, Any], key: str) -> str:
    v, ci = r.get(key), r.get(f"{key}_ci")
    if v is None:
        return "n/a"
    return f"{_pct(v)} [{_pct(ci[0])}, {_pct(ci[1])}]" if ci else _pct(v)


def _delta_ci(r: dict[str, Any], metric: str) -> str:
    ci = r.get(f"{metric}_delta_vs_fp32_ci")  # points, paired subject bootstrap (sleepedge.core.stats)
    return f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else ""


def _kib(v: Any) -> str:
    return "" if v is None else f"{v / 1024:,.1f} KiB"


def _arch_line(arch: dict[str, Any]) -> str:
    b = lambda x: (f"conv {'/'.join(map(str, x['channels']))} (first kernel {x['first_kernel']}, stride "  # noqa: E731
                   f"{x['first_stride']}; kernel {x['kernel']}; pools {x['pool1']}, {x['pool2']})")
    lstm = (f"BiLSTM {arch['lstm_layers']} x {arch['lstm_hidden']} per direction" if arch.get("bidirectional", True)
            else f"causal LSTM {arch['lstm_layers']} x {arch['lstm_hidden']}, look-ahead {arch.get('lookahead', 0)} epoch(s)")
    return (f"small branch {b(arch['small'])}; large branch {b(arch['large'])}; {lstm}; shortcut {arch['shortcut_out']}; {arch['n_classes']} classes; "
            f"{arch['epoch_samples']} samples per 30-s epoch")


def _model_section(model: str, rows: list[dict], origin: str) -> list[str]:
    from sleepedge.models.arch import DeepSleepNetArch
    from sleepedge.models.complexity import param_breakdown

    r0 = rows[0]
    parts = param_breakdown(DeepSleepNetArch.from_dict(r0["arch"]))
    return ["## Model", "",
            f"- DeepSleepNet (Supratak et al. 2017) family, single-channel EEG, 5 AASM stages (W, N1, N2, N3, REM). {origin}",
            f"- Architecture: {_arch_line(r0['arch'])}.",
            f"- Parameters: {r0['params']:,} (CNN {parts['cnn']:,}, BiLSTM {parts['lstm']:,}, shortcut "
            f"{parts['shortcut']:,}, classifier {parts['head']:,}); multiply-accumulates per 30-s epoch: "
            f"{r0['macs_per_epoch'] / 1e6:.2f} M.",
            f"- Window models take {r0['seq_len']} epochs at once (1, {r0['seq_len']}, 1, {r0['arch']['epoch_samples']}); "
            "the streaming pair takes one epoch per call and a head over the cached features (docs/streaming.md).", ""]


def _stateful_section(rows: list[dict]) -> list[str]:
    """How a device runs a stateful pair: the step's tensors, the state, the reset rule and the RAM it needs."""
    pairs = [r for r in rows if r.get("kind") == "stateful" and r["status"] == "ok"]
    if not pairs:
        return []
    out = ["## Stateful pair (one feature call + one step call per epoch)", ""]
    for r in pairs:
        io = r.get("step_io") or {}
        out.append(f"- {r['format']}: step inputs {io.get('inputs')}, outputs {io.get('outputs')} (positions in the file); "
                   f"state h and c of {r['state_layers']} layer(s) x {r['state_hidden']}, {r['state_dtype']}, "
                   f"{r['state_bytes']:,} bytes; decision for epoch t after epoch t + {r['lookahead']} ({r['lag_s']} s late); "
                   f"state error vs PyTorch over the test nights: max {r.get('state_max_abs_error') or 0:.3g}, first hour "
                   f"{r.get('state_error_first_hour')}, last hour {r.get('state_error_last_hour')}"
                   + (f"; RAM {_kib(r.get('stateful_ram_bytes'))} (arenas + state + one epoch)" if r.get("stateful_ram_bytes") else ""))
    out += ["", "Zero h and c at the start of a recording and after every gap (sleepedge.models.stateful); an integer "
            "step's h_out / c_out are requantised to the h / c inputs' scale before the next call (docs/streaming.md).", ""]
    return out


def _files_section(rows: list[dict]) -> list[str]:
    out = ["## Files", "", "| format | converter | file(s) | size | operators | status |", "|---|---|---|---:|---:|---|"]
    for r in rows:
        files = ", ".join((r.get("files") or {}).values()) or (r.get("file") or "")
        status = r["status"] + (f": {r['reason']}" if r.get("reason") else "")
        out.append(f"| {r['format']} | {r['converter']} | {files} | {_kib(r.get('file_bytes'))} | "
                   f"{r.get('n_ops') or ''} | {status.replace('|', '/')} |")
    return out + [""]


def _data_section(train: dict[str, Any]) -> list[str]:
    ds, split = train.get("dataset") or {}, train.get("split") or {}
    label = ds.get("label") or ds.get("name") or "unknown"
    synthetic = " (SYNTHETIC: simulated EEG)" if ds.get("synthetic") and "SYNTHETIC" not in label else ""
    out = ["## Data", "", f"- Dataset: **{label}**{synthetic}",
           f"- Channel {ds.get('channel', '?')}, {ds.get('sfreq', '?')} Hz, 30-s epochs; {ds.get('n_nights', '?')} nights, "
           f"{ds.get('n_epochs', '?')} epochs in all."]
    if split:
        out.append(f"- Subjects (split by subject): train {split.get('train')}, validation {split.get('val')}, "
                   f"test {split.get('test')}.")
    return out + [""]


def _metrics_section(rows: list[dict], torch_test: dict[str, Any] | None) -> list[str]:
    scored = [r for r in rows if r.get("accuracy") is not None]
    if not scored:
        return ["## Metrics", "", "None: untrained weights (a latency, size and memory yardstick, not a classifier).", ""]
    out = ["## Metrics (test subjects)", ""]
    if torch_test:
        out.append(f"PyTorch fp32 (train/compress stage): accuracy {_pct(torch_test.get('accuracy'))}, macro-F1 "
                   f"{_pct(torch_test.get('macro_f1'))}, kappa {torch_test.get('kappa', 0):.3f}.")
        out.append("")
    out += ["| format | accuracy % [95 % CI] | macro-F1 % [95 % CI] | kappa | agreement with PyTorch % | max abs logit diff |",
            "|---|---|---|---:|---:|---:|"]
    for r in scored:
        out.append(f"| {r['format']} | {_ci(r, 'accuracy')} | {_ci(r, 'macro_f1')} | {r['kappa']:.3f} | "
                   f"{_pct(r.get('agreement_torch'))} | {r['parity_max_abs']:.2e} |")
    method = next((r["ci_method"] for r in scored if r.get("ci_method")), None)
    if method:
        out += ["", f"Intervals: {method} over {scored[0].get('ci_groups')} test subject(s)."]
    deltas = [f"- {r['format']}: macro-F1 {100 * r['macro_f1_delta_vs_fp32']:+.2f}{_delta_ci(r, 'macro_f1')} points, "
              f"accuracy {100 * r['accuracy_delta_vs_fp32']:+.2f}{_delta_ci(r, 'accuracy')} points vs {r['fp32_reference']}"
              for r in scored if r.get("macro_f1_delta_vs_fp32") is not None]
    if deltas:
        out += ["", "int8 vs fp32 (same test sequences, each file's own runtime; [95 % CI] paired over the test subjects):",
                "", *deltas]
    return out + [""]


def _device_section(rows: list[dict], env: dict[str, Any]) -> list[str]:
    micro = [r for r in rows if r.get("tflm_arena_bytes") is not None]
    out = ["## On a device", ""]
    if micro:
        out += ["| format | TFLite Micro arena | + feature buffer | RAM | flash (file) | boards it fits (flash and RAM) |",
                "|---|---:|---:|---:|---:|---|"]
        for r in micro:
            ram = r.get("stream_ram_bytes") or r.get("stateful_ram_bytes") or r["tflm_arena_bytes"]
            out.append(f"| {r['format']} | {_kib(r['tflm_arena_bytes'])} | {_kib(r.get('feature_buffer_bytes'))} | "
                       f"{_kib(ram)} | {_kib(r.get('file_bytes'))} | {', '.join(r.get('fits_boards') or []) or 'none'} |")
        out += ["", "Arena = TFLite Micro tensor arena measured by running the int8 file under the TFLite Micro "
                "interpreter (streaming pair: both arenas). Firmware code, stack and I/O buffers need room too."]
    else:
        out.append("No int8 file was measured under TFLite Micro.")
    pk = (env or {}).get("packages", {})
    versions = ", ".join(f"{k} {pk[k]}" for k in RUNTIME_PACKAGES if k in pk)
    out += ["", f"Runtime versions at export: {versions or 'unknown'}; sleepedge commit `{(env or {}).get('git_commit') or 'unknown'}`.", ""]
    return out


def _limitations(model: str, rows: list[dict], train: dict[str, Any]) -> list[str]:
    ds, r0 = train.get("dataset") or {}, rows[0]
    out = []
    if r0.get("untrained"):
        out.append("Random weights: use it for latency, size and memory comparisons only; it does not classify sleep.")
    elif ds.get("synthetic"):
        out.append("Trained and tested on SYNTHETIC EEG: its accuracy says nothing about real recordings.")
    groups = next((r.get("ci_groups") for r in rows if r.get("ci_groups")), None)
    if groups is not None and groups < 2:
        out.append(f"Only {groups} test subject: no confidence interval (a subject bootstrap needs two or more); "
                   "the point estimates are noisy.")
    elif groups is not None and groups < 10:
        out.append(f"Only {groups} test subjects: the confidence intervals are wide and the point estimates noisy.")
    for r in rows:
        d = r.get("macro_f1_delta_vs_fp32")
        if d is not None and d < -0.01:
            out.append(f"{r['format']} loses {-100 * d:.1f} macro-F1 points against fp32 (int8 calibration).")
        if r.get("converter") == "onnx2tf" and (r.get("n_ops") or 0) > 200:
            out.append(f"{r['format']}: onnx2tf unrolls the BiLSTM ({r['n_ops']} operators); per-operator overhead "
                       "dominates small models.")
        if r.get("lstm") == "unrolled" and r["status"] == "ok":
            out.append(f"{r['format']}: LSTM unrolled ({r.get('n_ops')} operators) for speed on x86 hosts; its file and "
                       "TFLite Micro arena are larger than the fused LSTM's (tflite_int8), the format for devices.")
        if r["status"] != "ok":
            out.append(f"{r['format']} failed to export: {r.get('reason')}")
    fused = [r["format"] for r in rows if r.get("converter") == "keras" and r.get("lstm", "fused") == "fused"
             and r["status"] == "ok"]
    if fused:
        out.append(f"{', '.join(fused)}: the fused LSTM keeps its state in variable tensors: reset them before every "
                   "window or head call (TFLite `reset_all_variables()`, TFLite Micro `ResetVariableTensors()`).")
    out.append(f"Input: one EEG channel ({ds.get('channel', '?')}) at {ds.get('sfreq', '?')} Hz in microvolts; other "
               "montages, sampling rates and artefact-heavy recordings are untested.")
    out.append("torch.nn.LSTM has no peephole connections (the paper's cells do); training differs from the paper "
               "(see sleepedge.models.deepsleepnet).")
    return ["## Known limitations", "", *[f"- {t}" for t in out], ""]


def model_card(model: str, rows: list[dict[str, Any]], train: dict[str, Any] | None = None,
               compress: dict[str, Any] | None = None, env: dict[str, Any] | None = None) -> str:
    """Markdown card of ``model`` from its export rows and the train/compress manifests (dicts)."""
    rows = [r for r in rows if r["model"] == model]
    if not rows:
        raise ValueError(f"no export rows for model {model!r}")
    train, compress = train or {}, compress or {}
    torch_test, origin = None, ""
    if rows[0].get("untrained"):
        origin = f"**{rows[0].get('label', 'untrained reference')}.**"
    elif model == "baseline":
        torch_test, origin = (train.get("metrics") or {}).get("test"), "The baseline of the train stage."
    elif model == "compressed" and compress:
        sel = (compress.get("metrics") or {}).get("selected") or {}
        torch_test = {k: sel.get(f"test_{k}") for k in ("accuracy", "macro_f1", "kappa")} if sel else None
        origin = f"Selected by the compress stage: step `{sel.get('model', '?')}`."
    elif model == "causal" and compress:
        causal = (compress.get("metrics") or {}).get("causal") or {}
        origin = (f"The causal head of the compress stage: step `{causal.get('selected', '?')}`, look-ahead "
                  f"{causal.get('lookahead', '?')} ({causal.get('lag_s', '?')} s).")
    head = [f"# Model card: {model}", "",
            "Generated by `sleepedge.export.card` from `export/manifest.json` (rows), `train/manifest.json` and "
            "`compress/manifest.json`; every figure is read from them. Regenerate: "
            "`python -m sleepedge.export.card RUN/export`.", ""]
    return "\n".join(head + _model_section(model, rows, origin) + _files_section(rows) + _stateful_section(rows) + _data_section(train)
                     + _metrics_section(rows, torch_test) + _device_section(rows, env or {})
                     + _limitations(model, rows, train)).rstrip() + "\n"


def _read_json(path: Path, what: str) -> Any:
    """A manifest's JSON; a missing file stays ``FileNotFoundError``, bad JSON is a ``ManifestError`` naming it."""
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, f"{what} not found", str(path))
    try:
        return json.loads(path.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise ManifestError(f"{path}: not readable JSON ({exc})") from None


def _export_rows(export_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The export manifest and its rows, each row with the keys a card is built from."""
    if export_dir.exists() and not export_dir.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a folder (expected an export folder, RUN/export)", str(export_dir))
    path = export_dir / "manifest.json"
    m = _read_json(path, "export manifest")
    rows = (m.get("metrics") or {}).get("rows") if isinstance(m, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ManifestError(f"{path}: no export rows (metrics.rows); not an export manifest")
    for i, r in enumerate(rows):
        missing = [k for k in CARD_ROW_KEYS if k not in r]
        if missing or not isinstance(r.get("arch"), dict):
            raise ManifestError(f"{path}: row {i} ({r.get('model', '?')}) lacks {missing or ['arch']}; "
                                "regenerate the export with this sleepedge")
    return m, rows


def cards_from_export(export_dir: str | Path) -> dict[str, str]:
    """``{model: card}`` rebuilt from an export folder's manifest and its parents' manifests.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        No export manifest there, or the path is a file.
    ManifestError
        A manifest that is not JSON, or export rows without the keys a card needs.
    """
    export_dir = Path(export_dir)
    m, rows = _export_rows(export_dir)
    parent = lambda stage: export_dir.parent / stage / "manifest.json"  # noqa: E731
    read = lambda stage: _read_json(parent(stage), f"{stage} manifest") if parent(stage).is_file() else {}  # noqa: E731
    try:
        return {name: model_card(name, rows, read("train"), read("compress"), m.get("env"))
                for name in dict.fromkeys(r["model"] for r in rows)}
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ManifestError(f"{export_dir}: its manifests do not make a model card ({type(exc).__name__}: {exc})") from None


def _print_cards(export_dir: str, model: str | None) -> int:
    cards = cards_from_export(export_dir)
    if model is not None and model not in cards:
        raise ConfigError(f"--model {model!r}: no such model in {export_dir} (known: {', '.join(cards) or 'none'})")
    for name, text in cards.items():
        if model in (None, name):
            sys.stdout.write(text + "\n")
    sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Print the card(s) of an export folder. Bad input: one line naming the file, exit 2 (the CLI's policy);
    a closed pipe (``... | head``) ends quietly, like other Unix tools. Written here, not through
    ``sleepedge.commands.cli.run_command``: a stage never imports the command line."""
    p = argparse.ArgumentParser(prog="python -m sleepedge.export.card", description=__doc__.splitlines()[0])
    p.add_argument("export_dir")
    p.add_argument("--model", default=None, help="one model (default: all)")
    a = p.parse_args(argv)
    try:
        return _print_cards(a.export_dir, a.model)
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except UserError as exc:
        text = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) and exc.filename and exc.strerror else str(exc)
        print(f"sleepedge.export.card: error: {' '.join(text.split())}", file=sys.stderr)
        return 2


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush raises nothing."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test's capture): nothing to flush
        pass


if __name__ == "__main__":
    raise SystemExit(main())
