"""Augmentation inside the compiled train step.

On the device path an `InputPipeline` augments each batch with eager ops, one call per
layer per batch. On an accelerator that costs more than the step itself for small models.
`augment_in_step` puts the augmentation layers in front of the model instead, as Keras
suggests for on-device augmentation: the training model is ``model(augment(images))``.
It is compiled with the model's optimizer, loss and metrics, so the augmentation is traced
and compiled with the step (XLA on JAX). At inference the augmentation layers pass images
through, so evaluating the training model gives the model's own results. The model's
weights are the training model's: training one trains the other.

Exact resume still holds: the pipeline restarts the augmentation's generators from
(seed, epoch) at the start of each epoch (`InputPipeline.set_epoch`), and each step draws
from them in turn, so a batch's augmentation is a function of seed, epoch and index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras

if TYPE_CHECKING:
    from kcnn.data.pipeline import InputPipeline

#: The backends whose train step takes the augmentation (compiled by XLA on JAX, run as
#: one step on PyTorch). On TensorFlow the pipeline augments each batch, as before: its
#: ``tf.data`` path runs the layers as a graph, and Keras' geometric layers are not
#: XLA-compatible there.
BACKENDS = ("jax", "torch")


def augment_in_step(model: keras.Model, pipeline: InputPipeline) -> keras.Model:
    """The training model for ``pipeline``'s batches: ``model`` with the pipeline's
    augmentation in front, compiled as ``model`` is.

    Args:
        model: a compiled `keras.Model`.
        pipeline: an `InputPipeline` made with ``augment_on="step"``.

    Returns:
        A functional `keras.Model` named like ``model``, sharing its weights and optimizer;
        `trained_model` gives ``model`` back from it.

    Raises:
        ValueError: ``model`` is not compiled, or the pipeline augments its batches itself.

    Example:
        ```python
        train = kcnn.data.make_pipeline(x, y, 128, "flip_crop", augment_on="step")
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        trainer = kcnn.train.augment_in_step(model, train)
        trainer.fit(train, epochs=10, shuffle=False)  # trains model's weights
        ```
    """
    if getattr(pipeline, "augment_on", None) != "step" or pipeline.augment is None:
        raise ValueError(
            "augment_in_step needs a pipeline made with an augmentation and "
            f"augment_on='step'. Received: {pipeline!r}"
        )
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
        raise ValueError(f"augment_in_step needs a compiled model. Received: {model.name!r}")
    if keras.backend.backend() == "jax":
        # Keras marks its geometric layers (translation, rotation, shear, zoom) as not
        # XLA-compatible for TensorFlow's sake, which would turn off JAX's compiled step
        # for the whole model; their JAX ops are compiled by XLA like any other.
        for layer in pipeline.augment._flatten_layers():
            layer.supports_jit = True
    images = keras.Input(shape=model.input_shape[1:], name="images")
    trainer = keras.Model(images, model(pipeline.augment(images)), name=model.name)
    trainer.trains = model
    pipeline.set_epoch(pipeline.epoch)  # the generators exist now: start them from the seed
    trainer.compile(
        optimizer=model.optimizer,
        loss=model.loss,
        metrics=[_fresh(metric) for metric in _compiled_metrics(model)],
        steps_per_execution=model.steps_per_execution,
        jit_compile=model.jit_compile,
    )
    return trainer


def trained_model(model: keras.Model) -> keras.Model:
    """The model a training model from `augment_in_step` trains, else ``model`` itself:
    what a checkpoint saves."""
    return getattr(model, "trains", model)


def _compiled_metrics(model: keras.Model) -> list:
    """The metrics ``model.compile`` was given."""
    compiled = getattr(model, "_compile_config", None)  # what Keras' compile() keeps
    return list((compiled.config.get("metrics") if compiled else None) or [])


def _fresh(metric):
    """A metric as compile was given it: names stay, metric objects are copied, so the two
    models do not share running totals."""
    if isinstance(metric, keras.metrics.Metric):
        return metric.__class__.from_config(metric.get_config())
    return metric
