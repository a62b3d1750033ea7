"""Training curves gone wrong on purpose: one small, real run per pattern that
`kcnn.train.diagnose` names.

| pattern | the run |
|---|---|
| ``overfit`` | an MLP of 512 + 256 units without dropout, 3 training images per class, 40 epochs |
| ``underfit`` | an MLP with 2 hidden units, 20 epochs |
| ``nan`` | the big MLP with SGD at a learning rate of 1e6 |
| ``diverged`` | the big MLP with Adam at a learning rate of 10 |
| ``late_overfit`` | the big MLP on all training images, 40 epochs |

Each run is an ordinary ``model.fit`` with kcnn's callbacks: `TrainingDiagnostics` reads
the curves after every epoch, and `TerminateOnNaN` (not raising) stops training on the
batch whose loss is NaN, keeping the history up to it. The recipes are sized for the
handwritten digits (`kcnn.data.load_dataset("digits", validation_split=0.2)`), where each
run takes seconds on a CPU.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import keras
import numpy as np

from kcnn._validate import check_choice, check_int, check_type
from kcnn.data.datasets import Dataset, load_dataset
from kcnn.models.registry import build_model
from kcnn.train.callbacks import TerminateOnNaN, TrainingDiagnostics
from kcnn.train.compile import compile_model
from kcnn.train.config import TrainConfig
from kcnn.train.diagnose import Finding
from kcnn.train.fit import check_data


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to provoke one pattern.

    Attributes:
        pattern: the pattern's name, one of `PATTERNS`.
        expected: the `kcnn.train.diagnose.Finding` kind the run must get.
        setup: what the run does wrong, in words.
        model: a registered model name.
        model_kwargs: the builder's arguments.
        per_class: training images kept per class (drawn with the run's seed); None keeps
            all.
        config: `TrainConfig` fields of the run (the seed comes from `provoke`).
    """

    pattern: str
    expected: str
    setup: str
    model: str
    model_kwargs: Mapping[str, object]
    per_class: int | None
    config: Mapping[str, object]


_BIG_MLP = {"hidden_units": (512, 256), "dropout": 0.0}

#: The recipe of each pattern, by name.
RECIPES: dict[str, Recipe] = {
    recipe.pattern: recipe
    for recipe in (
        Recipe("overfit", "overfit", "a big MLP without dropout on a few images", "mlp",
               _BIG_MLP, 3, {"epochs": 40, "batch_size": 32, "learning_rate": 3e-3}),
        Recipe("underfit", "underfit", "a tiny model, stopped early", "mlp",
               {"hidden_units": (2,), "dropout": 0.0}, None,
               {"epochs": 20, "batch_size": 128, "learning_rate": 1e-2}),
        Recipe("nan", "nan", "an absurd learning rate for SGD", "mlp", _BIG_MLP, None,
               {"epochs": 3, "batch_size": 128, "optimizer": "sgd", "learning_rate": 1e6}),
        Recipe("diverged", "diverged", "an absurd learning rate for Adam", "mlp", _BIG_MLP,
               None, {"epochs": 5, "batch_size": 128, "learning_rate": 10.0}),
        Recipe("late_overfit", "late_overfit", "the big MLP on all images, trained too long",
               "mlp", _BIG_MLP, None,
               {"epochs": 40, "batch_size": 128, "learning_rate": 3e-3}),
    )
}  # fmt: skip

#: The patterns `provoke` knows, in the order of the lesson's table.
PATTERNS = tuple(RECIPES)


@dataclasses.dataclass
class CurveExample:
    """One provoked run: its curves and what kcnn read in them.

    Attributes:
        recipe: the `Recipe` that was run.
        seed: the run's seed.
        history: ``History.history``: a list of floats per metric, one per epoch run.
        findings: what `TrainingDiagnostics` found when training ended.
    """

    recipe: Recipe
    seed: int
    history: dict[str, list[float]]
    findings: list[Finding]

    @property
    def pattern(self) -> str:
        """The provoked pattern's name."""
        return self.recipe.pattern

    @property
    def kinds(self) -> list[str]:
        """The kinds of the findings, in the order diagnosed."""
        return [finding.kind for finding in self.findings]

    @property
    def finding(self) -> Finding | None:
        """The finding of the expected kind, or None when kcnn missed it."""
        return next((f for f in self.findings if f.kind == self.recipe.expected), None)


def provoke(pattern: str, seed: int = 0, data: Dataset | None = None) -> CurveExample:
    """Train one small model so that its curves show ``pattern``, and diagnose them.

    The run is a plain ``model.fit`` with kcnn's `TrainingDiagnostics` callback, which
    reads the curves after every epoch, and `TerminateOnNaN` with ``raise_error=False``,
    which stops on the first NaN batch and keeps the history (`kcnn.train.fit` raises
    there instead). The training images are cut to a whole number of batches (fewer than
    one batch is left out), so that every step has the same shape and compiles once.

    Args:
        pattern: one of `PATTERNS`: ``"overfit"``, ``"underfit"``, ``"nan"``,
            ``"diverged"`` or ``"late_overfit"``.
        seed: seeds the weights, the batch order and the draw of the training images.
            Defaults to 0.
        data: a `Dataset` with a validation split; the recipes are sized for the digits.
            Defaults to ``load_dataset("digits", validation_split=0.2)``.

    Returns:
        A `CurveExample`: the history and kcnn's findings.

    Raises:
        ValueError: an unknown pattern, a bad seed, or data without a validation split.
        TypeError: ``data`` that is not a `Dataset`.

    Example:
        ```python
        example = provoke("late_overfit", seed=1)
        example.kinds  # ['late_overfit']
        print(example.finding)
        ```
    """
    check_choice("pattern", pattern, PATTERNS)
    check_int("seed", seed, 0, 2**32 - 1)
    if data is None:
        data = load_dataset("digits", validation_split=0.2, seed=0)
    check_type("data", data, Dataset, "a kcnn.data.Dataset")
    if not len(data.x_val):
        raise ValueError(
            f"data must have a validation split: the patterns show in the validation curves. "
            f"Received: {data.name!r} with no validation images (load it with "
            "validation_split > 0)."
        )
    recipe = RECIPES[pattern]
    train = data if recipe.per_class is None else data.subset(per_class=recipe.per_class,
                                                              seed=seed)  # fmt: skip
    config = TrainConfig(**recipe.config, seed=seed, verbose=0, top_k=None)
    # Whole batches only: every step has one shape, so the step compiles once.
    keep = max(len(train.y_train) // config.batch_size, 1) * config.batch_size
    x, y = np.asarray(train.x_train[:keep]), np.asarray(train.y_train[:keep])
    x_val, y_val = np.asarray(train.x_val), np.asarray(train.y_val)
    keras.utils.set_random_seed(seed)
    model = build_model(recipe.model, input_shape=data.input_shape,
                        num_classes=data.num_classes, **recipe.model_kwargs)  # fmt: skip
    check_data(model, x, y, "x_train")
    compile_model(model, config, steps_per_epoch=math.ceil(len(x) / config.batch_size),
                  one_hot=False)  # fmt: skip
    diagnostics = TrainingDiagnostics(verbose=False)
    history = model.fit(
        x,
        y,
        validation_data=(x_val, y_val),
        epochs=config.epochs,
        batch_size=config.batch_size,
        validation_batch_size=min(len(x_val), 1024),
        callbacks=[diagnostics, TerminateOnNaN(raise_error=False)],
        verbose=0,
    )
    logs = {key: [float(v) for v in values] for key, values in history.history.items()}
    return CurveExample(recipe, seed, logs, list(diagnostics.findings))
