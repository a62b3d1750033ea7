"""Helpers shared by the model builders of this package: argument checks, the head, layers.

Everything here is private to `kcnn.models`; builders call these tensor-in/tensor-out helpers so
that every family validates its arguments and names its layers the same way.
"""

from __future__ import annotations

import math

import keras

from kcnn._validate import check_choice, check_int, check_number

#: Activations accepted by every builder's ``activation=`` argument.
ACTIVATIONS = ("relu", "gelu", "silu", "tanh", "elu", "leaky_relu", "sigmoid")

#: Values accepted by every builder's ``pooling=`` argument (used when ``include_top=False``).
POOLINGS = (None, "avg", "max")

#: BatchNormalization momentum used by every kcnn builder. Keras' default of 0.99 averages the
#: batch statistics over ~100 steps with a long tail, so after a short run (a few hundred steps)
#: the moving mean and variance still remember the random initial activations and `evaluate()`
#: is far below the training accuracy. 0.9 (PyTorch's ``momentum=0.1``) forgets in ~20 steps.
BN_MOMENTUM = 0.9

#: BatchNormalization epsilon, as in PyTorch/torchvision so weights can be carried over exactly.
BN_EPSILON = 1e-5


def kernel_initializer(pytorch: bool = True):
    """The initial kernels of a kcnn Conv2D or Dense layer.

    In a network with BatchNorm (``pytorch=True``): uniform in ``[-1/sqrt(fan_in),
    1/sqrt(fan_in)]``, PyTorch's default for ``nn.Conv2d`` and ``nn.Linear``
    (``kaiming_uniform_(a=sqrt(5))``). Keras' Glorot uniform, ``sqrt(6 / (fan_in +
    fan_out))``, is up to 2.4x wider for these layers; Adam's steps have a fixed size, so
    larger weights move more slowly. Measured on Fashion-MNIST (SimpleCNN, Adam 1e-3, batch
    128, ``benchmarks/epochs_study.py``): the same network needs about 1.5x the epochs to
    reach 91% test accuracy from Glorot weights, in kcnn and in a hand-written PyTorch loop.

    In a plain network (``pytorch=False``: LeNet-5, the MLP, VGG without BatchNorm): Keras'
    Glorot uniform. PyTorch's default keeps a sixth of the signal's variance through each
    ReLU layer where He et al.'s keeps all of it, so a plain stack's signal shrinks layer by
    layer; LeNet-5 and the MLP learned more slowly from it (the docs' Models page).
    """
    if not pytorch:
        return keras.initializers.GlorotUniform()
    return keras.initializers.VarianceScaling(1.0 / 3.0, mode="fan_in", distribution="uniform")


def bias_initializer(fan_in: int, pytorch: bool = True):
    """The initial biases of a layer with ``fan_in`` inputs per output: uniform in
    ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]`` as PyTorch's, or zeros as Keras' (``pytorch=False``)."""
    if not pytorch:
        return keras.initializers.Zeros()
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def conv2d(
    x,
    filters: int,
    kernel_size: int,
    *,
    name: str,
    strides: int = 1,
    padding: str = "valid",
    use_bias: bool = True,
    pytorch: bool = True,
):
    """``Conv2D`` applied to ``x``, with kcnn's initial weights (`kernel_initializer`)."""
    fan_in = kernel_size * kernel_size * int(x.shape[channel_axis()])
    return keras.layers.Conv2D(
        filters, kernel_size, strides, padding=padding, use_bias=use_bias,
        kernel_initializer=kernel_initializer(pytorch),
        bias_initializer=bias_initializer(fan_in, pytorch), name=name,
    )(x)  # fmt: skip


def dense(x, units: int, *, name: str, activation: str | None = None, pytorch: bool = True):
    """``Dense`` applied to ``x``, with kcnn's initial weights (`kernel_initializer`)."""
    return keras.layers.Dense(
        units, activation=activation, kernel_initializer=kernel_initializer(pytorch),
        bias_initializer=bias_initializer(int(x.shape[-1]), pytorch), name=name,
    )(x)  # fmt: skip


def channel_axis() -> int:
    """The channel axis of image tensors under the current ``keras.config.image_data_format()``."""
    return -1 if keras.config.image_data_format() == "channels_last" else 1


def check_num_classes(num_classes, include_top: bool) -> None:
    """Raise a ValueError unless ``num_classes`` is an int >= 2 (only checked with a top)."""
    if include_top:
        check_int("num_classes", num_classes, 2)


def check_input_shape(input_shape, min_size: int = 1, model: str = "this model") -> tuple:
    """Validate an image ``input_shape`` and return it as a tuple of three ints.

    Args:
        input_shape: ``(height, width, channels)`` (or ``(channels, height, width)`` when the
            image data format is ``channels_first``).
        min_size: smallest height and width the model can take; a smaller image would be
            reduced below one pixel by the model's strides.
        model: the model's name, for the error message.

    Returns:
        The shape as a tuple of ints.

    Raises:
        ValueError: wrong rank, a non-positive or non-integer dimension, or a spatial size below
            ``min_size``.
    """
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            "input_shape must be a tuple of 3 positive integers "
            f"({_layout()}). Received: input_shape={input_shape!r}"
        )
    if any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in input_shape):
        raise ValueError(
            "input_shape must hold 3 positive integers "
            f"({_layout()}). Received: input_shape={input_shape!r}"
        )
    shape = tuple(int(d) for d in input_shape)
    height, width = spatial_size(shape)
    if height < min_size or width < min_size:
        raise ValueError(
            f"input_shape is too small for {model}: its strides reduce the image by a factor "
            f"of {min_size}, so height and width must be >= {min_size}. "
            f"Received: input_shape={input_shape!r}"
        )
    return shape


def spatial_size(shape: tuple) -> tuple[int, int]:
    """Height and width of an image shape under the current data format."""
    if keras.config.image_data_format() == "channels_last":
        return shape[0], shape[1]
    return shape[1], shape[2]


def _layout() -> str:
    if keras.config.image_data_format() == "channels_last":
        return "height, width, channels"
    return "channels, height, width"


def activation_layer(activation: str, name: str) -> keras.layers.Layer:
    """An ``Activation`` layer for one of `ACTIVATIONS`."""
    if activation == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=0.01, name=name)
    return keras.layers.Activation(activation, name=name)


def batch_norm(name: str, gamma_zero: bool = False) -> keras.layers.BatchNormalization:
    """A BatchNormalization layer with kcnn's momentum and epsilon (see `BN_MOMENTUM`)."""
    return keras.layers.BatchNormalization(
        axis=channel_axis(),
        momentum=BN_MOMENTUM,
        epsilon=BN_EPSILON,
        gamma_initializer="zeros" if gamma_zero else "ones",
        name=name,
    )


def classifier(
    x,
    num_classes: int,
    classifier_activation: str | None,
    pytorch: bool = True,
) -> keras.KerasTensor:
    """The final dense layer, named ``predictions`` as in ``keras.applications``, with the
    initial weights of `kernel_initializer` (``pytorch``)."""
    return dense(
        x, num_classes, activation=classifier_activation, name="predictions", pytorch=pytorch
    )


def pool_features(x, pooling: str | None, name: str) -> keras.KerasTensor:
    """Apply the ``pooling`` choice of a headless model to its last feature map."""
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name=f"{name}_avg_pool")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name=f"{name}_max_pool")(x)
    return x


def check_common(
    *,
    num_classes,
    include_top: bool,
    pooling,
    activation,
    classifier_activation,
    name,
) -> None:
    """The argument checks every builder shares."""
    check_num_classes(num_classes, include_top)
    check_choice("pooling", pooling, POOLINGS)
    check_choice("activation", activation, ACTIVATIONS)
    if not isinstance(include_top, bool):
        raise TypeError(f"include_top must be True or False. Received: include_top={include_top!r}")
    if include_top and pooling is not None:
        raise ValueError(
            "pooling is for include_top=False (a headless feature extractor); with the "
            f"classifier it would be ignored. Received: pooling={pooling!r}, include_top=True"
        )
    check_classifier_activation(classifier_activation)
    check_name(name)


def check_classifier_activation(classifier_activation) -> None:
    """Raise unless ``classifier_activation`` is None (logits) or the name of a Keras
    activation.

    Raises:
        TypeError: neither a string nor None.
        ValueError: a string Keras does not know.
    """
    if classifier_activation is None:
        return
    if not isinstance(classifier_activation, str):
        raise TypeError(
            "classifier_activation must be a string such as 'softmax', or None for logits. "
            f"Received: classifier_activation={classifier_activation!r}"
        )
    try:
        keras.activations.get(classifier_activation)
    except ValueError:
        raise ValueError(
            "classifier_activation must be the name of a Keras activation, such as 'softmax' "
            f"or 'sigmoid', or None for logits. Received: "
            f"classifier_activation={classifier_activation!r}"
        ) from None


def check_name(name) -> None:
    """Raise a ValueError unless the model's ``name`` is a non-empty string."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string. Received: name={name!r}")


def check_positive_ints(argument: str, values, allow_empty: bool = False) -> tuple:
    """Validate a tuple of positive ints such as ``filters=(32, 64)``."""
    if isinstance(values, int) and not isinstance(values, bool):
        values = (values,)
    if (
        not isinstance(values, (tuple, list))
        or (not values and not allow_empty)
        or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values)
    ):
        raise ValueError(
            f"{argument} must be a tuple of positive integers. Received: {argument}={values!r}"
        )
    return tuple(values)


def check_rate(argument: str, value) -> float:
    """Validate a dropout rate in [0, 1)."""
    return float(check_number(argument, value, 0, 1, kind="a number"))
