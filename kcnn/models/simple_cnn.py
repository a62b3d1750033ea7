"""SimpleCNN: the small convolutional network of the lesson, with every design choice a flag.

Each block is conv 3x3 ("same" padding) -> BatchNorm -> ReLU -> 2x2 max pooling; the head is
flatten -> dense 128 -> ReLU -> dropout 0.5 -> dense. With the defaults on 28x28x1 images:
28x28x32 -> 14x14x32 -> 14x14x64 -> 7x7x64 -> 3,136 -> 128 -> 10.

The lesson's homework is a flag, not a fork: ``filters=(32, 64, 128)`` adds a block,
``kernel_size=5`` widens every kernel, ``batchnorm=False`` and ``dropout=0.0`` remove the
regularisers, ``activation="gelu"`` swaps the nonlinearity.
"""

from __future__ import annotations

import keras

from kcnn._validate import check_int
from kcnn.models import _common
from kcnn.models.registry import register_model


def build_simple_cnn(
    num_classes: int = 10,
    input_shape: tuple = (28, 28, 1),
    include_top: bool = True,
    pooling: str | None = None,
    filters: tuple = (32, 64),
    kernel_size: int = 3,
    dense_units: int = 128,
    batchnorm: bool = True,
    dropout: float = 0.5,
    activation: str = "relu",
    classifier_activation: str | None = "softmax",
    name: str = "simple_cnn",
) -> keras.Model:
    """Build SimpleCNN.

    Args:
        num_classes: number of output classes. Defaults to 10.
        input_shape: image shape. Height and width must be at least ``2 ** len(filters)``,
            one halving per block. Defaults to ``(28, 28, 1)``.
        include_top: whether to add the dense head. Defaults to True.
        pooling: with ``include_top=False``: ``None``, ``"avg"`` or ``"max"``. Defaults to None.
        filters: filters of each conv block; its length is the depth. Defaults to ``(32, 64)``.
        kernel_size: side of every square kernel. Defaults to 3.
        dense_units: width of the hidden dense layer; 0 drops it. Defaults to 128.
        batchnorm: BatchNormalization after every convolution (the conv then has no bias,
            which BN would cancel). Defaults to True.
        dropout: dropout rate before the classifier; 0 disables it. Defaults to 0.5.
        activation: one of ``relu``, ``gelu``, ``silu``, ``tanh``, ``elu``, ``leaky_relu``,
            ``sigmoid``. Defaults to ``"relu"``.
        classifier_activation: activation of ``predictions``; ``None`` gives logits.
            Defaults to ``"softmax"``.
        name: model name and layer-name prefix. Defaults to ``"simple_cnn"``.

    Returns:
        A `keras.Model`.

    Example:
        ```python
        model = kcnn.build_model("simple_cnn", filters=(32, 64, 128), batchnorm=False)
        ```

    References:
        Ioffe, Szegedy. Batch Normalization: accelerating deep network training by reducing
        internal covariate shift. ICML 2015. Srivastava et al. Dropout: a simple way to
        prevent neural networks from overfitting. JMLR 15, 2014.
    """
    _common.check_common(
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        activation=activation,
        classifier_activation=classifier_activation,
        name=name,
    )
    filters = _common.check_positive_ints("filters", filters)
    (kernel_size,) = _common.check_positive_ints("kernel_size", kernel_size)
    check_int("dense_units", dense_units, 0)
    dropout = _common.check_rate("dropout", dropout)
    input_shape = _common.check_input_shape(input_shape, min_size=2 ** len(filters), model=name)

    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = inputs
    for index, width in enumerate(filters, start=1):
        prefix = f"{name}_block{index}"
        x = _common.conv2d(
            x, width, kernel_size, padding="same", use_bias=not batchnorm,
            name=f"{prefix}_conv", pytorch=batchnorm,
        )  # fmt: skip
        if batchnorm:
            x = _common.batch_norm(f"{prefix}_bn")(x)
        x = _common.activation_layer(activation, f"{prefix}_{activation}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"{prefix}_pool")(x)

    if not include_top:
        return keras.Model(inputs, _common.pool_features(x, pooling, name), name=name)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    if dense_units:
        x = _common.dense(x, dense_units, name=f"{name}_dense", pytorch=batchnorm)
        x = _common.activation_layer(activation, f"{name}_dense_{activation}")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    x = _common.classifier(x, num_classes, classifier_activation, pytorch=batchnorm)
    return keras.Model(inputs, x, name=name)


@register_model("simple_cnn")
def simple_cnn(**kwargs) -> keras.Model:
    """SimpleCNN: two conv+BatchNorm+ReLU+pool blocks, dense 128, dropout 0.5; 28x28x1 input."""
    return build_simple_cnn(**kwargs)
