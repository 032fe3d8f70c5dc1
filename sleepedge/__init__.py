"""sleepedge: turn DeepSleepNet into a deployable wearable model.

Stages install as subpackages: ``sleepedge.models``, ``sleepedge.train``, ``sleepedge.compress``,
``sleepedge.export`` and ``sleepedge.firmware_bench``. The core package (this folder) holds the CLI,
config, run-folder manifests, seeding, metrics and the budget check, and imports only numpy.
"""
__version__ = "0.1.0"
