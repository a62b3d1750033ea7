"""Run folders and ``.keras`` files written by earlier kcnn code still resume, load and
inspect (the files come from ``tests/fixtures/make_legacy_run.py`` at commit 792bc00)."""

import json
import shutil

import keras
import numpy as np
import pytest

import kcnn
from kcnn.cli import main
from tests.conftest import REPO

FIXTURES = REPO / "tests" / "fixtures"
SIMPLE_CNN = {"filters": (4, 8), "dense_units": 16, "num_classes": 10}


@pytest.fixture
def legacy_run(tmp_path):
    """A copy of the legacy run folder (resuming writes into it)."""
    return shutil.copytree(FIXTURES / "legacy-run", tmp_path / "legacy-run")


def test_a_legacy_run_folder_resumes_for_one_more_epoch(legacy_run):
    stored = json.loads((legacy_run / "config.json").read_text())
    data = kcnn.data.load_dataset("digits", validation_split=0.1, seed=0)
    model = kcnn.build_model("simple_cnn", **SIMPLE_CNN, input_shape=data.input_shape)
    config = kcnn.train.TrainConfig.from_dict({**stored, "epochs": 3})
    history, path = kcnn.train.fit(model, data, config, resume=legacy_run)

    assert path == legacy_run
    assert history.epoch == [0, 1, 2]
    old = json.loads((FIXTURES / "legacy-run" / "history.json").read_text())
    np.testing.assert_allclose(history.history["loss"][:2], old["loss"])
    assert json.loads((legacy_run / "checkpoint.json").read_text())["epoch"] == 3
    written = json.loads((legacy_run / "history.json").read_text())
    assert written["epoch"] == [1, 2, 3]
    metrics = json.loads((legacy_run / "metrics.json").read_text())
    assert metrics["resumed_at_epoch"] == 2 and 0 <= metrics["test_accuracy"] <= 1
    reloaded = keras.saving.load_model(legacy_run / "model.keras", safe_mode=True)
    assert reloaded.output_shape == (None, 10)


def test_a_legacy_checkpoint_reads_and_restores(legacy_run):
    state = kcnn.train.read_checkpoint(legacy_run)
    assert state["epoch"] == 2 and state["file"].endswith("epoch-0002.keras")
    model = kcnn.build_model("simple_cnn", **SIMPLE_CNN, input_shape=(8, 8, 1))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    kcnn.train.restore_checkpoint(model, legacy_run)
    saved = keras.saving.load_model(state["file"], safe_mode=True)
    for a, b in zip(model.get_weights(), saved.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.rotate
@pytest.mark.parametrize("what", ["confusion", "top-losses", "filters"])
def test_kcnn_inspect_reads_a_legacy_run_folder(legacy_run, tmp_path, capsys, what):
    out = tmp_path / f"{what}.png"
    assert main(["inspect", what, str(legacy_run), "--out", str(out)]) == 0
    assert out.stat().st_size > 1000
    assert f"wrote {out}" in capsys.readouterr().out


def test_kcnn_rf_and_params_read_a_legacy_run_folder(legacy_run, capsys):
    assert main(["rf", str(legacy_run)]) == 0
    assert "Conv2D" in capsys.readouterr().out
    assert main(["params", str(legacy_run)]) == 0
    total = capsys.readouterr().out.splitlines()[-1].split()
    assert total[:3] == ["total", "1,046", "24"]  # trainable and not, as metrics.json says


def test_a_legacy_keras_file_with_kcnn_layers_loads_and_predicts():
    model = keras.saving.load_model(FIXTURES / "legacy-layers.keras", safe_mode=True)
    names = [layer.__class__.__name__ for layer in model.layers]
    assert "RandomPadCrop" in names and "ZeroPadShortcut" in names
    probabilities = keras.ops.convert_to_numpy(model(np.zeros((2, 8, 8, 3), "float32")))
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)
