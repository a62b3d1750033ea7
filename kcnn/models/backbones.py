"""Backbones for transfer learning: ``keras.applications`` models with their ImageNet
weights (or a local weights file, checked by SHA-256), registered kcnn models, `keras.Model`
objects and ``.keras`` files, cut at a feature layer."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import keras

from kcnn._backend import keras_home
from kcnn.models import _common
from kcnn.models.registry import get_model_builder, list_models

#: keras.applications backbones by kcnn name:
#: (class name, preprocessing mode, minimum input size, size of the ImageNet weights).
#: Preprocessing modes follow ``keras.applications.imagenet_utils.preprocess_input``:
#: ``tf`` scales to [-1, 1]; ``torch`` scales to [0, 1] and standardises with the ImageNet
#: mean and std; ``caffe`` flips RGB to BGR and subtracts the ImageNet mean from [0, 255]
#: pixels; ``pixels`` passes [0, 255] pixels to a model that normalises them itself.
APPLICATIONS = {
    "mobilenet": ("MobileNet", "tf", 32, 224),
    "mobilenet_v2": ("MobileNetV2", "tf", 32, 224),
    "mobilenet_v3_small": ("MobileNetV3Small", "pixels", 32, 224),
    "mobilenet_v3_large": ("MobileNetV3Large", "pixels", 32, 224),
    "resnet50": ("ResNet50", "caffe", 32, 224),
    "resnet101": ("ResNet101", "caffe", 32, 224),
    "resnet152": ("ResNet152", "caffe", 32, 224),
    "resnet50_v2": ("ResNet50V2", "tf", 32, 224),
    "resnet101_v2": ("ResNet101V2", "tf", 32, 224),
    "resnet152_v2": ("ResNet152V2", "tf", 32, 224),
    "vgg16": ("VGG16", "caffe", 32, 224),
    "vgg19": ("VGG19", "caffe", 32, 224),
    "densenet121": ("DenseNet121", "torch", 32, 224),
    "densenet169": ("DenseNet169", "torch", 32, 224),
    "densenet201": ("DenseNet201", "torch", 32, 224),
    **{
        f"efficientnet_b{i}": (f"EfficientNetB{i}", "pixels", 32, size)
        for i, size in enumerate((224, 240, 260, 300, 380, 456, 528, 600))
    },
    **{
        f"efficientnet_v2_{v.lower()}": (f"EfficientNetV2{v}", "pixels", 32, size)
        for v, size in (
            ("B0", 224),
            ("B1", 240),
            ("B2", 260),
            ("B3", 300),
            ("S", 384),
            ("M", 480),
            ("L", 480),
        )
    },  # fmt: skip
    **{
        f"convnext_{v.lower()}": (f"ConvNeXt{v}", "pixels", 32, 224)
        for v in ("Tiny", "Small", "Base", "Large", "XLarge")
    },
    "xception": ("Xception", "tf", 71, 299),
    "inception_v3": ("InceptionV3", "tf", 75, 299),
    "inception_resnet_v2": ("InceptionResNetV2", "tf", 75, 299),
    "nasnet_mobile": ("NASNetMobile", "tf", 32, 224),
}
_BY_CLASS = {entry[0].lower(): name for name, entry in APPLICATIONS.items()}


def sha256_of(path: str | os.PathLike) -> str:
    """The SHA-256 hex digest of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file(path: str | os.PathLike, sha256: str | None, argument: str = "weights") -> Path:
    """Check that a weights file exists and, given ``sha256``, that its digest matches."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{argument} file not found. Received: {argument}={str(path)!r}")
    if sha256 is not None:
        actual = sha256_of(path)
        if actual.lower() != str(sha256).lower():
            raise ValueError(
                f"{argument} file {str(path)!r} has SHA-256 {actual}, but sha256={sha256!r} "
                "was expected: the file is corrupt, incomplete or a different file."
            )
    return path


def image_size_pair(image_size) -> tuple[int, int]:
    if (
        not isinstance(image_size, (tuple, list))
        or len(image_size) != 2
        or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in image_size)
    ):
        raise ValueError(
            f"image_size must be (height, width), two positive integers. "
            f"Received: image_size={image_size!r}"
        )
    return int(image_size[0]), int(image_size[1])


def _application_name(backbone) -> str | None:
    if not isinstance(backbone, str):
        return None
    if backbone in APPLICATIONS:
        return backbone
    return _BY_CLASS.get(backbone.lower())


def make_backbone(backbone, weights, input_shape, image_size, feature_layer, sha256, kwargs):
    """Return ``(features model, preprocessing mode or None, label for the name)``."""
    app = _application_name(backbone)
    if app is not None:
        features = _application(app, weights, input_shape, image_size, sha256, kwargs)
        return features, APPLICATIONS[app][1], app
    is_file = isinstance(backbone, (str, os.PathLike)) and str(backbone).endswith(".keras")
    is_kcnn = isinstance(backbone, str) and backbone in list_models()
    if not (isinstance(backbone, keras.Model) or is_file or is_kcnn):
        raise ValueError(
            "backbone must be a keras.applications name, a registered kcnn model, a "
            f"keras.Model or a .keras file. Received: backbone={backbone!r}. "
            f"keras.applications: {', '.join(sorted(APPLICATIONS))}. "
            f"kcnn: {', '.join(list_models())}."
        )
    if kwargs:
        raise ValueError(
            "backbone_kwargs only applies to keras.applications backbones. "
            f"Received: backbone={backbone!r}, backbone_kwargs={kwargs!r}"
        )
    if weights == "imagenet":
        raise ValueError(
            f"weights='imagenet' exists for keras.applications backbones only "
            f"({', '.join(sorted(APPLICATIONS))}). Received: backbone={backbone!r}; pass "
            "weights=None or the path of a weights file."
        )
    if isinstance(backbone, keras.Model):
        model = backbone
    elif is_file:
        file = verify_file(backbone, sha256 if weights is None else None, "backbone")
        model = keras.saving.load_model(file, safe_mode=True, compile=False)
    else:
        if input_shape is None:
            raise ValueError(
                f"input_shape is required for the kcnn backbone {backbone!r}. "
                "Received: input_shape=None"
            )
        size = image_size or _common.spatial_size(tuple(input_shape))
        channels = input_shape[_common.channel_axis()]
        shape = (*size, channels) if _common.channel_axis() == -1 else (channels, *size)
        model = get_model_builder(backbone)(input_shape=shape, include_top=False)
    features = _cut(model, feature_layer)
    if weights is not None:
        _load_into(features, weights, sha256)
    return features, None, model.name


def _application(app, weights, input_shape, image_size, sha256, kwargs) -> keras.Model:
    class_name, _, min_size, default_size = APPLICATIONS[app]
    if input_shape is None:
        input_shape = (
            (default_size, default_size, 3)
            if _common.channel_axis() == -1
            else (3, default_size, default_size)
        )
    shape = _common.check_input_shape(input_shape, model=app)
    channels = shape[_common.channel_axis()]
    if channels not in (1, 3):
        raise ValueError(
            f"{app} takes RGB images; grayscale (1 channel) is repeated to RGB. "
            f"Received: input_shape={input_shape!r} with {channels} channels"
        )
    height, width = image_size_pair(image_size) if image_size else _common.spatial_size(shape)
    if min(height, width) < min_size:
        raise ValueError(
            f"{app} needs images of at least {min_size}x{min_size} pixels. Received: "
            f"input_shape={input_shape!r}"
            + (f", image_size={image_size!r}" if image_size else "")
            + f". Pass image_size=({max(min_size, 96)}, {max(min_size, 96)}) to resize inside "
            "the model."
        )
    rgb = (height, width, 3) if _common.channel_axis() == -1 else (3, height, width)
    constructor = getattr(keras.applications, class_name)
    build = dict(include_top=False, input_shape=rgb, **(kwargs or {}))
    if weights == "imagenet":
        if sha256 is not None:
            raise ValueError(
                "sha256 checks a local weights file; weights='imagenet' is checked by Keras' "
                "own download. Pass weights=PATH with sha256=, or drop sha256."
            )
        try:
            return constructor(weights="imagenet", **build)
        except Exception as error:  # keras.utils.get_file raises a bare Exception offline
            raise _download_error(app, error) from error
    model = constructor(weights=None, **build)
    if weights is not None:
        _load_into(model, weights, sha256)
    return model


def _download_error(app: str, error: Exception) -> Exception:
    """Turn a failed ImageNet download into an error that says what to fetch and where."""
    match = re.search(r"(https?://\S+?\.h5)", str(error))
    if not match:
        return error
    url = match.group(1)
    folder = keras_home() / "models"
    return ConnectionError(
        f"Could not download the ImageNet weights of {app} ({error}). On a machine with "
        f"internet access, fetch\n  {url}\nand put it at\n  {folder / url.rsplit('/', 1)[1]}\n"
        "(Keras finds it there without downloading), or pass weights='/path/to/"
        f"{url.rsplit('/', 1)[1]}' to load it from anywhere."
    )


def _cut(model: keras.Model, feature_layer: str | None) -> keras.Model:
    """The sub-model from ``model``'s input to its feature map (the head cut off)."""
    if feature_layer is None:
        if len(model.outputs) == 1 and len(model.outputs[0].shape) == 4:
            return model
        spatial = [
            layer
            for layer in model.layers
            if not isinstance(layer, keras.layers.InputLayer)
            and len(getattr(layer.output, "shape", ())) == 4
        ]
        if not spatial:
            raise ValueError(
                f"The backbone {model.name!r} has no layer with a spatial (4-D) output; "
                "pass feature_layer= to choose the features."
            )
        layer = spatial[-1]
    else:
        try:
            layer = model.get_layer(feature_layer)
        except ValueError:
            raise ValueError(
                f"feature_layer {feature_layer!r} is not a layer of {model.name!r}. "
                f"Its layers: {', '.join(layer.name for layer in model.layers)}"
            ) from None
    return keras.Model(model.inputs, layer.output, name=f"{model.name}_features")


def leaf_layers(model: keras.Model) -> list:
    """The layers of a model in order, with each nested model replaced by its own layers."""
    leaves = []
    for layer in model.layers:
        leaves.extend(leaf_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return leaves


def _load_into(model: keras.Model, weights, sha256: str | None) -> None:
    """Load a weights file into ``model``: ``.keras`` by layer name, ``.h5`` directly."""
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(
            "weights must be 'imagenet', None or the path of a weights file. "
            f"Received: weights={weights!r}"
        )
    path = verify_file(weights, sha256)
    if path.suffix == ".keras":
        loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
        source = {layer.name: layer for layer in leaf_layers(loaded)}
        matched = 0
        for layer in leaf_layers(model):
            name = layer.name
            if not layer.weights or name not in source:
                continue
            values = source[name].get_weights()
            shapes = [tuple(w.shape) for w in layer.weights]
            if [v.shape for v in values] != shapes:
                raise ValueError(
                    f"Layer {name!r} of {str(path)!r} has weights of shapes "
                    f"{[v.shape for v in values]}, the backbone expects {shapes}."
                )
            layer.set_weights(values)
            matched += 1
        if not matched:
            raise ValueError(
                f"No layer of {str(path)!r} matches a layer of the backbone {model.name!r} by "
                "name: it holds a different model."
            )
        return
    if not path.name.endswith(".h5"):
        raise ValueError(
            f"weights must be a .weights.h5, .h5 or .keras file. Received: weights={str(weights)!r}"
        )
    model.load_weights(path)
