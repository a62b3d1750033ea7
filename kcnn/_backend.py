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
import re
import sys
import tempfile
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


def device_memory() -> int | None:
    """Bytes of memory on the accelerator Keras' backend uses by default (JAX or PyTorch),
    or None on a CPU or where the backend does not say."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform == "cpu":
                return None
            return int((device.memory_stats() or {}).get("bytes_limit", 0)) or None
        if backend == "torch":
            import torch

            return int(torch.cuda.mem_get_info()[1]) if torch.cuda.is_available() else None
    except (RuntimeError, AttributeError):  # a device that does not report its memory
        return None
    return None


def _configured_backend() -> str | None:
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    try:
        with open(keras_home() / "keras.json") as f:
            return json.load(f).get("backend")
    except (OSError, ValueError):
        return None


def _installed(module: str) -> bool:
    if module in sys.modules and sys.modules[module] is None:
        return False  # imports of this module are blocked
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def select_backend() -> None:
    """Set ``KERAS_BACKEND`` to an installed backend when nothing else chose one.

    ``KERAS_BACKEND`` is never overridden. A ``keras.json`` that names a backend that is not
    installed does not count as a choice: Keras writes one naming TensorFlow the first time
    it is imported, on a machine with JAX or PyTorch alone too."""
    if "keras" in sys.modules or os.environ.get("KERAS_BACKEND"):
        return
    configured = _configured_backend()
    modules = dict(_BACKEND_MODULES)
    if configured and (configured not in modules or _installed(modules[configured])):
        return
    for backend, module in _BACKEND_MODULES:
        if _installed(module):
            os.environ["KERAS_BACKEND"] = backend
            return


#: TensorFlow's C++ start-up lines, which TF_CPP_MIN_LOG_LEVEL does not silence in 2.21.
_TENSORFLOW_NOISE = re.compile(
    r"absl::InitializeLog|oneDNN custom operations are on|cpu_feature_guard|"
    r"rebuild TensorFlow with the appropriate compiler flags"
)


def load_tensorflow_quietly() -> None:
    """Import TensorFlow, if it is installed and not yet imported, with its C++ start-up
    lines held back.

    TensorFlow 2.21 writes absl's "before InitializeLog" warning, oneDNN's notice and the
    CPU-feature notice to the process's standard error as its libraries load, whatever
    ``TF_CPP_MIN_LOG_LEVEL`` says. Keras imports TensorFlow whenever it is installed, on
    every backend (``keras.utils.set_random_seed`` seeds it too), so the ``kcnn`` command
    and the docs' notebook kernels load it here first: file descriptor 2 points at a
    temporary file while it loads, and every other line it wrote is passed on.
    """
    if "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is None:
        return
    sys.stderr.flush()
    with tempfile.TemporaryFile() as held:
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            pass  # whoever needs it says so, with the extra to install
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        held.seek(0)
        for line in held.read().decode(errors="replace").splitlines(keepends=True):
            if not _TENSORFLOW_NOISE.search(line):
                sys.stderr.write(line)
