"""What a CNN's convolutions learned and compute: its filters, and the feature maps of its
layers for one image.

Every plot function returns a matplotlib ``Figure`` and writes it to a PNG when given
``path=`` (see `kcnn.plots`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from kcnn.inspect._graph import (
    _as_batch,
    _channels_first,
    _check_count,
    _check_model,
    _display,
    _feature_layers,
    _layer_name,
    _output,
    _output_shape,
    _show,
    _top_level_layer,
    _walk,
)
from kcnn.plots import figure, finish

if TYPE_CHECKING:
    import keras
    from matplotlib.figure import Figure


def _find_conv(model, layer):
    """The ``Conv2D`` to draw: ``layer`` (a name or an instance, nested models searched
    too), or the model's first ``Conv2D``."""
    import keras

    convs = [item for item in _walk(model) if isinstance(item, keras.layers.Conv2D)]
    if layer is None:
        if not convs:
            raise ValueError(f"model {model.name!r} has no Conv2D layer whose filters to show.")
        return convs[0]
    name = _layer_name(layer)
    matches = [item for item in _walk(model) if item is layer or item.name == name]
    if not matches or not isinstance(matches[0], keras.layers.Conv2D):
        what = f"a {type(matches[0]).__name__}" if matches else "not a layer of the model"
        raise ValueError(
            f"layer must be a Conv2D layer of model {model.name!r}; {name!r} is {what}. "
            f"Conv2D layers: {[item.name for item in convs]}. Received: layer={layer!r}"
        )
    return matches[0]


def _draw_kernels(conv, kernel: np.ndarray, max_filters: int) -> Figure:
    """The grid of ``conv``'s first ``max_filters`` filters (see `plot_filters`)."""
    height, width, channels, filters = kernel.shape
    shown = min(filters, max_filters)
    rgb = channels == 3
    columns = math.ceil(math.sqrt(shown))
    rows = math.ceil(shown / columns)
    cell = 0.75 if max(height, width) <= 5 else 1.0
    fig = figure((max(4.5, cell * columns + (0 if rgb else 1.0)), max(2.5, cell * rows + 0.9)))
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
    return fig


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
    conv = _find_conv(model, layer)
    kernel = np.asarray(keras.ops.convert_to_numpy(conv.kernel), dtype="float32")
    return finish(_draw_kernels(conv, kernel, max_filters), path)


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


def _feature_map_layers(model, layers) -> list:
    """The layers `plot_feature_maps` draws: ``layers`` looked up, or the default ones;
    each checked to have a 4-D output."""
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
    return chosen


def _feature_maps(model, x: np.ndarray, chosen: list) -> list[np.ndarray]:
    """The outputs of the ``chosen`` layers for the one image in ``x``, each as
    (height, width, channels) float32."""
    import keras

    extractor = keras.Model(model.inputs[0], [_output(layer) for layer in chosen])
    outputs = extractor(keras.ops.convert_to_tensor(x), training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    maps = []
    for output in outputs:
        array = np.asarray(keras.ops.convert_to_numpy(output), dtype="float32")[0]
        maps.append(np.moveaxis(array, 0, -1) if _channels_first() else array)
    return maps


def _draw_feature_row(subfig, layer, fmap: np.ndarray, columns: int) -> None:
    """One layer's row: its ``columns`` most active channels, in channel order, on one
    colour scale."""
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
    _check_model(model)
    max_channels = _check_count("max_channels", max_channels)
    x, _ = _as_batch(model, image)
    if len(x) != 1:
        raise ValueError(
            "image must be a single image (a batch axis of 1 is allowed). "
            f"Received: image with shape {np.shape(image)}"
        )
    chosen = _feature_map_layers(model, layers)
    maps = _feature_maps(model, x, chosen)

    columns = min(max_channels, max(m.shape[-1] for m in maps))
    fig = figure((max(6.0, 1.05 * columns), 1.35 * (len(maps) + 1)))
    subfigs = fig.subfigures(len(maps) + 1, 1)
    top = subfigs[0].subplots(1, columns, squeeze=False)[0]
    _show(top[0], _display(x[0]))
    for ax in top[1:]:
        ax.set_visible(False)
    subfigs[0].suptitle(f"input {tuple(x.shape[1:])}", fontsize=9, x=0.02, ha="left")
    for subfig, layer, fmap in zip(subfigs[1:], chosen, maps):
        _draw_feature_row(subfig, layer, fmap, columns)
    return finish(fig, path)
