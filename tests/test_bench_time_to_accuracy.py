"""benchmarks/time_to_accuracy.py: the clock, the curve, the early stop, the plot and the report.

The measurement runs in this process on this run's backend, on a small subsample of real
Fashion-MNIST (1,024 training images at batch 32: 32 steps per epoch, 2 epochs; with fewer
steps SimpleCNN's BatchNorm statistics and dropout leave it near chance on some backends).
The end-to-end run (subprocesses) happens once, on the TensorFlow backend's turn, and the
PyTorch loop once, on PyTorch's.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from tests.conftest import load_benchmark

tta = load_benchmark("time_to_accuracy.py")

TINY = ["--train-images", "1024", "--test-images", "256", "--max-epochs", "2",
        "--eval-every", "0.5", "--batch-size", "32", "--model", "simple_cnn"]  # fmt: skip
STEPS_PER_EPOCH = 32  # 1024 / 32
EVERY = 16  # round(0.5 * 32)


def _settings(*extra) -> dict:
    return tta.settings_from(tta.build_parser().parse_args([*TINY, *extra]))


def _check_curve(result: dict) -> list[dict]:
    curve = result["curve"]
    seconds = [p["seconds"] for p in curve]
    assert all(b > a for a, b in zip(seconds, seconds[1:])), seconds
    assert seconds[0] > 0
    assert all(0.0 <= p["test_accuracy"] <= 1.0 for p in curve)
    assert all(p["eval_seconds"] > 0 for p in curve)
    assert [p["step"] for p in curve] == [EVERY * (i + 1) for i in range(len(curve))]
    assert [p["epoch"] for p in curve] == [0.5 * (i + 1) for i in range(len(curve))]
    assert result["steps_per_epoch"] == STEPS_PER_EPOCH
    assert result["eval_every_steps"] == EVERY
    assert result["steps"] == curve[-1]["step"]
    assert result["final_test_accuracy"] == curve[-1]["test_accuracy"]
    assert result["train_seconds"] == pytest.approx(seconds[-1])
    assert 0 < result["compile_seconds"] < seconds[0]
    assert (result["train_images"], result["test_images"]) == (1024, 256)
    return curve


@pytest.fixture(scope="module")
def unreached(fashion_mnist):
    """Target 0.999: never reached, so all 2 epochs train and every point is scored."""
    return tta.measure_keras(_settings("--target", "0.999"))


@pytest.mark.learning
def test_an_unreached_target_trains_every_epoch_and_scores_every_half_epoch(unreached):
    curve = _check_curve(unreached)
    assert len(curve) == 4
    assert unreached["backend"] == keras.backend.backend()
    assert unreached["time_to_target"] is None and unreached["epochs_to_target"] is None
    assert unreached["steps"] == 2 * STEPS_PER_EPOCH
    # It learns: 2 epochs on 1,024 real images get well above chance (0.1).
    assert unreached["best_test_accuracy"] > 0.5
    assert unreached["settings"]["target"] == 0.999


@pytest.mark.learning
def test_a_reached_target_stops_training_at_the_first_point_that_reaches_it(unreached):
    result = tta.measure_keras(_settings("--target", "0.5"))
    curve = _check_curve(result)
    accuracies = [p["test_accuracy"] for p in curve]
    assert accuracies[-1] >= 0.5 and all(a < 0.5 for a in accuracies[:-1]), accuracies
    assert result["time_to_target"] == curve[-1]["seconds"]
    assert result["epochs_to_target"] == curve[-1]["epoch"]
    assert result["steps"] < 2 * STEPS_PER_EPOCH  # stopped before the last epoch ended
    # Same seed, same batches: scoring does not change training, so the curves agree.
    assert accuracies == pytest.approx(
        [p["test_accuracy"] for p in unreached["curve"][: len(curve)]], abs=0.02
    )


def test_the_last_steps_are_scored_when_no_evaluation_point_falls_on_them():
    """10 steps, an evaluation every 4: points at 4, 8, and 10 (the end)."""
    calls = []
    clock = tta._Clock(lambda: len(calls) / 10, lambda: calls.append(1), 10, 4, 0.99)
    clock.start()
    for step in range(1, 11):
        assert clock.step_end(step) is False
    clock.finish()
    assert [p["step"] for p in clock.curve] == [4, 8, 10]
    assert [p["epoch"] for p in clock.curve] == [0.4, 0.8, 1.0]
    result = clock.result("fake", {})
    assert result["steps"] == 10 and result["time_to_target"] is None


def test_the_clock_stops_at_the_first_evaluation_past_max_seconds():
    clock = tta._Clock(lambda: 0.5, lambda: None, 10, 2, 0.99, max_seconds=1e-9)
    clock.start()
    assert clock.step_end(1) is False  # no evaluation due yet
    assert clock.step_end(2) is True  # scored, and the time is up: stop
    assert clock.time_to_target is None and len(clock.curve) == 1
    unlimited = tta._Clock(lambda: 0.5, lambda: None, 10, 2, 0.99)
    unlimited.start()
    assert not any(unlimited.step_end(step) for step in range(1, 11))


def test_steps_per_execution_evaluates_at_the_first_batch_seen_past_each_point():
    """Callbacks see every 3rd batch: points due at 4 and 8 are scored at 6 and 9."""
    clock = tta._Clock(lambda: 0.95, lambda: None, 9, 4, 0.99)
    clock.start()
    for step in (3, 6, 9):
        clock.step_end(step)
    clock.finish()
    assert [p["step"] for p in clock.curve] == [6, 9]


@pytest.mark.parametrize(
    "flag, value, message",
    [("--eval-every", "0", "eval_every"), ("--target", "1.5", "target"),
     ("--max-seconds", "-1", "max_seconds"),
     ("--batch-size", "0", "batch_size"), ("--train-images", "-1", "train_images"),
     ("--recipe", "slow", "recipe must be none, fast or none,fast")],
)  # fmt: skip
def test_bad_settings_are_refused_with_the_value(flag, value, message):
    with pytest.raises(ValueError, match=message):
        tta.settings_from(tta.build_parser().parse_args([flag, value]))


def test_defaults_are_the_documented_ones():
    settings = tta.settings_from(tta.build_parser().parse_args([]))
    assert settings["model"] == "simple_cnn" and settings["target"] == 0.91
    assert (settings["batch_size"], settings["lr"], settings["max_epochs"]) == (128, 1e-3, 10)
    assert (settings["eval_every"], settings["train_images"], settings["test_images"]) == (
        0.5, 0, 0
    )  # fmt: skip
    assert (settings["optimizer"], settings["schedule"], settings["augment"]) == (
        "adam", "constant", "none"
    )  # fmt: skip


def test_the_fast_recipe_replaces_the_settings_it_names():
    from kcnn.train.recipe import fast_recipe

    plain = _settings()
    assert tta.with_recipe(plain, 54_000) == plain
    fast = tta.with_recipe(_settings("--recipe", "fast"), 54_000)
    row = fast_recipe(54_000)
    assert (fast["batch_size"], fast["lr"], fast["max_epochs"], fast["schedule"]) == (
        row["batch_size"], row["learning_rate"], row["epochs"], row["schedule"]
    )  # fmt: skip
    assert (fast["label_smoothing"], fast["optimizer"]) == (
        row["label_smoothing"],
        row["optimizer"],
    )
    assert fast["augment"] == (row["augment"] or "none")
    assert {k: fast[k] for k in ("train_images", "eval_every", "seed", "target")} == {
        k: plain[k] for k in ("train_images", "eval_every", "seed", "target")
    }


def test_the_torch_loops_one_cycle_gives_kcnns_rates_step_for_step():
    torch = pytest.importorskip("torch")
    from kcnn.train import OneCycle

    total = 40
    optimizer = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=3e-3)
    scheduler = tta.torch_one_cycle(optimizer, 3e-3, total)
    torch_rates = []
    for _ in range(total):
        torch_rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    kcnn_rates = [float(keras.ops.convert_to_numpy(OneCycle(3e-3, total)(s))) for s in range(total)]
    np.testing.assert_allclose(torch_rates, kcnn_rates, rtol=1e-4)


def _fake_result(backend, seconds, accuracies, target):
    curve = [
        {"step": i + 1, "epoch": 0.5 * (i + 1), "seconds": s, "test_accuracy": a,
         "eval_seconds": 0.1}
        for i, (s, a) in enumerate(zip(seconds, accuracies))
    ]  # fmt: skip
    first = next((p for p in curve if p["test_accuracy"] >= target), None)
    return {
        "backend": backend,
        "curve": curve,
        "time_to_target": first and first["seconds"],
        "epochs_to_target": first and first["epoch"],
        "compile_seconds": 1.0,
        "train_seconds": seconds[-1],
        "final_test_accuracy": accuracies[-1],
        "device": "cpu",
    }


def test_plot_curves_draws_one_line_per_backend_and_writes_a_png(tmp_path):
    target = 0.9
    report = {
        "settings": _settings("--target", str(target)),
        "machine": {"cpus": 2},
        "results": {
            "jax": _fake_result("jax", [2, 4, 6], [0.8, 0.88, 0.91], target),
            "torch loop": _fake_result("torch loop", [1, 2, 3, 4], [0.7, 0.8, 0.85, 0.87], target),
        },
    }
    path = tmp_path / "curves.png"
    fig = tta.plot_curves(report, path)
    (ax,) = fig.axes
    curves = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(curves) == 2
    assert list(curves[0].get_xdata()) == [2, 4, 6]
    assert list(curves[1].get_ydata()) == [0.7, 0.8, 0.85, 0.87]
    # The dashed target line, and one vertical mark: only jax reaches the target (at 6 s).
    assert any(list(line.get_ydata()) == [target, target] for line in ax.get_lines())
    assert [list(line.get_xdata()) for line in ax.get_lines() if line.get_linestyle() == ":"] == [
        [6, 6]
    ]
    labels = ax.get_legend_handles_labels()[1]
    assert "jax: 6.0 s, at epoch 1.5" in labels and "torch loop: not reached (0.870)" in labels
    assert "simple_cnn" in ax.get_title() and "0.9" in ax.get_title()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "reached" in tta.format_table(report)


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="runs on the torch suite's turn")
def test_the_torch_loop_follows_the_same_schedule_and_clock(fashion_mnist):
    pytest.importorskip("torch")
    result = tta.measure_torch_loop(_settings("--target", "0.999"))
    curve = _check_curve(result)
    assert len(curve) == 4 and result["backend"] == "torch loop"
    assert result["time_to_target"] is None
    assert result["best_test_accuracy"] > 0.5
    with pytest.raises(ValueError, match="augment"):
        tta.measure_torch_loop(_settings("--augment", "randaugment"))


def test_the_torch_loop_flips_and_crops_as_kcnn_does():
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(0)
    images = torch.arange(2 * 1 * 5 * 6, dtype=torch.float32).reshape(2, 1, 5, 6) + 1
    seen = set()
    for _ in range(40):
        out = tta.torch_flip_crop(images, 1, generator)
        assert out.shape == images.shape
        for i in range(2):
            source = images[i, 0]
            window = out[i, 0]
            # some shift of the (maybe mirrored) image, zeros where it left the frame
            matches = [
                (flip, dy, dx)
                for flip in (False, True)
                for dy in (-1, 0, 1)
                for dx in (-1, 0, 1)
                if torch.equal(window, _shifted(source.flip(1) if flip else source, dy, dx))
            ]
            assert matches, window
            seen.update(matches)
    assert len(seen) == 18  # every flip and shift turns up


def _shifted(image, dy, dx):
    """``image`` moved by (dy, dx) pixels inside its frame, zero-filled."""
    import torch

    height, width = image.shape
    out = torch.zeros_like(image)
    out[max(0, -dy) : height - max(0, dy), max(0, -dx) : width - max(0, dx)] = image[
        max(0, dy) : height - max(0, -dy), max(0, dx) : width - max(0, -dx)
    ]
    return out


@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="runs on the tensorflow suite's turn"
)
def test_main_runs_each_backend_in_a_child_and_writes_json_and_png(fashion_mnist, tmp_path):
    pytest.importorskip("torch")
    report = tta.main(
        ["--backends", "tensorflow", "--torch-baseline", "--train-images", "128",
         "--test-images", "64", "--max-epochs", "1", "--batch-size", "64",
         "--target", "0.999", "--steps-per-execution", "1", "--out", str(tmp_path)]
    )  # fmt: skip
    assert list(report["results"]) == ["tensorflow", "torch loop"]
    for name, result in report["results"].items():
        assert "error" not in result, result
        assert result["backend"] == name
        assert [p["step"] for p in result["curve"]] == [1, 2]  # every round(0.5 * 2) steps
        assert result["time_to_target"] is None
    (written,) = tmp_path.glob("*-time-to-accuracy.json")
    assert json.loads(written.read_text())["settings"]["train_images"] == 128
    assert written.with_suffix(".png").is_file()
    assert report["machine"]["cpus"] >= 1 and "keras" in report["machine"]["versions"]
    assert np.isfinite(report["results"]["tensorflow"]["compile_seconds"])
