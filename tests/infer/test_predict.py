import csv

import keras
import numpy as np
import pytest
from PIL import Image

import kcnn
from kcnn.data.contract import Contract
from kcnn.infer.images import read_batches, read_image


@pytest.fixture(scope="module")
def classifier(digits_run):
    return kcnn.infer.load(digits_run)


def _rgb_classifier():
    model = kcnn.build_model("simple_cnn", input_shape=(8, 8, 3), filters=(4, 8), dense_units=8)
    return kcnn.infer.Classifier(model, Contract.for_model(model, dataset="cifar10"))


def _uint8(digits, n=4):
    x = keras.ops.convert_to_numpy(digits.x_test[:n])
    if keras.config.image_data_format() == "channels_first":
        x = x.transpose(0, 2, 3, 1)
    return np.round(x * 255).astype("uint8")


def _model_layout(x):
    return x.transpose(0, 3, 1, 2) if keras.config.image_data_format() == "channels_first" else x


@pytest.mark.parametrize("extension", ["png", "bmp"])
def test_lossless_files_predict_as_the_model_predicts_their_pixels(classifier, digits, tmp_path,
                                                                   extension):  # fmt: skip
    pixels = _uint8(digits)
    files = []
    for i, image in enumerate(pixels):
        files.append(tmp_path / f"{i}.{extension}")
        Image.fromarray(image[..., 0]).save(files[-1])
    predictions = classifier.predict(files, top_k=3)
    expected = classifier.model.predict(_model_layout(pixels / 255.0).astype("float32"), verbose=0)
    np.testing.assert_allclose(predictions.probabilities, expected, atol=1e-5)
    assert predictions.files == [str(f) for f in files]
    assert predictions.labels == [str(i) for i in expected.argmax(-1)]


def test_colour_jpeg_into_a_grey_model_and_grey_png_into_a_colour_model(classifier, tmp_path):
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (8, 8, 3), dtype="uint8")
    Image.fromarray(colour).save(tmp_path / "colour.jpg", quality=95)
    decoded = np.asarray(Image.open(tmp_path / "colour.jpg").convert("L"), "float32") / 255
    got = classifier.predict(tmp_path / "colour.jpg").probabilities
    want = classifier.model.predict(_model_layout(decoded[None, ..., None]), verbose=0)
    np.testing.assert_allclose(got, want, atol=1e-5)

    grey = rng.integers(0, 256, (8, 8), dtype="uint8")
    Image.fromarray(grey).save(tmp_path / "grey.png")
    rgb = _rgb_classifier()
    want = rgb.model.predict(_model_layout(np.repeat(grey[None, ..., None] / 255.0, 3, -1)),
                             verbose=0)  # fmt: skip
    np.testing.assert_allclose(rgb.predict(tmp_path / "grey.png").probabilities, want, atol=1e-5)


def test_resize_methods(tmp_path):
    wide = np.zeros((4, 8), "uint8")
    wide[:, :4] = 255  # left half white
    Image.fromarray(wide).save(tmp_path / "wide.png")
    padded = read_image(tmp_path / "wide.png", (8, 8), 1, "pad")[..., 0]
    assert padded.shape == (8, 8)
    assert padded[:2].max() == 0 and padded[6:].max() == 0  # black bars above and below
    np.testing.assert_allclose(padded[2:6, :3], 1.0)
    np.testing.assert_allclose(padded[2:6, 5:], 0.0)
    stretched = read_image(tmp_path / "wide.png", (8, 8), 1, "stretch")[..., 0]
    np.testing.assert_allclose(stretched[:, :3], 1.0)  # every row has the white half
    cropped = read_image(tmp_path / "wide.png", (4, 4), 1, "crop")[..., 0]
    np.testing.assert_allclose(cropped[:, :2], 1.0)
    np.testing.assert_allclose(cropped[:, 2:], 0.0)
    with pytest.raises(ValueError, match=r"resize must be one of"):
        read_image(tmp_path / "wide.png", (8, 8), 1, "squash")


def test_exif_orientation_is_honoured(tmp_path):
    wide = np.zeros((4, 8), "uint8")
    wide[:, :4] = 255  # left half white; shown rotated 90 degrees clockwise: top half white
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(wide).save(tmp_path / "phone.png", exif=exif)
    shown = read_image(tmp_path / "phone.png", (8, 4), 1)[..., 0]
    np.testing.assert_allclose(shown[:4], 1.0)
    np.testing.assert_allclose(shown[4:], 0.0)


def test_16_bit_and_transparent_images(tmp_path):
    deep = np.full((8, 8), 65535, dtype="uint16")
    deep[:4] = 0
    Image.fromarray(deep).save(tmp_path / "deep.png")
    grey = read_image(tmp_path / "deep.png", (8, 8), 1)[..., 0]
    np.testing.assert_allclose(grey[:4], 0.0)
    np.testing.assert_allclose(grey[4:], 1.0)
    rgba = np.zeros((8, 8, 4), "uint8")
    rgba[..., :3] = 255
    rgba[:4, :, 3] = 255  # top half opaque white, bottom transparent
    Image.fromarray(rgba).save(tmp_path / "alpha.png")
    image = read_image(tmp_path / "alpha.png", (8, 8), 3)
    np.testing.assert_allclose(image[:4], 1.0)
    np.testing.assert_allclose(image[4:], 0.0)


def test_bad_files_are_skipped_and_listed(classifier, digits, tmp_path, monkeypatch):
    Image.fromarray(_uint8(digits, 1)[0, ..., 0]).save(tmp_path / "good.png")
    (tmp_path / "notes.png").write_text("not an image")
    Image.fromarray(np.zeros((64, 64), "uint8")).save(tmp_path / "cut.png")
    data = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    Image.fromarray(np.zeros((40, 40), "uint8")).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1,600 pixels: a "bomb" now
    predictions = classifier.predict(tmp_path)
    assert predictions.files == [str(tmp_path / "good.png")]
    reasons = dict(predictions.bad)
    assert set(reasons) == {str(tmp_path / n) for n in ("notes.png", "cut.png", "bomb.png")}
    assert "decompression bomb" in reasons[str(tmp_path / "bomb.png")]
    assert "not a readable image" in reasons[str(tmp_path / "notes.png")]
    assert "could not be read" in str(predictions) and "notes.png" in str(predictions)
    predictions.to_csv(tmp_path / "out.csv")
    rows = list(csv.DictReader(open(tmp_path / "out.csv")))
    assert [r["file"] for r in rows][0] == str(tmp_path / "good.png")
    assert {r["file"] for r in rows if r["error"]} == set(reasons)
    with pytest.raises(ValueError, match="None of the 1 file"):
        classifier.predict(tmp_path / "notes.png")


def test_folders_stream_in_batches(tmp_path):
    for i in range(10):
        Image.fromarray(np.full((8, 8), i * 20, "uint8")).save(tmp_path / f"{i:02d}.png")
    files = kcnn.infer.find_images(tmp_path)
    sizes = [len(batch) for batch, _, _ in read_batches(files, (8, 8), 1, "pad", 4)]
    assert sizes == [4, 4, 2]
    assert [f.name for f in files] == [f"{i:02d}.png" for i in range(10)]


def test_bad_arguments_say_what_is_accepted(classifier, tmp_path):
    with pytest.raises(ValueError, match=r"top_k must be .*10.* Received: top_k=11"):
        classifier.predict(np.zeros((1, 8, 8, 1), "float32"), top_k=11)
    with pytest.raises(ValueError, match=r"top_k must be .* Received: top_k=0"):
        classifier.predict(np.zeros((1, 8, 8, 1), "float32"), top_k=0)
    shape = (1, 1, 8, 8) if keras.config.image_data_format() == "channels_first" else (1, 8, 8, 1)
    with pytest.raises(ValueError, match=r"divide 0\.\.255 images by 255"):
        classifier.predict(np.full(shape, 200.0, "float32"))
    with pytest.raises(ValueError, match=r"images must be shaped"):
        classifier.predict(np.zeros((1, 9, 9, 3), "float32"))
    with pytest.raises(FileNotFoundError, match="No such image file or folder"):
        classifier.predict(tmp_path / "missing.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No image files in"):
        classifier.predict(tmp_path / "empty")
    uint8 = classifier.predict(np.full(shape, 255, "uint8")).probabilities
    ones = classifier.predict(np.ones(shape, "float32")).probabilities
    np.testing.assert_allclose(uint8, ones, atol=1e-6)


def test_tta_never_applies_a_transform_the_labels_refuse(classifier, digits):
    names = [name for name, _ in kcnn.infer.tta_views(classifier.contract)]
    assert names[0] == "identity" and "horizontal_flip" not in names
    assert {"shift_up", "shift_down", "shift_left", "shift_right"} <= set(names)
    free = Contract(("a", "b"), (8, 8, 3), data_format=keras.config.image_data_format())
    assert "horizontal_flip" in [name for name, _ in kcnn.infer.tta_views(free)]

    x = digits.x_test[:6]
    views = kcnn.infer.tta_views(classifier.contract)
    manual = np.mean([classifier.model.predict(view(x), verbose=0) for _, view in views], axis=0)
    got = classifier.predict(x, tta=True).probabilities
    np.testing.assert_allclose(got, manual, atol=1e-5)
    shift = dict(views)["shift_down"](x)
    h = 2 if keras.config.image_data_format() == "channels_first" else 1
    assert np.all(np.take(shift, [0], axis=h) == 0)  # the top row is new and black
    np.testing.assert_array_equal(np.take(shift, [1], axis=h), np.take(x, [0], axis=h))


def test_predictions_table_and_top(classifier, digits):
    predictions = classifier.predict(digits.x_test[:3], top_k=2)
    top = predictions.top()
    assert len(top) == 3 and all(len(t) == 2 for t in top)
    assert all(t[0][1] >= t[1][1] for t in top)
    assert top[0][0][0] == predictions.labels[0]
    text = str(predictions)
    assert text.splitlines()[0].startswith("image") and "top 2 classes" in text


def test_files_cannot_feed_a_model_of_other_channels(tmp_path):
    model = kcnn.build_model("mlp", input_shape=(8, 8, 4), hidden_units=(8,))
    Image.fromarray(np.zeros((8, 8), "uint8")).save(tmp_path / "x.png")
    with pytest.raises(ValueError, match="model takes images with 4 channels"):
        kcnn.infer.Classifier(model).predict(tmp_path / "x.png")
