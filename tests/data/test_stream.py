"""uint8 images in memory, image folders and CSV files streamed with grain, bad files skipped.

What is asserted, on each backend: a data set held as uint8 reads and batches exactly as the
float32 arrays did; a streamed folder or CSV gives the same images, labels, batches and
trained weights as the same files held in memory; damaged files are skipped and reported
(and `kcnn check-data` lists them); bad arguments are refused by name.
"""

import csv

import keras
import numpy as np
import pytest
from PIL import Image

import kcnn
from kcnn.cli import main as cli_main
from kcnn.data.arrays import ImageArray
from kcnn.data.formats import BadImageError
from kcnn.data.pipeline import channel_stats
from kcnn.data.stream import ImageFiles, verify_images

from ..conftest import BLOCK_TENSORFLOW, run_python
from .image_folders import digits, write_digits

PATHS = ["device", "tf.data"]


def _batches(pipeline):
    return [tuple(keras.ops.convert_to_numpy(part) for part in batch) for batch in pipeline]


def _assert_same_batches(a, b):
    assert len(a) == len(b)
    for first, second in zip(a, b):
        for x, y in zip(first, second, strict=True):
            np.testing.assert_array_equal(x, y)


# -- uint8 in memory ----------------------------------------------------------------------------


def test_a_data_set_holds_uint8_pixels_that_read_as_the_float32_of_before(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (60, 6, 5, 3), dtype=np.uint8)
    labels = np.arange(60) % 3
    np.savez(tmp_path / "set.npz", x_train=pixels[:50], y_train=labels[:50],
             x_test=pixels[50:], y_test=labels[50:])  # fmt: skip
    data = kcnn.data.load_dataset(str(tmp_path / "set.npz"), validation_split=0.2)
    assert isinstance(data.x_train, ImageArray) and data.x_train.stored.dtype == np.uint8
    assert data.x_train.dtype == np.float32 and data.x_train.shape[1:] == data.input_shape
    # The same split and numbers as converting the whole array first, as kcnn did.
    from kcnn.data.sources import split_arrays

    whole = pixels[:50].astype("float32") / np.float32(255)
    x_train, _, x_val, _ = split_arrays(whole, labels[:50], 0.2, 0)
    if keras.config.image_data_format() == "channels_first":
        x_train, x_val = x_train.transpose(0, 3, 1, 2), x_val.transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(np.asarray(data.x_train), x_train)
    np.testing.assert_array_equal(data.x_val[3:7], x_val[3:7])
    np.testing.assert_array_equal(data.x_val[2], x_val[2])
    assert data.nbytes == pixels.nbytes  # a quarter of float32's
    # NumPy code written for float arrays keeps working.
    assert float(data.x_train.max()) <= 1.0 and (data.x_train * 2).dtype == np.float32
    assert np.concatenate([data.x_train, data.x_val]).shape[0] == 50
    sub = data.subset(classes=[0, 1])
    assert isinstance(sub.x_train, ImageArray) and sub.x_train.stored.dtype == np.uint8


def test_fashion_mnist_is_held_as_uint8(fashion_mnist):
    data = fashion_mnist
    assert data.x_train.stored.dtype == np.uint8
    assert data.nbytes == 70_000 * 28 * 28  # 55 MB, where float32 took 220 MB
    first = data.x_test[:3]
    assert first.dtype == np.float32 and 0 <= first.min() and first.max() <= 1


@pytest.mark.parametrize("path", PATHS)
def test_uint8_batches_equal_the_float32_batches(path):
    pytest.importorskip("tensorflow") if path == "tf.data" else None
    pixels, labels = digits(150)
    pixels = pixels[..., None]
    if keras.config.image_data_format() == "channels_first":
        pixels = pixels.transpose(0, 3, 1, 2)
    stored = ImageArray(pixels)
    floats = pixels.astype("float32") / np.float32(255)
    for mean_std in (channel_stats(stored), channel_stats(floats)):
        np.testing.assert_array_equal(mean_std[0], channel_stats(floats)[0])
        np.testing.assert_array_equal(mean_std[1], channel_stats(floats)[1])
    made = [
        kcnn.data.make_pipeline(
            x, labels, 32, ["crop", "cutout"], seed=4, normalize=True, path=path
        )  # fmt: skip
        for x in (stored, floats)
    ]
    _assert_same_batches(_batches(made[0]), _batches(made[1]))


# -- streaming a folder or a CSV ----------------------------------------------------------------


@pytest.mark.parametrize("layout", ["classes", "split", "csv", "csv-nosplit"])
def test_streamed_and_in_memory_give_the_same_images_and_labels(tmp_path, layout):
    source = str(write_digits(tmp_path / "digits", layout, count=120))
    memory = kcnn.data.load_dataset(source, stream=False, seed=2)
    streamed = kcnn.data.load_dataset(source, stream=True, seed=2)
    assert not memory.streamed and streamed.streamed
    assert isinstance(streamed.x_train, ImageFiles) and streamed.nbytes == 0
    with pytest.raises(AttributeError, match="decoded when read"):
        streamed.x_train.mean()  # noqa: B018  (would decode every file, unasked)
    assert memory.class_names == streamed.class_names == tuple(str(d) for d in range(10))
    for split in ("train", "val", "test"):
        x_memory, x_streamed = getattr(memory, f"x_{split}"), getattr(streamed, f"x_{split}")
        np.testing.assert_array_equal(np.asarray(x_memory), np.asarray(x_streamed))
        np.testing.assert_array_equal(
            getattr(memory, f"y_{split}"), getattr(streamed, f"y_{split}")
        )
    assert memory.input_shape == streamed.input_shape
    if layout in ("split", "csv"):  # the splits the source names
        assert (len(memory.x_train), len(memory.x_val), len(memory.x_test)) == (72, 24, 24)
    # The images are the files' pixels.
    pixels, labels = digits(120)
    if layout == "csv":
        first = int(np.flatnonzero(np.arange(120) % 5 == 4)[0])  # the first test image
        expected = pixels[first].astype("float32") / np.float32(255)
        image = np.asarray(streamed.x_test[0]).squeeze()
        np.testing.assert_array_equal(image, expected)
        assert streamed.y_test[0] == labels[first]


def test_streamed_batches_equal_in_memory_batches_whatever_the_workers(tmp_path):
    source = str(write_digits(tmp_path / "digits", "classes", count=150))
    memory = kcnn.data.load_dataset(source, stream=False)
    streamed = kcnn.data.load_dataset(source, stream=True)
    settings = dict(batch_size=32, augment="crop", seed=5, normalize=True, path="device")
    expected = kcnn.data.make_pipeline(memory.x_train, memory.y_train, dataset=memory, **settings)
    epochs = []
    for epoch in (0, 1):
        expected.set_epoch(epoch)
        epochs.append(_batches(expected))
    for workers in (0, 1):
        pipeline = kcnn.data.make_pipeline(
            streamed.x_train, streamed.y_train, dataset=streamed, workers=workers, **settings
        )
        assert pipeline.path == "device" and pipeline.streamed
        for epoch in (0, 1):  # epoch 1 comes from the same decoding processes
            pipeline.set_epoch(epoch)
            _assert_same_batches(_batches(pipeline), epochs[epoch])
        pipeline.set_epoch(1)  # a resumed run jumps to its epoch
        _assert_same_batches(_batches(pipeline), epochs[1])
        pipeline.close()


def test_fit_on_a_streamed_folder_trains_the_weights_of_fit_in_memory(tmp_path):
    source = str(write_digits(tmp_path / "digits", "split", count=150))
    config = kcnn.train.TrainConfig(
        epochs=2, batch_size=16, augment="crop", optimizer="sgd", learning_rate=0.05, seed=1,
        verbose=0, workers=0,
    )  # fmt: skip
    weights, scores = [], []
    for stream in (False, True):
        data = kcnn.data.load_dataset(source, stream=stream)
        keras.utils.set_random_seed(1)
        model = kcnn.build_model("simple_cnn", input_shape=data.input_shape)
        history, run = kcnn.train.fit(model, data, config, run_dir=tmp_path / f"runs-{stream}")
        weights.append([keras.ops.convert_to_numpy(v) for v in model.weights])
        scores.append((history.history["val_accuracy"], (run / "metrics.json").read_text()))
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)
    assert scores[0][0] == scores[1][0]
    metrics = [
        {k: v for k, v in __import__("json").loads(text).items() if k != "train_seconds"}
        for _, text in scores
    ]
    assert metrics[0] == metrics[1] and "test_accuracy" in metrics[0]


def test_decoding_into_memory_in_worker_processes_gives_the_same_pixels(tmp_path):
    """Thousands of files decode in grain workers (each result in shared memory, one file
    descriptor each until freed): with few descriptors allowed, all must still decode."""
    import resource

    from kcnn.data.stream import decode_all, list_images

    source = write_digits(tmp_path / "digits", "classes", count=300)
    here = decode_all(list_images(source), (8, 8), workers=0)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 200), hard))
    try:
        there = decode_all(list_images(source), (8, 8), workers=1)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    np.testing.assert_array_equal(here["train"], there["train"])
    assert len(there["train"]) == 300


def test_a_large_folder_streams_by_itself(tmp_path):
    source = str(write_digits(tmp_path / "digits", "classes", count=60))
    assert kcnn.data.load_dataset(source, stream_above=60 * 64).streamed is False
    assert kcnn.data.load_dataset(source, stream_above=60 * 64 - 1).streamed is True


@pytest.mark.rotate
def test_streaming_without_tensorflow(tmp_path, backend):
    source = write_digits(tmp_path / "digits", "classes", count=80)
    code = (
        BLOCK_TENSORFLOW
        + f"""
import json, sys
import kcnn
def main():
    data = kcnn.data.load_dataset({str(source)!r}, stream=True)
    pipeline = kcnn.data.make_pipeline(data.x_train, data.y_train, 16, "crop", dataset=data,
                                       workers=1)
    count = sum(len(batch[1]) for batch in pipeline)
    pipeline.close()
    print(json.dumps({{"path": pipeline.path, "images": count, "train": len(data.x_train),
                       "tf": "tensorflow" in sys.modules}}))
if __name__ == "__main__":
    main()
"""
    )
    choice = "torch" if backend == "tensorflow" else backend
    result = run_python(code, choice)
    assert result == {"path": "device", "images": result["train"], "train": result["train"],
                      "tf": False}  # fmt: skip


# -- bad files ----------------------------------------------------------------------------------


def _damaged_folder(root):
    write_digits(root, "classes", count=60)
    good = (root / "3" / "0003.png").read_bytes()
    (root / "3" / "truncated.png").write_bytes(good[: len(good) // 2])  # header fine, data cut
    (root / "5" / "notes.jpg").write_text("not an image")
    Image.new("1", (10_000, 10_000)).save(root / "7" / "bomb.png")  # 10^8 pixels, ~15 kB
    return root


def test_bad_files_are_skipped_and_reported(tmp_path):
    root = _damaged_folder(tmp_path / "photos")
    with pytest.warns(UserWarning, match=r"skipped 3 file\(s\)") as caught:
        memory = kcnn.data.load_dataset(str(root), stream=False)
    message = str(caught[0].message)
    assert "truncated.png" in message and "notes.jpg" in message and "bomb.png" in message
    assert "kcnn check-data" in message
    reasons = {bad.path.rsplit("/", 1)[-1]: bad.reason for bad in memory.skipped}
    assert set(reasons) == {"truncated.png", "notes.jpg", "bomb.png"}
    assert "decompression bomb" in reasons["bomb.png"]
    total = len(memory.x_train) + len(memory.x_val) + len(memory.x_test)
    assert total == 60

    # Streamed, the header check at loading finds the non-image and the bomb; the truncated
    # file is found when decoded: verify=True decodes everything first.
    with pytest.warns(UserWarning, match=r"skipped 2 file\(s\)"):
        streamed = kcnn.data.load_dataset(str(root), stream=True)
    with pytest.raises(BadImageError, match="truncated.png.*kcnn check-data"):
        np.asarray(streamed.x_train), np.asarray(streamed.x_val), np.asarray(streamed.x_test)
    with pytest.warns(UserWarning, match=r"skipped 3 file\(s\)"):
        verified = kcnn.data.load_dataset(str(root), stream=True, verify=True)
    np.testing.assert_array_equal(np.asarray(verified.x_train), np.asarray(memory.x_train))


def test_check_data_lists_every_bad_file(tmp_path, capsys):
    root = _damaged_folder(tmp_path / "photos")
    check = verify_images(root)
    assert not check.ok and len(check.bad) == 3 and check.listing.count == 60
    assert cli_main(["check-data", str(root)]) == 1
    out = capsys.readouterr().out
    assert "60 readable images in 10 classes, 3 bad file(s)" in out
    assert all(name in out for name in ("truncated.png", "notes.jpg", "bomb.png"))
    clean = write_digits(tmp_path / "clean", "csv", count=30)
    assert cli_main(["check-data", str(clean)]) == 0
    assert "30 readable images" in capsys.readouterr().out


# -- refusals -----------------------------------------------------------------------------------


def _csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return str(path)


def test_bad_sources_and_arguments_are_refused_by_name(tmp_path):
    folder = write_digits(tmp_path / "digits", "classes", count=30)
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(folder / "1" / "big.png")
    with pytest.raises(ValueError, match=r"2 sizes .*pass image_size"):
        kcnn.data.load_dataset(str(folder))
    assert kcnn.data.load_dataset(str(folder), image_size=(9, 9)).input_shape[:2] in (
        (9, 9), (1, 9),
    )  # fmt: skip
    with pytest.raises(ValueError, match="stream=True streams image files"):
        kcnn.data.load_dataset("digits", stream=True)
    with pytest.raises(ValueError, match="stream must be True, False or None"):
        kcnn.data.load_dataset(str(folder), stream="yes")
    (tmp_path / "a.png").write_bytes((folder / "0" / "0000.png").read_bytes())
    bad_csvs = {
        "no-label.csv": ([["filename", "class"], ["a.png", "x"]], "must name the columns"),
        "missing.csv": ([["filename", "label"], ["nowhere.png", "x"]], "do not exist"),
        "multi.csv": ([["filename", "label"], ["a.png", "x y"]], "holds several labels"),
        "split.csv": ([["filename", "label", "split"], ["a.png", "x", "holdout"]],
                      "split must be one of"),
        "empty.csv": ([["filename", "label"]], "names no image"),
    }  # fmt: skip
    for name, (rows, message) in bad_csvs.items():
        with pytest.raises(ValueError, match=message):
            kcnn.data.load_dataset(_csv(tmp_path / name, rows))
    data = kcnn.data.load_dataset(str(folder), image_size=(9, 9), stream=True)
    with pytest.raises(ValueError, match="path='tf.data'"):
        kcnn.data.make_pipeline(data.x_train, data.y_train, path="tf.data")
    with pytest.raises(ValueError, match="workers must be an integer >= 0"):
        kcnn.data.make_pipeline(data.x_train, data.y_train, workers=-1)
    with pytest.raises(ValueError, match="workers must be an integer >= 0"):
        kcnn.train.TrainConfig(workers=-2)


def test_evaluate_reads_a_streamed_split_a_chunk_at_a_time(tmp_path, monkeypatch):
    from kcnn.infer import classifier as classifier_module

    source = str(write_digits(tmp_path / "digits", "classes", count=120))
    data = kcnn.data.load_dataset(source, stream=True)
    model = kcnn.build_model("simple_cnn", input_shape=data.input_shape)
    whole = kcnn.infer.evaluate(model, data=data, split="test")
    monkeypatch.setattr(classifier_module, "_CHUNK", 7)  # 24 test images: 4 chunks
    chunked = kcnn.infer.evaluate(model, data=data, split="test")
    np.testing.assert_allclose(
        chunked.interpretation.probabilities, whole.interpretation.probabilities, rtol=1e-6
    )
    assert chunked.accuracy == whole.accuracy
