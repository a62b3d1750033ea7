"""The training recipe: validate, compile, fit, and write a run folder.

A run folder holds everything needed to look at a run afterwards:

| file | what |
|---|---|
| ``model.keras`` | the trained model (reload with ``keras.saving.load_model``) |
| ``history.json`` | loss and accuracy per epoch |
| ``curves.png`` | training and validation loss and accuracy |
| ``confusion.png`` | confusion matrix on the test set |
| ``metrics.json`` | test loss and accuracy, parameter count, time taken |
| ``config.json`` | the `TrainConfig` and model name |
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from kcnn.data.datasets import Dataset
from kcnn.data.pipeline import make_pipeline
from kcnn.inspect.counts import count_params
from kcnn.inspect.visualize import plot_confusion_matrix, plot_history

OPTIMIZERS = ("adam", "adamw", "sgd")


@dataclasses.dataclass
class TrainConfig:
    """Settings of one training run.

    Attributes:
        epochs: passes over the training set. Defaults to 10.
        batch_size: images per step. Defaults to 64.
        learning_rate: the optimizer's learning rate. Defaults to 1e-3.
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"`` (with Nesterov momentum 0.9).
            Defaults to ``"adam"``.
        weight_decay: decoupled weight decay for ``adamw``. Defaults to 1e-4.
        augment: an augmentation policy name or a list of transform names (see
            `kcnn.data.augmentation`), checked against the data set's label rules; MixUp
            and CutMix switch the loss to categorical cross-entropy on one-hot labels.
            Defaults to None.
        seed: seeds Keras, NumPy and Python's random module
            (`keras.utils.set_random_seed`). Defaults to 0.
        verbose: Keras' progress output: 0 silent, 1 progress bar, 2 one line per epoch.
            Defaults to 1.
    """

    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    optimizer: str = "adam"
    weight_decay: float = 1e-4
    augment: str | list | None = None
    seed: int = 0
    verbose: int = 1

    def __post_init__(self):
        for field, minimum in (("epochs", 1), ("batch_size", 1)):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(
                    f"{field} must be an integer >= {minimum}. Received: {field}={value!r}"
                )
        if not isinstance(self.learning_rate, (int, float)) or not self.learning_rate > 0:
            raise ValueError(
                f"learning_rate must be > 0. Received: learning_rate={self.learning_rate!r}"
            )
        if self.augment is not None and not (
            isinstance(self.augment, str)
            or (
                isinstance(self.augment, (list, tuple))
                and all(isinstance(t, str) for t in self.augment)
            )
        ):
            raise ValueError(
                "augment must be a policy name or a list of transform names. "
                f"Received: augment={self.augment!r}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(
                f"optimizer must be one of {list(OPTIMIZERS)}. "
                f"Received: optimizer={self.optimizer!r}"
            )


def make_optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    """The optimizer a `TrainConfig` names."""
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(config.learning_rate, momentum=0.9, nesterov=True)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay)
    return keras.optimizers.Adam(config.learning_rate)


def check_data(model: keras.Model, x, y, argument: str = "x") -> None:
    """Check images and labels against a model before ``fit``, where Keras is silent.

    Keras trains on out-of-range labels without complaint on JAX (the loss is simply 0 for
    them) and raises a bare ``StopIteration`` on empty arrays, so these are caught here.

    Raises:
        ValueError: empty data, a length mismatch, an image shape other than the model's
            input, or labels that are not integers in ``[0, num_classes)``.
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) == 0:
        raise ValueError(f"{argument} is empty: there is nothing to train on.")
    if len(x) != len(y):
        raise ValueError(
            f"{argument} and its labels differ in length: {len(x)} images, {len(y)} labels."
        )
    expected = tuple(model.input_shape[1:])
    if tuple(x.shape[1:]) != expected:
        raise ValueError(
            f"{argument} images have shape {tuple(x.shape[1:])} but model {model.name!r} "
            f"expects {expected}. Build the model with input_shape={tuple(x.shape[1:])}."
        )
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"Labels for {argument} must be a 1-D array of integer class indices. "
            f"Received: shape {y.shape}, dtype {y.dtype}"
        )
    num_classes = int(model.output_shape[-1])
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= num_classes:
        raise ValueError(
            f"Labels for {argument} must be in [0, {num_classes}) for model {model.name!r} "
            f"with {num_classes} outputs. Received labels from {low} to {high}."
        )


def new_run_dir(root: str | os.PathLike, name: str) -> Path:
    """Create ``root/<name>-<YYYYmmdd-HHMMSS>/`` (with a suffix if that exists already)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for attempt in range(1000):
        path = root / (f"{name}-{stamp}" + (f"-{attempt}" if attempt else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"Could not create a new run folder under {root}.")


def write_json(path: str | os.PathLike, obj) -> None:
    """Write JSON to a temporary file and rename it into place (never half-written)."""
    path = Path(path)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as f:
        json.dump(obj, f, indent=2)
    os.replace(f.name, path)


def save_model(model: keras.Model, path: str | os.PathLike) -> None:
    """Save a ``.keras`` file through a temporary file and an atomic rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def fit(
    model: keras.Model,
    data: Dataset,
    config: TrainConfig | None = None,
    run_dir: str | os.PathLike | None = "runs",
    callbacks: list | None = None,
) -> tuple[keras.callbacks.History, Path | None]:
    """Compile and train a model on a `Dataset`, and write a run folder.

    Args:
        model: an uncompiled or compiled `keras.Model` with softmax outputs.
        data: a `Dataset` (see `kcnn.data.load_dataset`).
        config: a `TrainConfig`. Defaults to ``TrainConfig()``.
        run_dir: folder under which ``<model>-<timestamp>/`` is created; ``None`` writes
            nothing. Defaults to ``"runs"``.
        callbacks: extra Keras callbacks. Defaults to None.

    Returns:
        ``(history, run_path)``: the Keras `History` and the run folder (or None).

    Raises:
        ValueError: data that does not fit the model (see `check_data`).

    Example:
        ```python
        data = kcnn.data.load_dataset("digits")
        model = kcnn.build_model("simple_cnn", input_shape=data.input_shape)
        history, run = kcnn.train.fit(model, data, kcnn.train.TrainConfig(epochs=5))
        ```
    """
    config = config or TrainConfig()
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig. Received: {type(config).__name__}")
    check_data(model, data.x_train, data.y_train, "x_train")
    if len(data.x_val):
        check_data(model, data.x_val, data.y_val, "x_val")
    train, batch_size, one_hot = (data.x_train, data.y_train), config.batch_size, False
    if config.augment is not None:
        pipeline = make_pipeline(
            data.x_train, data.y_train, config.batch_size, config.augment,
            dataset=data, num_classes=int(model.output_shape[-1]), seed=config.seed,
        )  # fmt: skip
        train, batch_size, one_hot = (pipeline,), None, pipeline.one_hot

    def labels(y):
        """Soft-label policies train on one-hot labels, so they are scored on them too."""
        return keras.utils.to_categorical(y, int(model.output_shape[-1])) if one_hot else y

    validation = (data.x_val, labels(data.y_val)) if len(data.x_val) else None
    keras.utils.set_random_seed(config.seed)
    model.compile(
        optimizer=make_optimizer(config),
        loss="categorical_crossentropy" if one_hot else "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    history = model.fit(
        *train,
        batch_size=batch_size,
        epochs=config.epochs,
        validation_data=validation,
        callbacks=callbacks,
        verbose=config.verbose,
    )
    seconds = time.perf_counter() - start
    if run_dir is None:
        return history, None

    path = new_run_dir(run_dir, model.name)
    save_model(model, path / "model.keras")
    logs = {k: [float(v) for v in values] for k, values in history.history.items()}
    write_json(path / "history.json", logs)
    plot_history(logs, path / "curves.png")
    metrics = {"train_seconds": round(seconds, 2), "parameters": count_params(model)}
    if len(data.x_test):
        check_data(model, data.x_test, data.y_test, "x_test")
        test_loss, test_accuracy = model.evaluate(
            data.x_test, labels(data.y_test), batch_size=config.batch_size, verbose=0
        )
        y_pred = np.argmax(model.predict(data.x_test, batch_size=256, verbose=0), axis=-1)
        plot_confusion_matrix(
            data.y_test,
            y_pred,
            data.class_names,
            path / "confusion.png",
            title=f"{model.name} on the {data.name} test set",
        )
        metrics.update(test_loss=float(test_loss), test_accuracy=float(test_accuracy))
    write_json(path / "metrics.json", metrics)
    write_json(
        path / "config.json",
        {
            "model": model.name,
            "dataset": data.name,
            "backend": keras.backend.backend(),
            **dataclasses.asdict(config),
        },
    )
    return history, path
