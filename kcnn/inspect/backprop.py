"""Backpropagation written out: the backward pass of a convolution and of a dense layer, the
gradient of softmax cross-entropy, and one step of SGD, each by its formula.

A ``Conv2D`` layer computes a cross-correlation (channels last, padding ``p`` before the first
row and column, stride ``s``):

```
y[n, i, j, f] = b[f] + sum over a, b', c of x_pad[n, s*i + a, s*j + b', c] * K[a, b', c, f]
```

Given the gradient ``g = dL/dy``, the chain rule gives three sums:

- ``dL/db[f] = sum over n, i, j of g[n, i, j, f]``;
- ``dL/dK[a, b', c, f] = sum over n, i, j of x_pad[n, s*i + a, s*j + b', c] * g[n, i, j, f]``:
  the input correlated with the output gradient;
- ``dL/dx_pad`` is the *full* convolution of ``g`` (with ``s - 1`` zeros inserted between its
  entries when ``s > 1``) with the kernel flipped in both spatial axes, its input and output
  channels swapped; ``dL/dx`` is that, without the padding's rows and columns.

For classification the loss is the mean cross-entropy of the softmax of the logits ``z``; its
gradient with respect to the logits is ``(softmax(z) - onehot(y)) / batch``. Everything below
the logits follows from the chain rule, layer by layer; SGD then moves every weight by
``w <- w - learning_rate * dL/dw``.

`conv2d_backward`, `dense_backward` and `softmax_cross_entropy` compute the formulas with
``keras.ops``; `conv2d_backward_autodiff` and `cross_entropy_autodiff` ask the backend's
automatic differentiation for the same numbers. `train_step_by_hand` writes out one training
step and `fit_one_step` takes the same step with ``model.fit``, to compare.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import keras
import numpy as np

from kcnn._validate import check_choice, check_number, check_type, is_int
from kcnn.inspect._grad import value_and_gradient, value_and_weight_gradients
from kcnn.inspect._graph import _check_model, _walk

__all__ = [
    "LayerGradients",
    "TrainStep",
    "conv2d_backward",
    "conv2d_backward_autodiff",
    "cross_entropy_autodiff",
    "dense_backward",
    "fit_one_step",
    "softmax_cross_entropy",
    "train_step_by_hand",
]

_ops = keras.ops


class LayerGradients(NamedTuple):
    """The gradients of a loss with respect to one layer's weights and input.

    Attributes:
        kernel: ``dL/dkernel``, shaped like the kernel.
        input: ``dL/dinput``, shaped like the layer's input (what flows to the layer below).
        bias: ``dL/dbias``, one value per output channel or unit.
    """

    kernel: np.ndarray
    input: np.ndarray
    bias: np.ndarray


def _array(name: str, value, ndim: int) -> np.ndarray:
    """``value`` as a float32 NumPy array with ``ndim`` axes, or a ValueError naming it."""
    array = np.asarray(keras.ops.convert_to_numpy(value), dtype="float32")
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} axes. Received: {name} with shape {array.shape}")
    return array


def _numpy(tensor) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(tensor), dtype="float32")


def _pair(strides) -> tuple[int, int]:
    """``strides`` as ``(rows, columns)``: an integer >= 1 or a pair of them."""
    pair = (strides, strides) if is_int(strides) else strides
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
        or not all(is_int(s) and s >= 1 for s in pair)
    ):
        raise ValueError(
            f"strides must be an integer >= 1 or a pair of them. Received: strides={strides!r}"
        )
    return tuple(pair)


def _conv_geometry(size: int, kernel: int, stride: int, padding: str) -> tuple[int, int, int]:
    """``(output size, padding before, padding after)`` of one axis, as Keras pads it."""
    if padding == "valid":
        return (size - kernel) // stride + 1, 0, 0
    out = -(-size // stride)  # "same": ceil(size / stride) outputs
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def _check_conv(x, kernel, grad_output, strides, padding):
    """The checked arrays and the geometry of `conv2d_backward`'s arguments."""
    check_choice("padding", padding, ("valid", "same"))
    strides = _pair(strides)
    x = _array("x", x, 4)
    kernel = _array("kernel", kernel, 4)
    if kernel.shape[2] != x.shape[3]:
        raise ValueError(
            "kernel must have shape (rows, columns, input channels, filters) with as many "
            f"input channels as x (channels last). Received: kernel with shape {kernel.shape} "
            f"for x with shape {x.shape}"
        )
    geometry = [
        _conv_geometry(x.shape[1 + axis], kernel.shape[axis], strides[axis], padding)
        for axis in (0, 1)
    ]
    if min(out for out, _, _ in geometry) < 1:
        raise ValueError(
            f"kernel must fit inside x with padding={padding!r}. Received: kernel with shape "
            f"{kernel.shape} for x with shape {x.shape}"
        )
    expected = (x.shape[0], geometry[0][0], geometry[1][0], kernel.shape[3])
    grad_output = _array("grad_output", grad_output, 4)
    if grad_output.shape != expected:
        raise ValueError(
            f"grad_output must have the shape of the convolution's output, {expected}. "
            f"Received: grad_output with shape {grad_output.shape}"
        )
    return x, kernel, grad_output, strides, geometry


def _insert_zeros(g, stride: int, axis: int):
    """``g`` with ``stride - 1`` zeros between neighbouring entries along ``axis`` (1 or 2)."""
    if stride == 1:
        return g
    shape = list(g.shape)
    widths = [[0, 0]] * 5
    widths[axis + 1] = [0, stride - 1]
    g = _ops.pad(_ops.expand_dims(g, axis + 1), widths)  # each entry, then stride - 1 zeros
    shape[axis] *= stride
    g = _ops.reshape(g, shape)
    keep = shape[axis] - (stride - 1)  # no zeros after the last entry
    return g[:, :keep] if axis == 1 else g[:, :, :keep]


def conv2d_backward(
    x: np.ndarray,
    kernel: np.ndarray,
    grad_output: np.ndarray,
    strides: int | tuple[int, int] = 1,
    padding: str = "valid",
) -> LayerGradients:
    """The gradients of a ``Conv2D`` layer, computed by their formulas (no autodiff).

    The weight gradient sums, for each kernel offset ``(a, b)``, the input pixels that offset
    saw times the output gradient there: a correlation of the input with the output gradient.
    The input gradient is the full convolution of the output gradient (zeros inserted between
    its entries for strides > 1) with the spatially flipped kernel, its channels swapped.

    Args:
        x: the layer's input, ``(batch, rows, columns, channels)`` (channels last).
        kernel: the layer's kernel, ``(kernel rows, kernel columns, channels, filters)``, as
            ``Conv2D.kernel`` stores it.
        grad_output: ``dL/dy``, shaped like the layer's output (before its activation).
        strides: the layer's strides, an integer or ``(rows, columns)``. Defaults to 1.
        padding: the layer's padding, ``"valid"`` or ``"same"``. Defaults to ``"valid"``.

    Returns:
        A `LayerGradients` of NumPy arrays: ``kernel`` shaped like ``kernel``, ``input``
        shaped like ``x``, ``bias`` of length ``filters``.

    Raises:
        ValueError: for other paddings, strides below 1, arrays that are not 4-D, or shapes
            that do not fit together.

    Example:
        ```python
        x = np.ones((1, 4, 4, 1), "float32")
        k = np.ones((3, 3, 1, 1), "float32")
        g = np.ones((1, 2, 2, 1), "float32")  # dL/dy for the 2x2 output
        grads = conv2d_backward(x, k, g)
        grads.kernel[..., 0, 0]  # every tap met 4 ones: [[4, 4, 4], [4, 4, 4], [4, 4, 4]]
        grads.input[0, ..., 0]  # [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2], [1, 2, 2, 1]]
        ```

    References:
        Dumoulin and Visin, "A guide to convolution arithmetic for deep learning", 2016.
    """
    x, kernel, g, (sr, sc), geometry = _check_conv(x, kernel, grad_output, strides, padding)
    (rows, top, bottom), (cols, left, right) = geometry
    kr, kc = kernel.shape[:2]
    x_pad = _ops.pad(_ops.convert_to_tensor(x), [[0, 0], [top, bottom], [left, right], [0, 0]])
    g = _ops.convert_to_tensor(g)

    # dL/dK: the input correlated with g. Offset (a, b) of the kernel meets input pixel
    # (s*i + a, s*j + b) at output (i, j), so g is a kernel with its taps s pixels apart
    # (dilation s), slid over x_pad; the batch axis is the one summed over, like channels.
    grad_kernel = _ops.conv(
        _ops.transpose(x_pad, (3, 1, 2, 0)),  # (channels, rows, cols, batch)
        _ops.transpose(g, (1, 2, 0, 3)),  # (out rows, out cols, batch, filters)
        strides=1,
        padding="valid",
        data_format="channels_last",
        dilation_rate=(sr, sc),
    )[:, :kr, :kc]  # (channels, kr, kc, filters). Rows or columns that no window reaches
    # (valid padding, strides > 1) lengthen the result; only the kernel's offsets are kept.
    grad_kernel = _ops.transpose(grad_kernel, (1, 2, 0, 3))

    # dL/dx_pad: full convolution of the (zero-inserted) g with the flipped kernel.
    spread = _insert_zeros(_insert_zeros(g, sr, 1), sc, 2)
    full = _ops.pad(spread, [[0, 0], [kr - 1, kr - 1], [kc - 1, kc - 1], [0, 0]])
    flipped = _ops.flip(_ops.flip(_ops.convert_to_tensor(kernel), axis=0), axis=1)
    flipped = _ops.transpose(flipped, (0, 1, 3, 2))  # (rows, cols, filters, channels)
    grad_pad = _ops.conv(full, flipped, strides=1, padding="valid", data_format="channels_last")
    # Rows and columns past the last window's reach (valid padding, strides > 1) get zero.
    height, width = x.shape[1] + top + bottom, x.shape[2] + left + right
    grad_pad = _ops.pad(
        grad_pad,
        [[0, 0], [0, height - grad_pad.shape[1]], [0, width - grad_pad.shape[2]], [0, 0]],
    )
    grad_input = grad_pad[:, top : top + x.shape[1], left : left + x.shape[2]]
    return LayerGradients(
        kernel=_numpy(grad_kernel),
        input=_numpy(grad_input),
        bias=_numpy(_ops.sum(g, axis=(0, 1, 2))),
    )


def conv2d_backward_autodiff(
    x: np.ndarray,
    kernel: np.ndarray,
    grad_output: np.ndarray,
    strides: int | tuple[int, int] = 1,
    padding: str = "valid",
) -> LayerGradients:
    """The gradients of `conv2d_backward`, by the backend's automatic differentiation.

    Differentiates ``sum(grad_output * (conv(x, kernel) + bias))``, whose gradients with
    respect to ``kernel``, ``x`` and ``bias`` are those of any loss ``L`` with
    ``dL/dy = grad_output``.

    Args:
        x: the layer's input, ``(batch, rows, columns, channels)`` (channels last).
        kernel: the layer's kernel, ``(kernel rows, kernel columns, channels, filters)``.
        grad_output: ``dL/dy``, shaped like the layer's output.
        strides: the layer's strides, an integer or ``(rows, columns)``. Defaults to 1.
        padding: the layer's padding, ``"valid"`` or ``"same"``. Defaults to ``"valid"``.

    Returns:
        A `LayerGradients` of NumPy arrays, as `conv2d_backward` returns.

    Example:
        ```python
        x, k = np.ones((1, 4, 4, 1), "float32"), np.ones((3, 3, 1, 1), "float32")
        g = np.ones((1, 2, 2, 1), "float32")
        auto = conv2d_backward_autodiff(x, k, g)
        np.abs(auto.input - conv2d_backward(x, k, g).input).max()  # 0.0
        ```
    """
    x, kernel, g, strides, _ = _check_conv(x, kernel, grad_output, strides, padding)

    def loss(x_, kernel_, bias_):
        y = _ops.conv(x_, kernel_, strides=strides, padding=padding, data_format="channels_last")
        return _ops.sum(_ops.convert_to_tensor(g) * (y + _ops.convert_to_tensor(bias_)))

    bias = np.zeros(kernel.shape[3], "float32")
    _, grad_kernel = value_and_gradient(lambda k: loss(_ops.convert_to_tensor(x), k, bias), kernel)
    _, grad_input = value_and_gradient(lambda v: loss(v, _ops.convert_to_tensor(kernel), bias), x)
    _, grad_bias = value_and_gradient(
        lambda b: loss(_ops.convert_to_tensor(x), _ops.convert_to_tensor(kernel), b), bias
    )
    return LayerGradients(kernel=grad_kernel, input=grad_input, bias=grad_bias)


def dense_backward(
    inputs: np.ndarray, kernel: np.ndarray, grad_output: np.ndarray
) -> LayerGradients:
    """The gradients of a ``Dense`` layer ``y = inputs @ kernel + bias``, by their formulas.

    ``dL/dkernel = inputs^T @ g``, ``dL/dbias = sum of g over the batch`` and
    ``dL/dinputs = g @ kernel^T``, with ``g = dL/dy``.

    Args:
        inputs: the layer's input, ``(batch, features)``.
        kernel: the layer's kernel, ``(features, units)``.
        grad_output: ``dL/dy``, ``(batch, units)`` (before the layer's activation).

    Returns:
        A `LayerGradients` of NumPy arrays shaped like ``kernel``, ``inputs`` and the bias.

    Raises:
        ValueError: for arrays that are not 2-D or whose shapes do not fit together.

    Example:
        ```python
        grads = dense_backward(np.ones((2, 3)), np.ones((3, 4)), np.ones((2, 4)))
        grads.kernel.shape, grads.bias  # (3, 4), [2, 2, 2, 2]
        ```
    """
    inputs = _array("inputs", inputs, 2)
    kernel = _array("kernel", kernel, 2)
    grad_output = _array("grad_output", grad_output, 2)
    if kernel.shape[0] != inputs.shape[1]:
        raise ValueError(
            f"kernel must have {inputs.shape[1]} rows, one per input feature. Received: "
            f"kernel with shape {kernel.shape} for inputs with shape {inputs.shape}"
        )
    if grad_output.shape != (inputs.shape[0], kernel.shape[1]):
        raise ValueError(
            f"grad_output must have shape {(inputs.shape[0], kernel.shape[1])}. Received: "
            f"grad_output with shape {grad_output.shape}"
        )
    h, w, g = (_ops.convert_to_tensor(a) for a in (inputs, kernel, grad_output))
    return LayerGradients(
        kernel=_numpy(_ops.matmul(_ops.transpose(h), g)),
        input=_numpy(_ops.matmul(g, _ops.transpose(w))),
        bias=_numpy(_ops.sum(g, axis=0)),
    )


def _check_label_values(name: str, labels, count: int, classes: int) -> np.ndarray:
    """``labels`` as int32 if they are ``count`` integer class indices in ``[0, classes)``."""
    labels = np.asarray(keras.ops.convert_to_numpy(labels))
    if labels.shape != (count,) or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must be {count} integer class indices, one per example. "
            f"Received: {name} with shape {labels.shape} and dtype {labels.dtype}"
        )
    if count and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"{name} must be class indices in [0, {classes}). Received: {name} from "
            f"{labels.min()} to {labels.max()}"
        )
    return labels.astype("int32")


def _check_labels(logits, labels) -> tuple[np.ndarray, np.ndarray]:
    logits = _array("logits", logits, 2)
    if logits.shape[0] == 0:
        raise ValueError(f"logits must hold at least one row. Received: shape {logits.shape}")
    return logits, _check_label_values("labels", labels, logits.shape[0], logits.shape[1])


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """The mean cross-entropy of ``softmax(logits)`` and its gradient, by their formulas.

    With ``p = softmax(z)`` row by row, the loss is ``mean over the batch of -log p[label]``
    and its gradient with respect to the logits is ``(p - onehot(labels)) / batch``.

    Args:
        logits: the model's outputs before the softmax, ``(batch, classes)``.
        labels: integer class indices, ``(batch,)``.

    Returns:
        ``(loss, logits_gradient)``: the loss as a float and ``dL/dlogits`` as NumPy.

    Raises:
        ValueError: for logits that are not 2-D, or labels that are not one integer class
            index per row.

    Example:
        ```python
        loss, grad = softmax_cross_entropy(np.zeros((1, 4)), np.array([2]))
        loss  # log(4) = 1.386...: four equal logits, p = 1/4 each
        grad  # [[0.25, 0.25, -0.75, 0.25]]
        ```
    """
    logits, labels = _check_labels(logits, labels)
    log_p = _ops.log_softmax(_ops.convert_to_tensor(logits), axis=1)  # log(exp(z) / sum exp(z))
    onehot = _ops.one_hot(_ops.convert_to_tensor(labels), logits.shape[1])
    batch = logits.shape[0]
    loss = -_ops.sum(onehot * log_p) / batch
    grad = (_ops.exp(log_p) - onehot) / batch
    return float(_numpy(loss)), _numpy(grad)


def cross_entropy_autodiff(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Keras' own sparse categorical cross-entropy (from logits, mean over the batch) and its
    gradient by the backend's automatic differentiation: what `softmax_cross_entropy` states.

    Args:
        logits: the model's outputs before the softmax, ``(batch, classes)``.
        labels: integer class indices, ``(batch,)``.

    Returns:
        ``(loss, logits_gradient)``: the loss as a float and ``dL/dlogits`` as NumPy.

    Example:
        ```python
        loss, grad = cross_entropy_autodiff(np.zeros((1, 4)), np.array([2]))
        grad  # [[0.25, 0.25, -0.75, 0.25]], as softmax_cross_entropy states
        ```
    """
    logits, labels = _check_labels(logits, labels)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return value_and_gradient(lambda z: loss(_ops.convert_to_tensor(labels), z), logits)


@dataclasses.dataclass(frozen=True)
class TrainStep:
    """One step of SGD on one batch, written out by `train_step_by_hand`.

    Attributes:
        loss: the mean cross-entropy on the batch, before the step.
        probabilities: the softmax of the logits, ``(batch, classes)``.
        logits_gradient: ``dL/dlogits = (probabilities - onehot) / batch``.
        names: the path of each trainable weight, in ``model.trainable_weights`` order.
        gradients: ``dL/dw`` for each weight (the logits gradient back-propagated).
        weights: each weight after the step, ``w - learning_rate * dL/dw``.
        learning_rate: the step size.
    """

    loss: float
    probabilities: np.ndarray
    logits_gradient: np.ndarray
    names: tuple[str, ...]
    gradients: list[np.ndarray]
    weights: list[np.ndarray]
    learning_rate: float

    def __str__(self) -> str:
        lines = [f"loss {self.loss:.6f}; SGD step with learning rate {self.learning_rate:g}"]
        for name, grad in zip(self.names, self.gradients):
            lines.append(f"  {name:28s} {str(grad.shape):16s} |grad| max {np.abs(grad).max():.4g}")
        return "\n".join(lines)


def _check_step(model, x, y, learning_rate) -> tuple[np.ndarray, np.ndarray, float]:
    """The checked batch and learning rate of `train_step_by_hand` and `fit_one_step`."""
    check_type("model", model, keras.Model, "a keras.Model")
    _check_model(model)
    for layer in _walk(model):
        if isinstance(layer, (keras.layers.Dropout, keras.layers.BatchNormalization)):
            raise ValueError(
                "model must compute the same function in training and inference (no Dropout "
                f"or BatchNormalization). Received: a model with layer {layer.name!r} "
                f"({type(layer).__name__})"
            )
    last = model.layers[-1]
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    if activation == "softmax" or isinstance(last, keras.layers.Softmax):
        raise ValueError(
            "model must output logits (no softmax at the end: the loss applies it). Received: "
            f"a model whose last layer {last.name!r} applies a softmax"
        )
    check_number("learning_rate", learning_rate, 0, low_open=True, high=None)
    x = np.asarray(keras.ops.convert_to_numpy(x), dtype="float32")
    if x.ndim < 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty batch. Received: x with shape {x.shape}")
    y = _check_label_values("y", y, len(x), model.outputs[0].shape[-1])
    return x, y, float(learning_rate)


def train_step_by_hand(
    model: keras.Model, x: np.ndarray, y: np.ndarray, learning_rate: float
) -> TrainStep:
    """One step of SGD on one batch, written out: logits, softmax, cross-entropy, backward
    pass, update. The model is not changed.

    The gradient of the loss with respect to the logits comes from its formula
    (`softmax_cross_entropy`); automatic differentiation carries it down through the layers
    (the vector-Jacobian product ``(dlogits/dw)^T dL/dlogits`` for every weight ``w``); the
    update is ``w - learning_rate * dL/dw``. ``model.fit`` with
    ``keras.optimizers.SGD(learning_rate)``, ``SparseCategoricalCrossentropy(from_logits=True)``,
    the whole batch as one batch and no shuffling takes the same step (`fit_one_step`).

    Args:
        model: a built classifier that outputs logits, without Dropout or BatchNormalization
            (whose training step differs from inference) and without weight regularizers.
        x: one batch of inputs the model takes.
        y: integer labels, one per input.
        learning_rate: the SGD step size, > 0.

    Returns:
        A `TrainStep`: loss, probabilities, logits gradient, weight gradients and the weights
        after the step (NumPy, in ``model.trainable_weights`` order).

    Raises:
        ValueError: for a model with a softmax output, Dropout or BatchNormalization; a batch
            and labels that do not match; labels out of range; a learning rate <= 0.
        TypeError: for a model that is not a ``keras.Model``.

    Example:
        ```python
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        step = train_step_by_hand(model, np.ones((2, 4)), np.array([0, 2]), 0.1)
        step.loss, step.logits_gradient  # before the step; (p - onehot) / 2
        [w.shape for w in step.weights]  # [(4, 3), (3,)]: the weights after it
        ```

    References:
        Rumelhart, Hinton and Williams, "Learning representations by back-propagating
        errors", Nature, 1986.
    """
    x, y, learning_rate = _check_step(model, x, y, learning_rate)
    logits = _numpy(model(_ops.convert_to_tensor(x), training=False))
    loss, logits_gradient = softmax_cross_entropy(logits, y)
    upstream = _ops.convert_to_tensor(logits_gradient)
    _, gradients = value_and_weight_gradients(
        model, lambda z: _ops.sum(z * upstream), x, training=False
    )
    current = [_numpy(v) for v in model.trainable_weights]
    shifted = logits - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return TrainStep(
        loss=loss,
        probabilities=probabilities.astype("float32"),
        logits_gradient=logits_gradient,
        names=tuple(v.path for v in model.trainable_weights),
        gradients=gradients,
        weights=[w - learning_rate * g for w, g in zip(current, gradients)],
        learning_rate=learning_rate,
    )


def fit_one_step(
    model: keras.Model, x: np.ndarray, y: np.ndarray, learning_rate: float
) -> tuple[float, list[np.ndarray]]:
    """The step of `train_step_by_hand`, taken by ``model.fit`` on a copy of the model.

    The copy is compiled with ``keras.optimizers.SGD(learning_rate)`` and
    ``SparseCategoricalCrossentropy(from_logits=True)`` and fitted for one epoch of one
    batch (the whole of ``x``, not shuffled).

    Args:
        model: a built classifier that outputs logits (as for `train_step_by_hand`); it is
            not changed.
        x: one batch of inputs the model takes.
        y: integer labels, one per input.
        learning_rate: the SGD step size, > 0.

    Returns:
        ``(loss, weights)``: the loss ``fit`` reports for the step and the copy's trainable
        weights after it (NumPy, in ``model.trainable_weights`` order).

    Raises:
        ValueError: as `train_step_by_hand`.

    Example:
        ```python
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        loss, weights = fit_one_step(model, np.ones((2, 4)), np.array([0, 2]), 0.1)
        step = train_step_by_hand(model, np.ones((2, 4)), np.array([0, 2]), 0.1)
        max(np.abs(w - v).max() for w, v in zip(weights, step.weights))  # below 1e-5
        ```
    """
    x, y, learning_rate = _check_step(model, x, y, learning_rate)
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.compile(
        optimizer=keras.optimizers.SGD(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = copy.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return float(history.history["loss"][0]), [_numpy(v) for v in copy.trainable_weights]
