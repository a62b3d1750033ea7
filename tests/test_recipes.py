"""Every recipe runs end to end with a tiny budget, so none can rot.

KERAS_MAX_EPOCHS=1 and KERAS_MAX_STEPS_PER_EPOCH=2 cut training, evaluation and
prediction to two batches; the recipes that need a download run on Fashion-MNIST,
which has the same format as MNIST (and CIFAR-10's loader is tested in tests/data).
The backends take turns: with the suite run once per backend, each recipe runs once, on
one backend (the library code under them is tested on all three). Set
KCNN_ALL_RECIPES=1 to run every recipe on this backend.
"""

import json
import os
import subprocess
import sys

import keras
import pytest

from tests.conftest import BACKENDS, REPO

RECIPES = {
    "lenet5_digits.py": [],
    "lenet5_mnist.py": ["--dataset", "fashion_mnist"],
    "simple_cnn_mnist.py": ["--dataset", "fashion_mnist"],
    "simple_cnn_fashion_mnist.py": [],
    "mlp_vs_cnn_fashion_mnist.py": [],
    "ablation_bn_dropout.py": [],
    "augmentation_ablation.py": [],
    "resnet20_cifar10.py": ["--dataset", "fashion_mnist"],
    "resnet_fashion_mnist.py": [],
    "transfer_learning.py": [],
}
PLOTS = {
    "lenet5_mnist.py": "lenet5_variants.png",
    "mlp_vs_cnn_fashion_mnist.py": "mlp_vs_cnn.png",
    "ablation_bn_dropout.py": "ablation_bn_dropout.png",
    "augmentation_ablation.py": "augmentation_ablation.png",
}


def test_every_recipe_is_listed():
    found = {p.name for p in (REPO / "recipes").glob("*.py")} - {"common.py"}
    assert found == set(RECIPES)


def _turn(recipes) -> list[str]:
    """The recipes this backend runs: every third, by name."""
    if os.environ.get("KCNN_ALL_RECIPES"):
        return sorted(recipes)
    index = BACKENDS.index(keras.backend.backend())
    return [r for i, r in enumerate(sorted(recipes)) if i % len(BACKENDS) == index]


def test_the_backends_share_out_every_recipe(monkeypatch):
    monkeypatch.delenv("KCNN_ALL_RECIPES", raising=False)
    shares = []
    for backend in BACKENDS:
        monkeypatch.setattr(keras.backend, "backend", lambda b=backend: b)
        shares.append(_turn(RECIPES))
    assert sorted(sum(shares, [])) == sorted(RECIPES)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", _turn(RECIPES))
def test_recipe_runs_with_a_tiny_budget(recipe, tmp_path, fashion_mnist):
    backend = keras.backend.backend()
    env = {**os.environ, "KERAS_MAX_EPOCHS": "1", "KERAS_MAX_STEPS_PER_EPOCH": "2"}
    done = subprocess.run(
        [sys.executable, str(REPO / "recipes" / recipe), "--epochs", "2", "--batch-size", "16",
         "--backend", backend, "--out", str(tmp_path), *RECIPES[recipe]],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert "test accuracy" in done.stdout
    runs = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert runs and all((run / "model.keras").is_file() for run in runs)
    assert all(json.loads((r / "config.json").read_text())["backend"] == backend
               for r in runs)  # fmt: skip
    if recipe in PLOTS:
        assert (tmp_path / PLOTS[recipe]).stat().st_size > 10_000


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="no data-parallel path in Keras")
@pytest.mark.rotate(backends=("tensorflow", "jax"))
def test_a_recipe_trains_on_two_devices(tmp_path):
    """--devices 2 (the CPU split in two) runs a recipe data-parallel, end to end."""
    env = {**os.environ, "KERAS_MAX_EPOCHS": "1", "KERAS_MAX_STEPS_PER_EPOCH": "2"}
    done = subprocess.run(
        [sys.executable, str(REPO / "recipes" / "lenet5_digits.py"), "--epochs", "1",
         "--batch-size", "32", "--backend", keras.backend.backend(), "--devices", "2",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Global batch 32 = 2 replicas x 16 per replica" in done.stdout
    assert "test accuracy" in done.stdout
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert json.loads((run / "config.json").read_text())["distribution"]["num_replicas"] == 2
