"""Pictures of training: learning curves and confusion matrices.

matplotlib is imported inside each function, with the Agg backend, so that importing kcnn
never opens a window or needs a display.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | os.PathLike) -> str:
    """Save a figure to a temporary file and rename it into place, so a reader never sees
    a half-written PNG."""
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp.png")
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def plot_history(history: Mapping[str, Sequence[float]], path: str | os.PathLike) -> str:
    """Plot training and validation loss and accuracy per epoch into one PNG.

    The best epoch (lowest validation loss, or training loss without validation) is marked
    on both panels.

    Args:
        history: a ``keras.callbacks.History.history`` dict: ``loss``, ``accuracy`` and
            optionally ``val_loss``, ``val_accuracy``.
        path: where to write the PNG.

    Returns:
        The path written.

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
    plt = _pyplot()
    epochs = np.arange(1, len(history["loss"]) + 1)
    monitor = "val_loss" if history.get("val_loss") else "loss"
    best = int(np.nanargmin(history[monitor])) + 1
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric, label in zip(axes, ("loss", "accuracy"), ("Loss", "Accuracy")):
        for key, style, name in ((metric, "-o", "train"), (f"val_{metric}", "-s", "validation")):
            if history.get(key):
                ax.plot(epochs, history[key], style, markersize=3, label=name)
        ax.axvline(best, color="grey", linestyle="--", linewidth=1, label=f"best epoch ({best})")
        if history.get(f"val_{metric}"):
            value = history[f"val_{metric}"][best - 1]
            ax.annotate(f"{value:.3f}", (best, value), textcoords="offset points", xytext=(5, 5))
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend()
    if history.get("accuracy"):
        axes[1].set_ylim(top=1.0)
    fig.tight_layout()
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def plot_confusion_matrix(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    class_names: Sequence[str] | None = None,
    path: str | os.PathLike = "confusion.png",
    normalize: bool = False,
    title: str = "Confusion matrix",
) -> str:
    """Plot a confusion matrix (rows: true class, columns: predicted class) into a PNG.

    Args:
        y_true: integer labels.
        y_pred: predicted integer labels, same length.
        class_names: names for the axes. Defaults to the class indices.
        path: where to write the PNG. Defaults to ``"confusion.png"``.
        normalize: show each row as fractions of that true class. Defaults to False.
        title: the start of the title, followed by the accuracy and the number of images.
            Defaults to ``"Confusion matrix"``.

    Returns:
        The path written.

    Example:
        ```python
        y_pred = model.predict(x_test).argmax(-1)
        kcnn.inspect.plot_confusion_matrix(y_test, y_pred, data.class_names, "confusion.png")
        ```
    """
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

    plt = _pyplot()
    size = max(5.0, 0.55 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
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
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)
