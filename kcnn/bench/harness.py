"""The coordinator: one worker process per contender, their epochs taking turns.

`run_benchmark` starts one worker process per contender (a backend cannot change inside a
process), lets each build its model and load the same images, then runs their epochs in
turn: the warm-up rounds first (tracing, compilation, first allocations), then every round
times one epoch of each contender, in an order that rotates from round to round. Only one
worker computes at a time; the others wait on a pipe.
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kcnn._io import write_json
from kcnn._validate import check_choice, check_int
from kcnn.bench.contenders import Contender
from kcnn.bench.report import machine_info
from kcnn.bench.session import MESSAGE_TAG

#: The benchmarked models and the image shape each is measured at.
BENCH_MODELS = {
    "lenet5": (28, 28, 1),
    "simple_cnn": (28, 28, 1),
    "resnet20": (32, 32, 3),
    "resnet18": (64, 64, 3),
}
#: Images per timed epoch: a few seconds per epoch on a 2-core CPU.
DEFAULT_IMAGES = {"lenet5": 16384, "simple_cnn": 8192, "resnet20": 2048, "resnet18": 1024}


class _Worker:
    """A contender's process (``python -m kcnn.bench SPEC.json``) and the pipe to it."""

    def __init__(self, contender: Contender, spec: dict, folder: Path, timeout: float):
        self.contender = contender
        self.timeout = timeout
        spec_path = write_json(folder / f"spec-{id(self)}.json", spec, indent=None)
        self.log_path = folder / f"worker-{id(self)}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop())
        env = {**os.environ, "KERAS_BACKEND": contender.backend}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        # The contenders live side by side: JAX would take 75% of the GPU's memory in each
        # process, and TensorFlow all of it, leaving nothing for the next one.
        env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
        env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kcnn.bench", str(spec_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            text=True, env=env,
        )  # fmt: skip
        self._messages: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            if line.startswith(MESSAGE_TAG):
                self._messages.put(json.loads(line[len(MESSAGE_TAG) :]))
        self._messages.put(None)

    def ask(self, command: str | None, expect: str) -> dict:
        """Send a command (None: only wait) and return the reply, bounded by the timeout."""
        if command is not None:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        try:
            message = self._messages.get(timeout=self.timeout)
        except queue.Empty:
            self.stop()
            raise TimeoutError(
                f"{self.contender.label} did not answer {command or expect!r} within "
                f"{self.timeout:.0f} s. Its log: {self.log_path}"
            ) from None
        if message is None or message.get("command") != expect:
            self.stop()
            tail = self.log_path.read_text()[-3000:]
            raise RuntimeError(
                f"{self.contender.label} failed (expected {expect!r}, got {message!r}). "
                f"The end of its log:\n{tail}"
            )
        return message

    def stop(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.write("stop\n")
                self.process.stdin.flush()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self._log.close()


def bench_arrays(input_shape: tuple, images: int, seed: int = 0) -> tuple:
    """``images`` Fashion-MNIST training images (the bundled digits when it is not on this
    machine), resized and repeated to ``input_shape``, with their labels."""
    from kcnn.data.datasets import load_dataset

    height, width, channels = input_shape
    try:
        data = load_dataset("fashion_mnist", validation_split=0)
    except FileNotFoundError:
        data = load_dataset("digits", validation_split=0)
    picks = np.random.default_rng(seed).permutation(len(data.x_train))
    picks = np.resize(picks, images)  # repeats images when the data set is smaller
    x, y = data.x_train[picks], data.y_train[picks]
    if x.shape[1:3] != (height, width):
        import keras

        x = keras.ops.convert_to_numpy(keras.ops.image.resize(x, (height, width)))
    if x.shape[-1] != channels:
        x = np.repeat(x, channels, axis=-1)
    return x.astype("float32"), y.astype("int32"), data.name


def _summary(values: list[float]) -> dict:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
        "samples": [round(v, 4) for v in values],
    }


def _check_arguments(model: str, contenders: list[Contender], repeats, warmup) -> None:
    check_choice("model", model, BENCH_MODELS)
    check_int("repeats", repeats, minimum=1)
    check_int("warmup", warmup, minimum=1)
    if not contenders:
        raise ValueError("contenders is empty: there is nothing to measure.")
    labels = [c.label for c in contenders]
    if len(set(labels)) != len(labels):
        raise ValueError(f"Contender labels must differ. Received: {labels}")


def _spec(contender: Contender, model: str, epochs: int, seed: int, pipeline, data_file) -> dict:
    """What a worker reads: the contender's settings, the model and the images' file."""
    options = dict(contender.options)
    if contender.source == "kcnn" and pipeline:
        options["pipeline"] = pipeline
    return {
        "model": model,
        "input_shape": list(BENCH_MODELS[model]),
        "num_classes": 10,
        "batch_size": contender.batch_size,
        "steps_per_execution": contender.steps_per_execution,
        "jit_compile": contender.jit_compile,
        "data_path": contender.data_path,
        "epochs": epochs,
        "seed": seed,
        "source": contender.source,
        "options": options,
        "data_file": str(data_file),
    }


def _run_rounds(workers: list[_Worker], model, warmup, repeats, pipeline, progress) -> dict:
    """Every round, one epoch of each worker in a rotating order (and a timing of a kcnn
    worker's input pipeline before its timed epochs). Returns per label the timed epochs'
    seconds, the first warm-up epoch's seconds, the pipeline's images/s and the last peak
    memory reported."""
    measured = {
        w.contender.label: {"seconds": [], "first": None, "pipeline": [], "memory": None}
        for w in workers
    }
    for round_index in range(warmup + repeats):
        shift = round_index % len(workers)
        for worker in workers[shift:] + workers[:shift]:
            label = worker.contender.label
            m = measured[label]
            if pipeline and worker.contender.source == "kcnn" and round_index >= warmup:
                m["pipeline"].append(worker.ask("pipeline", "pipeline")["images_per_second"])
            record = worker.ask("epoch", "epoch")
            m["memory"] = record["peak_memory_mb"]
            if round_index < warmup:
                if m["first"] is None:
                    m["first"] = record["seconds"]
                continue
            m["seconds"].append(record["seconds"])
            progress(
                f"{model:10} {label:28} epoch {round_index - warmup + 1}/{repeats}: "
                f"{record['images'] / record['seconds']:8.0f} images/s"
            )
    return measured


def _result(contender: Contender, ready: dict, measured: dict, images: int, pipeline) -> dict:
    """One contender's entry in the results, from its worker's ready message and its rounds."""
    seconds = measured["seconds"]
    steps = -(-images // contender.batch_size)
    steady = statistics.median(seconds)
    entry = {
        "name": contender.name,
        "backend": contender.backend,
        "source": "kcnn" if contender.source == "kcnn" else Path(contender.source).name,
        "batch_size": contender.batch_size,
        "steps_per_execution": ready["steps_per_execution"],
        "jit_compile": contender.jit_compile,
        "data_path": contender.data_path,
        "options": contender.options,
        "device": ready["device"],
        "images_per_second": _summary([images / s for s in seconds]),
        "step_ms": _summary([1000 * s / steps for s in seconds]),
        "compile_seconds": max(0.0, measured["first"] - steady),
        "peak_memory_mb": round(measured["memory"], 1),
    }
    if measured["pipeline"]:
        rates = _summary(measured["pipeline"])
        entry["pipeline"] = {"policy": pipeline, "images_per_second": rates}
    return entry


def run_benchmark(
    model: str,
    contenders: list[Contender],
    images: int | None = None,
    repeats: int = 3,
    warmup: int = 1,
    seed: int = 0,
    pipeline: str | None = "flip_crop",
    timeout: float = 900.0,
    progress: Callable[[str], object] = print,
) -> dict:
    """Measure every contender's training throughput on ``model``, interleaved.

    Args:
        model: one of `BENCH_MODELS`, measured at the image shape given there.
        contenders: what to measure, each in its own process.
        images: images per epoch. Defaults to `DEFAULT_IMAGES` for the model.
        repeats: timed epochs per contender. Defaults to 3.
        warmup: untimed epochs first (compilation). Defaults to 1.
        seed: seed of the image choice and of training. Defaults to 0.
        pipeline: augmentation policy whose kcnn input pipeline is timed in every round,
            or None. Defaults to ``"flip_crop"``.
        timeout: seconds any one answer of a worker may take. Defaults to 900.
        progress: called with a line of text per measurement. Defaults to print.

    Returns:
        ``{"model", "input_shape", "images", "data", "results": {label: {...}}}``.

    Raises:
        ValueError: an unknown model, a bad count, or two contenders with the same label.
        RuntimeError / TimeoutError: a worker failed or stopped answering; its log is named.
    """
    _check_arguments(model, contenders, repeats, warmup)
    images = images or DEFAULT_IMAGES[model]
    x, y, data_name = bench_arrays(BENCH_MODELS[model], images, seed)
    with tempfile.TemporaryDirectory(prefix="kcnn-bench-") as folder:
        data_file = Path(folder) / "data.npz"
        np.savez(data_file, x=x, y=y)  # scratch, read once by each worker
        workers = []
        try:
            for contender in contenders:
                spec = _spec(contender, model, warmup + repeats, seed, pipeline, data_file)
                workers.append(_Worker(contender, spec, Path(folder), timeout))
            ready = {w.contender.label: w.ask(None, "ready") for w in workers}
            measured = _run_rounds(workers, model, warmup, repeats, pipeline, progress)
            for worker in workers:
                worker.ask(None, "done")
        finally:
            for worker in workers:
                worker.stop()
    results = {
        c.label: _result(c, ready[c.label], measured[c.label], images, pipeline) for c in contenders
    }
    return {
        "model": model,
        "input_shape": list(BENCH_MODELS[model]),
        "images": images,
        "data": data_name,
        "repeats": repeats,
        "warmup": warmup,
        "results": results,
    }


def benchmark(models, contenders: list[Contender], **kwargs) -> dict:
    """`run_benchmark` for each model, with the machine, versions and date: the report that
    `format_report` prints and `write_report` saves. Keyword arguments go to
    `run_benchmark`."""
    if isinstance(models, str):
        models = [models]
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "runs": [run_benchmark(model, contenders, **kwargs) for model in models],
    }
