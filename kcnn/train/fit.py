"""The training recipe: validate, compile, fit, and write a run folder.

A run folder holds everything needed to look at a run afterwards, or to resume it:

| file | what |
|---|---|
| ``config.json`` | the `TrainConfig`, the model and data set (written first) |
| ``curves.png``, ``history.json``, ``history.csv`` | curves and history, rewritten every epoch |
| ``report.md`` | the diagnosis of the curves (`kcnn.train.diagnose`) |
| ``checkpoint.json``, ``checkpoints/`` | the last complete epoch, for ``resume=`` |
| ``model.keras`` | the trained model (reload with ``keras.saving.load_model``) |
| ``confusion.png`` | confusion matrix on the test set |
| ``metrics.json`` | test loss and accuracy, parameter count, time taken |

Every file is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from kcnn import distribute as kd
from kcnn._backend import has_gpu
from kcnn.data.datasets import Dataset
from kcnn.data.pipeline import make_pipeline
from kcnn.inspect.counts import count_params
from kcnn.inspect.visualize import plot_confusion_matrix
from kcnn.train import callbacks as kc
from kcnn.train.schedules import SCHEDULES, make_schedule

OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCALINGS = ("none", "linear", "sqrt")
MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass
class TrainConfig:
    """Settings of one training run.

    Attributes:
        epochs: passes over the training set. Defaults to 10.
        batch_size: images per step. Defaults to 64.
        learning_rate: the base (peak) learning rate. Defaults to 1e-3.
        lr_scaling: scale ``learning_rate`` with the batch size, for a batch that grows with
            the number of devices: ``"none"``, ``"linear"`` (``learning_rate * batch_size /
            lr_base_batch``, Goyal et al. 2017) or ``"sqrt"`` (the square root of that
            ratio, for Adam-type optimizers). Defaults to ``"none"``.
        lr_base_batch: the batch size ``learning_rate`` was chosen for, with
            ``lr_scaling``. Defaults to 256.
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"`` (with Nesterov momentum 0.9).
            Defaults to ``"adam"``.
        schedule: ``"constant"``, ``"cosine"``, ``"onecycle"`` or ``"step"`` (see
            `kcnn.train.make_schedule`). Defaults to ``"constant"``.
        warmup_epochs: a linear warmup from 0 over this many epochs (``constant`` and
            ``cosine``). Defaults to 0.
        weight_decay: decoupled weight decay for ``adamw`` and ``sgd``, not applied to
            biases and BatchNorm parameters. Defaults to 1e-4.
        label_smoothing: mix the one-hot targets with the uniform distribution by this
            much (Szegedy et al. 2016); trains on one-hot labels. Defaults to 0.
        augment: an augmentation policy name or a list of transform names (see
            `kcnn.data.augmentation`), checked against the data set's label rules; MixUp
            and CutMix switch the loss to categorical cross-entropy on one-hot labels.
            Defaults to None.
        early_stopping: stop when the validation loss has not improved for this many
            epochs and restore the best weights: a number, ``"quick"`` (3), ``"default"``
            (5) or ``"patient"`` (10); None trains every epoch. Defaults to None.
        seed: seeds Keras, NumPy and Python's random module
            (`keras.utils.set_random_seed`), the batch order and the augmentation. The same
            seed on the same backend and CPU gives the same weights. Defaults to 0.
        mixed_precision: compute in 16 bits with float32 weights: True picks
            ``"mixed_float16"`` on a GPU (with loss scaling) and ``"mixed_bfloat16"``
            otherwise; or name the policy. The output layer stays float32. Defaults to
            False.
        checkpoint: with a run folder, save a checkpoint every epoch to resume from.
            Defaults to True.
        steps_per_execution: training steps per call of the compiled train function
            (Keras' ``compile(steps_per_execution=...)``); more steps per call spend less
            time in Python between steps, and batch callbacks see every n-th batch. The
            PyTorch backend takes only 1. ``"auto"`` takes `recommended_settings`' value
            for this backend and device. Defaults to ``"auto"``.
        jit_compile: XLA compilation of the train step: ``"auto"`` (Keras' choice: on for
            JAX, on for TensorFlow with a GPU, off for PyTorch), True or False. Defaults to
            ``"auto"``.
        data_path: where batches are made and augmented: ``"device"`` (NumPy batching, the
            augmentation layers run with the backend's ops) or ``"tf.data"`` (needs
            TensorFlow); see `kcnn.data.make_pipeline`. Defaults to ``"device"``.
        verbose: Keras' progress output: 0 silent, 1 progress bar, 2 one line per epoch.
            Defaults to 1.
    """

    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    lr_scaling: str = "none"
    lr_base_batch: int = 256
    optimizer: str = "adam"
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    augment: str | list | None = None
    early_stopping: int | str | None = None
    seed: int = 0
    mixed_precision: bool | str = False
    checkpoint: bool = True
    steps_per_execution: int | str = "auto"
    jit_compile: bool | str = "auto"
    data_path: str = "device"
    verbose: int = 1

    def __post_init__(self):
        for field, minimum in (
            ("epochs", 1), ("batch_size", 1), ("seed", 0), ("steps_per_execution", 1),
            ("lr_base_batch", 1),
        ):  # fmt: skip
            value = getattr(self, field)
            if field == "steps_per_execution" and value == "auto":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(
                    f"{field} must be an integer >= {minimum}. Received: {field}={value!r}"
                )
        for field, low, high in (
            ("learning_rate", 0.0, None),
            ("warmup_epochs", 0.0, None),
            ("weight_decay", 0.0, None),
            ("label_smoothing", 0.0, 1.0),
        ):
            value = getattr(self, field)
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not np.isfinite(value)
                or value < low
                or (field == "learning_rate" and value == 0)
                or (high is not None and value >= high)
            ):
                expected = "> 0" if field == "learning_rate" else f"in [{low}, {high or 'inf'})"
                raise ValueError(f"{field} must be {expected}. Received: {field}={value!r}")
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
        for field, choices in (
            ("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("lr_scaling", LR_SCALINGS)
        ):  # fmt: skip
            if getattr(self, field) not in choices:
                raise ValueError(
                    f"{field} must be one of {list(choices)}. "
                    f"Received: {field}={getattr(self, field)!r}"
                )
        if self.warmup_epochs and self.schedule not in ("constant", "cosine"):
            raise ValueError(
                "warmup_epochs is for the 'constant' and 'cosine' schedules. "
                f"Received: schedule={self.schedule!r}, warmup_epochs={self.warmup_epochs}"
            )
        if self.early_stopping is not None:
            kc.early_stopping(self.early_stopping)  # raises on a bad value
        if not isinstance(self.mixed_precision, bool) and (
            self.mixed_precision not in MIXED_POLICIES
        ):
            raise ValueError(
                f"mixed_precision must be True, False or one of {list(MIXED_POLICIES)}. "
                f"Received: mixed_precision={self.mixed_precision!r}"
            )
        if self.jit_compile not in ("auto", True, False):
            raise ValueError(
                "jit_compile must be 'auto', True or False. "
                f"Received: jit_compile={self.jit_compile!r}"
            )
        if self.data_path not in ("device", "tf.data"):
            raise ValueError(
                f"data_path must be 'device' or 'tf.data'. Received: data_path={self.data_path!r}"
            )
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2. Received: verbose={self.verbose!r}")

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """A config from a dict such as a run folder's ``config.json`` (other keys ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def scaled_learning_rate(config: TrainConfig) -> float:
    """``config.learning_rate`` scaled by ``config.lr_scaling`` for ``config.batch_size``.

    Example:
        ```python
        scaled_learning_rate(TrainConfig(learning_rate=0.1, batch_size=1024,
                                         lr_scaling="linear"))  # 0.4
        ```
    """
    ratio = config.batch_size / config.lr_base_batch
    factor = {"none": 1.0, "linear": ratio, "sqrt": ratio**0.5}[config.lr_scaling]
    return config.learning_rate * factor


def describe_learning_rate(config: TrainConfig) -> str:
    """How the learning rate was reached, e.g. ``1e-3 x 512/256 = 0.002 (linear)``."""
    if config.lr_scaling == "none":
        return f"learning rate {config.learning_rate:g} (lr_scaling='none')"
    ratio = f"{config.batch_size}/{config.lr_base_batch}"
    if config.lr_scaling == "sqrt":
        ratio = f"sqrt({ratio})"
    return (
        f"learning rate {config.learning_rate:g} x {ratio} = "
        f"{scaled_learning_rate(config):g} (lr_scaling={config.lr_scaling!r})"
    )


def make_optimizer(config: TrainConfig, steps_per_epoch: int = 1) -> keras.optimizers.Optimizer:
    """The optimizer a `TrainConfig` names, with its learning-rate schedule over
    ``config.epochs * steps_per_epoch`` steps (`scaled_learning_rate` at its peak)."""
    rate = make_schedule(
        config.schedule,
        scaled_learning_rate(config),
        total_steps=config.epochs * steps_per_epoch,
        warmup_steps=round(config.warmup_epochs * steps_per_epoch),
    )
    if config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(
            rate, momentum=0.9, nesterov=True, weight_decay=config.weight_decay or None
        )
    elif config.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(rate, weight_decay=config.weight_decay)
    else:
        return keras.optimizers.Adam(rate)
    # timm and the ResNet papers leave biases and BatchNorm's scale and offset undecayed.
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


#: What ``"auto"`` means, by device kind and backend, chosen from the settings sweep on the
#: docs' Performance page (2-core x86-64 CPU). GPUs keep Keras' defaults until measured.
RECOMMENDED = {
    "cpu": {
        "tensorflow": {"steps_per_execution": 4, "jit_compile": "auto"},
        "jax": {"steps_per_execution": 1, "jit_compile": "auto"},
        "torch": {"steps_per_execution": 1, "jit_compile": "auto"},
    },
    "gpu": {
        backend: {"steps_per_execution": 1, "jit_compile": "auto"}
        for backend in ("tensorflow", "jax", "torch")
    },
}


def recommended_settings(backend: str | None = None, device: str | None = None) -> dict:
    """The throughput settings kcnn uses for ``"auto"`` on a backend and device kind.

    Only settings that leave the training itself unchanged are chosen for you; the batch
    size changes the number of updates, so it stays yours. On a CPU, TensorFlow runs 4 steps
    per call of its train function (8% more images/s for SimpleCNN: fewer Python round
    trips between short steps); JAX gains nothing from it, and Keras' PyTorch trainer takes
    one step per call. XLA stays Keras' choice: off for TensorFlow on a CPU, where turning
    it on halved the throughput. The measurements are on the docs' Performance page.

    Args:
        backend: ``"tensorflow"``, ``"jax"`` or ``"torch"``. Defaults to Keras' backend.
        device: ``"cpu"`` or ``"gpu"``. Defaults to whether this process sees a GPU.

    Returns:
        ``{"steps_per_execution": ..., "jit_compile": ...}``.

    Raises:
        ValueError: an unknown backend or device.
    """
    backend = backend or keras.backend.backend()
    device = device or ("gpu" if has_gpu() else "cpu")
    if device not in RECOMMENDED or backend not in RECOMMENDED[device]:
        raise ValueError(
            f"No recommended settings for backend={backend!r} on device={device!r}; "
            f"expected a backend in {list(RECOMMENDED['cpu'])} and device 'cpu' or 'gpu'."
        )
    return dict(RECOMMENDED[device][backend])


def resolve_steps_per_execution(value: int | str, distribute=None) -> int:
    """The steps per call `fit` runs for a ``TrainConfig.steps_per_execution`` value:
    ``"auto"`` is `recommended_settings`' choice, and 1 under a tf.distribute strategy.

    Raises:
        ValueError: more than 1 on the PyTorch backend (Keras runs one step per call there)
            or under a tf.distribute strategy (Keras 3.15's multi-step train function fails
            there).
    """
    tf_strategy = distribute is not None and distribute.backend == "tensorflow"
    if value == "auto":
        return 1 if tf_strategy else recommended_settings()["steps_per_execution"]
    if value > 1 and keras.backend.backend() == "torch":
        raise ValueError(
            "steps_per_execution must be 1 on the PyTorch backend: Keras runs one step per "
            f"call there. Received: steps_per_execution={value}"
        )
    if value > 1 and tf_strategy:
        raise ValueError(
            "steps_per_execution must be 1 under a tf.distribute strategy: Keras "
            f"{keras.version()}'s multi-step train function fails there. Received: "
            f"steps_per_execution={value}"
        )
    return value


def _mixed_policy(setting: bool | str) -> str | None:
    if setting is False:
        return None
    if setting is not True:
        return setting
    return "mixed_float16" if has_gpu() else "mixed_bfloat16"


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
    kc._write_text(Path(path), json.dumps(obj, indent=2))


def read_run_config(run_dir: str | os.PathLike) -> dict:
    """The ``config.json`` of a run folder, with a clear error when it is not one."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{os.fspath(run_dir)!r} is not a kcnn run folder: it has no config.json."
        )
    return json.loads(path.read_text())


def fit(
    model: keras.Model,
    data: Dataset,
    config: TrainConfig | None = None,
    run_dir: str | os.PathLike | None = "runs",
    callbacks: list | None = None,
    *,
    resume: str | os.PathLike | None = None,
    run_info: dict | None = None,
    distribute: kd.Strategy | None = None,
) -> tuple[keras.callbacks.History, Path | None]:
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
            several machines it must be on a shared file system. Defaults to None.

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
    if resume is not None:
        stored = read_run_config(resume)
        config = config or TrainConfig.from_dict(stored)
        # How to reload the data and model carries over; the backend is this process's.
        # (The distribution is this process's too: the run may resume on other devices.)
        own_keys = _config_keys() | {"backend", "distribution"}
        carried = {k: v for k, v in stored.items() if k not in own_keys}
        run_info = {**carried, **(run_info or {})}
    config = config or TrainConfig()
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig. Received: {type(config).__name__}")
    strategy = distribute
    if strategy is not None and not isinstance(strategy, kd.Strategy):
        raise TypeError(
            "distribute must be a kcnn.distribute.Strategy (see kcnn.distribute.setup). "
            f"Received: {type(strategy).__name__}"
        )
    steps_per_execution = resolve_steps_per_execution(config.steps_per_execution, strategy)
    if strategy is not None:
        strategy.check_model(model)
        strategy.per_replica_batch(config.batch_size)  # raises unless it splits evenly
        if strategy.shards_data() and config.data_path != "device":
            raise ValueError(
                "On JAX with several devices each process feeds its share of every batch, "
                f"which the device path does. Received: data_path={config.data_path!r}"
            )
    chief = strategy is None or strategy.is_chief
    shares = {}
    if strategy is not None and strategy.shards_data():
        shares = {
            "shard": (strategy.process_id, strategy.num_processes),
            "multiple_of": strategy.num_replicas,
        }
    check_data(model, data.x_train, data.y_train, "x_train")
    if len(data.x_val):
        check_data(model, data.x_val, data.y_val, "x_val")
    if len(data.x_test):
        check_data(model, data.x_test, data.y_test, "x_test")
    num_classes = int(model.output_shape[-1])
    keras.utils.set_random_seed(config.seed)
    pipeline = make_pipeline(
        data.x_train, data.y_train, config.batch_size, config.augment,
        dataset=data, num_classes=num_classes, seed=config.seed,
        one_hot=True if config.label_smoothing else None, path=config.data_path, **shares,
    )  # fmt: skip
    one_hot = pipeline.one_hot

    def labels(y):
        """Soft-label training is scored on one-hot labels too."""
        return keras.utils.to_categorical(y, num_classes) if one_hot else y

    validation = (data.x_val, labels(data.y_val)) if len(data.x_val) else None
    if validation is not None and shares:
        # Every replica takes the same number of images, so the last validation batch is
        # cut to a multiple of the replicas (fewer images than there are replicas).
        validation = make_pipeline(
            data.x_val, data.y_val, config.batch_size, shuffle=False, num_classes=num_classes,
            one_hot=one_hot, path="device", **shares,
        )  # fmt: skip
    policy = _mixed_policy(config.mixed_precision)
    if policy is not None:
        for layer in model.layers:
            if layer.name != "predictions" and not isinstance(layer, keras.layers.InputLayer):
                layer.dtype_policy = policy
    loss = (
        keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
        if one_hot
        else keras.losses.SparseCategoricalCrossentropy()
    )

    def scope():
        return strategy.scope() if strategy is not None else contextlib.nullcontext()

    with scope():  # the optimizer's variables are replicated too
        optimizer = make_optimizer(config, steps_per_epoch=len(pipeline))
        if policy == "mixed_float16":
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        model.compile(
            optimizer=optimizer,
            loss=loss,
            metrics=["accuracy"],
            steps_per_execution=steps_per_execution,
            jit_compile=config.jit_compile,
        )
        if strategy is not None:
            kd.prepare_model(model, strategy, data.x_train[:2], labels(data.y_train[:2]))

        path, initial_epoch, restored = None, 0, {}
        if resume is not None:
            state = kc.restore_checkpoint(model, resume)
            initial_epoch, restored = state["epoch"], state["history"]
            pipeline.set_epoch(initial_epoch)
            path = Path(resume) if chief else None
        elif run_dir is not None and chief:
            path = new_run_dir(run_dir, model.name)
    scratch = None
    if not chief and (resume is not None or run_dir is not None):
        # Saving a model is a collective step in every process (JAX and TensorFlow), so the
        # other processes write the same files into a scratch folder, deleted at the end.
        scratch = path = Path(tempfile.mkdtemp(prefix=f"kcnn-process{strategy.process_id}-"))
    verbose = config.verbose if chief else 0
    if verbose and (strategy is not None or config.lr_scaling != "none"):
        where = strategy.describe(config.batch_size) + " " if strategy is not None else ""
        print(f"{where}{describe_learning_rate(config).capitalize()}.")
    if verbose and shares and pipeline.images_per_epoch < len(data.x_train):
        print(
            f"Each epoch trains on {pipeline.images_per_epoch} of {len(data.x_train)} images: "
            f"the last batch is cut to a multiple of the {strategy.num_replicas} replicas."
        )
    stopper = None if config.early_stopping is None else kc.early_stopping(config.early_stopping)
    diagnostics = kc.TrainingDiagnostics(path, verbose=verbose > 0)
    own = [_PipelineEpoch(pipeline)]
    if path is not None:
        write_json(
            path / "config.json",
            {
                "model": model.name,
                "dataset": data.name,
                "backend": keras.backend.backend(),
                **dataclasses.asdict(config),
                **({"distribution": strategy.as_dict()} if strategy is not None else {}),
                **(run_info or {}),
            },
        )
        own.append(kc.CurvePlotter(path, patience=stopper.patience if stopper else 5))
    own.append(diagnostics)
    if path is not None and config.checkpoint:
        own.append(kc.RunCheckpoint(path))
    own += [callback for callback in (stopper, kc.TerminateOnNaN()) if callback is not None]

    try:
        start = time.perf_counter()
        try:
            with scope(), kd.synchronized_batchnorm(model, strategy):
                history = model.fit(
                    pipeline,
                    epochs=config.epochs,
                    initial_epoch=initial_epoch,
                    validation_data=validation,
                    callbacks=own + list(callbacks or []),
                    verbose=verbose,
                    shuffle=False,  # the pipeline shuffles by (seed, epoch); Keras' won't resume
                )
        except RuntimeError as error:
            if "NaN" not in str(error) and "Inf" not in str(error):
                raise
            advice = "; ".join(diagnostics.findings[0].advice) if diagnostics.findings else ""
            kept = " The last good checkpoint is in the run folder." if path else ""
            raise RuntimeError(
                f"Training diverged: {error}. Try: {advice}.{kept}"
                + (f" See {path / 'report.md'}." if path else "")
            ) from error
        seconds = time.perf_counter() - start
        if restored:
            for key, values in history.history.items():
                history.history[key] = list(restored.get(key, []))[:initial_epoch] + list(values)
            history.epoch = list(range(initial_epoch)) + list(history.epoch)
        if path is None:
            return history, None

        kc.save_atomic(model, path / "model.keras")
        metrics = {"train_seconds": round(seconds, 2), "parameters": count_params(model)}
        if initial_epoch:
            metrics["resumed_at_epoch"] = initial_epoch
        if len(data.x_test):
            # Under a strategy, a one-device copy scores the test set, so that every test
            # image counts (replicas take batches cut to a multiple of their number).
            scorer = model if strategy is None else _one_device_copy(model, loss)
            test_loss, test_accuracy = scorer.evaluate(
                data.x_test, labels(data.y_test), batch_size=256, verbose=0
            )
            y_pred = np.argmax(scorer.predict(data.x_test, batch_size=256, verbose=0), axis=-1)
            plot_confusion_matrix(
                data.y_test[: len(y_pred)],  # fewer under KERAS_MAX_STEPS_PER_EPOCH
                y_pred,
                data.class_names,
                path / "confusion.png",
                title=f"{model.name} on the {data.name} test set",
            )
            metrics.update(test_loss=float(test_loss), test_accuracy=float(test_accuracy))
        write_json(path / "metrics.json", metrics)
        return history, None if scratch else path
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _one_device_copy(model: keras.Model, loss) -> keras.Model:
    """The model with its trained weights, outside any distribution, compiled to score."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.compile(loss=loss, metrics=["accuracy"])
    return copy


class _PipelineEpoch(keras.callbacks.Callback):
    """Tell the pipeline which epoch Keras is starting, so its batches follow the epoch
    number rather than a count of ``on_epoch_end`` calls."""

    def __init__(self, pipeline):
        super().__init__()
        self.pipeline = pipeline

    def on_epoch_begin(self, epoch, logs=None):
        self.pipeline.set_epoch(epoch)


def _config_keys() -> set:
    return {f.name for f in dataclasses.fields(TrainConfig)}
