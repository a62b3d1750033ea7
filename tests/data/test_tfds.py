"""``load_dataset("tfds:<name>")`` with the real tensorflow-datasets package.

``tfds.testing.mock_data`` generates random examples from each data set's own feature
spec (its builder code in tfds), so nothing is downloaded and the tests run offline. The
split names come from a ``dataset_info.json`` written here with the splits the real data
set has (``MockPolicy.USE_FILES``); without one tfds does not know the split names.
"""

import sys

import numpy as np
import pytest

import kcnn
from kcnn.data.sources import load_tfds, split_arrays


@pytest.fixture(scope="module")
def tfds():
    return pytest.importorskip("tensorflow_datasets")


def _mock(tfds, data_dir, name, splits, num_examples):
    """``mock_data`` serving ``num_examples`` generated examples of each of ``splits``: a
    ``dataset_info.json`` built from the builder's code lists those splits."""
    with tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_CODE):
        info = tfds.builder(name).info  # the code's features; no download, no network
    info.set_splits(
        tfds.core.SplitDict(
            [tfds.core.SplitInfo(name=s, shard_lengths=[num_examples], num_bytes=0) for s in splits]
        )
    )
    folder = data_dir / info.full_name
    folder.mkdir(parents=True)
    info.write_to_directory(folder)
    return tfds.testing.mock_data(
        num_examples=num_examples, policy=tfds.testing.MockPolicy.USE_FILES, data_dir=str(data_dir)
    )


def _tfds_arrays(tfds, name, split):
    """What tfds itself gives for a split (under the same mock): images and labels."""
    x, y = tfds.as_numpy(tfds.load(name, split=split, as_supervised=True, batch_size=-1))
    return x, y


def test_tfds_without_the_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'kcnn\[tfds\]'") as error:
        kcnn.data.load_dataset("tfds:mnist")
    assert "kcnn[tensorflow-cpu,tfds]" in str(error.value)


def test_tfds_without_tensorflow_names_a_tensorflow_extra(tfds, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(ImportError, match=r"TensorFlow .*kcnn\[tensorflow-cpu,tfds\]"):
        kcnn.data.load_dataset("tfds:mnist")


def test_mnist_train_and_test_as_tfds_gives_them(tfds, tmp_path):
    with _mock(tfds, tmp_path, "mnist", ["train", "test"], num_examples=8):
        raw = load_tfds("mnist")
        data = kcnn.data.load_dataset("tfds:mnist", validation_split=0.25)
        x_test, y_test = _tfds_arrays(tfds, "mnist", "test")
    assert raw.x_train.dtype == np.uint8 and raw.x_train.shape == (8, 28, 28, 1)
    assert raw.x_val is None and raw.source == "tfds:mnist"
    np.testing.assert_array_equal(raw.x_test, x_test)
    np.testing.assert_array_equal(raw.y_test, y_test)
    assert data.name == "mnist" and data.source == "tfds:mnist"
    assert data.class_names == tuple(str(i) for i in range(10))
    assert data.input_shape == (28, 28, 1)
    assert len(data.x_train) == 6 and len(data.x_val) == 2 and len(data.x_test) == 8
    np.testing.assert_allclose(data.x_test[:], (x_test / 255.0).astype("float32"))
    assert data.label_rules == kcnn.data.datasets.label_rules_for("mnist", 1)  # mnist's own


def test_beans_validation_split_is_used_as_is(tfds, tmp_path):
    with _mock(tfds, tmp_path, "beans", ["train", "validation", "test"], num_examples=3):
        data = kcnn.data.load_dataset("tfds:beans", validation_split=0.5)
        x_val, y_val = _tfds_arrays(tfds, "beans", "validation")
    assert data.class_names == ("angular_leaf_spot", "bean_rust", "healthy")
    assert data.input_shape == (500, 500, 3)
    assert len(data.x_train) == 3 and len(data.x_val) == 3 and len(data.x_test) == 3
    np.testing.assert_array_equal(data.y_val, y_val)
    np.testing.assert_array_equal(data.x_val.stored, x_val)  # the pixels as tfds gives them


def test_train_only_holds_out_a_fifth_for_testing(tfds, tmp_path):
    with _mock(tfds, tmp_path, "binary_alpha_digits", ["train"], num_examples=10):
        raw = load_tfds("binary_alpha_digits")
        x, y = _tfds_arrays(tfds, "binary_alpha_digits", "train")
    expected = split_arrays(x, y, 0.2, 0)
    for got, want in zip((raw.x_train, raw.y_train, raw.x_test, raw.y_test), expected):
        np.testing.assert_array_equal(got, want)
    assert len(raw.x_train) == 8 and len(raw.x_test) == 2 and raw.x_val is None
    assert raw.x_train.shape[1:] == (20, 16, 1) and len(raw.class_names) == 36
    assert raw.class_names[9:11] == ("9", "A")


def test_without_supervised_keys_the_only_image_and_class_label(tfds, tmp_path):
    # cifar10_h: an Image, a ClassLabel, and text, tensor and variable-length features
    with _mock(tfds, tmp_path, "cifar10_h", ["train", "test"], num_examples=6):
        raw = load_tfds("cifar10_h")
        ds = tfds.load("cifar10_h", split="test", batch_size=-1)
    assert raw.x_test.shape == (6, 32, 32, 3) and raw.x_test.dtype == np.uint8
    np.testing.assert_array_equal(raw.x_test, tfds.as_numpy(ds["image"]))
    np.testing.assert_array_equal(raw.y_test, tfds.as_numpy(ds["label"]))
    assert len(raw.class_names) == 10


def test_plain_mock_data_reads_train_and_test(tfds):
    # without metadata files tfds knows no split names (and serves any)
    with tfds.testing.mock_data(num_examples=5):
        data = kcnn.data.load_dataset("tfds:fashion_mnist", validation_split=0)
    assert len(data.x_train) == 5 and len(data.x_test) == 5 and len(data.x_val) == 0
    assert data.class_names[0] == "T-shirt/top" and data.input_shape == (28, 28, 1)


REFUSED = [
    ("", r"Name a TensorFlow Datasets data set after 'tfds:'"),
    ("mnistt", r"Unknown TensorFlow Datasets data set: name='tfds:mnistt'.*Did you mean: mnist"),
    ("mnist/nope", r"'tfds:mnist/nope' cannot be opened: .*BuilderConfig nope not found"),
    ("tf_flowers", r"tfds:tf_flowers: its images vary in size .*\(None, None, 3\).*image_size="),
    ("bigearthnet", r"label feature 'labels' is a Sequence, not a ClassLabel"),
    ("symmetric_solids", r"label feature 'rotation' is a Tensor, not a ClassLabel"),
    ("pet_finder", r"image feature 'attributes' is a FeaturesDict, not an Image. kcnn needs one"),
    ("dsprites", r"no supervised keys, and 1 image.* and 5 class label.*kcnn needs one image"),
    ("celeb_a", r"no supervised keys.* and 0 class label.*image: Image, landmarks"),
]


@pytest.mark.parametrize("name, message", REFUSED)
def test_refused_with_what_kcnn_needs(tfds, name, message):
    # the features are checked from the builder's code, before tfds would download anything
    with tfds.testing.mock_data(policy=tfds.testing.MockPolicy.USE_CODE):
        with pytest.raises(ValueError, match=message):
            kcnn.data.load_dataset(f"tfds:{name}")


def test_no_train_split_lists_the_splits(tfds, tmp_path):
    splits = ["bunny_train", "bunny_test", "dragon_train", "dragon_test"]  # s3o4d's own
    with _mock(tfds, tmp_path, "s3o4d", splits, num_examples=2):
        with pytest.raises(ValueError, match=r"tfds:s3o4d has no 'train' split.*bunny_train"):
            load_tfds("s3o4d")


def test_more_pixels_than_memory_refused_before_reading(tfds, tmp_path, monkeypatch):
    monkeypatch.setattr("kcnn._validate.physical_memory", lambda: 2**20)
    with _mock(tfds, tmp_path, "beans", ["train", "validation", "test"], num_examples=1):
        with pytest.raises(ValueError, match=r"Reading the 3 images \(500x500x3\) of tfds:beans"):
            load_tfds("beans")
