"""benchmarks/stream_throughput.py: its quick mode runs, and the numbers it reports agree.

One run of ``--quick --write`` (tiny 32x32 folders, a small model, the memory measurements in
fresh processes): the rates are positive, each ratio is the streaming rate over the
training rate of the same rounds, every streamed epoch served each image once with its
label, the memory table has both folder sizes, and the Markdown file is written.
"""

from __future__ import annotations

import re
import statistics

import keras
import numpy as np
import pytest

from tests.conftest import load_benchmark

bench = load_benchmark("stream_throughput.py")


def test_folders_hold_decodable_jpegs_of_every_class(tmp_path):
    from PIL import Image

    root = bench.write_folder(tmp_path / "f", 25, (16, 24), classes=10)
    classes = sorted(p.name for p in root.iterdir())
    assert classes == sorted(f"class_{c}" for c in range(10))
    files = sorted(root.glob("*/*.jpg"))
    assert len(files) == 25
    with Image.open(files[0]) as image:
        assert image.size == (24, 16) and image.format == "JPEG" and image.mode == "RGB"
    # Structured, not flat: the pixels vary within an image and differ between classes.
    first, second = (np.asarray(Image.open(root / f"class_{c}" / f"{c:06d}.jpg")) for c in (0, 1))
    assert first.std() > 3 and np.abs(first.mean((0, 1)) - second.mean((0, 1))).max() > 5


def test_settings_repeat_the_last_per_size_value_and_dedupe_the_workers():
    settings = bench.settings_from(
        bench.build_parser().parse_args(["--sizes", "64,224x200,96", "--workers", "1,0,1"])
    )
    assert settings["sizes"] == [[64, 64], [224, 200], [96, 96]]
    assert settings["images"] == [3000, 1000, 1000]
    assert settings["batch_sizes"] == [128, 32, 32]
    assert settings["workers"] == [1, 0]
    assert bench.settings_from(bench.build_parser().parse_args([]))["workers"][:2] == [0, 1]


@pytest.mark.rotate
def test_quick_run_reports_consistent_numbers(tmp_path, capsys):
    report = bench.main(["--quick", "--write", "--out", str(tmp_path)])
    settings = report["config"]
    assert report["backend"] == keras.backend.backend()
    assert settings["workers"] == sorted(set(settings["workers"]))
    assert 0 in settings["workers"] and 1 in settings["workers"]

    # Throughput: one entry per size; positive rates; ratio = stream rate / train rate.
    (entry,) = report["throughput"]
    assert entry["size"] == [32, 32]
    assert entry["images"] == 160
    assert entry["train_images"] == 128  # a fifth set aside for testing, no validation
    assert entry["kb_per_file"] > 0
    train = entry["train"]
    assert len(train["samples"]) == settings["rounds"] == 2
    assert all(rate > 0 for rate in train["samples"])
    assert train["images_per_second"] == statistics.median(train["samples"])
    assert set(entry["stream"]) == {str(w) for w in settings["workers"]}
    for workers, stream in entry["stream"].items():
        assert len(stream["samples"]) == settings["rounds"], workers
        assert all(rate > 0 for rate in stream["samples"]), workers
        assert all(s > 0 for s in stream["startup_samples"]), workers
        assert stream["images_per_second"] == statistics.median(stream["samples"])
        assert stream["ratio"] == pytest.approx(statistics.median(
            s / t for s, t in zip(stream["samples"], train["samples"])))  # fmt: skip
        # Every streamed epoch served each training image once, with its label and pixels.
        assert stream["images_served"] == [entry["train_images"]] * settings["rounds"]
        assert stream["each_image_once"] and stream["labels_match"], workers
        assert stream["first_batch_matches"], workers
    best = entry["stream"][str(entry["best_workers"])]
    assert entry["best_ratio"] == max(s["ratio"] for s in entry["stream"].values())
    assert entry["best_ratio"] == best["ratio"]
    assert entry["goal_met"] == (entry["best_ratio"] >= 3)

    # Memory: both folder sizes, streamed and in memory, each epoch complete.
    memory = report["memory"]
    sizes = {160, 160 * settings["memory_factor"]}
    assert {row["images"] for row in memory} == sizes
    modes = {row["mode"] for row in memory}
    assert modes == {"streamed, workers=1", "in memory (stream=False)"}
    assert len(memory) == len(sizes) * len(modes)
    for row in memory:
        assert row["images_served"] == row["train_images"] == row["images"] * 4 // 5, row
        assert row["peak_growth_mb"] >= 0 and row["baseline_mb"] > 0, row
        assert row["pixels_mb"] == pytest.approx(row["images"] * 32 * 32 * 3 / 2**20)
        if row["stream"] and row["peak_reset"]:  # Linux: the decoding process was found
            assert row["worker_peak_mb"] > 0, row
        if not row["stream"]:
            assert row["worker_peak_mb"] is None

    # The table is printed and written under the benchmarks' result file name.
    printed = capsys.readouterr().out
    assert "| stream / train |" in printed and "| 640 images |" in printed
    (written,) = tmp_path.iterdir()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d-.+-stream-throughput\.md", written.name)
    text = written.read_text()
    assert text.strip() == bench.format_report(report).strip()
    assert text.count("| 32x32 | 32 | 128 |") == len(settings["workers"])
