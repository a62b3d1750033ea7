"""Where should augmentation run? Training images/s with the same augmentation applied
per batch by the input pipeline or inside the compiled train step, images copied from NumPy
or held on the device.

For each backend (one subprocess each), on Fashion-MNIST, one model, one policy, these
ways of training are timed side by side, each with ``model.fit`` on an `InputPipeline`
after a warm-up epoch that absorbs compilation:

- ``per batch, from NumPy``: the device path before this benchmark existed: each batch
  gathered on the host, copied, then augmented with eager ops (``augment_on="batch"``,
  ``hold=False``);
- ``per batch, held``: the same, gathered on the device (``hold=True``);
- ``in the step, held``: ``augment_on="step"`` and `kcnn.train.augment_in_step`, what
  `kcnn.train.fit` does on JAX and PyTorch;
- ``no augmentation, held``: the ceiling.

Rounds alternate the ways ``--repeats`` times; the medians are compared as ratios to the
first way, in the same run.

    python benchmarks/augment_in_step.py --backends jax,torch --model resnet20

Writes ``<out>/<date>-<machine>-augment-in-step.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
#: name: (augment_on, hold, augmented)
WAYS = {
    "per batch, from NumPy": ("batch", False, True),
    "per batch, held": ("batch", True, True),
    "in the step, held": ("step", True, True),
    "no augmentation, held": ("batch", True, False),
}


def _measure(args: argparse.Namespace) -> dict:
    """Runs inside one backend's process."""
    import keras

    import kcnn

    data = kcnn.data.load_dataset("fashion_mnist", validation_split=0)
    x, y = data.x_train[: args.images], data.y_train[: args.images]
    trainers = {}
    for name, (augment_on, hold, augmented) in WAYS.items():
        keras.utils.set_random_seed(0)
        model = kcnn.build_model(args.model, input_shape=data.input_shape)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        pipe = kcnn.data.make_pipeline(
            x, y, args.batch_size, args.policy if augmented else None, dataset=data,
            path="device", hold=hold, augment_on=augment_on if augmented else "batch",
        )  # fmt: skip
        trainer = kcnn.train.augment_in_step(model, pipe) if augment_on == "step" else model
        start = time.perf_counter()
        trainer.fit(pipe, epochs=1, verbose=0, shuffle=False)  # compiles
        trainers[name] = (trainer, pipe, time.perf_counter() - start)

    samples = {name: [] for name in WAYS}
    for _ in range(args.repeats):
        for name, (trainer, pipe, _) in trainers.items():
            start = time.perf_counter()
            trainer.fit(pipe, epochs=args.epochs, verbose=0, shuffle=False)
            samples[name].append(
                pipe.images_per_epoch * args.epochs / (time.perf_counter() - start)
            )
    first = statistics.median(samples[next(iter(WAYS))])
    return {
        "backend": keras.backend.backend(),
        "device": _device(),
        "ways": {
            name: {
                "images_per_second": statistics.median(rates),
                "min": min(rates),
                "max": max(rates),
                "ratio": statistics.median(rates) / first,
                "first_epoch_seconds": trainers[name][2],
            }
            for name, rates in samples.items()
        },
    }


def _device() -> str:
    import keras

    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        return "cpu" if device.platform == "cpu" else device.device_kind
    if keras.backend.backend() == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    return "cpu"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="jax,torch")
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--policy", default="flip_crop")
    parser.add_argument("--images", type=int, default=8192)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=1, help="epochs per timed round")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv=None) -> dict:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_measure(args)))
        return {}
    results = {}
    passed = list(argv if argv is not None else sys.argv[1:])
    for backend in args.backends.split(","):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run([sys.executable, __file__, *passed, "--child"], capture_output=True,
                              text=True, env=env, check=False)  # fmt: skip
        if done.returncode:
            print(f"{backend} failed:\n{done.stderr[-3000:]}", file=sys.stderr)
            continue
        results[backend] = json.loads(done.stdout.strip().splitlines()[-1])
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {"processor": platform.machine(), "cpus": os.cpu_count()},
        "config": {k: v for k, v in vars(args).items() if k not in ("child", "out", "backends")},
        "results": results,
    }
    print(format_table(report))
    devices = {r["device"] for r in results.values()} - {"cpu"}
    where = devices.pop().replace(" ", "-") if devices else f"{os.cpu_count()}cpu"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{report['date']}-{platform.machine()}-{where}-augment-in-step.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"wrote {path}")
    return report


def format_table(report: dict) -> str:
    """The report as a Markdown table: images/s and the ratio to the first way."""
    config = report["config"]
    lines = [
        f"{config['model']}, {config['policy']}, batch {config['batch_size']}, "
        f"{config['images']} images, median of {config['repeats']}",
        "",
        "| backend | device | way | images/s | x per batch from NumPy | first epoch (s) |",
        "|---|---|---|---:|---:|---:|",
    ]
    for backend, result in report["results"].items():
        for name, way in result["ways"].items():
            lines.append(
                f"| {backend} | {result['device']} | {name} | {way['images_per_second']:,.0f} "
                f"| {way['ratio']:.2f} | {way['first_epoch_seconds']:.1f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
