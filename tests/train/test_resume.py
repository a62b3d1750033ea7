"""Kill a training process for real (SIGKILL) and resume it, on this run's backend.

What is asserted, per backend, on CPU:
(a) whenever the process dies, checkpoint.json names a checkpoint that loads;
(b) the resumed run ends with weights bit-identical to a run that never stopped (same
    seed): the model, optimizer, Dropout generators, torch's global generator and the
    epoch-keyed pipeline are all restored, so there is nothing left to differ;
(c) the history has every epoch exactly once.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.rotate]


def _start(root, out, *extra):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.train.resume_worker", str(root), str(out), *extra],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KERAS_BACKEND": keras.backend.backend()},
    )


def _finish(process, timeout=300):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err[-3000:]
    return out


def _parent(proc: Path) -> int | None:
    """The parent pid of the process ``/proc/<pid>``, or None once it is gone."""
    try:
        return int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _kill_when_hanging(process, timeout=300, before_kill=None):
    """Wait (bounded) for the worker's HANG line, SIGKILL it, return its run folder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("HANG "):
            if before_kill is not None:
                before_kill()
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return line.split(" ", 1)[1].strip()
        if not line and process.poll() is not None:
            raise AssertionError(f"worker ended without hanging:\n{process.stderr.read()[-3000:]}")
    process.kill()
    raise AssertionError("worker did not reach its hang point in time")


def _weights(path):
    with np.load(path) as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


def _assert_checkpoint_loads(run):
    state = json.loads((Path(run) / "checkpoint.json").read_text())
    model = keras.saving.load_model(Path(run) / state["file"], safe_mode=True)
    assert model.optimizer is not None and int(model.optimizer.iterations) > 0
    return state


def test_killed_runs_resume_to_the_uninterrupted_weights(tmp_path):
    reference = tmp_path / "reference.npz"
    _finish(_start(tmp_path / "ref", reference))

    # Killed in the middle of epoch 2 (0-based 1), after epoch 1's checkpoint.
    run = _kill_when_hanging(_start(tmp_path / "a", tmp_path / "unused.npz", "--hang-at-batch",
                                    "1:7"))  # fmt: skip
    state = _assert_checkpoint_loads(run)
    assert state["epoch"] == 1
    resumed = tmp_path / "a.npz"
    _finish(_start(tmp_path / "a", resumed, "--resume", run))

    # Killed while writing epoch 2's checkpoint: half a temporary file is left behind.
    run_b = _kill_when_hanging(_start(tmp_path / "b", tmp_path / "unused.npz",
                                      "--hang-in-save", "2"))  # fmt: skip
    leftovers = [p.name for p in (tmp_path / "b").glob("*/checkpoints/.*.tmp.keras")]
    assert leftovers == [".epoch-0002.tmp.keras"]
    state = _assert_checkpoint_loads(run_b)
    assert state["epoch"] == 1  # the last complete one
    resumed_b = tmp_path / "b.npz"
    _finish(_start(tmp_path / "b", resumed_b, "--resume", run_b))

    expected = _weights(reference)
    for path in (resumed, resumed_b):
        got = _weights(path)
        assert len(got) == len(expected)
        for a, b in zip(got, expected):
            np.testing.assert_array_equal(a, b)  # exact on CPU
    for folder in (run, run_b):
        history = json.loads((Path(folder) / "history.json").read_text())
        assert history["epoch"] == [1, 2, 3]
        assert all(len(v) == 3 for v in history.values())
        metrics = json.loads((Path(folder) / "metrics.json").read_text())
        assert metrics["resumed_at_epoch"] == 1


def test_killed_runs_with_every_training_option_resume_to_the_uninterrupted_weights(tmp_path):
    """Averaged weights, class weights, the best checkpoint, accumulated and clipped
    gradients: each keeps state across epochs, and a resume must restore all of it."""
    options = ["--options", json.dumps({
        "ema": 0.9, "class_weight": "balanced", "keep_best": True, "final_weights": "best",
        "grad_accum": 2, "clip_norm": 1.0,
    })]  # fmt: skip
    reference = tmp_path / "reference.npz"
    _finish(_start(tmp_path / "ref", reference, *options))
    run = _kill_when_hanging(_start(tmp_path / "a", tmp_path / "unused.npz", "--hang-at-batch",
                                    "1:7", *options))  # fmt: skip
    state = _assert_checkpoint_loads(run)
    assert state["epoch"] == 1 and state["ema_in_model"] and state["best"]["epoch"] == 1
    resumed = tmp_path / "a.npz"
    _finish(_start(tmp_path / "a", resumed, "--resume", run, *options))
    for a, b in zip(_weights(resumed), _weights(reference), strict=True):
        np.testing.assert_array_equal(a, b)
    reference_run = next((tmp_path / "ref").iterdir())
    for name in ("metrics.json", "history.json"):
        got = json.loads((Path(run) / name).read_text())
        expected = json.loads((reference_run / name).read_text())
        for key in ("train_seconds", "resumed_at_epoch"):
            got.pop(key, None), expected.pop(key, None)
        assert got == expected


def test_a_killed_streaming_run_resumes_to_the_uninterrupted_weights(tmp_path):
    """A folder of images streamed by a grain worker process: the batches after the resume
    are decoded by new workers from (seed, epoch, index) alone."""
    from tests.data.image_folders import write_digits

    folder = str(write_digits(tmp_path / "digits", "classes", count=400))
    options = ["--stream", folder, "--options", json.dumps({"workers": 1})]
    reference = tmp_path / "reference.npz"
    _finish(_start(tmp_path / "ref", reference, *options))
    # Batch 3: TensorFlow runs 4 steps per call (kcnn's default there), so its batch
    # callbacks see indices 3, 7, ... only.
    process = _start(tmp_path / "a", tmp_path / "unused.npz", "--hang-at-batch", "1:3", *options)
    workers = []

    def children():  # the decoding processes, found before the kill
        workers[:] = [p for p in Path("/proc").glob("[0-9]*") if _parent(p) == process.pid]

    run = _kill_when_hanging(process, before_kill=children)
    assert workers, "the streamed run started no decoding process"
    deadline = time.monotonic() + 20
    while any(p.exists() for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(p.exists() for p in workers), "decoding processes outlived the killed run"
    assert _assert_checkpoint_loads(run)["epoch"] == 1
    resumed = tmp_path / "a.npz"
    _finish(_start(tmp_path / "a", resumed, "--resume", run, *options))
    for a, b in zip(_weights(resumed), _weights(reference), strict=True):
        np.testing.assert_array_equal(a, b)
    history = json.loads((Path(run) / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3]
