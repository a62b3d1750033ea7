"""Parameters per layer, and the lesson's dense-versus-convolution comparison."""

import keras
import pytest

import kcnn
from kcnn.inspect.counts import count_params, dense_vs_conv, param_report


def _no_init():
    """Counting reads only the weights' shapes: skip initialising them (slow on JAX)."""
    return keras.StatelessScope(initialize_variables=False)


def test_param_report_rows_and_totals_for_lenet5():
    with _no_init():
        model = kcnn.build_model("lenet5")
    report = param_report(model)
    trainable = {row.name: row.trainable for row in report if row.trainable}
    # the module docstring's table: C1, C3, F5, F6, output
    assert trainable == {"lenet5_c1_conv": 156, "lenet5_c3_conv": 2416,
                         "lenet5_f5_dense": 48120, "lenet5_f6_dense": 10164,
                         "predictions": 850}  # fmt: skip
    assert report.trainable == 61706 == sum(row.trainable for row in report)
    assert (report.trainable, report.non_trainable, report.total) == tuple(
        count_params(model)[k] for k in ("trainable", "non_trainable", "total")
    )
    assert report["lenet5_c1_conv"].output_shape == (28, 28, 6)
    assert report["lenet5_flatten"].output_shape == (400,)
    assert report["lenet5_c1_conv"].kind == "Conv2D" and report["lenet5_s2_pool"].total == 0
    assert len(report) == len(model.layers)
    text = str(report)
    assert "lenet5_f5_dense" in text and "48,120" in text and "61,706" in text
    assert "78.0%" in text  # F5 holds 48,120 / 61,706 of the parameters
    lines = text.splitlines()
    assert lines[0].startswith("layer") and lines[-1].startswith("total")
    markdown = report.to_markdown()
    assert "| lenet5\\_f5\\_dense | Dense | (120) | 48,120 | 0 | 78.0% |" in markdown
    assert markdown.splitlines()[-1] == "| **total** | | | **61,706** | **0** | 100.0% |"
    assert "ParamReport('lenet5'" in repr(report)
    with pytest.raises(KeyError, match="No layer named 'c9'"):
        report["c9"]


def test_param_report_non_trainable_frozen_and_nested():
    with _no_init():
        inputs = keras.Input((8, 8, 3), name="inner_image")
        x = keras.layers.Conv2D(4, 3, name="conv")(inputs)  # 3*3*3*4 + 4 = 112
        x = keras.layers.BatchNormalization(name="bn")(x)  # gamma, beta 8; moving mean, var 8
        backbone = keras.Model(inputs, x, name="backbone")
        backbone.trainable = False
        outer_in = keras.Input((8, 8, 3), name="image")
        y = keras.layers.GlobalAveragePooling2D(name="gap")(backbone(outer_in))
        y = keras.layers.Dense(2, name="head")(y)  # 4*2 + 2 = 10
        model = keras.Model(outer_in, y, name="transfer")
    report = param_report(model)
    assert [(r.name, r.trainable, r.non_trainable) for r in report] == [
        ("image", 0, 0), ("backbone", 0, 128), ("gap", 0, 0), ("head", 10, 0)
    ]  # fmt: skip
    assert report["backbone"].kind == "Functional"
    assert report["backbone"].output_shape == (6, 6, 4)
    assert (report.trainable, report.non_trainable, report.total) == (10, 128, 138)
    assert count_params(model) == {"trainable": 10, "non_trainable": 128, "total": 138}
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        param_report("lenet5")


def test_dense_vs_conv_on_a_224_image():
    comparison = dense_vs_conv()
    assert comparison.inputs == 224 * 224 * 3 == 150_528
    assert comparison.dense_weights == 150_528_000 and comparison.dense_biases == 1000
    assert comparison.dense_params == 150_529_000
    assert comparison.conv_weights == 3 * 3 * 3 * 64 == 1728 and comparison.conv_biases == 64
    assert comparison.conv_params == 1792
    assert comparison.ratio == pytest.approx(150_529_000 / 1792)
    assert round(comparison.ratio) == 84_001
    text = str(comparison)
    assert "150,529,000" in text and "1,792" in text and "84,001x" in text
    # the conv layer's count does not depend on the image size; the dense layer's does
    small = dense_vs_conv((28, 28, 1), units=128, filters=32, kernel_size=(5, 3))
    assert small.dense_params == 784 * 128 + 128 and small.conv_params == 5 * 3 * 32 + 32
    assert small.kernel_size == (5, 3)
    # the same numbers as Keras' own layers
    dense, conv = keras.layers.Dense(128), keras.layers.Conv2D(32, (5, 3))
    with _no_init():
        dense.build((None, 784))
        channels_last = keras.config.image_data_format() == "channels_last"
        conv.build((None, 28, 28, 1) if channels_last else (None, 1, 28, 28))
    assert (dense.count_params(), conv.count_params()) == (small.dense_params, small.conv_params)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_shape": (224, 224)}, r"image_shape must be 3 positive integers\. "
                                      r"Received: image_shape=\(224, 224\)"),
        ({"units": 0}, r"units must be a positive integer\. Received: units=0"),
        ({"filters": 2.5}, r"filters must be a positive integer\. Received: filters=2.5"),
        ({"kernel_size": (3, 0)}, r"kernel_size must be 2 positive integers"),
        ({"kernel_size": True}, r"kernel_size must be 2 positive integers"),
    ],
)  # fmt: skip
def test_dense_vs_conv_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dense_vs_conv(**kwargs)


def test_count_flops_counts_the_multiply_adds_of_convolutions_and_dense_layers():
    from kcnn.inspect import count_flops

    with _no_init():
        lenet = kcnn.build_model("lenet5", input_shape=(28, 28, 1))  # padded to 32x32 inside
        resnet = kcnn.build_model("resnet20", input_shape=(32, 32, 3))
    # c1: 28*28 pixels * 5*5*1 * 6; c3: 10*10 * 5*5*6 * 16; f5, f6, predictions: 400*120,
    # 120*84, 84*10 multiply-adds; 2 FLOPs each.
    macs = 28 * 28 * 25 * 6 + 10 * 10 * 25 * 6 * 16 + 400 * 120 + 120 * 84 + 84 * 10
    assert count_flops(lenet) == 2 * macs == 833_040
    # He et al.'s CIFAR ResNet-20: about 41 million multiply-adds.
    assert 40e6 < count_flops(resnet) / 2 < 42e6
    inputs = keras.Input((8, 8, 4))
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(inputs)
    x = keras.layers.Conv2D(6, 1, groups=2)(x)
    model = keras.Model(inputs, keras.layers.Dense(5)(x))
    assert count_flops(model) == 2 * (64 * 9 * 4 * 2 + 64 * 4 * 6 + 64 * 6 * 5)
