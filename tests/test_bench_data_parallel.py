"""benchmarks/data_parallel.py: N devices against one, side by side in one run.

The real run trains LeNet-5 on the CPU split in two (JAX and TensorFlow; Keras 3.15 has no
data-parallel path for PyTorch) in worker processes that set up `kcnn.distribute` before
their backend starts.
"""

from __future__ import annotations

import json

import keras
import pytest

from tests.conftest import load_benchmark

BACKEND = keras.backend.backend()


dp = load_benchmark("data_parallel.py")


def test_scaling_is_the_median_of_per_round_ratios():
    def result(name, backend, samples):
        return {"name": name, "backend": backend, "images_per_second": {"samples": samples}}

    run = {
        "results": {
            "kcnn x1 (jax)": result("kcnn x1", "jax", [100.0, 50.0, 100.0]),
            "kcnn x2 (jax)": result("kcnn x2", "jax", [150.0, 100.0, 190.0]),
        }
    }
    assert dp.scaling(run, 2) == {"jax": pytest.approx(1.9)}  # ratios 1.5, 2.0, 1.9


def test_refuses_torch():
    with pytest.raises(SystemExit, match="no data-parallel path"):
        dp.main(["--backends", "torch"])


@pytest.mark.skipif(BACKEND == "torch", reason="no data-parallel path in Keras 3.15")
@pytest.mark.rotate(backends=("tensorflow", "jax"))
def test_two_devices_against_one_for_real(tmp_path):
    out = tmp_path / "dp.json"
    report = dp.main(
        ["--models", "lenet5", "--backends", BACKEND, "--images", "512", "--batch-size", "64",
         "--repeats", "2", "--out", str(out)]
    )  # fmt: skip
    (run,) = report["runs"]
    assert set(run["results"]) == {f"kcnn x1 ({BACKEND})", f"kcnn x2 ({BACKEND})"}
    assert all(r["images_per_second"]["n"] == 2 for r in run["results"].values())
    assert run["scaling"][BACKEND] > 0
    assert json.loads(out.read_text())["devices"] == 2
