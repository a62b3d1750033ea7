"""The plain-Keras benchmark baseline builds exactly kcnn's models and trains with one fit."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

import kcnn
from tests.conftest import load_benchmark

BASELINE_PATH = (
    Path(__file__).resolve().parents[1] / "benchmarks" / "baselines" / "keras_baseline.py"
)

#: model: input shape of the benchmark
SHAPES = {
    "lenet5": (28, 28, 1),
    "simple_cnn": (28, 28, 1),
    "resnet20": (32, 32, 3),
    "resnet18": (64, 64, 3),
}


@pytest.fixture(scope="module")
def baseline():
    return load_benchmark("baselines/keras_baseline.py", "keras_baseline")


def _randomize(model, seed=0):
    """Give every weight a random value, BatchNorm statistics included, so nothing is trivial."""
    rng = np.random.default_rng(seed)
    values = []
    for weight in model.weights:
        shape = tuple(weight.shape)
        path = weight.path
        if path.endswith("moving_variance") or path.endswith("gamma"):
            values.append(rng.uniform(0.5, 1.5, shape))
        elif path.endswith("moving_mean") or path.endswith("beta") or path.endswith("bias"):
            values.append(rng.normal(0.0, 0.1, shape))
        else:  # kernels keep their (Glorot) scale, which keeps activations in range
            values.append(keras.ops.convert_to_numpy(weight) * rng.uniform(0.8, 1.2, shape))
    model.set_weights([v.astype("float32") for v in values])


def _features(model):
    """The model up to the input of ``predictions`` (the logits' input)."""
    return keras.Model(model.inputs[0], model.get_layer("predictions").input)


def test_baseline_uses_no_kcnn_code(baseline):
    source = BASELINE_PATH.read_text()
    assert "import kcnn" not in source and "from kcnn" not in source
    assert set(baseline.MODELS) == set(SHAPES)


def test_unknown_name_raises(baseline):
    with pytest.raises(ValueError, match="Received: name='resnet99'"):
        baseline.build("resnet99", (32, 32, 3), 10)


@pytest.mark.parametrize("name", list(SHAPES))
def test_same_architecture_as_kcnn(baseline, name):
    shape = SHAPES[name]
    reference = kcnn.build_model(name, input_shape=shape, num_classes=10)
    model = baseline.build(name, shape, 10)

    assert model.count_params() == reference.count_params()
    assert len([layer for layer in model.layers if layer.weights]) == len(
        [layer for layer in reference.layers if layer.weights]
    )
    assert [tuple(w.shape) for w in model.weights] == [tuple(w.shape) for w in reference.weights]
    assert model.output_shape == reference.output_shape == (None, 10)

    # Momentum only shows in training: compare every BatchNorm's settings directly.
    def bn_settings(m):
        bns = [layer for layer in m.layers if isinstance(layer, keras.layers.BatchNormalization)]
        return [(layer.momentum, layer.epsilon) for layer in bns]

    assert bn_settings(model) == bn_settings(reference)
    # Only Keras' own layers: a plain user's model, no custom layer, no Lambda.
    for layer in model.layers:
        assert type(layer).__module__.startswith("keras."), type(layer)
        assert not isinstance(layer, keras.layers.Lambda)

    _randomize(reference)
    model.set_weights(reference.get_weights())
    x = np.random.default_rng(1).uniform(0, 1, (2, *shape)).astype("float32")
    expected = keras.ops.convert_to_numpy(reference(x, training=False))
    got = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # The softmax can hide small differences; the features before it cannot.
    expected = keras.ops.convert_to_numpy(_features(reference)(x, training=False))
    got = keras.ops.convert_to_numpy(_features(model)(x, training=False))
    scale = float(np.abs(expected).max())
    assert scale > 1e-3
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * scale)


class RecordEpochs(keras.callbacks.Callback):
    """Records the epoch hooks, as the harness' timing callback implements them."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("end", epoch))


class FakeSession:
    """What `train` needs of a `kcnn.bench` session: spec, x, y and callback()."""

    def __init__(self, spec, n=64, seed=0):
        rng = np.random.default_rng(seed)
        self.spec = spec
        self.x = rng.uniform(0, 1, (n, *spec["input_shape"])).astype("float32")
        self.y = rng.integers(0, spec["num_classes"], n).astype("int32")
        self.callbacks = []

    def callback(self):
        self.callbacks.append(RecordEpochs())
        return self.callbacks[-1]


@pytest.mark.rotate  # backend-independent plumbing, 15-40 s: one backend a day
def test_train_runs_one_fit_with_the_session_callback(baseline):
    spec = {
        "model": "simple_cnn",
        "input_shape": [28, 28, 1],
        "num_classes": 10,
        "batch_size": 16,
        "epochs": 2,
        "seed": 0,
        "steps_per_execution": 1,
        "jit_compile": False,
        "options": {},
    }
    session = FakeSession(spec)
    assert baseline.train(session) is None
    assert len(session.callbacks) == 1
    assert session.callbacks[0].calls == [("begin", 0), ("end", 0), ("begin", 1), ("end", 1)]
