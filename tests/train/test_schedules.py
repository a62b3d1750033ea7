import json

import keras
import numpy as np
import pytest

import kcnn
from kcnn.train import OneCycle, make_schedule


def _rates(schedule, steps):
    return np.array([float(schedule(step)) for step in steps])


def test_onecycle_rises_to_the_peak_then_falls_to_the_floor():
    schedule = OneCycle(0.1, total_steps=100, pct_start=0.25)
    rates = _rates(schedule, range(101))
    np.testing.assert_allclose(rates[0], 0.1 / 25, rtol=1e-5)
    np.testing.assert_allclose(rates[25], 0.1, rtol=1e-5)
    np.testing.assert_allclose(rates[100], 0.1 / 25 / 1e4, rtol=1e-4)
    assert np.all(np.diff(rates[:26]) > 0) and np.all(np.diff(rates[25:]) < 0)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    np.testing.assert_allclose(_rates(restored, [0, 30, 99]), _rates(schedule, [0, 30, 99]))


def test_make_schedule_shapes():
    assert make_schedule("constant", 0.1, 100) == 0.1
    warm = _rates(make_schedule("constant", 0.1, 100, warmup_steps=10), [0, 5, 10, 50, 99])
    np.testing.assert_allclose(warm, [0.0, 0.05, 0.1, 0.1, 0.1], atol=1e-6)
    cosine = _rates(make_schedule("cosine", 0.1, 100), [0, 50, 100])
    np.testing.assert_allclose(cosine, [0.1, 0.05, 0.0], atol=1e-6)
    step = _rates(make_schedule("step", 0.1, 100), [0, 49, 51, 74, 76, 99])
    np.testing.assert_allclose(step, [0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-5)
    with pytest.raises(ValueError, match=r"schedule must be one of \['constant'"):
        make_schedule("linear", 0.1, 100)
    with pytest.raises(ValueError, match="'onecycle' has its own rise"):
        make_schedule("onecycle", 0.1, 100, warmup_steps=5)
    with pytest.raises(ValueError, match="pct_start must be in"):
        OneCycle(0.1, 100, pct_start=1.5)


def test_find_lr_sweeps_restores_the_weights_and_suggests_a_rate(tmp_path):
    data = kcnn.data.load_dataset("digits")
    model = kcnn.build_model("mlp", input_shape=data.input_shape)
    before = [np.array(v) for v in model.variables]
    result = kcnn.train.find_lr(
        model, data.x_train, data.y_train, num_steps=200, path=tmp_path / "lr.png"
    )
    for a, b in zip(before, model.variables):
        np.testing.assert_array_equal(a, np.asarray(b))
    rates, losses = np.array(result["learning_rates"]), np.array(result["losses"])
    assert len(rates) == len(losses) >= 60 and np.all(np.diff(rates) > 0)
    # Tiny rates leave the loss where it started; the sweep finds rates that lower it.
    assert losses.min() < 0.75 * losses[:20].mean()
    assert 1e-4 <= result["suggestion"] <= 1.0, result["suggestion"]
    assert (tmp_path / "lr.png").stat().st_size > 10_000
    json.dumps(result)  # plain numbers, ready to log
    with pytest.raises(ValueError, match="Need 0 < start_lr < end_lr"):
        kcnn.train.find_lr(model, data.x_train, data.y_train, start_lr=1.0, end_lr=0.1)
