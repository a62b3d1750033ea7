"""kcnn: a Keras 3 toolkit for convolutional image classifiers.

Runs unchanged on the TensorFlow, JAX and PyTorch backends (set ``KERAS_BACKEND``).
"""

from kcnn._backend import select_backend

select_backend()

# Importing the subpackages registers kcnn's custom layers with Keras, so that
# `keras.saving.load_model` finds them in any process that has imported kcnn.
from kcnn import data, distribute, inspect, models, train  # noqa: E402
from kcnn.models import build_model, list_models, register_model  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "build_model",
    "data",
    "distribute",
    "inspect",
    "list_models",
    "models",
    "register_model",
    "train",
]
