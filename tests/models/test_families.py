"""Family-specific structure: what makes each network the one the paper describes."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.models.resnet import ZeroPadShortcut

from ..conftest import images


def _layer_types(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


def _activations(model):
    return {a.get_config()["activation"] for a in _layer_types(model, keras.layers.Activation)}


def test_lenet5_shapes_layer_by_layer():
    model = kcnn.build_model("lenet5", input_shape=(28, 28, 1))
    shapes = {layer.name: layer.output.shape[1:] for layer in model.layers}
    assert shapes["lenet5_pad"] == (32, 32, 1)
    assert shapes["lenet5_c1_conv"] == (28, 28, 6)
    assert shapes["lenet5_s2_pool"] == (14, 14, 6)
    assert shapes["lenet5_c3_conv"] == (10, 10, 16)
    assert shapes["lenet5_s4_pool"] == (5, 5, 16)
    assert shapes["lenet5_f5_dense"] == (120,)
    assert shapes["lenet5_f6_dense"] == (84,)


def test_lenet5_variants():
    classic = kcnn.build_model("lenet5", variant="classic")
    modern = kcnn.build_model("lenet5")
    assert len(_layer_types(classic, keras.layers.AveragePooling2D)) == 2
    assert not _layer_types(classic, keras.layers.MaxPooling2D)
    assert _activations(classic) == {"tanh"}
    assert len(_layer_types(modern, keras.layers.MaxPooling2D)) == 2
    assert _activations(modern) == {"relu"}
    # 32x32 needs no padding; the 8x8 digits are padded to 32x32
    assert not any(layer.name == "lenet5_pad" for layer in modern.layers)
    digits = kcnn.build_model("lenet5", input_shape=(8, 8, 1))
    assert digits.get_layer("lenet5_pad").output.shape[1:] == (32, 32, 1)


def test_simple_cnn_flags_change_the_structure():
    deep = kcnn.build_model("simple_cnn", filters=(16, 32, 64), kernel_size=5)
    convs = _layer_types(deep, keras.layers.Conv2D)
    assert [c.filters for c in convs] == [16, 32, 64]
    assert all(c.kernel_size == (5, 5) for c in convs)
    assert deep.get_layer("simple_cnn_flatten").output.shape[1:] == (3 * 3 * 64,)
    plain = kcnn.build_model("simple_cnn", batchnorm=False, dropout=0.0)
    assert not _layer_types(plain, keras.layers.BatchNormalization)
    assert not _layer_types(plain, keras.layers.Dropout)
    assert all(c.use_bias for c in _layer_types(plain, keras.layers.Conv2D))
    default = kcnn.build_model("simple_cnn")
    assert len(_layer_types(default, keras.layers.BatchNormalization)) == 2
    assert default.get_layer("simple_cnn_dropout").rate == 0.5


def test_batchnorm_defaults_are_kcnn_momentum_and_torch_epsilon():
    for name in ("simple_cnn", "resnet20", "vgg11_cifar"):
        bns = _layer_types(kcnn.build_model(name), keras.layers.BatchNormalization)
        assert bns and all(bn.momentum == 0.9 and bn.epsilon == 1e-5 for bn in bns)


def test_mlp_structure():
    model = kcnn.build_model("mlp", hidden_units=(64, 32, 16), dropout=0.1)
    dense = _layer_types(model, keras.layers.Dense)
    assert [d.units for d in dense] == [64, 32, 16, 10]
    assert len(_layer_types(model, keras.layers.Dropout)) == 3


@pytest.mark.parametrize("depth, blocks", [(20, 9), (32, 15), (44, 21), (56, 27), (110, 54)])
def test_cifar_resnet_has_6n_plus_2_layers(depth, blocks):
    model = kcnn.build_model(f"resnet{depth}", input_shape=(16, 16, 3))
    convs = _layer_types(model, keras.layers.Conv2D)
    dense = _layer_types(model, keras.layers.Dense)
    assert len(convs) + len(dense) == depth  # option A adds no convolution
    assert len(_layer_types(model, keras.layers.Add)) == blocks
    assert len(_layer_types(model, ZeroPadShortcut)) == 2
    assert all(not c.use_bias for c in convs)


def test_imagenet_resnet_layout_matches_torchvision():
    model = kcnn.build_model("resnet18", include_top=False)
    assert model.get_layer("resnet18_stem_pool").output.shape[1:] == (56, 56, 64)
    assert model.output_shape == (None, 7, 7, 512)
    r50 = kcnn.build_model("resnet50", include_top=False, pooling="avg")
    assert r50.output_shape == (None, 2048)
    # v1.5: a bottleneck's stride sits on its 3x3 convolution
    conv1 = r50.get_layer("resnet50_stage2_block1_conv1")
    conv2 = r50.get_layer("resnet50_stage2_block1_conv2")
    assert conv1.strides == (1, 1) and conv2.strides == (2, 2)
    assert all(not c.use_bias for c in _layer_types(r50, keras.layers.Conv2D))


def test_zero_init_residual_starts_each_block_as_identity():
    model = kcnn.build_model("resnet18", input_shape=(32, 32, 3), zero_init_residual=True)
    last_bns = [layer for layer in model.layers if layer.name.endswith("_bn2")]
    assert len(last_bns) == 8
    for bn in last_bns:
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(bn.gamma), 0.0)
    other = model.get_layer("resnet18_stage1_block1_bn1")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(other.gamma), 1.0)


def test_zero_pad_shortcut_subsamples_and_pads_channels():
    x = images((6, 6, 4), n=2)
    y = keras.ops.convert_to_numpy(ZeroPadShortcut(8, 2)(x))
    assert y.shape == (2, 3, 3, 8)
    np.testing.assert_array_equal(y[..., :2], 0.0)
    np.testing.assert_array_equal(y[..., 6:], 0.0)
    np.testing.assert_array_equal(y[..., 2:6], x[:, ::2, ::2, :])
    layer = ZeroPadShortcut.from_config(ZeroPadShortcut(8, 2).get_config())
    assert (layer.filters, layer.strides) == (8, 2)


def test_strided_convolutions_pad_symmetrically_like_pytorch():
    """A stride-2 3x3 conv whose kernel picks the centre tap equals x[:, ::2, ::2]."""
    model = kcnn.build_model("resnet18", input_shape=(32, 32, 3), include_top=False)
    layer = model.get_layer("resnet18_stage2_block1_conv1")
    pad = model.get_layer("resnet18_stage2_block1_conv1_pad")
    assert pad.padding == ((1, 1), (1, 1))
    kernel = np.zeros(layer.kernel.shape, "float32")
    kernel[1, 1, np.arange(64), np.arange(64)] = 1.0
    layer.kernel.assign(kernel)
    sub = keras.Model(pad.input, layer.output)
    x = images((8, 8, 64), n=1)
    y = keras.ops.convert_to_numpy(sub(x))
    np.testing.assert_allclose(y[..., :64], x[:, ::2, ::2, :], atol=1e-6)


def test_vgg_layouts():
    imagenet = kcnn.build_model("vgg16", input_shape=(32, 32, 3), dense_units=(64, 64))
    convs = _layer_types(imagenet, keras.layers.Conv2D)
    assert len(convs) == 13 and all(c.use_bias for c in convs)
    assert not _layer_types(imagenet, keras.layers.BatchNormalization)
    cifar = kcnn.build_model("vgg16_cifar")
    assert len(_layer_types(cifar, keras.layers.BatchNormalization)) == 13
    assert [d.units for d in _layer_types(cifar, keras.layers.Dense)] == [512, 10]
    assert cifar.get_layer("vgg16_cifar_block5_pool").output.shape[1:] == (1, 1, 512)
    for depth, convs_expected in ((11, 8), (13, 10), (19, 16)):
        model = kcnn.models.build_vgg(depth, layout="cifar")
        assert len(_layer_types(model, keras.layers.Conv2D)) == convs_expected


@pytest.fixture
def channels_first():
    keras.config.set_image_data_format("channels_first")
    yield
    keras.config.set_image_data_format("channels_last")


def test_channels_first_moves_the_channel_axis(channels_first):
    model = kcnn.build_model("resnet20", input_shape=(3, 32, 32))
    assert model.get_layer("resnet20_stage3_block1_out").output.shape[1:] == (64, 8, 8)
    bns = _layer_types(model, keras.layers.BatchNormalization)
    assert all(bn.axis == 1 for bn in bns)
    assert kcnn.inspect.count_params(model)["trainable"] == 269_722
    with pytest.raises(ValueError, match=r"channels, height, width.*\(32, 32\)"):
        kcnn.build_model("resnet20", input_shape=(32, 32))
    x = images((4, 6, 6), n=2)
    y = keras.ops.convert_to_numpy(ZeroPadShortcut(8, 2)(x))
    assert y.shape == (2, 8, 3, 3)
    np.testing.assert_array_equal(y[:, 2:6], x[:, :, ::2, ::2])
    np.testing.assert_array_equal(y[:, :2], 0.0)
    data = kcnn.data.load_dataset("digits")
    assert data.input_shape == (1, 8, 8)
