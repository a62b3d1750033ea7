"""The training recipe: `fit` validates, compiles, trains and writes a run folder.

`fit` reads top to bottom as a list of named stages; each stage is a short function below
it. What a run folder holds is in `kcnn.train.run`; how a config becomes a compiled model,
in `kcnn.train.compile`; where training runs, in `kcnn.distribute` (one device is the
`SingleDevice` strategy, whose steps do nothing).
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass

import keras
import numpy as np

from kcnn.data.arrays import ImageArray, Images
from kcnn.data.augment import augmentation, is_identity, needs_one_hot
from kcnn.data.contract import Contract
from kcnn.data.datasets import Dataset
from kcnn.data.pipeline import make_pipeline
from kcnn.distribute.strategy import SingleDevice, Strategy
from kcnn.models.params import count_params
from kcnn.plots import plot_confusion_matrix
from kcnn.train import callbacks as kc
from kcnn.train.checkpoint import RunCheckpoint, restore_checkpoint, save_atomic
from kcnn.train.compile import (  # noqa: F401  (make_optimizer: old import path)
    compile_model,
    make_metrics,
    make_optimizer,
)
from kcnn.train.config import (  # noqa: F401  (these names were importable from here)
    LR_SCALINGS,
    MIXED_POLICIES,
    OPTIMIZERS,
    RECOMMENDED,
    TrainConfig,
    check_distributed,
    describe_learning_rate,
    recommended_settings,
    resolve_steps_per_execution,
    scaled_learning_rate,
)
from kcnn.train.environment import differences, environment
from kcnn.train.in_step import BACKENDS as IN_STEP_BACKENDS
from kcnn.train.in_step import augment_in_step
from kcnn.train.run import (  # noqa: F401  (these names were importable from here)
    RunFolder,
    new_run_dir,
    read_run_config,
    resume_settings,
)


def write_json(path: str | os.PathLike, obj) -> None:
    """Write JSON to a temporary file and rename it into place (never half-written)."""
    from kcnn import _io

    _io.write_json(path, obj)


def fit(
    model: keras.Model,
    data: Dataset,
    config: TrainConfig | None = None,
    run_dir: str | os.PathLike | None = "runs",
    callbacks: list | None = None,
    *,
    resume: str | os.PathLike | None = None,
    run_info: dict | None = None,
    distribute: Strategy | None = None,
) -> tuple[keras.callbacks.History, os.PathLike | None]:
    """Compile and train a model on a `Dataset`, and write a run folder.

    Adds kcnn's callbacks: `CurvePlotter` and `TrainingDiagnostics` (with a run folder),
    `RunCheckpoint` (with a run folder and ``config.checkpoint``), `TerminateOnNaN`
    (raising, so no checkpoint holds diverged weights), and ``early_stopping`` when the
    config asks for it.

    Args:
        model: a `keras.Model` with softmax outputs (compiled or not: fit compiles it).
        data: a `Dataset` (see `kcnn.data.load_dataset`).
        config: a `TrainConfig`. Defaults to ``TrainConfig()``, or to the run folder's
            config when resuming.
        run_dir: folder under which ``<model>-<timestamp>/`` is created; ``None`` writes
            nothing. Defaults to ``"runs"``.
        callbacks: extra Keras callbacks. Defaults to None.
        resume: a run folder to continue from its last checkpoint, in place: the model is
            restored (weights, optimizer, random-generator states) and training goes on at
            the next epoch, with the same batches an uninterrupted run would have seen.
            Defaults to None.
        run_info: extra entries for ``config.json`` (the command line records how to reload
            the data there). Defaults to None.
        distribute: a `kcnn.distribute.Strategy` to train on several devices or processes;
            build the model inside its ``scope()``. ``config.batch_size`` is the global
            batch, split evenly across the replicas. Only process 0 writes the run folder
            and the test-set results; ``resume`` reads the folder in every process, so on
            several machines it must be on a shared file system. Defaults to None (one
            device: `kcnn.distribute.SingleDevice`).

    Returns:
        ``(history, run_path)``: the Keras `History` (all epochs, including those before a
        resume) and the run folder (or None; None in every process but process 0).

    Raises:
        ValueError: data that does not fit the model (see `check_data`), or a batch size
            that does not split across the replicas.
        FileNotFoundError: ``resume`` is not a run folder with a checkpoint.
        RuntimeError: the loss became NaN; the run folder keeps the last good checkpoint and
            a ``report.md`` with advice.

    Example:
        ```python
        data = kcnn.data.load_dataset("digits")
        model = kcnn.build_model("simple_cnn", input_shape=data.input_shape)
        history, run = kcnn.train.fit(model, data, kcnn.train.TrainConfig(epochs=5))
        # after a crash: kcnn.train.fit(model, data, resume=run)
        ```
    """
    _check_arguments(model, data)
    config, run_info = _settings(config, resume, run_info)
    strategy = _strategy(distribute)
    check_distributed(config, strategy)
    steps_per_execution = resolve_steps_per_execution(config.steps_per_execution, strategy)
    strategy.check(model, config.batch_size, config.data_path)
    check_memory(model, config.batch_size)
    check_dataset(model, data)
    _check_options(config, data, run_dir if resume is None else resume)
    keras.utils.set_random_seed(config.seed)
    inputs = _Inputs.make(model, data, config, strategy)
    with strategy.scope():  # the optimizer's variables are replicated too
        loss = compile_model(
            model, config, steps_per_epoch=len(inputs.train), one_hot=inputs.one_hot,
            steps_per_execution=steps_per_execution,
        )  # fmt: skip
        strategy.prepare(model, data.x_train[:2], inputs.labels(data.y_train[:2]))
        initial_epoch, restored = _restore(model, resume, inputs.train)
        trainer = augment_in_step(model, inputs.train) if inputs.in_step else model
    folder = _open_folder(strategy, model.name, run_dir, resume)
    verbose = config.verbose if strategy.is_chief else 0
    try:
        _announce(config, strategy, inputs, len(data.x_train), verbose)
        if folder is not None:
            folder.write_config(_record(model, data, config, strategy, run_info))
        notes = [imbalance_note(data.y_train, inputs.num_classes, config),
                 ema_note(config, len(inputs.train))]  # fmt: skip
        own, diagnostics = _callbacks(folder, config, inputs.train, verbose, notes)
        start = time.perf_counter()
        with strategy.scope(), strategy.training(model):
            history = _train(trainer, inputs, config, initial_epoch, own + list(callbacks or []),
                             verbose, diagnostics, folder)  # fmt: skip
        seconds = time.perf_counter() - start
        _merge_history(history, restored, initial_epoch)
        if folder is None:
            return history, None
        metrics = make_metrics(config, inputs.num_classes, inputs.one_hot)
        scorer = strategy.scorer(model, loss, metrics)
        _finish(folder, model, data, scorer, inputs, seconds, initial_epoch, config)
        return history, None if folder.scratch else folder.path
    finally:
        if folder is not None:
            folder.close()


def _check_arguments(model, data) -> None:
    if not isinstance(model, keras.Model):
        hint = (f" Build it first: kcnn.build_model({model!r}, input_shape=data.input_shape)."
                if isinstance(model, str) else "")  # fmt: skip
        raise TypeError(
            f"model must be a keras.Model. Received: {type(model).__name__} {model!r:.60}.{hint}"
        )
    if not isinstance(data, Dataset):
        raise TypeError(
            "data must be a kcnn.data.Dataset (kcnn.data.load_dataset, or "
            "kcnn.data.Dataset(name, x_train, y_train, x_val, y_val, x_test, y_test)). "
            f"Received: {type(data).__name__}"
        )


def _settings(config, resume, run_info) -> tuple[TrainConfig, dict | None]:
    """The config and ``config.json`` extras: given, or a resumed run's own."""
    if resume is not None:
        stored = RunFolder.existing(resume).read_config()
        config, run_info = resume_settings(stored, config, run_info, TrainConfig)
        changed = differences(stored.get("environment"), environment())
        if changed:
            warnings.warn(
                f"Resuming {os.fspath(resume)} with other versions than it was trained with "
                f"({'; '.join(changed)}): the numbers may differ from an uninterrupted run.",
                stacklevel=3,
            )
    config = config or TrainConfig()
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig. Received: {type(config).__name__}")
    return config, run_info


def _check_options(config: TrainConfig, data: Dataset, folder) -> None:
    """The options that need something of the data or the machine, checked before anything
    is written."""
    keeps_best = config.keep_best or config.final_weights == "best"
    if keeps_best and not len(data.x_val):
        which = "keep_best" if config.keep_best else "final_weights='best'"
        raise ValueError(
            f"{which} picks the epoch with the best val_accuracy, but {data.name!r} has no "
            "validation split: load it with validation_split > 0."
        )
    if config.tensorboard:
        import importlib.util

        if folder is None:
            raise ValueError("tensorboard=True writes into the run folder: give a run_dir.")
        missing = [m for m in ("tensorflow", "tensorboard") if importlib.util.find_spec(m) is None]
        if missing:
            raise ValueError(
                "tensorboard=True needs TensorFlow and TensorBoard, which write the event "
                f"files (on any Keras backend); {' and '.join(missing)} not installed: pip "
                "install 'kcnn[tensorflow,tensorboard]', or leave tensorboard off."
            )


def imbalance_note(y, num_classes: int, config: TrainConfig, ratio: float = 3.0) -> str | None:
    """A sentence for ``report.md`` when the largest training class has more than ``ratio``
    times the images of the smallest, and ``class_weight`` is not set."""
    counts = np.bincount(np.asarray(y).astype("int64"), minlength=num_classes)
    if config.class_weight is not None or counts.min() * ratio >= counts.max():
        return None
    small, large = int(np.argmin(counts)), int(np.argmax(counts))
    return (
        f"The classes are imbalanced: class {large} has {counts[large]} training images and "
        f"class {small} {counts[small]} ({counts[large] / max(counts[small], 1):.1f}x). "
        "Accuracy can look good while the small classes are missed: read the per-class "
        "recall (`kcnn evaluate`), and try class_weight='balanced' (`--class-weight "
        "balanced`), which weighs each image's loss by n / (classes x its class's count)."
    )


def ema_note(config: TrainConfig, steps_per_epoch: int) -> str | None:
    """A sentence for ``report.md`` when ``ema`` averages over more updates than a third of
    the run makes: the average then still carries the first epochs' weights."""
    if config.ema is None:
        return None
    updates = config.epochs * max(1, steps_per_epoch // config.grad_accum)
    span = 1 / (1 - config.ema)
    if span * 3 <= updates:
        return None
    return (
        f"ema={config.ema:g} averages about the last {span:.0f} updates, but the run makes "
        f"{updates}: the averaged weights still carry the first epochs' weights. Choose a "
        f"decay with 1 / (1 - decay) well below {updates}, e.g. ema={_suggested_decay(updates)}."
    )


def _suggested_decay(updates: int) -> str:
    """The largest of 0.9, 0.99, 0.999, 0.9999 that averages at most a third of ``updates``."""
    fitting = [d for d in ("0.9999", "0.999", "0.99", "0.9") if 3 / (1 - float(d)) <= updates]
    return fitting[0] if fitting else "0.9"


def _strategy(distribute) -> Strategy:
    if distribute is None:
        return SingleDevice()
    if not isinstance(distribute, Strategy):
        raise TypeError(
            "distribute must be a kcnn.distribute.Strategy (see kcnn.distribute.setup). "
            f"Received: {type(distribute).__name__}"
        )
    return distribute


@dataclass
class _Inputs:
    """The training pipeline and the validation data, with the label format they share."""

    train: object
    validation: object
    one_hot: bool
    num_classes: int
    shards: bool
    in_step: bool = False

    @classmethod
    def make(cls, model, data: Dataset, config: TrainConfig, strategy: Strategy) -> _Inputs:
        num_classes = int(model.output_shape[-1])
        shares = strategy.shares()
        augment = config.augment and augmentation(config.augment, data, seed=config.seed)
        in_step = _augments_in_step(augment, config, shares)
        train = make_pipeline(
            data.x_train, data.y_train, config.batch_size, augment,
            dataset=data, num_classes=num_classes, seed=config.seed,
            one_hot=True if config.label_smoothing else None, path=config.data_path,
            class_weight=config.class_weight, workers=_workers(config),
            augment_on="step" if in_step else "batch", **shares,
        )  # fmt: skip
        inputs = cls(train, None, train.one_hot, num_classes, bool(shares), in_step)
        if len(data.x_val) and (shares or data.streamed):
            # Every replica takes the same number of images, so the last validation batch
            # is cut to a multiple of the replicas (fewer images than there are replicas).
            # (Streamed images are decoded a batch at a time, by the pipeline's workers.)
            inputs.validation = make_pipeline(
                data.x_val, data.y_val, config.batch_size, shuffle=False,
                num_classes=num_classes, one_hot=inputs.one_hot, path="device",
                workers=_workers(config), **shares,
            )  # fmt: skip
        elif len(data.x_val):
            inputs.validation = (data.x_val, inputs.labels(data.y_val))
        return inputs

    def test_data(self, data: Dataset, config: TrainConfig) -> dict:
        """``evaluate``'s and ``predict``'s arguments for the test split: the arrays, or
        a pipeline for streamed images."""
        if not data.streamed:
            return {"x": data.x_test, "y": self.labels(data.y_test), "batch_size": 256}
        test = make_pipeline(
            data.x_test, data.y_test, 256, shuffle=False, num_classes=self.num_classes,
            one_hot=self.one_hot, path="device", workers=_workers(config),
        )  # fmt: skip
        return {"x": test}

    def labels(self, y):
        """Soft-label training is scored on one-hot labels too."""
        return keras.utils.to_categorical(y, self.num_classes) if self.one_hot else y


def _augments_in_step(augment, config: TrainConfig, shares: dict) -> bool:
    """Whether the train step augments (see `kcnn.train.augment_in_step`): on the device
    path of one JAX or PyTorch device, for augmentation that leaves the labels as they are.
    (MixUp and CutMix change labels, so the pipeline augments each batch for them, as it
    does on TensorFlow: see `kcnn.train.in_step.BACKENDS`.)"""
    return (
        augment is not None
        and not is_identity(augment)
        and not needs_one_hot(augment)
        and config.data_path == "device"
        and keras.backend.backend() in IN_STEP_BACKENDS
        and not shares
    )


def _restore(model, resume, pipeline) -> tuple[int, dict]:
    """Load a resumed run's last checkpoint: (the epoch to start at, its history)."""
    if resume is None:
        return 0, {}
    state = restore_checkpoint(model, resume)
    pipeline.set_epoch(state["epoch"])
    return state["epoch"], state["history"]


def _open_folder(strategy: Strategy, name: str, run_dir, resume) -> RunFolder | None:
    """Process 0's run folder (new, or the resumed one); a scratch folder elsewhere, since
    saving a model is a collective step in every process; None when nothing is written."""
    if resume is None and run_dir is None:
        return None
    if not strategy.is_chief:
        return RunFolder.for_process(strategy.process_id)
    return RunFolder(resume) if resume is not None else RunFolder.new(run_dir, name)


def _announce(config, strategy, inputs: _Inputs, images: int, verbose: int) -> None:
    """Say how a batch splits and how the learning rate was reached, where it matters."""
    if not verbose:
        return
    where = strategy.describe(config.batch_size)
    if where or config.lr_scaling != "none":
        print(f"{where + ' ' if where else ''}{describe_learning_rate(config).capitalize()}.")
    if inputs.shards and inputs.train.images_per_epoch < images:
        print(
            f"Each epoch trains on {inputs.train.images_per_epoch} of {images} images: "
            f"the last batch is cut to a multiple of the {strategy.num_replicas} replicas."
        )


def _record(model, data: Dataset, config: TrainConfig, strategy, run_info) -> dict:
    """What ``config.json`` says about the run."""
    return {
        "model": model.name,
        "dataset": data.name,
        "backend": keras.backend.backend(),
        **config.to_dict(),
        **strategy.record(),
        **(run_info or {}),
        "environment": environment(),
    }


def _callbacks(folder: RunFolder | None, config: TrainConfig, pipeline, verbose: int,
               notes: list = ()):  # fmt: skip
    """kcnn's own callbacks, in order, and the diagnostics among them. The averaged weights
    come first, so that every other callback sees them at the end of an epoch."""
    from kcnn.train.ema import AveragedWeights
    from kcnn.train.run import TENSORBOARD

    stopper = None if config.early_stopping is None else kc.early_stopping(config.early_stopping)
    diagnostics = kc.TrainingDiagnostics(folder and folder.path, verbose=verbose > 0,
                                         notes=[n for n in notes if n])  # fmt: skip
    own = [AveragedWeights()] if config.ema is not None else []
    own.append(_PipelineEpoch(pipeline))
    if folder is not None:
        own.append(kc.CurvePlotter(folder.path, patience=stopper.patience if stopper else 5))
    own.append(diagnostics)
    keeps_best = config.keep_best or config.final_weights == "best"
    if folder is not None and (config.checkpoint or keeps_best):
        own.append(RunCheckpoint(folder.path, keep=2 if config.checkpoint else 1,
                                 keep_best=keeps_best))  # fmt: skip
    if folder is not None and config.tensorboard:
        own.append(keras.callbacks.TensorBoard(folder / TENSORBOARD, write_graph=False))
    own += [callback for callback in (stopper, kc.TerminateOnNaN()) if callback is not None]
    return own, diagnostics


def _train(model, inputs: _Inputs, config, initial_epoch, callbacks, verbose, diagnostics,
           folder) -> keras.callbacks.History:  # fmt: skip
    """``model.fit``; a NaN loss becomes a RuntimeError with the diagnosis' advice."""
    try:
        return model.fit(
            inputs.train,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            validation_data=inputs.validation,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the pipeline shuffles by (seed, epoch); Keras' would not resume
        )
    except RuntimeError as error:
        if "NaN" not in str(error) and "Inf" not in str(error):
            raise
        advice = "; ".join(diagnostics.findings[0].advice) if diagnostics.findings else ""
        kept = " The last good checkpoint is in the run folder." if folder else ""
        report = f" See {folder / 'report.md'}." if folder else ""
        raise RuntimeError(f"Training diverged: {error}. Try: {advice}.{kept}{report}") from error


def _merge_history(history, restored: dict, initial_epoch: int) -> None:
    """Put a resumed run's earlier epochs in front of the ones just trained."""
    if not restored:
        return
    for key, values in history.history.items():
        history.history[key] = list(restored.get(key, []))[:initial_epoch] + list(values)
    history.epoch = list(range(initial_epoch)) + list(history.epoch)


def _finish(folder: RunFolder, model, data: Dataset, scorer, inputs: _Inputs, seconds: float,
            initial_epoch: int, config: TrainConfig) -> None:  # fmt: skip
    """The final files: the model, the test set's confusion matrix and the metrics."""
    from kcnn.train.run import CONFUSION, MODEL

    metrics = {"train_seconds": round(seconds, 2), "parameters": count_params(model)}
    metrics.update(_final_weights(folder, model, config))
    save_atomic(model, folder / MODEL, Contract.for_model(model, data).metadata())
    if initial_epoch:
        metrics["resumed_at_epoch"] = initial_epoch
    if len(data.x_test):
        test = inputs.test_data(data, config)
        scores = scorer.evaluate(**test, verbose=0, return_dict=True)
        test.pop("y", None)
        y_pred = np.argmax(scorer.predict(**test, verbose=0), axis=-1)
        plot_confusion_matrix(
            data.y_test[: len(y_pred)],  # fewer under KERAS_MAX_STEPS_PER_EPOCH
            y_pred,
            data.class_names,
            folder / CONFUSION,
            title=f"{model.name} on the {data.name} test set",
        )
        metrics.update({f"test_{name}": float(value) for name, value in scores.items()})
    folder.write_metrics(metrics)


def _final_weights(folder: RunFolder, model, config: TrainConfig) -> dict:
    """Load the best checkpoint's weights when the config asks for them; what
    ``metrics.json`` says about the weights ``model.keras`` holds."""
    state = folder.read_checkpoint() or {}
    said = {"final_weights": config.final_weights}
    if config.ema is not None:
        said["weights_averaged"] = True
    if "best" in state:
        said["best_epoch"] = state["best"]["epoch"]
        said["best_val_accuracy"] = state["best"]["val_accuracy"]
    if config.final_weights == "best":
        model.load_weights(folder.best_path())
    return said


def _activations(model: keras.Model) -> int:
    """Values in the outputs of every layer for one image (nested models walked)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += _activations(layer)
            continue
        try:
            outputs = keras.tree.flatten(layer.output)
        except (AttributeError, ValueError):  # a layer never called in this graph
            continue
        for output in outputs:
            shape = getattr(output, "shape", None)
            if shape is not None and all(d is not None for d in shape[1:]):
                total += int(np.prod(shape[1:]))
    return total


def check_memory(model: keras.Model, batch_size: int, available: int | None = None) -> None:
    """Refuse a batch whose training step cannot fit in this machine's memory (CPU).

    A training step keeps every layer's output for the backward pass and about as much
    again for the gradients, so the estimate is ``2 x 4 bytes x batch x (values in all
    layer outputs for one image)``, plus four copies of the weights. An image size such as
    4096x4096 otherwise fails deep inside the backend, or the process is killed.

    Raises:
        ValueError: the estimate exceeds ``available`` bytes (defaults to the physical
            memory; on a GPU nothing is checked).
    """
    from kcnn._backend import has_gpu
    from kcnn._validate import check_memory as check_bytes

    if available is None and has_gpu():
        return
    shape = "x".join(str(d) for d in model.input_shape[1:])
    check_bytes(
        2 * 4 * batch_size * _activations(model) + 4 * 4 * model.count_params(),
        f"One training step of {model.name!r} on a batch of {batch_size} images of {shape}",
        "Use a smaller image size or batch size.",
        available,
    )


def _check_pixels(x: np.ndarray, argument: str, scale: float | None = None) -> None:
    """Pixels must be finite numbers in [0, 1] (the inference contract's range); ``scale``:
    ``x`` holds stored pixels that read as ``x / scale``."""
    if scale is not None:
        if x.dtype.kind in "ui":
            low, high = int(x.min()) / scale, int(x.max()) / scale
            if low < 0 or high > 1:
                raise ValueError(
                    f"{argument} pixels must be in [0, 1]. Received stored values from "
                    f"{int(x.min())} to {int(x.max())} with scale={scale:g}."
                )
            return
        x = x / np.float32(scale) if scale != 1 else x
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"{argument} must be float images with values in [0, 1]. Received dtype {x.dtype}: "
            f"convert with {argument}.astype('float32') / 255."
        )
    bad = ~np.isfinite(x)
    if bad.any():
        images = np.flatnonzero(bad.reshape(len(x), -1).any(axis=1))
        raise ValueError(
            f"{argument} has NaN or infinite pixels in {len(images)} images (the first: "
            f"{images[:5].tolist()}); they would turn the loss and every metric into NaN."
        )
    low, high = float(x.min()), float(x.max())
    if low < -1e-3 or high > 1 + 1e-3:
        hint = f" (divide by 255: {argument} / 255)" if high > 1.5 and low >= 0 else ""
        raise ValueError(
            f"{argument} pixels must be in [0, 1], as kcnn's models and inference expect. "
            f"Received values from {low:.4g} to {high:.4g}{hint}."
        )


def _workers(config: TrainConfig) -> int | None:
    """The pipelines' decoding processes: None lets `make_pipeline` choose."""
    return None if config.workers == "auto" else config.workers


class _PipelineEpoch(keras.callbacks.Callback):
    """Tell the pipeline which epoch Keras is starting, so its batches follow the epoch
    number rather than a count of ``on_epoch_end`` calls."""

    def __init__(self, pipeline):
        super().__init__()
        self.pipeline = pipeline

    def on_epoch_begin(self, epoch, logs=None):
        self.pipeline.set_epoch(epoch)


def check_dataset(model: keras.Model, data: Dataset) -> None:
    """`check_data` on each split of ``data`` that has images, then `check_outputs`."""
    check_data(model, data.x_train, data.y_train, "x_train")
    for split in ("val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        if len(x):
            check_data(model, x, y, f"x_{split}")
    check_outputs(model, data.x_train[:2])


def check_outputs(model: keras.Model, x) -> None:
    """Refuse a model whose outputs are not probabilities: kcnn trains with the
    cross-entropy of probabilities, and would train logits wrongly without a word.

    Raises:
        ValueError: outputs that are negative or do not sum to 1 over the classes.
    """
    p = keras.ops.convert_to_numpy(keras.ops.cast(model(x, training=False), "float32"))
    if p.ndim != 2 or p.min() < 0 or not np.allclose(p.sum(axis=-1), 1.0, atol=1e-2):
        raise ValueError(
            f"Model {model.name!r} must output class probabilities (a softmax last layer): "
            f"its outputs range from {p.min():.3g} to {p.max():.3g} and sum to "
            f"{p.sum(axis=-1).min():.3g}..{p.sum(axis=-1).max():.3g} per image. Build it with "
            "classifier_activation='softmax' (the default)."
        )


def check_data(model: keras.Model, x, y, argument: str = "x") -> None:
    """Check images and labels against a model before ``fit``, where Keras is silent.

    Keras trains on out-of-range labels without complaint on JAX (the loss is simply 0 for
    them) and raises a bare ``StopIteration`` on empty arrays, so these are caught here.

    Raises:
        ValueError: empty data, a length mismatch, an image shape other than the model's
            input, pixels that are NaN, infinite or outside [0, 1], or labels that are not
            integers in ``[0, num_classes)``.
    """
    y = np.asarray(y)
    if not isinstance(x, Images):
        x = np.asarray(x)
    if len(x) == 0:
        raise ValueError(f"{argument} is empty: there is nothing to train on.")
    if isinstance(x, ImageArray):  # the stored pixels, scaled: no float copy of the set
        _check_pixels(x.stored, argument, x.scale)
    elif not isinstance(x, Images):  # image files decode to [0, 1] by construction
        _check_pixels(x, argument)
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
