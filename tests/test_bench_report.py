"""benchmarks/report.py: the newest results of each kind become RESULTS.md, a plot and the
docs' Performance tables."""

import json

import pytest

from tests.conftest import REPO, load_benchmark

report = load_benchmark("report.py", "bench_report")
MACHINE = {"cpu": "Test CPU", "cpus": 2, "python": "3.11", "versions": {"keras": "3.15.1"}}


def _entry(rate, name, backend, source="kcnn", pipeline=None, spread=0.1):
    out = {
        "name": name,
        "backend": backend,
        "source": source,
        "batch_size": 128,
        "steps_per_execution": 4 if backend == "tensorflow" and source == "kcnn" else 1,
        "images_per_second": {"median": rate, "min": rate * (1 - spread), "max": rate * 1.05},
        "step_ms": {"median": 1000 * 128 / rate},
        "compile_seconds": 1.5,
        "peak_memory_mb": 950.0,
    }
    if pipeline:
        out["pipeline"] = {"policy": "flip_crop", "images_per_second": {"median": pipeline}}
    return out


def _throughput(date, tf_rate):
    run = {
        "model": "simple_cnn",
        "input_shape": [28, 28, 1],
        "images": 8192,
        "data": "fashion_mnist",
        "repeats": 3,
        "warmup": 1,
        "results": {
            "kcnn (tensorflow)": _entry(tf_rate, "kcnn", "tensorflow", pipeline=36000.0),
            "keras (tensorflow)": _entry(
                5000.0, "keras (tensorflow)", "tensorflow", "keras_baseline.py"
            ),
            "torch eager": _entry(2800.0, "torch eager", "torch", "torch_baseline.py"),
        },
    }
    return {"date": date, "machine": MACHINE, "runs": [run]}


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / "2026-11-20-x86_64-2cpu.json").write_text(json.dumps(_throughput("2026-11-20", 1.0)))
    (folder / "2026-11-21-x86_64-2cpu.json").write_text(
        json.dumps(_throughput("2026-11-21", 5600.0))
    )
    sweep = _throughput("2026-11-21", 5600.0)
    sweep["runs"][0]["results"] = {
        "kcnn[base] (tensorflow)": _entry(5200.0, "kcnn[base]", "tensorflow"),
        "kcnn[spe=4] (tensorflow)": _entry(5600.0, "kcnn[spe=4]", "tensorflow"),
    }
    (folder / "2026-11-21-x86_64-2cpu-sweep.json").write_text(json.dumps(sweep))
    tta = {
        "date": "2026-11-21",
        "machine": MACHINE,
        "settings": {
            "model": "simple_cnn", "dataset": "fashion_mnist", "target": 0.91,
            "batch_size": 128, "optimizer": "adam", "lr": 1e-3, "augment": "none",
            "train_images": 0,
        },
        "results": {
            "tensorflow": {
                "time_to_target": 61.2, "epochs_to_target": 4.5, "compile_seconds": 1.1,
                "final_test_accuracy": 0.9112, "device": "cpu",
                "curve": [{"seconds": 30.0, "test_accuracy": 0.88},
                          {"seconds": 61.2, "test_accuracy": 0.9112}],
            },
            "jax": {
                "time_to_target": None, "epochs_to_target": None, "compile_seconds": 1.3,
                "final_test_accuracy": 0.9001, "device": "cpu",
                "curve": [{"seconds": 90.0, "test_accuracy": 0.9001}],
            },
        },
    }  # fmt: skip
    (folder / "2026-11-21-x86_64-2cpu-time-to-accuracy.json").write_text(json.dumps(tta))
    return folder


def test_latest_picks_the_newest_file_of_each_kind(results):
    # newer files of the kinds RESULTS.md does not draw never stand in for the throughput run
    (results / "2026-11-22-x86_64-2cpu-epochs-study.json").write_text("{}")
    (results / "2026-11-22-resnet20-gpu-bench.json").write_text("{}")
    found = report.latest(results)
    assert found["throughput"].name == "2026-11-21-x86_64-2cpu.json"
    assert found["epochs-study"].name.endswith("-epochs-study.json")
    assert found["sweep"].name.endswith("-sweep.json")
    assert found["time-to-accuracy"].name.endswith("-time-to-accuracy.json")


def test_results_md_tables_ratios_and_plot(results, tmp_path):
    out = tmp_path / "RESULTS.md"
    report.main(["--results", str(results), "--out", str(out)])
    text = out.read_text()
    assert "do not edit" in text and "Test CPU, 2 CPUs" in text
    # The throughput table, with the ratios computed by kcnn.bench.ratios.
    assert "| kcnn (tensorflow) | 128, 4 steps/call | 5,600 | 5,040-5,880 |" in text
    assert "kcnn/keras (tensorflow) **1.12x**" in text
    assert "best kcnn/torch eager **2.00x**" in text
    assert "pipeline/train (kcnn (tensorflow)) **6.43x**" in text
    # The plot is written beside the JSON and linked relative to RESULTS.md.
    assert (results / "2026-11-21-x86_64-2cpu-throughput.png").stat().st_size > 10_000
    assert "](results/2026-11-21-x86_64-2cpu-throughput.png)" in text
    # The sweep against its base row, and time to accuracy with a target not reached.
    assert "| simple_cnn | tensorflow | spe=4 | 5,600 | 1.08 |" in text
    assert "| tensorflow | 61 | 4.5 | 1.1 | 0.9112 |" in text
    assert "| jax | not reached |" in text
    assert "](results/2026-11-21-x86_64-2cpu-time-to-accuracy.png)" in text
    assert (results / "2026-11-21-x86_64-2cpu-time-to-accuracy.png").stat().st_size > 10_000


def test_markdown_for_the_docs_links_images_under_the_prefix(results):
    (results / "2026-11-21-x86_64-2cpu-time-to-accuracy.png").write_bytes(b"png")
    text = report.markdown(results, "performance/")
    assert "](performance/2026-11-21-x86_64-2cpu-time-to-accuracy.png)" in text
    assert "## Training throughput" in text and "## Settings sweep" in text


def test_empty_results_give_no_sections(tmp_path):
    assert report.markdown(tmp_path, "x/") == ""


def test_committed_results_render():
    """The results in the repository render, with the docs' image prefix."""
    text = report.markdown(REPO / "benchmarks" / "results", "performance/")
    assert "## Training throughput" in text
    assert "best kcnn/torch eager" in text


def test_data_parallel_results_get_their_own_section(results):
    run = {
        "model": "simple_cnn",
        "results": {
            "kcnn x1 (jax)": _entry(1400.0, "kcnn x1", "jax"),
            "kcnn x2 (jax)": _entry(2100.0, "kcnn x2", "jax"),
        },
        "scaling": {"jax": 1.52},
    }
    dp = {"date": "2026-11-21", "machine": MACHINE, "devices": 2, "runs": [run]}
    (results / "2026-11-21-x86_64-2cpu-data-parallel.json").write_text(json.dumps(dp))
    found = report.latest(results)
    assert found["data-parallel"].name.endswith("-data-parallel.json")
    assert found["throughput"].name == "2026-11-21-x86_64-2cpu.json"  # not taken for one
    text = report.markdown(results)
    assert "## Several devices" in text
    assert "| simple_cnn | jax | 1,400 | 2,100 | 1.52x |" in text


def _augment_report(device: str) -> dict:
    ways = {
        "per batch, from NumPy": 1.0, "per batch, held": 1.5, "in the step, held": 4.0,
        "no augmentation, held": 5.0,
    }  # fmt: skip
    return {
        "date": "2026-11-30",
        "config": {
            "model": "resnet20",
            "policy": "flip_crop",
            "batch_size": 512,
            "images": 16384,
            "repeats": 2,
        },  # fmt: skip
        "results": {
            "jax": {
                "device": device,
                "ways": {
                    name: {"images_per_second": 1000.0 * r, "ratio": r, "first_epoch_seconds": 9.0}
                    for name, r in ways.items()
                },
            }
        },  # fmt: skip
    }


def test_gpu_results_get_their_own_sections_beside_the_cpu_ones(results):
    """A GPU's files are named after the GPU, a CPU's after its cores: the newest of each
    kind on each is shown, and a newer GPU file never replaces the CPU's table."""
    tta = json.loads((results / "2026-11-21-x86_64-2cpu-time-to-accuracy.json").read_text())
    tta["date"] = "2026-11-30"
    tta["results"]["jax"]["device"] = "NVIDIA H200"
    tta["results"]["jax"]["time_to_target"] = 9.5
    tta["results"].pop("tensorflow")
    (results / "2026-11-30-nvidia-h200-time-to-accuracy.json").write_text(json.dumps(tta))
    (results / "2026-11-30-x86_64-NVIDIA-H200-augment-in-step.json").write_text(
        json.dumps(_augment_report("NVIDIA H200"))
    )
    (results / "2026-11-30-x86_64-2cpu-augment-in-step.json").write_text(
        json.dumps(_augment_report("cpu"))
    )
    (results / "2026-11-30-gpu-peak.md").write_text("| model | contender |\n|---|---|\n")
    found = report.latest(results)
    assert found["time-to-accuracy"].name == "2026-11-21-x86_64-2cpu-time-to-accuracy.json"
    assert found["time-to-accuracy gpu"].name == "2026-11-30-nvidia-h200-time-to-accuracy.json"
    assert found["augment-in-step"].name == "2026-11-30-x86_64-2cpu-augment-in-step.json"
    text = report.markdown(results)
    cpu, gpu = text.split("## Time to accuracy on a GPU")
    assert "| tensorflow | 61 | 4.5 |" in cpu
    assert "| jax | 10 |" in gpu and "tensorflow" not in gpu.split("##")[0]
    assert "## GPU throughput and the fraction of peak" in text
    for where in ("a CPU", "a GPU"):
        assert f"## Augmentation per batch or in the train step, on {where}" in text
    assert "| jax | NVIDIA H200 | in the step, held | 4,000 | 4.00 | 9.0 |" in text
