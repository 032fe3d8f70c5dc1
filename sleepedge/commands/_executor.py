"""``--executor`` and its Ray settings, shared by ``sleepedge compress`` and ``sleepedge pipeline``."""
from __future__ import annotations

import argparse


def add_executor_arguments(p: argparse.ArgumentParser) -> None:
    """``--executor local|ray``, ``--ray-address``, ``--cpus-per-task``, ``--gpus-per-task``, ``--max-retries``."""
    g = p.add_argument_group("execution: where independent work runs (results equal the in-process run's for the same train.threads)")
    g.add_argument("--executor", default="local", metavar="{local,ray}",
                   help="local: in this process (default); ray: independent work (stage-2 chains, k-fold runs) as Ray "
                        "tasks, on a local Ray or the cluster of --ray-address (needs: pip install 'sleepedge[distributed]')")
    g.add_argument("--ray-address", default=None, help="Ray cluster to join (e.g. auto, ray://head:10001); default: a local Ray")
    g.add_argument("--ray-cpus", type=int, default=None, help="CPUs of a local Ray (default: every core)")
    g.add_argument("--cpus-per-task", type=float, default=0.0,
                   help="CPUs each task declares (default: train.threads, or 1)")
    g.add_argument("--gpus-per-task", type=float, default=None,
                   help="GPU fraction each task declares, e.g. 0.25 = four fine-tunes per GPU (default: 1 on CUDA, else 0)")
    g.add_argument("--max-retries", type=int, default=3, help="retries of a task whose worker died (it resumes)")


def executor_spec(args: argparse.Namespace):
    """The validated :class:`~sleepedge.core.executor.ExecutorSpec` of the command line."""
    from sleepedge.core.executor import ExecutorSpec, validate

    return validate(ExecutorSpec(kind=args.executor, address=args.ray_address, cpus_per_task=args.cpus_per_task,
                                 gpus_per_task=args.gpus_per_task, max_retries=args.max_retries, num_cpus=args.ray_cpus))
