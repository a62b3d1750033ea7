"""Time to a test accuracy: training wall time until a model reaches ``--target`` on the test set.

For each backend (one subprocess each, since Keras fixes the backend per process), a kcnn
model is trained with `kcnn.train.fit` (no validation split, no run folder) on real
Fashion-MNIST, and the full test set is scored every ``--eval-every`` epochs (every
``round(eval_every * steps_per_epoch)`` training batches). The result is a curve of test
accuracy against training seconds, and the training seconds at the first evaluation that
reaches the target. Training stops there, or after ``--max-epochs``.

The clock, a Keras callback (`AccuracyClock`), counts training wall time only: it starts at
``on_train_begin`` (after the model is built and compiled and the pipeline made) and, at
every evaluation point, waits for the device, stops, scores the test set
(``model.predict`` and argmax, batches of 1024), and starts again, so evaluation time is
reported apart (``eval_seconds``) and never counted. The first batch, which traces and
compiles the train step (JAX, TensorFlow), is counted like any other batch and also
reported on its own as ``compile_seconds``. A batch-level callback makes Keras wait for
every step's logs (no asynchronous dispatch of callbacks): every backend pays this, as it
already does under `kcnn.train.fit`'s own batch-level callbacks. With
``--steps-per-execution n`` the callback sees every n-th batch, so evaluation points fall
on the first multiple of n at or after each one.

``--torch-baseline`` adds a hand-written PyTorch loop ("torch loop"): the model of
``benchmarks/baselines/torch_baseline.py`` (logits, NCHW input), Adam at the same learning
rate and batch size, a fresh permutation per epoch, the same evaluation schedule and clock
(the first step is its ``compile_seconds``: eager PyTorch compiles nothing, so this is the
first step's warm-up). It supports ``--optimizer adam``, ``--schedule constant`` or
``onecycle`` (PyTorch's ``OneCycleLR`` set as kcnn's `OneCycle`), ``--label-smoothing`` and
``--recipe``, without augmentation.

``--recipe fast`` trains with the row of `kcnn.train.fast_recipe` for the training set
instead of the batch size, learning rate, optimizer, schedule, epochs, label smoothing and
augmentation given; ``--recipe none,fast`` runs every trainer both ways in one run, so the
recipe and the plain settings are timed side by side.

Nothing here is CPU-specific: on a GPU, ``benchmarks/gpu_check.sh`` runs it with ResNet-20
to 94%.

    python benchmarks/time_to_accuracy.py --backends tensorflow,jax,torch --torch-baseline

Writes ``<out>/<date>-<machine>-time-to-accuracy.json`` (machine, versions, settings and
every curve) and ``.png`` (the curves), and prints a table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
TORCH_BASELINE = Path(__file__).resolve().parent / "baselines" / "torch_baseline.py"
TORCH_LOOP = "torch loop"
EVAL_BATCH_SIZE = 1024
_TAG = "TIME-TO-ACCURACY "

#: flag: (type, default, help). The settings every child process receives.
SETTINGS = {
    "dataset": (str, "fashion_mnist", "data set name or path (kcnn.data.load_dataset)"),
    "model": (str, "simple_cnn", "kcnn model name (kcnn.build_model)"),
    "target": (float, 0.91, "test accuracy to reach"),
    "batch_size": (int, 128, "images per training step"),
    "lr": (float, 1e-3, "learning rate (peak, for a schedule)"),
    "optimizer": (str, "adam", "adam, adamw or sgd"),
    "schedule": (str, "constant", "learning-rate schedule over --max-epochs"),
    "augment": (str, "none", "augmentation policy, 'none' for none"),
    "max_epochs": (int, 10, "stop after this many epochs if the target is not reached"),
    "max_seconds": (
        float,
        0.0,
        "stop at the first evaluation after this many training seconds (0: no limit)",
    ),
    "eval_every": (float, 0.5, "score the test set every this many epochs"),
    "train_images": (int, 0, "subsample the training set to this many images (0: all)"),
    "test_images": (int, 0, "subsample the test set to this many images (0: all)"),
    "seed": (int, 0, "seed of the weights, batch order, augmentation and subsamples"),
    "steps_per_execution": (
        lambda text: text if text == "auto" else int(text),
        "auto",
        "training steps per call of the train function; auto: kcnn's choice per backend",
    ),
    "jit_compile": (str, "auto", "XLA compilation of the train step: auto, true or false"),
    "data_path": (str, "device", "where batches are made: device or tf.data"),
    "label_smoothing": (float, 0.0, "label smoothing of kcnn's loss"),
    "recipe": (
        str,
        "none",
        "'fast': kcnn's row (epochs, batch size, lr, optimizer, schedule, label smoothing, "
        "augmentation) from kcnn.train.fast_recipe for the training set replaces those "
        "settings (the torch loop keeps them); 'none,fast' runs each backend with both",
    ),
}


# -- measuring, inside one backend's process ---------------------------------------------------
class _Clock:
    """Training seconds, paused while the test set is scored; the curve of test accuracy.

    Args:
        evaluate: returns the test accuracy of the model as it is now.
        synchronize: waits for the device to finish the steps dispatched so far.
        steps_per_epoch: training batches per epoch.
        every: training batches between evaluations.
        target: the test accuracy to reach.
        name: print every point to stderr under this name. Defaults to None (silent).
        max_seconds: stop at the first evaluation after this many training seconds; 0 for
            no limit. Defaults to 0.
    """

    def __init__(
        self, evaluate, synchronize, steps_per_epoch: int, every: int, target: float, name=None,
        max_seconds: float = 0.0,
    ):  # fmt: skip
        self.evaluate, self.synchronize, self.name = evaluate, synchronize, name
        self.max_seconds = max_seconds
        self.steps_per_epoch, self.every, self.target = steps_per_epoch, every, target
        self.curve: list[dict] = []
        self.compile_seconds = None
        self.time_to_target = self.epochs_to_target = None
        self._seconds = 0.0
        self._resumed = None
        self._next = every
        self._last_step = 0

    def start(self) -> None:
        self._resumed = time.perf_counter()

    def step_end(self, step: int) -> bool:
        """After training batch ``step`` (1-based, counted from the start): evaluate when an
        evaluation point is due. Returns True when the target is reached or the time is up
        (stop training)."""
        self._last_step = step
        if self.compile_seconds is None:
            self.synchronize()
            self.compile_seconds = time.perf_counter() - self._resumed
        if step < self._next:
            return False
        while self._next <= step:
            self._next += self.every
        return self._record(step)

    def finish(self) -> None:
        """At the end of training: score the last steps if no evaluation followed them."""
        if self._last_step and (not self.curve or self.curve[-1]["step"] < self._last_step):
            self._record(self._last_step)

    @property
    def seconds(self) -> float:
        return self._seconds

    def _record(self, step: int) -> bool:
        self.synchronize()
        self._seconds += time.perf_counter() - self._resumed
        begin = time.perf_counter()
        accuracy = float(self.evaluate())
        point = {
            "step": step,
            "epoch": round(step / self.steps_per_epoch, 4),
            "seconds": self._seconds,
            "test_accuracy": accuracy,
            "eval_seconds": time.perf_counter() - begin,
        }
        self.curve.append(point)
        if self.name:
            print(
                f"{self.name}: epoch {point['epoch']:.2f}, {point['seconds']:.1f} s, "
                f"test accuracy {accuracy:.4f}",
                file=sys.stderr,
                flush=True,
            )
        reached = accuracy >= self.target and self.time_to_target is None
        if reached:
            self.time_to_target, self.epochs_to_target = point["seconds"], point["epoch"]
        self._resumed = time.perf_counter()
        return reached or 0 < self.max_seconds <= self._seconds

    def result(self, backend: str, settings: dict) -> dict:
        return {
            "backend": backend,
            "settings": settings,
            "time_to_target": self.time_to_target,
            "epochs_to_target": self.epochs_to_target,
            "compile_seconds": self.compile_seconds,
            "train_seconds": self._seconds,
            "eval_seconds": sum(p["eval_seconds"] for p in self.curve),
            "final_test_accuracy": self.curve[-1]["test_accuracy"] if self.curve else None,
            "best_test_accuracy": max((p["test_accuracy"] for p in self.curve), default=None),
            "steps": self._last_step,
            "steps_per_epoch": self.steps_per_epoch,
            "eval_every_steps": self.every,
            "curve": self.curve,
        }


def _make_accuracy_clock():
    import keras

    class AccuracyClock(keras.callbacks.Callback):
        """Times training, scores the test set every ``every`` batches with the clock
        stopped, and stops training when the test accuracy reaches ``target``.

        Only `_Clock`'s bookkeeping runs at other batches: ``self.model`` is touched only at
        evaluation points, since on JAX reading it moves the training state back into the
        model's variables."""

        def __init__(
            self, x_test, y_test, every: int, target: float, steps_per_epoch=None, name=None,
            max_seconds: float = 0.0,
        ):  # fmt: skip
            super().__init__()
            self.name, self.max_seconds = name, max_seconds
            self.x_test, self.y_test = x_test, np.asarray(y_test)
            self.every, self.target = every, target
            self.steps_per_epoch = steps_per_epoch
            self.clock = None
            self._epoch = 0

        def on_train_begin(self, logs=None):
            steps = self.steps_per_epoch or (self.params or {}).get("steps")
            if not steps:
                raise ValueError("AccuracyClock needs the number of steps per epoch.")
            self.steps_per_epoch = int(steps)
            self.clock = _Clock(
                self._evaluate,
                self._synchronize,
                self.steps_per_epoch,
                self.every,
                self.target,
                self.name,
                self.max_seconds,
            )
            self._epoch = 0
            self.clock.start()

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.clock.step_end(self._epoch * self.steps_per_epoch + batch + 1):
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            self.clock.finish()

        def _synchronize(self):
            # The last weight written by the last step: reading it waits for that step
            # (and, on JAX, `self.model` first moves the training state into the model).
            keras.ops.convert_to_numpy(self.model.trainable_variables[-1].value)

        def _evaluate(self) -> float:
            with _torch_rng_kept():
                probabilities = self.model.predict(
                    self.x_test, batch_size=EVAL_BATCH_SIZE, verbose=0
                )
            return float(np.mean(np.argmax(probabilities, axis=-1) == self.y_test))

    return AccuracyClock


@contextlib.contextmanager
def _torch_rng_kept():
    """On the PyTorch backend, put torch's global random state back after the block.

    Keras' PyTorch dropout without a seed draws its masks from torch's global generator,
    and ``model.predict`` takes a number from it (its ``DataLoader`` draws a base seed), so
    scoring the test set would change the masks of every later step: the curve would not be
    that of the run without evaluations. Keeping the state makes it so (on JAX and
    TensorFlow, evaluating draws nothing training uses).
    """
    import keras

    if keras.backend.backend() != "torch":
        yield
        return
    import torch

    cpu = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def _subsample(x, y, n: int, seed: int):
    if not n or n >= len(x):
        return x, y
    index = np.sort(np.random.default_rng(seed).permutation(len(x))[:n])
    return x[index], y[index]


def load_data(settings: dict):
    """The data set of ``settings``, with its training and test sets subsampled as asked."""
    import dataclasses

    import kcnn

    data = kcnn.data.load_dataset(settings["dataset"], validation_split=0, seed=settings["seed"])
    x_train, y_train = _subsample(
        data.x_train, data.y_train, settings["train_images"], settings["seed"]
    )
    x_test, y_test = _subsample(
        data.x_test, data.y_test, settings["test_images"], settings["seed"] + 1
    )
    return dataclasses.replace(data, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def _num_classes(data) -> int:
    return len(data.class_names) or int(data.y_train.max()) + 1


def _eval_every_steps(settings: dict, steps_per_epoch: int) -> int:
    return max(1, round(settings["eval_every"] * steps_per_epoch))


def measure_keras(settings: dict, verbose: bool = False, prepare=None) -> dict:
    """Train ``settings["model"]`` with `kcnn.train.fit` on this process's Keras backend and
    return its time to the target and its curve (see the module docstring); ``verbose``
    prints every evaluation to stderr; ``prepare(model)``, when given, changes the built
    model (e.g. its initial weights) before training."""
    import keras

    import kcnn

    data = load_data(settings)
    settings = with_recipe(settings, len(data.x_train))
    steps_per_epoch = math.ceil(len(data.x_train) / settings["batch_size"])
    config = kcnn.train.TrainConfig(
        epochs=settings["max_epochs"],
        batch_size=settings["batch_size"],
        learning_rate=settings["lr"],
        optimizer=settings["optimizer"],
        schedule=settings["schedule"],
        augment=None if settings["augment"] == "none" else settings["augment"],
        seed=settings["seed"],
        steps_per_execution=settings["steps_per_execution"],
        jit_compile=_jit(settings["jit_compile"]),
        data_path=settings["data_path"],
        label_smoothing=settings["label_smoothing"],
        checkpoint=False,
        verbose=0,
    )
    keras.utils.set_random_seed(settings["seed"])
    model = kcnn.build_model(
        settings["model"], input_shape=data.input_shape, num_classes=_num_classes(data)
    )
    if prepare is not None:
        prepare(model)
    clock = _make_accuracy_clock()(
        data.x_test,
        data.y_test,
        every=_eval_every_steps(settings, steps_per_epoch),
        target=settings["target"],
        name=keras.backend.backend() if verbose else None,
        max_seconds=settings.get("max_seconds", 0.0),
    )
    kcnn.train.fit(model, data, config, run_dir=None, callbacks=[clock])
    result = clock.clock.result(keras.backend.backend(), settings)
    result.update(device=_device_name(), train_images=len(data.x_train))
    result["test_images"] = len(data.x_test)
    return result


def with_recipe(settings: dict, num_train: int) -> dict:
    """``settings`` with those of ``settings["recipe"]`` for ``num_train`` training images
    (``"fast"``: `kcnn.train.fast_recipe`'s row; ``"none"``: unchanged)."""
    if settings["recipe"] == "none":
        return settings
    from kcnn.train.recipe import recipe_settings

    row = recipe_settings(settings["recipe"], num_train)
    renamed = {"learning_rate": "lr", "epochs": "max_epochs"}
    changed = {renamed.get(k, k): v for k, v in row.items()}
    changed["augment"] = changed["augment"] or "none"
    if isinstance(changed["augment"], list):
        changed["augment"] = ",".join(changed["augment"])
    return {**settings, **changed}


def _jit(value):
    value = str(value).lower()
    return {"true": True, "false": False}.get(value, value)


def _load_torch_baseline():
    import importlib.util

    if not TORCH_BASELINE.is_file():
        raise FileNotFoundError(f"--torch-baseline needs {TORCH_BASELINE}.")
    spec = importlib.util.spec_from_file_location("kcnn_bench_torch_baseline", TORCH_BASELINE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure_torch_loop(
    settings: dict, build=None, verbose: bool = False, adam_epsilon: float = 1e-8, loss_fn=None
) -> dict:
    """Train the hand-written PyTorch model in an eager loop with the same data, learning
    rate, batch size, evaluation schedule and clock as `measure_keras`.

    Args:
        settings: the settings (see `SETTINGS`).
        build: ``build(name, input_shape, num_classes) -> nn.Module`` returning logits from
            NCHW float32 images. Defaults to ``torch_baseline.build``.
        verbose: print every evaluation to stderr. Defaults to False.
        adam_epsilon: Adam's epsilon. Defaults to 1e-8 (PyTorch's).
        loss_fn: ``loss_fn(logits, labels)``. Defaults to `torch.nn.CrossEntropyLoss`.
    """
    import torch
    from torch import nn

    unsupported = {
        k: settings[k]
        for k, allowed in (("optimizer", ("adam",)), ("schedule", ("constant", "onecycle")),
                           ("augment", ("none", "flip_crop")))
        if settings[k] not in allowed
    }  # fmt: skip
    if unsupported:
        raise ValueError(
            "The torch loop trains with optimizer='adam', schedule='constant' or 'onecycle', "
            f"augment='none' or 'flip_crop'. Received: {unsupported}"
        )
    build = build or _load_torch_baseline().build
    data = load_data(settings)
    settings = with_recipe(settings, len(data.x_train))
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(settings["seed"])
    generator = torch.Generator(device=device).manual_seed(settings["seed"])
    model = build(settings["model"], data.input_shape, _num_classes(data)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"], eps=adam_epsilon)
    loss_fn = loss_fn or nn.CrossEntropyLoss(label_smoothing=settings["label_smoothing"])

    def tensor(images):  # NHWC NumPy -> NCHW on the device, once
        return torch.from_numpy(np.ascontiguousarray(images, np.float32)).permute(0, 3, 1, 2)

    x, y = tensor(data.x_train).to(device), torch.from_numpy(data.y_train.astype(np.int64))
    y = y.to(device)
    x_test, y_test = tensor(data.x_test).to(device), torch.from_numpy(data.y_test.astype(np.int64))
    y_test = y_test.to(device)

    def synchronize():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def evaluate() -> float:
        model.eval()
        correct = 0
        with torch.no_grad():
            for start in range(0, len(x_test), EVAL_BATCH_SIZE):
                logits = model(x_test[start : start + EVAL_BATCH_SIZE])
                correct += int((logits.argmax(-1) == y_test[start : start + EVAL_BATCH_SIZE]).sum())
        model.train()
        return correct / len(x_test)

    n, batch_size = len(x), settings["batch_size"]
    padding = max(1, round(min(data.input_shape[:2]) / 8))  # kcnn's default_padding
    steps_per_epoch = math.ceil(n / batch_size)
    scheduler = None
    if settings["schedule"] == "onecycle":
        scheduler = torch_one_cycle(
            optimizer, settings["lr"], settings["max_epochs"] * steps_per_epoch
        )
    clock = _Clock(
        evaluate,
        synchronize,
        steps_per_epoch,
        _eval_every_steps(settings, steps_per_epoch),
        settings["target"],
        TORCH_LOOP if verbose else None,
        settings.get("max_seconds", 0.0),
    )
    model.train()
    clock.start()
    step, stop = 0, False
    for _ in range(settings["max_epochs"]):
        permutation = torch.randperm(n, device=device, generator=generator)
        for start in range(0, n, batch_size):
            index = permutation[start : start + batch_size]
            images = x[index]
            if settings["augment"] == "flip_crop":
                images = torch_flip_crop(images, padding, generator)
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(images), y[index]).backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            step += 1
            if clock.step_end(step):
                stop = True
                break
        if stop:
            break
    clock.finish()
    result = clock.result(TORCH_LOOP, settings)
    result.update(device=_device_name("torch"), train_images=n, test_images=len(x_test))
    return result


def torch_flip_crop(images, padding: int, generator):
    """kcnn's ``flip_crop`` by hand, on a batch of NCHW tensors: each image mirrored left to
    right with probability 1/2, then shifted by whole pixels, up to ``padding`` each way,
    the uncovered border zero (`kcnn.data.RandomPadCrop`)."""
    import torch

    n, _, height, width = images.shape
    device = images.device
    flip = torch.rand(n, device=device, generator=generator) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(3), images)
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    shifts = torch.randint(0, 2 * padding + 1, (2, n), device=device, generator=generator)
    rows = shifts[0, :, None] + torch.arange(height, device=device)  # (n, height)
    cols = shifts[1, :, None] + torch.arange(width, device=device)  # (n, width)
    batch = torch.arange(n, device=device)[:, None, None, None]
    channel = torch.arange(images.shape[1], device=device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def torch_one_cycle(optimizer, max_learning_rate: float, total_steps: int):
    """kcnn's `OneCycle` rates for a PyTorch optimizer, step for step, computed once by
    kcnn's own schedule (PyTorch's ``OneCycleLR`` peaks one step earlier). The optimizer's
    ``lr`` must be the peak."""
    import keras
    import torch

    from kcnn.train import OneCycle

    rates = OneCycle(max_learning_rate, total_steps)(np.arange(total_steps))
    factors = (keras.ops.convert_to_numpy(rates) / max_learning_rate).tolist()
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: factors[min(step, total_steps - 1)]
    )


def _device_name(backend: str | None = None) -> str:
    """``"cpu"``, or the name of the GPU the backend computes on."""
    if backend is None:
        import keras

        backend = keras.backend.backend()
    try:
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return torch.cuda.get_device_name(0)
        elif backend == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform != "cpu":
                return device.device_kind
        elif backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return details.get("device_name", "GPU")
    except Exception:  # a name only labels the result; never fail a run over it
        pass
    return "cpu"


# -- the parent: one child per backend, the report, the table and the plot ----------------------
def plot_curves(report: dict, path: str | os.PathLike | None = None):
    """Test accuracy against training seconds, one line per backend, with the target.

    Args:
        report: what `main` returns (``settings`` and ``results``, each with a ``curve``).
        path: where to write the PNG. Defaults to None (no file).

    Returns:
        The matplotlib `Figure` (written to ``path`` when one is given).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    settings = report["settings"]
    target = settings["target"]
    fig = Figure(figsize=(8, 5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    for name, result in report["results"].items():
        curve = result.get("curve") or []
        if not curve:
            continue
        reached = result.get("time_to_target")
        label = f"{name}: " + (
            f"{reached:.1f} s, at epoch {result['epochs_to_target']:.1f}"
            if reached is not None
            else f"not reached ({result['final_test_accuracy']:.3f})"
        )
        (line,) = ax.plot(
            [p["seconds"] for p in curve],
            [p["test_accuracy"] for p in curve],
            "-o",
            markersize=4,
            label=label,
        )
        if reached is not None:
            ax.axvline(reached, color=line.get_color(), linestyle=":", linewidth=1.2)
    ax.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"target {target:g}")
    ax.set_xlabel("training seconds (evaluation excluded)")
    ax.set_ylabel("test accuracy")
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="best")
    device = _report_device(report)
    ax.set_title(
        f"{settings['model']} on {settings['dataset']}: time to {target:g} test accuracy"
        f"\nbatch {settings['batch_size']}, {settings['optimizer']} lr {settings['lr']:g}, "
        f"augment {settings['augment']}"
        + (f", {settings['train_images']} training images" if settings["train_images"] else "")
        + f", {device}"
        + _recipe_title(report),
        fontsize=10,
    )
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.png")
        fig.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    return fig


def _recipe_title(report: dict) -> str:
    """A third title line with the settings of the recipe rows, if the run has any."""
    for result in report["results"].values():
        own = result.get("settings") or {}
        if own.get("recipe", "none") != "none":
            return (
                f"\n{own['recipe']} recipe rows: batch {own['batch_size']}, {own['optimizer']} "
                f"lr {own['lr']:g} {own['schedule']} over {own['max_epochs']} epochs, label "
                f"smoothing {own['label_smoothing']:g}"
            )
    return ""


def _report_device(report: dict) -> str:
    devices = {r.get("device") for r in report["results"].values() if r.get("device")}
    gpus = sorted(d for d in devices if d != "cpu")
    if gpus:
        return ", ".join(gpus)
    return f"{report.get('machine', {}).get('cpus', '?')}-core CPU"


def format_table(report: dict) -> str:
    """One line per backend: time to target, epochs, compile time, final accuracy."""
    target = report["settings"]["target"]
    width = max([12, *(len(name) + 2 for name in report["results"])])
    lines = [
        f"{'backend':{width}}{f'to {target:g} (s)':>14}{'epochs':>8}{'compile (s)':>13}"
        f"{'train (s)':>11}{'final acc':>11}"
    ]
    for name, r in report["results"].items():
        if "error" in r:
            lines.append(f"{name:{width}}  failed: {r['error']}")
            continue
        reached = r["time_to_target"] is not None
        lines.append(
            f"{name:{width}}"
            + (f"{r['time_to_target']:14.1f}{r['epochs_to_target']:8.2f}" if reached else
               f"{'not reached':>14}{'-':>8}")
            + f"{r['compile_seconds']:13.2f}{r['train_seconds']:11.1f}"
            f"{r['final_test_accuracy']:11.4f}"
        )  # fmt: skip
    return "\n".join(lines)


def _machine_label(report: dict) -> str:
    gpus = sorted({r.get("device") for r in report["results"].values()} - {None, "cpu"})
    if gpus:
        return re.sub(r"[^a-z0-9]+", "-", gpus[0].lower()).strip("-")
    return f"{platform.machine()}-{os.cpu_count()}cpu"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch",
                        help="Keras backends, comma-separated")  # fmt: skip
    for name, (kind, default, text) in SETTINGS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default,
                            help=f"{text} (default {default})")  # fmt: skip
    parser.add_argument("--torch-baseline", action="store_true",
                        help="also run the hand-written PyTorch loop")  # fmt: skip
    parser.add_argument("--out", default=str(RESULTS), help="folder for the JSON and PNG")
    parser.add_argument("--child", choices=("keras", "torch-loop"), help=argparse.SUPPRESS)
    return parser


def settings_from(args: argparse.Namespace) -> dict:
    """The measurement settings of parsed arguments, checked."""
    settings = {name: getattr(args, name) for name in SETTINGS}
    for name in ("batch_size", "max_epochs", "steps_per_execution"):
        if settings[name] != "auto" and settings[name] < 1:
            raise ValueError(f"{name} must be >= 1. Received: {name}={settings[name]}")
    for name in ("train_images", "test_images", "seed"):
        if settings[name] < 0:
            raise ValueError(f"{name} must be >= 0. Received: {name}={settings[name]}")
    if settings["max_seconds"] < 0:
        raise ValueError(
            f"max_seconds must be >= 0. Received: max_seconds={settings['max_seconds']}"
        )
    if not settings["eval_every"] > 0:
        raise ValueError(f"eval_every must be > 0. Received: eval_every={settings['eval_every']}")
    recipes = settings["recipe"].split(",")
    if not recipes or any(r not in ("none", "fast") for r in recipes):
        raise ValueError(
            f"recipe must be none, fast or none,fast. Received: recipe={settings['recipe']!r}"
        )
    if not 0 <= settings["target"] <= 1:
        raise ValueError(f"target must be in [0, 1]. Received: target={settings['target']}")
    return settings


def _child_argv(settings: dict) -> list[str]:
    argv = []
    for name, value in settings.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv


def _run_child(kind: str, backend: str, settings: dict) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, *_child_argv(settings)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        check=False,
    )  # fmt: skip; stderr passes through, so progress and errors show as they happen
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(_TAG):
            return json.loads(line[len(_TAG) :])
    return {"backend": backend, "error": f"exit status {done.returncode} (see stderr above)"}


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    settings = settings_from(args)
    if args.child:
        measure = measure_keras if args.child == "keras" else measure_torch_loop
        print(_TAG + json.dumps(measure(settings, verbose=True)), flush=True)
        return {}

    runs = []
    for recipe in settings["recipe"].split(","):
        child = {**settings, "recipe": recipe}
        suffix = "" if recipe == "none" else f", {recipe} recipe"
        for backend in filter(None, args.backends.split(",")):
            runs.append((backend + suffix, "keras", backend, child))
        if args.torch_baseline:
            runs.append((TORCH_LOOP + suffix, "torch-loop", "torch", child))
    results = {}
    for name, kind, backend, child in runs:
        print(f"{name}: training {settings['model']} to {settings['target']:g}...", flush=True)
        results[name] = _run_child(kind, backend, child)

    from kcnn.bench import machine_info

    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "settings": settings,
        "results": results,
    }
    print(format_table(report))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{report['date']}-{_machine_label(report)}-time-to-accuracy"
    (out / f"{stem}.json").write_text(json.dumps(report, indent=2))
    if any(r.get("curve") for r in results.values()):
        plot_curves(report, out / f"{stem}.png")
    print(f"wrote {out / stem}.json and .png")
    return report


if __name__ == "__main__":
    main()
