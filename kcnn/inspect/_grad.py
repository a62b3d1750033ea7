"""The gradient of a scalar function of one tensor, on whichever backend Keras runs.

Keras 3 has no backend-neutral ``grad``; each backend differentiates its own way
(``tf.GradientTape``, ``jax.value_and_grad``, ``torch.autograd.grad``). The inspection tools
(Grad-CAM, the measured receptive field) only need this one operation, so it lives here, once.
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
