"""sleepedge: turn DeepSleepNet into a deployable wearable model.

The public API (:mod:`sleepedge.api`, loaded on first use so that ``import sleepedge`` stays cheap)::

    import sleepedge
    cfg = sleepedge.load_config("quick", ["data.dataset=synthetic"])
    sleepedge.run_pipeline("runs/demo", cfg)        # train, compress, export, bench, check
    sleepedge.check_budget("wearable", "runs/demo")  # -> CheckResult (.passed, .rows, .failed)
    model = sleepedge.load_model("runs/demo/export/compressed/tflite_int8.tflite")
    sleepedge.predict_recordings(model, ["night.edf"], out="scored")

Layers (docs/architecture.md): ``sleepedge.core``, ``.run`` and ``.config`` at the bottom; the
architectures (``sleepedge.models``) and the stages (``.train``, ``.compress``, ``.export``,
``.firmware_bench``, ``.check``); the application (``.predict``); the pipeline; the command line
(``.commands``); and the measurement tools behind the docs' figures (``.lab``).
"""
__version__ = "0.1.0"
__all__ = ["check_budget", "load_config", "load_model", "predict_recordings", "run_pipeline"]


def __getattr__(name: str):  # PEP 562: the API module (and what it imports) loads on first use
    if name in __all__:
        from sleepedge import api

        return getattr(api, name)
    raise AttributeError(f"module 'sleepedge' has no attribute {name!r}")
