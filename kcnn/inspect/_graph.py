"""Walking a model's layers, and the small helpers the inspection tools share.

`kcnn.inspect.features`, `kcnn.inspect.cam` and `kcnn.inspect.interpret` find layers and
their output tensors here, turn user images into batches the model takes, and draw images
for display. Keras' private graph API is reached only through `kcnn._keras_compat`.
"""

from __future__ import annotations

import numpy as np

from kcnn._validate import check_int, check_type


def _channels_first() -> bool:
    import keras

    return keras.config.image_data_format() == "channels_first"


def _check_count(argument: str, value) -> int:
    """``value`` as an int if it is an integer >= 1 (NumPy integers too)."""
    if isinstance(value, np.integer):
        value = int(value)
    return check_int(argument, value, minimum=1)


def _check_model(model) -> None:
    import keras

    check_type("model", model, keras.Model, "a keras.Model")
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

    from kcnn._keras_compat import call_output_tensors

    if isinstance(layer, keras.Model):
        outputs = call_output_tensors(layer)
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


def _is_cut(model, layer) -> bool:
    """Whether ``layer``'s output alone determines the model's output (no other path, such as
    a residual shortcut, bypasses it)."""
    import keras

    try:
        keras.Model(_output(layer), model.outputs[0])
    except ValueError:
        return False
    return True


def _cut_layers(model) -> list:
    """Top-level layers with a 4-D output that alone determines the model's output."""
    return [layer for layer in _feature_layers(model) if _is_cut(model, layer)]


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
