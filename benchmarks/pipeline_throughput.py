"""Is training ever input-bound? Pipeline images/s per augmentation policy vs model images/s.

For each backend (one subprocess each), on real Fashion-MNIST images:

- the input pipeline's throughput for every policy, on the path `make_pipeline` picks
  (``tf.data`` when TensorFlow is installed): batches pulled from ``pipeline.dataset`` (what
  the TensorFlow backend's ``fit`` consumes), through the `InputPipeline` itself (what
  ``model.fit`` gets on JAX and PyTorch), and from ``pipeline.dataset`` built with
  ``deterministic=False`` ("parallel": batches augmented in parallel, not reproducible);
- the training throughput of SimpleCNN and ResNet-20 (``model.fit`` on NumPy arrays,
  after a warm-up epoch that absorbs compilation).

Pipeline and training measurements alternate, ``--repeats`` times, and the medians are
compared in the same run, since the machine is shared and noisy. The goal: every policy's
pipeline is at least 3x the faster model's training throughput.

    python benchmarks/pipeline_throughput.py --backends tensorflow,jax,torch

Writes ``benchmarks/results/<date>-<machine>-pipeline.json`` and prints a table.
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

CONFIG = {
    "images": 8192,
    "batch_size": 128,
    "repeats": 3,
    "train_steps": 24,
    "models": ["simple_cnn", "resnet20"],
    "policies": ["none", "crop", "flip_crop", "cutout", "mixup", "cutmix", "randaugment"],
}
RESULTS = Path(__file__).resolve().parent / "results"


def _measure(backend_config: dict) -> dict:
    """Runs inside one backend's process."""
    import keras

    import kcnn

    data = kcnn.data.load_dataset("fashion_mnist", validation_split=0)
    n, batch = backend_config["images"], backend_config["batch_size"]
    x, y = data.x_train[:n], data.y_train[:n]

    def pipeline_rate(policy: str, through: str) -> float:
        deterministic = through != "parallel"
        pipe = kcnn.data.make_pipeline(
            x, y, batch, policy, dataset=data, seed=0, deterministic=deterministic
        )
        if through in ("dataset", "parallel") and pipe.dataset is not None:
            iterator = iter(pipe.dataset)
            next(iterator)  # warm-up: tracing and the first prefetch
            start, count = time.perf_counter(), 0
            for images, _ in iterator:
                count += int(images.shape[0])
        else:
            pipe[0]
            start, count = time.perf_counter(), 0
            for index in range(1, len(pipe)):
                count += int(pipe[index][0].shape[0])
        return count / (time.perf_counter() - start), pipe.path

    def train_rate(name: str, model) -> float:
        steps = backend_config["train_steps"]
        xs, ys = x[: steps * batch], y[: steps * batch]
        start = time.perf_counter()
        model.fit(xs, ys, batch_size=batch, epochs=1, verbose=0)
        return len(xs) / (time.perf_counter() - start)

    models = {}
    for name in backend_config["models"]:
        keras.utils.set_random_seed(0)
        model = kcnn.build_model(name, input_shape=data.input_shape)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x[: batch * 2], y[: batch * 2], batch_size=batch, epochs=1, verbose=0)  # compile
        models[name] = model

    samples = {f"train/{name}": [] for name in models}
    path = None
    for _ in range(backend_config["repeats"]):
        for policy in backend_config["policies"]:
            for through in ("dataset", "pipeline", "parallel"):
                rate, path = pipeline_rate(policy, through)
                samples.setdefault(f"{through}/{policy}", []).append(rate)
        for name, model in models.items():
            samples[f"train/{name}"].append(train_rate(name, model))
    summary = {
        key: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
        for key, v in samples.items()
    }
    return {"backend": keras.backend.backend(), "path": path, "images_per_second": summary}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--repeats", type=int, default=CONFIG["repeats"])
    parser.add_argument("--images", type=int, default=CONFIG["images"])
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    config = {**CONFIG, "repeats": args.repeats, "images": args.images}
    if args.child:
        print(json.dumps(_measure(config)))
        return {}

    results = {}
    for backend in args.backends.split(","):
        env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
        done = subprocess.run(
            [sys.executable, __file__, "--child", "1", "--repeats", str(args.repeats),
             "--images", str(args.images)],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        if done.returncode:
            raise SystemExit(f"{backend} failed:\n{done.stderr[-3000:]}")
        results[backend] = json.loads(done.stdout.strip().splitlines()[-1])

    import keras

    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "keras": keras.__version__,
        "config": config,
        "results": results,
    }
    print(f"{'backend':11}{'path':9}{'measure':26}{'img/s':>9}{'x fastest model':>17}")
    for backend, result in results.items():
        rates = result["images_per_second"]
        fastest = max(v["median"] for k, v in rates.items() if k.startswith("train/"))
        for key, value in rates.items():
            ratio = "" if key.startswith("train/") else f"{value['median'] / fastest:.1f}x"
            print(f"{backend:11}{result['path']:9}{key:26}{value['median']:9.0f}{ratio:>17}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"{report['date']}-{platform.machine()}-{os.cpu_count()}cpu-pipeline.json"
    (out / name).write_text(json.dumps(report, indent=2))
    print(f"wrote {out / name}")
    return report


if __name__ == "__main__":
    main()
