"""``kcnn fine-tune`` on a finished run of a transfer model."""

import json

import keras
import pytest

import kcnn
from kcnn import cli


@pytest.mark.rotate  # trains a transfer model twice: about a minute
def test_fine_tune_trains_a_finished_transfer_run_on_in_a_new_folder(tmp_path, capsys):
    data = kcnn.data.load_dataset("digits", validation_split=0.1)
    keras.utils.set_random_seed(0)
    model = kcnn.build_model(
        "transfer", backbone="mobilenet_v2", weights=None, input_shape=data.input_shape,
        image_size=(32, 32), backbone_kwargs={"alpha": 0.35}, num_classes=10,
    )  # fmt: skip
    config = kcnn.train.TrainConfig(epochs=1, batch_size=128, verbose=0, checkpoint=False)
    _, run = kcnn.train.fit(model, data, config, run_dir=tmp_path / "phase1")
    code = cli.main(["fine-tune", str(run), "--unfreeze", "10", "--lr", "1e-4",
                     "--epochs", "1", "--out", str(tmp_path / "phase2")])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0, printed
    (tuned,) = (tmp_path / "phase2").iterdir()
    stored = json.loads((tuned / "config.json").read_text())
    assert stored["fine_tuned_from"] == str(run) and stored["unfreeze"] == 10
    assert stored["learning_rate"] == 1e-4 and stored["dataset"] == "digits"
    assert stored["batch_size"] == 128  # the run's own settings carry over
    assert "test accuracy" in printed and (tuned / "model.keras").is_file()


def test_fine_tune_says_what_is_wrong(tmp_path, capsys):
    assert cli.main(["fine-tune", str(tmp_path), "--epochs", "0"]) == 2
    assert "--epochs must be an integer >= 1" in capsys.readouterr().err
    assert cli.main(["fine-tune", str(tmp_path)]) == 2
    assert "not a kcnn run folder" in capsys.readouterr().err
