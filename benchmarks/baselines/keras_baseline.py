"""The "plain Keras" baseline of the benchmark harness: kcnn's models, written by hand.

A benchmark measures what kcnn adds on top of plain Keras, so the baseline must train the same
network on the same data with the same batch size, written the way a Keras user would write it.
This module deliberately imports no kcnn code: the models below are hand-written copies of
kcnn's builders (same layers, same parameter counts, same BatchNorm momentum 0.9 and epsilon
1e-5, same symmetric padding of strided convolutions, a softmax ``Dense`` named
``predictions``), and `train` is one ``compile`` and one ``fit`` on NumPy arrays.
``tests/test_bench_baselines_keras.py`` proves the copies exact: after copying kcnn's weights
into them, both give the same predictions.

ResNet-20's parameter-free "option A" shortcut (subsample by 2, zero-pad the new channels) is
built from standard layers only: ``MaxPooling2D(1, strides=2)`` keeps every second pixel, and a
``ZeroPadding2D`` told that the data is ``channels_first`` pads the last axis of a
channels-last tensor, which is the channel axis.

The models assume ``keras.config.image_data_format() == "channels_last"`` (Keras' default).
"""

from __future__ import annotations

import keras

#: BatchNormalization momentum and epsilon of every kcnn model (PyTorch's defaults).
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def _bn() -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON)


def lenet5(input_shape: tuple, num_classes: int) -> keras.Model:
    """LeNet-5, "modern" variant (ReLU, max pooling); inputs under 32x32 are zero-padded.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: number of output classes.

    Returns:
        A `keras.Sequential`.

    References:
        LeCun, Bottou, Bengio, Haffner. Gradient-based learning applied to document
        recognition. Proc. IEEE 86(11), 1998.
    """
    height, width = input_shape[0], input_shape[1]
    pad_h, pad_w = max(32 - height, 0), max(32 - width, 0)
    layers = [keras.Input(shape=input_shape)]
    if pad_h or pad_w:
        padding = ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))
        layers.append(keras.layers.ZeroPadding2D(padding))
    layers += [
        keras.layers.Conv2D(6, 5, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(16, 5, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(120, activation="relu"),
        keras.layers.Dense(84, activation="relu"),
        keras.layers.Dense(num_classes, activation="softmax", name="predictions"),
    ]
    return keras.Sequential(layers, name="lenet5")


def simple_cnn(input_shape: tuple, num_classes: int) -> keras.Model:
    """SimpleCNN: two conv-BN-ReLU-pool blocks (32, 64 filters), dense 128, dropout 0.5.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: number of output classes.

    Returns:
        A `keras.Sequential`.
    """
    layers = [keras.Input(shape=input_shape)]
    for filters in (32, 64):
        layers += [
            keras.layers.Conv2D(filters, 3, padding="same", use_bias=False),
            _bn(),
            keras.layers.ReLU(),
            keras.layers.MaxPooling2D(2),
        ]
    layers += [
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.5),
        keras.layers.Dense(num_classes, activation="softmax", name="predictions"),
    ]
    return keras.Sequential(layers, name="simple_cnn")


def _conv(x, filters: int, kernel_size: int, strides: int = 1):
    """Bias-free convolution; strided ones pad ``kernel_size // 2`` on every side (PyTorch).

    Keras' ``padding="same"`` with stride 2 on an even input pads only the bottom and right,
    which would shift every output by one pixel relative to kcnn's (and torchvision's) models.
    """
    if strides == 1:
        return keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=False)(x)
    if kernel_size > 1:
        x = keras.layers.ZeroPadding2D(kernel_size // 2)(x)
    return keras.layers.Conv2D(filters, kernel_size, strides, use_bias=False)(x)


def _option_a_shortcut(x, filters: int):
    """ResNet option A: keep every second pixel, zero-pad the channels half before, half after."""
    x = keras.layers.MaxPooling2D(pool_size=1, strides=2)(x)
    extra = filters - x.shape[-1]
    # The tensor is (batch, height, width, channels); read as channels_first, its last two
    # axes are the "spatial" ones, so this pads width by 0 and channels by `extra`.
    return keras.layers.ZeroPadding2D(
        ((0, 0), (extra // 2, extra - extra // 2)), data_format="channels_first"
    )(x)


def _basic_block(x, filters: int, strides: int, option_a: bool):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU."""
    if strides == 1 and x.shape[-1] == filters:
        shortcut = x
    elif option_a:
        shortcut = _option_a_shortcut(x, filters)
    else:
        shortcut = _bn()(_conv(x, filters, 1, strides))
    y = _conv(x, filters, 3, strides)
    y = keras.layers.ReLU()(_bn()(y))
    y = _bn()(_conv(y, filters, 3))
    return keras.layers.ReLU()(keras.layers.Add()([y, shortcut]))


def resnet20(input_shape: tuple, num_classes: int) -> keras.Model:
    """ResNet-20, CIFAR-style: 3x3 stem, three stages of 3 basic blocks, option A shortcuts.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: number of output classes.

    Returns:
        A functional `keras.Model`.

    References:
        He, Zhang, Ren, Sun. Deep residual learning for image recognition. CVPR 2016, sec. 4.2.
    """
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.ReLU()(_bn()(_conv(inputs, 16, 3)))
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            strides = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, filters, strides, option_a=True)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="resnet20")


def resnet18(input_shape: tuple, num_classes: int) -> keras.Model:
    """ResNet-18, ImageNet-style: 7x7/2 stem, 3x3/2 max pool, 4 stages of 2 basic blocks.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: number of output classes.

    Returns:
        A functional `keras.Model`.

    References:
        He, Zhang, Ren, Sun. Deep residual learning for image recognition. CVPR 2016.
    """
    inputs = keras.Input(shape=input_shape)
    x = keras.layers.ReLU()(_bn()(_conv(inputs, 64, 7, 2)))
    x = keras.layers.ZeroPadding2D(1)(x)
    x = keras.layers.MaxPooling2D(3, 2)(x)
    for stage, filters in enumerate((64, 128, 256, 512)):
        for block in range(2):
            strides = 2 if stage > 0 and block == 0 else 1
            x = _basic_block(x, filters, strides, option_a=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="resnet18")


#: The models of the baseline, by kcnn's registry name.
MODELS = {
    "lenet5": lenet5,
    "simple_cnn": simple_cnn,
    "resnet20": resnet20,
    "resnet18": resnet18,
}


def build(name: str, input_shape: tuple, num_classes: int) -> keras.Model:
    """Build one of `MODELS` by name.

    Args:
        name: ``"lenet5"``, ``"simple_cnn"``, ``"resnet20"`` or ``"resnet18"``.
        input_shape: ``(height, width, channels)``.
        num_classes: number of output classes.

    Returns:
        An uncompiled `keras.Model`.

    Raises:
        ValueError: ``name`` is not in `MODELS`.

    Example:
        ```python
        model = build("resnet20", (32, 32, 3), 10)
        ```
    """
    if name not in MODELS:
        raise ValueError(f"name must be one of {sorted(MODELS)}. Received: name={name!r}")
    return MODELS[name](tuple(input_shape), num_classes)


def train(session) -> None:
    """Train the session's model the way a plain Keras user would: compile, then one ``fit``.

    Args:
        session: a benchmark session with ``spec`` (a dict with ``"model"``,
            ``"input_shape"``, ``"num_classes"``, ``"batch_size"``, ``"epochs"``, ``"seed"``
            and optionally ``"steps_per_execution"`` and ``"jit_compile"``), ``x`` (float32
            images in [0, 1]), ``y`` (int labels) and ``callback()`` (the timing callback).
    """
    spec = session.spec
    keras.utils.set_random_seed(spec["seed"])
    model = build(spec["model"], tuple(spec["input_shape"]), spec["num_classes"])
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=spec.get("steps_per_execution", 1),
        jit_compile=spec.get("jit_compile", "auto"),
    )
    model.fit(
        session.x,
        session.y,
        batch_size=spec["batch_size"],
        epochs=spec["epochs"],
        shuffle=True,
        verbose=0,
        callbacks=[session.callback()],
    )
