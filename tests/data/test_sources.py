"""Every source load_dataset reads, on small files written here in each real format."""

import pickle

import keras
import numpy as np
import pytest
from PIL import Image

import kcnn

from .test_datasets import _fake_fashion


def _cifar_batch(path, n, label_key=b"labels", seed=0, protocol=2):
    rng = np.random.default_rng(seed)
    batch = {
        b"batch_label": b"testing batch",
        label_key: [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
        b"filenames": [b"x.png"] * n,
    }
    path.write_bytes(pickle.dumps(batch, protocol=protocol))
    return batch


def _fake_cifar10(folder, n=10):
    folder.mkdir(parents=True)
    batches = [_cifar_batch(folder / f"data_batch_{i}", n, seed=i) for i in range(1, 6)]
    test = _cifar_batch(folder / "test_batch", n, seed=9)
    names = [c.encode() for c in kcnn.data.datasets.CIFAR10_CLASSES]
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": names}, protocol=2))
    return batches, test


def test_cifar10_batches_from_kcnn_data_dir(tmp_path, monkeypatch):
    batches, test = _fake_cifar10(tmp_path / "cifar-10-batches-py")
    monkeypatch.setenv("KCNN_DATA_DIR", str(tmp_path))
    data = kcnn.data.load_dataset("cifar10", validation_split=0)
    assert data.input_shape == (32, 32, 3) and len(data.x_train) == 50 and len(data.x_test) == 10
    assert data.class_names[0] == "airplane" and data.source.endswith("cifar-10-batches-py")
    # CIFAR rows are 1024 red, 1024 green, 1024 blue values, row-major
    first = batches[0][b"data"][0].reshape(3, 32, 32).transpose(1, 2, 0) / 255.0
    np.testing.assert_allclose(data.x_train[0], first.astype("float32"))
    np.testing.assert_array_equal(data.y_test, test[b"labels"])
    assert data.label_rules == {}


def test_cifar100_folder_by_path(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    _cifar_batch(folder / "train", 20, label_key=b"fine_labels")
    _cifar_batch(folder / "test", 10, label_key=b"fine_labels", seed=1)
    data = kcnn.data.load_dataset(str(folder), validation_split=0)
    assert data.num_classes == 100 and data.class_names[-1] == "worm"
    assert len(data.x_train) == 20


def test_cifar_batch_truncated_or_malicious(tmp_path):
    _cifar_batch(tmp_path / "good", 4)
    raw = (tmp_path / "good").read_bytes()
    (tmp_path / "short").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="short is not a readable CIFAR batch"):
        kcnn.data.read_cifar_batch(tmp_path / "short")

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    (tmp_path / "evil").write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(ValueError, match="refusing to load builtins.print"):
        kcnn.data.read_cifar_batch(tmp_path / "evil")
    (tmp_path / "list").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match="holds a list"):
        kcnn.data.read_cifar_batch(tmp_path / "list")


def test_mnist_npz_in_keras_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("KCNN_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
        "y_train": np.arange(40, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "y_test": np.arange(10, dtype=np.uint8),
    }
    np.savez(tmp_path / "datasets" / "mnist.npz", **arrays)
    data = kcnn.data.load_dataset("mnist", validation_split=0.25)
    assert len(data.x_train) == 30 and len(data.x_val) == 10
    assert data.input_shape == (28, 28, 1)
    assert set(data.label_rules) == {"horizontal_flip", "vertical_flip", "color"}


def test_idx_folder_by_path(tmp_path):
    arrays = _fake_fashion(tmp_path / "my-idx")
    data = kcnn.data.load_dataset(str(tmp_path / "my-idx"), validation_split=0)
    assert data.name == "my-idx" and data.num_classes == 10
    np.testing.assert_array_equal(data.y_train, arrays["train-labels-idx1-ubyte.gz"])


def test_named_sets_offline_say_which_files_go_where(tmp_path, monkeypatch):
    monkeypatch.setenv("KCNN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))

    def offline():
        raise OSError("no route to host")

    for loader, name, expected in (
        ("mnist", "mnist", "mnist.npz"),
        ("cifar10", "cifar10", "cifar-10-batches-py"),
        ("cifar100", "cifar100", "cifar-100-python"),
    ):
        monkeypatch.setattr(getattr(keras.datasets, loader), "load_data", offline)
        with pytest.raises(FileNotFoundError) as error:
            kcnn.data.load_dataset(name)
        message = str(error.value)
        assert expected in message and "no route to host" in message
        assert str(tmp_path / "data") in message and "KCNN_DATA_DIR" in message


def _npz(path, **overrides):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (20, 6, 6, 3), dtype=np.uint8),
        "y_train": np.arange(20) % 4,
        "x_test": rng.integers(0, 256, (8, 6, 6, 3), dtype=np.uint8),
        "y_test": np.arange(8) % 4,
    }
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return arrays


def test_npz_with_explicit_validation_and_class_names(tmp_path):
    rng = np.random.default_rng(1)
    _npz(
        tmp_path / "set.npz",
        x_val=rng.uniform(0, 1, (4, 6, 6, 3)).astype("float32"),
        y_val=np.array([0, 1, 2, 3]),
        class_names=np.array(["a", "b", "c", "d"]),
    )
    data = kcnn.data.load_dataset(str(tmp_path / "set.npz"), validation_split=0.5)
    assert len(data.x_train) == 20 and len(data.x_val) == 4  # the file's split wins
    assert data.class_names == ("a", "b", "c", "d") and data.name == "set"
    assert data.x_train.max() <= 1.0 and "color" not in data.label_rules


NPZ_ERRORS = [
    ({"y_train": None}, r"lacks y_train"),
    ({"x_train": np.full((20, 6, 6, 3), np.nan, "float32")}, r"x_train contains NaN"),
    ({"x_train": np.full((20, 6, 6, 3), 3.0, "float32")}, r"float images must be in \[0, 1\]"),
    ({"y_train": np.arange(20) / 2}, r"y_train must be integer class indices.*float64"),
    ({"y_train": np.arange(19)}, r"20 images but 19 labels in y_train"),
    ({"y_test": -np.arange(8)}, r"y_test has a negative label"),
    ({"x_test": np.zeros((8, 6, 6, 2), np.uint8)}, r"1, 3 or 4 channels.*\(8, 6, 6, 2\)"),
    ({"x_train": np.array(["a"] * 20)}, r"x_train must hold numbers.*<U1"),
    ({"class_names": np.array(["a", "b"])}, r"label 3 but there are only 2 class names"),
    (
        {"x_train": np.zeros((0, 6, 6, 3), np.uint8), "y_train": np.zeros(0, int)},
        r"training split is empty",
    ),
]


@pytest.mark.parametrize("overrides, message", NPZ_ERRORS)
def test_npz_bad_contents_raise_before_any_work(tmp_path, overrides, message):
    _npz(tmp_path / "bad.npz", **overrides)
    with pytest.raises(ValueError, match=message):
        kcnn.data.load_dataset(str(tmp_path / "bad.npz"))


def test_corrupt_npz_and_other_files(tmp_path):
    (tmp_path / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="broken.npz is not a readable .npz archive"):
        kcnn.data.load_dataset(str(tmp_path / "broken.npz"))
    (tmp_path / "data.txt").write_text("1,2,3")
    with pytest.raises(ValueError, match="must be a .npz archive or a CSV"):
        kcnn.data.load_dataset(str(tmp_path / "data.txt"))
    (tmp_path / "data.csv").write_text("1,2,3")  # a CSV must name its columns
    with pytest.raises(ValueError, match="data.csv: the first row must name the columns"):
        kcnn.data.load_dataset(str(tmp_path / "data.csv"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="holds no data set kcnn can read"):
        kcnn.data.load_dataset(str(tmp_path / "empty"))


def _image_folder(root, classes=("cat", "dog"), per_class=3, size=(5, 7), mode="RGB"):
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            shape = (*size, 3) if mode == "RGB" else size
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(pixels, mode).save(root / name / f"{i:02d}.png")


def test_image_folder_with_train_and_test(tmp_path):
    _image_folder(tmp_path / "pets" / "train", per_class=4)
    _image_folder(tmp_path / "pets" / "test", per_class=2)
    data = kcnn.data.load_dataset(str(tmp_path / "pets"), validation_split=0.25)
    assert data.class_names == ("cat", "dog") and data.input_shape == (5, 7, 3)
    assert len(data.x_train) == 6 and len(data.x_val) == 2 and len(data.x_test) == 4
    first = np.asarray(Image.open(tmp_path / "pets" / "test" / "cat" / "00.png")) / 255.0
    np.testing.assert_allclose(data.x_test[0], first.astype("float32"))


def test_image_folder_grayscale_split_and_resize(tmp_path):
    _image_folder(tmp_path / "shapes", classes=("a", "b", "c"), per_class=5, mode="L")
    data = kcnn.data.load_dataset(str(tmp_path / "shapes"), image_size=(10, 12))
    assert data.input_shape == (10, 12, 1) and len(data.x_test) == 3
    assert "color" in data.label_rules


def test_image_folder_errors(tmp_path):
    _image_folder(tmp_path / "mixed", per_class=1)
    Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(tmp_path / "mixed" / "dog" / "z.png")
    with pytest.raises(ValueError, match=r"z.png is 9x9 but the first image is 5x7"):
        kcnn.data.read_image_folder(tmp_path / "mixed")
    _image_folder(tmp_path / "broken", per_class=1)
    (tmp_path / "broken" / "cat" / "zz.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match="Cannot read image .*zz.png"):
        kcnn.data.read_image_folder(tmp_path / "broken")
    (tmp_path / "hollow" / "cat").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no images"):
        kcnn.data.read_image_folder(tmp_path / "hollow")


def test_digits_resized_for_mnist_models():
    data = kcnn.data.load_dataset("digits", image_size=(28, 28))
    assert data.input_shape == (28, 28, 1)
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0
    assert data.label_rules["vertical_flip"].startswith("an upside-down digit")
    with pytest.raises(ValueError, match=r"image_size must be \(height, width\).*\(28,\)"):
        kcnn.data.load_dataset("digits", image_size=(28,))
