"""A benchmark worker process: ``python -m kcnn.bench SPEC.json`` runs `main`.

The worker reads its spec and the images the coordinator saved, builds a `Session` on its
stdin and stdout, and hands it to the contender's ``train``: `train_kcnn` for kcnn itself,
else the ``train`` function of the Python file the spec names.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kcnn.bench.session import Session


def train_kcnn(session: Session) -> None:
    """The kcnn contender: `kcnn.train.fit` on a `Dataset` of the session's images, with
    kcnn's input pipeline and callbacks and no run folder. ``options["pipeline"]`` names an
    augmentation policy whose input pipeline is timed on the coordinator's request;
    ``options["mixed_precision"]`` is passed to `kcnn.train.TrainConfig`;
    ``options["devices"]`` trains data-parallel on that many devices (`kcnn.distribute`; the
    worker sets it up before the backend starts)."""
    import contextlib

    import keras

    from kcnn.data.datasets import Dataset
    from kcnn.data.pipeline import make_pipeline
    from kcnn.models.registry import build_model
    from kcnn.train import TrainConfig, fit

    spec = session.spec
    empty_x, empty_y = session.x[:0], session.y[:0]
    data = Dataset(
        name="bench",
        x_train=session.x,
        y_train=session.y,
        x_val=empty_x,
        y_val=empty_y,
        x_test=empty_x,
        y_test=empty_y,
        class_names=[str(i) for i in range(spec["num_classes"])],
    )
    config = TrainConfig(
        epochs=spec["epochs"],
        batch_size=spec["batch_size"],
        seed=spec["seed"],
        steps_per_execution=spec.get("steps_per_execution", "auto"),
        jit_compile=spec.get("jit_compile", "auto"),
        data_path=spec.get("data_path", "device"),
        mixed_precision=spec.get("options", {}).get("mixed_precision", False),
        verbose=0,
    )
    policy = spec.get("options", {}).get("pipeline")
    if policy:

        def pipeline_rate() -> dict:
            pipe = make_pipeline(
                session.x, session.y, spec["batch_size"], policy, dataset=data,
                seed=spec["seed"], path=config.data_path,
            )  # fmt: skip
            pipe[0]  # warm-up: the augmentation layers build their generators
            start = time.perf_counter()
            count = sum(int(pipe[i][0].shape[0]) for i in range(len(pipe)))
            return {"policy": policy, "images_per_second": count / (time.perf_counter() - start)}

        session.handlers["pipeline"] = pipeline_rate
    keras.utils.set_random_seed(spec["seed"])
    strategy = session.strategy
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_model(
            spec["model"], input_shape=tuple(spec["input_shape"]), num_classes=spec["num_classes"]
        )
    fit(model, data, config, run_dir=None, callbacks=[session.callback()], distribute=strategy)


def _load_train(spec: dict, strategy) -> Callable[[Session], None]:
    """The contender's ``train`` function. For kcnn, ``spec["steps_per_execution"]`` is
    resolved here ("auto" becomes a number), so that the result says what ran."""
    if spec["source"] == "kcnn":
        from kcnn.train.fit import resolve_steps_per_execution

        spec["steps_per_execution"] = resolve_steps_per_execution(
            spec.get("steps_per_execution", "auto"), strategy
        )
        return train_kcnn
    import importlib.util

    name = Path(spec["source"]).stem
    module_spec = importlib.util.spec_from_file_location(name, spec["source"])
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # torch.compile looks the module up by name
    module_spec.loader.exec_module(module)
    return module.train


def main(spec_path: str) -> None:
    """Entry point of a worker process: ``python -m kcnn.bench SPEC.json``."""
    spec = json.loads(Path(spec_path).read_text())
    arrays = np.load(spec["data_file"])
    reply = sys.stdout
    sys.stdout = sys.stderr  # library output must not mix with the protocol
    strategy = None
    if spec.get("options", {}).get("devices") is not None:
        from kcnn import distribute  # before the Session asks the backend for its device

        strategy = distribute.setup(spec["options"]["devices"])
    session = Session(
        spec, arrays["x"], arrays["y"], commands=sys.stdin, reply=reply, strategy=strategy
    )
    train = _load_train(spec, strategy)
    session.send(
        {
            "command": "ready",
            "device": session.device,
            "steps_per_execution": spec.get("steps_per_execution", 1),
        }
    )
    train(session)
    session.send({"command": "done"})
