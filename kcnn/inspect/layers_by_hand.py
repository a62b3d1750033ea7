"""BatchNorm and Dropout written out: what each layer computes at training and at inference
time, by the lesson's equations, to compare with Keras' own layers.

**Batch normalisation** (Ioffe and Szegedy, 2015), per channel ``c``. At training time, over
the batch (and, for convolutional features, over every position of the feature map):

    mu_B = mean(x),  sigma_B^2 = mean((x - mu_B)^2)      (the biased variance)
    x_hat = (x - mu_B) / sqrt(sigma_B^2 + eps),  y = gamma * x_hat + beta

and the moving averages used at inference time are updated:

    moving_mean = momentum * moving_mean + (1 - momentum) * mu_B   (the same for the variance)

At inference time ``mu_B`` and ``sigma_B^2`` are replaced by the moving averages: the output of
an image no longer depends on the rest of its batch. Keras' ``momentum`` is the weight of the
*old* value (0.99 by default; PyTorch's ``momentum=0.1`` is Keras' 0.9).

**Dropout** (Srivastava et al., 2014) with rate ``p``: at training time each unit is kept with
probability ``1 - p`` and the survivors are scaled by ``1 / (1 - p)`` ("inverted dropout"), so
the expected output equals the input; at inference time the layer is the identity.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import keras
import numpy as np

from kcnn._keras_compat import flatten_layers
from kcnn._validate import check_int, check_number, check_type

__all__ = [
    "DropoutCheck",
    "StatisticsGap",
    "batch_norm_by_hand",
    "batch_norm_update",
    "batch_statistics",
    "batch_statistics_accuracy",
    "dropout_by_hand",
    "dropout_check",
    "moving_statistics_gap",
    "set_batch_norm_momentum",
]


def _array(name: str, value) -> np.ndarray:
    """``value`` as a float64 NumPy array (tensors converted), or a TypeError naming it."""
    try:
        return np.asarray(keras.ops.convert_to_numpy(value), dtype="float64")
    except (TypeError, ValueError):
        raise TypeError(
            f"{name} must be an array of numbers. Received: {type(value).__name__}"
        ) from None


def _channel_axis(x: np.ndarray, axis: int) -> int:
    if isinstance(axis, bool) or not isinstance(axis, int) or not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"axis must be an axis of x, in [{-x.ndim}, {x.ndim - 1}]. Received: axis={axis!r} "
            f"for x with shape {x.shape}"
        )
    return axis % x.ndim


def _per_channel(name: str, value, x: np.ndarray, axis: int) -> np.ndarray:
    """A per-channel vector, shaped to broadcast against ``x`` along ``axis``."""
    vector = _array(name, value)
    channels = x.shape[axis]
    if vector.shape != (channels,):
        raise ValueError(
            f"{name} must hold one value per channel, shape ({channels},). "
            f"Received: {name} with shape {vector.shape}"
        )
    shape = [1] * x.ndim
    shape[axis] = channels
    return vector.reshape(shape)


def batch_statistics(x: np.ndarray, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """The batch mean and the biased batch variance of every channel.

    Args:
        x: a batch: ``(batch, features)`` or feature maps ``(batch, height, width,
            channels)``.
        axis: the channel axis; the statistics are taken over all the others (the batch
            and every position). Defaults to -1.

    Returns:
        ``(mu_B, sigma_B^2)``, two float64 vectors with one value per channel; the variance
        divides by the number of values, not by one less.

    Raises:
        ValueError: ``axis`` is not an axis of ``x``, or ``x`` is empty.

    Example:
        ```python
        mean, variance = batch_statistics(np.random.rand(32, 8, 8, 16))  # 16 channels
        ```

    References:
        Ioffe, Szegedy. Batch normalization: accelerating deep network training by reducing
        internal covariate shift. ICML 2015, Algorithm 1.
    """
    x = _array("x", x)
    axis = _channel_axis(x, axis)
    if x.size == 0:
        raise ValueError(f"x must not be empty. Received: x with shape {x.shape}")
    others = tuple(i for i in range(x.ndim) if i != axis)
    mean = x.mean(axis=others)
    shape = [1] * x.ndim
    shape[axis] = -1
    variance = ((x - mean.reshape(shape)) ** 2).mean(axis=others)
    return mean, variance


def batch_norm_by_hand(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    mean: np.ndarray,
    variance: np.ndarray,
    epsilon: float = 1e-3,
    axis: int = -1,
) -> np.ndarray:
    """``gamma * (x - mean) / sqrt(variance + epsilon) + beta``, per channel.

    At training time pass the batch's own statistics (`batch_statistics`), at inference time
    the layer's moving averages.

    Args:
        x: a batch, channels along ``axis``.
        gamma: the scale, one value per channel.
        beta: the offset, one value per channel.
        mean: the mean subtracted, one value per channel.
        variance: the variance divided by (under the square root), one value per channel.
        epsilon: added to the variance. Defaults to 1e-3 (Keras' default; kcnn's models use
            1e-5).
        axis: the channel axis. Defaults to -1.

    Returns:
        The normalised batch, float64, shaped like ``x``.

    Raises:
        ValueError: a per-channel argument of the wrong shape, a bad ``axis``, or
            ``epsilon`` < 0.

    Example:
        ```python
        mean, variance = batch_statistics(x)
        y = batch_norm_by_hand(x, layer.gamma, layer.beta, mean, variance, layer.epsilon)
        ```

    References:
        Ioffe, Szegedy. Batch normalization. ICML 2015, Algorithm 1.
    """
    x = _array("x", x)
    axis = _channel_axis(x, axis)
    check_number("epsilon", epsilon, 0)
    named = (("gamma", gamma), ("beta", beta), ("mean", mean), ("variance", variance))
    gamma, beta, mean, variance = (_per_channel(name, value, x, axis) for name, value in named)
    x_hat = (x - mean) / np.sqrt(variance + epsilon)
    return gamma * x_hat + beta


def batch_norm_update(
    moving_mean: np.ndarray,
    moving_variance: np.ndarray,
    x: np.ndarray,
    momentum: float = 0.99,
    axis: int = -1,
) -> tuple[np.ndarray, np.ndarray]:
    """The moving averages after one training step on the batch ``x``.

    ``moving = momentum * moving + (1 - momentum) * batch statistic``, for the mean and for
    the (biased) variance, as Keras' ``BatchNormalization`` does.

    Args:
        moving_mean: the moving mean before the step, one value per channel.
        moving_variance: the moving variance before the step, one value per channel.
        x: the training batch, channels along ``axis``.
        momentum: the weight of the old value, in [0, 1]. Defaults to 0.99 (Keras'
            default).
        axis: the channel axis. Defaults to -1.

    Returns:
        ``(moving_mean, moving_variance)`` after the step, as float64 vectors.

    Raises:
        ValueError: ``momentum`` outside [0, 1], a per-channel argument of the wrong
            shape, or a bad ``axis``.

    Example:
        ```python
        mean, variance = batch_norm_update(layer.moving_mean, layer.moving_variance, x,
                                           layer.momentum)
        ```

    References:
        Ioffe, Szegedy. Batch normalization. ICML 2015, section 3.1.
    """
    check_number("momentum", momentum, 0, 1, high_open=False)
    batch_mean, batch_variance = batch_statistics(x, axis)
    x = _array("x", x)
    axis = _channel_axis(x, axis)
    old_mean = _per_channel("moving_mean", moving_mean, x, axis).ravel()
    old_variance = _per_channel("moving_variance", moving_variance, x, axis).ravel()
    return (
        momentum * old_mean + (1 - momentum) * batch_mean,
        momentum * old_variance + (1 - momentum) * batch_variance,
    )


def dropout_by_hand(x: np.ndarray, mask: np.ndarray, rate: float) -> np.ndarray:
    """Inverted dropout with a given mask: ``x * mask / (1 - rate)``.

    Args:
        x: the layer's input.
        mask: which units are kept (True or 1) and which dropped (False or 0), shaped like
            ``x`` (or broadcasting to it).
        rate: the fraction dropped, in [0, 1).

    Returns:
        The training-time output, float64, shaped like ``x``.

    Raises:
        ValueError: ``rate`` outside [0, 1), or a mask that is not made of 0 and 1 or does
            not broadcast to ``x``.

    Example:
        ```python
        out = keras.layers.Dropout(0.5)(x, training=True)
        dropout_by_hand(x, out != 0, rate=0.5)  # equals out
        ```

    References:
        Srivastava, Hinton, Krizhevsky, Sutskever, Salakhutdinov. Dropout: a simple way to
        prevent neural networks from overfitting. JMLR 15, 2014.
    """
    check_number("rate", rate, 0, 1, kind="a fraction")
    x = _array("x", x)
    mask = _array("mask", mask)
    if not np.isin(mask, (0.0, 1.0)).all():
        raise ValueError("mask must hold only 0 and 1 (or booleans). Received: other values")
    try:
        np.broadcast_shapes(mask.shape, x.shape)
    except ValueError:
        raise ValueError(
            f"mask must broadcast to x's shape {x.shape}. Received: mask with shape {mask.shape}"
        ) from None
    return x * mask / (1.0 - rate)


@dataclasses.dataclass(frozen=True)
class DropoutCheck:
    """The numbers of `dropout_check`: Keras' ``Dropout`` layer on one large random input.

    Attributes:
        rate: the layer's rate ``p``.
        size: the number of values.
        fraction_dropped: the fraction of outputs that are zero at training time (close to
            ``p``).
        survivor_scale: output / input over the kept values: their smallest and largest
            ratio, both ``1 / (1 - p)`` up to float32 rounding.
        input_mean: the mean of the input.
        output_mean: the mean of the training-time output (close to ``input_mean``).
        by_hand_difference: ``max |layer output - dropout_by_hand(x, mask, p)|`` with the
            layer's own mask (the positions where its output is not zero).
        inference_difference: ``max |layer(x, training=False) - x|``: zero, exactly.
    """

    rate: float
    size: int
    fraction_dropped: float
    survivor_scale: tuple[float, float]
    input_mean: float
    output_mean: float
    by_hand_difference: float
    inference_difference: float

    def __str__(self) -> str:
        low, high = self.survivor_scale
        return (
            f"Dropout(rate={self.rate}) on {self.size:,} values\n"
            f"training:  {self.fraction_dropped:.4f} of the outputs are zero; the others are "
            f"the input times {low:.6f} to {high:.6f} (1 / (1 - p) = {1 / (1 - self.rate):.6f})\n"
            f"           mean input {self.input_mean:.5f}, mean output {self.output_mean:.5f}\n"
            f"           max |layer - by hand with the layer's mask| = "
            f"{self.by_hand_difference:.3g}\n"
            f"inference: max |layer(x) - x| = {self.inference_difference:.3g}"
        )


def dropout_check(rate: float = 0.5, size: int = 1_000_000, seed: int = 0) -> DropoutCheck:
    """Run Keras' ``Dropout`` on ``size`` random values at training and at inference time.

    The input is uniform in [1, 2) (no zeros, so the layer's mask is exactly where its
    output is not zero); the layer is seeded, so the result is reproducible on a backend.

    Args:
        rate: the dropout rate, in [0, 1). Defaults to 0.5.
        size: the number of values. Defaults to 1,000,000.
        seed: seeds the input and the layer. Defaults to 0.

    Returns:
        A `DropoutCheck`.

    Raises:
        ValueError: ``rate`` outside [0, 1), ``size`` < 1 or ``seed`` < 0.

    Example:
        ```python
        print(dropout_check(rate=0.3))
        ```

    References:
        Srivastava et al. Dropout. JMLR 15, 2014.
    """
    check_number("rate", rate, 0, 1, kind="a fraction")
    check_int("size", size, 1)
    check_int("seed", seed, 0)
    x = np.random.default_rng(seed).uniform(1.0, 2.0, size).astype("float32")
    layer = keras.layers.Dropout(rate, seed=seed)
    out = np.asarray(keras.ops.convert_to_numpy(layer(x, training=True)), dtype="float64")
    inference = np.asarray(keras.ops.convert_to_numpy(layer(x, training=False)), dtype="float64")
    kept = out != 0
    ratio = out[kept] / x[kept] if kept.any() else np.array([np.nan])
    return DropoutCheck(
        rate=float(rate),
        size=int(size),
        fraction_dropped=float(1.0 - kept.mean()),
        survivor_scale=(float(ratio.min()), float(ratio.max())),
        input_mean=float(x.mean(dtype="float64")),
        output_mean=float(out.mean()),
        by_hand_difference=float(np.abs(out - dropout_by_hand(x, kept, rate)).max()),
        inference_difference=float(np.abs(inference - x).max()),
    )


def _batch_norm_layers(model: keras.Model) -> list:
    check_type("model", model, keras.Model, "a keras.Model")
    batch_norm = keras.layers.BatchNormalization
    return [layer for layer in flatten_layers(model) if isinstance(layer, batch_norm)]


def set_batch_norm_momentum(model: keras.Model, momentum: float) -> int:
    """Set the ``momentum`` of every ``BatchNormalization`` layer of a model (nested models
    included), before it is compiled.

    Args:
        model: a Keras model. Set the momentum before ``compile`` and ``fit``: a compiled
            training step may keep the value it was traced with.
        momentum: the weight of the old moving average at each step, in [0, 1].

    Returns:
        The number of layers changed.

    Raises:
        TypeError: ``model`` is not a Keras model.
        ValueError: ``momentum`` outside [0, 1].

    Example:
        ```python
        model = kcnn.build_model("simple_cnn")
        set_batch_norm_momentum(model, 0.99)  # Keras' default instead of kcnn's 0.9
        ```
    """
    layers = _batch_norm_layers(model)
    check_number("momentum", momentum, 0, 1, high_open=False)
    for layer in layers:
        layer.momentum = float(momentum)
    return len(layers)


def batch_statistics_accuracy(
    model: keras.Model, x: np.ndarray, y: np.ndarray, batch_size: int = 128
) -> float:
    """Accuracy with every BatchNorm layer normalising by the statistics of its own batch
    (training mode) instead of its moving averages; the moving averages are left unchanged.

    This is what the training-time accuracy measures; when it is far above the accuracy of
    ``evaluate``, the weights are fine and the moving averages are stale.

    Args:
        model: a classifier (one output of class scores). Every layer runs in training mode,
            so Dropout drops: use it on models without Dropout.
        x: the images.
        y: integer labels, one per image.
        batch_size: the batch each statistic is taken over. Defaults to 128.

    Returns:
        The fraction of ``x`` classified correctly.

    Raises:
        TypeError: ``model`` is not a Keras model.
        ValueError: ``x`` and ``y`` of different lengths or empty, or ``batch_size`` < 1.

    Example:
        ```python
        batch_statistics_accuracy(model, data.x_test, data.y_test)
        ```
    """
    layers = _batch_norm_layers(model)
    check_int("batch_size", batch_size, 1)
    y = np.asarray(keras.ops.convert_to_numpy(y)).reshape(-1)
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(
            "x and y must hold the same number of examples, at least one. "
            f"Received: x with {len(x)} and y with {len(y)}"
        )
    saved = [
        tuple(keras.ops.convert_to_numpy(v) for v in (layer.moving_mean, layer.moving_variance))
        for layer in layers
    ]
    predictions = []
    try:
        for start in range(0, len(x), batch_size):
            scores = model(x[start : start + batch_size], training=True)
            predictions.append(np.argmax(keras.ops.convert_to_numpy(scores), axis=-1))
    finally:
        for layer, (mean, variance) in zip(layers, saved):
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)
    return float(np.mean(np.concatenate(predictions) == y))


class StatisticsGap(NamedTuple):
    """How far one BatchNorm layer's moving averages are from the statistics of its input.

    Attributes:
        variance_ratio: moving variance / actual variance, the median over channels (1 when
            the average is up to date).
        mean_offset: ``|moving mean - actual mean|`` in units of the actual standard
            deviation, the median over channels (0 when up to date).
    """

    variance_ratio: float
    mean_offset: float


def moving_statistics_gap(model: keras.Model, x: np.ndarray) -> dict[str, StatisticsGap]:
    """Compare each BatchNorm layer's moving averages with the actual statistics of its
    input over ``x``, at the model's current weights.

    At inference time a BatchNorm layer divides by ``sqrt(moving_variance + eps)``; if the
    moving variance is 50 times the variance its input really has, every output is about
    seven times too small, and the layers above see activations unlike any they were
    trained on.

    Args:
        model: a functional Keras model; its top-level BatchNormalization layers are
            compared (those inside nested models are not).
        x: the inputs to take the actual statistics over (e.g. a few hundred training
            images), passed in one batch.

    Returns:
        ``{layer name: StatisticsGap}``, from the input to the output.

    Raises:
        TypeError: ``model`` is not a Keras model.
        ValueError: the model has no top-level BatchNormalization layer.

    Example:
        ```python
        gaps = moving_statistics_gap(model, data.x_train[:512])
        gaps["simple_cnn_block1_bn"].variance_ratio
        ```
    """
    check_type("model", model, keras.Model, "a keras.Model")
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        raise ValueError(
            f"model {model.name!r} has no top-level BatchNormalization layer. "
            "Received: a model with none"
        )
    probe = keras.Model(model.input, [layer.input for layer in layers])
    features = probe(keras.ops.convert_to_tensor(np.asarray(x, dtype="float32")), training=False)
    gaps = {}
    for layer, feature in zip(layers, features):
        mean, variance = batch_statistics(feature, axis=layer.axis)
        moving_mean = _array("moving_mean", layer.moving_mean)
        moving_variance = _array("moving_variance", layer.moving_variance)
        with np.errstate(divide="ignore", invalid="ignore"):  # a dead channel: inf, in the tail
            ratio = moving_variance / variance
            offset = np.abs(moving_mean - mean) / np.sqrt(variance)
        gaps[layer.name] = StatisticsGap(
            variance_ratio=float(np.median(ratio)), mean_offset=float(np.median(offset))
        )
    return gaps
