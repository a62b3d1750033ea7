"""The hand-written PyTorch baseline of the benchmark: the same models as kcnn, a correct loop.

The baseline does not use Keras, so these tests hold under every ``KERAS_BACKEND``; Keras only
builds the kcnn models the baseline is compared with.
"""

from __future__ import annotations

import time

import keras
import numpy as np
import pytest

import kcnn
from tests.conftest import load_benchmark

torch = pytest.importorskip("torch")

INPUT_SHAPES = {
    "lenet5": (28, 28, 1),
    "simple_cnn": (28, 28, 1),
    "resnet20": (32, 32, 3),
    "resnet18": (64, 64, 3),
}


baseline = load_benchmark("baselines/torch_baseline.py")


class FakeSession:
    """A stand-in for ``kcnn.bench``'s session: hands out data, records the epoch calls."""

    def __init__(self, x, y, model, batch_size=16, epochs=2, seed=0, options=None):
        self.x, self.y, self.device = x, y, "cpu"
        self.spec = {
            "model": model,
            "input_shape": list(x.shape[1:]),
            "num_classes": 10,
            "batch_size": batch_size,
            "epochs": epochs,
            "seed": seed,
            "options": options or {},
        }
        self.calls = []
        self.images = []
        self.epoch_seconds = []
        self._started = None

    def epoch_begin(self):
        self.calls.append("begin")
        self._started = time.perf_counter()

    def epoch_end(self, images):
        self.calls.append("end")
        self.images.append(images)
        self.epoch_seconds.append(time.perf_counter() - self._started)


def _random_data(shape, n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, *shape)).astype("float32")
    y = rng.integers(0, 10, n).astype("int32")
    return x, y


def _record_batches(monkeypatch):
    """Patch `build` so every forward pass records the shape and layout of its input."""
    seen = []
    build = baseline.build

    def recording_build(*args, **kwargs):
        model = build(*args, **kwargs)

        def hook(module, inputs):
            (x,) = inputs
            seen.append((x.shape[0], x.is_contiguous(memory_format=torch.channels_last)))

        model.register_forward_pre_hook(hook)
        return model

    monkeypatch.setattr(baseline, "build", recording_build)
    return seen


def _trainable(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_models_are_the_benchmarked_four():
    assert set(baseline.MODELS) == set(INPUT_SHAPES)


@pytest.mark.parametrize("name", list(INPUT_SHAPES))
def test_count_params_equals_kcnn_trainable_weights(name):
    model = kcnn.build_model(name, input_shape=INPUT_SHAPES[name], num_classes=10)
    assert baseline.count_params(name, INPUT_SHAPES[name], 10) == _trainable(model)


def _copy_keras_weights(keras_model, torch_model, prefix):
    """Copy every weight of the kcnn model into the module named after its layer.

    Returns the number of kcnn layers with weights that were copied.
    """
    flat_shape = None
    if any(layer.name == f"{prefix}_flatten" for layer in keras_model.layers):
        flat_shape = keras_model.get_layer(f"{prefix}_flatten").input.shape[1:]
    copied = 0
    for path, module in torch_model.named_modules():
        if not isinstance(module, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d)):
            continue
        name = path if path == "predictions" else f"{prefix}_{path.replace('.', '_')}"
        weights = keras_model.get_layer(name).get_weights()
        if isinstance(module, torch.nn.Conv2d):
            tensors = [weights[0].transpose(3, 2, 0, 1), *weights[1:]]
        elif isinstance(module, torch.nn.Linear):
            kernel = weights[0]
            if flat_shape is not None and kernel.shape[0] == np.prod(flat_shape):
                # Keras flattens (row, column, channel), torch (channel, row, column).
                h, w, c = flat_shape
                kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1)
            tensors = [kernel.T, *weights[1:]]
        else:
            layer = keras_model.get_layer(name)
            assert module.momentum == pytest.approx(1 - layer.momentum)
            assert module.eps == pytest.approx(layer.epsilon)
            tensors = weights  # gamma, beta, moving mean, moving variance
        targets = [module.weight, module.bias]
        if isinstance(module, torch.nn.BatchNorm2d):
            targets += [module.running_mean, module.running_var]
        targets = [t for t in targets if t is not None]
        assert len(targets) == len(tensors), name
        with torch.no_grad():
            for target, value in zip(targets, tensors):
                target.copy_(torch.from_numpy(np.ascontiguousarray(value)))
        copied += 1
    return copied


@pytest.mark.parametrize("name", list(INPUT_SHAPES))
def test_same_weights_give_the_same_logits_as_kcnn(name):
    """Layer for layer the same network: padding, strides, shortcuts and BN included."""
    shape = INPUT_SHAPES[name]
    keras_model = kcnn.build_model(
        name, input_shape=shape, num_classes=10, classifier_activation=None
    )
    rng = np.random.default_rng(1)
    perturbed = []
    for weight in keras_model.weights:
        value = keras.ops.convert_to_numpy(weight)
        if "moving_variance" in weight.path:
            value = rng.uniform(0.5, 1.5, value.shape)
        else:
            value = value + rng.normal(0, 0.05, value.shape)
        perturbed.append(value.astype("float32"))
    keras_model.set_weights(perturbed)

    torch_model = baseline.build(name, shape, 10).eval()
    copied = _copy_keras_weights(keras_model, torch_model, prefix=name)
    assert copied == sum(1 for layer in keras_model.layers if layer.weights)

    x = rng.uniform(0, 1, (3, *shape)).astype("float32")
    expected = keras.ops.convert_to_numpy(keras_model(x, training=False))
    with torch.no_grad():
        got = torch_model(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()).numpy()
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("name", list(INPUT_SHAPES))
@pytest.mark.parametrize("channels_last", [False, True], ids=["nchw", "channels_last"])
def test_forward_gives_logits(name, channels_last):
    h, w, c = INPUT_SHAPES[name]
    model = baseline.build(name, (h, w, c), 10)
    x = torch.rand(2, c, h, w)
    if channels_last:
        model = baseline.prepare_model(model, {"channels_last": True})
        x = x.to(memory_format=torch.channels_last)
    assert model(x).shape == (2, 10)


def test_build_rejects_unknown_names_and_bad_shapes():
    with pytest.raises(ValueError, match="Received: name='vgg16'"):
        baseline.build("vgg16", (32, 32, 3), 10)
    with pytest.raises(ValueError, match="input_shape"):
        baseline.build("lenet5", (28, 28), 10)


@pytest.mark.parametrize(
    "name, options",
    [("simple_cnn", {}), ("lenet5", {"channels_last": True})],
    ids=["simple_cnn-eager", "lenet5-channels_last"],
)
def test_train_brackets_every_epoch_with_the_session(monkeypatch, name, options):
    batches = _record_batches(monkeypatch)
    x, y = _random_data(INPUT_SHAPES[name])
    session = FakeSession(x, y, name, batch_size=16, epochs=2, options=options)
    assert baseline.train(session) is None
    assert session.calls == ["begin", "end", "begin", "end"]
    assert session.images == [64, 64]
    assert all(seconds > 0 for seconds in session.epoch_seconds)
    assert [size for size, _ in batches] == [16] * 8
    if options.get("channels_last"):
        assert all(is_channels_last for _, is_channels_last in batches)


def test_train_keeps_the_last_partial_batch(monkeypatch):
    batches = _record_batches(monkeypatch)
    x, y = _random_data(INPUT_SHAPES["simple_cnn"], n=40)
    session = FakeSession(x, y, "simple_cnn", batch_size=16, epochs=1)
    baseline.train(session)
    assert [size for size, _ in batches] == [16, 16, 8]
    assert session.images == [40]


def _two_classes(n=64, seed=0):
    """Bright top half (class 0) or bright bottom half (class 1), with noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n, dtype="int32") % 2
    x = rng.uniform(0, 0.2, (n, 28, 28, 1)).astype("float32")
    x[y == 0, :14] += 0.8
    x[y == 1, 14:] += 0.8
    return x, y


def _loss_and_accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous())
        labels = torch.from_numpy(y.astype("int64"))
        loss = torch.nn.functional.cross_entropy(logits, labels).item()
        accuracy = (logits.argmax(1) == labels).float().mean().item()
    return loss, accuracy


def test_training_learns_a_tiny_problem():
    x, y = _two_classes()
    session = FakeSession(x, y, "simple_cnn", batch_size=16, epochs=10, seed=3)
    torch.manual_seed(3)
    initial_loss, _ = _loss_and_accuracy(baseline.build("simple_cnn", (28, 28, 1), 10), x, y)
    model = baseline.fit(session)
    loss, accuracy = _loss_and_accuracy(model, x, y)
    assert session.images == [64] * 10
    assert loss < 0.5 * initial_loss
    assert accuracy == 1.0


def test_prepare_model_compiles_only_when_asked(monkeypatch):
    compiled = []

    def fake_compile(model, **kwargs):
        compiled.append(model)
        return "compiled"

    monkeypatch.setattr(torch, "compile", fake_compile)
    model = baseline.build("simple_cnn", (28, 28, 1), 10)
    assert baseline.prepare_model(model, {}) is model
    assert baseline.prepare_model(model, {"compile": False}) is model
    assert compiled == []
    assert baseline.prepare_model(model, {"compile": True}) == "compiled"
    assert compiled == [model]


def test_prepare_model_converts_weights_to_channels_last():
    model = baseline.build("resnet20", (32, 32, 3), 10)
    model = baseline.prepare_model(model, {"channels_last": True})
    weight = model.stage1.block1.conv1.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert not weight.is_contiguous()


@pytest.mark.slow
def test_train_with_torch_compile_runs():
    if keras.backend.backend() != "torch":
        pytest.skip("the baseline does not use Keras; its compile check runs in the torch run")
    x, y = _random_data(INPUT_SHAPES["simple_cnn"], n=32)
    session = FakeSession(x, y, "simple_cnn", epochs=1, options={"compile": True})
    model = baseline.fit(session)
    assert hasattr(model, "_orig_mod")
    assert session.images == [32]
