"""Parameter counts of a model (what a run's ``metrics.json`` and ``kcnn models`` report)."""

from __future__ import annotations

import math

import keras

from kcnn._validate import check_type


def count_params(model: keras.Model) -> dict[str, int]:
    """Count a model's trainable, non-trainable and total parameters.

    BatchNormalization's moving mean and variance are non-trainable (PyTorch keeps them as
    buffers, not parameters), so ``trainable`` is what torchvision and the papers report.

    Args:
        model: a built `keras.Model`.

    Returns:
        ``{"trainable": ..., "non_trainable": ..., "total": ...}``.

    Example:
        ```python
        kcnn.inspect.count_params(kcnn.build_model("lenet5"))["trainable"]  # 61706
        ```
    """
    check_type("model", model, keras.Model, "a keras.Model")
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    non_trainable = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    return {
        "trainable": int(trainable),
        "non_trainable": int(non_trainable),
        "total": int(trainable + non_trainable),
    }
