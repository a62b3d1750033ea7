"""kcnn.train.run: the run folder's one owner, its file modes, and `load_run`."""

import json
import os
import shutil
import stat

import pytest

import kcnn
from kcnn.train import TrainConfig
from kcnn.train.run import RunFolder, load_run, resume_settings
from tests.conftest import REPO

LEGACY = REPO / "tests" / "fixtures" / "legacy-run"


@pytest.fixture(scope="module")
def digits():
    return kcnn.data.load_dataset("digits", validation_split=0.1, seed=0)


def _small_model(data):
    return kcnn.build_model("simple_cnn", input_shape=data.input_shape, filters=(4, 8),
                            dense_units=16)  # fmt: skip


@pytest.mark.rotate  # backend-independent plumbing, 15-40 s: one backend a day
def test_every_file_of_a_run_folder_is_readable_by_group_and_others(digits, tmp_path):
    old = os.umask(0o022)
    try:
        config = TrainConfig(epochs=2, batch_size=128, verbose=0)
        _, path = kcnn.train.fit(_small_model(digits), digits, config, run_dir=tmp_path)
    finally:
        os.umask(old)
    files = [p for p in path.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"config.json", "history.json", "history.csv",
                                       "report.md", "metrics.json", "checkpoint.json",
                                       "curves.png", "confusion.png", "model.keras"}  # fmt: skip
    modes = {p.relative_to(path).as_posix(): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {"0o644"}, modes
    assert not [p for p in path.rglob(".*")], "no temporary file is left behind"


@pytest.mark.rotate  # backend-independent plumbing, 15-40 s: one backend a day
def test_resuming_removes_the_temporary_files_of_a_killed_write(digits, tmp_path):
    run = shutil.copytree(LEGACY, tmp_path / "run")
    (run / ".checkpoint.json.abcd1234.tmp").write_text('{"epoch": 3')  # a write cut short
    (run / "checkpoints" / ".epoch-0003.keras.0badf00d.tmp.keras").write_bytes(b"PK")
    (run / "checkpoints" / ".epoch-0003.tmp.keras").write_bytes(b"PK")  # older naming
    config = TrainConfig.from_dict({**RunFolder(run).read_config(), "epochs": 3})
    kcnn.train.fit(_small_model(digits), digits, config, resume=run)
    assert not [p.name for p in run.rglob(".*")]
    assert RunFolder(run).read_checkpoint()["epoch"] == 3


def test_load_run_reads_a_run_back():
    run = load_run(LEGACY)
    assert run.config["model"] == "simple_cnn" and run.finished
    assert run.history["epoch"] == [1, 2]
    assert run.metrics["parameters"]["trainable"] == 1046
    assert run.data_settings() == {"validation_split": 0.1, "seed": 0, "image_size": None}
    model = run.load_model()
    assert model.count_params() == 1070


def test_load_run_says_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a kcnn run folder: it has no config.json"):
        load_run(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"config.json is not valid JSON"):
        load_run(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model": "mlp"}))
    with pytest.raises(FileNotFoundError, match="has no model.keras: the run has not finished"):
        load_run(tmp_path).load_model()


def test_resume_settings_carry_the_data_but_not_the_backend():
    stored = {**TrainConfig(epochs=4).to_dict(), "model": "lenet5", "dataset": "digits",
              "backend": "jax", "distribution": {"engine": "DataParallel"}}  # fmt: skip
    config, info = resume_settings(stored, None, {"dataset": "mnist"}, TrainConfig)
    assert config.epochs == 4
    assert info == {"model": "lenet5", "dataset": "mnist"}
    config, _ = resume_settings(stored, TrainConfig(epochs=9), None, TrainConfig)
    assert config.epochs == 9


def test_new_folders_never_collide(tmp_path):
    first, second = RunFolder.new(tmp_path, "m"), RunFolder.new(tmp_path, "m")
    assert first.path != second.path and first.path.parent == second.path.parent == tmp_path
    scratch = RunFolder.for_process(1)
    assert scratch.scratch and scratch.path.is_dir()
    scratch.close()
    assert not scratch.path.exists()


@pytest.mark.rotate
def test_a_damaged_last_checkpoint_falls_back_to_the_one_before_and_says_so(digits, tmp_path):
    import keras
    import numpy as np

    data = digits.subset(per_class=20)
    config = TrainConfig(epochs=3, batch_size=32, verbose=0, top_k=None)
    keras.utils.set_random_seed(0)
    reference = _small_model(data)
    kcnn.train.fit(reference, data, config, run_dir=None)
    keras.utils.set_random_seed(0)
    two = TrainConfig(**{**config.to_dict(), "epochs": 2})
    _, run = kcnn.train.fit(_small_model(data), data, two, run_dir=tmp_path)
    last = run / "checkpoints" / "epoch-0002.keras"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # a disk that lost half
    assert RunFolder(run).read_checkpoint(previous=True)["epoch"] == 1
    keras.utils.set_random_seed(0)
    resumed = _small_model(data)
    with pytest.warns(UserWarning, match=r"epoch-0002\.keras cannot be read .* epoch 1"):
        history, _ = kcnn.train.fit(resumed, data, config, resume=run)
    assert history.epoch == [0, 1, 2]
    for got, expected in zip(resumed.weights, reference.weights):
        np.testing.assert_array_equal(np.array(got), np.array(expected))
