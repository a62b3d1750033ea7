"""kcnn: a Keras 3 toolkit for convolutional image classifiers.

Runs unchanged on the TensorFlow, JAX and PyTorch backends (set ``KERAS_BACKEND``).
"""

from kcnn._backend import select_backend

select_backend()

from kcnn import data, inspect, models, train  # noqa: E402
from kcnn.models import build_model, list_models, register_model  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "build_model",
    "data",
    "inspect",
    "list_models",
    "models",
    "register_model",
    "train",
]
