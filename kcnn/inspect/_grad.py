"""The gradient of a scalar, with respect to a tensor or to a model's weights, on any backend.

Keras 3 has no backend-neutral ``grad``; each backend differentiates its own way
(``tf.GradientTape``, ``jax.value_and_grad``, ``torch.autograd.grad``). The inspection tools
(Grad-CAM, the measured receptive field) need the gradient with respect to an input, and the
training step written out by hand (`kcnn.inspect.backprop`) the gradient with respect to a
model's weights; both live here, once.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np


def value_and_gradient(fn: Callable, x) -> tuple[float, np.ndarray]:
    """``fn(x)`` and its gradient with respect to ``x``, as NumPy.

    Args:
        fn: maps a backend tensor shaped like ``x`` to a scalar tensor (use ``keras.ops``
            and Keras layers/models inside it, called with ``training=False``).
        x: a NumPy array or backend tensor (converted to float32).

    Returns:
        ``(value, gradient)``: the scalar as a float and ``d fn / d x`` shaped like ``x``.
    """
    backend = keras.backend.backend()
    x = np.asarray(keras.ops.convert_to_numpy(x), dtype="float32")
    if backend == "tensorflow":
        import tensorflow as tf

        tensor = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            value = fn(tensor)
        grad = tape.gradient(value, tensor)
        grad = tf.zeros_like(tensor) if grad is None else grad
    elif backend == "jax":
        import jax

        value, grad = jax.value_and_grad(fn)(jax.numpy.asarray(x))
    elif backend == "torch":
        import torch

        tensor = keras.ops.convert_to_tensor(x).detach().requires_grad_(True)
        value = fn(tensor)
        (grad,) = torch.autograd.grad(value, tensor, allow_unused=True)
        grad = torch.zeros_like(tensor) if grad is None else grad
    else:  # pragma: no cover - numpy/openvino backends have no autodiff
        raise RuntimeError(
            f"Gradients need the tensorflow, jax or torch backend. Received: backend={backend!r}"
        )
    value = float(np.asarray(keras.ops.convert_to_numpy(value)))
    return value, np.asarray(keras.ops.convert_to_numpy(grad), dtype="float32")


def value_and_weight_gradients(
    model: keras.Model, fn: Callable, x: np.ndarray, training: bool = False
) -> tuple[float, list[np.ndarray]]:
    """``fn(model(x))`` and its gradient with respect to each of ``model.trainable_weights``.

    Args:
        model: a built Keras model; none of its variables changes (it runs through
            ``stateless_call``, so BatchNorm's moving statistics stay as they are even
            with ``training=True``).
        fn: maps the model's output tensor to a scalar tensor (use ``keras.ops`` inside it).
        x: the model's input batch (a NumPy array or backend tensor, converted to float32).
        training: the mode the model is called in. Defaults to False.

    Returns:
        ``(value, gradients)``: the scalar as a float and one NumPy array per trainable weight,
        in the order of ``model.trainable_weights`` (zeros for a weight ``fn`` does not use).
    """
    backend = keras.backend.backend()
    x = np.asarray(keras.ops.convert_to_numpy(x), dtype="float32")
    weights = model.trainable_weights
    frozen = [v.value for v in model.non_trainable_weights]

    def loss(trainable):
        outputs, _ = model.stateless_call(trainable, frozen, x, training=training)
        return fn(outputs)

    if backend == "tensorflow":
        import tensorflow as tf

        values = [tf.convert_to_tensor(v.value) for v in weights]
        with tf.GradientTape() as tape:
            tape.watch(values)
            value = loss(values)
        grads = tape.gradient(value, values)
    elif backend == "jax":
        import jax

        value, grads = jax.value_and_grad(loss)([v.value for v in weights])
    elif backend == "torch":
        import torch

        values = [v.value.detach().clone().requires_grad_(True) for v in weights]
        value = loss(values)
        grads = torch.autograd.grad(value, values, allow_unused=True)
    else:  # pragma: no cover - numpy/openvino backends have no autodiff
        raise RuntimeError(
            f"Gradients need the tensorflow, jax or torch backend. Received: backend={backend!r}"
        )
    value = float(np.asarray(keras.ops.convert_to_numpy(value)))
    return value, [
        np.zeros(v.shape, "float32")
        if g is None
        else np.asarray(keras.ops.convert_to_numpy(g), dtype="float32")
        for v, g in zip(weights, grads)
    ]
