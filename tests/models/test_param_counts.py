"""Parameter counts equal the published references exactly."""

import pytest

import kcnn
from kcnn.inspect import count_params

from .small import DEEP

REFERENCE_COUNTS = [
    # name, kwargs, trainable parameters, where the number comes from
    ("lenet5", {}, 61_706, "LeCun 1998 (C1 156 + C3 2,416 + F5 48,120 + F6 10,164 + 850)"),
    ("resnet20", {}, 269_722, "He et al. 2016, option A, 10 classes"),
    ("resnet32", {}, 464_154, "He et al. 2016, option A, 10 classes"),
    ("resnet44", {}, 658_586, "He et al. 2016, option A, 10 classes"),
    ("resnet56", {}, 853_018, "He et al. 2016, option A, 10 classes"),
    ("resnet110", {}, 1_727_962, "He et al. 2016, option A, 10 classes"),
    ("resnet18", {"num_classes": 1000}, 11_689_512, "torchvision resnet18"),
    ("resnet34", {"num_classes": 1000}, 21_797_672, "torchvision resnet34"),
    ("resnet50", {"num_classes": 1000}, 25_557_032, "torchvision resnet50"),
    ("vgg11", {"num_classes": 1000}, 132_863_336, "torchvision vgg11"),
    ("vgg13", {"num_classes": 1000}, 133_047_848, "torchvision vgg13"),
    ("vgg16", {"num_classes": 1000}, 138_357_544, "keras.applications.VGG16"),
    ("vgg19", {"num_classes": 1000}, 143_667_240, "keras.applications.VGG19"),
]


@pytest.mark.parametrize(
    "name, kwargs, expected, source",
    [pytest.param(*r, marks=pytest.mark.rotate) if r[0] in DEEP else r for r in REFERENCE_COUNTS],
    ids=[r[0] for r in REFERENCE_COUNTS],
)
def test_trainable_parameters_match_reference(name, kwargs, expected, source):
    counts = count_params(kcnn.build_model(name, **kwargs))
    assert counts["trainable"] == expected, source


def test_lenet5_counts_hold_for_padded_28x28_and_both_variants():
    for variant in ("classic", "modern"):
        model = kcnn.build_model("lenet5", input_shape=(28, 28, 1), variant=variant)
        assert count_params(model)["trainable"] == 61_706


def test_shortcut_b_adds_exactly_the_projection_parameters():
    a = count_params(kcnn.build_model("resnet20", shortcut="A"))["trainable"]
    b = count_params(kcnn.build_model("resnet20", shortcut="B"))["trainable"]
    # two projections: 16->32 and 32->64 1x1 convs, each followed by BN (gamma, beta)
    assert b - a == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


def test_simple_cnn_count_follows_its_flags():
    # conv 3*3*1*32 + BN 2*32, conv 3*3*32*64 + BN 2*64, dense 3136*128+128, out 128*10+10
    expected = 288 + 64 + 18_432 + 128 + 3136 * 128 + 128 + 1290
    assert count_params(kcnn.build_model("simple_cnn"))["trainable"] == expected
    # without BatchNorm the convolutions regain their biases and lose gamma/beta
    no_bn = expected - 64 - 128 + 32 + 64
    model = kcnn.build_model("simple_cnn", batchnorm=False)
    assert count_params(model)["trainable"] == no_bn
