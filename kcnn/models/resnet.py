"""ResNet v1 (He et al., 2016): residual blocks that learn ``F(x)`` and output ``F(x) + x``.

The identity path lets the gradient reach early layers unchanged, which is what makes 50 or
110 layers trainable. One builder, `build_resnet`, serves both families of the paper:

- **CIFAR-style** ResNet-20/32/44/56/110 (section 4.2): a 3x3 stem with 16 filters, three
  stages of ``n = (depth - 2) / 6`` basic blocks with 16, 32 and 64 filters, global average
  pooling. Where a stage halves the image and doubles the channels, the shortcut is
  ``shortcut="A"`` (the paper's choice: subsample by 2 and zero-pad the new channels, no
  parameters) or ``"B"`` (a 1x1 projection convolution with BatchNorm). With option A and 10
  classes ResNet-20 has 269,722 trainable parameters, ResNet-56 853,018, ResNet-110 1,727,962.
- **ImageNet-style** ResNet-18/34 (basic blocks) and ResNet-50/101/152 (bottleneck blocks),
  laid out as torchvision's: a 7x7 stride-2 stem and 3x3 max pooling, four stages of 64 to
  512 (x4 for bottlenecks) filters, projection shortcuts, convolutions without bias,
  BatchNorm after every convolution, the stride of a bottleneck on its 3x3 convolution
  ("v1.5"), and symmetric padding, so torchvision weights carry over layer for layer.
  ResNet-18 has 11,689,512 and ResNet-50 25,557,032 parameters with 1000 classes.
"""

from __future__ import annotations

import keras

from kcnn._validate import check_choice
from kcnn.models import _common
from kcnn.models.registry import register_variant

#: depth: (style, block, blocks per stage)
RESNET_DEPTHS = {
    20: ("cifar", "basic", (3, 3, 3)),
    32: ("cifar", "basic", (5, 5, 5)),
    44: ("cifar", "basic", (7, 7, 7)),
    56: ("cifar", "basic", (9, 9, 9)),
    110: ("cifar", "basic", (18, 18, 18)),
    18: ("imagenet", "basic", (2, 2, 2, 2)),
    34: ("imagenet", "basic", (3, 4, 6, 3)),
    50: ("imagenet", "bottleneck", (3, 4, 6, 3)),
    101: ("imagenet", "bottleneck", (3, 4, 23, 3)),
    152: ("imagenet", "bottleneck", (3, 8, 36, 3)),
}

#: style: (default input shape, stage widths, total stride of the network)
_STYLES = {
    "cifar": ((32, 32, 3), (16, 32, 64), 4),
    "imagenet": ((224, 224, 3), (64, 128, 256, 512), 32),
}

_BOTTLENECK_EXPANSION = 4


@keras.saving.register_keras_serializable(package="kcnn")
class ZeroPadShortcut(keras.layers.Layer):
    """The parameter-free "option A" shortcut of the CIFAR ResNets.

    Subsamples the input by ``strides`` (keeping every ``strides``-th pixel, as a 1x1
    convolution with that stride would) and zero-pads the channel axis up to ``filters``,
    half of the new channels before the existing ones and half after.

    Args:
        filters: number of output channels, >= the number of input channels.
        strides: spatial subsampling factor. Defaults to 2.
        data_format: ``"channels_last"`` or ``"channels_first"``. Defaults to
            ``keras.config.image_data_format()``.

    References:
        He, Zhang, Ren, Sun. Deep residual learning for image recognition. CVPR 2016, sec. 3.3.
    """

    def __init__(self, filters: int, strides: int = 2, data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.strides = int(strides)
        self.data_format = data_format or keras.config.image_data_format()

    def _padding(self, channels: int) -> tuple[int, int]:
        extra = self.filters - channels
        if extra < 0:
            raise ValueError(
                f"ZeroPadShortcut cannot reduce channels: input has {channels}, "
                f"filters={self.filters}."
            )
        return extra // 2, extra - extra // 2

    def call(self, inputs):
        s = self.strides
        if self.data_format == "channels_last":
            x = inputs[:, ::s, ::s, :]
            pad = [(0, 0), (0, 0), (0, 0), self._padding(inputs.shape[-1])]
        else:
            x = inputs[:, :, ::s, ::s]
            pad = [(0, 0), self._padding(inputs.shape[1]), (0, 0), (0, 0)]
        return keras.ops.pad(x, pad)

    def compute_output_shape(self, input_shape):
        def down(n):
            return None if n is None else (n + self.strides - 1) // self.strides

        if self.data_format == "channels_last":
            return (input_shape[0], down(input_shape[1]), down(input_shape[2]), self.filters)
        return (input_shape[0], self.filters, down(input_shape[2]), down(input_shape[3]))

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, strides=self.strides, data_format=self.data_format)
        return config


def _conv(x, filters: int, kernel_size: int, strides: int, name: str):
    """A bias-free convolution with PyTorch's symmetric padding of ``kernel_size // 2``.

    For stride 1, "same" padding is already symmetric. For stride 2 on an even-sized input,
    Keras' "same" pads only the bottom/right, so the padding is made explicit.
    """
    if strides == 1 or kernel_size == 1:
        padding = "same" if strides == 1 else "valid"
        return _common.conv2d(
            x, filters, kernel_size, strides=strides, padding=padding, use_bias=False, name=name
        )
    x = keras.layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
    return _common.conv2d(x, filters, kernel_size, strides=strides, use_bias=False, name=name)


def _shortcut(x, filters: int, strides: int, kind: str, name: str):
    """Identity when shapes match, else option A (zero-pad) or B (1x1 projection + BN)."""
    if strides == 1 and x.shape[_common.channel_axis()] == filters:
        return x
    if kind == "A":
        return ZeroPadShortcut(filters, strides, name=f"{name}_shortcut_pad")(x)
    x = _conv(x, filters, 1, strides, name=f"{name}_shortcut_conv")
    return _common.batch_norm(f"{name}_shortcut_bn")(x)


def _basic_block(x, filters, strides, shortcut, activation, zero_init, name):
    """Two 3x3 convolutions: conv-BN-act-conv-BN, plus the shortcut, then act."""
    residual = _shortcut(x, filters, strides, shortcut, name)
    x = _conv(x, filters, 3, strides, name=f"{name}_conv1")
    x = _common.batch_norm(f"{name}_bn1")(x)
    x = _common.activation_layer(activation, f"{name}_{activation}1")(x)
    x = _conv(x, filters, 3, 1, name=f"{name}_conv2")
    x = _common.batch_norm(f"{name}_bn2", gamma_zero=zero_init)(x)
    x = keras.layers.Add(name=f"{name}_add")([x, residual])
    return _common.activation_layer(activation, f"{name}_out")(x)


def _bottleneck_block(x, filters, strides, shortcut, activation, zero_init, name):
    """1x1 reduce, 3x3 (carrying the stride, "v1.5"), 1x1 expand by 4, plus the shortcut."""
    out_filters = filters * _BOTTLENECK_EXPANSION
    residual = _shortcut(x, out_filters, strides, shortcut, name)
    x = _conv(x, filters, 1, 1, name=f"{name}_conv1")
    x = _common.batch_norm(f"{name}_bn1")(x)
    x = _common.activation_layer(activation, f"{name}_{activation}1")(x)
    x = _conv(x, filters, 3, strides, name=f"{name}_conv2")
    x = _common.batch_norm(f"{name}_bn2")(x)
    x = _common.activation_layer(activation, f"{name}_{activation}2")(x)
    x = _conv(x, out_filters, 1, 1, name=f"{name}_conv3")
    x = _common.batch_norm(f"{name}_bn3", gamma_zero=zero_init)(x)
    x = keras.layers.Add(name=f"{name}_add")([x, residual])
    return _common.activation_layer(activation, f"{name}_out")(x)


def build_resnet(
    depth: int = 20,
    num_classes: int = 10,
    input_shape: tuple | None = None,
    include_top: bool = True,
    pooling: str | None = None,
    shortcut: str | None = None,
    zero_init_residual: bool = False,
    activation: str = "relu",
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """Build a ResNet v1, CIFAR-style or ImageNet-style by depth.

    Args:
        depth: 20, 32, 44, 56 or 110 (CIFAR-style), 18, 34, 50, 101 or 152 (ImageNet-style).
            Defaults to 20.
        num_classes: number of output classes. Defaults to 10.
        input_shape: image shape. Defaults to ``(32, 32, 3)`` for CIFAR-style and
            ``(224, 224, 3)`` for ImageNet-style; at least 4x4 and 32x32 respectively (the
            network's total stride).
        include_top: whether to add global average pooling and the classifier. Defaults to True.
        pooling: with ``include_top=False``: ``None``, ``"avg"`` or ``"max"``. Defaults to None.
        shortcut: ``"A"`` (zero-padding identity) or ``"B"`` (projection) where a block
            changes shape. ``"A"`` exists for CIFAR-style only. Defaults to ``"A"`` for
            CIFAR-style, ``"B"`` for ImageNet-style.
        zero_init_residual: start the last BatchNorm of every block at gamma = 0, so each
            block begins as the identity (Goyal et al. 2017). Defaults to False.
        activation: one of ``relu``, ``gelu``, ``silu``, ``tanh``, ``elu``, ``leaky_relu``,
            ``sigmoid``. Defaults to ``"relu"``.
        classifier_activation: activation of ``predictions``; ``None`` gives logits.
            Defaults to ``"softmax"``.
        name: model name and layer-name prefix. Defaults to ``"resnet{depth}"``.

    Returns:
        A `keras.Model`.

    Example:
        ```python
        model = kcnn.models.build_resnet(depth=56, shortcut="B")
        ```

    References:
        He, Zhang, Ren, Sun. Deep residual learning for image recognition. CVPR 2016.
        Goyal et al. Accurate, large minibatch SGD: training ImageNet in 1 hour. 2017.
    """
    check_choice("depth", depth, tuple(RESNET_DEPTHS))
    style, block_kind, blocks = RESNET_DEPTHS[depth]
    default_shape, widths, total_stride = _STYLES[style]
    name = f"resnet{depth}" if name is None else name
    input_shape = default_shape if input_shape is None else input_shape
    shortcut = ("A" if style == "cifar" else "B") if shortcut is None else shortcut
    accepted_shortcuts = ("A", "B") if style == "cifar" else ("B",)
    check_choice("shortcut", shortcut, accepted_shortcuts)
    _common.check_common(
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        activation=activation,
        classifier_activation=classifier_activation,
        name=name,
    )
    input_shape = _common.check_input_shape(input_shape, min_size=total_stride, model=name)

    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    if style == "cifar":
        x = _conv(inputs, widths[0], 3, 1, name=f"{name}_stem_conv")
        x = _common.batch_norm(f"{name}_stem_bn")(x)
        x = _common.activation_layer(activation, f"{name}_stem_{activation}")(x)
    else:
        x = _conv(inputs, widths[0], 7, 2, name=f"{name}_stem_conv")
        x = _common.batch_norm(f"{name}_stem_bn")(x)
        x = _common.activation_layer(activation, f"{name}_stem_{activation}")(x)
        x = keras.layers.ZeroPadding2D(1, name=f"{name}_stem_pool_pad")(x)
        x = keras.layers.MaxPooling2D(3, 2, name=f"{name}_stem_pool")(x)

    block_fn = _basic_block if block_kind == "basic" else _bottleneck_block
    for stage, (width, count) in enumerate(zip(widths, blocks), start=1):
        for index in range(1, count + 1):
            strides = 2 if stage > 1 and index == 1 else 1
            x = block_fn(
                x,
                width,
                strides,
                shortcut,
                activation,
                zero_init_residual,
                name=f"{name}_stage{stage}_block{index}",
            )

    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name=f"{name}_avg_pool")(x)
        x = _common.classifier(x, num_classes, classifier_activation)
    else:
        x = _common.pool_features(x, pooling, name)
    return keras.Model(inputs, x, name=name)


def _register(depth: int):
    style, block, blocks = RESNET_DEPTHS[depth]
    shape = "32x32x3" if style == "cifar" else "224x224x3"
    doc = f"ResNet-{depth} (He et al. 2016), {style}-style, {block} blocks {blocks}; {shape} input."
    return register_variant(f"resnet{depth}", build_resnet, doc, depth=depth)


resnet20 = _register(20)
resnet32 = _register(32)
resnet44 = _register(44)
resnet56 = _register(56)
resnet110 = _register(110)
resnet18 = _register(18)
resnet34 = _register(34)
resnet50 = _register(50)
resnet101 = _register(101)
resnet152 = _register(152)
