"""BatchNorm and Dropout by their equations, against Keras' layers."""

import keras
import numpy as np
import pytest

from kcnn.inspect.layers_by_hand import (
    DropoutCheck,
    batch_norm_by_hand,
    batch_norm_update,
    batch_statistics,
    batch_statistics_accuracy,
    dropout_by_hand,
    dropout_check,
    moving_statistics_gap,
    set_batch_norm_momentum,
)


def _numpy(value) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype="float64")


def _layer(channels: int, momentum: float, epsilon: float, axis: int = -1, ndim: int = 4):
    """A built BatchNormalization layer with weights and moving averages far from 0 and 1."""
    rng = np.random.default_rng(1)
    layer = keras.layers.BatchNormalization(axis=axis, momentum=momentum, epsilon=epsilon)
    shape = [None] + [5] * (ndim - 1)
    shape[axis] = channels
    layer.build(tuple(shape))
    layer.gamma.assign(rng.uniform(0.5, 2.0, channels).astype("float32"))
    layer.beta.assign(rng.normal(0, 1, channels).astype("float32"))
    layer.moving_mean.assign(rng.normal(0, 1, channels).astype("float32"))
    layer.moving_variance.assign(rng.uniform(0.5, 3.0, channels).astype("float32"))
    return layer


@pytest.mark.parametrize("axis", [-1, 1])
def test_batch_norm_by_hand_equals_the_layer_in_training_and_inference(axis):
    rng = np.random.default_rng(0)
    shape = [8, 5, 5, 5]
    shape[axis] = 3
    # conv features with a mean and scale far from 0 and 1, per channel
    x = (rng.normal(2.0, 3.0, shape) * rng.uniform(0.5, 4.0, 3).reshape(
        [3 if i == axis % 4 else 1 for i in range(4)]
    )).astype("float32")  # fmt: skip
    layer = _layer(3, momentum=0.8, epsilon=1e-3, axis=axis)
    gamma, beta = _numpy(layer.gamma), _numpy(layer.beta)
    mean0, var0 = _numpy(layer.moving_mean), _numpy(layer.moving_variance)

    # inference: the moving averages, and the layer's state does not change
    inference = _numpy(layer(x, training=False))
    by_hand = batch_norm_by_hand(x, gamma, beta, mean0, var0, 1e-3, axis=axis)
    assert np.abs(inference - by_hand).max() < 1e-5
    np.testing.assert_array_equal(_numpy(layer.moving_mean), mean0)

    # training: the batch's statistics over batch, height and width
    mean_b, var_b = batch_statistics(x, axis=axis)
    others = tuple(i for i in range(4) if i != axis % 4)
    np.testing.assert_allclose(mean_b, x.astype("float64").mean(axis=others), rtol=1e-12)
    np.testing.assert_allclose(var_b, x.astype("float64").var(axis=others, ddof=0), rtol=1e-12)
    training = _numpy(layer(x, training=True))
    by_hand = batch_norm_by_hand(x, gamma, beta, mean_b, var_b, 1e-3, axis=axis)
    assert np.abs(training - by_hand).max() < 1e-5
    assert np.abs(training - inference).max() > 0.1  # the two modes really differ here

    # the moving averages after that step
    moving_mean, moving_var = batch_norm_update(mean0, var0, x, momentum=0.8, axis=axis)
    np.testing.assert_allclose(moving_mean, 0.8 * mean0 + 0.2 * mean_b)
    assert np.abs(_numpy(layer.moving_mean) - moving_mean).max() < 1e-5
    assert np.abs(_numpy(layer.moving_variance) - moving_var).max() < 1e-5 * moving_var.max()
    # the biased variance, as Keras keeps it (the unbiased one would differ by 200/199)
    unbiased = batch_norm_update(mean0, var0 * 0, x, momentum=0.0, axis=axis)[1] * 200 / 199
    assert np.abs(_numpy(layer.moving_variance) - (0.8 * var0 + 0.2 * unbiased)).max() > 1e-4


def test_batch_norm_on_dense_features_and_several_steps():
    rng = np.random.default_rng(2)
    layer = _layer(4, momentum=0.9, epsilon=1e-5, ndim=2)
    mean, var = _numpy(layer.moving_mean), _numpy(layer.moving_variance)
    for step in range(3):
        x = rng.normal(step, 1 + step, (16, 4)).astype("float32")
        layer(x, training=True)
        mean, var = batch_norm_update(mean, var, x, momentum=0.9)
    assert np.abs(_numpy(layer.moving_mean) - mean).max() < 1e-5
    assert np.abs(_numpy(layer.moving_variance) - var).max() < 1e-5 * var.max()
    x = rng.normal(0, 1, (16, 4)).astype("float32")
    y = batch_norm_by_hand(x, layer.gamma, layer.beta, layer.moving_mean,
                           layer.moving_variance, epsilon=1e-5)  # fmt: skip
    assert np.abs(_numpy(layer(x, training=False)) - y).max() < 1e-5


def test_batch_norm_refusals():
    x = np.ones((4, 3), "float32")
    ones = np.ones(3)
    with pytest.raises(ValueError, match=r"gamma must hold one value per channel, shape \(3,\)"):
        batch_norm_by_hand(x, np.ones(2), ones, ones, ones)
    with pytest.raises(ValueError, match="axis must be an axis of x.*Received: axis=2"):
        batch_statistics(x, axis=2)
    with pytest.raises(ValueError, match="epsilon must be >= 0. Received: epsilon=-1"):
        batch_norm_by_hand(x, ones, ones, ones, ones, epsilon=-1)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\]. Received: momentum=1.5"):
        batch_norm_update(ones, ones, x, momentum=1.5)
    with pytest.raises(ValueError, match="moving_variance must hold one value per channel"):
        batch_norm_update(ones, np.ones(4), x)
    with pytest.raises(ValueError, match="x must not be empty"):
        batch_statistics(np.ones((0, 3)))
    with pytest.raises(TypeError, match="x must be an array of numbers. Received: str"):
        batch_statistics("images")


def test_dropout_by_hand_with_the_layers_mask_and_inference_identity():
    x = np.random.default_rng(0).uniform(1, 2, (64, 50)).astype("float32")
    layer = keras.layers.Dropout(0.3, seed=3)
    out = _numpy(layer(x, training=True))
    mask = out != 0
    assert 0.2 < 1 - mask.mean() < 0.4
    np.testing.assert_allclose(dropout_by_hand(x, mask, 0.3), out, rtol=1e-6)
    np.testing.assert_array_equal(_numpy(layer(x, training=False)), x)
    # a different mask gives a different output
    assert np.abs(dropout_by_hand(x, ~mask, 0.3) - out).max() > 1
    with pytest.raises(ValueError, match=r"rate must be a fraction in \[0, 1\). Received: rate=1"):
        dropout_by_hand(x, mask, 1)
    with pytest.raises(ValueError, match="mask must hold only 0 and 1"):
        dropout_by_hand(x, mask * 2.0, 0.3)
    with pytest.raises(ValueError, match=r"mask must broadcast to x's shape \(64, 50\)"):
        dropout_by_hand(x, mask[:, :3], 0.3)


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_dropout_check_fraction_scale_mean_and_identity(rate):
    check = dropout_check(rate, size=200_000, seed=1)
    assert isinstance(check, DropoutCheck) and check.size == 200_000
    # 200,000 Bernoulli draws: the standard error of the fraction is about 0.001
    assert abs(check.fraction_dropped - rate) < 0.006
    low, high = check.survivor_scale
    assert low == pytest.approx(1 / (1 - rate), rel=1e-6)
    assert high == pytest.approx(1 / (1 - rate), rel=1e-6)
    assert check.output_mean == pytest.approx(check.input_mean, rel=0.01)
    assert check.by_hand_difference < 1e-5
    assert check.inference_difference == 0.0
    assert f"Dropout(rate={rate})" in str(check) and "200,000 values" in str(check)
    with pytest.raises(ValueError, match="size must be an integer >= 1. Received: size=0"):
        dropout_check(rate, size=0)


def _bn_classifier():
    inputs = keras.Input((6,))
    x = keras.layers.Dense(8, name="dense")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    inner = keras.Model(inputs, x, name="inner")
    outer_in = keras.Input((6,))
    y = keras.layers.BatchNormalization(name="bn_outer")(inner(outer_in))
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(y)
    return keras.Model(outer_in, outputs)


def test_set_batch_norm_momentum_reaches_nested_layers():
    model = _bn_classifier()
    assert set_batch_norm_momentum(model, 0.5) == 2
    assert model.get_layer("bn_outer").momentum == 0.5
    assert model.get_layer("inner").get_layer("bn").momentum == 0.5
    with pytest.raises(ValueError, match="momentum must be in"):
        set_batch_norm_momentum(model, -0.1)
    with pytest.raises(TypeError, match="model must be a keras.Model. Received: str"):
        set_batch_norm_momentum("simple_cnn", 0.9)


def test_batch_statistics_accuracy_uses_batch_statistics_and_keeps_the_averages():
    rng = np.random.default_rng(0)
    model = _bn_classifier()
    layers = [model.get_layer("inner").get_layer("bn"), model.get_layer("bn_outer")]
    # data far from the initial moving averages (0 and 1): the two modes disagree
    x = rng.normal(5.0, 4.0, (40, 6)).astype("float32")
    before = [(_numpy(bn.moving_mean), _numpy(bn.moving_variance)) for bn in layers]
    batch_predictions = np.concatenate(
        [_numpy(model(x[i : i + 16], training=True)).argmax(-1) for i in (0, 16, 32)]
    )
    for bn, (mean, variance) in zip(layers, before):
        bn.moving_mean.assign(mean.astype("float32"))
        bn.moving_variance.assign(variance.astype("float32"))
    y = batch_predictions.copy()
    y[:10] = (y[:10] + 1) % 3  # 30 of 40 labels agree with the batch-statistics predictions
    assert batch_statistics_accuracy(model, x, y, batch_size=16) == pytest.approx(30 / 40)
    for bn, (mean, variance) in zip(layers, before):
        np.testing.assert_array_equal(_numpy(bn.moving_mean), mean)
        np.testing.assert_array_equal(_numpy(bn.moving_variance), variance)
    inference = _numpy(model(x, training=False)).argmax(-1)
    assert (inference != batch_predictions).any()
    with pytest.raises(ValueError, match="x and y must hold the same number of examples"):
        batch_statistics_accuracy(model, x, y[:5])
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        batch_statistics_accuracy(model, x, y, batch_size=0)


def test_moving_statistics_gap_measures_stale_averages():
    rng = np.random.default_rng(0)
    inputs = keras.Input((5,))
    h = keras.layers.BatchNormalization(name="bn1")(inputs)
    h = keras.layers.Dense(4, name="dense")(h)
    h = keras.layers.BatchNormalization(name="bn2")(h)
    model = keras.Model(inputs, h)
    x = rng.normal(3.0, 0.1, (500, 5)).astype("float32")  # variance 0.01, mean 3
    gaps = moving_statistics_gap(model, x)
    assert list(gaps) == ["bn1", "bn2"]
    # fresh layers: moving variance 1, moving mean 0
    assert gaps["bn1"].variance_ratio == pytest.approx(100, rel=0.15)
    assert gaps["bn1"].mean_offset == pytest.approx(30, rel=0.15)
    bn = model.get_layer("bn1")
    mean, variance = batch_statistics(x)
    bn.moving_mean.assign(mean.astype("float32"))
    bn.moving_variance.assign(variance.astype("float32"))
    updated = moving_statistics_gap(model, x)["bn1"]
    assert updated.variance_ratio == pytest.approx(1, rel=1e-4)
    assert updated.mean_offset < 1e-3
    with pytest.raises(ValueError, match="has no top-level BatchNormalization layer"):
        moving_statistics_gap(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), x)
