"""Small, fast configurations of every registered model, for round-trip tests."""

import pytest

SMALL_KWARGS = {
    "lenet5": {"input_shape": (28, 28, 1)},
    "simple_cnn": {"input_shape": (16, 16, 1)},
    "mlp": {"input_shape": (8, 8, 1), "hidden_units": (16,)},
    **{f"resnet{d}": {"input_shape": (16, 16, 3)} for d in (20, 32, 44, 56, 110)},
    **{f"resnet{d}": {"input_shape": (32, 32, 3)} for d in (18, 34, 50, 101, 152)},
    **{f"vgg{d}": {"input_shape": (32, 32, 3), "dense_units": (32, 32)} for d in (11, 13, 16, 19)},
    **{
        f"vgg{d}_cifar": {"input_shape": (32, 32, 3), "dense_units": (32,)}
        for d in (11, 13, 16, 19)
    },
}

#: Registered models outside the families' shared arguments (no include_top, activation, ...).
WRAPPER_KWARGS = {
    "transfer": {
        "backbone": "mobilenet_v2", "weights": None, "input_shape": (32, 32, 3),
        "backbone_kwargs": {"alpha": 0.35},
    },
}  # fmt: skip

#: The deeper and wider members of each family. They run the same builder code as their
#: smaller siblings, so their per-model checks take turns over the backends (one backend a
#: day, see tests/conftest.py) while the small ones run on every backend.
DEEP = {
    "resnet44", "resnet56", "resnet110", "resnet34", "resnet50", "resnet101", "resnet152",
    "vgg13", "vgg16", "vgg19", "vgg13_cifar", "vgg16_cifar", "vgg19_cifar",
}  # fmt: skip


def by_name(names):
    """``pytest.mark.parametrize`` values over model names, the `DEEP` ones marked rotate."""
    return [pytest.param(n, marks=pytest.mark.rotate) if n in DEEP else n for n in names]
