"""``sleepedge predict``: score EDF recordings with an exported model and write their hypnograms.

    sleepedge predict --model RUN/export/compressed/tflite_int8.tflite night.edf --out hyp/
    sleepedge predict --model features.tflite --model head.tflite nights/ --out hyp/ --mode online
    sleepedge predict --model RUN/export/compressed --format stream_tflite_int8 night.edf --out hyp/ \\
        --against RUN/compress/selected.pt

Needs only ``pip install "sleepedge[predict]"`` (bench runtimes + MNE, edfio, matplotlib; no torch, no
TensorFlow); ``--against`` runs PyTorch in a worker process.
"""
from __future__ import annotations

import argparse
import logging

HELP = "score EDF recordings with an exported model (ONNX, TFLite, streaming pair): hypnogram CSV, EDF+, PNG"

log = logging.getLogger(__name__)


def _count(minimum: int):
    """An argparse type: an integer >= ``minimum`` (a refusal is argparse's one error line, exit 2)."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{v} is below {minimum}")
        return v
    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="EDF", help="EDF recording(s) or folder(s) of them")
    p.add_argument("--model", action="append", required=True, metavar="PATH",
                   help="an exported .onnx/.tflite window model; twice for a streaming pair (features and head); "
                        "or an export model folder (RUN/export/<model>) with --format")
    p.add_argument("--format", default=None, help="with a model folder: export format (default: stream_tflite_int8, "
                                                    "else tflite_int8, stream_onnx_fp32, onnx_fp32, then "
                                                    "stateful_tflite_int8, stateful_onnx_fp32)")
    p.add_argument("--out", required=True, help="output folder, written whole like a stage (one .hypnogram.csv/.edf/.png "
                                               "per recording, predict.json, manifest.json)")
    p.add_argument("--channel", default="EEG Fpz-Cz", help="EEG channel to read (default: EEG Fpz-Cz)")
    p.add_argument("--allow-non-eeg", action="store_true",
                   help="score a channel whose physical dimension is not a voltage (its values taken as microvolts)")
    p.add_argument("--resample", action="store_true", help="resample a channel recorded at another rate (else refused)")
    p.add_argument("--mode", choices=("window", "online"), default=None,
                   help="window: windows of L epochs (the default, except for a stateful pair); online (the default "
                        "and only mode of a stateful pair): one decision per epoch as a wearable "
                        "makes it: a stateful pair (stateful_*: state carried, reset at gaps, decisions lookahead "
                        "epochs late) or a streaming pair's firmware loop (one head call per epoch)")
    p.add_argument("--lag", type=_count(0), default=None, help="online: epochs of look-ahead per decision (default L // 2)")
    p.add_argument("--against", metavar="CHECKPOINT", help="also score with this PyTorch checkpoint and report agreement")
    p.add_argument("--threads", type=_count(1), default=1, help="inference threads (default 1)")
    p.add_argument("--no-png", action="store_true", help="skip the figure (no matplotlib needed)")
    p.add_argument("--allow-untrained", action="store_true",
                   help="score with an untrained model (random weights, per its provenance); refused otherwise")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a finished predict folder at --out (kept until the new one is complete)")


def run(args: argparse.Namespace) -> int:
    from sleepedge.predict.model import load_model
    from sleepedge.predict.provenance_check import refuse_untrained
    from sleepedge.predict.run import predict_paths

    from sleepedge.core.errors import DataError
    from sleepedge.run.transaction import refuse_finished

    refuse_finished(args.out, args.overwrite)  # before loading the model; checked again under the folder's lock
    model = load_model(args.model, threads=args.threads, fmt=args.format)
    log.info("model: %s", model.describe())
    refuse_untrained(model, args.allow_untrained)  # random weights: exit 2 unless --allow-untrained
    args.mode = args.mode or ("online" if model.kind == "stateful" else "window")  # a stateful pair only streams
    if args.lag is not None and model.kind == "stateful":
        raise DataError(f"{model.files[1]}: --lag: a stateful pair's lag is its look-ahead "
                        f"({model.runner.lookahead} epoch(s)), fixed when it was trained and exported")
    if args.lag is not None and not (args.mode == "online" and args.lag < model.seq_len):
        raise DataError(f"--lag {args.lag}: only with --mode online, and below the model's window of {model.seq_len} epochs")
    summary = predict_paths(model, args.inputs, args.out, channel=args.channel, resample=args.resample, mode=args.mode,
                            lag=args.lag, against=args.against, png=not args.no_png, overwrite=args.overwrite,
                            allow_non_eeg=args.allow_non_eeg)
    for n in summary["nights"]:
        agree = f"  agreement with PyTorch {n['agreement_torch']:.1%}" if "agreement_torch" in n else ""
        print(f"{n['recording']}: {n['epochs']} epochs ({n['hours']:.1f} h), scored in {n['score_s']:.2f} s, "
              f"wall {n['wall_s']:.2f} s{agree}")
    if model.kind == "stateful":
        k = model.runner.lookahead
        resets = sum(max(len(n.get("resets", [0])) - 1, 0) for n in summary["nights"])
        print(f"online: each decision lags its epoch by {k} epoch(s) ({30 * k} s, the causal head's look-ahead); "
              f"state reset at each recording's start and at {resets} gap boundary(ies)")
    print(f"hypnograms: {args.out}  ({model.describe()})")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m sleepedge.commands.predict ...``: the same as ``sleepedge predict`` with only this subcommand
    imported (for a board or an emulator)."""
    from sleepedge.commands.cli import run_command

    parser = argparse.ArgumentParser(prog="sleepedge predict", description=HELP)
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument("--debug", action="store_true", help="debug log output and the traceback of an error (-vv)")
    add_arguments(parser)
    args = parser.parse_args(argv)
    debug = args.debug or args.verbose >= 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("sleepedge").setLevel(logging.DEBUG if args.verbose or debug else logging.INFO)
    return run_command("predict", lambda: run(args), debug=debug)  # the CLI's error policy: one line, exit 2


if __name__ == "__main__":
    raise SystemExit(main())
