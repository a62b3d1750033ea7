"""What a run was trained with: library versions, the device, the source checkout.

`fit` writes `environment()` into ``config.json`` under ``"environment"``, so that a result
can be reproduced from its folder; a resumed run compares it with its own (`differences`)
and warns when the versions differ, since a different Keras or backend may change the
numbers.
"""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

#: The entries of `environment` that `differences` compares (the device and the checkout
#: may change on purpose: resuming on another machine is allowed).
VERSIONS = ("python", "kcnn", "keras", "backend", "backend_version", "numpy")

_BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _backend_version(backend: str) -> str | None:
    if backend == "tensorflow":
        return next(
            (v for v in map(_version, ("tensorflow", "tensorflow-cpu")) if v is not None), None
        )
    return _version(_BACKEND_PACKAGES.get(backend, backend))


def device() -> str:
    """The accelerator's name where the backend sees one (``"NVIDIA H100 80GB HBM3"``),
    else the CPU's model."""
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            first = jax.devices()[0]
            if first.platform != "cpu":
                return f"{first.device_kind} x{jax.device_count()}"
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
        elif backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                name = tf.config.experimental.get_device_details(gpus[0]).get("device_name")
                return f"{name or 'GPU'} x{len(gpus)}"
    except Exception:  # a device query must never stop training
        pass
    return f"CPU: {_cpu_model()}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def git_commit() -> dict | None:
    """The commit of the kcnn checkout this code runs from (None when installed from a
    wheel or git is missing), and whether it has uncommitted changes."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=10)  # fmt: skip
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "-uno"],
                                capture_output=True, text=True, timeout=10)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if commit.returncode != 0:
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}


def environment() -> dict:
    """Python, kcnn, Keras, backend and NumPy versions, the device, and the git commit."""
    import keras

    import kcnn

    backend = keras.backend.backend()
    return {
        "python": platform.python_version(),
        "kcnn": kcnn.__version__,
        "keras": keras.__version__,
        "backend": backend,
        "backend_version": _backend_version(backend),
        "numpy": _version("numpy"),
        "device": device(),
        "platform": platform.platform(),
        "git": git_commit(),
    }


def differences(stored: dict | None, current: dict) -> list[str]:
    """The `VERSIONS` that differ between a run's stored environment and this one, as
    ``"keras 3.15.1 -> 3.16.0"``; none when the run recorded no environment."""
    if not stored:
        return []
    return [
        f"{key} {stored.get(key)} -> {current.get(key)}"
        for key in VERSIONS
        if stored.get(key) != current.get(key)
    ]
