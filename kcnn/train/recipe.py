"""The fast recipe: the training settings ``kcnn train`` starts from, by training-set size.

Stated the way airbench states its recipe: one row of settings per size of training set,
with the result it measured beside it. ``kcnn train`` takes every setting of the row that
fits the data set (``--recipe fast``, the default) unless the command line gives it;
``--recipe none`` starts from `TrainConfig`'s plain defaults instead (Adam 1e-3, batch 64,
a constant rate, 10 epochs). In Python, pass the row to `TrainConfig` yourself::

    config = kcnn.train.TrainConfig(**kcnn.train.fast_recipe(len(data.x_train)), seed=1)

Why these settings (measured on a 2-core CPU, ``benchmarks/time_to_accuracy.py`` and the
docs' Performance page):

- **one-cycle schedule** (Smith and Topin 2017): a short rise to a peak three to four times
  Adam's usual 1e-3, then a cosine fall to almost nothing, so the last epoch settles into a
  minimum instead of bouncing around it. A recipe therefore names its number of epochs: the
  schedule is laid out over exactly them.
- **batch 256** on the larger sets: half the steps of batch 128 at the same images/s on
  TensorFlow and PyTorch (1.02x and 1.00x; JAX 0.93x), and the one-cycle peak rate makes up
  for the fewer updates. A small set keeps small batches, or it would get too few updates.
- **label smoothing 0.1** (Szegedy et al. 2016): costs nothing per step and keeps the
  softmax from over-confidence on the last epochs.
- **no augmentation** on these short runs: after a few epochs the network is still fitting
  the training set, and augmentation makes that task harder. Ask for one on longer runs
  (``--augment flip_crop``); the data set's label rules still apply.
"""

from __future__ import annotations

from dataclasses import dataclass

from kcnn._validate import check_int

#: The settings a recipe row sets, all `TrainConfig` fields.
RECIPE_FIELDS = (
    "epochs", "batch_size", "learning_rate", "optimizer", "schedule", "label_smoothing",
    "augment",
)  # fmt: skip

#: The recipes ``kcnn train --recipe`` offers.
RECIPES = ("fast", "none")


@dataclass(frozen=True)
class RecipeRow:
    """One row of the fast recipe: its settings, up to ``max_images`` training images.

    Attributes:
        max_images: the largest training set the row is for; None: any size.
        settings: `TrainConfig` field -> value.
        measured: what the row reached, where and how fast; empty where not measured.
    """

    max_images: int | None
    settings: dict
    measured: str = ""


#: The fast recipe, smallest training sets first (measured with
#: ``benchmarks/time_to_accuracy.py --recipe fast``, SimpleCNN, 2-core CPU, TensorFlow).
FAST_RECIPE = (
    #             epochs batch peak lr  schedule               smoothing         augment
    RecipeRow(5_000, dict(epochs=10, batch_size=32, learning_rate=3e-3, optimizer="adam",
                          schedule="onecycle", label_smoothing=0.1, augment=None),
              measured="digits (1,437 training images): 99.7% test accuracy after 6 of "
                       "10 epochs, under 2 s of training"),
    RecipeRow(None, dict(epochs=4, batch_size=256, learning_rate=4e-3, optimizer="adam",
                         schedule="onecycle", label_smoothing=0.1, augment=None),
              measured="fashion_mnist (60,000 training images): 91.4% test accuracy "
                       "after 3 of 4 epochs, 39 s of training (TensorFlow; JAX 137 s, "
                       "PyTorch 79 s)"),
)  # fmt: skip


def fast_recipe(num_train: int) -> dict:
    """The fast recipe's settings for a training set of ``num_train`` images.

    Args:
        num_train: the number of training images.

    Returns:
        `TrainConfig` field -> value, for every name in `RECIPE_FIELDS`.

    Raises:
        ValueError: ``num_train`` below 1.

    Example:
        ```python
        kcnn.train.fast_recipe(54_000)["batch_size"]  # 256
        ```
    """
    num_train = check_int("num_train", num_train, minimum=1)
    for row in FAST_RECIPE:
        if row.max_images is None or num_train <= row.max_images:
            return dict(row.settings)
    raise AssertionError("the last row of FAST_RECIPE takes any size")  # pragma: no cover


def recipe_settings(recipe: str, num_train: int) -> dict:
    """The settings of recipe ``recipe`` (one of `RECIPES`) for ``num_train`` images:
    the fast recipe's row, or {} for ``"none"``.

    Raises:
        ValueError: an unknown recipe.
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {list(RECIPES)}. Received: recipe={recipe!r}")
    return fast_recipe(num_train) if recipe == "fast" else {}
