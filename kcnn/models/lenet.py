"""LeNet-5 (LeCun et al., 1998), the first convolutional network to read handwritten digits.

Layer by layer, for the paper's 32x32x1 input (output size = (n + 2p - k) / s + 1):

| layer | operation | output | parameters |
|---|---|---|---|
| C1 | 6 filters 5x5, stride 1 | 28x28x6 | 6 * (5*5*1 + 1) = 156 |
| S2 | 2x2 pooling, stride 2 | 14x14x6 | 0 |
| C3 | 16 filters 5x5 | 10x10x16 | 16 * (5*5*6 + 1) = 2,416 |
| S4 | 2x2 pooling, stride 2 | 5x5x16 | 0 |
| F5 | dense 120 | 120 | 400 * 120 + 120 = 48,120 |
| F6 | dense 84 | 84 | 120 * 84 + 84 = 10,164 |
| output | dense 10 | 10 | 84 * 10 + 10 = 850 |

61,706 trainable parameters in all. MNIST's 28x28 digits are zero-padded to 32x32, as LeCun
did, so that strokes near the border reach the centre of C1's receptive fields.
"""

from __future__ import annotations

import keras

from kcnn._validate import check_choice
from kcnn.models import _common
from kcnn.models.registry import register_model

#: The paper's input size; smaller images are zero-padded to it.
LENET_INPUT_SIZE = 32

_VARIANTS = {
    # variant: (default activation, pooling layer)
    "classic": ("tanh", keras.layers.AveragePooling2D),
    "modern": ("relu", keras.layers.MaxPooling2D),
}


def build_lenet(
    num_classes: int = 10,
    input_shape: tuple = (32, 32, 1),
    include_top: bool = True,
    pooling: str | None = None,
    variant: str = "modern",
    activation: str | None = None,
    classifier_activation: str | None = "softmax",
    name: str = "lenet5",
) -> keras.Model:
    """Build LeNet-5.

    Args:
        num_classes: number of output classes. Defaults to 10.
        input_shape: image shape. Images smaller than 32x32 (such as MNIST's 28x28 or the
            8x8 digits) are zero-padded to 32x32 inside the model. Defaults to ``(32, 32, 1)``.
        include_top: whether to add F5, F6 and the classifier. Defaults to True.
        pooling: with ``include_top=False``: ``None`` returns S4's 5x5x16 feature map,
            ``"avg"`` or ``"max"`` a global pooling of it. Defaults to None.
        variant: ``"modern"`` (ReLU and max pooling) or ``"classic"`` (tanh and average
            pooling, as the paper). Defaults to ``"modern"``.
        activation: overrides the variant's activation, one of ``relu``, ``gelu``, ``silu``,
            ``tanh``, ``elu``, ``leaky_relu``, ``sigmoid``. Defaults to the variant's.
        classifier_activation: activation of the ``predictions`` layer; ``None`` gives
            logits. Defaults to ``"softmax"``.
        name: model name and prefix of every layer name. Defaults to ``"lenet5"``.

    Returns:
        A `keras.Model`.

    Example:
        ```python
        model = kcnn.models.build_lenet(input_shape=(28, 28, 1), variant="classic")
        ```

    References:
        LeCun, Bottou, Bengio, Haffner. Gradient-based learning applied to document
        recognition. Proc. IEEE 86(11), 1998.
    """
    check_choice("variant", variant, tuple(_VARIANTS))
    default_activation, pool_layer = _VARIANTS[variant]
    activation = default_activation if activation is None else activation
    _common.check_common(
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        activation=activation,
        classifier_activation=classifier_activation,
        name=name,
    )
    input_shape = _common.check_input_shape(input_shape, model=name)
    height, width = _common.spatial_size(input_shape)

    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = inputs
    pad_h, pad_w = max(LENET_INPUT_SIZE - height, 0), max(LENET_INPUT_SIZE - width, 0)
    if pad_h or pad_w:
        x = keras.layers.ZeroPadding2D(
            ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2)),
            name=f"{name}_pad",
        )(x)
    for index, (stage, filters) in enumerate((("c1", 6), ("c3", 16))):
        x = _common.conv2d(x, filters, 5, name=f"{name}_{stage}_conv", pytorch=False)
        x = _common.activation_layer(activation, f"{name}_{stage}_{activation}")(x)
        x = pool_layer(2, name=f"{name}_s{2 * index + 2}_pool")(x)

    if include_top:
        x = keras.layers.Flatten(name=f"{name}_flatten")(x)
        for layer, units in (("f5", 120), ("f6", 84)):
            x = _common.dense(x, units, name=f"{name}_{layer}_dense", pytorch=False)
            x = _common.activation_layer(activation, f"{name}_{layer}_{activation}")(x)
        x = _common.classifier(x, num_classes, classifier_activation, pytorch=False)
    else:
        x = _common.pool_features(x, pooling, name)
    return keras.Model(inputs, x, name=name)


@register_model("lenet5")
def lenet5(**kwargs) -> keras.Model:
    """LeNet-5 (LeCun 1998): two 5x5 conv layers, two poolings, F5 120, F6 84; 32x32x1 input."""
    return build_lenet(**kwargs)
