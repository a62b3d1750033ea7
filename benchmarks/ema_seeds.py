"""Averaged weights (``TrainConfig.ema``) against none on a short, noisy run, over seeds.

SimpleCNN on 6,000 Fashion-MNIST training images (600 per class) for 6 epochs with Adam at
3e-3 and batch 64: a rate high enough that the last weights wobble. For each seed, the
final validation accuracy (5,000 test images) without averaging, with ``ema=0.99`` and
``ema=0.999`` and, for the averaged runs, after re-estimating BatchNorm's statistics for the
averaged weights (a cumulative average over 20 training batches, as PyTorch's
``swa_utils.update_bn``) — kcnn keeps the trained weights' statistics. Prints a Markdown
table of means and spreads.

    KERAS_BACKEND=tensorflow python benchmarks/ema_seeds.py [--seeds 4] [--out FILE]

The committed result: benchmarks/results/2026-11-29-x86_64-2cpu-ema-seeds.md (about 28 minutes).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import keras
import numpy as np

import kcnn


def recalibrated_accuracy(model, x_train, x_val, y_val, batches: int = 20, size: int = 256):
    """Validation accuracy after re-estimating every BatchNorm layer's statistics."""
    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    saved = [(layer.momentum, layer.moving_mean.numpy(), layer.moving_variance.numpy())
             for layer in layers]  # fmt: skip
    for i in range(batches):
        for layer in layers:
            layer.momentum = i / (i + 1)  # a cumulative average: the first batch counts fully
        model(x_train[i * size : (i + 1) * size], training=True)
    _, accuracy = model.evaluate(x_val, y_val, batch_size=512, verbose=0)
    for layer, (momentum, mean, variance) in zip(layers, saved):
        layer.momentum = momentum
        layer.moving_mean.assign(mean)
        layer.moving_variance.assign(variance)
    return float(accuracy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--out")
    args = parser.parse_args()
    full = kcnn.data.load_dataset("fashion_mnist", validation_split=0)
    rng = np.random.default_rng(0)
    keep = np.concatenate(
        [rng.permutation(np.flatnonzero(full.y_train == c))[:600] for c in range(10)]
    )
    half = len(full.x_test) // 2
    data = dataclasses.replace(
        full, x_train=full.x_train[keep], y_train=full.y_train[keep],
        x_val=full.x_test[:half], y_val=full.y_test[:half],
        x_test=full.x_test[:0], y_test=full.y_test[:0],
    )  # fmt: skip
    shuffled = data.x_train[np.random.default_rng(1).permutation(len(data.x_train))]
    results: dict[str, list[float]] = {}
    start = time.perf_counter()
    for seed in range(args.seeds):
        for ema in (None, 0.99, 0.999):
            keras.utils.set_random_seed(seed)
            model = kcnn.build_model("simple_cnn", input_shape=data.input_shape)
            config = kcnn.train.TrainConfig(epochs=6, batch_size=64, learning_rate=3e-3,
                                            seed=seed, ema=ema, verbose=0, top_k=None)  # fmt: skip
            history, _ = kcnn.train.fit(model, data, config, run_dir=None)
            name = "no averaging" if ema is None else f"ema={ema}"
            results.setdefault(name, []).append(history.history["val_accuracy"][-1])
            if ema is not None:
                results.setdefault(f"{name}, BatchNorm re-estimated", []).append(
                    recalibrated_accuracy(model, shuffled, data.x_val, data.y_val)
                )
            print(seed, name, f"{results[name][-1]:.4f}", flush=True)
    lines = [
        f"Backend {keras.backend.backend()}, {args.seeds} seeds, "
        f"{time.perf_counter() - start:.0f} s in all.",
        "",
        "| weights | mean val accuracy | std | min | max |",
        "|---|---|---|---|---|",
    ]
    for name, values in results.items():
        v = np.array(values)
        lines.append(f"| {name} | {v.mean():.4f} | {v.std(ddof=1):.4f} | {v.min():.4f} | "
                     f"{v.max():.4f} |")  # fmt: skip
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
