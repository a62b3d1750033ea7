"""ResNet training images/s on a GPU as a fraction of the GPU's peak arithmetic rate.

Reads the JSON files ``kcnn bench`` wrote and, for every contender, turns images/s into the
arithmetic rate it reached: ``3 * kcnn.inspect.count_flops(model) * images/s`` (forward,
input gradient and weight gradient), over the GPU's dense peak for float32 training, which
cuDNN and XLA run as TF32 on NVIDIA Ampere and Hopper (PyTorch's ``allow_tf32`` for
convolutions, JAX's default matmul precision). ``--peak-tflops`` sets the peak for a GPU
not in `PEAK_TF32_TFLOPS`.

    python benchmarks/gpu_peak.py bench-resnet20.json bench-resnet18.json --out gpu.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: Dense TF32 peak (TFLOP/s, no sparsity) by a substring of the GPU's name; NVIDIA data sheets.
PEAK_TF32_TFLOPS = {"H200": 494.7, "H100 PCIe": 378.0, "H100": 494.7, "A100": 156.0, "L4": 60.0}


def peak_tflops(device: str) -> float | None:
    """The TF32 peak of a GPU named ``device``, or None when it is not in the table."""
    for name, peak in PEAK_TF32_TFLOPS.items():  # the longer names come first where it matters
        if name in device:
            return peak
    return None


def flops_per_image(model: str, input_shape) -> int:
    import kcnn  # first: it picks an installed backend where none is set  # isort: skip
    import keras

    with keras.StatelessScope(initialize_variables=False):
        built = kcnn.build_model(model, input_shape=tuple(input_shape))
    return kcnn.inspect.count_flops(built)


def rows(report: dict, peak: float | None) -> list[str]:
    """One Markdown row per contender of one ``kcnn bench`` run."""
    flops = flops_per_image(report["model"], report["input_shape"])
    shape = "x".join(str(d) for d in report["input_shape"])
    lines = []
    for label, result in report["results"].items():
        rate = result["images_per_second"]["median"]
        tflops = 3 * flops * rate / 1e12
        fraction = f"{tflops / peak:.1%}" if peak else "-"
        lines.append(
            f"| {report['model']} ({shape}) | {label} | {result['batch_size']} | {rate:,.0f} | "
            f"{result.get('compile_seconds') or 0:.1f} | {tflops:.1f} | {fraction} |"
        )
    return lines


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", help="JSON files written by kcnn bench --out")
    parser.add_argument("--device", default=None, help="GPU name (default: torch's first GPU)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the GPU's dense float32 (TF32) peak, TFLOP/s")  # fmt: skip
    parser.add_argument("--out", default=None, help="also write the Markdown table here")
    args = parser.parse_args(argv)
    device = args.device
    if device is None:
        try:
            import torch

            device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
        except ImportError:
            device = "unknown"
    peak = args.peak_tflops or peak_tflops(device)
    lines = [
        f"Training throughput on {device}; TF32 dense peak "
        + (f"{peak:g} TFLOP/s" if peak else "unknown (give --peak-tflops)")
        + "; arithmetic rate = 3 x forward FLOPs per image (kcnn.inspect.count_flops) x images/s.",
        "",
        "| model | contender | batch | images/s | compile s | TFLOP/s | of peak |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for path in args.reports:
        for report in json.loads(Path(path).read_text())["runs"]:
            lines += rows(report, peak)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return text


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
