"""Each provoked run gets its diagnosis: the claim of the tutorial "Reading training curves".

The runs train for seconds each, so they are slow checks that take turns over the backends;
the argument checks run everywhere (the divergence rule on written-out histories is
checked in test_diagnose.py)."""

import importlib
import math

import pytest

from kcnn.data import load_dataset
from kcnn.train.curve_examples import PATTERNS, RECIPES, provoke

# The module: the attribute kcnn.train.diagnose is the function of the same name.
d = importlib.import_module("kcnn.train.diagnose")


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", validation_split=0.2, seed=0)


@pytest.mark.slow
@pytest.mark.rotate
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("pattern", PATTERNS)
def test_each_provoked_run_gets_its_diagnosis(pattern, seed, digits):
    example = provoke(pattern, seed, digits)
    assert example.finding is not None, (pattern, seed, example.kinds, example.history)
    # What the callback found at the end of fit is what diagnose reads in the history.
    assert example.findings == d.diagnose(example.history)
    history = example.history
    epochs = RECIPES[pattern].config["epochs"]
    if pattern == "nan":  # training stopped on the NaN batch
        assert len(history["loss"]) < epochs and math.isnan(history["loss"][-1])
    else:
        assert len(history["loss"]) == epochs
        assert all(math.isfinite(v) for v in history["loss"])
    if pattern == "diverged":  # no better than chance, after a loss far above ln(10)
        assert max(history["loss"]) > 10 and history["accuracy"][-1] < 0.2
    if pattern in ("overfit", "late_overfit"):
        assert history["accuracy"][-1] > 0.97
    if pattern == "late_overfit":  # the accuracies stay close: only the loss tells
        assert "overfit" not in example.kinds


def test_every_recipe_expects_a_kind_kcnn_knows():
    assert set(PATTERNS) == set(RECIPES)
    for recipe in RECIPES.values():
        assert recipe.expected in d.KINDS


def test_provoke_refuses_bad_arguments(digits):
    with pytest.raises(ValueError, match=r"pattern must be one of .*Received: pattern='exploded'"):
        provoke("exploded")
    with pytest.raises(ValueError, match="seed must be an integer"):
        provoke("nan", seed=-1, data=digits)
    with pytest.raises(TypeError, match="data must be a kcnn.data.Dataset. Received: tuple"):
        provoke("nan", data=(digits.x_train, digits.y_train))
    no_validation = load_dataset("digits", validation_split=0)
    with pytest.raises(ValueError, match="data must have a validation split"):
        provoke("overfit", data=no_validation)
