import keras
import numpy as np
import pytest

import kcnn
from kcnn.data import RandomPadCrop, augmentation, needs_one_hot

from ..conftest import images


@pytest.fixture(scope="module")
def digits28():
    return kcnn.data.load_dataset("digits", image_size=(28, 28))


def _shift(image, dy, dx):
    out = np.zeros_like(image)
    h, w = image.shape[:2]
    src = image[max(0, -dy) : h - max(0, dy), max(0, -dx) : w - max(0, dx)]
    out[max(0, dy) : max(0, dy) + src.shape[0], max(0, dx) : max(0, dx) + src.shape[1]] = src
    return out


def test_random_pad_crop_shifts_each_image_by_whole_pixels():
    x = images((10, 10, 1), n=32) + 0.1
    y = keras.ops.convert_to_numpy(RandomPadCrop(3, seed=1)(x, training=True))
    shifts = []
    for i in range(len(x)):
        matches = [
            (dy, dx)
            for dy in range(-3, 4)
            for dx in range(-3, 4)
            if np.allclose(_shift(x[i], dy, dx), y[i], atol=1e-6)
        ]
        assert len(matches) == 1, f"image {i} is not a whole-pixel shift"
        shifts.append(matches[0])
    assert len(set(shifts)) > 10  # per-image offsets, not one for the batch
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(RandomPadCrop(3)(x, training=False)), x
    )


@pytest.mark.parametrize(
    "data_format, shape",
    [("channels_last", (16, 12, 10, 3)), ("channels_first", (16, 3, 12, 10)),
     ("channels_last", (12, 10, 1))],
)  # fmt: skip
def test_random_pad_crop_gives_the_pixels_of_keras_affine_translation(data_format, shape):
    """The gathered shift (JAX, PyTorch) and Keras' affine transform (TensorFlow) agree
    exactly, border fill included."""
    x = np.random.default_rng(0).random(shape).astype("float32")
    layer = RandomPadCrop(3, fill_value=0.5, seed=2, data_format=data_format)
    shift = layer.get_random_transformation(x, training=True)
    got = keras.ops.convert_to_numpy(layer._transform_images(x, shift, "nearest"))
    affine = keras.ops.convert_to_numpy(layer._translate_inputs(x, shift, "nearest"))
    np.testing.assert_array_equal(got, affine)
    assert np.any(got == 0.5)  # some image was shifted, showing the fill


def test_random_pad_crop_serializes_and_validates(tmp_path):
    layer = RandomPadCrop.from_config(RandomPadCrop(2, fill_value=0.5, seed=3).get_config())
    assert (layer.padding, layer.fill_value, layer.seed) == (2, 0.5, 3)
    with pytest.raises(ValueError, match=r"padding must be an integer >= 1.*padding=0"):
        RandomPadCrop(0)
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Flatten()(RandomPadCrop(2)(inputs)))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.layers[1].padding == 2


@pytest.mark.parametrize("policy", sorted(kcnn.data.POLICIES))
def test_every_policy_keeps_shapes_and_labels(policy):
    data = kcnn.data.load_dataset("digits", validation_split=0)
    rgb = {}  # an RGB data set without label rules, so every policy is allowed
    pipeline = augmentation(policy, rgb, seed=0)
    assert isinstance(pipeline, keras.layers.Pipeline)
    x = np.repeat(data.x_train[:16], 3, axis=-1)
    y = keras.ops.one_hot(data.y_train[:16], 10)
    out = pipeline({"images": keras.ops.convert_to_tensor(x), "labels": y}, training=True)
    got_x = keras.ops.convert_to_numpy(out["images"])
    got_y = keras.ops.convert_to_numpy(out["labels"])
    assert got_x.shape == x.shape and np.isfinite(got_x).all()
    np.testing.assert_allclose(got_y.sum(axis=-1), 1.0, atol=1e-5)
    if policy == "none":
        np.testing.assert_array_equal(got_x, x)
    else:
        assert not np.allclose(got_x, x), f"{policy} changed nothing"
    if policy in ("mixup", "cutmix"):
        assert needs_one_hot(pipeline) and (got_y.max(axis=-1) < 1.0).any()  # soft labels
    else:
        assert not needs_one_hot(pipeline)
        np.testing.assert_array_equal(got_y, keras.ops.convert_to_numpy(y))


def test_label_breaking_transforms_raise_with_the_reason(digits28, fashion_mnist):
    with pytest.raises(ValueError, match=r"'horizontal_flip' would break the labels of digits"):
        augmentation("flip_crop", digits28)
    with pytest.raises(ValueError, match=r"upside-down digit changes meaning \(6 becomes 9\)"):
        augmentation(["vertical_flip"], digits28)
    with pytest.raises(ValueError, match=r"'color' would break.*no hue or saturation"):
        augmentation("color", digits28)
    with pytest.raises(ValueError, match=r"'vertical_flip' would break the labels of fashion"):
        augmentation(["crop", "vertical_flip"], fashion_mnist)
    assert len(augmentation("flip_crop", fashion_mnist).layers) == 2  # horizontal is fine
    assert len(augmentation("crop", digits28).layers) == 1
    allowed = augmentation("flip_crop", digits28, allow=("horizontal_flip",))
    assert [layer.name for layer in allowed.layers] == ["crop", "horizontal_flip"]
    # One transform name on its own is a policy of one layer, with the same checks.
    assert [layer.name for layer in augmentation("horizontal_flip").layers] == ["horizontal_flip"]
    with pytest.raises(ValueError, match="'horizontal_flip' would break the labels"):
        augmentation("horizontal_flip", digits28)


def test_bad_policies_and_options(digits28):
    with pytest.raises(ValueError, match=r"Unknown augmentation policy: policy='autoaugment'"):
        augmentation("autoaugment")
    with pytest.raises(ValueError, match=r"Unknown transform 'shear'"):
        augmentation(["crop", "shear"])
    with pytest.raises(ValueError, match=r"padding must be smaller than the image \(28x28\)"):
        augmentation("crop", digits28, padding=28)
    with pytest.raises(ValueError, match=r"cutout_scale must be a number in \(0.0, 1.0\]"):
        augmentation("cutout", cutout_scale=1.5)
    with pytest.raises(ValueError, match=r"mixup_alpha must be a number > 0.0"):
        augmentation("mixup", mixup_alpha=0)
    with pytest.raises(TypeError, match=r"Unknown augmentation option\(s\) \['sigma'\]"):
        augmentation("crop", sigma=1)
    with pytest.raises(ValueError, match=r"allow names label rules.*\['diagonal'\]"):
        augmentation("crop", allow=("diagonal",))


def test_custom_list_mixes_names_and_keras_layers():
    rotate = keras.layers.RandomRotation(0.1, seed=0)
    pipeline = augmentation(["crop", rotate], {}, seed=5)
    assert [type(layer) for layer in pipeline.layers] == [RandomPadCrop, type(rotate)]
    assert pipeline.name == "augment_custom"


def test_random_resized_crop_zooms_into_a_region():
    from kcnn.data import RandomResizedCrop

    x = images((16, 16, 3), n=6)
    whole = RandomResizedCrop(scale=(1.0, 1.0), ratio=(1.0, 1.0), seed=0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(whole(x, training=True)), x, atol=1e-5)
    # a horizontal ramp stays a ramp; a crop of a quarter of the area at ratio 1 has half
    # the width, so neighbouring output pixels differ by half as much (the outermost
    # columns may sample a quarter pixel beyond the border, where the edge value repeats)
    ramp = np.tile(np.arange(16, dtype="float32")[None, None, :, None], (6, 16, 1, 3)) / 16
    quarter = RandomResizedCrop(scale=(0.25, 0.25), ratio=(1.0, 1.0), seed=1)
    out = keras.ops.convert_to_numpy(quarter(ramp, training=True))
    np.testing.assert_allclose(np.diff(out[:, :, 1:-1], axis=2), 0.5 / 16, atol=1e-4)
    offsets = out[:, 0, 0, 0]
    assert len(np.unique(offsets.round(4))) > 1  # each image has its own window
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(quarter(ramp, training=False)), ramp)
    config = RandomResizedCrop.from_config(quarter.get_config()).get_config()
    assert config["scale"] == (0.25, 0.25) and config["ratio"] == (1.0, 1.0)
    with pytest.raises(ValueError, match=r"scale must be \(low, high\) within \(0, 1\]"):
        RandomResizedCrop(scale=(0.5, 2.0))
    pipeline = augmentation(["resized_crop", "horizontal_flip"], {}, scale=(0.5, 1.0))
    assert pipeline.layers[0].scale == (0.5, 1.0)
