"""The markdown table of export rows (``RUN/export/formats.md``) and its console form."""
from __future__ import annotations

from typing import Any

COLUMNS = ("model", "format", "status", "file_bytes", "params", "parity_max_abs", "accuracy", "macro_f1",
           "kappa", "agreement_torch", "flex_ops", "float_ops", "tflm_arena_bytes", "fits_boards", "convert_s")


def _cell(key: str, v: Any) -> str:
    if v is None:
        return ""
    if key == "file_bytes" or key == "tflm_arena_bytes":
        return f"{v / 1024:,.1f} KiB"
    if key in ("accuracy", "macro_f1", "agreement_torch"):
        return f"{100 * v:.1f}"
    if key == "kappa":
        return f"{v:.3f}"
    if key == "parity_max_abs":
        return f"{v:.2e}"
    if key == "convert_s":
        return f"{v:.1f}"
    if isinstance(v, dict):
        return ", ".join(f"{k}x{n}" for k, n in v.items()) or "-"
    if isinstance(v, list):
        return ", ".join(map(str, v)) or "-"
    return f"{v:,}" if isinstance(v, int) else str(v).replace("|", "/")


def _row_cell(r: dict[str, Any], key: str) -> str:
    if key == "model" and r.get("untrained"):
        return f"{r['model']} (untrained reference)"
    if key == "format" and r.get("converter") not in (None, "torch.onnx", "onnx2tf"):
        return f"{r['format']} ({r['converter']})"
    return _cell(key, r.get(key))


STREAM_ARENA_GOAL = 64 * 1024  # issue 11: the compressed pair's TFLite Micro arenas together


def stream_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per measured int8 streaming pair: both arenas, the feature ring buffer and the RAM they need;
    for the compressed model, whether the arenas meet the 64 KiB goal."""
    out = []
    for r in rows:
        if r.get("kind") == "stream" and r.get("tflm_arena_features_bytes") is not None:
            goal = ""
            if r["model"] == "compressed" and r.get("tflm_arena_bytes") is not None:
                met = r["tflm_arena_bytes"] <= STREAM_ARENA_GOAL
                goal = f"; arenas {'within' if met else 'OVER'} the {STREAM_ARENA_GOAL // 1024} KiB goal"
            out.append(f"- {r['model']}/{r['format']}: TFLite Micro arenas features {_cell('tflm_arena_bytes', r['tflm_arena_features_bytes'])}"
                       f" + head {_cell('tflm_arena_bytes', r.get('tflm_arena_head_bytes'))}, feature buffer "
                       f"{r['feature_buffer_bytes']:,} bytes ({r['stream_window']} epochs x {r['n_features']} int8); "
                       f"RAM {_cell('tflm_arena_bytes', r.get('stream_ram_bytes'))}; fits {', '.join(r.get('fits_boards') or []) or 'none'}"
                       + goal)
    return out
def stateful_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per stateful pair: look-ahead, state layout, agreement and state error over the test nights, and
    for an integer pair both TFLite Micro arenas and the RAM of the firmware loop (arenas + state + one epoch)."""
    out = []
    for r in rows:
        if r.get("kind") != "stateful" or r["status"] != "ok":
            continue
        line = (f"- {r['model']}/{r['format']}: look-ahead {r['lookahead']} ({r['lag_s']} s lag), state {r['state_layers']} x "
                f"{r['state_hidden']} {r['state_dtype']} ({r['state_bytes']:,} bytes); {r.get('test_epochs')} test epochs, "
                f"agreement {_cell('agreement_torch', r.get('agreement_torch'))} %, max state error "
                f"{r.get('state_max_abs_error') or 0:.3g}" + _drift(r))
        if r.get("tflm_arena_features_bytes") is not None:
            line += (f"; TFLite Micro arenas features {_cell('tflm_arena_bytes', r['tflm_arena_features_bytes'])} + step "
                     f"{_cell('tflm_arena_bytes', r.get('tflm_arena_step_bytes'))}, RAM {_cell('tflm_arena_bytes', r.get('stateful_ram_bytes'))}"
                     f"; fits {', '.join(r.get('fits_boards') or []) or 'none'}")
        if r.get("tflm_night_epochs"):
            line += (f"; a whole test night under TFLite Micro ({r['tflm_night_epochs']} epochs, state carried): "
                     f"{100 * r['tflm_night_agreement_torch']:.2f} % of the stages equal to PyTorch's")
        elif r.get("tflm_night_reason"):
            line += f"; the TFLite Micro night FAILED: {r['tflm_night_reason'][:200]}"
        out.append(line)
    return out


def _drift(r: dict[str, Any]) -> str:
    """Mean state error over the nights' first and last hour (drift shows as a larger last hour)."""
    first, last = r.get("state_error_first_hour"), r.get("state_error_last_hour")
    return "" if first is None or last is None else f" (mean per step: first hour {first:.3g}, last hour {last:.3g})"


def _ci(row: dict[str, Any], metric: str) -> str:
    ci = row.get(f"{metric}_delta_vs_fp32_ci")
    return f" [{ci[0]:+.2f}, {ci[1]:+.2f}]" if ci else ""


def formats_markdown(rows: list[dict[str, Any]], title: str = "Export formats") -> str:
    """A markdown table with one line per row, then the failure reasons."""
    head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    body = "".join("| " + " | ".join(_row_cell(r, k) for k in COLUMNS) + " |\n" for r in rows)
    notes = [f"- {r['model']}/{r['format']}: {r['reason']}" for r in rows if r.get("reason")]
    notes += [f"- {r['model']}/{r['format']}: TFLite Micro {r['tflm_status']}: {r.get('tflm_reason')}"
              for r in rows if r.get("tflm_reason")]
    legend = ("\nSizes in KiB; accuracy, macro-F1 and agreement with PyTorch in percent on the test sequences, "
              "scored by each file's own runtime. parity = max |logit difference| vs PyTorch (int8: dequantised). "
              "float_ops = operators touching float tensors in an int8 model. fits = boards whose flash holds "
              "the file and whose RAM holds the TFLite Micro arena (before firmware overhead).\n")
    deltas = [f"- {r['model']}/{r['format']}: macro-F1 {100 * r['macro_f1_delta_vs_fp32']:+.2f}{_ci(r, 'macro_f1')} points, accuracy "
              f"{100 * r['accuracy_delta_vs_fp32']:+.2f}{_ci(r, 'accuracy')} points vs {r['fp32_reference']}"
              + (f"; int8 input range clipped at ±{r['calib_clip_uv']:.0f} µV" if r.get("calib_clip_uv") else "")
              for r in rows if r.get("macro_f1_delta_vs_fp32") is not None]
    legend += ("Streaming pairs (stream_*): features model + sequence head, sizes and arenas summed; scored by running "
               "the pair on every test window. Untrained reference: paper-size DeepSleepNet with random weights, no accuracy.\n")
    text = f"# {title}\n\n" + head + body + legend
    if stateful_lines(rows):
        text += ("\nStateful pairs (stateful_*: feature model + one-step causal head, the LSTM state carried by the caller; "
                 "scored over whole test nights, one call of each per epoch):\n\n" + "\n".join(stateful_lines(rows)) + "\n")
    if stream_lines(rows):
        text += "\nStreaming pairs on a microcontroller:\n\n" + "\n".join(stream_lines(rows)) + "\n"
    if deltas:
        text += ("\nint8 vs fp32 (same test sequences, each file's own runtime; [95 % CI] paired over the test subjects):\n\n"
                 + "\n".join(deltas) + "\n")
    return text + ("\nFailures:\n\n" + "\n".join(notes) + "\n" if notes else "")
