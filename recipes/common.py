"""What every recipe shares: its flags, the backend switch, one training run.

Each recipe is a script with one CONFIG at the top and a ``main(argv) -> float`` that
returns its headline metric. Flags override the CONFIG:

    --epochs N  --batch-size N  --backend tensorflow|jax|torch  --out FOLDER
    --dataset NAME_OR_PATH (where the recipe takes a data set)
    --devices all|N|gpu:0,gpu:1  [--addresses HOST:PORT --num-processes N --process-id I]

``--devices`` and the group flags train every model of the recipe data-parallel, as
``kcnn train`` does (JAX and TensorFlow; see the docs' Training on many devices); the
batch size is then the global batch.

``KERAS_MAX_EPOCHS`` / ``KERAS_MAX_STEPS_PER_EPOCH`` cut any recipe down to a smoke test.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time

from kcnn.cli import add_group_flags, strategy_from

#: The `kcnn.distribute.Strategy` that --devices set up, used by `train` (None: one device).
STRATEGY = None


def parse_args(description: str, config: dict, argv=None, dataset: bool = False, extra=None):
    """Parse the common flags and select the backend before Keras is imported.

    ``extra(parser)`` adds a recipe's own flags.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=config["epochs"])
    parser.add_argument("--batch-size", type=int, default=config["batch_size"])
    parser.add_argument(
        "--backend", choices=("tensorflow", "jax", "torch"), help="Keras backend to use"
    )
    parser.add_argument("--out", default=config.get("out", "runs"), help="run folders go here")
    if dataset:
        parser.add_argument("--dataset", default=config["dataset"], help="data set name or path")
    add_group_flags(parser)  # the same flags as kcnn train's
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    if args.backend:
        if "keras" in __import__("sys").modules:
            import keras

            if keras.backend.backend() != args.backend:
                raise SystemExit(
                    f"--backend {args.backend}: Keras is already loaded with the "
                    f"{keras.backend.backend()} backend in this process."
                )
        os.environ["KERAS_BACKEND"] = args.backend
    global STRATEGY
    STRATEGY = strategy_from(args)  # first, before the backend runs anything
    return args


def train(model_name: str, data, config, out, label: str | None = None, **model_kwargs):
    """Build a registered model for ``data``, fit it, and return (test accuracy, history,
    run folder, minutes)."""
    import keras

    import kcnn

    keras.utils.set_random_seed(config.seed)
    with STRATEGY.scope() if STRATEGY is not None else contextlib.nullcontext():
        model = kcnn.build_model(
            model_name, input_shape=data.input_shape, num_classes=data.num_classes, **model_kwargs
        )
    start = time.perf_counter()
    history, run = kcnn.train.fit(model, data, config, run_dir=out, distribute=STRATEGY)
    minutes = (time.perf_counter() - start) / 60
    if run is None:  # not process 0 of a group: process 0 reports
        return float("nan"), history.history, None, minutes
    accuracy = test_accuracy(run)
    print(f"{label or model_name}: test accuracy {accuracy:.4f}, {minutes:.1f} min, run {run}")
    return accuracy, history.history, run, minutes


def test_accuracy(run) -> float:
    """The test accuracy a run folder's ``metrics.json`` records (NaN without a test set)."""
    import json

    return json.loads((run / "metrics.json").read_text()).get("test_accuracy", float("nan"))
