"""kcnn._validate: the shared argument checks and their messages."""

import math

import pytest

from kcnn._validate import check_choice, check_int, check_number, check_type


def test_check_int():
    assert check_int("epochs", 3, minimum=1) == 3
    for bad in (0, 2.0, True, "3", None):
        message = rf"epochs must be an integer >= 1\. Received: epochs={bad!r}"
        with pytest.raises(ValueError, match=message):
            check_int("epochs", bad, minimum=1)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 5\]. Received: k=6"):
        check_int("k", 6, minimum=1, maximum=5)
    with pytest.raises(ValueError, match=r"k must be an integer <= 5"):
        check_int("k", 9, maximum=5)


def test_check_number():
    assert check_number("lr", 0.1, 0.0, low_open=True) == 0.1
    with pytest.raises(ValueError, match=r"lr must be > 0.0\. Received: lr=0"):
        check_number("lr", 0, 0.0, low_open=True)
    with pytest.raises(ValueError, match=r"p must be in \[0.0, 1.0\)\. Received: p=1.0"):
        check_number("p", 1.0, 0.0, 1.0)
    assert check_number("p", 1.0, 0.0, 1.0, high_open=False) == 1.0
    with pytest.raises(ValueError, match=r"w must be in \[0.0, inf\)\. Received: w=-0.1"):
        check_number("w", -0.1, 0.0, math.inf)
    for bad in (float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError, match="Received: x="):
            check_number("x", bad)


def test_check_choice_and_type():
    assert check_choice("path", "device", ("device", "tf.data")) == "device"
    message = r"path must be one of \['device', 'tf.data'\]\. Received: path='gpu'"
    with pytest.raises(ValueError, match=message):
        check_choice("path", "gpu", ("device", "tf.data"))
    with pytest.raises(ValueError, match="Received: verbose=True"):
        check_choice("verbose", True, (1, 2))  # True == 1, but it is not a choice
    assert check_type("config", {}, dict, "a dict") == {}
    with pytest.raises(TypeError, match="config must be a dict. Received: list"):
        check_type("config", [], dict, "a dict")
