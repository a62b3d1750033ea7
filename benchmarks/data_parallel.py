"""Data-parallel training against one device, measured side by side.

For each backend that has a data-parallel path (JAX, TensorFlow), kcnn trains the model
on 1 device and on N devices (`kcnn.distribute`, ``--devices``) in their own processes,
interleaved by `kcnn.bench.run_benchmark`: every round, each contender trains one epoch of
the same images with the same global batch, and the ratio "N devices / 1 device" is the
median of the per-round ratios of images/s.

On a GPU machine the devices are GPUs. On a CPU-only machine the CPU is split into N
devices that share the same cores, so the ratio shows what the split costs or gains there,
not what N GPUs give.

    python benchmarks/data_parallel.py --models simple_cnn,resnet20 --devices 2

Writes ``results/<date>-<machine>-data-parallel.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def contenders(backends: list[str], devices: int, batch_size: int) -> list:
    from kcnn.bench import Contender

    return [
        Contender(f"kcnn x{n}", backend, batch_size=batch_size, options={"devices": n})
        for backend in backends
        for n in (1, devices)
    ]


def scaling(run: dict, devices: int) -> dict:
    """``{backend: median over rounds of (N devices' images/s / 1 device's)}``."""
    results = run["results"]
    out = {}
    for result in results.values():
        if result["name"] != f"kcnn x{devices}":
            continue
        one = results[f"kcnn x1 ({result['backend']})"]
        pairs = zip(result["images_per_second"]["samples"], one["images_per_second"]["samples"])
        out[result["backend"]] = statistics.median(a / b for a, b in pairs)
    return out


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="simple_cnn,resnet20")
    parser.add_argument("--backends", default="jax,tensorflow")
    parser.add_argument("--devices", type=int, default=2, help="devices to compare with 1")
    parser.add_argument("--batch-size", type=int, default=128, help="the global batch")
    parser.add_argument("--images", type=int, help="images per epoch (default: per model)")
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs each")
    parser.add_argument("--out", type=Path, help="JSON to write")
    args = parser.parse_args(argv)
    from kcnn.bench import benchmark, result_path, write_report

    backends = [b for b in args.backends.split(",") if b]
    if "torch" in backends:
        raise SystemExit("The PyTorch backend has no data-parallel path in Keras 3.15.")
    report = benchmark(
        args.models.split(","),
        contenders(backends, args.devices, args.batch_size),
        images=args.images,
        repeats=args.repeats,
        pipeline=None,
        progress=lambda line: print(line, file=sys.stderr),
    )
    report["devices"] = args.devices
    for run in report["runs"]:
        run["scaling"] = scaling(run, args.devices)
        for backend, ratio in run["scaling"].items():
            print(f"{run['model']:>11} {backend:>10}: {args.devices} devices / 1 = {ratio:.2f}x")
    out = args.out or result_path(RESULTS, "data-parallel")
    write_report(report, out)
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
