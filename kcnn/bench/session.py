"""The worker side of the protocol: the `Session` a contender's ``train`` function gets.

A worker reads one command per line on its stdin (``epoch``, a measurement such as
``pipeline``, or ``stop``) and answers each on its stdout with a line that starts with
`MESSAGE_TAG` followed by JSON, so that library output on stdout cannot be mistaken for an
answer.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

from kcnn._backend import has_gpu

#: The prefix of every protocol line a worker writes.
MESSAGE_TAG = "KCNN-BENCH "


class Session:
    """What a contender's ``train`` function gets: its spec, the images, and the clock.

    Attributes:
        spec: the contender's settings: ``model``, ``input_shape``, ``num_classes``,
            ``batch_size``, ``epochs`` (warm-up plus timed), ``seed``,
            ``steps_per_execution``, ``jit_compile``, ``options`` (contender-specific).
        x: float32 images in [0, 1], ``(n, h, w, c)``.
        y: int32 labels ``(n,)``.
        device: ``"cuda"`` when the backend sees a GPU, else ``"cpu"``.
        records: the epochs timed so far, as dicts (``seconds``, ``images``, ...).
        strategy: the `kcnn.distribute.Strategy` when ``options["devices"]`` is set, else
            None.
    """

    def __init__(
        self, spec: dict, x: np.ndarray, y: np.ndarray, commands=None, reply=None, strategy=None
    ):
        self.spec = spec
        self.x, self.y = x, y
        self.device = "cuda" if has_gpu() else "cpu"
        self.records: list[dict] = []
        self.handlers: dict = {}
        self._commands = commands  # a file to read commands from; None runs freely
        self._reply = reply
        self._start = None
        self.strategy = strategy

    def epoch_begin(self) -> None:
        """Wait for the coordinator's go (running any measurement it asks for first), then
        start the clock."""
        while self._commands is not None:
            line = self._commands.readline()
            if not line or line.strip() == "stop":
                raise SystemExit(0)
            command = line.strip()
            if command == "epoch":
                break
            if command not in self.handlers:
                self.send({"error": f"unknown command {command!r}"})
                continue
            self.send({"command": command, **self.handlers[command]()})
        self._start = time.perf_counter()

    def epoch_end(self, images: int) -> None:
        """Stop the clock (the epoch's work must be finished) and report the epoch."""
        seconds = time.perf_counter() - self._start
        record = {"command": "epoch", "seconds": seconds, "images": int(images)}
        record["peak_memory_mb"] = peak_memory_mb(self.device)
        self.records.append(record)
        self.send(record)

    def callback(self):
        """A Keras callback that calls `epoch_begin` and `epoch_end` around every epoch. It
        has no batch hooks, so Keras keeps dispatching steps asynchronously."""
        import keras

        session = self

        class _EpochClock(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                session.epoch_begin()

            def on_epoch_end(self, epoch, logs=None):
                session.epoch_end(len(session.x))

        return _EpochClock()

    def send(self, message: dict) -> None:
        if self._reply is not None:
            self._reply.write(MESSAGE_TAG + json.dumps(message) + "\n")
            self._reply.flush()


def peak_memory_mb(device: str | None = None) -> float:
    """The peak memory of this process so far: the GPU's peak allocation when training runs
    on one (``device="cuda"``; None asks the backend), else the peak resident set size."""
    if device is None:
        device = "cuda" if has_gpu() else "cpu"
    if device == "cuda":
        backend = os.environ.get("KERAS_BACKEND")
        if backend == "torch":
            import torch

            return torch.cuda.max_memory_allocated() / 2**20
        if backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            return stats.get("peak_bytes_in_use", 0) / 2**20
        if backend == "tensorflow":
            import tensorflow as tf

            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    try:  # Linux: the peak of this program (ru_maxrss would carry the parent's over exec)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
