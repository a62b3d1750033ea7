"""kcnn: a Keras 3 toolkit for convolutional image classifiers.

Runs unchanged on the TensorFlow, JAX and PyTorch backends (set ``KERAS_BACKEND``).

The subpackages load on first use, so that ``kcnn --help`` answers without importing
Keras. Once Keras is imported, kcnn's Keras-serializable layers must be registered for
``keras.saving.load_model`` to find them: importing kcnn after Keras registers them at
once, and so does the first use of any kcnn name (or `load_all`).
"""

import sys

from kcnn._backend import select_backend
from kcnn._lazy import lazy_package
from kcnn._lazy import load_all as _load_all

select_backend()

__version__ = "0.1.0"

_EXPORTS = {
    "build_model": "kcnn.models.registry:build_model",
    "data": "kcnn.data",
    "distribute": "kcnn.distribute",
    "infer": "kcnn.infer",
    "inspect": "kcnn.inspect",
    "list_models": "kcnn.models.registry:list_models",
    "models": "kcnn.models",
    "register_model": "kcnn.models.registry:register_model",
    "train": "kcnn.train",
}
__all__ = ["__version__", "load_all", *sorted(_EXPORTS)]


def load_all() -> None:
    """Import every part of kcnn, which registers its layers, schedules and callbacks with
    Keras (``keras.saving.load_model`` finds them only then). kcnn calls it before it loads
    a saved file; call it yourself before loading a ``.keras`` file with Keras directly in
    a process that imported kcnn before Keras and has used nothing of it."""
    _load_all(__name__)


# The first name used (kcnn.build_model, kcnn.train, ...) loads every part, so that kcnn's
# layers are registered from then on, whatever was imported in which order.
lazy_package(__name__, _EXPORTS, on_first_use=load_all)
if "keras" in sys.modules:
    load_all()
