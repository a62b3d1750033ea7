"""The slow checks take turns over the backends (tests/conftest.py)."""

from pathlib import Path

import keras
import pytest

from tests.conftest import BACKENDS, rotation_owner


class _Item:
    def __init__(self, name, marks=(), params=None, rotate_kwargs=None):
        self.path = Path("tests/test_x.py")
        self.originalname = name
        self.marks = {m: pytest.Mark(m, (), rotate_kwargs or {}) for m in marks}
        if params is not None:
            self.callspec = type("CallSpec", (), {"params": params})()

    def get_closest_marker(self, name):
        return self.marks.get(name)


def test_an_ordinary_test_runs_everywhere():
    assert rotation_owner(_Item("test_fast")) is None


def test_each_slow_check_runs_on_one_backend_a_day_and_on_each_over_three_days():
    item = _Item("test_slow", marks=("rotate",))
    owners = [rotation_owner(item, day) for day in range(3)]
    assert sorted(owners) == sorted(BACKENDS)
    learning = _Item("test_learns", marks=("learning",))
    assert rotation_owner(learning, 5) in BACKENDS


def test_a_check_runs_only_where_it_can():
    item = _Item("test_two_devices", marks=("rotate",), rotate_kwargs={"backends": ("jax",)})
    assert {rotation_owner(item, day) for day in range(6)} == {"jax"}


def test_a_pair_of_backends_is_checked_once(monkeypatch):
    for day in range(6):
        owners = set()
        for here in BACKENDS:
            monkeypatch.setattr(keras.backend, "backend", lambda b=here: b)
            for other in BACKENDS:
                if other != here and {here, other} == {"jax", "torch"}:
                    item = _Item("test_cross", ("rotate",), {"other_backend": other})
                    owner = rotation_owner(item, day)
                    assert owner in {"jax", "torch"}
                    owners.add((owner, owner == here))
        # the same owner is named from both sides, and exactly one side is the owner
        assert len({o for o, _ in owners}) == 1
        assert sum(mine for _, mine in owners) == 1
