"""kcnn: a Keras 3 toolkit for convolutional image classifiers.

Runs unchanged on the TensorFlow, JAX and PyTorch backends (set ``KERAS_BACKEND``).

The subpackages (``kcnn.models``, ``kcnn.data``, ``kcnn.train``, ``kcnn.inspect``) and the
re-exported functions load on first use, so that ``import kcnn`` and ``kcnn --help`` do not
pay for importing Keras and its backend.
"""

import importlib

from kcnn._backend import select_backend

select_backend()

__version__ = "0.1.0"

_SUBPACKAGES = ("data", "inspect", "models", "train")
_EXPORTS = {
    "build_model": "kcnn.models",
    "list_models": "kcnn.models",
    "register_model": "kcnn.models",
}

__all__ = ["__version__", *_SUBPACKAGES, *_EXPORTS]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"kcnn.{name}")
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kcnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
