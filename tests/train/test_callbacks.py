import json
import math

import keras
import numpy as np
import pytest

import kcnn
from kcnn.data.datasets import Dataset
from kcnn.train import (
    CurvePlotter,
    RunCheckpoint,
    TerminateOnNaN,
    TrainConfig,
    TrainingDiagnostics,
    early_stopping,
)
from kcnn.train.callbacks import read_history


def _feed(callback, logs_per_epoch, first_epoch=0):
    callback.on_train_begin()
    for offset, logs in enumerate(logs_per_epoch):
        callback.on_epoch_begin(first_epoch + offset)
        callback.on_epoch_end(first_epoch + offset, logs)
    callback.on_train_end()


LOGS = [
    {"loss": 1.0, "accuracy": 0.6, "val_loss": 0.9, "val_accuracy": 0.65},
    {"loss": 0.6, "accuracy": 0.8, "val_loss": 0.7, "val_accuracy": 0.75},
    {"loss": 0.4, "accuracy": 0.9, "val_loss": 0.8, "val_accuracy": 0.74},
]


def test_curve_plotter_writes_png_json_csv_every_epoch(tmp_path):
    plotter = CurvePlotter(tmp_path, patience=1)
    _feed(plotter, LOGS)
    history = read_history(tmp_path)
    assert history["epoch"] == [1, 2, 3] and history["val_loss"] == [0.9, 0.7, 0.8]
    csv = (tmp_path / "history.csv").read_text().splitlines()
    assert csv[0] == "epoch,accuracy,loss,val_accuracy,val_loss" and csv[3].startswith("3,0.9,")
    assert (tmp_path / "curves.png").stat().st_size > 20_000
    assert not list(tmp_path.glob(".*"))  # no temporary files left


def test_a_resumed_run_continues_the_history_without_gap_or_repeat(tmp_path):
    _feed(CurvePlotter(tmp_path), LOGS)  # epochs 1-3 on disk
    # The process died after epoch 2's checkpoint; training restarts at epoch 3 (index 2).
    plotter = CurvePlotter(tmp_path)
    _feed(plotter, [{"loss": 0.35, "accuracy": 0.91}, {"loss": 0.3, "accuracy": 0.93}], 2)
    history = read_history(tmp_path)
    assert history["epoch"] == [1, 2, 3, 4]
    assert history["loss"] == [1.0, 0.6, 0.35, 0.3]
    assert history["val_loss"][:2] == [0.9, 0.7] and all(map(math.isnan, history["val_loss"][2:]))


def test_callbacks_serialize_round_trip(tmp_path):
    for callback in (
        CurvePlotter(tmp_path, filename="c.png", monitor="val_accuracy", patience=3),
        TrainingDiagnostics(tmp_path, verbose=False),
        RunCheckpoint(tmp_path, keep=3),
        TerminateOnNaN(raise_error=False),
    ):
        config = keras.saving.serialize_keras_object(callback)
        assert config["registered_name"].startswith("kcnn>")
        again = keras.saving.deserialize_keras_object(config)
        assert type(again) is type(callback) and again.get_config() == callback.get_config()


def test_bad_callback_arguments_are_named():
    with pytest.raises(ValueError, match="monitor must be 'val_loss'.*monitor='val_f1'"):
        CurvePlotter(".", monitor="val_f1")
    with pytest.raises(ValueError, match="keep must be an integer >= 1. Received: keep=0"):
        RunCheckpoint(".", keep=0)
    with pytest.raises(ValueError, match=r"one of \['quick', 'default', 'patient'\]"):
        early_stopping("eager")


def test_early_stopping_presets_restore_the_best_weights():
    stopper = early_stopping("quick")
    assert stopper.patience == 3 and stopper.restore_best_weights and stopper.monitor == "val_loss"
    assert early_stopping(7, monitor="val_accuracy").patience == 7


def test_diagnostics_print_once_and_write_a_report(tmp_path, capsys):
    diagnostics = TrainingDiagnostics(tmp_path)
    overfit = {"loss": 0.01, "accuracy": 0.99, "val_loss": 1.5, "val_accuracy": 0.6}
    _feed(diagnostics, [overfit, overfit])
    printed = capsys.readouterr().out
    assert printed.count("kcnn diagnosis: overfit") == 1
    assert [f.kind for f in diagnostics.findings] == ["overfit"]
    assert "## overfit (epoch 2)" in (tmp_path / "report.md").read_text()


def _subset(data, n_train, n_val, seed=0):
    """A small real data set: the first n_train training images, validation from the test."""
    rng = np.random.default_rng(seed)
    train = rng.permutation(len(data.x_train))[:n_train]
    return Dataset(
        "subset", data.x_train[train], data.y_train[train],
        data.x_test[:n_val], data.y_test[:n_val], data.x_test[:0], data.y_test[:0],
        data.class_names,
    )  # fmt: skip


@pytest.mark.learning
def test_diagnosis_of_real_runs(fashion_mnist, tmp_path):
    """Provoke each condition for real and check the diagnosis names it."""
    small = _subset(fashion_mnist, 200, 500)

    def run(model, name, **config):
        keras.utils.set_random_seed(0)
        _, path = kcnn.train.fit(model, small, TrainConfig(verbose=0, **config), tmp_path / name)
        return (path / "report.md").read_text()

    # A CNN without dropout on 200 images memorises them; validation loss turns up.
    report = run(kcnn.build_model("simple_cnn", dropout=0.0), "over", epochs=30, batch_size=32)
    assert "## overfit" in report and "## late overfit" in report, report
    # Two hidden units cannot fit ten classes.
    report = run(kcnn.build_model("mlp", hidden_units=(2,)), "under", epochs=4,
                 learning_rate=3e-4)  # fmt: skip
    assert "## underfit" in report, report
    # A rate of 1e-7 does not move the weights.
    report = run(kcnn.build_model("mlp"), "stuck", epochs=5, learning_rate=1e-7)
    assert "## stagnation" in report, report
    # Keras clips the predicted probabilities, so a rate of 10 only saturates the loss at
    # about 14.5; SGD at 1e6 overflows the weights: fit stops on that batch and says why.
    with pytest.raises(RuntimeError, match="Training diverged.*lower the learning rate"):
        run(kcnn.build_model("simple_cnn"), "nan", epochs=3, optimizer="sgd", learning_rate=1e6)
    (nan_run,) = (tmp_path / "nan").iterdir()
    assert "## nan" in (nan_run / "report.md").read_text()
    state = kcnn.train.read_checkpoint(nan_run)
    if state is not None:  # any checkpoint kept holds finite weights
        model = keras.saving.load_model(state["file"])
        assert all(np.isfinite(np.asarray(v)).all() for v in model.weights)
    assert json.loads((nan_run / "config.json").read_text())["learning_rate"] == 1e6
