"""Learning-rate schedules and the learning-rate finder.

`make_schedule` turns a schedule name into a Keras ``LearningRateSchedule``, reusing Keras'
own schedules where they exist (``CosineDecay`` with its linear warmup,
``PiecewiseConstantDecay``) and adding `OneCycle`, which Keras lacks. `find_lr` is the
learning-rate range test.
"""

from __future__ import annotations

import math
import os

import keras
import numpy as np

from kcnn.data.pipeline import make_pipeline
from kcnn.plots import plot_lr_range
from kcnn.train.config import SCHEDULES


@keras.saving.register_keras_serializable(package="kcnn")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """The one-cycle policy: a cosine rise from ``max_learning_rate / div_factor`` to
    ``max_learning_rate`` over the first ``pct_start`` of the steps, then a cosine fall to
    ``max_learning_rate / (div_factor * final_div_factor)`` (fastai's ``fit_one_cycle``,
    PyTorch's ``OneCycleLR``; the momentum is not cycled).

    Args:
        max_learning_rate: the peak rate.
        total_steps: the number of optimizer steps of the whole run.
        pct_start: the fraction of the steps spent rising. Defaults to 0.25.
        div_factor: the start rate is ``max_learning_rate / div_factor``. Defaults to 25.
        final_div_factor: the end rate is the start rate divided by this. Defaults to 1e4.

    Example:
        ```python
        schedule = kcnn.train.OneCycle(0.01, total_steps=10 * len(train))
        optimizer = keras.optimizers.SGD(schedule, momentum=0.9)
        ```

    References:
        Smith and Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large
        Learning Rates", 2017. https://arxiv.org/abs/1708.07120
    """

    def __init__(
        self,
        max_learning_rate: float,
        total_steps: int,
        pct_start: float = 0.25,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
    ):
        if not max_learning_rate > 0:
            raise ValueError(f"max_learning_rate must be > 0. Received: {max_learning_rate!r}")
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be an integer >= 1. Received: {total_steps!r}")
        if not 0 < pct_start < 1:
            raise ValueError(f"pct_start must be in (0, 1). Received: pct_start={pct_start!r}")
        self.max_learning_rate = float(max_learning_rate)
        self.total_steps = total_steps
        self.pct_start = float(pct_start)
        self.div_factor = float(div_factor)
        self.final_div_factor = float(final_div_factor)

    def __call__(self, step):
        ops = keras.ops
        step = ops.cast(step, "float32")
        rise = max(1, round(self.total_steps * self.pct_start))
        fall = max(1, self.total_steps - rise)
        start = self.max_learning_rate / self.div_factor
        end = start / self.final_div_factor

        def cosine(a, b, t):  # from a at t=0 to b at t=1
            return b + (a - b) * (1.0 + ops.cos(math.pi * ops.clip(t, 0.0, 1.0))) / 2.0

        return ops.where(
            step < rise,
            cosine(start, self.max_learning_rate, step / rise),
            cosine(self.max_learning_rate, end, (step - rise) / fall),
        )

    def get_config(self) -> dict:
        return {
            "max_learning_rate": self.max_learning_rate,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
        }


def make_schedule(
    name: str,
    learning_rate: float,
    total_steps: int,
    warmup_steps: int = 0,
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate (or schedule) a name stands for.

    Args:
        name: ``"constant"``; ``"cosine"`` (cosine decay to 0, Loshchilov and Hutter 2016);
            ``"onecycle"`` (`OneCycle`, with its own warmup); ``"step"`` (divide by 10 at 50%
            and again at 75% of the steps, as in the ResNet paper's CIFAR runs).
        learning_rate: the base (peak) rate.
        total_steps: optimizer steps in the whole run.
        warmup_steps: a linear rise from 0 to ``learning_rate`` first, for ``"constant"`` and
            ``"cosine"``. Defaults to 0.

    Returns:
        A float for a constant rate without warmup, else a ``LearningRateSchedule``.

    Raises:
        ValueError: an unknown name, or warmup with a schedule that does not take it.
    """
    if name not in SCHEDULES:
        raise ValueError(f"schedule must be one of {list(SCHEDULES)}. Received: schedule={name!r}")
    if warmup_steps and name in ("onecycle", "step"):
        raise ValueError(
            f"warmup is for the 'constant' and 'cosine' schedules; {name!r} "
            f"{'has its own rise' if name == 'onecycle' else 'has none'}. "
            f"Received: warmup_steps={warmup_steps}"
        )
    if name == "onecycle":
        return OneCycle(learning_rate, total_steps)
    if name == "step":
        boundaries = [max(1, total_steps // 2), max(2, total_steps * 3 // 4)]
        values = [learning_rate, learning_rate / 10, learning_rate / 100]
        return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
    if name == "constant" and not warmup_steps:
        return learning_rate
    # Keras' CosineDecay rises linearly from initial_learning_rate to warmup_target, then
    # decays to alpha * warmup_target: alpha=1 holds the rate constant after the warmup.
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else learning_rate,
        decay_steps=max(1, total_steps - warmup_steps),
        alpha=1.0 if name == "constant" else 0.0,
        warmup_target=learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


def find_lr(
    model: keras.Model,
    x: np.ndarray | keras.utils.PyDataset,
    y: np.ndarray | None = None,
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 200,
    batch_size: int = 64,
    optimizer: keras.optimizers.Optimizer | None = None,
    loss: str | keras.losses.Loss = "sparse_categorical_crossentropy",
    path: str | os.PathLike | None = None,
    seed: int = 0,
) -> dict:
    """The learning-rate range test: sweep the rate exponentially over a few hundred steps,
    record the loss, restore the weights, and suggest a rate.

    The suggestion is fastai's "valley": the steepest descent of the smoothed loss within the
    longest stretch where it falls, taken before the loss explodes (more than 4x its minimum).

    Args:
        model: a built `keras.Model`. Its weights are the same afterwards as before; it is
            left compiled with the sweep's optimizer, so compile it again (`fit` does).
        x: training images, or a `kcnn.data.InputPipeline` / ``keras.utils.PyDataset``
            yielding ``(images, labels)`` batches.
        y: integer labels when ``x`` is an array. Defaults to None.
        start_lr: the first rate. Defaults to 1e-7.
        end_lr: the last rate. Defaults to 10.
        num_steps: optimizer steps of the sweep. Defaults to 200.
        batch_size: images per step when ``x`` is an array. Defaults to 64.
        optimizer: the optimizer to sweep; its rate is overwritten each step. Defaults to
            SGD with Nesterov momentum 0.9.
        loss: the loss. Defaults to sparse categorical cross-entropy.
        path: where to write the loss-versus-rate plot. Defaults to None (no plot).
        seed: seed of the batch order. Defaults to 0.

    Returns:
        A dict with ``learning_rates``, ``losses`` (smoothed), ``suggestion`` and ``path``.

    Example:
        ```python
        result = kcnn.train.find_lr(model, data.x_train, data.y_train, path="lr.png")
        config = kcnn.train.TrainConfig(learning_rate=result["suggestion"])
        ```

    References:
        Smith, "Cyclical Learning Rates for Training Neural Networks", 2015.
        https://arxiv.org/abs/1506.01186
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(
            f"Need 0 < start_lr < end_lr. Received: start_lr={start_lr}, end_lr={end_lr}"
        )
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 10:
        raise ValueError(f"num_steps must be an integer >= 10. Received: num_steps={num_steps!r}")
    if not isinstance(x, keras.utils.PyDataset):
        from kcnn.train.fit import check_data  # fit imports this module

        check_data(model, x, y)  # out-of-range labels give a loss of 0 on JAX
    batches = _batches(x, y, batch_size, seed)
    rates = np.geomspace(start_lr, end_lr, num_steps)
    optimizer = optimizer or keras.optimizers.SGD(start_lr, momentum=0.9, nesterov=True)
    saved = [np.array(v) for v in model.variables]
    model.compile(optimizer=optimizer, loss=loss)
    losses, smooth, best = [], 0.0, math.inf
    try:
        for i, rate in enumerate(rates):
            optimizer.learning_rate = float(rate)
            images, labels = next(batches)
            value = float(np.asarray(model.train_on_batch(images, labels)).reshape(-1)[0])
            smooth = 0.98 * smooth + 0.02 * value
            debiased = smooth / (1 - 0.98 ** (i + 1))
            losses.append(debiased)
            best = min(best, debiased)
            if not math.isfinite(debiased) or debiased > 4 * best and i > 10:
                break
    finally:
        for variable, value in zip(model.variables, saved):
            variable.assign(value)
    rates = rates[: len(losses)]
    suggestion = _valley(rates, np.asarray(losses))
    result = {
        "learning_rates": rates.tolist(),
        "losses": losses,
        "suggestion": suggestion,
        "path": None,
    }
    if path is not None:
        plot_lr_range(rates, losses, suggestion, path)
        result["path"] = os.fspath(path)
    return result


def _batches(x, y, batch_size: int, seed: int):
    """An endless iterator of training batches from arrays (through `make_pipeline`, which
    checks them and shuffles by seed and epoch) or from a PyDataset."""
    if not isinstance(x, keras.utils.PyDataset):
        x = make_pipeline(
            x, y, batch_size, seed=seed, path="device",
            drop_remainder=len(x) >= batch_size,  # full batches, unless there is only one
        )  # fmt: skip
    while True:
        yield from (x[i] for i in range(len(x)))
        x.on_epoch_end()


def _valley(rates: np.ndarray, losses: np.ndarray) -> float:
    """fastai's valley: halfway along the longest decreasing run of the loss."""
    finite = np.isfinite(losses)
    rates, losses = rates[finite], losses[finite]
    if len(losses) < 3:
        return float(rates[0]) if len(rates) else float("nan")
    n = len(losses)
    longest = np.ones(n, dtype=int)
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and longest[i] < longest[j] + 1:
                longest[i] = longest[j] + 1
            if longest[max_end] < longest[i]:
                max_end = i
                max_start = max_end - longest[max_end]
    sections = (max_end - max_start) / 3
    return float(rates[max_start + int(sections) + int(sections / 2)])
