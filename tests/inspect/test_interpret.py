"""Filters, feature maps, Grad-CAM, the confusion matrix of a model, and the top losses.

Every plot is checked as a file (a PNG of the expected orientation that is not blank) and as
the returned Figure; Grad-CAM is checked against the closed form of a linear head and for
localising the object that decides the class in a model trained for a few seconds.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from matplotlib.figure import Figure

import kcnn
from kcnn.data.datasets import Dataset
from kcnn.inspect.cam import grad_cam, plot_grad_cam
from kcnn.inspect.features import plot_feature_maps, plot_filters
from kcnn.inspect.interpret import (
    Interpretation,
    TopLosses,
    confusion_matrix_plot,
    plot_top_losses,
    top_losses,
)
from tests.conftest import images


def _check_plot(fig, path, orientation: str):
    """The call returned a Figure and wrote a real PNG at ``path``, wider or taller as said."""
    import matplotlib.image

    assert isinstance(fig, Figure)
    picture = matplotlib.image.imread(path)
    height, width = picture.shape[:2]
    assert min(height, width) > 200
    assert picture[..., :3].std() > 0.05  # not blank
    if orientation == "wide":
        assert width > 1.2 * height
    elif orientation == "tall":
        assert height > 1.05 * width
    else:
        assert 0.6 < width / height < 1.7
    assert not list(path.parent.glob("*.tmp.png"))


def _tiny_cnn(input_shape=(12, 12, 1), num_classes=3, activation="softmax", name="tiny"):
    """conv(relu) -> GAP -> dense: the head is linear in the feature map."""
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="features")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(num_classes, activation=activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def _small_dataset(n=40, num_classes=3, shape=(12, 12, 1), seed=0) -> Dataset:
    rng = np.random.default_rng(seed)
    x = images(shape, n, seed)
    y = rng.integers(0, num_classes, n).astype("int32")
    empty_x, empty_y = np.zeros((0, *shape), "float32"), np.zeros((0,), "int32")
    return Dataset(
        "tiny", x, y, empty_x, empty_y, x[: n // 2], y[: n // 2],
        class_names=tuple(f"c{i}" for i in range(num_classes)),
    )  # fmt: skip


@pytest.fixture(scope="module")
def simple_cnn():
    """One SimpleCNN for the module: building models is the slow part on JAX."""
    keras.utils.set_random_seed(0)
    return kcnn.build_model("simple_cnn")


# --- filters -----------------------------------------------------------------------------------


def test_plot_filters_grayscale_rgb_nested_and_errors(simple_cnn, tmp_path):
    import matplotlib.pyplot as plt

    open_before = plt.get_fignums()
    model = simple_cnn
    fig = plot_filters(model, path=tmp_path / "f.png")
    _check_plot(fig, tmp_path / "f.png", "square")
    assert "simple_cnn_block1_conv" in fig.get_suptitle()
    assert "3x3x1x32" in fig.get_suptitle()
    shown = [ax for ax in fig.axes if ax.get_visible() and ax.images and ax.get_title()]
    assert len(shown) == 32

    fig = plot_filters(model, "simple_cnn_block2_conv", max_filters=10)
    assert "10 of 64 filters" in fig.get_suptitle()
    assert "mean over 32 input channels" in fig.get_suptitle()
    assert len([ax for ax in fig.axes if ax.get_visible() and ax.get_title()]) == 10

    # RGB kernels inside a nested backbone: found by walking into the sub-model.
    backbone = _tiny_cnn((10, 10, 3), name="backbone")
    outer = keras.Sequential([keras.Input((10, 10, 3)), backbone, keras.layers.Dense(2)])
    fig = plot_filters(outer, path=tmp_path / "rgb.png")
    _check_plot(fig, tmp_path / "rgb.png", "square")
    assert "features" in fig.get_suptitle() and "RGB" in fig.get_suptitle()
    cell = fig.axes[0].images[0].get_array()
    assert cell.shape == (3, 3, 3) and cell.min() == 0.0 and cell.max() == 1.0

    convs = r"Conv2D layers: \['simple_cnn_block1_conv', 'simple_cnn_block2_conv'\]"
    with pytest.raises(
        ValueError, match=r"'simple_cnn_block1_bn' is a BatchNormalization.*" + convs
    ):
        plot_filters(model, "simple_cnn_block1_bn")
    with pytest.raises(ValueError, match="'nope' is not a layer of the model"):
        plot_filters(model, "nope")
    with pytest.raises(ValueError, match="max_filters must be an integer >= 1"):
        plot_filters(model, max_filters=0)
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        plot_filters("simple_cnn")
    assert plt.get_fignums() == open_before  # nothing registered with pyplot


# --- feature maps ------------------------------------------------------------------------------


def test_plot_feature_maps_defaults_explicit_layers_and_errors(simple_cnn, tmp_path):
    model = simple_cnn
    image = images((28, 28, 1), 1)
    fig = plot_feature_maps(model, image[0], path=tmp_path / "fm.png")
    _check_plot(fig, tmp_path / "fm.png", "wide")
    titles = [sub.get_suptitle() for sub in fig.subfigs]
    assert titles[0].startswith("input (28, 28, 1)")
    assert titles[1].startswith("simple_cnn_block1_relu: 28x28x32, the 16 most active")
    assert titles[2].startswith("simple_cnn_block2_relu: 14x14x64")
    assert len(titles) == 3

    # Explicit layers, a batch axis of 1, and all channels when there are few of them.
    fig = plot_feature_maps(
        model, image, layers=["simple_cnn_block1_pool"], path=tmp_path / "one.png", max_channels=4
    )
    rows = fig.subfigs[1].axes
    shown = [ax for ax in rows if ax.get_visible()]
    assert len(shown) == 4 and "the 4 most active channels" in fig.subfigs[1].get_suptitle()
    # The shown maps are the layer's real activations for this image.
    pool = keras.Model(model.inputs[0], model.get_layer("simple_cnn_block1_pool").output)
    expected = keras.ops.convert_to_numpy(pool(image, training=False))[0]
    channel = int(shown[0].get_title().lstrip("#"))
    np.testing.assert_allclose(shown[0].images[0].get_array(), expected[..., channel], atol=1e-5)

    with pytest.raises(ValueError, match="'simple_cnn_dense' outputs"):
        plot_feature_maps(model, image, layers="simple_cnn_dense")
    with pytest.raises(ValueError, match="must be a single image"):
        plot_feature_maps(model, images((28, 28, 1), 2))
    with pytest.raises(ValueError, match=r"image must be one image shaped \(28, 28, 1\)"):
        plot_feature_maps(model, images((32, 32, 3), 1)[0])


# --- Grad-CAM ----------------------------------------------------------------------------------


def test_grad_cam_is_the_class_activation_map_for_a_linear_head():
    """With conv -> GAP -> dense, d logit_c / d A_k(i, j) = W[k, c] / (h w), so Grad-CAM is
    relu(sum_k W[k, c] A_k) scaled to max 1 (Zhou et al.'s CAM); a softmax on top is skipped,
    so the map is the same as for the logits twin."""
    softmax = _tiny_cnn(activation="softmax")
    logits = _tiny_cnn(activation=None)
    logits.set_weights(softmax.get_weights())
    x = images((12, 12, 1), 3, seed=1)
    features = keras.Model(softmax.inputs[0], softmax.get_layer("features").output)
    maps = keras.ops.convert_to_numpy(features(x, training=False))
    kernel = keras.ops.convert_to_numpy(softmax.get_layer("predictions").kernel)
    nonzero = 0
    for c in range(3):
        cam = np.maximum(maps @ kernel[:, c], 0)
        peak = cam.max(axis=(1, 2), keepdims=True)
        cam = np.where(peak > 0, cam / np.where(peak > 0, peak, 1), 0)  # no evidence: all 0
        nonzero += int((peak > 0).sum())
        got = grad_cam(softmax, x, class_index=c)
        assert got.shape == (3, 12, 12) and got.dtype == np.float32
        np.testing.assert_allclose(got, cam, atol=1e-5)
        np.testing.assert_allclose(grad_cam(logits, x, class_index=c), cam, atol=1e-5)
    assert nonzero >= 3
    # Default class: the predicted one; one image without a batch axis gives one map.
    predicted = int(np.argmax(keras.ops.convert_to_numpy(softmax(x[:1]))))
    np.testing.assert_allclose(grad_cam(softmax, x[0]), grad_cam(softmax, x[0], predicted))
    assert grad_cam(softmax, x[0]).shape == (12, 12)


def test_grad_cam_and_feature_maps_through_a_nested_backbone(tmp_path):
    """A transfer-style model: a nested backbone (a keras.Model used as a layer) gives the
    feature map. The backbone's own ``.output`` belongs to its inner graph; the outer
    graph's tensor must be used, and the map is again the closed-form CAM."""
    inputs = keras.Input((12, 12, 1))
    conv = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    backbone = keras.Model(inputs, conv, name="backbone")
    outer_in = keras.Input((12, 12, 1))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(backbone(outer_in))
    model = keras.Model(outer_in, keras.layers.Dense(3, activation="softmax")(x), name="outer")
    x = images((12, 12, 1), 2, seed=2)
    maps = keras.ops.convert_to_numpy(backbone(x))
    kernel = keras.ops.convert_to_numpy(model.layers[-1].kernel)
    for c in range(3):
        cam = np.maximum(maps @ kernel[:, c], 0)
        peak = cam.max(axis=(1, 2), keepdims=True)
        cam = np.where(peak > 0, cam / np.where(peak > 0, peak, 1), 0)
        np.testing.assert_allclose(grad_cam(model, x, class_index=c), cam, atol=1e-5)
    fig = plot_grad_cam(model, x[0])
    assert fig.get_suptitle() == "Grad-CAM at layer backbone"
    fig = plot_feature_maps(model, x[0], path=tmp_path / "fm.png")
    assert fig.subfigs[1].get_suptitle().startswith("backbone: 12x12x4, all channels")


def _blob_task(n, seed, size=24):
    """Class 0: a vertical 8x2 bar, class 1: a horizontal 2x8 bar, in a random half of the
    image; the other half holds a 4x4 square of the same brightness that says nothing."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.15, (n, size, size, 1)).astype("float32")
    y = rng.integers(0, 2, n).astype("int32")
    side = rng.integers(0, 2, n)  # 0: the bar is in the left half
    half = size // 2
    for i in range(n):
        h, w = (8, 2) if y[i] == 0 else (2, 8)
        r, c = rng.integers(1, size - h - 1), rng.integers(1, half - w - 1) + side[i] * half
        x[i, r : r + h, c : c + w] = 1.0
        r, c = rng.integers(1, size - 5), rng.integers(1, half - 5) + (1 - side[i]) * half
        x[i, r : r + 4, c : c + 4] = 1.0
    return x, y, side


@pytest.fixture(scope="module")
def blob_model():
    keras.utils.set_random_seed(0)
    x, y, _ = _blob_task(600, seed=0)
    inputs = keras.Input((24, 24, 1))
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inputs)
    h = keras.layers.MaxPooling2D(2, name="pool")(h)
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="features")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    outputs = keras.layers.Dense(2, activation="softmax", name="predictions")(h)
    model = keras.Model(inputs, outputs, name="blob_cnn")
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=64, epochs=5, verbose=0)
    return model


def test_grad_cam_points_at_the_object_that_decides_the_class(blob_model, tmp_path):
    x, y, side = _blob_task(64, seed=1)
    predicted = np.argmax(keras.ops.convert_to_numpy(blob_model(x, training=False)), axis=-1)
    right = predicted == y
    assert right.mean() > 0.9  # the model learned the task
    cams = grad_cam(blob_model, x)  # default layer: "features", the last conv map
    assert cams.shape == (64, 24, 24) and cams.min() >= 0 and cams.max() <= 1
    np.testing.assert_allclose(cams.max(axis=(1, 2)), 1.0, atol=1e-6)
    left = cams[:, :, :12].sum(axis=(1, 2)) / cams.sum(axis=(1, 2))
    in_object_half = np.where(side == 0, left, 1 - left)[right]
    assert in_object_half.mean() > 0.6, in_object_half
    assert (in_object_half > 0.5).mean() > 0.9, in_object_half

    fig = plot_grad_cam(blob_model, x[:2], path=tmp_path / "gc.png", class_names=["|", "-"])
    _check_plot(fig, tmp_path / "gc.png", "square")
    assert fig.get_suptitle() == "Grad-CAM at layer features"
    titles = [ax.get_title() for ax in fig.axes[:3]]
    name = "|" if predicted[0] == 0 else "-"
    assert titles[0].startswith(f"predicted {name}\np = ")
    assert titles[1].startswith(f"Grad-CAM for {name}") and titles[2] == "overlay"
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), cams[0], atol=1e-5)


def test_grad_cam_on_simple_cnn_and_resnet20_and_bad_layers(simple_cnn, tmp_path):
    model = simple_cnn
    x = images((28, 28, 1), 2)
    cams = grad_cam(model, x)
    assert cams.shape == (2, 28, 28) and cams.min() >= 0 and cams.max() <= 1
    # default: the last block's activation, not the pooled map after it
    fig = plot_grad_cam(model, x[0], path=tmp_path / "s.png")
    _check_plot(fig, tmp_path / "s.png", "wide")
    assert fig.get_suptitle() == "Grad-CAM at layer simple_cnn_block2_relu"
    cam = grad_cam(model, x[0], class_index=3, layer="simple_cnn_block1_pool")
    assert cam.shape == (28, 28) and 0 <= cam.min() and cam.max() <= 1

    resnet = kcnn.build_model("resnet20")
    x = images((32, 32, 3), 2)
    cams = grad_cam(resnet, x, class_index=[1, 7], layer="resnet20_stage2_block3_out")
    assert cams.shape == (2, 32, 32) and cams.min() >= 0 and cams.max() <= 1
    assert cams.max() == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match=r"'resnet20_stage3_block3_conv1' cannot explain.*"
                       r"whose output alone determines the predictions.*"
                       r"resnet20_stage3_block3_out"):  # fmt: skip
        grad_cam(resnet, x, layer="resnet20_stage3_block3_conv1")
    with pytest.raises(ValueError, match="needs a 4-D|4-D \\(image-shaped\\) output"):
        grad_cam(resnet, x, layer="resnet20_avg_pool")
    with pytest.raises(ValueError, match="'nope' is not a layer of model 'resnet20'"):
        grad_cam(resnet, x, layer="nope")
    with pytest.raises(ValueError, match=r"class_index must be an integer in \[0, 10\)"):
        grad_cam(resnet, x, class_index=10)
    with pytest.raises(ValueError, match=r"or one per image \(2\)"):
        grad_cam(resnet, x, class_index=[1, 2, 3])
    with pytest.raises(ValueError, match="alpha must be a number in"):
        plot_grad_cam(resnet, x, alpha=2)


def _tf_on_cpu() -> bool:
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return not tf.config.list_physical_devices("GPU")


@pytest.mark.skipif(
    _tf_on_cpu(),
    reason="TensorFlow 2.21's CPU kernels run no channels_first Conv2D (eager or in "
    "tf.function): 'The Conv2D op currently only supports the NHWC tensor format on the CPU'",
)
def test_channels_first(tmp_path):
    keras.config.set_image_data_format("channels_first")
    try:
        model = _tiny_cnn((3, 12, 10))
        x = images((3, 12, 10), 2)
        cams = grad_cam(model, x)
        assert cams.shape == (2, 12, 10) and cams.max() == pytest.approx(1.0, abs=1e-6)
        fig = plot_grad_cam(model, x, path=tmp_path / "gc.png")
        np.testing.assert_allclose(fig.axes[1].images[0].get_array(), cams[0], atol=1e-5)
        assert fig.axes[0].images[0].get_array().shape == (12, 10, 3)
        fig = plot_feature_maps(model, x[0], path=tmp_path / "fm.png")
        assert fig.subfigs[0].axes[0].images[0].get_array().shape == (12, 10, 3)
        assert fig.subfigs[1].axes[0].images[0].get_array().shape == (12, 10)
        plot_filters(model, path=tmp_path / "f.png")
    finally:
        keras.config.set_image_data_format("channels_last")


# --- confusion matrix and top losses -----------------------------------------------------------


def test_confusion_matrix_plot_counts_the_models_predictions(tmp_path):
    from sklearn.metrics import confusion_matrix

    model = _tiny_cnn()
    data = _small_dataset()
    fig = confusion_matrix_plot(model, data, path=tmp_path / "c.png")
    _check_plot(fig, tmp_path / "c.png", "square")
    y_pred = np.argmax(model.predict(data.x_test, verbose=0), axis=-1)
    matrix = confusion_matrix(data.y_test, y_pred, labels=range(3))
    texts = [int(t.get_text()) for t in fig.axes[0].texts]
    assert texts == matrix.ravel().tolist()
    assert fig.axes[0].get_title().startswith("tiny on the tiny test set (accuracy")
    fig = confusion_matrix_plot(model, data, "train", normalize=True)
    assert sum(float(t.get_text()) for t in fig.axes[0].texts) == pytest.approx(3, abs=0.03)
    with pytest.raises(ValueError, match=r"split='val' of data set 'tiny' is empty"):
        confusion_matrix_plot(model, data, "val")
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'val', 'test'\]"):
        confusion_matrix_plot(model, data, "validation")
    with pytest.raises(TypeError, match="data must be a kcnn.data.Dataset"):
        confusion_matrix_plot(model, (data.x_test, data.y_test))


@pytest.mark.parametrize("activation", ["softmax", None])
def test_top_losses_order_matches_numpy(activation, tmp_path):
    model = _tiny_cnn(activation=activation)
    data = _small_dataset()
    worst = top_losses(model, data, k=5, split="train")
    outputs = model.predict(data.x_train, verbose=0).astype("float64")
    if activation is None:  # logits: the softmax is applied first
        outputs = np.exp(outputs - outputs.max(-1, keepdims=True))
        outputs /= outputs.sum(-1, keepdims=True)
    losses = -np.log(outputs[np.arange(len(data.y_train)), data.y_train])
    order = np.argsort(-losses)[:5]
    assert isinstance(worst, TopLosses) and len(worst) == 5
    np.testing.assert_array_equal(worst.indices, order)
    np.testing.assert_allclose(worst.losses, losses[order], rtol=1e-5)
    assert np.all(np.diff(worst.losses) <= 0)
    np.testing.assert_array_equal(worst.y_true, data.y_train[order])
    np.testing.assert_array_equal(worst.y_pred, outputs[order].argmax(-1))
    np.testing.assert_allclose(worst.prob_true, np.exp(-losses[order]), rtol=1e-5)
    np.testing.assert_allclose(worst.prob_pred, outputs[order].max(-1), rtol=1e-5)
    text = str(worst)
    assert text.splitlines()[0] == "Top 5 losses on the train split"
    assert f"{int(order[0]):>6}" in text.splitlines()[2] and len(text.splitlines()) == 7
    assert len(top_losses(model, data, k=1000)) == len(data.x_test)  # at most the split


def test_top_losses_errors_and_plot(tmp_path):
    model = _tiny_cnn()
    data = _small_dataset()
    with pytest.raises(ValueError, match="k must be an integer >= 1. Received: k=0"):
        top_losses(model, data, k=0)
    with pytest.raises(ValueError, match="split must be one of"):
        top_losses(model, data, split="dev")
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        top_losses(model, data, batch_size=0)
    fig = plot_top_losses(model, data, k=9, path=tmp_path / "t.png")
    _check_plot(fig, tmp_path / "t.png", "tall")
    worst = top_losses(model, data, k=9)
    p = worst.prob_true[0]
    assert fig.axes[0].get_title() == (
        f"{data.class_names[worst.y_pred[0]]} / {data.class_names[worst.y_true[0]]}\n"
        f"{worst.losses[0]:.2f} / " + (f"{p:.2f}" if p >= 0.005 else f"{p:.0e}")
    )
    np.testing.assert_allclose(
        fig.axes[0].images[0].get_array(), data.x_test[worst.indices[0]][..., 0]
    )


# --- Interpretation: one prediction, several views ---------------------------------------------


def _counting_predict(monkeypatch, model) -> list:
    """Replace ``model.predict`` by a wrapper that records each call; returns the record."""
    calls = []
    predict = model.predict

    def counted(*args, **kwargs):
        calls.append(len(args[0]))
        return predict(*args, **kwargs)

    monkeypatch.setattr(model, "predict", counted)
    return calls


def test_interpretation_predicts_the_split_once(monkeypatch, tmp_path):
    from sklearn.metrics import confusion_matrix

    model = _tiny_cnn()
    data = _small_dataset()
    expected = model.predict(data.x_test, verbose=0).astype("float64")
    calls = _counting_predict(monkeypatch, model)
    interpretation = Interpretation.from_model(model, data, batch_size=7)
    assert calls == [len(data.x_test)]
    np.testing.assert_allclose(interpretation.probabilities, expected, rtol=1e-5)
    np.testing.assert_array_equal(interpretation.y_true, data.y_test)
    np.testing.assert_array_equal(interpretation.y_pred, expected.argmax(-1))
    losses = -np.log(expected[np.arange(len(data.y_test)), data.y_test])
    np.testing.assert_allclose(interpretation.losses, losses, rtol=1e-5)
    matrix = interpretation.confusion_matrix()
    np.testing.assert_array_equal(
        matrix, confusion_matrix(data.y_test, expected.argmax(-1), labels=range(3))
    )
    normalized = interpretation.confusion_matrix(normalize=True)
    np.testing.assert_allclose(normalized, matrix / matrix.sum(axis=1, keepdims=True))
    fig = interpretation.plot_confusion_matrix(tmp_path / "c.png")
    _check_plot(fig, tmp_path / "c.png", "square")
    assert [int(t.get_text()) for t in fig.axes[0].texts] == matrix.ravel().tolist()
    assert fig.axes[0].get_title().startswith("tiny on the tiny test set (accuracy")
    fig = interpretation.plot_confusion_matrix(normalize=True, title="mine")
    assert fig.axes[0].get_title().startswith("mine (accuracy")
    worst = interpretation.top_losses(4)
    np.testing.assert_array_equal(worst.indices, np.argsort(-losses, kind="stable")[:4])
    assert worst.class_names == ("c0", "c1", "c2") and worst.split == "test"
    fig = interpretation.plot_top_losses(4, tmp_path / "t.png")
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 4
    pairs = interpretation.most_confused()
    assert sum(count for _, _, count in pairs) == matrix.sum() - np.trace(matrix)
    assert calls == [len(data.x_test)]  # every view above read the one prediction

    # The one-call functions predict once each, and agree with the Interpretation.
    confusion_matrix_plot(model, data)
    assert len(calls) == 2
    again = top_losses(model, data, k=4)
    assert len(calls) == 3
    np.testing.assert_array_equal(again.indices, worst.indices)
    np.testing.assert_allclose(again.losses, worst.losses)


def test_most_confused_on_a_hand_made_prediction():
    from sklearn.metrics import confusion_matrix

    y_true = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3])
    y_pred = np.array([0, 1, 1, 1, 0, 2, 2, 1, 1, 0, 2, 2, 0])
    probabilities = np.eye(4)[y_pred] * 0.7 + 0.075  # rows sum to 1, argmax is y_pred
    interpretation = Interpretation(probabilities, y_true, class_names=("a", "b", "c"))
    np.testing.assert_array_equal(interpretation.y_pred, y_pred)
    np.testing.assert_array_equal(
        interpretation.confusion_matrix(), confusion_matrix(y_true, y_pred, labels=range(4))
    )
    # (true, predicted, count), most frequent first; ties in row-major order; class 3 has
    # no name, so its index is used.
    assert interpretation.most_confused() == [
        ("a", "b", 2), ("b", "c", 2), ("c", "b", 2), ("b", "a", 1), ("c", "a", 1), ("3", "a", 1),
    ]  # fmt: skip
    top = [("a", "b", 2), ("b", "c", 2), ("c", "b", 2)]
    assert interpretation.most_confused(min_count=2) == top
    assert interpretation.most_confused(min_count=3) == []
    assert Interpretation(np.eye(3), [0, 1, 2]).most_confused() == []
    with pytest.raises(ValueError, match="min_count must be an integer >= 1"):
        interpretation.most_confused(min_count=0)


def test_interpretation_errors():
    with pytest.raises(ValueError, match="one row per label"):
        Interpretation(np.eye(3), [0, 1])
    with pytest.raises(ValueError, match="at least one image"):
        Interpretation(np.zeros((0, 3)), [])
    interpretation = Interpretation(np.eye(3), [0, 1, 3], split="val")
    with pytest.raises(ValueError, match=r"val labels must lie in \[0, 3\).*from 0 to 3"):
        interpretation.top_losses()
    with pytest.raises(ValueError, match="plot_top_losses needs the data set"):
        Interpretation(np.eye(3), [0, 1, 2]).plot_top_losses()
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        Interpretation.from_model("tiny", _small_dataset())
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        Interpretation.from_model(_tiny_cnn(), _small_dataset(), batch_size=0)
