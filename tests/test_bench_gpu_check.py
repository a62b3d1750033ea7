"""benchmarks/gpu_check.sh and gpu_peak.py: the GPU check's script and its fraction of peak.

The script itself runs on a GPU machine; here it is checked for syntax, and gpu_peak's
arithmetic on a bench report written by hand.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.conftest import load_benchmark

gpu_peak = load_benchmark("gpu_peak.py")
SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.sh"


def test_the_script_parses_and_names_its_steps():
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)  # make test runs under bash
    text = SCRIPT.read_text()
    for step in ("time_to_accuracy.py", "--target 0.94", "kcnn.cli bench", "gpu_peak.py"):
        assert step in text, step


def test_peak_by_gpu_name():
    assert gpu_peak.peak_tflops("NVIDIA H200") == 494.7
    assert gpu_peak.peak_tflops("NVIDIA H100 PCIe") == 378.0
    assert gpu_peak.peak_tflops("NVIDIA H100 80GB HBM3") == 494.7
    assert gpu_peak.peak_tflops("cpu") is None


def test_fraction_of_peak_is_three_forward_passes_per_image(tmp_path):
    report = {"runs": [{
        "model": "resnet20", "input_shape": [32, 32, 3],
        "results": {"kcnn (jax)": {"images_per_second": {"median": 10_000.0},
                                   "batch_size": 512, "compile_seconds": 12.0}},
    }]}  # fmt: skip
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(report))
    text = gpu_peak.main([str(path), "--device", "NVIDIA H200", "--out", str(tmp_path / "t.md")])
    flops = gpu_peak.flops_per_image("resnet20", (32, 32, 3))
    assert 81e6 < flops < 83e6  # 41 million multiply-adds
    tflops = 3 * flops * 10_000 / 1e12
    row = next(line for line in text.splitlines() if line.startswith("| resnet20"))
    assert f"| {tflops:.1f} | {tflops / 494.7:.1%} |" in row
    assert "| kcnn (jax) | 512 | 10,000 | 12.0 |" in row
    assert (tmp_path / "t.md").read_text() == text
