import keras
import pytest

import kcnn
from kcnn.models import registry

from .small import SMALL_KWARGS, WRAPPER_KWARGS

EXPECTED = {
    "lenet5", "simple_cnn", "mlp",
    "resnet20", "resnet32", "resnet44", "resnet56", "resnet110",
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
    "vgg11", "vgg13", "vgg16", "vgg19",
    "vgg11_cifar", "vgg13_cifar", "vgg16_cifar", "vgg19_cifar",
    "transfer",
}  # fmt: skip


def test_list_models_is_sorted_and_complete():
    names = kcnn.list_models()
    assert names == sorted(names)
    assert set(names) == EXPECTED
    # the transfer builder wraps other models; tests/models/test_transfer.py covers it
    assert set(SMALL_KWARGS) | set(WRAPPER_KWARGS) == EXPECTED


def test_build_model_passes_kwargs():
    model = kcnn.build_model("simple_cnn", num_classes=3, input_shape=(12, 12, 2))
    assert model.input_shape == (None, 12, 12, 2)
    assert model.output_shape == (None, 3)


def test_register_custom_model_and_refuse_duplicate(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))

    @kcnn.register_model("tiny_test_net")
    def tiny_test_net(num_classes=4, **kwargs):
        inputs = keras.Input((4, 4, 1))
        return keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.Flatten()(inputs)))

    assert "tiny_test_net" in kcnn.list_models()
    assert kcnn.build_model("tiny_test_net").output_shape == (None, 4)
    with pytest.raises(ValueError, match="'tiny_test_net' is already registered"):
        kcnn.register_model("tiny_test_net")(tiny_test_net)
    with pytest.raises(ValueError, match="'resnet20' is already registered"):
        kcnn.register_model("resnet20")(tiny_test_net)


def test_bare_decorator_uses_function_name(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))

    @kcnn.register_model
    def my_bare_net(**kwargs):
        return kcnn.build_model("mlp", **kwargs)

    assert "my_bare_net" in kcnn.list_models()


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match=r"'resnet21'.*Did you mean:.*resnet20"):
        kcnn.build_model("resnet21")
    with pytest.raises(ValueError, match="Did you mean: simple_cnn"):
        kcnn.build_model("simplecnn")
    with pytest.raises(ValueError, match="Registered models: lenet5, mlp"):
        kcnn.build_model("alexnet")


def test_variants_refuse_to_override_what_they_fix():
    with pytest.raises(TypeError, match=r"resnet20 fixes depth=20; call build_resnet\(\)"):
        kcnn.build_model("resnet20", depth=56)
    with pytest.raises(TypeError, match=r"vgg16_cifar fixes layout='cifar'"):
        kcnn.build_model("vgg16_cifar", layout="imagenet")
    assert kcnn.models.get_model_builder("resnet56").__name__ == "resnet56"
