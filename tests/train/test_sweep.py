"""`sweep` on a tiny grid: one row per setting, the builder's parameter count, one run per
seed, and every bad argument refused by name before anything trains."""

import dataclasses
import math

import numpy as np
import pytest

import kcnn
from kcnn.data import load_dataset
from kcnn.train.config import TrainConfig
from kcnn.train.sweep import sweep

BASE = {"hidden_units": (8,), "dropout": 0.0}
CNN = {"filters": (4,), "dense_units": 0}


@pytest.fixture(scope="module")
def tiny():
    """60 training images, 144 validation and 360 test images: whole batches of 12."""
    return load_dataset("digits", seed=0).subset(per_class=6)


@pytest.fixture(scope="module")
def config():
    return TrainConfig(epochs=2, batch_size=12, verbose=0, top_k=None)


def test_one_factor_at_a_time_trains_each_setting_once_per_seed(tiny, config):
    # Without a validation split, each run compiles only its training step.
    data = dataclasses.replace(tiny, x_val=tiny.x_val[:0], y_val=tiny.y_val[:0])
    result = sweep("mlp", {"hidden_units": [(8,), (16,)]}, data, config, base=BASE, seeds=[0, 1])
    # (8,) is the base's value: the base row trains it, once.
    assert [row.label for row in result.rows] == ["base", "hidden_units=(16,)"]
    assert [row.setting for row in result.rows] == [{}, {"hidden_units": (16,)}]
    assert result.split == "test" and result.seeds == (0, 1)
    for row in result.rows:
        model = kcnn.build_model("mlp", input_shape=tiny.input_shape, **{**BASE, **row.setting})
        assert row.params == model.count_params()
        assert len(row.accuracies) == len(row.seconds) == len(row.histories) == 2
        assert all(0 <= a <= 1 for a in row.accuracies) and all(s > 0 for s in row.seconds)
        assert row.accuracy == pytest.approx(np.mean(row.accuracies))
        assert row.spread == (min(row.accuracies), max(row.accuracies))
        for history in row.histories:
            assert len(history["loss"]) == config.epochs and "val_loss" not in history
            assert all(math.isfinite(v) for v in history["loss"])
    # 8 more hidden units: 64 weights and a bias each, and 10 output weights.
    assert result.row("hidden_units=(16,)").params - result.row("base").params == 8 * (65 + 10)
    # The seeds start from different weights.
    assert result.row("base").histories[0]["loss"] != result.row("base").histories[1]["loss"]

    table = result.table().splitlines()
    assert table[0].startswith("| setting | parameters | test accuracy (mean, min-max of 2")
    assert "vs base" in table[0] and len(table) == 2 + len(result.rows)
    base, wide = result.row("base"), result.row("hidden_units=(16,)")
    assert table[2].startswith(f"| base | {base.params:,} | {base.accuracy:.3f} (")
    assert f"| {wide.accuracy - base.accuracy:+.3f} |" in table[3]

    figure = result.plot("accuracy")
    assert [ax.get_title() for ax in figure.axes if ax.get_visible()] == ["hidden_units"]
    assert len(figure.axes[0].lines) == 2  # the base and the change
    with pytest.raises(KeyError, match="No row 'hidden_units=7'"):
        result.row("hidden_units=7")


def test_product_mode_train_config_keys_and_validation_accuracy(tiny, config):
    no_test = dataclasses.replace(tiny, x_test=tiny.x_test[:0], y_test=tiny.y_test[:0])
    result = sweep("simple_cnn", {"kernel_size": [5], "learning_rate": [3e-3]}, no_test,
                   dataclasses.replace(config, epochs=1), base=CNN, seeds=[3],
                   mode="product")  # fmt: skip
    (row,) = result.rows
    assert row.label == "kernel_size=5, learning_rate=0.003"
    assert row.setting == {"kernel_size": 5, "learning_rate": 3e-3}
    assert row.params == kcnn.build_model("simple_cnn", input_shape=(8, 8, 1), kernel_size=5,
                                          **CNN).count_params()  # fmt: skip
    # 25 weights per input-output pair instead of 9 (4 filters, 1 channel, no bias).
    assert row.params - kcnn.build_model("simple_cnn", input_shape=(8, 8, 1), kernel_size=3,
                                         **CNN).count_params() == (25 - 9) * 4  # fmt: skip
    table = result.table()
    assert result.split == "validation" and "| validation accuracy (mean) | fit time" in table
    assert "vs base" not in table
    (ax,) = result.plot().axes
    assert ax.get_ylabel() == "val accuracy" and len(ax.lines) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"grid": {"kernal_size": [3]}},
            ValueError,
            r"grid key 'kernal_size' is neither an argument of model 'simple_cnn' nor a "
            r"TrainConfig field. Received: grid\['kernal_size'\]=3",
        ),
        ({"base": {"dropuot": 0.1}}, ValueError, "base key 'dropuot' is neither an argument"),
        ({"grid": {"seed": [1, 2]}}, ValueError, "grid cannot set 'seed': pass seeds="),
        ({"grid": {"input_shape": [(8, 8, 1)]}}, ValueError, "it comes from the data"),
        ({"grid": {}}, ValueError, "grid must name at least one argument"),
        ({"grid": {"dropout": 0.5}}, TypeError, r"grid\['dropout'\] must be a non-empty list"),
        ({"grid": {"dropout": []}}, TypeError, r"grid\['dropout'\] must be a non-empty list"),
        ({"grid": [("dropout", [0.5])]}, TypeError, "grid must be a dict"),
        ({"grid": {"filters": [(0,)]}}, ValueError, "filters"),
        ({"grid": {"learning_rate": [-1.0]}}, ValueError, "learning_rate"),
        ({"model": "simple_cn"}, ValueError, "Unknown model name: 'simple_cn'. Did you mean"),
        ({"model": len}, TypeError, "model must be a registered model name"),
        ({"seeds": []}, ValueError, "seeds must be a non-empty list of integers"),
        ({"seeds": [0, 0]}, ValueError, "seeds must be distinct"),
        ({"mode": "grid"}, ValueError, r"mode must be one of \['one_at_a_time', 'product'\]"),
        ({"data": "digits"}, TypeError, "data must be a kcnn.data.Dataset. Received: str"),
        ({"config": {"epochs": 1}}, TypeError, "config must be a kcnn.train.TrainConfig"),
    ],
)
def test_bad_arguments_are_refused_before_training(tiny, config, kwargs, error, message):
    arguments = {"model": "simple_cnn", "grid": {"dropout": [0.0]}, "data": tiny,
                 "config": config, "base": CNN, **kwargs}  # fmt: skip
    with pytest.raises(error, match=message):
        sweep(arguments.pop("model"), arguments.pop("grid"), arguments.pop("data"),
              arguments.pop("config"), **arguments)  # fmt: skip
