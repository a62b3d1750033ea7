"""The benchmark harness: interleaving, timing, ratios, failures, the kcnn contender, CLI."""

import json
import textwrap

import keras
import pytest

import kcnn
from kcnn import bench
from kcnn.cli import main

BACKEND = keras.backend.backend()

#: A contender that sleeps a set time per epoch and logs the order the epochs ran in.
SLEEPER = textwrap.dedent(
    """
    import time

    def train(session):
        options = session.spec["options"]
        for _ in range(session.spec["epochs"]):
            session.epoch_begin()
            time.sleep(options["sleep"])
            with open(options["log"], "a") as log:
                log.write(options["tag"] + "\\n")
            session.epoch_end(len(session.x))
    """
)


@pytest.fixture
def sleeper(tmp_path):
    path = tmp_path / "sleeper.py"
    path.write_text(SLEEPER)
    log = tmp_path / "order.log"

    def make(tag, seconds):
        options = {"sleep": seconds, "log": str(log), "tag": tag}
        return bench.Contender(tag, BACKEND, str(path), batch_size=32, options=options)

    return make, log


@pytest.mark.rotate
def test_interleaved_rounds_and_ratios(sleeper):
    make, log = sleeper
    fast, slow = make("fast", 0.1), make("slow", 0.2)
    run = bench.run_benchmark(
        "lenet5", [fast, slow], images=64, repeats=3, warmup=1, pipeline=None,
        progress=lambda line: None,
    )  # fmt: skip
    # One epoch each per round, the order rotating from round to round.
    assert log.read_text().split() == [
        "fast",
        "slow",
        "slow",
        "fast",
        "fast",
        "slow",
        "slow",
        "fast",
    ]
    rates = {label: r["images_per_second"] for label, r in run["results"].items()}
    assert rates["fast"]["n"] == rates["slow"]["n"] == 3
    assert len(rates["fast"]["samples"]) == 3
    # 64 images in 0.1 s and in 0.2 s: 640 and 320 images/s, less a little overhead.
    assert 500 < rates["fast"]["median"] <= 640
    assert 270 < rates["slow"]["median"] <= 320
    assert 1.7 < rates["fast"]["median"] / rates["slow"]["median"] < 2.3
    result = run["results"]["fast"]
    assert result["step_ms"]["median"] == pytest.approx(
        1000 / rates["fast"]["median"] * 32, rel=0.05
    )
    assert result["compile_seconds"] >= 0
    assert result["peak_memory_mb"] > 10
    assert result["source"] == "sleeper.py"
    assert run["images"] == 64 and run["input_shape"] == [28, 28, 1]


@pytest.mark.rotate
def test_failing_worker_names_its_error(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def train(session):\n    raise ValueError('broken on purpose')\n")
    contender = bench.Contender("broken", BACKEND, str(path))
    with pytest.raises(RuntimeError, match="broken on purpose"):
        bench.run_benchmark("lenet5", [contender], images=8, repeats=1, pipeline=None)


@pytest.mark.rotate
def test_hung_worker_times_out(tmp_path):
    path = tmp_path / "hung.py"
    path.write_text("import time\n\ndef train(session):\n    time.sleep(600)\n")
    contender = bench.Contender("hung", BACKEND, str(path))
    with pytest.raises(TimeoutError, match="hung did not answer"):
        bench.run_benchmark("lenet5", [contender], images=8, repeats=1, pipeline=None, timeout=5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "alexnet"}, "model must be one of"),
        ({"repeats": 0}, "repeats must be an integer >= 1"),
        ({"warmup": 0}, "warmup must be an integer >= 1"),
        ({"contenders": []}, "contenders is empty"),
        (
            {"contenders": [bench.Contender("kcnn", BACKEND)] * 2},
            "Contender labels must differ",
        ),
    ],
)
def test_bad_arguments(kwargs, message):
    arguments = {"model": "lenet5", "contenders": [bench.Contender("kcnn", BACKEND)], **kwargs}
    with pytest.raises(ValueError, match=message):
        bench.run_benchmark(**arguments)


@pytest.mark.rotate
def test_kcnn_contender_trains_and_times_its_pipeline():
    contenders = bench.kcnn_contenders([BACKEND], batch_sizes=(32,))
    assert [c.label for c in contenders] == [f"kcnn ({BACKEND})"]
    run = bench.run_benchmark(
        "simple_cnn", contenders, images=128, repeats=2, pipeline="flip_crop",
        progress=lambda line: None,
    )  # fmt: skip
    result = run["results"][f"kcnn ({BACKEND})"]
    assert result["device"] == "cpu"
    # "auto" is resolved in the worker, and the result says what ran.
    expected = kcnn.train.recommended_settings(BACKEND, "cpu")["steps_per_execution"]
    assert result["steps_per_execution"] == expected
    assert result["images_per_second"]["n"] == 2 and result["images_per_second"]["median"] > 0
    assert result["pipeline"]["policy"] == "flip_crop"
    assert result["pipeline"]["images_per_second"]["n"] == 2
    assert run["data"] in ("fashion_mnist", "digits")
    assert set(bench.ratios(run)) == {"best kcnn", f"pipeline/train (kcnn ({BACKEND}))"}


def test_sweep_labels():
    contenders = bench.kcnn_contenders(
        ["tensorflow", "jax"], batch_sizes=(64, 256), data_paths=("device", "tf.data")
    )
    labels = [c.label for c in contenders]
    assert len(labels) == 8 and len(set(labels)) == 8
    assert "kcnn[bs=256,data=tf.data] (jax)" in labels
    assert contenders[-1].data_path == "tf.data"
    # Keras' PyTorch trainer runs one step per call: no such contender is made.
    assert bench.kcnn_contenders(["torch"], steps_per_execution=(1, 4))[0].steps_per_execution == 1
    assert len(bench.kcnn_contenders(["torch"], steps_per_execution=(1, 4))) == 1


def _run(results):
    def entry(rate, name, backend, source="kcnn", pipeline=None):
        out = {
            "name": name,
            "backend": backend,
            "source": source,
            "images_per_second": {"median": rate, "min": rate, "max": rate, "n": 1},
            "step_ms": {"median": 1.0},
            "compile_seconds": 0.5,
            "peak_memory_mb": 900.0,
        }
        if pipeline:
            out["pipeline"] = {"policy": "flip_crop", "images_per_second": {"median": pipeline}}
        return out

    return {
        "model": "simple_cnn",
        "input_shape": [28, 28, 1],
        "images": 8192,
        "data": "fashion_mnist",
        "repeats": 3,
        "warmup": 1,
        "results": {label: entry(*args) for label, args in results.items()},
    }


def test_ratios_and_report_text():
    run = _run(
        {
            "kcnn (tensorflow)": (4000.0, "kcnn", "tensorflow", "kcnn", 40000.0),
            "kcnn (jax)": (1500.0, "kcnn", "jax"),
            "keras (tensorflow)": (4100.0, "keras (tensorflow)", "tensorflow", "keras_baseline.py"),
            "torch eager": (2500.0, "torch eager", "torch", "torch_baseline.py"),
        }
    )
    got = bench.ratios(run)
    assert got["kcnn/keras (tensorflow)"] == pytest.approx(4000 / 4100)
    assert got["best kcnn"] == "kcnn (tensorflow)"
    assert got["best kcnn/torch eager"] == pytest.approx(1.6)
    assert got["pipeline/train (kcnn (tensorflow))"] == pytest.approx(10.0)
    assert "kcnn/keras (jax)" not in got
    report = {"machine": {"cpu": "Test CPU", "cpus": 2, "versions": {"keras": "3"}}, "runs": [run]}
    text = bench.format_report(report)
    assert "Test CPU, 2 CPUs" in text and "best kcnn/torch eager: 1.60x" in text
    assert "kcnn (tensorflow)" in text and "40000" in text


def test_baseline_contenders(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither keras_baseline.py"):
        bench.baseline_contenders(tmp_path, ["jax"])
    (tmp_path / "keras_baseline.py").write_text("")
    (tmp_path / "torch_baseline.py").write_text("")
    labels = [c.label for c in bench.baseline_contenders(tmp_path, ["jax", "torch"], 64, True)]
    assert labels == ["keras (jax)", "keras (torch)", "torch eager", "torch.compile"]


@pytest.mark.rotate
def test_cli_bench_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = main(
        ["bench", "--model", "lenet5", "--backends", BACKEND, "--images", "64",
         "--batch-size", "32", "--repeats", "1", "--pipeline", "none", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    report = json.loads(out.read_text())
    assert report["machine"]["cpus"] >= 1 and "keras" in report["machine"]["versions"]
    (run,) = report["runs"]
    assert list(run["results"]) == [f"kcnn ({BACKEND})"]
    printed = capsys.readouterr().out
    assert f"kcnn ({BACKEND})" in printed and f"wrote {out}" in printed


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--backends", "theano"], "--backends: unknown ['theano']"),
        (["--jit-compile", "maybe"], "--jit-compile: expected auto, true or false"),
        (["--steps-per-execution", "0"], "--steps-per-execution: expected auto or an integer"),
        (["--batch-size", "big"], "--batch-size: could not read 'big'"),
    ],
)
def test_cli_bench_bad_flags(flags, message, capsys):
    assert main(["bench", *flags]) == 2
    assert message in capsys.readouterr().err


def test_result_path_names_files_by_date_machine_and_kind(tmp_path):
    tag = bench.machine_tag()
    assert bench.result_path(tmp_path, date="2026-11-21") == tmp_path / f"2026-11-21-{tag}.json"
    assert bench.result_path(tmp_path, "sweep", "2026-11-21").name == f"2026-11-21-{tag}-sweep.json"
    assert bench.result_path(tmp_path, "data-parallel").name.endswith(f"-{tag}-data-parallel.json")
