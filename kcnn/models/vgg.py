"""VGG-11/13/16/19 (Simonyan & Zisserman, 2015): depth from stacks of 3x3 convolutions.

Two 3x3 convolutions see a 5x5 region and three see 7x7, with fewer weights and more
nonlinearities than one large kernel. One builder serves two layouts:

- ``layout="imagenet"``: the paper's network for 224x224x3 images, convolutions with bias,
  ReLU, five 2x2 max poolings, then flatten -> dense 4096 -> dense 4096 -> classifier, with
  dropout 0.5 as in the paper. VGG-16 has 138,357,544 parameters, as ``keras.applications``.
- ``layout="cifar"``: the common 32x32 adaptation, BatchNorm after every convolution and a
  dense 512 head.
"""

from __future__ import annotations

import keras

from kcnn._validate import check_choice
from kcnn.models import _common
from kcnn.models.registry import register_variant

#: Filters per convolution, "M" for a 2x2 max pooling (the paper's configurations A, B, D, E).
VGG_CONFIGS = {
    11: (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    13: (64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"),
    16: (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    19: (
        64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
        512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
    ),
}  # fmt: skip

#: layout: (default input shape, default dense units, default batchnorm)
_LAYOUTS = {
    "imagenet": ((224, 224, 3), (4096, 4096), False),
    "cifar": ((32, 32, 3), (512,), True),
}


def build_vgg(
    depth: int = 16,
    num_classes: int = 10,
    input_shape: tuple | None = None,
    include_top: bool = True,
    pooling: str | None = None,
    layout: str = "imagenet",
    batchnorm: bool | None = None,
    dense_units: tuple | None = None,
    dropout: float = 0.5,
    activation: str = "relu",
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """Build a VGG network.

    Args:
        depth: 11, 13, 16 or 19 weight layers. Defaults to 16.
        num_classes: number of output classes. Defaults to 10.
        input_shape: image shape, at least 32x32 (five halvings). Defaults to
            ``(224, 224, 3)`` for the ImageNet layout and ``(32, 32, 3)`` for CIFAR.
        include_top: whether to add the dense head. Defaults to True.
        pooling: with ``include_top=False``: ``None``, ``"avg"`` or ``"max"``. Defaults to None.
        layout: ``"imagenet"`` or ``"cifar"`` (see the module docstring). Defaults to
            ``"imagenet"``.
        batchnorm: BatchNormalization after every convolution (which then has no bias).
            Defaults to False for ImageNet, True for CIFAR.
        dense_units: hidden dense layers of the head. Defaults to ``(4096, 4096)`` for
            ImageNet, ``(512,)`` for CIFAR.
        dropout: dropout after each hidden dense layer. Defaults to 0.5.
        activation: one of ``relu``, ``gelu``, ``silu``, ``tanh``, ``elu``, ``leaky_relu``,
            ``sigmoid``. Defaults to ``"relu"``.
        classifier_activation: activation of ``predictions``; ``None`` gives logits.
            Defaults to ``"softmax"``.
        name: model name and layer-name prefix. Defaults to ``"vgg{depth}"`` (with
            ``_cifar`` for the CIFAR layout).

    Returns:
        A `keras.Model`.

    Example:
        ```python
        model = kcnn.build_model("vgg16_cifar", num_classes=100)
        ```

    References:
        Simonyan, Zisserman. Very deep convolutional networks for large-scale image
        recognition. ICLR 2015.
    """
    check_choice("depth", depth, tuple(VGG_CONFIGS))
    check_choice("layout", layout, tuple(_LAYOUTS))
    default_shape, default_units, default_bn = _LAYOUTS[layout]
    input_shape = default_shape if input_shape is None else input_shape
    dense_units = default_units if dense_units is None else dense_units
    batchnorm = default_bn if batchnorm is None else batchnorm
    if name is None:
        name = f"vgg{depth}" if layout == "imagenet" else f"vgg{depth}_cifar"
    _common.check_common(
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        activation=activation,
        classifier_activation=classifier_activation,
        name=name,
    )
    dense_units = _common.check_positive_ints("dense_units", dense_units, allow_empty=True)
    dropout = _common.check_rate("dropout", dropout)
    config = VGG_CONFIGS[depth]
    input_shape = _common.check_input_shape(
        input_shape, min_size=2 ** config.count("M"), model=name
    )

    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = inputs
    block, conv = 1, 1
    for item in config:
        if item == "M":
            x = keras.layers.MaxPooling2D(2, name=f"{name}_block{block}_pool")(x)
            block, conv = block + 1, 1
            continue
        prefix = f"{name}_block{block}_conv{conv}"
        x = _common.conv2d(
            x, item, 3, padding="same", use_bias=not batchnorm, name=prefix, pytorch=batchnorm
        )
        if batchnorm:
            x = _common.batch_norm(f"{prefix}_bn")(x)
        x = _common.activation_layer(activation, f"{prefix}_{activation}")(x)
        conv += 1

    if not include_top:
        return keras.Model(inputs, _common.pool_features(x, pooling, name), name=name)
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    for index, units in enumerate(dense_units, start=1):
        x = _common.dense(x, units, name=f"{name}_fc{index}", pytorch=batchnorm)
        x = _common.activation_layer(activation, f"{name}_fc{index}_{activation}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_fc{index}_dropout")(x)
    x = _common.classifier(x, num_classes, classifier_activation, pytorch=batchnorm)
    return keras.Model(inputs, x, name=name)


def _register(depth: int, layout: str):
    name = f"vgg{depth}" if layout == "imagenet" else f"vgg{depth}_cifar"
    shape = "224x224x3" if layout == "imagenet" else "32x32x3 with BatchNorm"
    doc = f"VGG-{depth} (Simonyan & Zisserman 2015), {layout} layout; {shape} input."
    return register_variant(name, build_vgg, doc, depth=depth, layout=layout)


vgg11 = _register(11, "imagenet")
vgg13 = _register(13, "imagenet")
vgg16 = _register(16, "imagenet")
vgg19 = _register(19, "imagenet")
vgg11_cifar = _register(11, "cifar")
vgg13_cifar = _register(13, "cifar")
vgg16_cifar = _register(16, "cifar")
vgg19_cifar = _register(19, "cifar")
