"""A small model trained on the digits, shared by the inference tests."""

from __future__ import annotations

import keras
import pytest

import kcnn
from kcnn.train import TrainConfig


@pytest.fixture(scope="session")
def digits():
    return kcnn.data.load_dataset("digits", validation_split=0.1, seed=0)


@pytest.fixture(scope="session")
def digits_run(digits, tmp_path_factory):
    """A run folder of a small SimpleCNN trained 4 epochs on the digits."""
    keras.utils.set_random_seed(0)
    model = kcnn.build_model(
        "simple_cnn", input_shape=digits.input_shape, filters=(8, 16), dense_units=32
    )
    config = TrainConfig(epochs=4, batch_size=32, verbose=0, checkpoint=False)
    _, path = kcnn.train.fit(model, digits, config, run_dir=tmp_path_factory.mktemp("runs"))
    return path
