"""Training on several devices and processes (kcnn.distribute, fit(distribute=), --devices).

The device count and the collectives are fixed when a backend starts, so the runs on two
devices or two processes happen in fresh processes (tests/distributed_worker.py), each
bounded by a timeout: a peer that hangs fails the test instead of holding up the suite.
"""

import dataclasses
import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from kcnn import distribute
from kcnn.cli import main
from kcnn.data.pipeline import make_pipeline
from kcnn.train.fit import (
    TrainConfig,
    describe_learning_rate,
    resolve_steps_per_execution,
    scaled_learning_rate,
)

BACKEND = keras.backend.backend()
ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300  # seconds for one worker process; a normal run takes 10-40 s
supported = pytest.mark.skipif(
    BACKEND == "torch", reason="Keras 3.15 has no data-parallel path for PyTorch"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args: list[str], tmp_path: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "KERAS_BACKEND": BACKEND, "TMPDIR": str(tmp_path / "tmp")}
    env.pop("TF_CONFIG", None)
    (tmp_path / "tmp").mkdir(exist_ok=True)
    log = open(tmp_path / f"{name}.log", "w")
    return subprocess.Popen(
        [sys.executable, "-m", "tests.distributed_worker", *args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _wait(processes: dict, tmp_path: Path) -> None:
    """Wait for every process, at most TIMEOUT seconds each; kill all on a failure."""
    try:
        for name, process in processes.items():
            try:
                code = process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"{name} did not finish in {TIMEOUT} s") from None
            log = (tmp_path / f"{name}.log").read_text()[-3000:]
            assert code == 0, f"{name} exited with {code}:\n{log}"
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)


# -- arguments and the pieces that need no second device -----------------------------------


@pytest.mark.parametrize(
    "devices, expected",
    [
        ("all", ("all", None)),
        (2, ("count", 2)),
        ("3", ("count", 3)),
        ("gpu:0,gpu:1", ("names", [("gpu", 0), ("gpu", 1)])),
        (["cpu:1"], ("names", [("cpu", 1)])),
    ],
)
def test_parse_devices(devices, expected):
    assert distribute.parse_devices(devices) == expected


@pytest.mark.parametrize(
    "devices, message",
    [
        (0, "devices must be >= 1"),
        ("gpu0", "Device names look like"),
        ("gpu:0,gpu:0", "names a device twice"),
        ("gpu:0,cpu:1", "mixes device types"),
        ("", "devices must be 'all'"),
    ],
)
def test_parse_devices_refuses(devices, message):
    with pytest.raises(ValueError, match=message):
        distribute.parse_devices(devices)


def test_parse_devices_refuses_a_bool():
    with pytest.raises(TypeError, match="Received: True"):
        distribute.parse_devices(True)


@supported
def test_setup_refuses_incomplete_multi_process_settings(monkeypatch):
    for name in (distribute.ENV_ADDRESSES, distribute.ENV_NUM_PROCESSES, "TF_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValueError, match="needs addresses"):
        distribute.setup(num_processes=2, process_id=0)
    with pytest.raises(ValueError, match=r"process_id must be in \[0, 2\)"):
        distribute.setup(addresses="127.0.0.1:1", num_processes=2, process_id=2)
    with pytest.raises(ValueError, match="uses all of its devices"):
        distribute.setup(2, addresses="127.0.0.1:1", num_processes=2, process_id=0)
    monkeypatch.setenv(distribute.ENV_NUM_PROCESSES, "two")
    with pytest.raises(ValueError, match=r"\$KERAS_DISTRIBUTION_NUM_PROCESSES must be"):
        distribute.setup()


def test_from_settings_means_one_device_when_nothing_asks_for_more(monkeypatch):
    for name in (distribute.ENV_NUM_PROCESSES, "TF_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    assert distribute.from_settings() is None
    refusal = "not available on the PyTorch" if BACKEND == "torch" else "devices must be >= 1"
    with pytest.raises(ValueError, match=refusal):  # anything asked for goes to setup
        distribute.from_settings(0)


@supported
def test_setup_refuses_more_devices_than_there_are():
    keras.ops.zeros(1)  # the backend has started: setup cannot add devices any more
    with pytest.raises(ValueError, match="more devices than this process has"):
        distribute.setup(64)
    with pytest.raises(ValueError, match="no device gpu:7"):
        distribute.setup("gpu:7")


@supported
def test_fit_refuses_a_model_built_outside_the_scope_and_a_bad_batch():
    from kcnn.data.datasets import load_dataset
    from kcnn.models.registry import build_model
    from kcnn.train.fit import fit

    strategy = distribute.setup(1)
    data = load_dataset("digits")
    outside = build_model("lenet5", input_shape=data.input_shape)
    with pytest.raises(ValueError, match="built outside this strategy's scope"):
        fit(outside, data, TrainConfig(epochs=1), run_dir=None, distribute=strategy)
    with pytest.raises(TypeError, match="distribute must be a kcnn.distribute.Strategy"):
        fit(outside, data, TrainConfig(epochs=1), run_dir=None, distribute="all")
    two = dataclasses.replace(strategy, num_replicas=2)
    with pytest.raises(ValueError, match="batch_size must be a multiple of the 2 replicas"):
        two.per_replica_batch(63)
    assert two.per_replica_batch(64) == 32


def test_single_device_is_a_strategy_whose_every_step_does_nothing():
    import keras

    one = distribute.SingleDevice()
    assert isinstance(one, distribute.Strategy) and one.is_chief
    assert (one.backend, one.num_replicas, one.num_processes) == (BACKEND, 1, 1)
    assert one.shares() == {} and one.record() == {} and one.describe(64) == ""
    model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization()])
    one.check(model, 63, "tf.data")  # any batch splits over one device
    assert one.scorer(model, "mse") is model
    with one.scope(), one.training(model):
        assert not model.layers[0].synchronized
    assert resolve_steps_per_execution(1, one) == 1


@pytest.mark.skipif(BACKEND != "torch", reason="the PyTorch backend's error")
def test_torch_backend_says_it_has_no_data_parallel_path(capsys):
    with pytest.raises(ValueError, match="not available on the PyTorch backend") as error:
        distribute.setup(2)
    assert "KERAS_BACKEND=jax" in str(error.value)
    assert "KERAS_BACKEND=tensorflow" in str(error.value)
    assert main(["train", "--devices", "2", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "not available on the PyTorch backend" in err
    assert not distribute.supported()


@supported
@pytest.mark.rotate  # backend-independent plumbing, 15-40 s: one backend a day
def test_cli_train_on_one_device_strategy(tmp_path, capsys):
    """--devices goes through kcnn.distribute into fit and config.json (one device here:
    more need a fresh process, see below)."""
    code = main(
        ["train", "--recipe", "none", "--devices", "1", "--epochs", "1", "--batch-size", "128",
         "--lr-scaling", "linear", "--lr-base-batch", "64", "--verbose", "2",
         "--out", str(tmp_path)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    engine = "DataParallel" if BACKEND == "jax" else "MirroredStrategy"
    assert f"{engine} on 1 replica: " in out
    assert "Global batch 128 = 1 replica x 128 per replica" in out
    assert "learning rate 0.001 x 128/64 = 0.002 (lr_scaling='linear')" in out.lower()
    (run,) = tmp_path.iterdir()
    config = json.loads((run / "config.json").read_text())
    assert config["distribution"]["engine"] == engine
    assert config["lr_scaling"] == "linear"
    assert (run / "model.keras").is_file()


@supported
@pytest.mark.rotate(backends=("tensorflow", "jax"))
def test_cli_trains_in_a_group_when_keras_variables_say_so(tmp_path, capsys, monkeypatch):
    """$KERAS_DISTRIBUTION_NUM_PROCESSES alone switches kcnn train to a strategy (a group
    of one process here)."""
    monkeypatch.setenv(distribute.ENV_NUM_PROCESSES, "1")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    code = main(["train", "--recipe", "none", "--epochs", "1", "--verbose", "2",
                 "--out", str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "in 1 process. Global batch 64" in out


def test_lr_scaling():
    assert scaled_learning_rate(TrainConfig(learning_rate=0.1, batch_size=1024)) == 0.1
    linear = TrainConfig(learning_rate=0.1, batch_size=1024, lr_scaling="linear")
    assert scaled_learning_rate(linear) == pytest.approx(0.4)
    sqrt = TrainConfig(learning_rate=0.1, batch_size=64, lr_scaling="sqrt", lr_base_batch=16)
    assert scaled_learning_rate(sqrt) == pytest.approx(0.2)
    assert describe_learning_rate(linear) == (
        "learning rate 0.1 x 1024/256 = 0.4 (lr_scaling='linear')"
    )
    with pytest.raises(ValueError, match="lr_scaling must be one of"):
        TrainConfig(lr_scaling="cubic")
    with pytest.raises(ValueError, match="lr_base_batch must be an integer >= 1"):
        TrainConfig(lr_base_batch=0)


def test_shards_of_a_batch_make_the_whole_batch():
    """Each process feeds one share of every batch; together they are the batches one
    process makes, with the last batch cut to a multiple of the replicas."""
    rng = np.random.default_rng(0)
    x = rng.random((37, 4, 4, 1)).astype("float32")
    y = rng.integers(0, 3, 37)
    whole = make_pipeline(x, y, 8, seed=3, path="device", multiple_of=4)
    shares = [
        make_pipeline(x, y, 8, seed=3, path="device", shard=(i, 2), multiple_of=4) for i in range(2)
    ]
    assert len(whole) == len(shares[0]) == 5  # 4 full batches and 4 of the last 5
    assert whole.images_per_epoch == 36
    for index in range(len(whole)):
        xs, ys = whole[index]
        parts = [share[index] for share in shares]
        np.testing.assert_array_equal(
            np.concatenate([keras.ops.convert_to_numpy(p[0]) for p in parts]),
            keras.ops.convert_to_numpy(xs),
        )
        np.testing.assert_array_equal(
            np.concatenate([keras.ops.convert_to_numpy(p[1]) for p in parts]),
            keras.ops.convert_to_numpy(ys),
        )
    assert len(make_pipeline(x, y, 8, path="device", multiple_of=8)) == 4  # 5 < 8: dropped


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"multiple_of": 3}, "batch_size must be a multiple of multiple_of=3"),
        ({"multiple_of": 0}, "multiple_of must be an integer >= 1"),
        ({"shard": (2, 2), "multiple_of": 2}, "shard must be"),
        ({"shard": (0, 4), "multiple_of": 2}, "shard must be"),
    ],
)
def test_shard_arguments_are_checked(kwargs, message):
    x, y = np.zeros((8, 4, 4, 1), "float32"), np.zeros(8, "int32")
    with pytest.raises(ValueError, match=message):
        make_pipeline(x, y, 8, path="device", **kwargs)


# -- several devices and processes, for real -------------------------------------------------


@supported
@pytest.mark.rotate(backends=("tensorflow", "jax"))
def test_one_step_on_two_devices_equals_one_device(tmp_path):
    """fit on 2 replicas (JAX DataParallel / TF MirroredStrategy with synchronized
    BatchNorm) takes the step one device takes on the same global batch of 64, to float32
    rounding: |difference| <= 1e-5 where the step moves weights by ~0.17."""
    _wait({"step": _start(["step", "2", str(tmp_path)], tmp_path, "step")}, tmp_path)
    found = json.loads((tmp_path / "step.json").read_text())
    assert found["replicas"] == 2
    assert found["max_update"] > 0.01  # the step did move the weights
    assert found["max_abs_diff"] <= 1e-5, found


def test_grad_accum_and_clip_norm_under_tf_distribute_are_refused():
    from types import SimpleNamespace

    from kcnn.train.config import check_distributed

    tf_strategy = SimpleNamespace(backend="tensorflow", native=object())
    with pytest.raises(ValueError, match=r"grad_accum must be 1 .* Received: grad_accum=2"):
        check_distributed(TrainConfig(grad_accum=2), tf_strategy)
    check_distributed(TrainConfig(grad_accum=2), SimpleNamespace(backend="jax", native=None))
    check_distributed(TrainConfig(grad_accum=1), tf_strategy)
    with pytest.raises(ValueError, match=r"would clip each device's share.* clip_norm=1.0"):
        check_distributed(TrainConfig(clip_norm=1.0), tf_strategy)


@supported
@pytest.mark.rotate(backends=("tensorflow", "jax"))
def test_training_options_on_two_devices_equal_one_device(tmp_path):
    """Averaged weights, class weights, accumulated (JAX) and clipped gradients on 2
    replicas: four batches of 64, the same weights as on one device."""
    options = {"ema": 0.5, "class_weight": "balanced"}
    if BACKEND == "jax":  # TensorFlow refuses these under tf.distribute (test above)
        options.update(grad_accum=2, clip_norm=1.0)
    _wait({"step": _start(["step", "2", str(tmp_path), json.dumps(options)], tmp_path, "step")},
          tmp_path)  # fmt: skip
    found = json.loads((tmp_path / "step.json").read_text())
    assert found["replicas"] == 2 and found["max_update"] > 0.01
    assert found["max_abs_diff"] <= 1e-5, found


@supported
@pytest.mark.rotate(backends=("tensorflow", "jax"))
def test_two_processes_train_as_one_and_only_process_0_writes(tmp_path):
    """Two processes on 127.0.0.1 (JAX: gloo CPU collectives; TensorFlow:
    MultiWorkerMirroredStrategy with TF_CONFIG) train SimpleCNN on digits for 2 epochs,
    end with identical weights, and give the history of one process with 2 devices; only
    process 0 leaves a run folder. Resuming it for a third epoch continues where it was."""
    port = _free_port()
    addresses = f"127.0.0.1:{port}"
    if BACKEND == "tensorflow":
        addresses += f",127.0.0.1:{_free_port()}"
    group = tmp_path / "group"
    group.mkdir()

    def start_group(*extra):
        return {
            f"process{i}-{len(extra)}": _start(
                [
                    "fit",
                    str(group),
                    "--addresses",
                    addresses,
                    "--num-processes",
                    "2",
                    "--process-id",
                    str(i),
                    *extra,
                ],
                tmp_path,
                f"process{i}-{len(extra)}",
            )  # fmt: skip
            for i in range(2)
        }

    _wait(start_group(), tmp_path)
    weights = [np.load(group / f"weights-{i}.npz") for i in range(2)]
    for key in weights[0]:
        np.testing.assert_array_equal(weights[0][key], weights[1][key])
    histories = [json.loads((group / f"history-{i}.json").read_text()) for i in range(2)]
    assert histories[0]["history"] == histories[1]["history"]
    assert histories[1]["path"] is None
    runs = list((group / "runs").iterdir())
    assert len(runs) == 1 and Path(histories[0]["path"]) == runs[0]
    written = {p.name for p in runs[0].iterdir()}
    assert {"config.json", "model.keras", "metrics.json", "checkpoint.json"} <= written
    config = json.loads((runs[0] / "config.json").read_text())
    assert config["distribution"]["num_processes"] == 2
    assert config["distribution"]["num_replicas"] == 2
    assert not list((tmp_path / "tmp").glob("kcnn-process*"))  # the scratch folder is gone
    # Synchronized BatchNorm (TensorFlow) is a training setting: saved files load anywhere.
    saved = zipfile.ZipFile(runs[0] / "model.keras").read("config.json").decode()
    assert '"synchronized": false' in saved and '"synchronized": true' not in saved
    accuracy = histories[0]["history"]["val_accuracy"][-1]
    assert accuracy > 0.25, histories[0]  # 10 classes: chance is 0.1; the model learns

    # One process with 2 devices makes the same batches, so the same history.
    alone = tmp_path / "alone"
    alone.mkdir()
    _wait({"alone": _start(["fit", str(alone), "--devices", "2"], tmp_path, "alone")}, tmp_path)
    single = json.loads((alone / "history-0.json").read_text())["history"]
    for key, values in single.items():
        np.testing.assert_allclose(histories[0]["history"][key], values, rtol=1e-4, atol=1e-5)

    # Resume the two-process run for a third epoch: the history carries on, both agree.
    _wait(start_group("--resume", "--epochs", "3"), tmp_path)
    resumed = [json.loads((group / f"history-{i}.json").read_text()) for i in range(2)]
    assert resumed[0]["history"] == resumed[1]["history"]
    assert len(resumed[0]["history"]["loss"]) == 3
    assert resumed[0]["history"]["loss"][:2] == histories[0]["history"]["loss"]
    assert json.loads((runs[0] / "metrics.json").read_text())["resumed_at_epoch"] == 2
