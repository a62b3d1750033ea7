"""From a `TrainConfig` to a compiled model: optimizer and schedule, loss, metrics, mixed
precision."""

from __future__ import annotations

import keras

from kcnn._backend import has_gpu
from kcnn.train.config import TrainConfig, scaled_learning_rate
from kcnn.train.schedules import make_schedule


def make_optimizer(config: TrainConfig, steps_per_epoch: int = 1) -> keras.optimizers.Optimizer:
    """The optimizer a `TrainConfig` names, with its learning-rate schedule over
    ``config.epochs * steps_per_epoch`` steps (`scaled_learning_rate` at its peak)."""
    updates_per_epoch = max(1, steps_per_epoch // config.grad_accum)
    rate = make_schedule(
        config.schedule,
        scaled_learning_rate(config),
        total_steps=config.epochs * updates_per_epoch,
        warmup_steps=round(config.warmup_epochs * updates_per_epoch),
    )
    # Keras counts iterations per update: with accumulation, an epoch has fewer updates.
    common = {"global_clipnorm": config.clip_norm}
    if config.ema is not None:
        common.update(use_ema=True, ema_momentum=config.ema)
    if config.grad_accum > 1:
        common["gradient_accumulation_steps"] = config.grad_accum
    if config.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(
            rate, momentum=0.9, nesterov=True, weight_decay=config.weight_decay or None, **common
        )
    elif config.optimizer == "adamw":
        optimizer = keras.optimizers.AdamW(rate, weight_decay=config.weight_decay, **common)
    else:
        return keras.optimizers.Adam(rate, **common)
    # timm and the ResNet papers leave biases and BatchNorm's scale and offset undecayed.
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def mixed_policy(setting: bool | str) -> str | None:
    """The dtype policy a ``mixed_precision`` setting means here (None: full precision)."""
    if setting is False:
        return None
    if setting is not True:
        return setting
    return "mixed_float16" if has_gpu() else "mixed_bfloat16"


def make_loss(config: TrainConfig, one_hot: bool) -> keras.losses.Loss:
    """Categorical cross-entropy (with label smoothing) on one-hot labels, else sparse."""
    if one_hot:
        return keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy()


def top_k(config: TrainConfig, num_classes: int) -> int | None:
    """The k of the top-k accuracy a config asks for with ``num_classes`` classes (None:
    none): ``"auto"`` is 5 with more than 5 classes."""
    if config.top_k == "auto":
        return 5 if num_classes > 5 else None
    if config.top_k is not None and config.top_k >= num_classes:
        raise ValueError(
            f"top_k must be below the number of classes ({num_classes}): top-{config.top_k} "
            f"accuracy would always be 1. Received: top_k={config.top_k}"
        )
    return config.top_k


def make_metrics(config: TrainConfig, num_classes: int, one_hot: bool) -> list:
    """``accuracy``, and ``top{k}_accuracy`` when the config asks for it."""
    metrics = ["accuracy"]
    k = top_k(config, num_classes)
    if k is not None:
        kind = keras.metrics.TopKCategoricalAccuracy if one_hot else (
            keras.metrics.SparseTopKCategoricalAccuracy)  # fmt: skip
        metrics.append(kind(k=k, name=f"top{k}_accuracy"))
    return metrics


def compile_model(
    model: keras.Model,
    config: TrainConfig,
    *,
    steps_per_epoch: int,
    one_hot: bool,
    steps_per_execution: int = 1,
) -> keras.losses.Loss:
    """Compile ``model`` as ``config`` says (call inside the strategy's scope, so the
    optimizer's variables are replicated too). Every layer but the input and the
    ``predictions`` layer takes the mixed-precision policy. Returns the loss."""
    policy = mixed_policy(config.mixed_precision)
    if policy is not None:
        for layer in model.layers:
            if layer.name != "predictions" and not isinstance(layer, keras.layers.InputLayer):
                layer.dtype_policy = policy
    optimizer = make_optimizer(config, steps_per_epoch=steps_per_epoch)
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    loss = make_loss(config, one_hot)
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=make_metrics(config, int(model.output_shape[-1]), one_hot),
        steps_per_execution=steps_per_execution,
        jit_compile=config.jit_compile,
    )
    return loss
