"""Sweeps: train one model family over a grid of settings and compare accuracy, size and time.

`sweep` varies the builder's arguments (``filters``, ``kernel_size``, ``batchnorm``,
``dropout``, ...) and `TrainConfig` fields (``learning_rate``, ``epochs``, ...), one factor
at a time around a base setting or over every combination, trains each setting with
`kcnn.train.fit` once per seed, and returns a `SweepResult`: a row per setting with its
parameter count, accuracy over the seeds and training time, a Markdown table and the
curves.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import keras
import numpy as np

from kcnn._validate import check_choice, check_int, check_type
from kcnn.data.datasets import Dataset
from kcnn.models.registry import build_model, get_model_builder
from kcnn.train.config import TrainConfig
from kcnn.train.fit import fit

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MODES = ("one_at_a_time", "product")
#: Arguments a sweep sets itself: the data decide the first two, ``seeds`` the last.
_RESERVED = {
    "input_shape": "it comes from the data",
    "num_classes": "it comes from the data",
    "seed": "pass seeds=[...] instead",
}


@dataclasses.dataclass(frozen=True)
class SweepRow:
    """One setting of a sweep, trained once per seed.

    Attributes:
        label: ``"base"``, or the changed arguments, e.g. ``"kernel_size=5"``.
        setting: the arguments that differ from the base setting.
        params: the model's parameter count (``model.count_params()``).
        accuracies: the accuracy of each seed's run, on the test split (or the validation
            split when there is no test split).
        seconds: each run's `kcnn.train.fit` time, compilation included.
        histories: each run's ``History.history``.
    """

    label: str
    setting: dict
    params: int
    accuracies: tuple[float, ...]
    seconds: tuple[float, ...]
    histories: tuple[dict, ...]

    @property
    def accuracy(self) -> float:
        """The mean accuracy over the seeds."""
        return float(np.mean(self.accuracies))

    @property
    def spread(self) -> tuple[float, float]:
        """The lowest and highest accuracy over the seeds."""
        return float(np.min(self.accuracies)), float(np.max(self.accuracies))

    @property
    def time(self) -> float:
        """The shortest training time over the seeds, in seconds: the first run in a
        process also pays the backend's start-up, and the fastest run is the one least
        disturbed (as `timeit` reports)."""
        return float(np.min(self.seconds))


@dataclasses.dataclass
class SweepResult:
    """What a `sweep` measured.

    Attributes:
        model: the registered model name.
        base: the base setting (builder arguments and `TrainConfig` fields).
        grid: the values tried, per argument.
        mode: ``"one_at_a_time"`` or ``"product"``.
        seeds: the seeds each setting was trained with.
        split: where accuracy was measured: ``"test"`` or ``"validation"``.
        rows: a `SweepRow` per setting; with ``"one_at_a_time"``, the base row first.
    """

    model: str
    base: dict
    grid: dict
    mode: str
    seeds: tuple[int, ...]
    split: str
    rows: list[SweepRow]

    def row(self, label: str) -> SweepRow:
        """The row labelled ``label`` (``"base"``, ``"dropout=0.0"``, ...).

        Raises:
            KeyError: no row has that label; the message lists the labels.
        """
        for row in self.rows:
            if row.label == label:
                return row
        raise KeyError(f"No row {label!r}. Rows: {[row.label for row in self.rows]}")

    def table(self) -> str:
        """A Markdown table: setting, parameters, accuracy (mean and range over the seeds),
        its difference from the base (one factor at a time) and the training time (the
        fastest seed's)."""
        n = len(self.seeds)
        spread = f", min-max of {n} seeds" if n > 1 else ""
        head = ["setting", "parameters", f"{self.split} accuracy (mean{spread})"]
        base = self.rows[0].accuracy if self.mode == "one_at_a_time" else None
        head += ["vs base"] if base is not None else []
        head += ["fit time (s, fastest run)" if n > 1 else "fit time (s)"]
        lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        for row in self.rows:
            low, high = row.spread
            accuracy = f"{row.accuracy:.3f}" + (f" ({low:.3f}-{high:.3f})" if n > 1 else "")
            cells = [row.label, f"{row.params:,}", accuracy]
            if base is not None:
                cells.append("" if row is self.rows[0] else f"{row.accuracy - base:+.3f}")
            cells.append(f"{row.time:.1f}")
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"

    def plot(self, metric: str = "val_accuracy") -> Figure:
        """The curves of ``metric``, the mean over the seeds per epoch: one panel per swept
        argument (with the base in each) one factor at a time, one panel otherwise.

        Args:
            metric: a history key: ``"val_accuracy"``, ``"val_loss"``, ``"accuracy"`` or
                ``"loss"``. Defaults to ``"val_accuracy"``.

        Returns:
            A matplotlib `Figure` (shown inline as a notebook cell's last value).
        """
        check_choice("metric", metric, ("val_accuracy", "val_loss", "accuracy", "loss"))
        from matplotlib.ticker import MaxNLocator

        from kcnn.plots import figure

        if self.mode == "one_at_a_time":
            panels = {key: [self.rows[0]] + [r for r in self.rows[1:] if key in r.setting]
                      for key in self.grid}  # fmt: skip
        else:
            panels = {"all settings": self.rows}
        columns = 2 if len(panels) in (2, 4) else min(3, len(panels))
        rows = -(-len(panels) // columns)
        fig = figure((4.6 * columns, 3.6 * rows))
        axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False)).ravel()
        for ax, (title, members) in zip(axes, panels.items()):
            for row in members:
                curves = [h[metric] for h in row.histories if h.get(metric)]
                if not curves:
                    continue
                length = min(len(c) for c in curves)
                mean = np.mean([c[:length] for c in curves], axis=0)
                ax.plot(np.arange(1, length + 1), mean, label=row.label,
                        linestyle="--" if row.label == "base" else "-")  # fmt: skip
            ax.set_title(title)
            ax.set_xlabel("epoch")
            ax.set_ylabel(metric.replace("_", " "))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=9)
        for ax in axes[len(panels) :]:
            ax.set_visible(False)
        return fig


def sweep(
    model: str,
    grid: Mapping[str, Sequence],
    data: Dataset,
    config: TrainConfig | None = None,
    *,
    base: Mapping[str, object] | None = None,
    seeds: Sequence[int] = (0,),
    mode: str = "one_at_a_time",
) -> SweepResult:
    """Train a registered model over a grid of settings, each with several seeds.

    Every key of ``grid`` (and of ``base``) is an argument of the model's builder
    (``filters``, ``kernel_size``, ``batchnorm``, ``dropout``, ...) or a `TrainConfig` field
    (``learning_rate``, ``epochs``, ...). Every setting is built before any training, so a
    bad key or value fails at once. Each run is ``kcnn.train.fit(..., run_dir=None)`` with
    the seed set before the model is built; accuracy is measured on the test split (the
    validation split when there is none) with the final weights.

    Args:
        model: a registered model name (see `kcnn.list_models`).
        grid: argument -> the values to try.
        data: the `Dataset` to train on.
        config: the training settings. Defaults to ``TrainConfig()``.
        base: the base setting; the builder's defaults and ``config`` for the arguments it
            does not name. Defaults to None (all defaults).
        seeds: seeds of the runs of each setting. Defaults to ``(0,)``.
        mode: ``"one_at_a_time"`` (the base, then each value of each argument with the
            others at the base; a value equal to the base's is not trained twice) or
            ``"product"`` (every combination). Defaults to ``"one_at_a_time"``.

    Returns:
        A `SweepResult`.

    Raises:
        ValueError: an unknown model, an empty grid, a grid or base key that is neither a
            builder argument nor a `TrainConfig` field (named in the message), a value the
            builder refuses, bad seeds or mode.
        TypeError: ``data`` that is not a `Dataset`, ``config`` not a `TrainConfig`, or a
            grid that is not a mapping of lists.
        RuntimeError: a run whose loss became NaN (the message names the setting).

    Example:
        ```python
        data = kcnn.data.load_dataset("digits")
        result = sweep("simple_cnn", {"kernel_size": [3, 5], "dropout": [0.0, 0.5]}, data,
                       TrainConfig(epochs=5, verbose=0), seeds=[0, 1, 2])
        print(result.table())
        ```
    """
    check_type("model", model, str, "a registered model name (see kcnn.list_models())")
    get_model_builder(model)  # an unknown name raises, with the close matches
    check_type("data", data, Dataset, "a kcnn.data.Dataset")
    config = TrainConfig() if config is None else config
    check_type("config", config, TrainConfig, "a kcnn.train.TrainConfig")
    check_choice("mode", mode, MODES)
    seeds = _check_seeds(seeds)
    grid = _check_grid(grid)
    base = dict(check_type("base", base or {}, Mapping, "a dict of argument -> value"))
    for key in list(base) + list(grid):
        _check_key(key, "grid" if key in grid else "base")
    if not len(data.x_test) and not len(data.x_val):
        raise ValueError(
            f"data must have a test or a validation split to measure accuracy on. Received: "
            f"{data.name!r} with neither."
        )
    settings = _settings(grid, base, mode)
    # Build every setting first: a bad key or value fails before any training.
    params = [_prepare(model, data, config, base, setting) for setting in settings]
    rows = []
    for setting, count in zip(settings, params):
        runs = [_run(model, data, config, {**base, **setting}, seed) for seed in seeds]
        rows.append(SweepRow(_label(setting), setting, count, *map(tuple, zip(*runs))))
    split = "test" if len(data.x_test) else "validation"
    return SweepResult(model, base, grid, mode, seeds, split, rows)


def _check_seeds(seeds) -> tuple[int, ...]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ValueError(f"seeds must be a non-empty list of integers. Received: seeds={seeds!r}")
    for seed in seeds:
        check_int("seeds[i]", seed, 0, 2**32 - 1)
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct. Received: seeds={list(seeds)!r}")
    return tuple(seeds)


def _check_grid(grid) -> dict:
    check_type("grid", grid, Mapping, "a dict of argument -> list of values")
    if not grid:
        raise ValueError("grid must name at least one argument to vary. Received: grid={}")
    for key, values in grid.items():
        if not isinstance(key, str):
            raise TypeError(f"grid keys must be argument names. Received: {key!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise TypeError(
                f"grid[{key!r}] must be a non-empty list of values. Received: {values!r}"
            )
    return {key: list(values) for key, values in grid.items()}


def _check_key(key: str, where: str) -> None:
    if key in _RESERVED:
        raise ValueError(f"{where} cannot set {key!r}: {_RESERVED[key]}. Received: {key!r}")


def _settings(grid: dict, base: dict, mode: str) -> list[dict]:
    """The settings to train, as changes from ``base``."""
    if mode == "product":
        return [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    settings = [{}]
    for key, values in grid.items():
        for value in values:
            if key in base and _same(base[key], value):
                continue  # the base row already trains it
            settings.append({key: value})
    return settings


def _same(a, b) -> bool:
    """Equal values, with lists and tuples alike (``filters=[16, 32]`` is ``(16, 32)``)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def _label(setting: dict) -> str:
    if not setting:
        return "base"
    return ", ".join(f"{key}={_text(value)}" for key, value in setting.items())


def _text(value) -> str:
    return str(tuple(value)) if isinstance(value, list) else repr(value)


def _split(arguments: dict) -> tuple[dict, dict]:
    """(builder arguments, `TrainConfig` changes)."""
    fields = {field.name for field in dataclasses.fields(TrainConfig)}
    changes = {k: v for k, v in arguments.items() if k in fields}
    return {k: v for k, v in arguments.items() if k not in fields}, changes


def _prepare(model: str, data: Dataset, config: TrainConfig, base: dict, setting: dict) -> int:
    """Check one setting (its config changes and its model) and count its parameters; a
    keyword the builder does not take becomes a ValueError that names it."""
    arguments, changes = _split({**base, **setting})
    dataclasses.replace(config, **changes)  # TrainConfig checks its fields
    try:
        built = build_model(model, input_shape=data.input_shape, num_classes=data.num_classes,
                            **arguments)  # fmt: skip
    except TypeError as error:
        unknown = [key for key in arguments if f"'{key}'" in str(error)]
        if "unexpected keyword" not in str(error) or not unknown:
            raise
        key = unknown[0]
        where = "grid" if key in setting else "base"
        raise ValueError(
            f"{where} key {key!r} is neither an argument of model {model!r} nor a "
            f"TrainConfig field. Received: {where}[{key!r}]={arguments[key]!r}"
        ) from None
    count = built.count_params()
    del built
    return count


def _run(model: str, data: Dataset, config: TrainConfig, arguments: dict,
         seed: int) -> tuple[float, float, dict]:  # fmt: skip
    """Build and train one setting with one seed: (accuracy, fit seconds, history)."""
    builder_arguments, changes = _split(arguments)
    run_config = dataclasses.replace(config, **changes, seed=seed)
    keras.utils.set_random_seed(seed)
    net = build_model(model, input_shape=data.input_shape, num_classes=data.num_classes,
                      **builder_arguments)  # fmt: skip
    start = time.perf_counter()
    try:
        history, _ = fit(net, data, run_config, run_dir=None)
    except RuntimeError as error:
        raise RuntimeError(f"{model} with {_label(arguments) or 'defaults'}, seed {seed}: "
                           f"{error}") from error  # fmt: skip
    seconds = time.perf_counter() - start
    x, y = (data.x_test, data.y_test) if len(data.x_test) else (data.x_val, data.y_val)
    logs = {key: [float(v) for v in values] for key, values in history.history.items()}
    return _accuracy(net, x, y), seconds, logs


def _accuracy(model: keras.Model, x, y, batch: int = 1024) -> float:
    """Top-1 accuracy of ``model`` on ``(x, y)``, called in chunks of ``batch`` images
    without compiling a predict step (which would cost more than the call on a small
    split)."""
    right = 0
    for start in range(0, len(y), batch):
        probabilities = model(np.asarray(x[start : start + batch]), training=False)
        predicted = np.argmax(keras.ops.convert_to_numpy(probabilities), axis=-1)
        right += int(np.sum(predicted == np.asarray(y[start : start + batch])))
    return right / len(y)
