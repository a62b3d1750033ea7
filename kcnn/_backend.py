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

_BACKEND_MODULES = (("tensorflow", "tensorflow"), ("jax", "jax"), ("torch", "torch"))


def _configured_backend() -> str | None:
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(base, "keras.json")) as f:
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
