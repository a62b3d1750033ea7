"""Grad-CAM: where in an image the evidence for a class lies, as a heat map, and the figure
that lays it over the image.

References:
    Selvaraju et al. Grad-CAM: visual explanations from deep networks via gradient-based
    localization. ICCV 2017.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from kcnn.inspect._graph import (
    _as_batch,
    _channels_first,
    _check_model,
    _cut_layers,
    _display,
    _feature_layers,
    _is_cut,
    _output,
    _output_shape,
    _probabilities,
    _show,
    _top_level_layer,
)
from kcnn.plots import figure, finish

if TYPE_CHECKING:
    import keras
    from matplotlib.figure import Figure


def _activation_name(layer) -> str | None:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", None)


def _default_cam_layer(model):
    """The last cut with a 4-D output, stepping back over a trailing pooling layer to the
    finer map it pools (the last convolutional block's activation)."""
    import keras

    pooling = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    maps = _feature_layers(model)
    for position in range(len(maps) - 1, -1, -1):
        layer = maps[position]
        if not _is_cut(model, layer):
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


def _classes(class_index, probabilities: np.ndarray) -> np.ndarray:
    """The class to explain for each image: ``class_index`` (one, or one per image) checked
    against the model's classes, or the predicted class."""
    if class_index is None:
        return probabilities.argmax(axis=-1)
    batch, num_classes = probabilities.shape
    try:
        classes = np.broadcast_to(np.asarray(class_index), (batch,)).copy()
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
            f"({batch}). Received: class_index={class_index!r}"
        )
    return classes


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
    classes = _classes(class_index, probabilities)
    one_hot = np.eye(probabilities.shape[-1], dtype="float32")[classes]
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

    fig = figure((7.2, 2.45 * len(x) + 0.5))
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
    return finish(fig, path)
