"""Why kcnn needed more epochs than the hand-written PyTorch loop: one difference at a time.

The time-to-accuracy benchmark trains the same architecture (SimpleCNN, Fashion-MNIST, Adam
1e-3, batch 128, no augmentation) in kcnn and in a hand-written PyTorch loop. Their layers,
widths, BatchNorm momentum and epsilon and batch order match; what still differs is what
each framework does by default:

- **initial weights**: Keras draws kernels from Glorot uniform (bound ``sqrt(6 / (fan_in +
  fan_out))``) and zero biases; PyTorch draws kernels and biases from
  ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (``kaiming_uniform_(a=sqrt(5))``);
- **Adam's epsilon**: 1e-7 in Keras, 1e-8 in PyTorch;
- **the loss**: kcnn's models end in a softmax, and Keras takes the cross-entropy of the
  clipped probabilities (on JAX and PyTorch; TensorFlow recovers the logits), where the loop
  takes it of the logits.

This script switches each of them, alone, in the PyTorch loop (the fastest trainer here, so
the one where seeds are cheapest), then checks the one that matters in kcnn itself: kcnn's
builders as they are (PyTorch's initialisation since the study), Keras' Glorot weights put
back, and fan-in kernels with zero biases. Each row is trained to ``--target`` or
``--max-epochs`` with ``--seeds`` seeds; the table gives the epochs to the target and the
test accuracy after 1, 2 and 4 epochs, mean over seeds (the epochs to 91% move by a whole
epoch between seeds, since the curve is flat there; the accuracies at fixed epochs less).

    KERAS_BACKEND=tensorflow python benchmarks/epochs_study.py --seeds 0,1 \
        --variants loop,loop-glorot,loop-epsilon,loop-softmax
    KERAS_BACKEND=tensorflow python benchmarks/epochs_study.py --seeds 0,1,2,3 \
        --variants kcnn-glorot,kcnn,kcnn-fan-in --max-epochs 6

Writes ``<out>/<date>-<machine>-epochs-study.md`` and prints it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import time_to_accuracy as tta  # noqa: E402

#: Keras' default Adam epsilon.
KERAS_ADAM_EPSILON = 1e-7


# -- the PyTorch loop with one Keras default switched on ----------------------------------------
def _glorot_torch(model) -> None:
    """Keras' initialisation for a torch model: Glorot-uniform kernels, zero biases."""
    import torch
    from torch import nn

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    module.bias.zero_()


def _probability_loss(logits, labels):
    """Keras' cross-entropy of a softmax output: clip the probabilities, then -log."""
    import torch

    probabilities = torch.softmax(logits, dim=-1).clamp(1e-7, 1 - 1e-7)
    return -torch.log(probabilities.gather(1, labels[:, None])).mean()


def _torch_build(glorot: bool):
    base = tta._load_torch_baseline().build

    def build(name, input_shape, num_classes):
        model = base(name, input_shape, num_classes)
        if glorot:
            _glorot_torch(model)
        return model

    return build


# -- kcnn with another initialisation ------------------------------------------------------------
def glorot_init(model) -> None:
    """Keras' default initialisation for a model's Conv2D and Dense layers: Glorot-uniform
    kernels, zero biases (drawn from Keras' global seed, which `measure_keras` sets)."""
    import keras

    glorot = keras.initializers.GlorotUniform()
    for layer in model.layers:
        if type(layer).__name__ in ("Conv2D", "Dense"):
            layer.kernel.assign(glorot(layer.kernel.shape))
            if layer.bias is not None:
                layer.bias.assign(np.zeros(layer.bias.shape, "float32"))


def torch_init(model, seed: int, biases: bool = True, layers: tuple = ("Conv2D", "Dense")):
    """PyTorch's default initialisation for a Keras model's Conv2D and Dense layers:
    kernels (and, with ``biases``, biases; else zeros) from ``U(-1/sqrt(fan_in),
    1/sqrt(fan_in))``; ``layers`` names the layer classes to change."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if type(layer).__name__ not in layers:
            continue
        kernel = layer.kernel
        bound = 1 / math.sqrt(int(np.prod(kernel.shape[:-1])))
        kernel.assign(rng.uniform(-bound, bound, kernel.shape).astype("float32"))
        if layer.bias is not None:
            bias = (
                rng.uniform(-bound, bound, layer.bias.shape)
                if biases
                else np.zeros(layer.bias.shape)
            )
            layer.bias.assign(bias.astype("float32"))


#: key: (trainer, what it changes, its row's label). "loop" rows run the PyTorch loop,
#: "kcnn" rows `kcnn.train.fit`.
VARIANTS = {
    "loop": ("loop", {}, "PyTorch loop, PyTorch's defaults"),
    "loop-glorot": ("loop", {"glorot": True}, "PyTorch loop, Keras' Glorot init"),
    "loop-epsilon": ("loop", {"adam_epsilon": KERAS_ADAM_EPSILON},
                     "PyTorch loop, Keras' Adam epsilon 1e-7"),
    "loop-softmax": ("loop", {"probability_loss": True},
                     "PyTorch loop, Keras' loss of the clipped softmax"),
    "kcnn-glorot": ("kcnn", {"glorot": True}, "kcnn, Keras' Glorot init (kcnn's earlier default)"),
    "kcnn": ("kcnn", None, "kcnn's builders as they are"),
    "kcnn-torch-init": ("kcnn", {}, "kcnn, PyTorch's init"),
    "kcnn-torch-init-dense": ("kcnn", {"layers": ("Dense",)},
                              "kcnn, PyTorch's init in the Dense layers only"),
    "kcnn-fan-in": ("kcnn", {"biases": False}, "kcnn, fan-in uniform kernels, zero biases"),
    "kcnn-fan-in-dense": ("kcnn", {"biases": False, "layers": ("Dense",)},
                          "kcnn, fan-in uniform kernels in the Dense layers only"),
}  # fmt: skip


def run_variant(name: str, settings: dict) -> dict:
    trainer, change, _ = VARIANTS[name]
    if trainer == "loop":
        return tta.measure_torch_loop(
            settings,
            build=_torch_build(change.get("glorot", False)),
            adam_epsilon=change.get("adam_epsilon", 1e-8),
            loss_fn=_probability_loss if change.get("probability_loss") else None,
        )
    prepare = None
    if change is not None and change.get("glorot"):
        prepare = glorot_init
    elif change is not None:
        prepare = lambda model: torch_init(model, settings["seed"], **change)  # noqa: E731
    return tta.measure_keras(settings, prepare=prepare)


def _accuracy_at(curve: list, epoch: float) -> float:
    """The test accuracy at the evaluation point nearest ``epoch`` (within 0.1 epoch)."""
    near = [p for p in curve if abs(p["epoch"] - epoch) <= 0.1]
    if not near:
        return float("nan")
    return min(near, key=lambda p: abs(p["epoch"] - epoch))["test_accuracy"]


def summarize(rows: dict, max_epochs: int) -> list[dict]:
    """Per variant: epochs to the target (``max_epochs + 0.5`` when not reached, marked),
    accuracy at epochs 1 and 2, means over seeds."""
    table = []
    for name, results in rows.items():
        epochs = [r["epochs_to_target"] for r in results]
        table.append({
            "variant": VARIANTS[name][2],
            "epochs": [e if e is not None else None for e in epochs],
            "mean_epochs": float(np.mean([max_epochs + 0.5 if e is None else e for e in epochs])),
            "missed": sum(e is None for e in epochs),
            "acc1": float(np.mean([_accuracy_at(r["curve"], 1.0) for r in results])),
            "acc2": float(np.mean([_accuracy_at(r["curve"], 2.0) for r in results])),
            "acc4": float(np.mean([_accuracy_at(r["curve"], 4.0) for r in results])),
            "seconds_per_epoch": float(np.mean(
                [r["train_seconds"] / (r["steps"] / r["steps_per_epoch"]) for r in results]
            )),
        })  # fmt: skip
    return table


def format_markdown(table: list, settings: dict, seeds: list, machine: dict, seconds: float) -> str:
    import keras

    lines = [
        f"Epochs to {settings['target']:g} test accuracy, {settings['model']} on "
        f"{settings['dataset']}, batch {settings['batch_size']}, Adam {settings['lr']:g}, "
        f"no augmentation; seeds {', '.join(map(str, seeds))}; test set scored every "
        f"{settings['eval_every']:g} epoch; kcnn rows on the {keras.backend.backend()} backend. "
        f"{machine.get('cpu', platform.processor())}, {os.cpu_count()} CPUs; {seconds:.0f} s "
        "in all.",
        "",
        "| variant | epochs to target, per seed | mean | test accuracy after 1 epoch | "
        "after 2 | after 4 | s / epoch |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in table:
        per_seed = ", ".join("-" if e is None else f"{e:g}" for e in row["epochs"])
        lines.append(
            f"| {row['variant']} | {per_seed} | {row['mean_epochs']:.2f}"
            + ("*" if row["missed"] else "")
            + f" | {row['acc1']:.4f} | {row['acc2']:.4f} | {row['acc4']:.4f} | "
            f"{row['seconds_per_epoch']:.1f} |"
        )
    lines += [
        "",
        f"\\* a seed that missed the target within {settings['max_epochs']} epochs counts as "
        f"{settings['max_epochs'] + 0.5:g}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1", help="comma-separated seeds (default 0,1)")
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help=f"comma-separated: {', '.join(VARIANTS)} (default: all)")  # fmt: skip
    parser.add_argument("--target", type=float, default=0.91)
    parser.add_argument("--max-epochs", type=int, default=8)
    parser.add_argument("--train-images", type=int, default=0, help="0: all")
    parser.add_argument("--test-images", type=int, default=0, help="0: all")
    parser.add_argument("--out", default=str(tta.RESULTS))
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"Unknown variants: {unknown}; expected some of {list(VARIANTS)}")
    base = {name: default for name, (_, default, _) in tta.SETTINGS.items()}
    base.update(target=args.target, max_epochs=args.max_epochs,
                train_images=args.train_images, test_images=args.test_images)  # fmt: skip
    begin = time.perf_counter()
    rows = {}
    for name in names:
        rows[name] = []
        for seed in seeds:
            result = run_variant(name, {**base, "seed": seed})
            rows[name].append(result)
            print(f"{VARIANTS[name][2]}, seed {seed}: epochs to target "
                  f"{result['epochs_to_target']}, final {result['final_test_accuracy']:.4f}",
                  flush=True)  # fmt: skip

    from kcnn.bench import machine_info

    machine = machine_info()
    text = format_markdown(
        summarize(rows, args.max_epochs), base, seeds, machine, time.perf_counter() - begin
    )
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = (
        out
        / f"{time.strftime('%Y-%m-%d')}-{platform.machine()}-{os.cpu_count()}cpu-epochs-study.md"
    )
    path.write_text(text)
    curves = {VARIANTS[n][2]: [r["curve"] for r in results] for n, results in rows.items()}
    path.with_suffix(".json").write_text(json.dumps({"seeds": seeds, "curves": curves}))
    print(f"wrote {path} and .json")
    return text


if __name__ == "__main__":
    main()
