"""What every builder shares: arguments, layer names, forward passes, bad input."""

import keras
import numpy as np
import pytest

import kcnn

from ..conftest import images
from .small import SMALL_KWARGS, by_name

FAST = ["lenet5", "simple_cnn", "mlp", "resnet20", "resnet18", "vgg11", "vgg11_cifar"]


@pytest.mark.parametrize("name", by_name(sorted(SMALL_KWARGS)))
def test_every_layer_is_named_from_the_prefix(name):
    model = kcnn.build_model(name, name="net", **SMALL_KWARGS[name])
    assert model.name == "net"
    for layer in model.layers:
        assert layer.name.startswith("net_") or layer.name == "predictions", layer.name
    assert model.layers[-1].name == "predictions"


@pytest.mark.parametrize(
    "name, kwargs, pytorch",
    [("simple_cnn", {}, True), ("resnet20", {}, True), ("vgg11_cifar", {}, True),
     ("lenet5", {}, False), ("mlp", {}, False), ("simple_cnn", {"batchnorm": False}, False)],
)  # fmt: skip
def test_weights_start_as_pytorch_starts_them_where_batchnorm_follows(name, kwargs, pytorch):
    """With BatchNorm, every Conv2D and Dense kernel and bias is uniform in +-1/sqrt(fan_in)
    (PyTorch's default, which reaches an accuracy in fewer epochs than Keras' Glorot); a
    plain network keeps Glorot uniform kernels and zero biases, which carry the signal through
    its ReLU layers better."""
    keras.utils.set_random_seed(0)
    model = kcnn.build_model(name, **{**SMALL_KWARGS[name], "num_classes": 10, **kwargs})
    kinds = (keras.layers.Conv2D, keras.layers.Dense)
    layers = [layer for layer in model.layers if isinstance(layer, kinds)]
    assert layers
    for layer in layers:
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        fan_in, fan_out = np.prod(kernel.shape[:-1]), np.prod(kernel.shape[:-2]) * kernel.shape[-1]
        bound = 1 / np.sqrt(fan_in) if pytorch else np.sqrt(6 / (fan_in + fan_out))
        assert np.abs(kernel).max() <= bound * (1 + 1e-6), layer.name  # float32 rounding
        # a uniform draw over the whole range: about bound / sqrt(3) spread
        assert np.std(kernel) == pytest.approx(bound / np.sqrt(3), rel=0.2), layer.name
        if layer.bias is not None:
            bias = keras.ops.convert_to_numpy(layer.bias)
            if pytorch:
                assert 0 < np.abs(bias).max() <= bound * (1 + 1e-6), layer.name
            else:
                assert not bias.any(), layer.name


@pytest.mark.parametrize("name", FAST)
def test_forward_pass_gives_probabilities(name):
    model = kcnn.build_model(name, num_classes=7, **SMALL_KWARGS[name])
    x = images(model.input_shape[1:], n=3)
    y = keras.ops.convert_to_numpy(model(x, training=False))
    assert y.shape == (3, 7)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0, rtol=1e-5)
    logits = kcnn.build_model(name, classifier_activation=None, **SMALL_KWARGS[name])
    assert logits.layers[-1].get_config()["activation"] == "linear"


@pytest.mark.parametrize("name", FAST)
@pytest.mark.parametrize("activation", ["gelu", "silu"])
def test_activation_is_a_flag(name, activation):
    model = kcnn.build_model(name, activation=activation, **SMALL_KWARGS[name])
    activations = [
        layer.get_config()["activation"]
        for layer in model.layers
        if isinstance(layer, keras.layers.Activation)
    ]
    assert activations and set(activations) == {activation}


@pytest.mark.parametrize("name", [n for n in FAST if n != "mlp"])
@pytest.mark.parametrize("pooling, rank", [(None, 4), ("avg", 2), ("max", 2)])
def test_headless_models_return_features(name, pooling, rank):
    model = kcnn.build_model(name, include_top=False, pooling=pooling, **SMALL_KWARGS[name])
    assert len(model.output_shape) == rank
    assert all(layer.name != "predictions" for layer in model.layers)


def test_mlp_headless_returns_last_hidden_layer_and_refuses_pooling():
    model = kcnn.build_model("mlp", include_top=False, hidden_units=(32, 16))
    assert model.output_shape == (None, 16)
    with pytest.raises(ValueError, match="pooling must be None for an MLP.*pooling='avg'"):
        kcnn.build_model("mlp", include_top=False, pooling="avg")


BAD_ARGUMENTS = [
    ("simple_cnn", {"num_classes": 1}, r"num_classes must be an integer >= 2.*num_classes=1"),
    ("resnet20", {"num_classes": 0}, r"num_classes=0"),
    ("mlp", {"num_classes": 2.5}, r"num_classes=2.5"),
    ("lenet5", {"input_shape": (28, 28)}, r"input_shape must be a tuple of 3.*\(28, 28\)"),
    ("vgg11_cifar", {"input_shape": (32, 32, 3, 1)}, r"tuple of 3.*\(32, 32, 3, 1\)"),
    ("simple_cnn", {"input_shape": (28, 0, 1)}, r"3 positive integers.*\(28, 0, 1\)"),
    ("simple_cnn", {"input_shape": (28, -28, 1)}, r"3 positive integers"),
    ("resnet50", {"input_shape": (8, 8, 3)}, r"too small for resnet50.*>= 32.*\(8, 8, 3\)"),
    ("vgg16", {"input_shape": (28, 28, 1)}, r"too small for vgg16.*>= 32"),
    ("resnet20", {"input_shape": (2, 2, 3)}, r"too small for resnet20.*>= 4"),
    ("simple_cnn", {"filters": (8, 8, 8, 8), "input_shape": (8, 8, 1)}, r">= 16"),
    ("simple_cnn", {"activation": "swishy"}, r"activation must be one of .*'relu'.*'swishy'"),
    ("simple_cnn", {"pooling": "mean", "include_top": False}, r"pooling must be one of"),
    ("simple_cnn", {"dropout": 1.5}, r"dropout must be a number in \[0, 1\).*1.5"),
    ("simple_cnn", {"filters": (32, 0)}, r"filters must be a tuple of positive integers"),
    ("simple_cnn", {"dense_units": -1}, r"dense_units must be an integer >= 0"),
    ("lenet5", {"variant": "retro"}, r"variant must be one of \['classic', 'modern'\].*'retro'"),
    ("mlp", {"hidden_units": (64, "a")}, r"hidden_units must be a tuple"),
]


@pytest.mark.parametrize(
    "name, kwargs, message", BAD_ARGUMENTS, ids=[f"{a}-{list(b)[0]}" for a, b, _ in BAD_ARGUMENTS]
)
def test_bad_arguments_raise_value_error_naming_them(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        kcnn.build_model(name, **kwargs)


def test_unknown_depths_and_layouts():
    with pytest.raises(ValueError, match=r"depth must be one of \[20, 32.*depth=19"):
        kcnn.models.build_resnet(depth=19)
    with pytest.raises(ValueError, match=r"depth must be one of \[11, 13, 16, 19\].*depth=17"):
        kcnn.models.build_vgg(depth=17)
    with pytest.raises(ValueError, match=r"layout must be one of.*layout='tiny'"):
        kcnn.models.build_vgg(layout="tiny")
    with pytest.raises(ValueError, match=r"shortcut must be one of \['B'\].*shortcut='A'"):
        kcnn.models.build_resnet(depth=18, shortcut="A")
    with pytest.raises(TypeError, match="include_top must be True or False"):
        kcnn.build_model("lenet5", include_top="yes")
