"""What kcnn's fit adds to Keras' fit, measured inside one process.

`kcnn bench` compares contenders that each run in their own process. On this machine two
processes running the same code can differ by 10-20% (memory placement, thread scheduling),
which is larger than what kcnn adds. This script removes that: in one process per backend it
builds the model two ways (kcnn's builder and the hand-written plain-Keras copy from
``baselines/keras_baseline.py``) and trains each two ways (``model.fit`` on NumPy arrays, and
`kcnn.train.fit` with its input pipeline and callbacks, no run folder). In every round each
of the four combinations trains two epochs, and the second is timed (the first absorbs the
compiling that `kcnn.train.fit` redoes on every call); the combinations take turns for
``--repeats`` rounds. The ratio "kcnn.fit / keras fit" on the same model is what kcnn's
training path adds per epoch; "kcnn model / plain model" under the same fit checks that the
builders add nothing.

    python benchmarks/fit_overhead.py --models lenet5,simple_cnn --backends tensorflow,jax,torch

Writes ``results/<date>-<machine>-fit-overhead.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def measure(model_name: str, images: int, repeats: int) -> dict:
    """Runs inside one backend's process."""
    import keras

    import kcnn
    from kcnn.bench import BENCH_MODELS, bench_arrays

    spec = importlib.util.spec_from_file_location(
        "keras_baseline", HERE / "baselines" / "keras_baseline.py"
    )
    baseline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(baseline)
    shape = BENCH_MODELS[model_name]
    x, y, _ = bench_arrays(shape, images)
    data = kcnn.data.Dataset(
        name="bench", x_train=x, y_train=y, x_val=x[:0], y_val=y[:0], x_test=x[:0], y_test=y[:0],
        class_names=[str(i) for i in range(10)],
    )  # fmt: skip
    config = kcnn.train.TrainConfig(epochs=2, batch_size=128, verbose=0)

    class EpochClock(keras.callbacks.Callback):
        """Times the last epoch of a fit call (epoch-level hooks only: Keras keeps its
        asynchronous dispatch)."""

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.start

    def keras_fit(model):
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            steps_per_execution=kcnn.train.recommended_settings()["steps_per_execution"],
        )

        def run(clock):
            model.fit(x, y, batch_size=128, epochs=2, verbose=0, callbacks=[clock])

        return run

    def kcnn_fit(model):
        def run(clock):
            kcnn.train.fit(model, data, config, run_dir=None, callbacks=[clock])

        return run

    builders = {
        "kcnn model": lambda: kcnn.build_model(model_name, input_shape=shape, num_classes=10),
        "plain model": lambda: baseline.build(model_name, shape, 10),
    }
    runs = {}
    for model_label, build in builders.items():
        for fit_label, make in (("keras fit", keras_fit), ("kcnn.fit", kcnn_fit)):
            keras.utils.set_random_seed(0)
            runs[f"{model_label} + {fit_label}"] = make(build())
    rates = {label: [] for label in runs}
    for round_index in range(repeats):
        labels = list(runs)
        shift = round_index % len(labels)
        for label in labels[shift:] + labels[:shift]:
            clock = EpochClock()
            runs[label](clock)  # two epochs: the first absorbs (re)compiling
            rates[label].append(images / clock.seconds)

    def paired(a, b):
        return statistics.median(p / q for p, q in zip(rates[a], rates[b]))

    return {
        "images_per_second": {
            k: {"median": statistics.median(v), "samples": v} for k, v in rates.items()
        },
        "kcnn.fit / keras fit (kcnn model)": paired(
            "kcnn model + kcnn.fit", "kcnn model + keras fit"
        ),
        "kcnn.fit / keras fit (plain model)": paired(
            "plain model + kcnn.fit", "plain model + keras fit"
        ),
        "kcnn model / plain model (keras fit)": paired(
            "kcnn model + keras fit", "plain model + keras fit"
        ),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lenet5,simple_cnn")
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.images, args.repeats)))
        return {}
    results = {}
    for model in args.models.split(","):
        for backend in args.backends.split(","):
            env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
            done = subprocess.run(
                [sys.executable, __file__, "--child", model, "--images", str(args.images),
                 "--repeats", str(args.repeats)],
                capture_output=True, text=True, env=env, check=False,
            )  # fmt: skip
            if done.returncode:
                raise SystemExit(f"{model} on {backend} failed:\n{done.stderr[-3000:]}")
            results[f"{model} ({backend})"] = json.loads(done.stdout.strip().splitlines()[-1])
            ratios = {k: v for k, v in results[f"{model} ({backend})"].items() if "/" in k}
            print(f"{model} ({backend}): " + ", ".join(f"{k} {v:.3f}" for k, v in ratios.items()))
    from kcnn.bench import machine_info, result_path, write_report

    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "images": args.images,
        "repeats": args.repeats,
        "results": results,
    }
    path = result_path(args.out, "fit-overhead", report["date"])
    write_report(report, path)
    print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
