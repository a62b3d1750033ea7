"""Phase two of transfer learning: unfreeze the top of the backbone and train on, slowly."""

from __future__ import annotations

import dataclasses
import os

import keras

from kcnn.data.datasets import Dataset
from kcnn.models.transfer import backbone_of, leaf_layers
from kcnn.train.fit import TrainConfig, fit


def unfreeze_backbone(
    model: keras.Model, layers: int | str = "all", train_bn: bool = False
) -> list[str]:
    """Make the top ``layers`` of a transfer model's backbone trainable; BatchNorm stays frozen.

    The backbone stays called with ``training=False`` (see `kcnn.models.build_transfer`), so
    its BatchNorm layers normalise with their pretrained statistics whatever is trainable.
    Their scale and offset stay frozen too unless ``train_bn=True``.

    Args:
        model: a model built by `kcnn.models.build_transfer` (one nested backbone).
        layers: how many of the backbone's weighted layers to unfreeze, counted from the
            top (BatchNorm layers are not counted), or ``"all"``. Defaults to ``"all"``.
        train_bn: also train BatchNorm's gamma and beta (fastai's ``train_bn``). Defaults
            to False.

    Returns:
        The names of the backbone layers that are now trainable.

    Raises:
        ValueError: ``layers`` is not a positive integer or ``"all"``, or the model has no
            single nested backbone.
    """
    if layers != "all" and (isinstance(layers, bool) or not isinstance(layers, int) or layers < 1):
        raise ValueError(
            f"unfreeze must be a positive number of layers or 'all'. Received: unfreeze={layers!r}"
        )
    backbone = backbone_of(model)
    weighted = [layer for layer in leaf_layers(backbone) if layer.weights]
    backbone.trainable = True
    for layer in weighted:
        layer.trainable = False
    convolutional = [layer for layer in weighted if not _is_bn(layer)]
    chosen = convolutional if layers == "all" else convolutional[-layers:]
    for layer in chosen:
        layer.trainable = True
    if train_bn:
        for layer in weighted:
            if _is_bn(layer):
                layer.trainable = True
    return [layer.name for layer in weighted if layer.trainable]


def fine_tune(
    model: keras.Model,
    data: Dataset,
    unfreeze: int | str = "all",
    lr: float = 1e-5,
    epochs: int = 5,
    config: TrainConfig | None = None,
    run_dir: str | os.PathLike | None = "runs",
    callbacks: list | None = None,
    train_bn: bool = False,
    run_info: dict | None = None,
) -> tuple[keras.callbacks.History, object]:
    """Fine-tune a transfer model after its head has been trained (phase two).

    Unfreezes the top of the backbone (see `unfreeze_backbone`) and trains the whole model with a
    low learning rate, so that the pretrained features adapt a little without being
    destroyed by large updates. BatchNorm stays in inference mode, keeping its pretrained
    statistics.

    Args:
        model: a model built by `kcnn.models.build_transfer`, head already trained.
        data: the `Dataset` to train on.
        unfreeze: backbone layers to unfreeze from the top, or ``"all"``. Defaults to
            ``"all"``.
        lr: the learning rate; 10-100x below phase one's. Defaults to 1e-5.
        epochs: epochs of fine-tuning. Defaults to 5.
        config: other training settings (batch size, optimizer, augmentation...); its
            ``learning_rate`` and ``epochs`` are replaced by ``lr`` and ``epochs``.
            Defaults to ``TrainConfig()``.
        run_dir: where the run folder goes, as in `kcnn.train.fit`. Defaults to ``"runs"``.
        callbacks: extra Keras callbacks. Defaults to None.
        train_bn: also train BatchNorm's gamma and beta. Defaults to False.
        run_info: extra entries for the run's ``config.json``, as in `kcnn.train.fit`.
            Defaults to None.

    Returns:
        ``(history, run_path)`` as `kcnn.train.fit` returns them.

    Example:
        ```python
        model = kcnn.build_model("transfer", backbone="mobilenet_v2", input_shape=(96, 96, 3))
        kcnn.train.fit(model, data, kcnn.train.TrainConfig(epochs=5, learning_rate=1e-3))
        kcnn.train.fine_tune(model, data, unfreeze=20, lr=1e-5, epochs=3)
        ```

    References:
        Keras guide "Transfer learning & fine-tuning" (Chollet, 2020); Howard, Ruder.
        Universal language model fine-tuning for text classification. ACL 2018 (gradual
        unfreezing).
    """
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"lr must be a positive number. Received: lr={lr!r}")
    config = config or TrainConfig()
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig. Received: {type(config).__name__}")
    config = dataclasses.replace(config, learning_rate=float(lr), epochs=epochs)
    unfreeze_backbone(model, unfreeze, train_bn=train_bn)
    return fit(model, data, config, run_dir=run_dir, callbacks=callbacks, run_info=run_info)


def _is_bn(layer) -> bool:
    return isinstance(layer, keras.layers.BatchNormalization)
