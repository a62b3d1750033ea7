"""Model builders, one module per family, each registered by name."""

from kcnn.models.lenet import build_lenet
from kcnn.models.mlp import build_mlp
from kcnn.models.registry import build_model, get_model_builder, list_models, register_model
from kcnn.models.resnet import ZeroPadShortcut, build_resnet
from kcnn.models.simple_cnn import build_simple_cnn
from kcnn.models.transfer import APPLICATIONS, ImageNetPreprocessing, backbone_of, build_transfer
from kcnn.models.vgg import build_vgg

__all__ = [
    "APPLICATIONS",
    "ImageNetPreprocessing",
    "ZeroPadShortcut",
    "build_lenet",
    "build_mlp",
    "build_model",
    "build_resnet",
    "backbone_of",
    "build_simple_cnn",
    "build_transfer",
    "build_vgg",
    "get_model_builder",
    "list_models",
    "register_model",
]
