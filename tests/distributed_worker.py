"""One process of a distributed test run (started by tests/test_distribute.py).

Two jobs, chosen by the first argument; each writes what it found to ``OUT/``:

- ``step DEVICES OUT [OPTIONS]``: one training step of SimpleCNN (BatchNorm, no dropout) on
  one global batch of 64 digits, with ``kcnn.train.fit`` on DEVICES replicas and again on one
  device from the same initial weights. Writes ``step.json``: the largest weight difference.
  OPTIONS (JSON) adds `TrainConfig` settings and trains one epoch of 4 batches instead.
- ``fit OUT [setup flags]``: ``kcnn.train.fit`` of SimpleCNN on digits under
  `kcnn.distribute.setup` with the given flags, ``--epochs`` epochs, run folders under
  ``OUT/runs`` (``--resume`` continues the one there). Writes ``weights-<process>.npz``
  and ``history-<process>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import keras
import numpy as np

from kcnn import distribute
from kcnn.data.datasets import load_dataset
from kcnn.models.registry import build_model
from kcnn.train.fit import TrainConfig, fit


def _model(data, dropout=0.5):
    return build_model(
        "simple_cnn",
        input_shape=data.input_shape,
        num_classes=data.num_classes,
        filters=(8, 16),
        dense_units=32,
        dropout=dropout,
    )


def step(devices: int, out: Path, options: dict | None = None) -> None:
    strategy = distribute.setup(devices)
    data = load_dataset("digits", validation_split=0.0)
    images = 256 if options else 64
    data = dataclasses.replace(
        data, x_train=data.x_train[:images], y_train=data.y_train[:images],
        x_test=data.x_test[:0], y_test=data.y_test[:0],
    )  # fmt: skip
    config = TrainConfig(
        epochs=1, batch_size=64, optimizer="sgd", learning_rate=0.1, verbose=0, checkpoint=False,
        **(options or {}),
    )  # fmt: skip
    keras.utils.set_random_seed(0)
    one = _model(data, dropout=0.0)
    start = one.get_weights()
    with strategy.scope():
        many = _model(data, dropout=0.0)
    many.set_weights(start)
    fit(one, data, config, run_dir=None)
    fit(many, data, config, run_dir=None, distribute=strategy)
    moved = max(float(np.abs(a - b).max()) for a, b in zip(one.get_weights(), start))
    diff = max(float(np.abs(a - b).max()) for a, b in zip(one.get_weights(), many.get_weights()))
    (out / "step.json").write_text(
        json.dumps({"max_abs_diff": diff, "max_update": moved, "replicas": strategy.num_replicas})
    )


def run_fit(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--devices", default="all")
    parser.add_argument("--addresses")
    parser.add_argument("--num-processes", type=int)
    parser.add_argument("--process-id", type=int)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    strategy = distribute.setup(
        args.devices,
        addresses=args.addresses,
        num_processes=args.num_processes,
        process_id=args.process_id,
    )
    data = load_dataset("digits", validation_split=0.1)
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = _model(data)
    runs = args.out / "runs"
    resume = next(runs.iterdir()) if args.resume else None
    config = TrainConfig(epochs=args.epochs, batch_size=64, verbose=0)
    history, path = fit(model, data, config, run_dir=runs, resume=resume, distribute=strategy)
    pid = strategy.process_id
    np.savez(args.out / f"weights-{pid}.npz", *model.get_weights())
    (args.out / f"history-{pid}.json").write_text(
        json.dumps({"history": history.history, "path": str(path) if path else None})
    )


if __name__ == "__main__":
    if sys.argv[1] == "step":
        step(int(sys.argv[2]), Path(sys.argv[3]), *[json.loads(a) for a in sys.argv[4:]])
    else:
        run_fit(sys.argv[2:])
