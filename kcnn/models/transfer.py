"""Transfer learning: a pretrained backbone without its top, frozen, and a new head.

`build_transfer` (registered as ``"transfer"``) wraps a backbone so that the whole model
takes kcnn's usual images, floats in [0, 1], and does everything else inside the model:

    input [0, 1] -> (resize) -> (grey to RGB) -> the backbone's own preprocessing
                 -> backbone(training=False) -> global pooling -> dropout -> predictions

The backbone can be any ``keras.applications`` model (``"mobilenet_v2"``, ``"resnet50"``,
``"efficientnet_b0"``, ...), a registered kcnn model, a `keras.Model`, or a ``.keras`` file.

**Frozen means frozen.** The backbone is marked ``trainable=False`` *and* called with
``training=False``. The second part matters for BatchNormalization: a frozen BN layer
called in training mode would still normalise with the statistics of each new batch and
update its moving mean and variance, so the features the head learns on would drift away
from the pretrained ones. Called in inference mode, BN keeps its ImageNet statistics during
training and during fine-tuning (`kcnn.train.fine_tune`), as the Keras transfer-learning
guide recommends.
"""

from __future__ import annotations

import os

import keras
import numpy as np

from kcnn._validate import check_choice
from kcnn.models import _common
from kcnn.models.backbones import (  # noqa: F401  (these were defined here)
    APPLICATIONS,
    image_size_pair,
    leaf_layers,
    make_backbone,
    sha256_of,
    verify_file,
)
from kcnn.models.registry import register_model

HEADS = ("linear", "mlp")
PREPROCESSING = ("tf", "torch", "caffe", "pixels")

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="kcnn")
class ImageNetPreprocessing(keras.layers.Layer):
    """A backbone's ``preprocess_input`` as a layer, for images with values in [0, 1].

    ``ImageNetPreprocessing(mode)(x)`` equals
    ``keras.applications.imagenet_utils.preprocess_input(255 * x, mode=mode)``, so the
    preprocessing travels with the saved model and reloads under ``safe_mode`` (a ``Lambda``
    would not).

    Args:
        mode: ``"tf"`` (to [-1, 1]), ``"torch"`` (ImageNet mean and std), ``"caffe"``
            (RGB to BGR, minus the ImageNet mean in [0, 255]) or ``"pixels"`` (to [0, 255],
            for backbones that normalise inside, such as EfficientNet and ConvNeXt).
        data_format: ``"channels_last"`` or ``"channels_first"``. Defaults to
            ``keras.config.image_data_format()``.
    """

    def __init__(self, mode: str, data_format: str | None = None, **kwargs):
        super().__init__(**kwargs)
        check_choice("mode", mode, PREPROCESSING)
        self.mode = mode
        self.data_format = data_format or keras.config.image_data_format()

    def _per_channel(self, values) -> np.ndarray:
        shape = (1, 1, 1, 3) if self.data_format == "channels_last" else (1, 3, 1, 1)
        return np.asarray(values, dtype="float32").reshape(shape)

    def call(self, inputs):
        # In float32 whatever the policy, then in the compute dtype: the per-channel
        # constants are float32 arrays, and float16 - float32 promotes to float32 on JAX
        # and PyTorch (and bfloat16 NumPy arrays do not exist for PyTorch).
        x = keras.ops.cast(inputs, "float32")
        if self.mode == "tf":
            x = x * 2.0 - 1.0
        elif self.mode == "pixels":
            x = x * 255.0
        elif self.mode == "torch":
            mean, std = self._per_channel(_IMAGENET_MEAN), self._per_channel(_IMAGENET_STD)
            x = (x - mean) / std
        else:
            axis = -1 if self.data_format == "channels_last" else 1
            x = keras.ops.flip(x, axis=axis) * 255.0 - self._per_channel(_CAFFE_MEAN_BGR)
        return keras.ops.cast(x, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(mode=self.mode, data_format=self.data_format)
        return config


def build_transfer(
    backbone: str | os.PathLike | keras.Model = "mobilenet_v2",
    weights: str | os.PathLike | None = "imagenet",
    num_classes: int = 10,
    input_shape: tuple | None = None,
    head: str | tuple = "linear",
    dropout: float = 0.2,
    pooling: str = "avg",
    image_size: tuple | None = None,
    feature_layer: str | None = None,
    sha256: str | None = None,
    backbone_kwargs: dict | None = None,
    classifier_activation: str | None = "softmax",
    name: str | None = None,
) -> keras.Model:
    """A frozen pretrained backbone with a new classification head.

    Args:
        backbone: a ``keras.applications`` name (``"mobilenet_v2"``, ``"resnet50"``,
            ``"efficientnet_b0"``, ... see `APPLICATIONS`; class names such as
            ``"MobileNetV2"`` work too), a registered kcnn model name (built headless), a
            `keras.Model` or the path of a ``.keras`` file (loaded with ``safe_mode=True``;
            its head is cut off at ``feature_layer``). Defaults to ``"mobilenet_v2"``.
        weights: ``"imagenet"`` (``keras.applications`` backbones only; downloaded once to
            ``~/.keras/models/``), ``None`` (random initialisation, or the weights a given
            model already has), or a local file: ``.weights.h5`` / legacy ``.h5`` loaded
            into the backbone, or a ``.keras`` file whose layers are matched by name.
            Defaults to ``"imagenet"``.
        num_classes: classes of the new head. Defaults to 10.
        input_shape: shape of the images the model takes, values in [0, 1]. A single
            channel is repeated to RGB for ``keras.applications`` backbones. Defaults to
            the backbone's ImageNet size, e.g. ``(224, 224, 3)``.
        head: ``"linear"`` (pooling, dropout, dense), ``"mlp"`` (a hidden layer of 256
            ReLU units before the dropout) or a tuple of hidden-layer widths. Defaults to
            ``"linear"``.
        dropout: dropout rate before the last dense layer. Defaults to 0.2.
        pooling: ``"avg"`` or ``"max"`` global pooling of the backbone's feature map.
            Defaults to ``"avg"``.
        image_size: ``(height, width)`` to resize to inside the model, for images smaller
            than the backbone's minimum (32x32 for most, 71 for Xception, 75 for the
            Inceptions), or to match the size it was pretrained at. Defaults to no resizing.
        feature_layer: for a model or ``.keras`` backbone, the layer whose output is the
            feature map. Defaults to the last layer with a spatial (4-D) output.
        sha256: the expected SHA-256 of the ``weights`` file (or of the ``.keras`` backbone
            file); a mismatch raises before anything is loaded. Defaults to None.
        backbone_kwargs: extra arguments for the ``keras.applications`` constructor, such as
            ``{"alpha": 0.35}``. Defaults to None.
        classifier_activation: activation of ``predictions``. Defaults to ``"softmax"``.
        name: the model's name and layer prefix. Defaults to ``"transfer_<backbone>"``.

    Returns:
        An uncompiled `keras.Model` whose backbone is frozen: train the head with
        `kcnn.train.fit`, then optionally `kcnn.train.fine_tune`.

    Raises:
        ValueError: an unknown backbone, an image below the backbone's minimum size, a
            channel count other than 1 or 3 for an ImageNet backbone, or a SHA-256
            mismatch.
        FileNotFoundError: a weights or backbone file that does not exist.
        ConnectionError: ImageNet weights that cannot be downloaded; the message names the
            file to fetch and where to put it.

    Example:
        ```python
        model = kcnn.build_model("transfer", backbone="mobilenet_v2", num_classes=10,
                                 input_shape=(32, 32, 3), image_size=(96, 96))
        kcnn.train.fit(model, data, kcnn.train.TrainConfig(epochs=5))
        kcnn.train.fine_tune(model, data, unfreeze=20, lr=1e-5)
        ```

    References:
        Yosinski, Clune, Bengio, Lipson. How transferable are features in deep neural
        networks? NeurIPS 2014. Keras guide "Transfer learning & fine-tuning" (Chollet, 2020).
    """
    _common.check_num_classes(num_classes, True)
    dropout = _common.check_rate("dropout", dropout)
    check_choice("pooling", pooling, ("avg", "max"))
    hidden = _head_units(head)
    _common.check_classifier_activation(classifier_activation)
    if backbone_kwargs is not None and not isinstance(backbone_kwargs, dict):
        raise TypeError(f"backbone_kwargs must be a dict. Received: {backbone_kwargs!r}")

    features, preprocessing, label = make_backbone(
        backbone, weights, input_shape, image_size, feature_layer, sha256, backbone_kwargs
    )
    name = f"transfer_{label}" if name is None else name
    _common.check_name(name)
    shape = (
        tuple(features.input_shape[1:])
        if input_shape is None
        else _common.check_input_shape(input_shape)
    )
    inputs = keras.Input(shape=shape, name=f"{name}_input")
    x = inputs
    if image_size is not None:
        height, width = image_size_pair(image_size)
        x = keras.layers.Resizing(height, width, name=f"{name}_resize")(x)
    backbone_channels = features.input_shape[_common.channel_axis()]
    if shape[_common.channel_axis()] == 1 and backbone_channels == 3:
        x = keras.layers.Concatenate(axis=_common.channel_axis(), name=f"{name}_to_rgb")([x] * 3)
    if preprocessing is not None:
        x = ImageNetPreprocessing(preprocessing, name=f"{name}_preprocess")(x)
    _check_fits(x.shape, features)

    features.trainable = False
    x = features(x, training=False)  # BatchNorm keeps its pretrained statistics
    if len(x.shape) == 4:
        pool = (
            keras.layers.GlobalAveragePooling2D
            if pooling == "avg"
            else keras.layers.GlobalMaxPooling2D
        )
        x = pool(name=f"{name}_{pooling}_pool")(x)
    elif len(x.shape) != 2:
        raise ValueError(
            f"The backbone's features must be a 4-D feature map or a 2-D vector. "
            f"Received: features of shape {tuple(x.shape)}"
        )
    for index, units in enumerate(hidden, start=1):
        x = _common.dense(
            x, units, activation="relu", name=f"{name}_head_dense{index}", pytorch=False
        )
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_head_dropout")(x)
    x = _common.classifier(x, num_classes, classifier_activation, pytorch=False)
    return keras.Model(inputs, x, name=name)


def backbone_of(model: keras.Model) -> keras.Model:
    """The backbone of a transfer model: its one nested `keras.Model` layer.

    Raises:
        ValueError: when the model has no nested model, or more than one.
    """
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) != 1:
        raise ValueError(
            "Expected a model with exactly one nested backbone model (as build_transfer "
            f"makes). Received: model {model.name!r} with {len(nested)} nested models"
            + (f" ({', '.join(m.name for m in nested)})" if nested else "")
        )
    return nested[0]


def _head_units(head) -> tuple[int, ...]:
    if head == "linear":
        return ()
    if head == "mlp":
        return (256,)
    if isinstance(head, (tuple, list)) and all(
        isinstance(u, int) and not isinstance(u, bool) and u > 0 for u in head
    ):
        return tuple(head)
    raise ValueError(
        f"head must be 'linear', 'mlp' or a tuple of hidden-layer widths. Received: head={head!r}"
    )


def _check_fits(shape, features: keras.Model) -> None:
    expected = tuple(features.input_shape[1:])
    if tuple(shape[1:]) != expected and None not in expected:
        raise ValueError(
            f"The backbone {features.name!r} takes images of shape {expected}; after resizing "
            f"and channel conversion the input is {tuple(shape[1:])}. Pass input_shape= and "
            "image_size= to match it."
        )


@register_model("transfer")
def transfer(**kwargs) -> keras.Model:
    """A frozen pretrained backbone (keras.applications or kcnn) with a new head."""
    return build_transfer(**kwargs)


#: What `kcnn models` and the docs build to list it: the parameter count does not depend
#: on the weights, and listing must not download them.
transfer.listing_kwargs = {"weights": None}
