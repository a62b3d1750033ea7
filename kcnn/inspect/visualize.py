"""Pictures of training and of what a trained network does: learning curves, confusion
matrices, augmentation galleries, filters, feature maps, Grad-CAM and the top losses.

Every plot function returns a matplotlib ``Figure`` and writes it to a PNG when given
``path=``. matplotlib is imported inside each function and figures are made without pyplot
(a bare ``matplotlib.figure.Figure``), so importing kcnn never opens a window or needs a
display, and no figure stays registered after use.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras
    from matplotlib.figure import Figure

    from kcnn.data.datasets import Dataset


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


def _figure(figsize: tuple[float, float], layout: str | None = "constrained"):
    """A figure outside pyplot: nothing is registered globally, so nothing leaks, and
    a Figure returned as a notebook cell's last value shows inline."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout=layout)


def _finish(fig, path: str | os.PathLike | None):
    """Save ``fig`` when a path is given, and return it."""
    if path is not None:
        _save(fig, path)
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
    fig = _figure((11, 4), layout=None)
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
    return _finish(fig, path)


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

    fig = _figure((12, 4.2), layout=None)
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
    return _finish(fig, path)


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
    fig = _figure((6, 4), layout=None)
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
    return _finish(fig, path)


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
    return _finish(fig, path)


def augmentation_gallery(
    dataset: Dataset,
    policy: str | Sequence = "flip_crop",
    path: str | os.PathLike | None = None,
    num_images: int = 8,
    repeats: int = 3,
    seed: int = 0,
    allow: Sequence[str] = (),
) -> Figure:
    """A grid of original images in the top row and augmented versions below.

    For MixUp and CutMix, each augmented image is titled with its two largest label weights,
    so the soft labels are visible too.

    Args:
        dataset: a `kcnn.data.Dataset`; its label rules are checked.
        policy: a policy name, a list of transforms, or a `keras.layers.Pipeline`.
            Defaults to ``"flip_crop"``.
        path: where to write the PNG. Defaults to None (no file).
        num_images: columns: how many training images to show. Defaults to 8.
        repeats: rows of augmented versions. Defaults to 3.
        seed: seed of the image choice and the augmentation. Defaults to 0.
        allow: label rules to override (see `kcnn.data.augmentation`). Defaults to none.

    Returns:
        The matplotlib `Figure` (written to ``path`` when one is given).

    Example:
        ```python
        data = kcnn.data.load_dataset("fashion_mnist")
        kcnn.inspect.augmentation_gallery(data, "flip_crop", "flip_crop.png")
        ```
    """
    import keras

    from kcnn.data.augment import augmentation, needs_one_hot

    for argument, value in (("num_images", num_images), ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{argument} must be an integer >= 1. Received: {argument}={value!r}")
    if isinstance(policy, keras.layers.Pipeline):
        pipeline = policy
    else:
        pipeline = augmentation(policy, dataset, seed=seed, allow=allow)
    rng = np.random.default_rng(seed)
    index = rng.choice(
        len(dataset.x_train), size=min(num_images, len(dataset.x_train)), replace=False
    )
    images = dataset.x_train[index]
    labels = keras.ops.one_hot(dataset.y_train[index], dataset.num_classes)
    channels_first = keras.config.image_data_format() == "channels_first"
    rows = [(images, None)]
    for _ in range(repeats):
        batch = {"images": keras.ops.convert_to_tensor(images), "labels": labels}
        out = pipeline(batch, training=True)
        rows.append(
            (keras.ops.convert_to_numpy(out["images"]), keras.ops.convert_to_numpy(out["labels"]))
        )

    n = len(images)
    fig = _figure((1.6 * n, 1.75 * len(rows)), layout=None)
    axes = fig.subplots(len(rows), n, squeeze=False)
    mixing = needs_one_hot(pipeline)
    for r, (batch, soft) in enumerate(rows):
        for c in range(n):
            ax = axes[r][c]
            image = np.transpose(batch[c], (1, 2, 0)) if channels_first else batch[c]
            image = np.clip(image, 0.0, 1.0)
            if image.shape[-1] == 1:
                ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(image)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(dataset.class_names[int(dataset.y_train[index[c]])], fontsize=8)
            elif mixing:
                top = np.argsort(soft[c])[::-1][:2]
                ax.set_xlabel(
                    " + ".join(
                        f"{soft[c][t]:.2f} {dataset.class_names[t]}"
                        for t in top
                        if soft[c][t] > 0.005
                    ),
                    fontsize=6,
                )
        axes[r][0].set_ylabel("original" if r == 0 else f"augmented {r}", fontsize=8)
    name = pipeline.name.removeprefix("augment_")
    fig.suptitle(f"{dataset.name}: augmentation policy {name!r}", fontsize=10)
    fig.tight_layout()
    return _finish(fig, path)


# --- Looking inside a model: filters, feature maps, Grad-CAM, confusion, top losses ------------
#
# These functions build their figures with `matplotlib.figure.Figure`, not pyplot: nothing is
# registered globally, so no figure leaks, and a Figure returned at the end of a notebook cell
# displays inline (after ``%matplotlib inline``, which registers IPython's PNG formatter for
# figures). Each saves a PNG atomically when given ``path=``.

#: The splits of a `kcnn.data.Dataset` that the model-level plots accept.
SPLITS = ("train", "val", "test")


def _channels_first() -> bool:
    import keras

    return keras.config.image_data_format() == "channels_first"


def _check_count(argument: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{argument} must be an integer >= 1. Received: {argument}={value!r}")
    return int(value)


def _check_model(model) -> None:
    import keras

    if not isinstance(model, keras.Model):
        raise TypeError(
            f"model must be a keras.Model. Received: model of type {type(model).__name__}"
        )
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            "model must have one image input and one output. Received: "
            f"{len(model.inputs)} inputs and {len(model.outputs)} outputs"
        )


def _walk(model):
    """Every layer of ``model`` in order, descending into nested models and pipelines."""
    for layer in model.layers:
        yield layer
        if isinstance(getattr(layer, "layers", None), list):
            yield from _walk(layer)


def _output(layer):
    """The tensor a top-level layer outputs in its model's graph, or None (shared layers,
    several outputs).

    A nested model's ``.output`` is the output of its *own* graph, which the outer model
    never uses; the tensor of the outer graph is that of the nested model's one call.
    """
    import keras

    if isinstance(layer, keras.Model):
        nodes = getattr(layer, "_inbound_nodes", [])
        outputs = nodes[0].output_tensors if len(nodes) == 1 else ()
        return outputs[0] if len(outputs) == 1 else None
    try:
        output = layer.output
    except (AttributeError, ValueError):
        return None
    return output if hasattr(output, "shape") else None


def _output_shape(layer) -> tuple | None:
    """The output shape of a layer with one output, or None (shared or multi-output)."""
    output = _output(layer)
    return None if output is None else tuple(output.shape)


def _feature_layers(model) -> list:
    """The top-level layers of ``model`` with a 4-D (image-shaped) output, inputs excluded."""
    import keras

    return [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
        and _output_shape(layer) is not None
        and len(_output_shape(layer)) == 4
    ]


def _layer_name(layer) -> str:
    return layer if isinstance(layer, str) else getattr(layer, "name", repr(layer))


def _top_level_layer(model, layer, argument: str = "layer"):
    """Look up a top-level layer of ``model`` by name or instance, with a helpful error."""
    name = _layer_name(layer)
    for candidate in model.layers:
        if candidate.name == name:
            return candidate
    choices = [candidate.name for candidate in _feature_layers(model)]
    raise ValueError(
        f"{argument} {name!r} is not a layer of model {model.name!r}. Layers with a feature "
        f"map: {choices}. Received: {argument}={layer!r}"
    )


def _as_batch(model, image, argument: str = "image") -> tuple[np.ndarray, bool]:
    """``image`` as a float32 batch matching the model's input, and whether it was batched."""
    import keras

    x = np.asarray(keras.ops.convert_to_numpy(image), dtype="float32")
    expected = tuple(model.inputs[0].shape[1:])
    batched = x.ndim == len(expected) + 1
    if x.ndim == len(expected):
        x = x[None]
    if (
        x.ndim != len(expected) + 1
        or len(x) == 0
        or any(want is not None and want != got for want, got in zip(expected, x.shape[1:]))
    ):
        raise ValueError(
            f"{argument} must be one image shaped {expected} or a non-empty batch of them, in "
            f"the {keras.config.image_data_format()} layout the model takes. "
            f"Received: {argument} with shape {np.shape(image)}"
        )
    return x, batched


def _display(image: np.ndarray) -> np.ndarray:
    """One image as (height, width, channels) in [0, 1] for imshow."""
    image = np.asarray(image, dtype="float32")
    if _channels_first():
        image = np.moveaxis(image, 0, -1)
    low, high = float(image.min()), float(image.max())
    if low < 0 or high > 1:  # normalised inputs: stretch to the display range
        image = (image - low) / max(high - low, 1e-12)
    return image


def _show(ax, image: np.ndarray, **kwargs) -> None:
    """Draw one display image (from `_display`): grayscale, RGB, or the channel mean."""
    if image.shape[-1] == 3:
        ax.imshow(image, **kwargs)
    else:
        plane = image[..., 0] if image.shape[-1] == 1 else image.mean(axis=-1)
        ax.imshow(plane, cmap="gray", vmin=0, vmax=1, **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])


def _activation_name(layer) -> str | None:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None)


def _probabilities(outputs) -> np.ndarray:
    """Model outputs as class probabilities: kept when they already are (non-negative rows
    summing to 1, as from a softmax), else passed through a softmax (logits)."""
    out = np.asarray(outputs, dtype="float64")
    if out.ndim != 2:
        raise ValueError(
            "model must output one score per class, shaped (batch, classes). "
            f"Received: outputs with shape {out.shape}"
        )
    if np.all(out >= 0) and np.allclose(out.sum(axis=-1), 1.0, atol=1e-3):
        return out
    shifted = np.exp(out - out.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _split(data: Dataset, split: str) -> tuple[np.ndarray, np.ndarray]:
    from kcnn.data.datasets import Dataset

    if not isinstance(data, Dataset):
        raise TypeError(
            f"data must be a kcnn.data.Dataset. Received: data of type {type(data).__name__}"
        )
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}. Received: split={split!r}")
    x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
    if len(x) == 0:
        hint = " (load it with validation_split > 0)" if split == "val" else ""
        raise ValueError(
            f"split={split!r} of data set {data.name!r} is empty{hint}. Received: split={split!r}"
        )
    return x, np.asarray(y).reshape(-1).astype("int64")


def plot_filters(
    model: keras.Model,
    layer: str | keras.layers.Layer | None = None,
    path: str | os.PathLike | None = None,
    max_filters: int = 64,
) -> Figure:
    """Draw the kernels of a convolution as an image grid, one cell per filter.

    The first convolution of a trained CNN typically learns oriented edge and colour-blob
    detectors, Gabor-like filters; an untrained one shows noise. With 3 input channels each
    filter is drawn in colour, scaled to [0, 1] on its own. Otherwise each filter's weights,
    averaged over its input channels, are drawn on one diverging scale centred at 0 (red
    positive, blue negative) shared by all filters, so weak filters look weak.

    Args:
        model: a `keras.Model`; nested sub-models are searched too.
        layer: a ``Conv2D`` layer or its name. Defaults to the model's first ``Conv2D``.
        path: where to write a PNG. Defaults to None (no file).
        max_filters: show at most this many filters, the first ones. Defaults to 64.

    Returns:
        The matplotlib ``Figure``.

    Example:
        ```python
        model = kcnn.build_model("simple_cnn")
        kcnn.inspect.plot_filters(model, path="filters_before.png")
        ```

    References:
        Krizhevsky, Sutskever, Hinton. ImageNet classification with deep convolutional neural
        networks. NeurIPS 2012, fig. 3. Zeiler, Fergus. Visualizing and understanding
        convolutional networks. ECCV 2014.
    """
    import keras

    _check_model(model)
    max_filters = _check_count("max_filters", max_filters)
    convs = [item for item in _walk(model) if isinstance(item, keras.layers.Conv2D)]
    if layer is None:
        if not convs:
            raise ValueError(f"model {model.name!r} has no Conv2D layer whose filters to show.")
        conv = convs[0]
    else:
        name = _layer_name(layer)
        matches = [item for item in _walk(model) if item is layer or item.name == name]
        if not matches or not isinstance(matches[0], keras.layers.Conv2D):
            what = f"a {type(matches[0]).__name__}" if matches else "not a layer of the model"
            raise ValueError(
                f"layer must be a Conv2D layer of model {model.name!r}; {name!r} is {what}. "
                f"Conv2D layers: {[item.name for item in convs]}. Received: layer={layer!r}"
            )
        conv = matches[0]
    kernel = np.asarray(keras.ops.convert_to_numpy(conv.kernel), dtype="float32")
    height, width, channels, filters = kernel.shape
    shown = min(filters, max_filters)
    rgb = channels == 3
    columns = math.ceil(math.sqrt(shown))
    rows = math.ceil(shown / columns)
    cell = 0.75 if max(height, width) <= 5 else 1.0
    fig = _figure((max(4.5, cell * columns + (0 if rgb else 1.0)), max(2.5, cell * rows + 0.9)))
    axes = np.atleast_1d(fig.subplots(rows, columns, squeeze=False).ravel())
    planes = kernel[..., :shown] if rgb else kernel[..., :shown].mean(axis=2)
    limit = float(np.abs(planes).max()) or 1.0
    image = None
    for index, ax in enumerate(axes):
        ax.set_xticks([])
        ax.set_yticks([])
        if index >= shown:
            ax.set_visible(False)
            continue
        if rgb:
            weights = kernel[..., index]
            spread = float(weights.max() - weights.min()) or 1.0
            ax.imshow((weights - weights.min()) / spread, interpolation="nearest")
        else:
            image = ax.imshow(planes[..., index], cmap="RdBu_r", vmin=-limit, vmax=limit,
                              interpolation="nearest")  # fmt: skip
        ax.set_title(str(index), fontsize=6, pad=2)
    if rgb:
        how = "RGB, each filter scaled to [0, 1]"
    else:
        how = "weights" if channels == 1 else f"mean over {channels} input channels"
        fig.colorbar(image, ax=axes.tolist(), shrink=0.6, label="weight")
    count = f"{shown} of {filters}" if shown < filters else f"{filters}"
    fig.suptitle(
        f"{conv.name}: {count} filters, kernel {height}x{width}x{channels}x{filters}\n({how})",
        fontsize=10,
    )
    return _finish(fig, path)


def _default_feature_map_layers(model, most: int = 4) -> list:
    """At most ``most`` activation layers with 4-D outputs, spread from early to late (else
    convolutions, else any 4-D layers)."""
    import keras

    maps = _feature_layers(model)
    activations = (
        keras.layers.Activation,
        keras.layers.ReLU,
        keras.layers.LeakyReLU,
        keras.layers.ELU,
        keras.layers.PReLU,
    )
    chosen = [layer for layer in maps if isinstance(layer, activations)] or [
        layer for layer in maps if isinstance(layer, keras.layers.Conv2D)
    ]
    chosen = chosen or maps
    if not chosen:
        raise ValueError(f"model {model.name!r} has no layer with a 4-D feature map to show.")
    picks = np.unique(np.round(np.linspace(0, len(chosen) - 1, min(most, len(chosen)))))
    return [chosen[int(i)] for i in picks]


def plot_feature_maps(
    model: keras.Model,
    image: np.ndarray,
    layers: Sequence[str | keras.layers.Layer] | None = None,
    path: str | os.PathLike | None = None,
    max_channels: int = 16,
) -> Figure:
    """Draw what chosen layers compute for one image: one row of channels per layer.

    Early layers respond to edges and textures at full resolution; late layers are coarse
    and respond to parts of the object. Each row shows the ``max_channels`` channels with the
    largest mean absolute activation for this image, in channel order, on one colour scale
    per row (so a dim channel really is weak). The input image is drawn on top.

    Args:
        model: a `keras.Model` with one image input.
        image: one image shaped like the model's input, with or without a batch axis of 1.
        layers: top-level layers or their names, each with a 4-D output (a nested model
            counts as one layer). Defaults to at most four activation layers spread from
            the first to the last (the outputs of the conv blocks).
        path: where to write a PNG. Defaults to None (no file).
        max_channels: channels shown per layer. Defaults to 16.

    Returns:
        The matplotlib ``Figure``.

    Example:
        ```python
        kcnn.inspect.plot_feature_maps(model, data.x_test[0], path="feature_maps.png")
        ```

    References:
        Zeiler, Fergus. Visualizing and understanding convolutional networks. ECCV 2014.
    """
    import keras

    _check_model(model)
    max_channels = _check_count("max_channels", max_channels)
    x, _ = _as_batch(model, image)
    if len(x) != 1:
        raise ValueError(
            "image must be a single image (a batch axis of 1 is allowed). "
            f"Received: image with shape {np.shape(image)}"
        )
    if layers is None:
        chosen = _default_feature_map_layers(model)
    else:
        if isinstance(layers, str) or not isinstance(layers, Sequence):
            layers = [layers]
        chosen = [_top_level_layer(model, layer, "layers") for layer in layers]
        if not chosen:
            raise ValueError("layers must name at least one layer. Received: layers=[]")
    for layer in chosen:
        shape = _output_shape(layer)
        if shape is None or len(shape) != 4:
            raise ValueError(
                f"layers must have 4-D (image-shaped) outputs; {layer.name!r} outputs {shape}. "
                f"Layers with a feature map: {[item.name for item in _feature_layers(model)]}"
            )
    extractor = keras.Model(model.inputs[0], [_output(layer) for layer in chosen])
    outputs = extractor(keras.ops.convert_to_tensor(x), training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    maps = []
    for output in outputs:
        array = np.asarray(keras.ops.convert_to_numpy(output), dtype="float32")[0]
        maps.append(np.moveaxis(array, 0, -1) if _channels_first() else array)

    columns = min(max_channels, max(m.shape[-1] for m in maps))
    fig = _figure((max(6.0, 1.05 * columns), 1.35 * (len(maps) + 1)))
    subfigs = fig.subfigures(len(maps) + 1, 1)
    top = subfigs[0].subplots(1, columns, squeeze=False)[0]
    _show(top[0], _display(x[0]))
    for ax in top[1:]:
        ax.set_visible(False)
    subfigs[0].suptitle(f"input {tuple(x.shape[1:])}", fontsize=9, x=0.02, ha="left")
    for subfig, layer, fmap in zip(subfigs[1:], chosen, maps):
        strength = np.abs(fmap).mean(axis=(0, 1))
        picked = np.sort(np.argsort(-strength, kind="stable")[:columns])
        low, high = float(fmap[..., picked].min()), float(fmap[..., picked].max())
        low = min(low, 0.0)
        high = high if high > low else low + 1.0
        axes = subfig.subplots(1, columns, squeeze=False)[0]
        for ax, channel in zip(axes, list(picked) + [None] * columns):
            ax.set_xticks([])
            ax.set_yticks([])
            if channel is None:
                ax.set_visible(False)
                continue
            ax.imshow(fmap[..., channel], cmap="viridis", vmin=low, vmax=high)
            ax.set_title(f"#{channel}", fontsize=6, pad=2)
        h, w, c = fmap.shape
        which = f"the {len(picked)} most active channels" if len(picked) < c else "all channels"
        subfig.suptitle(
            f"{layer.name}: {h}x{w}x{c}, {which} (colour scale {low:.2g} to {high:.2g})",
            fontsize=9,
            x=0.02,
            ha="left",
        )
    return _finish(fig, path)


def _cut_layers(model) -> list:
    """Top-level layers with a 4-D output that alone determines the model's output."""
    import keras

    cuts = []
    for layer in _feature_layers(model):
        try:
            keras.Model(_output(layer), model.outputs[0])
        except ValueError:
            continue
        cuts.append(layer)
    return cuts


def _default_cam_layer(model):
    """The last cut with a 4-D output, stepping back over a trailing pooling layer to the
    finer map it pools (the last convolutional block's activation)."""
    import keras

    pooling = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    maps = _feature_layers(model)
    for position in range(len(maps) - 1, -1, -1):
        layer = maps[position]
        try:
            keras.Model(_output(layer), model.outputs[0])
        except ValueError:
            continue
        if isinstance(layer, pooling) and position > 0:
            before = maps[position - 1]
            if _output(before) is layer.input:
                return before
        return layer
    raise ValueError(
        f"model {model.name!r} has no layer with a 4-D output that alone determines its "
        "predictions, so Grad-CAM has no feature map to explain them with."
    )


def _score_head(model, layer):
    """``(head, linear)``: a model from ``layer``'s output to the class scores, and the Dense
    layer whose linear part turns the head's output into logits (None if the head already
    gives the scores).

    When the model ends in a softmax (a ``Dense`` with ``activation="softmax"`` or an
    ``Activation("softmax")``), the head stops before it so the gradient is that of the
    logit, as in the Grad-CAM paper.
    """
    import keras

    shape = _output_shape(layer)
    if shape is None or len(shape) != 4:
        raise ValueError(
            f"layer must have a 4-D (image-shaped) output for Grad-CAM; {layer.name!r} "
            f"outputs {shape}. Received: layer={layer.name!r}"
        )
    last = model.layers[-1]
    source, linear = model.outputs[0], None
    if _activation_name(last) == "softmax" and _output_shape(last) is not None:
        if _output(last) is model.outputs[0]:
            if isinstance(last, keras.layers.Dense):
                source, linear = last.input, last
            elif isinstance(last, keras.layers.Activation):
                source = last.input
    try:
        head = keras.Model(_output(layer), source)
    except ValueError as error:
        cuts = [item.name for item in _cut_layers(model)]
        listed = cuts if len(cuts) <= 8 else ["...", *cuts[-8:]]
        raise ValueError(
            f"layer {layer.name!r} cannot explain the predictions of {model.name!r}: other "
            "paths (a residual shortcut, a second branch) bypass it, so its output alone does "
            "not determine them. Choose a layer whose output alone determines the predictions, "
            f"e.g. a block's output. Candidates: {listed}. Received: layer={layer.name!r}"
        ) from error
    return head, linear


def _grad_cam(model, x: np.ndarray, class_index=None, layer=None):
    """Grad-CAM maps for a batch; returns ``(cams, classes, probabilities, layer_name)``."""
    import keras

    from kcnn.inspect._grad import value_and_gradient

    target = _default_cam_layer(model) if layer is None else _top_level_layer(model, layer)
    head, linear = _score_head(model, target)
    features = keras.Model(model.inputs[0], _output(target))
    probabilities = _probabilities(
        keras.ops.convert_to_numpy(model(keras.ops.convert_to_tensor(x), training=False))
    )
    num_classes = probabilities.shape[-1]
    if class_index is None:
        classes = probabilities.argmax(axis=-1)
    else:
        try:
            classes = np.broadcast_to(np.asarray(class_index), (len(x),)).copy()
        except ValueError:
            classes = np.zeros(0)  # a wrong number of classes: reported below
        if (
            classes.dtype.kind not in "iu"
            or classes.size == 0
            or classes.min() < 0
            or classes.max() >= num_classes
        ):
            raise ValueError(
                f"class_index must be an integer in [0, {num_classes}) or one per image "
                f"({len(x)}). Received: class_index={class_index!r}"
            )
    one_hot = np.eye(num_classes, dtype="float32")[classes]
    maps = features(keras.ops.convert_to_tensor(x), training=False)

    def score(a):
        out = head(a, training=False)
        if linear is not None:
            out = keras.ops.matmul(out, linear.kernel)
            if linear.use_bias:
                out = out + linear.bias
        out = keras.ops.cast(out, "float32")
        # Images are independent at inference, so the gradient of the sum gives each
        # image the gradient of its own class score.
        return keras.ops.sum(out * keras.ops.convert_to_tensor(one_hot))

    _, grads = value_and_gradient(score, maps)
    maps = np.asarray(keras.ops.convert_to_numpy(maps), dtype="float32")
    if _channels_first():
        maps, grads = np.moveaxis(maps, 1, -1), np.moveaxis(grads, 1, -1)
    weights = grads.mean(axis=(1, 2), keepdims=True)  # alpha_k^c: pooled gradients
    cams = np.maximum((weights * maps).sum(axis=-1), 0.0).astype("float32")
    height, width = x.shape[2:4] if _channels_first() else x.shape[1:3]
    resized = keras.ops.image.resize(
        keras.ops.convert_to_tensor(cams[..., None]),
        (int(height), int(width)),
        interpolation="bilinear",
        data_format="channels_last",
    )
    cams = np.maximum(np.asarray(keras.ops.convert_to_numpy(resized), dtype="float32")[..., 0], 0)
    peak = cams.max(axis=(1, 2), keepdims=True)
    cams = np.where(peak > 0, cams / np.where(peak > 0, peak, 1.0), 0.0).astype("float32")
    return np.minimum(cams, 1.0), classes, probabilities, target.name


def grad_cam(
    model: keras.Model,
    image: np.ndarray,
    class_index: int | Sequence[int] | None = None,
    layer: str | keras.layers.Layer | None = None,
) -> np.ndarray:
    """Grad-CAM: where in the image the evidence for a class lies, as a heat map in [0, 1].

    The gradient of the class score with respect to a late feature map ``A`` (channels
    ``A_k``), averaged over its height and width, weighs each channel:
    ``map = relu(sum_k w_k A_k)``. The map is resized bilinearly to the image's height and
    width and scaled so its maximum is 1 (all zeros when no location speaks for the class).
    The class score is the logit: when the model ends in a softmax (a ``Dense`` with
    ``activation="softmax"`` or an ``Activation("softmax")``), the gradient is taken before
    it, as in the paper, since the softmax's saturation would shrink the gradients of a
    confident prediction towards zero. Otherwise the model's output is used as it is.
    Runs on the TensorFlow, JAX and PyTorch backends.

    Args:
        model: a `keras.Model` with one image input and one output of class scores.
        image: one image shaped like the model's input, or a batch of them.
        class_index: the class to explain: an integer, or one per image. Defaults to the
            predicted class of each image.
        layer: a top-level layer or its name, with a 4-D output that alone determines the
            predictions (a cut of the graph: a block's output, not a layer inside a
            residual block). A nested model, such as a transfer-learning backbone, counts
            as one layer. Defaults to the last such layer, taken before a final pooling
            layer (e.g. the last convolutional block's activation, or the backbone).

    Returns:
        The heat map, ``(height, width)`` float32 in [0, 1]; ``(batch, height, width)`` for a
        batch.

    Example:
        ```python
        heat = kcnn.inspect.grad_cam(model, data.x_test[0])
        print(heat.shape, heat.max())  # (28, 28) 1.0
        ```

    References:
        Selvaraju et al. Grad-CAM: visual explanations from deep networks via gradient-based
        localization. ICCV 2017.
    """
    _check_model(model)
    x, batched = _as_batch(model, image)
    cams = _grad_cam(model, x, class_index, layer)[0]
    return cams if batched else cams[0]


def plot_grad_cam(
    model: keras.Model,
    image: np.ndarray,
    class_index: int | Sequence[int] | None = None,
    layer: str | keras.layers.Layer | None = None,
    path: str | os.PathLike | None = None,
    class_names: Sequence[str] | None = None,
    alpha: float = 0.4,
) -> Figure:
    """Draw Grad-CAM for one image or a few: the image, the heat map and the overlay side by
    side, one row per image.

    Each row is titled with the predicted class and its probability, and the class the
    heat map explains (see `grad_cam`).

    Args:
        model: a `keras.Model` with one image input and one output of class scores.
        image: one image shaped like the model's input, or a batch of them (one row each).
        class_index: the class to explain: an integer, or one per image. Defaults to the
            predicted class of each image.
        layer: the feature-map layer or its name (see `grad_cam`). Defaults to the last
            convolutional block's output.
        path: where to write a PNG. Defaults to None (no file).
        class_names: names of the classes. Defaults to the class indices.
        alpha: opacity of the heat map over the image, in [0, 1]. Defaults to 0.4.

    Returns:
        The matplotlib ``Figure``.

    Example:
        ```python
        kcnn.inspect.plot_grad_cam(model, data.x_test[:4], class_names=data.class_names)
        ```

    References:
        Selvaraju et al. Grad-CAM: visual explanations from deep networks via gradient-based
        localization. ICCV 2017.
    """
    _check_model(model)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be a number in [0, 1]. Received: alpha={alpha!r}")
    x, _ = _as_batch(model, image)
    cams, classes, probabilities, layer_name = _grad_cam(model, x, class_index, layer)
    num_classes = probabilities.shape[-1]
    if class_names is not None and len(class_names) != num_classes:
        raise ValueError(
            f"class_names must hold one name per class ({num_classes}). "
            f"Received: {len(class_names)} names"
        )
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]

    fig = _figure((7.2, 2.45 * len(x) + 0.5))
    axes = fig.subplots(len(x), 3, squeeze=False)
    heat = None
    for row, (image_row, cam) in enumerate(zip(x, cams)):
        shown = _display(image_row)
        predicted = int(probabilities[row].argmax())
        target = int(classes[row])
        ax_image, ax_heat, ax_overlay = axes[row]
        _show(ax_image, shown)
        ax_image.set_title(
            f"predicted {names[predicted]}\np = {probabilities[row, predicted]:.2f}", fontsize=8
        )
        heat = ax_heat.imshow(cam, cmap="jet", vmin=0, vmax=1)
        ax_heat.set_xticks([])
        ax_heat.set_yticks([])
        ax_heat.set_title(
            f"Grad-CAM for {names[target]}\np = {probabilities[row, target]:.2f}", fontsize=8
        )
        _show(ax_overlay, shown)
        ax_overlay.imshow(cam, cmap="jet", vmin=0, vmax=1, alpha=alpha)
        ax_overlay.set_title("overlay", fontsize=8)
    fig.colorbar(heat, ax=axes[:, 1:].ravel().tolist(), shrink=0.8 if len(x) > 1 else 0.9)
    fig.suptitle(f"Grad-CAM at layer {layer_name}", fontsize=10)
    return _finish(fig, path)


def _confusion_figure(y_true, y_pred, class_names, normalize: bool, title: str):
    """The confusion-matrix figure shared by `plot_confusion_matrix` and
    `confusion_matrix_plot`."""
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
    fig = _figure((size, size * 0.9), layout=None)
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


def _predict(model, x: np.ndarray, batch_size: int) -> np.ndarray:
    batch_size = _check_count("batch_size", batch_size)
    return _probabilities(model.predict(x, batch_size=batch_size, verbose=0))


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
    _check_model(model)
    x, y = _split(data, split)
    y_pred = _predict(model, x, batch_size).argmax(axis=-1)
    fig = _confusion_figure(
        y,
        y_pred,
        data.class_names or None,
        normalize,
        f"{model.name} on the {data.name} {split} set",
    )
    return _finish(fig, path)


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
        index = int(index)
        return self.class_names[index] if index < len(self.class_names) else str(index)

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
        fig = _figure((max(4.0, 2.0 * columns), 2.25 * rows + 0.6))
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
        return _finish(fig, path)


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
    x, y = _split(data, split)
    probabilities = _predict(model, x, batch_size)
    if y.min() < 0 or y.max() >= probabilities.shape[-1]:
        raise ValueError(
            f"data's {split} labels must lie in [0, {probabilities.shape[-1]}), the model's "
            f"classes. Received: labels from {y.min()} to {y.max()}"
        )
    prob_true = probabilities[np.arange(len(y)), y]
    losses = -np.log(np.clip(prob_true, 1e-7, 1.0))
    order = np.argsort(-losses, kind="stable")[:k]
    y_pred = probabilities.argmax(axis=-1)
    return TopLosses(
        indices=order,
        losses=losses[order],
        y_true=y[order],
        y_pred=y_pred[order],
        prob_pred=probabilities[order, y_pred[order]],
        prob_true=prob_true[order],
        class_names=tuple(data.class_names),
        split=split,
    )


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
