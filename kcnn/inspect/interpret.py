"""What a classifier gets wrong on a split: one prediction, then the confusion matrix, the
top losses and the most confused pairs.

`Interpretation.from_model` predicts the split once (as fastai's
``ClassificationInterpretation.from_learner`` does) and every view is a short method over that
prediction. `confusion_matrix_plot`, `top_losses` and `plot_top_losses` are the one-call
forms: each makes an `Interpretation` and asks it one question.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kcnn._validate import check_choice, check_type
from kcnn.inspect._graph import _check_count, _check_model, _display, _probabilities, _show
from kcnn.plots import figure, finish, plot_confusion_matrix

if TYPE_CHECKING:
    import keras
    from matplotlib.figure import Figure

    from kcnn.data.datasets import Dataset

#: The splits of a `kcnn.data.Dataset` that the model-level plots accept.
SPLITS = ("train", "val", "test")


def _split(data: Dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    from kcnn.data.datasets import Dataset

    check_type("data", data, Dataset, "a kcnn.data.Dataset")
    check_choice("split", split, SPLITS)
    x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
    if len(x) == 0:
        hint = " (load it with validation_split > 0)" if split == "val" else ""
        raise ValueError(
            f"split={split!r} of data set {data.name!r} is empty{hint}. Received: split={split!r}"
        )
    return x, _labels(y, f"data.y_{split}")


def _labels(y, argument: str) -> np.ndarray:
    """Integer class indices shaped (n,) (or (n, 1)); one-hot rows are refused by name."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        raise ValueError(
            f"{argument} must be integer class indices shaped (n,). Received one-hot or soft "
            f"labels shaped {y.shape}: pass {argument}.argmax(axis=-1)."
        )
    if y.size and not (np.issubdtype(y.dtype, np.integer) or np.all(np.mod(y, 1) == 0)):
        raise ValueError(
            f"{argument} must be integer class indices. Received dtype {y.dtype} with "
            f"values such as {y.reshape(-1)[:3].tolist()}"
        )
    return y.reshape(-1).astype("int64")


def _predict(model, x: np.ndarray, batch_size: int) -> np.ndarray:
    batch_size = _check_count("batch_size", batch_size)
    return _probabilities(model.predict(x, batch_size=batch_size, verbose=0))


def _class_name(class_names: Sequence[str], index) -> str:
    """The name of class ``index``, or the index as text when there is no name for it."""
    index = int(index)
    return class_names[index] if index < len(class_names) else str(index)


def _probability(p: float) -> str:
    """A probability in 4 characters or so: 0.93, or 3e-05 when it rounds to 0.00."""
    return f"{p:.2f}" if p >= 0.005 else f"{p:.0e}"


@dataclass
class TopLosses:
    """The examples of one split with the highest cross-entropy loss, highest first.

    Attributes:
        indices: positions of the examples in the split.
        losses: each example's cross-entropy, ``-log(prob_true)``.
        y_true: the true labels.
        y_pred: the predicted labels.
        prob_pred: the probability of the predicted label.
        prob_true: the probability of the true label.
        class_names: one name per class index.
        split: the split they come from.
    """

    indices: np.ndarray
    losses: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    prob_pred: np.ndarray
    prob_true: np.ndarray
    class_names: tuple = ()
    split: str = "test"

    def __len__(self) -> int:
        return len(self.indices)

    def _name(self, index: int) -> str:
        return _class_name(self.class_names, index)

    def __str__(self) -> str:
        lines = [
            f"Top {len(self)} losses on the {self.split} split",
            f"{'rank':>4}  {'index':>6}  {'loss':>6}  {'actual':<14} {'p(actual)':>9}  "
            f"{'predicted':<14} {'p(pred)':>7}",
        ]
        for rank in range(len(self)):
            lines.append(
                f"{rank + 1:>4}  {int(self.indices[rank]):>6}  {self.losses[rank]:>6.2f}  "
                f"{self._name(self.y_true[rank]):<14} {_probability(self.prob_true[rank]):>9}  "
                f"{self._name(self.y_pred[rank]):<14} {_probability(self.prob_pred[rank]):>7}"
            )
        return "\n".join(lines)

    def plot(self, data: Dataset, path: str | os.PathLike | None = None) -> Figure:
        """Draw these examples from ``data`` (the data set they were taken from), each
        titled ``prediction / actual`` and ``loss / probability of actual`` as fastai does.

        Returns:
            The matplotlib ``Figure`` (written to ``path`` when one is given).
        """
        images = getattr(data, f"x_{self.split}")[self.indices]
        columns = math.ceil(math.sqrt(len(self)))
        rows = math.ceil(len(self) / columns)
        fig = figure((max(4.0, 2.0 * columns), 2.25 * rows + 0.6))
        axes = fig.subplots(rows, columns, squeeze=False).ravel()
        for position, ax in enumerate(axes):
            if position >= len(self):
                ax.set_visible(False)
                continue
            _show(ax, _display(images[position]))
            ax.set_title(
                f"{self._name(self.y_pred[position])} / {self._name(self.y_true[position])}\n"
                f"{self.losses[position]:.2f} / {_probability(self.prob_true[position])}",
                fontsize=8,
            )
        fig.suptitle(
            f"Top {len(self)} losses, {data.name} {self.split} set\n"
            "prediction / actual, loss / probability of actual",
            fontsize=10,
        )
        return finish(fig, path)


class Interpretation:
    """One prediction of a split, and the views of it: the confusion matrix, the top losses
    and the most confused pairs of classes.

    Make one with `Interpretation.from_model`, which predicts the split once; every method
    then reads that prediction, so asking several questions costs one pass over the images.
    The constructor takes a prediction made elsewhere.

    Args:
        probabilities: the predicted class probabilities, ``(images, classes)``.
        y_true: the true integer labels, one per image.
        class_names: one name per class index. Defaults to none (the indices are used).
        split: the split the images come from. Defaults to ``"test"``.
        title: the start of the confusion matrix's title. Defaults to
            ``"Confusion matrix"``.
        data: the `kcnn.data.Dataset` the images come from, to draw the top losses.
            Defaults to None.

    Attributes:
        probabilities: ``(images, classes)`` float64.
        y_true: the labels, int64.
        y_pred: the predicted labels (the most probable class), int64.
        losses: each image's cross-entropy ``-log(p)``, ``p`` the probability of its true
            label clipped to at least 1e-7 as Keras' cross-entropy does.

    Example:
        ```python
        interpretation = kcnn.inspect.Interpretation.from_model(model, data)
        interpretation.plot_confusion_matrix("confusion.png", normalize=True)
        print(interpretation.top_losses(5))
        interpretation.most_confused(min_count=3)  # [("shirt", "t-shirt", 41), ...]
        ```

    References:
        fastai's ``ClassificationInterpretation`` (Howard, Gugger. fastai: a layered API for
        deep learning. Information 11(2), 2020).
    """

    def __init__(
        self,
        probabilities: np.ndarray,
        y_true: Sequence[int] | np.ndarray,
        class_names: Sequence[str] = (),
        split: str = "test",
        title: str = "Confusion matrix",
        data: Dataset | None = None,
    ):
        self.probabilities = np.asarray(probabilities, dtype="float64")
        self.y_true = _labels(y_true, "y_true")
        if (
            self.probabilities.ndim != 2
            or len(self.probabilities) != len(self.y_true)
            or len(self.y_true) == 0
        ):
            raise ValueError(
                "probabilities must be shaped (images, classes) with one row per label, and "
                "there must be at least one image. "
                f"Received: probabilities with shape {self.probabilities.shape} and "
                f"{len(self.y_true)} labels"
            )
        self.y_pred = self.probabilities.argmax(axis=-1)
        self.class_names = tuple(class_names)
        self.split = split
        self.title = title
        self.data = data

    @classmethod
    def from_model(
        cls, model: keras.Model, data: Dataset, split: str = "test", batch_size: int = 256
    ) -> Interpretation:
        """Predict a split of ``data`` once and keep what the views need.

        A model without a softmax output has a softmax applied to its logits.

        Args:
            model: a `keras.Model` that classifies ``data``'s images.
            data: a `kcnn.data.Dataset`.
            split: ``"train"``, ``"val"`` or ``"test"``. Defaults to ``"test"``.
            batch_size: images per prediction batch. Defaults to 256.

        Returns:
            An `Interpretation`.
        """
        _check_model(model)
        x, y = _split(data, split)
        return cls(
            _predict(model, x, batch_size),
            y,
            class_names=data.class_names,
            split=split,
            title=f"{model.name} on the {data.name} {split} set",
            data=data,
        )

    @property
    def num_classes(self) -> int:
        """The number of classes the model predicts."""
        return self.probabilities.shape[-1]

    @functools.cached_property
    def losses(self) -> np.ndarray:
        """Each image's cross-entropy, computed once (the labels must be the model's
        classes)."""
        if self.y_true.min() < 0 or self.y_true.max() >= self.num_classes:
            raise ValueError(
                f"data's {self.split} labels must lie in [0, {self.num_classes}), the model's "
                f"classes. Received: labels from {self.y_true.min()} to {self.y_true.max()}"
            )
        prob_true = self.probabilities[np.arange(len(self.y_true)), self.y_true]
        return -np.log(np.clip(prob_true, 1e-7, 1.0))

    def confusion_matrix(self, normalize: bool = False) -> np.ndarray:
        """The confusion matrix, ``(classes, classes)``: rows are true classes, columns
        predicted ones (scikit-learn's ``confusion_matrix``); with ``normalize``, each row
        as fractions of its true class."""
        from sklearn.metrics import confusion_matrix

        matrix = confusion_matrix(self.y_true, self.y_pred, labels=np.arange(self.num_classes))
        return matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix

    def plot_confusion_matrix(
        self,
        path: str | os.PathLike | None = None,
        normalize: bool = False,
        title: str | None = None,
    ) -> Figure:
        """Draw the confusion matrix (see `kcnn.plots.plot_confusion_matrix`).

        Args:
            path: where to write a PNG. Defaults to None (no file).
            normalize: show each row as fractions of that true class. Defaults to False.
            title: the start of the title. Defaults to the one given at construction
                (``"MODEL on the DATA SPLIT set"`` from `from_model`).

        Returns:
            The matplotlib ``Figure``.
        """
        return plot_confusion_matrix(
            self.y_true,
            self.y_pred,
            self.class_names or None,
            path,
            normalize,
            self.title if title is None else title,
        )

    def top_losses(self, k: int = 9) -> TopLosses:
        """The ``k`` images with the highest loss, highest first; ties keep the split's
        order (see `top_losses`)."""
        k = _check_count("k", k)
        order = np.argsort(-self.losses, kind="stable")[:k]
        y_true, y_pred = self.y_true[order], self.y_pred[order]
        return TopLosses(
            indices=order,
            losses=self.losses[order],
            y_true=y_true,
            y_pred=y_pred,
            prob_pred=self.probabilities[order, y_pred],
            prob_true=self.probabilities[order, y_true],
            class_names=self.class_names,
            split=self.split,
        )

    def plot_top_losses(self, k: int = 9, path: str | os.PathLike | None = None) -> Figure:
        """Draw the ``k`` highest-loss images (see `TopLosses.plot`); needs the ``data``
        the images come from, which `from_model` keeps."""
        if self.data is None:
            raise ValueError(
                "plot_top_losses needs the data set the images come from. Received: data=None "
                "(make the Interpretation with Interpretation.from_model, or pass data=)"
            )
        return self.top_losses(k).plot(self.data, path)

    def most_confused(self, min_count: int = 1) -> list[tuple[str, str, int]]:
        """The pairs of classes the model mixes up, most often first: ``(true class,
        predicted class, count)`` for every off-diagonal cell of the confusion matrix with at
        least ``min_count`` images. Ties keep the matrix's row-major order.

        Args:
            min_count: leave out pairs seen fewer times. Defaults to 1.

        Returns:
            A list of ``(true name, predicted name, count)``.
        """
        min_count = _check_count("min_count", min_count)
        matrix = self.confusion_matrix()
        pairs = [
            (_class_name(self.class_names, i), _class_name(self.class_names, j), int(count))
            for (i, j), count in np.ndenumerate(matrix)
            if i != j and count >= min_count
        ]
        return sorted(pairs, key=lambda pair: -pair[2])


def confusion_matrix_plot(
    model: keras.Model,
    data: Dataset,
    split: str = "test",
    path: str | os.PathLike | None = None,
    normalize: bool = False,
    batch_size: int = 256,
) -> Figure:
    """Predict a split of a data set and draw its confusion matrix (rows: true class,
    columns: predicted class).

    The off-diagonal cells show which classes the model mixes up; on Fashion-MNIST these
    are shirts, T-shirts, pullovers and coats.

    Args:
        model: a `keras.Model` that classifies ``data``'s images.
        data: a `kcnn.data.Dataset`.
        split: ``"train"``, ``"val"`` or ``"test"``. Defaults to ``"test"``.
        path: where to write a PNG. Defaults to None (no file).
        normalize: show each row as fractions of that true class. Defaults to False.
        batch_size: images per prediction batch. Defaults to 256.

    Returns:
        The matplotlib ``Figure``.

    Example:
        ```python
        kcnn.inspect.confusion_matrix_plot(model, data, path="confusion.png", normalize=True)
        ```
    """
    interpretation = Interpretation.from_model(model, data, split, batch_size)
    return interpretation.plot_confusion_matrix(path, normalize)


def top_losses(
    model: keras.Model,
    data: Dataset,
    k: int = 9,
    split: str = "test",
    batch_size: int = 256,
) -> TopLosses:
    """The ``k`` examples of a split with the highest cross-entropy loss: the most
    confidently wrong predictions, and mislabelled or ambiguous images.

    The loss of an example is ``-log(p)``, ``p`` the predicted probability of its true label
    clipped to at least 1e-7 as Keras' cross-entropy does; a model without a softmax output
    has a softmax applied to its logits first. Ties keep the split's order.

    Args:
        model: a `keras.Model` that classifies ``data``'s images.
        data: a `kcnn.data.Dataset`.
        k: how many examples. Defaults to 9.
        split: ``"train"``, ``"val"`` or ``"test"``. Defaults to ``"test"``.
        batch_size: images per prediction batch. Defaults to 256.

    Returns:
        A `TopLosses` with ``indices``, ``losses``, ``y_true``, ``y_pred``, ``prob_pred``
        and ``prob_true``, highest loss first (fewer than ``k`` when the split is smaller).

    Example:
        ```python
        worst = kcnn.inspect.top_losses(model, data, k=5)
        print(worst)
        ```

    References:
        fastai's ``ClassificationInterpretation.top_losses`` (Howard, Gugger. fastai: a
        layered API for deep learning. Information 11(2), 2020).
    """
    _check_model(model)
    k = _check_count("k", k)
    return Interpretation.from_model(model, data, split, batch_size).top_losses(k)


def plot_top_losses(
    model: keras.Model,
    data: Dataset,
    k: int = 9,
    split: str = "test",
    path: str | os.PathLike | None = None,
    batch_size: int = 256,
) -> Figure:
    """Draw the ``k`` highest-loss examples of a split (see `top_losses`), each titled
    ``prediction / actual`` and ``loss / probability of actual`` as fastai does.

    Args:
        model: a `keras.Model` that classifies ``data``'s images.
        data: a `kcnn.data.Dataset`.
        k: how many examples. Defaults to 9.
        split: ``"train"``, ``"val"`` or ``"test"``. Defaults to ``"test"``.
        path: where to write a PNG. Defaults to None (no file).
        batch_size: images per prediction batch. Defaults to 256.

    Returns:
        The matplotlib ``Figure``.

    Example:
        ```python
        kcnn.inspect.plot_top_losses(model, data, k=16, path="top_losses.png")
        ```
    """
    return top_losses(model, data, k=k, split=split, batch_size=batch_size).plot(data, path)
