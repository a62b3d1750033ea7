import gzip
import struct

import keras
import numpy as np
import pytest

import kcnn
from kcnn.data import datasets, sources

from ..conftest import run_python


def test_digits_are_scaled_split_and_stratified():
    data = kcnn.data.load_dataset("digits", validation_split=0.1, seed=0)
    assert data.input_shape == (8, 8, 1)
    assert data.num_classes == 10 and data.class_names[3] == "3"
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 1797
    assert len(data.x_test) == 360 and len(data.x_val) == 144
    for x in (data.x_train, data.x_val, data.x_test):
        assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() <= 1.0
    assert data.x_train.max() == 1.0
    assert data.y_train.dtype == np.int32
    # stratified: every class in every split
    for y in (data.y_train, data.y_val, data.y_test):
        assert set(np.unique(y)) == set(range(10))
    assert "train=1293" in repr(data)


def test_digits_split_depends_on_seed_only():
    a, b = kcnn.data.load_dataset("digits", seed=1), kcnn.data.load_dataset("digits", seed=1)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    c = kcnn.data.load_dataset("digits", seed=2)
    assert not np.array_equal(a.x_val, c.x_val)
    none = kcnn.data.load_dataset("digits", validation_split=0)
    assert len(none.x_val) == 0 and len(none.x_train) == 1437


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"Unknown data set: name='cifar5'"):
        kcnn.data.load_dataset("cifar5")
    with pytest.raises(ValueError, match=r"validation_split must be a fraction in \[0, 1\).*1.0"):
        kcnn.data.load_dataset("digits", validation_split=1.0)


def _write_idx(path, array, compress=True, truncate=0):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.tobytes()
    raw = raw[: len(raw) - truncate] if truncate else raw
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(raw)


def _fake_fashion(folder, n_train=50, n_test=10):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(n_train) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.arange(n_test) % 10,
    }
    for name, array in arrays.items():
        _write_idx(folder / name, array)
    return arrays


def test_read_idx_raw_and_gzip(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.gz", array)
    _write_idx(tmp_path / "a.idx", array, compress=False)
    np.testing.assert_array_equal(kcnn.data.read_idx(tmp_path / "a.gz"), array)
    np.testing.assert_array_equal(kcnn.data.read_idx(tmp_path / "a.idx"), array)


def test_read_idx_rejects_truncated_and_corrupt_files(tmp_path):
    _write_idx(tmp_path / "short.gz", np.zeros((5, 28, 28)), truncate=100)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        kcnn.data.read_idx(tmp_path / "short.gz")
    (tmp_path / "bad.idx").write_bytes(b"\x12\x34\x08\x01" + b"\0" * 20)
    with pytest.raises(ValueError, match="not an IDX file: bad magic number"):
        kcnn.data.read_idx(tmp_path / "bad.idx")
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="Cannot read IDX file"):
        kcnn.data.read_idx(tmp_path / "bad.gz")


def test_fashion_mnist_from_kcnn_data_dir(tmp_path, monkeypatch):
    arrays = _fake_fashion(tmp_path / "fashion-mnist")
    monkeypatch.setenv("KCNN_DATA_DIR", str(tmp_path))
    data = kcnn.data.load_dataset("fashion_mnist", validation_split=0.2)
    assert data.source == str(tmp_path / "fashion-mnist")
    assert len(data.x_train) == 40 and len(data.x_val) == 10 and len(data.x_test) == 10
    assert data.input_shape == (28, 28, 1) and data.class_names[9] == "Ankle boot"
    expected = arrays["t10k-images-idx3-ubyte.gz"].astype("float32") / 255.0
    np.testing.assert_allclose(data.x_test[..., 0], expected)


def test_fashion_mnist_missing_everywhere_says_where_to_put_files(tmp_path, monkeypatch):
    monkeypatch.setenv("KCNN_DATA_DIR", str(tmp_path / "nothing"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")

    def offline():
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(FileNotFoundError) as error:
        kcnn.data.load_dataset("fashion_mnist")
    message = str(error.value)
    assert "train-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert str(tmp_path / "nothing" / "fashion-mnist") in message
    assert "network unreachable" in message and "KCNN_DATA_DIR" in message


@pytest.mark.learning
def test_real_fashion_mnist_files(fashion_mnist):
    assert len(fashion_mnist.x_train) == 60_000 and len(fashion_mnist.x_test) == 10_000
    assert np.bincount(fashion_mnist.y_test).tolist() == [1000] * 10


def test_subset_keeps_classes_relabels_and_limits_training_images():
    data = kcnn.data.load_dataset("digits")
    few = data.subset(classes=[7, 3], per_class=5, seed=1)
    assert few.name == "digits[7,3, 5/class]" and few.class_names == ("7", "3")
    assert len(few.x_train) == 10 and np.bincount(few.y_train).tolist() == [5, 5]
    # relabelled: new class 0 is old class 7, in every split, and val/test keep all of them
    for x, y, old_x, old_y in ((few.x_train, few.y_train, data.x_train, data.y_train),
                               (few.x_test, few.y_test, data.x_test, data.y_test)):  # fmt: skip
        sevens = old_x[old_y == 7]
        assert all(any(np.array_equal(img, s) for s in sevens) for img in x[y == 0])
    assert len(few.x_test) == int(np.sum(np.isin(data.y_test, [7, 3])))
    assert len(few.x_val) == int(np.sum(np.isin(data.y_val, [7, 3])))
    assert data.subset(classes=[0, 1, 2]).name == "digits[0-2]"
    again = data.subset(classes=[7, 3], per_class=5, seed=1)
    np.testing.assert_array_equal(again.x_train, few.x_train)  # the seed decides the draw
    for kwargs, message in (({"classes": [3, 3]}, "distinct class indices in \\[0, 10\\)"),
                            ({"classes": [10]}, "Received: classes=\\[10\\]"),
                            ({"per_class": 0}, "per_class must be an integer >= 1"),
                            ({"per_class": 10_000}, "fewer than per_class=10000")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            data.subset(**kwargs)


_IMPORT_DATASETS = """
import json, sys
import kcnn.data.datasets
loaded = sorted(m for m in sys.modules if m.startswith("kcnn.data."))
print(json.dumps({"keras": "keras" in sys.modules, "loaded": loaded}))
"""


def test_datasets_import_without_keras():
    """``kcnn --help`` lists the data sets: reading kcnn.data.datasets must not import Keras."""
    out = run_python(_IMPORT_DATASETS, keras.backend.backend())
    assert out["loaded"] == [
        "kcnn.data.arrays", "kcnn.data.datasets", "kcnn.data.formats", "kcnn.data.sources",
        "kcnn.data.stream",
    ]  # fmt: skip
    assert out["keras"] is False


def test_lazy_data_package_exports_the_same_names():
    assert kcnn.data.__all__ == sorted(
        ["Contract", "DATASETS", "Dataset", "ImageArray", "ImageFiles", "Images",
         "InputPipeline", "POLICIES", "RandomPadCrop", "RandomResizedCrop", "TRANSFORMS",
         "augmentation", "channel_stats", "far_context_task", "load_dataset", "make_pipeline",
         "needs_one_hot", "pixel_permutation", "read_cifar_batch", "read_contract", "read_idx",
         "read_image_folder", "read_npz", "shuffle_pixels", "verify_images"]
    )  # fmt: skip
    assert set(kcnn.data.__all__) <= set(dir(kcnn.data))
    from kcnn.data import arrays, augment, contract, formats, pipeline, stream, synthetic

    homes = {"augment": augment, "datasets": datasets, "formats": formats, "pipeline": pipeline,
             "contract": contract, "arrays": arrays, "stream": stream,
             "synthetic": synthetic}  # fmt: skip
    for name in kcnn.data.__all__:
        home = homes[kcnn.data._EXPORTS[name].split(":")[0].rsplit(".", 1)[1]]
        assert getattr(kcnn.data, name) is getattr(home, name), name
    assert kcnn.data.pipeline is pipeline  # submodules stay reachable as attributes
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        kcnn.data.nothing  # noqa: B018
    for layer in ("RandomPadCrop", "RandomResizedCrop"):  # still registered for load_model
        assert keras.saving.get_registered_object(f"kcnn>{layer}") is getattr(augment, layer)
