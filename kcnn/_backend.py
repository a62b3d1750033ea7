"""Pick a Keras backend that is installed, before Keras is first imported.

Keras falls back to TensorFlow when neither ``KERAS_BACKEND`` nor ``~/.keras/keras.json``
names a backend. A user who installed only ``kcnn[jax]`` or ``kcnn[torch]`` would then get an
ImportError for TensorFlow on ``import kcnn``. In that one case, kcnn chooses the first
installed backend of TensorFlow, JAX and PyTorch. An explicit choice is never overridden.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

_BACKEND_MODULES = (("tensorflow", "tensorflow"), ("jax", "jax"), ("torch", "torch"))


def keras_home() -> Path:
    """Keras' folder: ``$KERAS_HOME``, else ``~/.keras`` (its ``keras.json``, its caches
    ``datasets/`` and ``models/``)."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def has_gpu() -> bool:
    """Whether Keras' backend in this process sees a GPU (imports Keras and the backend)."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.default_backend() in ("gpu", "cuda", "rocm")
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    return False


def _configured_backend() -> str | None:
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    try:
        with open(keras_home() / "keras.json") as f:
            return json.load(f).get("backend")
    except (OSError, ValueError):
        return None


def select_backend() -> None:
    """Set ``KERAS_BACKEND`` to an installed backend when nothing else chose one."""
    if "keras" in sys.modules or _configured_backend():
        return
    for backend, module in _BACKEND_MODULES:
        if module in sys.modules and sys.modules[module] is None:
            continue  # imports of this module are blocked
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            os.environ["KERAS_BACKEND"] = backend
            return
