"""`TrainConfig`: the settings of one training run, and the rules they follow.

This module imports no Keras: the ``kcnn`` command builds ``kcnn train``'s flags from
`TrainConfig`'s fields (their defaults, and the ``help`` in each field's metadata), so
``kcnn train --help`` answers at once.
"""

from __future__ import annotations

import dataclasses
import math

from kcnn._validate import check_choice, check_int, check_number

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine", "onecycle", "step")
LR_SCALINGS = ("none", "linear", "sqrt")
MIXED_POLICIES = ("mixed_float16", "mixed_bfloat16")
DATA_PATHS = ("device", "tf.data")
FINAL_WEIGHTS = ("last", "best")
#: Named patiences of early stopping.
EARLY_STOPPING = {"quick": 3, "default": 5, "patient": 10}


def early_stopping_patience(patience: str | int) -> int:
    """The number of epochs a patience setting means: a number >= 1 or a preset name."""
    if isinstance(patience, str):
        if patience not in EARLY_STOPPING:
            raise ValueError(
                f"patience must be an integer or one of {list(EARLY_STOPPING)}. "
                f"Received: patience={patience!r}"
            )
        return EARLY_STOPPING[patience]
    return check_int("patience", patience, minimum=1)


# Readers of command-line text for the fields whose values are not plain numbers or words.
def _word_or_count(text: str, words: dict, minimum: int):
    """One of ``words`` (text -> value) or a whole number >= ``minimum``, from text."""
    if text in words:
        return words[text]
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ValueError(
            f"expected {', '.join(words)} or an integer >= {minimum}; received {text!r}"
        )
    return value


def parse_auto_or_count(text: str):
    """``"auto"`` or a whole number >= 1, from text."""
    return _word_or_count(text, {"auto": "auto"}, 1)


def parse_auto_or_workers(text: str):
    """``"auto"`` or a whole number >= 0 (decoding processes), from text."""
    return _word_or_count(text, {"auto": "auto"}, 0)


def parse_auto_or_bool(text: str):
    """``"auto"``, True or False, from ``auto``, ``true`` or ``false``."""
    choices = {"auto": "auto", "true": True, "false": False}
    if text.lower() not in choices:
        raise ValueError(f"expected auto, true or false; received {text!r}")
    return choices[text.lower()]


def parse_top_k(text: str):
    """``auto``, ``none`` or a whole number >= 2, from text."""
    return _word_or_count(text, {"auto": "auto", "none": None}, 2)


def parse_optional_number(text: str):
    """``none`` or a number > 0, from text."""
    if text == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise ValueError(f"expected none or a number > 0; received {text!r}")
    return value


def parse_class_weight(text: str):
    """``balanced``, ``none``, or ``CLASS=WEIGHT`` pairs such as ``0=1,3=5``, from text."""
    if text in ("balanced", "none"):
        return None if text == "none" else text
    weights = {}
    for pair in text.split(","):
        key, _, value = pair.partition("=")
        try:
            weights[int(key)] = float(value)
        except ValueError:
            raise ValueError(
                f"expected balanced, none or CLASS=WEIGHT pairs such as 0=1,3=5; received {text!r}"
            ) from None
    return weights


def _transforms(text: str):
    return text.split(",") if "," in text else text


def _patience(text: str):
    return int(text) if text.isdigit() else text


def _option(default, help: str, *, flag: str | None = None, parse=None, metavar=None, **extra):
    """A field with what the command line needs to offer it: ``help``, and ``flag`` (the
    option's name when it is not the field's), ``parse`` (text to value), ``metavar``,
    ``choices``, ``switch`` (an on/off flag), ``cli=False`` (not offered)."""
    metadata = {"help": help, "flag": flag, "parse": parse, "metavar": metavar, **extra}
    return dataclasses.field(default=default, metadata=metadata)


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
        top_k: also report top-k accuracy (``top5_accuracy``, ...) in the history, the
            curves and the test metrics: ``"auto"`` (top-5 when there are more than 5
            classes), a k >= 2 (below the number of classes), or None. A ``config.json``
            written before this setting existed reads as None. Defaults to ``"auto"``.
        clip_norm: rescale each step's gradients so that their global norm is at most this
            (Keras' ``global_clipnorm``, as PyTorch's ``clip_grad_norm_`` and timm's
            ``--clip-grad``); None leaves them. Defaults to None.
        grad_accum: average the gradients of this many batches before each update (Keras'
            ``gradient_accumulation_steps``): the update sees ``batch_size * grad_accum``
            images while memory holds one batch. The schedule counts updates. Defaults to 1.
        ema: keep an exponential moving average of the weights with this decay (Keras'
            ``use_ema``; timm's ``--model-ema-decay``), e.g. 0.999: validation, the
            checkpoints and the final model use the averaged weights. BatchNorm's running
            statistics are not averaged: the averaged weights use those of the trained
            ones. Defaults to None (off).
        class_weight: weigh each image's loss by its class, as Keras' ``fit(class_weight=)``
            does: ``"balanced"`` (``n / (k * count)``, scikit-learn's
            ``compute_class_weight``), a mapping ``{class: weight}`` (classes not named
            weigh 1), or None. Defaults to None.
        keep_best: also keep the checkpoint with the best ``val_accuracy`` so far, as
            ``checkpoints/best.keras``. Needs validation data. Defaults to False.
        final_weights: what ``model.keras`` (and the test metrics) hold: the ``"last"``
            epoch's weights or the ``"best"`` by ``val_accuracy`` (implies ``keep_best``);
            ``metrics.json`` says which epoch. Defaults to ``"last"``.
        workers: processes that decode a streamed data set's image files ahead of training
            (grain): ``"auto"`` (the cores but one, 1 to 8) or a number; 0 decodes in the
            training process. Batches are the same whatever the number. Defaults to
            ``"auto"``.
        tensorboard: write TensorBoard event files to the run folder's ``tensorboard/``
            (Keras' ``TensorBoard`` callback; needs TensorFlow installed, on any backend).
            Defaults to False.
    """

    epochs: int = _option(10, "epochs")
    batch_size: int = _option(64, "batch size")
    learning_rate: float = _option(1e-3, "learning rate", flag="lr")
    lr_scaling: str = _option(
        "none",
        "scale --lr by batch size / --lr-base-batch (linear) or its square root",
        choices=LR_SCALINGS,
    )
    lr_base_batch: int = _option(256, "the batch size --lr was chosen for, with --lr-scaling")
    optimizer: str = _option("adam", "adam, adamw or sgd")
    schedule: str = _option(
        "constant", "learning-rate schedule: constant, cosine, onecycle or step"
    )
    warmup_epochs: float = _option(0.0, "linear warmup epochs for constant and cosine")
    weight_decay: float = _option(1e-4, "for adamw and sgd")
    label_smoothing: float = _option(0.0, "label smoothing")
    augment: str | list | None = _option(
        None,
        "augmentation policy (none, crop, flip_crop, color, cutout, mixup, cutmix, "
        "randaugment), a transform, or comma-separated transforms, e.g. crop,cutout; "
        "transforms that break the data set's labels are refused",
        parse=_transforms,
    )
    early_stopping: int | str | None = _option(
        None,
        "stop after this many epochs without a better validation loss and keep the best "
        "weights: a number, quick (3), default (5) or patient (10) (default: off)",
        parse=_patience,
        metavar="PATIENCE",
    )
    seed: int = _option(0, "random seed")
    mixed_precision: bool | str = _option(
        False,
        "16-bit compute with float32 weights (float16 on a GPU, bfloat16 otherwise)",
        switch=True,
    )
    checkpoint: bool = _option(True, "a checkpoint every epoch", cli=False)
    steps_per_execution: int | str = _option(
        "auto",
        "training steps per call of the train function; auto: 4 for TensorFlow on a CPU, "
        "else 1 (see `kcnn bench`)",
        parse=parse_auto_or_count,
    )
    jit_compile: bool | str = _option(
        "auto", "XLA compilation: auto (Keras' choice), true or false", parse=parse_auto_or_bool
    )
    data_path: str = _option("device", "where batches are made and augmented", choices=DATA_PATHS)
    verbose: int = _option(1, "Keras progress output", choices=(0, 1, 2))
    top_k: int | str | None = _option(
        "auto",
        "also report top-k accuracy: auto (top-5 with more than 5 classes), none, or k",
        parse=parse_top_k,
        metavar="K",
    )
    clip_norm: float | None = _option(
        None,
        "clip each step's gradients to this global norm (default: off)",
        parse=parse_optional_number,
        metavar="NORM",
    )
    grad_accum: int = _option(
        1, "average the gradients of this many batches per update", metavar="STEPS"
    )
    ema: float | None = _option(
        None,
        "keep an exponential moving average of the weights with this decay, e.g. 0.999, "
        "and validate, checkpoint and save it (default: off)",
        parse=parse_optional_number,
        metavar="DECAY",
    )
    class_weight: str | dict | None = _option(
        None,
        "weigh the loss by class: balanced, or CLASS=WEIGHT pairs such as 0=1,3=5 (default: none)",
        parse=parse_class_weight,
        metavar="WEIGHTS",
    )
    keep_best: bool = _option(
        False, "also keep the best checkpoint by val_accuracy (checkpoints/best.keras)",
        switch=True,
    )  # fmt: skip
    final_weights: str = _option(
        "last", "model.keras holds the last epoch's weights or the best by val_accuracy",
        choices=FINAL_WEIGHTS,
    )  # fmt: skip
    tensorboard: bool = _option(
        False, "write TensorBoard logs to the run folder's tensorboard/ (needs TensorFlow)",
        switch=True,
    )  # fmt: skip
    workers: int | str = _option(
        "auto",
        "processes decoding streamed image files: auto (the cores but one, up to 8), or a "
        "number; 0 decodes in the training process",
        parse=parse_auto_or_workers,
        metavar="N",
    )

    def __post_init__(self):
        for field, minimum in (("epochs", 1), ("batch_size", 1), ("seed", 0), ("lr_base_batch", 1),
                               ("grad_accum", 1)):  # fmt: skip
            check_int(field, getattr(self, field), minimum=minimum)
        if self.steps_per_execution != "auto":
            check_int("steps_per_execution", self.steps_per_execution, minimum=1)
        if self.workers != "auto":
            check_int("workers", self.workers, minimum=0)
        check_number("learning_rate", self.learning_rate, 0.0, low_open=True)
        check_number("warmup_epochs", self.warmup_epochs, 0.0, math.inf)
        check_number("weight_decay", self.weight_decay, 0.0, math.inf)
        check_number("label_smoothing", self.label_smoothing, 0.0, 1.0)
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
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("lr_scaling", self.lr_scaling, LR_SCALINGS)
        if self.warmup_epochs and self.schedule not in ("constant", "cosine"):
            raise ValueError(
                "warmup_epochs is for the 'constant' and 'cosine' schedules. "
                f"Received: schedule={self.schedule!r}, warmup_epochs={self.warmup_epochs}"
            )
        if self.early_stopping is not None:
            early_stopping_patience(self.early_stopping)  # raises on a bad value
        if self.top_k not in ("auto", None):
            check_int("top_k", self.top_k, minimum=2)
        if self.clip_norm is not None:
            check_number("clip_norm", self.clip_norm, 0.0, low_open=True)
        if self.ema is not None:
            check_number("ema", self.ema, 0, 1, low_open=True)
        self._check_class_weight()
        self._check_words()

    def _check_class_weight(self) -> None:
        weights = self.class_weight
        if weights is None or weights == "balanced":
            return
        if isinstance(weights, dict):
            # config.json stores the mapping's keys as text
            weights = self.class_weight = {
                int(k) if isinstance(k, str) and k.isdigit() else k: v for k, v in weights.items()
            }
            if all(isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in weights) and (
                all(
                    isinstance(v, (int, float)) and math.isfinite(v) and v >= 0
                    for v in weights.values()
                )  # fmt: skip
            ):
                return
        raise ValueError(
            "class_weight must be 'balanced', None, or a mapping of class indices (>= 0) to "
            f"finite weights >= 0. Received: class_weight={self.class_weight!r}"
        )

    def _check_words(self) -> None:
        """The settings whose values are words and flags, each with its own sentence."""
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
        if self.data_path not in DATA_PATHS:
            raise ValueError(
                f"data_path must be 'device' or 'tf.data'. Received: data_path={self.data_path!r}"
            )
        check_choice("final_weights", self.final_weights, FINAL_WEIGHTS)
        for switch in ("keep_best", "tensorboard"):
            if not isinstance(getattr(self, switch), bool):
                raise ValueError(
                    f"{switch} must be True or False. Received: {switch}={getattr(self, switch)!r}"
                )
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1 or 2. Received: verbose={self.verbose!r}")

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """A config from a dict such as a run folder's ``config.json`` (other keys ignored)."""
        names = field_names()
        known = {k: v for k, v in values.items() if k in names}
        known.setdefault("top_k", None)  # runs from before top_k reported no top-k metric
        return cls(**known)

    def to_dict(self) -> dict:
        """The settings as a plain dict (what ``config.json`` stores)."""
        return dataclasses.asdict(self)


def field_names() -> set[str]:
    """The names of `TrainConfig`'s fields."""
    return {f.name for f in dataclasses.fields(TrainConfig)}


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
    if backend is None:
        import keras

        backend = keras.backend.backend()
    if device is None:
        from kcnn._backend import has_gpu

        device = "gpu" if has_gpu() else "cpu"
    if device not in RECOMMENDED or backend not in RECOMMENDED[device]:
        raise ValueError(
            f"No recommended settings for backend={backend!r} on device={device!r}; "
            f"expected a backend in {list(RECOMMENDED['cpu'])} and device 'cpu' or 'gpu'."
        )
    return dict(RECOMMENDED[device][backend])


def under_tf_distribute(distribute) -> bool:
    """Whether a `kcnn.distribute.Strategy` runs under a tf.distribute strategy."""
    return (
        distribute is not None
        and distribute.backend == "tensorflow"
        and getattr(distribute, "native", None) is not None
    )


def check_distributed(config: TrainConfig, distribute) -> None:
    """Refuse the settings a strategy cannot train with, before anything is written.

    Raises:
        ValueError: under a tf.distribute strategy, ``grad_accum`` > 1 (Keras' accumulating
            update is a ``cond`` around the gradient all-reduce, which tf.distribute
            refuses: "merge_call called while defining a new graph") or ``clip_norm``
            (Keras clips each replica's gradient before they are summed: a different
            update from clipping the whole batch's, by 0.05 after 4 steps when measured).
    """
    if config.clip_norm is not None and under_tf_distribute(distribute):
        raise ValueError(
            "clip_norm cannot be used when training on several devices with TensorFlow: "
            "Keras would clip each device's share of the gradient, not the whole batch's. "
            "Use the JAX backend, or one device. "
            f"Received: clip_norm={config.clip_norm}"
        )
    if config.grad_accum > 1 and under_tf_distribute(distribute):
        raise ValueError(
            "grad_accum must be 1 when training on several devices with TensorFlow: "
            "tf.distribute cannot all-reduce gradients inside Keras' accumulating update. "
            "Use a larger batch_size (it is split across the devices), or the JAX backend. "
            f"Received: grad_accum={config.grad_accum}"
        )


def resolve_steps_per_execution(value: int | str, distribute=None) -> int:
    """The steps per call `fit` runs for a ``TrainConfig.steps_per_execution`` value:
    ``"auto"`` is `recommended_settings`' choice, and 1 under a tf.distribute strategy.

    Raises:
        ValueError: more than 1 on the PyTorch backend (Keras runs one step per call there)
            or under a tf.distribute strategy (Keras 3.15's multi-step train function fails
            there).
    """
    import keras

    tf_strategy = under_tf_distribute(distribute)
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
