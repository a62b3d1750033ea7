"""Translation equivariance of convolutions, invariance after global pooling, and what max
and average pooling do to a thin edge: the lesson's claims, checked numerically.

A convolution applies the same kernel at every position, so shifting its input shifts its
output: ``conv(shift(x)) = shift(conv(x))``, exactly, wherever neither side is affected by the
image border. Averaging the output over all positions (global average pooling) then forgets
the position: the pooled features of a shifted object equal those of the original.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from kcnn._validate import check_int
from kcnn.inspect.receptive_field import receptive_field

__all__ = [
    "EquivarianceResult",
    "PoolingEdgeResponse",
    "equivariance_check",
    "pooling_edge_response",
]


@dataclasses.dataclass(frozen=True)
class EquivarianceResult:
    """The numbers of `equivariance_check`.

    Attributes:
        shift: the input's translation ``(rows, columns)`` in pixels.
        output_shift: the matching translation of the output: ``shift`` divided by the
            total stride.
        equivariance_error: ``max |f(shift(x)) - shift(f(x))|`` over the compared positions.
        relative_equivariance_error: ``equivariance_error`` divided by ``max |f(x)|`` there.
        shift_change: ``max |f(shift(x)) - f(x)|`` at the same positions: how much the output
            changes when the shift is not undone (the equivariance error is small next to it,
            not merely small).
        compared: output positions compared (per image and channel).
        invariance_error: ``max |gap(f(shift(x))) - gap(f(x))|`` over channels, where ``gap``
            averages the whole output map (global average pooling), borders included.
        relative_invariance_error: ``invariance_error`` divided by ``max |gap(f(x))|``.
    """

    shift: tuple[int, int]
    output_shift: tuple[int, int]
    equivariance_error: float
    relative_equivariance_error: float
    shift_change: float
    compared: int
    invariance_error: float
    relative_invariance_error: float

    def __str__(self) -> str:
        return (
            f"input shifted by {self.shift} pixels -> output shifted by {self.output_shift}\n"
            f"equivariance: max |f(shift(x)) - shift(f(x))| = {self.equivariance_error:.3g} "
            f"(relative {self.relative_equivariance_error:.3g}) over {self.compared} interior "
            f"positions; without undoing the shift the output differs by up to "
            f"{self.shift_change:.3g}\n"
            f"invariance after global average pooling: max difference "
            f"{self.invariance_error:.3g} (relative {self.relative_invariance_error:.3g})"
        )


def _channels_last() -> bool:
    return keras.config.image_data_format() == "channels_last"


def _translate(x: np.ndarray, shift: tuple[int, int], axes: tuple[int, int]) -> np.ndarray:
    """Move the content of ``x`` by ``shift`` pixels along ``axes``, filling with zeros."""
    out = np.zeros_like(x)
    source = [slice(None)] * x.ndim
    target = [slice(None)] * x.ndim
    for s, axis in zip(shift, axes):
        n = x.shape[axis]
        source[axis] = slice(max(-s, 0), n - max(s, 0))
        target[axis] = slice(max(s, 0), n - max(-s, 0))
    out[tuple(target)] = x[tuple(source)]
    return out


def _function(layer_or_model, layer_name: str | None, image_shape: tuple) -> keras.Model:
    """The function to test, as a model from an image to a feature map."""
    if isinstance(layer_or_model, keras.Model):
        if layer_name is not None:
            try:
                target = layer_or_model.get_layer(layer_name)
            except ValueError:
                raise ValueError(
                    f"layer_name must name a layer of model {layer_or_model.name!r}. "
                    f"Received: layer_name={layer_name!r}"
                ) from None
            inputs = layer_or_model.inputs
            return keras.Model(inputs[0] if len(inputs) == 1 else inputs, target.output)
        convs = [lay for lay in layer_or_model.layers if isinstance(lay, keras.layers.Conv2D)]
        if not convs:
            raise ValueError(
                f"layer_or_model {layer_or_model.name!r} has no Conv2D layer; pass layer_name."
            )
        layer_or_model = convs[0]
    elif not isinstance(layer_or_model, keras.layers.Layer):
        raise TypeError(
            "layer_or_model must be a keras Layer or Model. "
            f"Received: layer_or_model={type(layer_or_model).__name__}"
        )
    elif layer_name is not None:
        raise ValueError(
            f"layer_name is for models only. Received: layer_name={layer_name!r} with a "
            f"{type(layer_or_model).__name__} layer"
        )
    inputs = keras.Input(image_shape)
    return keras.Model(inputs, layer_or_model(inputs))


def equivariance_check(
    layer_or_model: keras.layers.Layer | keras.Model,
    image: np.ndarray,
    shift: int | tuple[int, int] = (2, 3),
    layer_name: str | None = None,
) -> EquivarianceResult:
    """Check numerically that a convolution's output moves with its input.

    The image is translated by ``shift`` pixels with zero fill (content moved past the border
    is lost, the vacated strip is black, as when an object moves in a camera's view), both
    images go through ``f``, and:

    - **equivariance**: ``f(shift(x))`` is compared with ``f(x)`` translated by
      ``shift / stride`` at the output positions whose receptive field (from
      `receptive_field`) lies inside the image in both frames. Borders are excluded there:
      "same" padding and the zero fill make the edges differ, and that is not the
      convolution's doing. The difference is float32 round-off.
    - **invariance**: the global average of each output channel over the *whole* map,
      borders included, is compared. It is exactly invariant (up to round-off) when the
      image's content sits inside a dark border wider than ``|shift|`` plus the receptive
      field, so that nothing is lost and the border responses are the same constant; with
      content touching the edges the number measures the border effect, honestly.

    Args:
        layer_or_model: a Keras layer (such as a `Conv2D`), or a model. For a model, ``f``
            is the model cut at ``layer_name``, or, without it, the model's first top-level
            `Conv2D` layer on its own.
        image: one image ``(height, width, channels)`` or a batch of them (channels first
            under ``channels_first``), as a NumPy array.
        shift: ``(rows, columns)`` to move the content by (positive: down and right), or one
            int for both; a multiple of ``f``'s total stride. Defaults to ``(2, 3)``.
        layer_name: with a model, the layer whose output is compared. Defaults to None.

    Returns:
        An `EquivarianceResult`.

    Raises:
        ValueError: an image that is not of rank 3 or 4, a shift that is not two integers,
            not smaller than the image, or not a multiple of the stride, no interior output
            position left to compare, an unknown ``layer_name``.
        TypeError: ``layer_or_model`` is neither a layer nor a model.

    Example:
        ```python
        image = np.zeros((32, 32, 1), "float32")
        image[10:20, 12:18] = np.random.default_rng(0).uniform(size=(10, 6, 1))
        result = kcnn.inspect.equivariance_check(keras.layers.Conv2D(8, 3, padding="same"), image)
        print(result)  # errors of order 1e-7
        ```

    References:
        Goodfellow, Bengio, Courville. Deep Learning, MIT Press 2016, section 9.2
        (equivariant representations). Zhang. Making convolutional networks shift-invariant
        again. ICML 2019.
    """
    x, shift, axes = _checked_input(image, shift)
    f = _function(layer_or_model, layer_name, x.shape[1:])
    row = receptive_field(f).final
    out_shift = _output_shift(row, shift)
    rows, cols = _comparable(row, shift, out_shift, (x.shape[axes[0]], x.shape[axes[1]]))

    y = np.asarray(keras.ops.convert_to_numpy(f(x, training=False)), dtype="float64")
    shifted = _translate(x, shift, axes)
    y_shifted = np.asarray(keras.ops.convert_to_numpy(f(shifted, training=False)), "float64")
    y_moved = _translate(y, out_shift, axes)

    def interior(a):
        a = np.compress(rows, a, axis=axes[0])
        return np.compress(cols, a, axis=axes[1])

    error = float(np.max(np.abs(interior(y_shifted) - interior(y_moved))))
    change = float(np.max(np.abs(interior(y_shifted) - interior(y))))
    scale = float(np.max(np.abs(interior(y_moved))))
    pooled = y.mean(axis=axes)
    pooled_shifted = y_shifted.mean(axis=axes)
    invariance = float(np.max(np.abs(pooled_shifted - pooled)))
    pooled_scale = float(np.max(np.abs(pooled)))
    return EquivarianceResult(
        shift=shift,
        output_shift=out_shift,
        equivariance_error=error,
        relative_equivariance_error=error / scale if scale > 0 else float(error > 0),
        shift_change=change,
        compared=int(rows.sum() * cols.sum()),
        invariance_error=invariance,
        relative_invariance_error=invariance / pooled_scale
        if pooled_scale > 0
        else float(invariance > 0),
    )


def _checked_input(image, shift) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """The image as a float32 batch, the shift as two ints, and the spatial axes."""
    x = np.asarray(keras.ops.convert_to_numpy(image), dtype="float32")
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4:
        raise ValueError(
            "image must be one image of rank 3 (height, width, channels) or a batch of rank 4. "
            f"Received: image with shape {np.shape(image)}"
        )
    axes = (1, 2) if _channels_last() else (2, 3)
    size = (x.shape[axes[0]], x.shape[axes[1]])
    if isinstance(shift, int) and not isinstance(shift, bool):
        shift = (shift, shift)
    if (
        not isinstance(shift, (tuple, list))
        or len(shift) != 2
        or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) for s in shift)
    ):
        raise ValueError(f"shift must be two integers (rows, columns). Received: shift={shift!r}")
    shift = (int(shift[0]), int(shift[1]))
    if abs(shift[0]) >= size[0] or abs(shift[1]) >= size[1]:
        raise ValueError(
            f"shift must be smaller than the image ({size[0]}x{size[1]}) in each direction. "
            f"Received: shift={shift}"
        )
    return x, shift, axes


def _output_shift(row, shift: tuple[int, int]) -> tuple[int, int]:
    """How far the output moves: the shift over the total stride, which must divide it."""
    if row.is_global:
        raise ValueError(
            "The function's output has no spatial axes (global pooling or Flatten); pass a "
            "layer_name whose output is a feature map."
        )
    jump = row.jump
    if shift[0] % jump[0] or shift[1] % jump[1]:
        raise ValueError(
            f"shift must be a multiple of the total stride {jump} for the output to move by "
            f"whole units. Received: shift={shift}"
        )
    return (shift[0] // jump[0], shift[1] // jump[1])


def _comparable(row, shift, out_shift, size) -> list[np.ndarray]:
    """Per spatial axis, the output positions whose receptive field lies inside the image
    in both frames (no padding, only pixels that moved), and which stay on the map."""
    masks = []
    for axis in range(2):
        units = np.arange(row.output_size[axis])
        lo = row.start[axis] + units * row.jump[axis]
        hi = lo + row.field[axis] - 1
        n, s = size[axis], shift[axis]
        inside = (lo >= 0) & (hi <= n - 1)  # f(shift(x)) at u sees no padding
        source = (lo - s >= 0) & (hi - s <= n - 1)  # ... and only moved pixels of x
        valid_index = (units - out_shift[axis] >= 0) & (units - out_shift[axis] < len(units))
        masks.append(inside & source & valid_index)
    if not masks[0].any() or not masks[1].any():
        raise ValueError(
            f"No output position has its receptive field ({row.field}) inside the image in "
            f"both frames: use a larger image or a smaller shift. Received: shift={shift}"
        )
    return masks


@dataclasses.dataclass(frozen=True)
class PoolingEdgeResponse:
    """Max and average pooling of a thin bright vertical line at every column.

    Attributes:
        positions: the first column of the line in each image.
        images: the images, ``(positions, size, size)``.
        max_pooled: their max pooling, ``(positions, size // pool, size // pool)``.
        avg_pooled: their average pooling, same shape.
        pool_size: the pooling window (and stride).
        line_width: the line's width in pixels.
    """

    positions: np.ndarray
    images: np.ndarray = dataclasses.field(repr=False)
    max_pooled: np.ndarray = dataclasses.field(repr=False)
    avg_pooled: np.ndarray = dataclasses.field(repr=False)
    pool_size: int
    line_width: int

    @property
    def max_peak(self) -> np.ndarray:
        """The strongest max-pooled response for each line position."""
        return self.max_pooled.max(axis=(1, 2))

    @property
    def avg_peak(self) -> np.ndarray:
        """The strongest average-pooled response for each line position."""
        return self.avg_pooled.max(axis=(1, 2))

    def __str__(self) -> str:
        lines = [
            f"{self.line_width}-pixel line, {self.pool_size}x{self.pool_size} pooling "
            "(one row of each pooled map):"
        ]
        for p, mx, av in zip(self.positions, self.max_pooled, self.avg_pooled):
            lines.append(
                f"  column {p:2d}: max {np.array2string(mx[0], precision=3)}  "
                f"avg {np.array2string(av[0], precision=3)}"
            )
        return "\n".join(lines)


def pooling_edge_response(
    size: int = 8, pool_size: int = 2, line_width: int = 1, intensity: float = 1.0
) -> PoolingEdgeResponse:
    """Pool a bright vertical line on a dark image, at every column, with max and average.

    Max pooling keeps the line's full intensity wherever it falls in a window; average
    pooling dilutes it by the share of the window it covers: a 1-pixel line in 2x2 windows
    gives 0.5. A line as wide as the window gives 1.0 when aligned with a window and 0.5 in
    each of two windows when it straddles them: the average depends on the line's position,
    the maximum does not.

    Args:
        size: height and width of the images. Defaults to 8.
        pool_size: window side and stride of both poolings. Defaults to 2.
        line_width: the line's width in pixels. Defaults to 1.
        intensity: the line's value; the background is 0. Defaults to 1.0.

    Returns:
        A `PoolingEdgeResponse` with the images and both pooled maps for every position.

    Raises:
        ValueError: a non-positive size, a window larger than the image, a line wider than
            the image, naming the argument.

    Example:
        ```python
        response = kcnn.inspect.pooling_edge_response()
        response.max_peak, response.avg_peak  # all 1.0, all 0.5
        ```

    References:
        Boureau, Ponce, LeCun. A theoretical analysis of feature pooling in visual
        recognition. ICML 2010.
    """
    for argument, value in (("size", size), ("pool_size", pool_size), ("line_width", line_width)):
        check_int(argument, value, minimum=1)
    if pool_size > size:
        raise ValueError(f"pool_size must be at most size={size}. Received: pool_size={pool_size}")
    if line_width > size:
        raise ValueError(
            f"line_width must be at most size={size}. Received: line_width={line_width}"
        )
    positions = np.arange(size - line_width + 1)
    images = np.zeros((len(positions), size, size), dtype="float32")
    for index, p in enumerate(positions):
        images[index, :, p : p + line_width] = intensity
    batch = images[..., None] if _channels_last() else images[:, None]
    pooled = {}
    for name, layer in (("max", keras.layers.MaxPooling2D), ("avg", keras.layers.AveragePooling2D)):
        out = keras.ops.convert_to_numpy(layer(pool_size)(batch))
        pooled[name] = np.asarray(out[..., 0] if _channels_last() else out[:, 0])
    return PoolingEdgeResponse(
        positions=positions,
        images=images,
        max_pooled=pooled["max"],
        avg_pooled=pooled["avg"],
        pool_size=pool_size,
        line_width=line_width,
    )
