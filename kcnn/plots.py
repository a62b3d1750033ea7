"""Drawing shared by training, inspection and inference: learning curves, the learning-rate
range test and the confusion matrix.

matplotlib only: this module imports neither Keras nor any other kcnn package but `kcnn._io`,
so the training loop, `kcnn.inspect` and `kcnn.infer` can all draw with it. matplotlib is
imported inside each function and figures are made without pyplot (a bare
``matplotlib.figure.Figure``), so importing kcnn never opens a window or needs a display, and
no figure stays registered after use. Every plot function returns the ``Figure`` and, given
``path=``, writes it atomically with `kcnn._io.save_figure`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from kcnn._io import save_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def figure(figsize: tuple[float, float], layout: str | None = "constrained") -> Figure:
    """A figure outside pyplot: nothing is registered globally, so nothing leaks, and
    a Figure returned as a notebook cell's last value shows inline."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout=layout)


def finish(fig: Figure, path: str | os.PathLike | None) -> Figure:
    """Save ``fig`` atomically when a path is given, and return it."""
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_history(
    history: Mapping[str, Sequence[float]],
    path: str | os.PathLike | None = None,
    monitor: str = "val_loss",
    patience: int | None = None,
) -> Figure:
    """Plot training and validation loss and accuracy per epoch, side by side.

    The best epoch by ``monitor`` is marked on both panels; given ``patience``, so is the
    epoch where early stopping with that patience would stop (it would restore the best
    epoch seen until then).

    Args:
        history: a ``keras.callbacks.History.history`` dict: ``loss``, ``accuracy`` and
            optionally ``val_loss``, ``val_accuracy``, and ``epoch`` (1-based numbers).
        path: where to write the PNG. Defaults to None (no file).
        monitor: ``"val_loss"`` or ``"loss"`` (lowest is best), ``"val_accuracy"`` or
            ``"accuracy"`` (highest is best); the validation metric falls back to the
            training one when there is no validation. Defaults to ``"val_loss"``.
        patience: mark where early stopping with this patience would stop. Defaults to None.

    Returns:
        The matplotlib `Figure` (written to ``path`` when one is given).

    Example:
        ```python
        history = model.fit(x, y, validation_split=0.1, epochs=5)
        kcnn.inspect.plot_history(history.history, "curves.png")
        ```
    """
    if not isinstance(history, Mapping) or not history.get("loss"):
        raise ValueError(
            "history must be a dict with a non-empty 'loss' list, such as History.history. "
            f"Received keys: {sorted(history) if isinstance(history, Mapping) else history!r}"
        )
    from matplotlib.ticker import MaxNLocator

    n = len(history["loss"])
    epochs = np.asarray(history.get("epoch") or np.arange(1, n + 1))
    if not history.get(monitor):
        monitor = monitor.removeprefix("val_")
    values = np.asarray(history.get(monitor) or history["loss"], dtype=float)
    sign = -1.0 if "accuracy" in monitor else 1.0
    best_index, stop = _best_and_stop(sign * values, patience)
    best = int(epochs[best_index]) if best_index is not None else None
    fig = figure((11, 4), layout=None)
    axes = fig.subplots(1, 2)
    for ax, metric, label in zip(axes, ("loss", "accuracy"), ("Loss", "Accuracy")):
        for key, style, name in ((metric, "-o", "train"), (f"val_{metric}", "-s", "validation")):
            if history.get(key):
                ax.plot(epochs, np.asarray(history[key], dtype=float), style, markersize=3,
                        label=name)  # fmt: skip
        if best is not None:
            ax.axvline(best, color="grey", linestyle="--", linewidth=1,
                       label=f"best {monitor} (epoch {best})")  # fmt: skip
        if stop is not None:
            ax.axvline(int(epochs[stop[0]]), color="tab:red", linestyle=":", linewidth=1.5,
                       label=f"early stop, patience {patience} "
                       f"(restores epoch {int(epochs[stop[1]])})")  # fmt: skip
        if best is not None and history.get(f"val_{metric}"):
            value = history[f"val_{metric}"][best_index]
            ax.annotate(f"{value:.3f}", (best, value), textcoords="offset points", xytext=(5, 5))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if history.get("accuracy"):
        axes[1].set_ylim(top=1.0)
    fig.tight_layout()
    return finish(fig, path)


def plot_histories(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    path: str | os.PathLike | None = None,
    title: str = "",
) -> Figure:
    """Plot several runs' curves side by side: loss and accuracy, one colour per run,
    training dashed and validation solid (ablations, model comparisons).

    Args:
        histories: run label -> ``History.history`` dict.
        path: where to write the PNG. Defaults to None (no file).
        title: a title over both panels. Defaults to none.

    Returns:
        The matplotlib `Figure` (written to ``path`` when one is given).

    Example:
        ```python
        kcnn.inspect.plot_histories({"with BN": h1.history, "without": h2.history}, "bn.png")
        ```
    """
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError(
            f"histories must be a non-empty dict of label -> history. Received: {histories!r}"
        )
    for label, history in histories.items():
        if not isinstance(history, Mapping) or not history.get("loss"):
            raise ValueError(f"histories[{label!r}] has no 'loss' list.")
    import matplotlib
    from matplotlib.ticker import MaxNLocator

    fig = figure((12, 4.2), layout=None)
    axes = fig.subplots(1, 2)
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (label, history) in enumerate(histories.items()):
        colour = colours[i % len(colours)]
        epochs = np.arange(1, len(history["loss"]) + 1)
        for ax, metric in zip(axes, ("loss", "accuracy")):
            if history.get(metric):
                ax.plot(epochs, history[metric], "--", color=colour, alpha=0.7,
                        label=f"{label} (train)")  # fmt: skip
            if history.get(f"val_{metric}"):
                ax.plot(epochs, history[f"val_{metric}"], "-", color=colour,
                        label=f"{label} (validation)")  # fmt: skip
    for ax, name in zip(axes, ("Loss", "Accuracy")):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return finish(fig, path)


def plot_lr_range(
    learning_rates: Sequence[float],
    losses: Sequence[float],
    suggestion: float,
    path: str | os.PathLike | None = None,
) -> Figure:
    """Plot a learning-rate range test: smoothed loss against rate, log scale, with the
    suggested rate marked (what `kcnn.train.find_lr` draws).

    Args:
        learning_rates: the rates swept.
        losses: the smoothed loss at each rate.
        suggestion: the rate to mark.
        path: where to write the PNG. Defaults to None (no file).

    Returns:
        The matplotlib `Figure` (written to ``path`` when one is given).
    """
    fig = figure((6, 4), layout=None)
    ax = fig.subplots()
    ax.plot(learning_rates, losses)
    ax.set_xscale("log")
    ax.axvline(suggestion, color="tab:red", linestyle="--", label=f"suggestion {suggestion:.2g}")
    finite = [v for v in losses if math.isfinite(v)]
    if finite:
        ax.set_ylim(min(finite) * 0.95, min(max(finite), 4 * min(finite)) * 1.05)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss (smoothed)")
    ax.set_title("Learning-rate range test")
    ax.grid(alpha=0.3)
    ax.legend()
    return finish(fig, path)


def _best_and_stop(values: np.ndarray, patience: int | None):
    """Index of the lowest finite value, and where early stopping with ``patience`` would
    stop as ``(stop_index, restored_index)`` (None if it would not stop)."""
    finite = np.isfinite(values)
    best = int(np.argmin(np.where(finite, values, np.inf))) if finite.any() else None
    if patience is None or best is None:
        return best, None
    best_so_far, best_index, wait = np.inf, 0, 0
    for i, value in enumerate(values):
        if np.isfinite(value) and value < best_so_far:
            best_so_far, best_index, wait = value, i, 0
        else:
            wait += 1
            if wait >= patience:
                return best, (i, best_index)
    return best, None


def plot_confusion_matrix(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    class_names: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    normalize: bool = False,
    title: str = "Confusion matrix",
) -> Figure:
    """Plot a confusion matrix (rows: true class, columns: predicted class).

    Args:
        y_true: integer labels.
        y_pred: predicted integer labels, same length.
        class_names: names for the axes. Defaults to the class indices.
        path: where to write the PNG. Defaults to None (no file).
        normalize: show each row as fractions of that true class. Defaults to False.
        title: the start of the title, followed by the accuracy and the number of images.
            Defaults to ``"Confusion matrix"``.

    Returns:
        The matplotlib `Figure` (written to ``path`` when one is given).

    Example:
        ```python
        y_pred = model.predict(x_test).argmax(-1)
        kcnn.inspect.plot_confusion_matrix(y_test, y_pred, data.class_names, "confusion.png")
        ```
    """
    fig = _confusion_figure(y_true, y_pred, class_names, normalize, title)
    return finish(fig, path)


def _confusion_figure(y_true, y_pred, class_names, normalize: bool, title: str):
    """The confusion-matrix figure of `plot_confusion_matrix` (which `kcnn.inspect`'s
    `Interpretation.plot_confusion_matrix` and `confusion_matrix_plot` draw with too)."""
    from sklearn.metrics import confusion_matrix

    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred).reshape(-1)
    if y_true.shape != y_pred.shape or y_true.size == 0:
        raise ValueError(
            "y_true and y_pred must be non-empty and of equal length. "
            f"Received: {y_true.size} and {y_pred.size} labels"
        )
    n = len(class_names) if class_names is not None else int(max(y_true.max(), y_pred.max())) + 1
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    matrix = confusion_matrix(y_true, y_pred, labels=np.arange(n))
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    accuracy = np.trace(matrix) / matrix.sum()

    size = max(5.0, 0.55 * n + 2)
    fig = figure((size, size * 0.9), layout=None)
    ax = fig.subplots()
    image = ax.imshow(shown, cmap="Blues")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(n), names, rotation=45, ha="right")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title} (accuracy {accuracy:.1%}, {matrix.sum()} images)")
    threshold = shown.max() / 2 if shown.size else 0
    for i in range(n):
        for j in range(n):
            text = f"{shown[i, j]:.2f}" if normalize else str(matrix[i, j])
            color = "white" if shown[i, j] > threshold else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize=8)
    fig.tight_layout()
    return fig
