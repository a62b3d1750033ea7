"""TrainConfig's top_k, clip_norm and grad_accum, through fit."""

import json

import keras
import numpy as np
import pytest

import kcnn
from kcnn.train import TrainConfig
from kcnn.train.compile import make_metrics


@pytest.fixture(scope="module")
def digits():
    return kcnn.data.load_dataset("digits", validation_split=0.1, seed=0)


def _mlp(data, seed=0):
    keras.utils.set_random_seed(seed)
    return kcnn.build_model("mlp", input_shape=data.input_shape, hidden_units=(16,), dropout=0.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"top_k": 1}, r"top_k must be .*>= 2.* Received: top_k=1"),
        ({"top_k": "five"}, r"top_k must be an integer"),
        ({"clip_norm": 0}, r"clip_norm must be .*> 0.* Received: clip_norm=0"),
        ({"grad_accum": 0}, r"grad_accum must be .*>= 1.* Received: grad_accum=0"),
    ],
)
def test_bad_options_say_what_is_accepted(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_top_k_auto_means_top5_above_five_classes():
    names = lambda config, k: [getattr(m, "name", m) for m in make_metrics(config, k, False)]  # noqa: E731
    assert names(TrainConfig(), 10) == ["accuracy", "top5_accuracy"]
    assert names(TrainConfig(), 5) == ["accuracy"]
    assert names(TrainConfig(top_k=3), 10) == ["accuracy", "top3_accuracy"]
    assert names(TrainConfig(top_k=None), 10) == ["accuracy"]
    assert TrainConfig.from_dict({"epochs": 2}).top_k is None  # an older config.json


def test_top5_is_in_the_history_the_csv_and_the_test_metrics(digits, tmp_path):
    config = TrainConfig(epochs=1, verbose=0, checkpoint=False)
    history, run = kcnn.train.fit(_mlp(digits), digits, config, run_dir=tmp_path)
    assert {"top5_accuracy", "val_top5_accuracy"} <= set(history.history)
    assert "val_top5_accuracy" in (run / "history.csv").read_text().splitlines()[0]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test_top5_accuracy"] >= metrics["test_accuracy"]


def test_top_k_of_all_classes_is_refused_before_anything_is_written(digits, tmp_path):
    with pytest.raises(ValueError, match=r"top_k must be below the number of classes \(10\)"):
        kcnn.train.fit(_mlp(digits), digits, TrainConfig(top_k=10, verbose=0), run_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_two_accumulated_batches_make_the_update_of_one_double_batch(digits):
    data = digits.subset(per_class=10)  # 100 images: one update of 64, then 36
    data.x_train, data.y_train = data.x_train[:64], data.y_train[:64]
    weights = []
    for batch_size, accum in ((64, 1), (32, 2)):
        model = _mlp(data)
        config = TrainConfig(epochs=1, batch_size=batch_size, grad_accum=accum, optimizer="sgd",
                             learning_rate=0.1, verbose=0, top_k=None)  # fmt: skip
        kcnn.train.fit(model, data, config, run_dir=None)
        assert int(model.optimizer.iterations) == 1
        weights.append(model.get_weights())
    for accumulated, whole in zip(*weights):
        np.testing.assert_allclose(accumulated, whole, atol=1e-6)


def test_clip_norm_bounds_the_first_update(digits):
    moves = {}
    for clip in (None, 1e-3):
        model = _mlp(digits)
        before = np.concatenate([w.ravel() for w in model.get_weights()])
        data = digits.subset(per_class=7)
        data.x_train, data.y_train = data.x_train[:64], data.y_train[:64]
        config = TrainConfig(epochs=1, batch_size=64, optimizer="sgd", learning_rate=1.0,
                             clip_norm=clip, weight_decay=0, verbose=0, top_k=None)  # fmt: skip
        kcnn.train.fit(model, data, config, run_dir=None)
        after = np.concatenate([w.ravel() for w in model.get_weights()])
        moves[clip] = float(np.linalg.norm(after - before))
    # Nesterov's first step moves by (1 + momentum) * lr * gradient.
    assert moves[1e-3] <= 1.9 * 1.0 * 1e-3 * (1 + 1e-4)
    assert moves[None] > 10 * moves[1e-3]
