import json
import re
import subprocess
import sys

import pytest

from kcnn import cli


def test_models_lists_every_registered_name(capsys):
    assert cli.main(["models", "--no-params"]) == 0
    out = capsys.readouterr().out
    for name in ("lenet5", "simple_cnn", "mlp", "resnet20", "resnet50", "vgg16_cifar"):
        assert f"\n{name} " in out


def test_models_table_has_parameters_and_input(capsys, monkeypatch):
    from kcnn.models import registry

    small = {n: registry._MODELS[n] for n in ("lenet5", "resnet20")}
    monkeypatch.setattr(registry, "_MODELS", small)
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    assert "61,706" in out and "32x32x1" in out
    assert "269,722" in out and "32x32x3" in out


def test_summary(capsys):
    assert cli.main(["summary", "lenet5", "--input-shape", "28,28,1"]) == 0
    out = capsys.readouterr().out
    assert "lenet5_c1_conv" in out and "trainable parameters: 61,706" in out


def test_summary_unknown_model_and_bad_shape(capsys):
    assert cli.main(["summary", "resnet21"]) == 2
    assert re.search(r"Did you mean: [^?]*resnet20", capsys.readouterr().err)
    assert cli.main(["summary", "resnet50", "--input-shape", "8,8,3"]) == 2
    assert "too small for resnet50" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["summary", "lenet5", "--input-shape", "28,28"])
    assert "expected 3 numbers" in capsys.readouterr().err


def test_train_writes_run_folder(tmp_path, capsys):
    code = cli.main(
        ["train", "--model", "lenet5", "--epochs", "2", "--out", str(tmp_path), "--verbose", "0"]
    )
    assert code == 0
    out = capsys.readouterr().out
    (run,) = tmp_path.iterdir()
    assert f"run folder: {run}" in out and "test accuracy:" in out
    import keras

    on_jax = keras.backend.backend() == "jax"  # the test machines have no GPU
    assert ("Set KERAS_BACKEND=tensorflow or torch" in out) == on_jax
    assert (run / "confusion.png").stat().st_size > 1000
    assert json.loads((run / "config.json").read_text())["epochs"] == 2


def test_the_fast_recipe_fills_the_settings_not_given(tmp_path, capsys):
    from kcnn.train.recipe import fast_recipe

    args = ["train", "--model", "mlp", "--epochs", "1", "--lr", "2e-3", "--verbose", "0"]
    assert cli.main([*args, "--out", str(tmp_path / "fast")]) == 0
    (run,) = (tmp_path / "fast").iterdir()
    config = json.loads((run / "config.json").read_text())
    row = fast_recipe(1293)  # the digits' training images after the validation split
    assert (config["epochs"], config["learning_rate"]) == (1, 2e-3)  # given: they win
    for name in ("batch_size", "optimizer", "schedule", "label_smoothing", "augment"):
        assert config[name] == row[name], name
    assert config["recipe"] == "fast" and row["schedule"] == "onecycle"
    assert "settings (recipe fast, flags given win): 1 epochs, batch 32" in capsys.readouterr().out
    assert cli.main([*args, "--recipe", "none", "--out", str(tmp_path / "none")]) == 0
    (run,) = (tmp_path / "none").iterdir()
    config = json.loads((run / "config.json").read_text())
    assert (config["batch_size"], config["schedule"], config["label_smoothing"]) == (
        64,
        "constant",
        0.0,
    )


def test_the_fast_recipe_by_size():
    from kcnn.train.recipe import FAST_RECIPE, RECIPE_FIELDS, fast_recipe, recipe_settings

    small, large = fast_recipe(1), fast_recipe(10**7)
    assert set(small) == set(large) == set(RECIPE_FIELDS)
    assert (
        fast_recipe(FAST_RECIPE[0].max_images)
        == small
        != fast_recipe(FAST_RECIPE[0].max_images + 1)
    )
    assert large["batch_size"] > small["batch_size"] and large["epochs"] < small["epochs"]
    assert recipe_settings("none", 100) == {}
    with pytest.raises(
        ValueError, match="num_train must be an integer >= 1. Received: num_train=0"
    ):
        fast_recipe(0)
    with pytest.raises(ValueError, match=r"recipe must be one of \['fast', 'none'\]"):
        recipe_settings("slow", 100)


def test_train_bad_epochs_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["train", "--epochs", "0", "--out", str(tmp_path)]) == 2
    assert "epochs must be an integer >= 1" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_console_script_help():
    done = subprocess.run(
        [sys.executable, "-m", "kcnn.cli", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("models", "summary", "train"):
        assert command in done.stdout


def test_train_unknown_optimizer_lists_the_accepted_ones(tmp_path, capsys):
    assert cli.main(["train", "--optimizer", "lion", "--out", str(tmp_path)]) == 2
    assert "optimizer must be one of ['adam', 'adamw', 'sgd']" in capsys.readouterr().err


def test_train_on_a_npz_file_resized(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "tiny.npz",
        x_train=rng.integers(0, 256, (40, 6, 6), dtype=np.uint8),
        y_train=np.arange(40) % 2,
        x_test=rng.integers(0, 256, (10, 6, 6), dtype=np.uint8),
        y_test=np.arange(10) % 2,
    )
    args = ["train", "--dataset", str(tmp_path / "tiny.npz"), "--image-size", "8,8"]
    args += ["--model", "mlp", "--epochs", "1", "--out", str(tmp_path / "runs"), "--verbose", "0"]
    assert cli.main(args) == 0
    assert "input_shape=(8, 8, 1), num_classes=2" in capsys.readouterr().out
    assert cli.main(["train", "--dataset", "cifar5", "--out", str(tmp_path / "r")]) == 2
    assert "Unknown data set: name='cifar5'" in capsys.readouterr().err


@pytest.mark.rotate  # backend-independent plumbing, 15-40 s: one backend a day
def test_train_with_augmentation(tmp_path, capsys):
    args = ["train", "--model", "mlp", "--epochs", "1", "--augment", "crop,cutout"]
    assert cli.main([*args, "--out", str(tmp_path), "--verbose", "0"]) == 0
    (run,) = tmp_path.iterdir()
    assert json.loads((run / "config.json").read_text())["augment"] == ["crop", "cutout"]
    assert cli.main(["train", "--augment", "flip_crop", "--out", str(tmp_path / "no")]) == 2
    assert "would break the labels of digits" in capsys.readouterr().err


@pytest.mark.rotate  # backend-independent plumbing, 15-40 s: one backend a day
def test_train_resume_continues_the_run_with_its_own_settings(tmp_path, capsys):
    args = ["train", "--model", "mlp", "--epochs", "1", "--lr", "3e-3", "--schedule", "cosine",
            "--early-stopping", "4", "--verbose", "0", "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(args) == 0
    (run,) = tmp_path.iterdir()
    assert cli.main(["train", "--resume", str(run), "--epochs", "3", "--verbose", "0"]) == 0
    assert list(tmp_path.iterdir()) == [run]  # in place, no new folder
    history = json.loads((run / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3]
    config = json.loads((run / "config.json").read_text())
    assert config["epochs"] == 3 and config["learning_rate"] == 3e-3  # kept, but --epochs wins
    assert config["schedule"] == "cosine" and config["early_stopping"] == 4
    assert config["model"] == "mlp" and config["dataset"] == "digits"
    assert f"run folder: {run}" in capsys.readouterr().out


def test_train_resume_of_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert cli.main(["train", "--resume", str(tmp_path)]) == 2
    assert "is not a kcnn run folder: it has no config.json" in capsys.readouterr().err
    (tmp_path / "config.json").write_text('{"model": "mlp", "dataset": "digits"}')
    assert cli.main(["train", "--resume", str(tmp_path)]) == 2
    assert "has no checkpoint.json" in capsys.readouterr().err


def test_train_that_diverges_exits_1_with_advice(tmp_path, capsys):
    args = ["train", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "2", "--verbose", "0",
            "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    assert "Training diverged" in err and "lower the learning rate" in err


def test_rf_prints_the_field_of_the_layers_that_change_it(capsys):
    assert cli.main(["rf", "simple_cnn", "--measure", "simple_cnn_block2_pool"]) == 0
    out = capsys.readouterr().out
    # 3x3 conv: 3; 2x2 pool: 4 (jump 2); 3x3 conv: 4 + 2*2 = 8; 2x2 pool: 8 + 1*2 = 10
    fields = [int(m) for m in re.findall(r"^simple_cnn_block\d_\w+ .* (\d+) +-?\d+ +[\d.]+$", out,
                                         re.MULTILINE)]  # fmt: skip
    assert fields == [3, 4, 8, 10]
    assert "_bn " not in out  # --all lists those too
    assert re.search(r"measured 10 .* computed 10 .*\(match\)", out)
    assert cli.main(["rf", "lenet5", "--markdown", "--all"]) == 0
    assert "| lenet5_c1_relu | Activation |" in capsys.readouterr().out.replace("\\_", "_")
    assert cli.main(["rf", "no_such_model"]) == 2
    assert "MODEL must be a registered model name" in capsys.readouterr().err


@pytest.mark.rotate  # backend-independent plumbing, 15-40 s: one backend a day
def test_params_and_inspect_on_a_run_folder(tmp_path, capsys):
    import matplotlib.image

    assert cli.main(["params", "lenet5"]) == 0
    assert re.search(r"total +61,706", capsys.readouterr().out)
    args = ["train", "--model", "lenet5", "--image-size", "28,28", "--epochs", "1"]
    assert cli.main([*args, "--out", str(tmp_path), "--verbose", "0"]) == 0
    run = next(p for p in tmp_path.iterdir() if p.is_dir())
    for what in ("filters", "feature-maps", "grad-cam", "confusion", "top-losses"):
        out = tmp_path / f"{what}.png"
        code = cli.main(["inspect", what, str(run), "--out", str(out), "--index", "2", "-k", "4"])
        assert code == 0, capsys.readouterr().err
        image = matplotlib.image.imread(out)
        assert image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0.02, what
    assert "loss" in capsys.readouterr().out  # the top-losses table
    assert cli.main(["inspect", "grad-cam", str(run), "--index", "100000"]) == 2
    assert "--index must be in [0, " in capsys.readouterr().err


_HELP_IMPORTS = """
import contextlib, io, json, sys
from kcnn.cli import main
seen = {}
for argv in (["--help"], ["train", "--help"], ["inspect", "--help"], ["bench", "--help"]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        main(argv)
    seen[" ".join(argv)] = [m for m in ("keras", "tensorflow", "jax", "torch") if m in sys.modules]
print(json.dumps(seen))
"""


def test_help_imports_no_keras_and_no_backend():
    done = subprocess.run([sys.executable, "-c", _HELP_IMPORTS], capture_output=True,
                          text=True, check=True)  # fmt: skip
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {k: [] for k in ("--help", "train --help", "inspect --help", "bench --help")}


def test_train_flags_come_from_train_config():
    import dataclasses

    from kcnn.cli import build_parser
    from kcnn.cli.train import FROM_RECIPE, resolve_config
    from kcnn.train import TrainConfig
    from kcnn.train.recipe import RECIPE_FIELDS

    args = build_parser().parse_args(["train", "--recipe", "none"])
    offered = [f for f in dataclasses.fields(TrainConfig) if f.metadata.get("cli", True)]
    assert len(offered) == len(dataclasses.fields(TrainConfig)) - 1  # all but checkpoint
    for field in offered:  # the recipe's settings are left to it, the rest are TrainConfig's
        default = FROM_RECIPE if field.name in RECIPE_FIELDS else field.default
        assert getattr(args, field.name) is default or getattr(args, field.name) == default
    assert resolve_config(args, num_train=1000) == TrainConfig()
    args = build_parser().parse_args(["train", "--lr", "0.1", "--steps-per-execution", "4",
                                      "--jit-compile", "false", "--augment", "crop,cutout",
                                      "--early-stopping", "3", "--mixed-precision"])  # fmt: skip
    assert (args.learning_rate, args.steps_per_execution, args.jit_compile) == (0.1, 4, False)
    assert (args.augment, args.early_stopping, args.mixed_precision) == (
        ["crop", "cutout"],
        3,
        True,
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "x"], "argument --epochs: expected an integer; received 'x'"),
        (["--lr", "fast"], "argument --lr: expected a number; received 'fast'"),
        (["--jit-compile", "maybe"], "expected auto, true or false; received 'maybe'"),
        (["--steps-per-execution", "0"], "expected auto or an integer >= 1; received '0'"),
    ],
)
def test_a_bad_train_flag_names_the_flag_the_value_and_what_it_takes(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["train", *argv])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err


def test_resume_makes_the_stored_settings_the_defaults(tmp_path, capsys):
    from kcnn.cli import build_parser
    from kcnn.cli.train import RUN_FLAGS, config_fields
    from kcnn.train import TrainConfig

    config = TrainConfig(epochs=4, learning_rate=0.05, augment=["crop"], optimizer="sgd",
                         early_stopping="quick", steps_per_execution=2, jit_compile=False,
                         mixed_precision=True, seed=7, verbose=0)  # fmt: skip
    run_flags = {"model": "lenet5", "dataset": "digits", "image_size": [28, 28],
                 "validation_split": 0.2, "stream": None}  # fmt: skip
    stored = {**config.to_dict(), **run_flags, "backend": "jax"}
    (tmp_path / "config.json").write_text(json.dumps(stored))
    argv = ["train", "--resume", str(tmp_path), "--epochs", "3"]
    args = build_parser(argv).parse_args(argv)
    names = [f.name for f in config_fields()] + list(RUN_FLAGS)
    assert {n: getattr(args, n) for n in names} == {n: stored[n] for n in names} | {"epochs": 3}
    argv = ["train", "--resume", str(tmp_path), "--lr", "0.2", "--augment", "flip_crop"]
    args = build_parser(argv).parse_args(argv)
    assert (args.epochs, args.learning_rate, args.augment) == (4, 0.2, "flip_crop")
    assert cli.main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "is not a kcnn run folder" in capsys.readouterr().err


def test_train_help_names_every_data_set_and_each_default(capsys):
    import kcnn

    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert f"{', '.join(kcnn.data.DATASETS)}, a .npz file" in out
    for shown in (
        "--lr LR learning rate (default: the recipe's; 0.001 with --recipe none)",
        "--recipe {fast,none}",
        "(default: simple_cnn)",
        "--early-stopping PATIENCE",
        "(default: off)",
        "--mixed-precision",
    ):
        assert shown in out, shown


@pytest.mark.rotate  # backend-independent plumbing, 15-40 s: one backend a day
def test_no_tensorflow_line_on_a_normal_command():
    import os

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-m", "kcnn.cli", "models", "--no-params"], capture_output=True,
        text=True, check=True, env={**env, "KERAS_BACKEND": "tensorflow"},
    )  # fmt: skip
    assert "lenet5" in done.stdout
    for noise in ("cpu_feature_guard", "absl", "oneDNN", "I0000"):
        assert noise not in done.stderr, done.stderr
