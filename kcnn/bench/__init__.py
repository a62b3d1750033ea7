"""Training throughput, measured side by side: kcnn on each backend, and any baseline.

`run_benchmark` (and ``kcnn bench``) starts one worker process per contender (a backend
cannot change inside a process), lets each build its model and load the same images, then
runs their epochs in turn: round 1 is the warm-up (tracing, compilation, first allocations),
then every round times one epoch of each contender, in an order that rotates from round to
round. Only one worker computes at a time; the others wait on a pipe. Since every
contender's samples come from the same minutes of the same machine, their ratios hold even
when the machine is shared and its speed drifts, which a lone absolute time does not.

A contender is kcnn itself (``source="kcnn"``: `kcnn.train.fit` with its own input pipeline
and callbacks, no run folder) or a Python file with a ``train(session)`` function (the
hand-written baselines in the repository's ``benchmarks/baselines/``). Such a function
trains ``session.spec["epochs"]`` epochs on ``session.x`` and ``session.y``, calling
``session.epoch_begin()`` and ``session.epoch_end(images)`` around each, or passing
``session.callback()`` to ``model.fit``.

Reported per contender: images per second (median, min, max over the timed epochs), step
time, the warm-up epoch's extra time ("compile": first epoch minus a steady epoch), the
process's peak memory (resident set on CPU, the device's peak on a GPU), and for kcnn the
input pipeline's images per second with an augmentation policy, timed in the same rounds.

The package: `session` (what a worker's ``train`` gets), `worker` (the worker process,
``python -m kcnn.bench``), `contenders` (what to measure), `harness` (the coordinator),
`report` (ratios, the table, result files). ``import kcnn`` does not import it.
"""

from kcnn.bench.contenders import BACKENDS, Contender, baseline_contenders, kcnn_contenders
from kcnn.bench.harness import BENCH_MODELS, DEFAULT_IMAGES, bench_arrays, benchmark, run_benchmark
from kcnn.bench.report import (
    format_report,
    machine_info,
    machine_tag,
    ratios,
    result_path,
    write_report,
)
from kcnn.bench.session import Session, peak_memory_mb
from kcnn.bench.worker import train_kcnn

__all__ = [
    "BACKENDS",
    "BENCH_MODELS",
    "DEFAULT_IMAGES",
    "Contender",
    "Session",
    "baseline_contenders",
    "bench_arrays",
    "benchmark",
    "format_report",
    "kcnn_contenders",
    "machine_info",
    "machine_tag",
    "peak_memory_mb",
    "ratios",
    "result_path",
    "run_benchmark",
    "train_kcnn",
    "write_report",
]
