"""Receptive fields: the recurrence on the lesson's exercises and kcnn's models, and the
gradient measurement that checks it, on whichever backend the suite runs."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.inspect.equivariance import equivariance_check, pooling_edge_response
from kcnn.inspect.receptive_field import (
    ReceptiveFieldTable,
    measure_receptive_field,
    receptive_field,
    receptive_field_size,
)

L = keras.layers


def _image_shape(height, width, channels):
    if keras.config.image_data_format() == "channels_last":
        return (height, width, channels)
    return (channels, height, width)


def _no_init():
    """Build models without initialising their weights: the table reads only the graph, and
    JAX would compile an initialiser per weight shape."""
    return keras.StatelessScope(initialize_variables=False)


def _graph_only(name, **kwargs):
    with _no_init():
        return kcnn.build_model(name, **kwargs)


def _convs(*layers, size=16):
    with _no_init():
        return keras.Sequential([keras.Input(_image_shape(size, size, 1)), *layers], name="chain")


def test_three_3x3_convs_see_7x7_and_a_stride_2_pool_makes_it_12():
    # r_l = r_{l-1} + (k_l - 1) * j_{l-1}, j_l = j_{l-1} * s_l, from r_0 = 1, j_0 = 1.
    # Three stride-1 3x3 convs: 1 + 2 = 3, 3 + 2 = 5, 5 + 2 = 7.
    table = receptive_field(_convs(*(L.Conv2D(2, 3, name=f"c{i}") for i in (1, 2, 3))))
    assert [row.field for row in table] == [(1, 1), (3, 3), (5, 5), (7, 7)]
    assert [row.jump for row in table] == [(1, 1)] * 4
    assert [row.output_size for row in table] == [(16, 16), (14, 14), (12, 12), (10, 10)]
    assert table.final.field == (7, 7) and table.final.start == (0, 0)
    assert table.final.centre == (3.0, 3.0)

    # A 2x2 stride-2 max pool after conv 1: conv1 3 (j 1); pool 3 + (2-1)*1 = 4, j = 2;
    # conv2 4 + (3-1)*2 = 8; conv3 8 + (3-1)*2 = 12: the pool doubles what later layers add.
    keras.backend.clear_session()
    model = _convs(L.Conv2D(2, 3, name="c1"), L.MaxPooling2D(2, name="pool"),
                   L.Conv2D(2, 3, name="c2"), L.Conv2D(2, 3, name="c3"))  # fmt: skip
    table = receptive_field(model)
    assert [row.field[0] for row in table] == [1, 3, 4, 8, 12]
    assert [row.jump[0] for row in table] == [1, 1, 2, 2, 2]
    assert table["pool"].output_size == (7, 7) and table["c3"].output_size == (3, 3)
    assert receptive_field_size(model, "c2") == (8, 8)
    # unit u of c3 sees input pixels 2u .. 2u + 11
    assert table["c3"].box((1, 2)) == (2, 4, 13, 15)


def test_kcnn_models_fields():
    table = receptive_field(_graph_only("simple_cnn"))
    assert isinstance(table, ReceptiveFieldTable) and table.input_size == (28, 28)
    fields = {name: table[f"simple_cnn_{name}"].field[0]
              for name in ("block1_conv", "block1_bn", "block1_pool", "block2_conv",
                           "block2_pool")}  # fmt: skip
    assert fields == {"block1_conv": 3, "block1_bn": 3, "block1_pool": 4, "block2_conv": 8,
                      "block2_pool": 10}  # fmt: skip
    # "same" padding starts the field of unit 0 one pixel before the image
    assert table["simple_cnn_block1_conv"].start == (-1, -1)
    assert table["simple_cnn_block2_pool"].start == (-3, -3)
    assert table["simple_cnn_block2_pool"].jump == (4, 4)
    assert table["simple_cnn_flatten"].is_global and table.final.is_global
    assert table.final.field == (28, 28) and table.final.name == "predictions"

    keras.backend.clear_session()
    # LeNet-5 on 28x28 pads to 32x32 inside: C1 5, S2 6, C3 6 + 4*2 = 14, S4 14 + 1*2 = 16.
    table = receptive_field(_graph_only("lenet5", input_shape=(28, 28, 1)))
    assert [table[f"lenet5_{n}"].field[0] for n in ("c1_conv", "s2_pool", "c3_conv", "s4_pool")] \
        == [5, 6, 14, 16]  # fmt: skip
    assert table["lenet5_pad"].padding == ((2, 2), (2, 2))
    assert table["lenet5_c1_conv"].start == (-2, -2)  # the zero padding is before pixel 0

    keras.backend.clear_session()
    # ResNet-20: stem 3, +2 per 3x3 conv at jump 1 (6 convs -> 15), then at jump 2 (-> 37),
    # then at jump 4 (-> 81); a block's output is the union of its branches.
    model = _graph_only("resnet20", input_shape=(16, 16, 3))
    table = receptive_field(model)
    expected = {"stem_conv": (3, 1), "stage1_block1_out": (7, 1), "stage1_block3_out": (15, 1),
                "stage2_block1_conv1": (17, 2), "stage2_block1_shortcut_pad": (15, 2),
                "stage2_block1_out": (21, 2), "stage2_block3_out": (37, 2),
                "stage3_block1_out": (49, 4), "stage3_block3_out": (81, 4)}  # fmt: skip
    got = {n: (table[f"resnet20_{n}"].field[0], table[f"resnet20_{n}"].jump[0]) for n in expected}
    assert got == expected
    assert table["resnet20_stage2_block1_conv1_pad"].padding == ((1, 1), (1, 1))
    assert table["resnet20_stage3_block3_out"].output_size == (4, 4)
    assert table.final.is_global and len(table) == len(model.layers)


def test_imagenet_networks_reach_the_published_fields():
    # ResNet-18: 7x7/2 stem (7), 3x3/2 max pool (11, jump 4), then 3x3 convs: 435 pixels.
    table = receptive_field(_graph_only("resnet18", input_shape=(32, 32, 3)))
    row = table["resnet18_stage4_block2_out"]
    assert row.field == (435, 435) and row.jump == (32, 32)
    assert table["resnet18_stem_pool"].field == (11, 11)
    assert table["resnet18_stem_pool"].start == (-5, -5)  # 3 pixels of padding, then 1 at jump 2
    keras.backend.clear_session()
    table = receptive_field(_graph_only("vgg16", input_shape=(32, 32, 3), dense_units=(8,)))
    assert table["vgg16_block5_pool"].field == (212, 212)
    assert table["vgg16_block5_pool"].jump == (32, 32)
    keras.backend.clear_session()
    # keras.applications graphs, against Araujo et al.'s table (Distill 2019): nested
    # branches, keras.ops additions, depthwise convolutions, asymmetric "valid" padding
    published = {"ResNet50": ("conv5_block3_out", 483), "MobileNetV2": ("out_relu", 491),
                 "InceptionV3": ("mixed10", 1311)}  # fmt: skip
    for application, (layer, field) in published.items():
        with _no_init():
            model = getattr(keras.applications, application)(
                weights=None, include_top=False, input_shape=(96, 96, 3)
            )
        assert receptive_field(model)[layer].field == (field, field), application
        keras.backend.clear_session()
    table = receptive_field(_graph_only("mlp", input_shape=(8, 8, 1), hidden_units=(4,)))
    assert all(row.is_global for row in table.rows[1:]) and table.final.field == (8, 8)


def _mixed_model():
    """Strided "same" conv on an even input, asymmetric padding in a nested model, dilation,
    separable and depthwise convs, a channel concatenation, non-square "same" pooling, cropping."""
    inputs = keras.Input(_image_shape(24, 24, 2), name="image")
    stem_in = keras.Input(_image_shape(24, 24, 2), name="stem_image")
    x = L.Conv2D(4, 3, strides=2, padding="same", name="s2same")(stem_in)
    x = L.ZeroPadding2D(((1, 0), (2, 1)), name="pad")(x)
    stem = keras.Model(stem_in, x, name="stem")
    x = L.Conv2D(4, 3, dilation_rate=2, name="dilated")(stem(inputs))
    a = L.SeparableConv2D(4, 3, padding="same", name="sep")(x)
    b = L.DepthwiseConv2D((1, 3), padding="same", name="dw")(x)
    x = L.Concatenate(axis=-1 if keras.config.image_data_format() == "channels_last" else 1,
                      name="cat")([a, b])  # fmt: skip
    x = L.Activation("tanh", name="tanh")(x)
    x = L.AveragePooling2D((3, 2), strides=2, padding="same", name="avg")(x)
    x = L.Cropping2D(((1, 0), (0, 1)), name="crop")(x)
    return keras.Model(inputs, x, name="mixed")


def test_strides_padding_dilation_merges_and_nesting():
    with _no_init():
        model = _mixed_model()
    table = receptive_field(model)
    # s2same: 24 -> 12, "same" pads (12-1)*2 + 3 - 24 = 1 pixel, all after: start 0.
    assert table["stem/s2same"].field == (3, 3) and table["stem/s2same"].start == (0, 0)
    assert table["s2same"] is table["stem/s2same"]  # unique suffix lookup
    # pad adds 1 row and 2 columns before pixel 0 at jump 2
    assert table["pad"].start == (-2, -4) and table["pad"].output_size == (13, 15)
    assert table["stem"].field == (3, 3) and table["stem"].start == (-2, -4)
    # dilation 2 makes the 3x3 kernel 5x5: 3 + 4 * 2 = 11
    assert table["dilated"].field == (11, 11) and table["dilated"].output_size == (9, 11)
    assert table["sep"].field == (15, 15) and table["sep"].start == (-4, -6)
    assert table["dw"].field == (11, 15) and table["dw"].kernel == (1, 3)
    # the union of both branches: rows -4..10, columns -6..8
    assert table["cat"].field == (15, 15) and table["cat"].start == (-4, -6)
    # pooling (3, 2) stride 2 "same" on 9x11: 1 row before, 0 columns before
    assert table["avg"].field == (19, 17) and table["avg"].start == (-6, -6)
    assert table["avg"].jump == (4, 4) and table["avg"].output_size == (5, 6)
    assert table["crop"].start == (-2, -6) and table["crop"].output_size == (4, 5)
    assert table["crop"].padding == ((-1, 0), (0, -1)) and table["crop"].field == (19, 17)
    text = str(table)
    assert "19x17" in text and "1x3" in text and "(-1,0),(0,-1)" in text and "stem/pad" in text
    assert text.splitlines()[0].split()[:3] == ["layer", "kind", "kernel"]
    assert len({len(line) for line in text.splitlines()[:2]}) == 1  # header and rule align
    markdown = table.to_markdown()
    assert markdown.count("\n") == len(table) + 1 and "| avg | AveragePooling2D | 3x2 |" in markdown
    assert [row.name for row in table][:4] == ["image", "stem/s2same", "stem/pad", "stem"]
    assert "'mixed'" in repr(table) and "final field 19x17" in repr(table)


@pytest.mark.parametrize(
    "build, layers",
    [
        (lambda: kcnn.build_model("simple_cnn", include_top=False, filters=(8, 8)),
         ("simple_cnn_block1_conv", "simple_cnn_block2_pool")),
        (lambda: kcnn.build_model("lenet5", input_shape=(28, 28, 1), include_top=False),
         ("lenet5_s2_pool", "lenet5_s4_pool")),
        (lambda: kcnn.build_model("resnet20", input_shape=(64, 64, 3), include_top=False),
         ("resnet20_stage1_block1_out", "resnet20_stage2_block1_out",
          "resnet20_stage3_block1_out")),
    ],
    ids=["simple_cnn", "lenet5", "resnet20"],
)  # fmt: skip
def test_measured_field_equals_computed(build, layers):
    model = build()
    table = receptive_field(model)
    for layer in layers:
        measured = measure_receptive_field(model, layer)
        top, left, bottom, right = table[layer].box(measured.unit)
        # an interior unit: its whole computed field lies inside the image
        assert top >= 0 and left >= 0
        assert bottom < table.input_size[0] and right < table.input_size[1]
        assert measured.size == table[layer].field, str(measured)
        assert measured.box == (top, left, bottom, right), str(measured)
        assert measured.matches and "match" in str(measured)


def test_measured_field_with_padding_dilation_merges_and_borders():
    model = _mixed_model()
    measured = measure_receptive_field(model, "avg")  # unit (2, 3): rows 2..20, columns 6..22
    assert measured.unit == (2, 3) and measured.box == (2, 6, 20, 22) and measured.matches
    assert measured.size == (19, 17) == measured.computed_size
    measured = measure_receptive_field(model, "crop", unit=(0, 0), seed=1)
    # the computed field of unit 0 starts 2 rows and 6 columns before the image: clipped
    assert measured.computed_box == (0, 0, 16, 10) and measured.box == measured.computed_box
    assert measured.size == (17, 11) and measured.gradient.shape == (24, 24)
    assert (measured.gradient[17:] == 0).all() and (measured.gradient[:, 11:] == 0).all()
    assert measured.gradient[:17, :11].any(axis=0).all()


def test_input_shape_for_models_without_a_fixed_size():
    with _no_init():
        inputs = keras.Input(_image_shape(None, None, 1))
        x = L.Conv2D(2, 3, strides=2, padding="same", name="down")(inputs)
        model = keras.Model(inputs, L.Conv2D(2, 3, padding="same", name="c")(x))
    with pytest.raises(ValueError, match="Pass input_shape"):
        receptive_field(model)
    even = receptive_field(model, input_shape=_image_shape(8, 8, 1))
    odd = receptive_field(model, input_shape=_image_shape(9, 9, 1))
    assert even["down"].start == (0, 0) and odd["down"].start == (-1, -1)
    assert even["c"].field == odd["c"].field == (7, 7)
    with pytest.raises(ValueError, match="input_shape must be a tuple of 3 positive integers"):
        receptive_field(model, input_shape=(8, 8))
    keras.backend.clear_session()
    fixed = _convs(L.Conv2D(2, 3))
    with pytest.raises(ValueError, match=r"input_shape must agree with the model's input shape"):
        receptive_field(fixed, input_shape=_image_shape(32, 32, 1))


class _Scale(keras.layers.Layer):
    """A per-pixel layer that receptive_field cannot know about."""

    def call(self, x):
        return 2.0 * x


def test_custom_elementwise_layers_and_keras_ops():
    with _no_init():
        inputs = keras.Input(_image_shape(16, 16, 1))
        x = L.Conv2D(2, 3, name="c1")(inputs)
        x = _Scale(name="my_scale")(x)
        y = L.Conv2D(2, 3, padding="same", name="c2")(x)
        model = keras.Model(inputs, keras.ops.relu(x + y))  # keras.ops, not layers
    with pytest.raises(ValueError, match=r"'my_scale' \(_Scale\).*elementwise="):
        receptive_field(model)
    for elementwise in ([_Scale], ["_Scale"], ["my_scale"]):
        table = receptive_field(model, elementwise=elementwise)
        assert table["my_scale"].field == (3, 3) and table.final.field == (5, 5)
        assert [row.kind for row in table][-2:] == ["Add", "Relu"]
    with pytest.raises(TypeError, match="elementwise must be a list"):
        receptive_field(model, elementwise="my_scale")


def test_errors_name_the_layer_and_the_problem():
    with pytest.raises(ValueError, match=r"'up' \(UpSampling2D\)"):
        receptive_field(_convs(L.Conv2D(2, 3), L.UpSampling2D(name="up")))
    keras.backend.clear_session()
    with _no_init():
        inputs = keras.Input(_image_shape(8, 8, 1))
        strided = L.Conv2D(2, 2, strides=2, name="strided")(inputs)
        wide = L.Conv2D(2, 5, name="wide")(inputs)  # also 4x4, but at jump 1
    with pytest.raises(ValueError, match=r"'add' \(Add\) merges inputs whose jumps differ"):
        receptive_field(keras.Model(inputs, L.Add(name="add")([strided, wide])))
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        receptive_field("resnet20")

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="has no inputs yet|subclassed"):
        receptive_field(Subclassed())
    table = receptive_field(_convs(L.Conv2D(2, 3, name="conv_a")))
    with pytest.raises(KeyError, match="Close matches: \\['conv_a'\\]"):
        table["conv_b"]


def test_measure_rejects_bad_arguments():
    model = _graph_only("simple_cnn", input_shape=(16, 16, 1))
    with pytest.raises(ValueError, match="trials must be an integer >= 1. Received: trials=0"):
        measure_receptive_field(model, "simple_cnn_block1_conv", trials=0)
    with pytest.raises(ValueError, match="sees the whole input|whose output is a feature map"):
        measure_receptive_field(model, "simple_cnn_flatten")
    with pytest.raises(ValueError, match=r"unit must be \(row, column\) inside the 8x8 output"):
        measure_receptive_field(model, "simple_cnn_block1_pool", unit=(8, 0))
    with pytest.raises(ValueError, match="layer_name must name a layer"):
        measure_receptive_field(model, "simple_cnn_block9_conv")


# --------------------------------------------------------------------- equivariance, pooling


def _object_on_black(size=24, channels=2, seed=0):
    """Random content in the middle of a black image, 8 pixels from every edge."""
    image = np.zeros(_image_shape(size, size, channels), "float32")
    content = np.random.default_rng(seed).uniform(size=_image_shape(8, 8, channels))
    if keras.config.image_data_format() == "channels_last":
        image[8:16, 8:16] = content
    else:
        image[:, 8:16, 8:16] = content
    return image


def test_convolution_is_equivariant_and_global_pooling_invariant():
    conv = L.Conv2D(4, 3, padding="same", bias_initializer="random_normal")
    result = equivariance_check(conv, _object_on_black(), shift=(2, 3))
    assert result.output_shift == (2, 3)
    # rows 3..22 and columns 4..22: fields inside the image in both frames
    assert result.compared == 20 * 19
    assert result.equivariance_error < 1e-5 and result.relative_equivariance_error < 1e-5
    assert result.shift_change > 0.1  # the output did move: the check could fail
    assert result.invariance_error < 1e-5 and result.relative_invariance_error < 1e-5
    assert "output shifted by (2, 3)" in str(result) and "interior positions" in str(result)

    # content up to the edges: still equivariant inside, but pooling sees the borders
    full = np.random.default_rng(1).uniform(size=_image_shape(24, 24, 2)).astype("float32")
    result = equivariance_check(conv, full[None], shift=-2)
    assert result.shift == (-2, -2) and result.equivariance_error < 1e-5
    assert result.relative_invariance_error > 1e-3


def test_equivariance_through_a_strided_model():
    model = kcnn.build_model("simple_cnn", include_top=False, filters=(8, 8))
    image = np.zeros((28, 28, 1), "float32")
    image[10:18, 9:19] = np.random.default_rng(0).uniform(size=(8, 10, 1))
    result = equivariance_check(model, image, shift=(4, -4), layer_name="simple_cnn_block2_pool")
    assert result.output_shift == (1, -1) and result.compared > 0
    assert result.equivariance_error < 1e-5 and result.shift_change > 0.01
    assert result.invariance_error < 1e-5
    with pytest.raises(ValueError, match=r"shift must be a multiple of the total stride \(4, 4\)"):
        equivariance_check(model, image, shift=(2, 3), layer_name="simple_cnn_block2_pool")
    # without layer_name: the model's first Conv2D on its own
    assert equivariance_check(model, image).output_shift == (2, 3)
    with pytest.raises(ValueError, match="layer_name must name a layer"):
        equivariance_check(model, image, layer_name="nope")


def test_equivariance_check_rejects_bad_input():
    conv = L.Conv2D(2, 3)
    with pytest.raises(ValueError, match=r"image must be one image of rank 3.*\(24, 24\)"):
        equivariance_check(conv, np.zeros((24, 24)))
    image = _object_on_black()
    with pytest.raises(ValueError, match=r"shift must be smaller than the image \(24x24\).*"
                                         r"shift=\(24, 0\)"):  # fmt: skip
        equivariance_check(conv, image, shift=(24, 0))
    with pytest.raises(ValueError, match="shift must be two integers"):
        equivariance_check(conv, image, shift=(1.5, 2))
    with pytest.raises(ValueError, match="No output position"):
        equivariance_check(conv, image, shift=(23, 0))
    with pytest.raises(TypeError, match="layer_or_model must be a keras Layer or Model"):
        equivariance_check("conv", image)


def test_max_pooling_keeps_a_thin_line_and_average_pooling_dilutes_it():
    response = pooling_edge_response(size=8, pool_size=2)
    assert response.positions.tolist() == list(range(8))
    np.testing.assert_array_equal(response.max_peak, np.ones(8))
    np.testing.assert_array_equal(response.avg_peak, np.full(8, 0.5))
    for p, max_map, avg_map in zip(response.positions, response.max_pooled, response.avg_pooled):
        expected = np.zeros((4, 4))
        expected[:, p // 2] = 1.0  # the window holding column p, on every row
        np.testing.assert_array_equal(max_map, expected)
        np.testing.assert_array_equal(avg_map, expected / 2)
    assert response.images[3, :, 3].tolist() == [1.0] * 8 and response.images[3].sum() == 8
    # a line as wide as the window: the average depends on its alignment, the max does not
    wide = pooling_edge_response(size=8, pool_size=2, line_width=2)
    np.testing.assert_array_equal(wide.avg_peak, [1.0, 0.5, 1.0, 0.5, 1.0, 0.5, 1.0])
    np.testing.assert_array_equal(wide.max_peak, np.ones(7))
    np.testing.assert_array_equal(wide.avg_pooled[1, 0], [0.5, 0.5, 0.0, 0.0])
    third = pooling_edge_response(size=6, pool_size=3)
    np.testing.assert_allclose(third.avg_peak, np.full(6, 1 / 3), rtol=1e-6)
    assert "column  1: max [1. 0. 0. 0.]" in str(response)
    with pytest.raises(ValueError, match="pool_size must be at most size=4. Received: pool_size=5"):
        pooling_edge_response(size=4, pool_size=5)
    with pytest.raises(ValueError, match="line_width must be an integer >= 1"):
        pooling_edge_response(line_width=0)
