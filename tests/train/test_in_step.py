"""Augmentation inside the train step, and images held on the device, on every backend."""

import dataclasses
import importlib

import keras
import numpy as np
import pytest

import kcnn
from kcnn.data import make_pipeline
from kcnn.data.arrays import ImageArray
from kcnn.train import TrainConfig
from kcnn.train.in_step import trained_model

FIT = importlib.import_module("kcnn.train.fit")  # the module (kcnn.train.fit is the function)


@pytest.fixture(scope="module")
def digits():
    return kcnn.data.load_dataset("digits", image_size=(16, 16), seed=0)


def _numpy(batch):
    return [keras.ops.convert_to_numpy(part) for part in batch]


def _counting(pipeline):
    """Count the Python calls of the pipeline's augmentation layer."""
    calls = []
    call = pipeline.augment.call

    def counted(*args, **kwargs):
        calls.append(1)
        return call(*args, **kwargs)

    pipeline.augment.call = counted
    return calls


@pytest.mark.parametrize("stored", ["uint8", "float32"])
def test_held_images_give_the_batches_numpy_gives(stored):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (300, 12, 12, 1), dtype=np.uint8)
    x = ImageArray(pixels) if stored == "uint8" else ImageArray(pixels.astype("float32") / 255)
    y = rng.integers(0, 5, 300)
    for augment in (None, "crop"):
        kwargs = dict(batch_size=64, augment=augment, seed=4, path="device", one_hot=True)
        host, held = (
            make_pipeline(x, y, hold=False, **kwargs),
            make_pipeline(x, y, hold=True, **kwargs),
        )
        assert held.held and not host.held and "held=True" in repr(held)
        for epoch in (0, 3):
            host.set_epoch(epoch), held.set_epoch(epoch)
            for index in (0, 2, len(host) - 1):
                for a, b in zip(_numpy(host[index]), _numpy(held[index]), strict=True):
                    np.testing.assert_array_equal(a, b)
    # without an accelerator, "auto" keeps the images in NumPy
    assert make_pipeline(x, y, 64, path="device").held is kcnn._backend.has_gpu()


def test_a_step_pipeline_leaves_batches_to_the_step_and_restarts_its_generators(digits):
    x, y = digits.x_train[:128], digits.y_train[:128]
    plain = make_pipeline(x, y, 32, seed=2, path="device")
    step = make_pipeline(x, y, 32, "crop", dataset=digits, seed=2, path="device",
                         augment_on="step")  # fmt: skip
    assert "augment_on='step'" in repr(step)
    for a, b in zip(_numpy(plain[1]), _numpy(step[1]), strict=True):
        np.testing.assert_array_equal(a, b)  # not augmented
    images = keras.ops.convert_to_tensor(x[:8])
    step.set_epoch(2)
    first = keras.ops.convert_to_numpy(step.augment(images, training=True))
    step.set_epoch(2)
    again = keras.ops.convert_to_numpy(step.augment(images, training=True))
    step.set_epoch(3)
    other = keras.ops.convert_to_numpy(step.augment(images, training=True))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_the_train_step_augments_and_trains_the_model(digits):
    pipe = make_pipeline(digits.x_train, digits.y_train, 64, "crop", dataset=digits, seed=1,
                         path="device", augment_on="step")  # fmt: skip
    keras.utils.set_random_seed(0)
    model = kcnn.build_model("simple_cnn", input_shape=digits.input_shape)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    trainer = kcnn.train.augment_in_step(model, pipe)
    assert trainer.name == model.name and trained_model(trainer) is model
    calls = _counting(pipe)
    before = model.get_weights()[0].copy()
    trainer.fit(pipe, epochs=2, verbose=0, shuffle=False)
    steps = 2 * len(pipe)
    if keras.backend.backend() != "torch":
        # traced into the compiled step (Keras' build, the full batches, the last smaller
        # one), not called per batch
        assert 1 <= len(calls) <= 3 < steps, calls
    else:
        # every step calls it (PyTorch runs its step eagerly), and Keras' build once more
        assert steps <= len(calls) <= steps + 1, (len(calls), steps)
    assert model.optimizer.iterations.numpy() == steps
    assert not np.array_equal(before, model.get_weights()[0])
    x_val, y_val = digits.x_val, digits.y_val
    np.testing.assert_allclose(  # at inference the augmentation lets images through
        trainer.predict(x_val, verbose=0), model.predict(x_val, verbose=0), atol=1e-5
    )
    assert model.evaluate(x_val, y_val, verbose=0)[1] > 0.5


def test_fit_augments_in_the_step_on_jax_and_torch(digits, tmp_path, monkeypatch):
    keras.utils.set_random_seed(0)
    model = kcnn.build_model("simple_cnn", input_shape=digits.input_shape)
    config = TrainConfig(epochs=2, batch_size=64, augment="crop", verbose=0)
    calls = []
    real = FIT.augment_in_step

    def spy(model, pipeline):
        calls.append(pipeline.augment_on)
        return real(model, pipeline)

    monkeypatch.setattr(FIT, "augment_in_step", spy)
    _, run = kcnn.train.fit(model, digits, config, run_dir=tmp_path)
    expected = ["step"] if keras.backend.backend() in ("jax", "torch") else []
    assert calls == expected
    # the checkpoint and the final file hold the model itself, without the augmentation
    for path in (run / "model.keras", *sorted((run / "checkpoints").glob("*.keras"))):
        loaded = keras.saving.load_model(path)
        assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    # MixUp changes labels: it stays in the pipeline
    calls.clear()
    kcnn.train.fit(model, digits, dataclasses.replace(config, augment="mixup", epochs=1),
                   run_dir=None)  # fmt: skip
    assert calls == []


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"augment_on": "epoch"}, ValueError, r"augment_on must be one of \['batch', 'step'\]"),
        ({"hold": "yes"}, ValueError, r"hold must be True, False or 'auto'\. Received: hold='yes'"),
        ({"augment": "mixup", "augment_on": "step"}, ValueError, r"need augment_on='batch'"),
        ({"path": "tf.data", "hold": True}, ValueError, r"work on the device path"),
    ],
)
def test_bad_settings_are_refused(digits, kwargs, error, message):
    if kwargs.get("path") == "tf.data":
        pytest.importorskip("tensorflow")
    with pytest.raises(error, match=message):
        make_pipeline(digits.x_train, digits.y_train, 32, **kwargs)


def test_augment_in_step_refuses_what_it_cannot_train(digits):
    model = kcnn.build_model("mlp", input_shape=digits.input_shape)
    batch = make_pipeline(digits.x_train, digits.y_train, 32, "crop", path="device")
    with pytest.raises(ValueError, match="augment_on='step'"):
        kcnn.train.augment_in_step(model, batch)
    step = make_pipeline(digits.x_train, digits.y_train, 32, "crop", path="device",
                         augment_on="step")  # fmt: skip
    with pytest.raises(ValueError, match="needs a compiled model"):
        kcnn.train.augment_in_step(model, step)
