"""Shared fixtures. The suite runs once per backend: KERAS_BACKEND=tensorflow|jax|torch."""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

# JAX's default counter-based random bits ("partitionable" threefry) make each new weight
# shape compile a larger program: on a CPU, building ResNet-20 takes 7 s instead of 2 s,
# and the suite builds hundreds of models. The other layout draws other, equally random
# numbers; no test depends on which. Set before Keras imports JAX (subprocesses inherit it).
os.environ.setdefault("JAX_THREEFRY_PARTITIONABLE", "0")

import keras  # noqa: E402
import numpy as np
import pytest

BACKENDS = ("tensorflow", "jax", "torch")
REPO = Path(__file__).resolve().parents[1]


def load_benchmark(path: str, name: str | None = None):
    """Import ``benchmarks/<path>`` (a script, not a package) as a module named ``name``
    (defaults to ``kcnn_bench_<file stem>``)."""
    file = REPO / "benchmarks" / path
    spec = importlib.util.spec_from_file_location(name or f"kcnn_bench_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pytest_report_header(config):
    rotation = (
        "every slow check runs here (KCNN_ROTATE=0)"
        if not _rotating()
        else "slow checks (marked rotate or learning) take turns over the backends"
    )
    return f"keras {keras.__version__}, backend {keras.backend.backend()}; {rotation}"


def _rotating() -> bool:
    return os.environ.get("KCNN_ROTATE", "1") != "0"


def rotation_owner(item, day: int | None = None) -> str | None:
    """The backend whose suite runs a slow check today, or None for an ordinary test.

    The suite runs once per backend. A test marked ``rotate`` (multi-process runs, other
    backends in subprocesses, benchmarks) or ``learning`` (trains on real data) runs in one
    of the three runs, chosen by a hash of its name plus the day, so every day each such
    check runs once and over three days it has run on every backend. ``rotate(backends=...)``
    names the backends it can run on; a test parametrized by ``other_backend`` belongs to
    the pair of backends it involves. ``KCNN_ROTATE=0`` runs every check on every backend.
    """
    marker = item.get_closest_marker("rotate")
    if marker is None and item.get_closest_marker("learning") is None:
        return None
    backends = tuple(marker.kwargs.get("backends", BACKENDS)) if marker else BACKENDS
    key = f"{item.path.name}::{item.originalname}"
    params = dict(getattr(getattr(item, "callspec", None), "params", {}))
    if "other_backend" in params:
        pair = {keras.backend.backend(), params.pop("other_backend")}
        backends = tuple(b for b in BACKENDS if b in pair and b in backends)
        key += "|" + ",".join(sorted(pair))
    key += "|" + repr(sorted((k, str(v)) for k, v in params.items()))
    day = datetime.date.today().toordinal() if day is None else day
    return backends[(zlib.crc32(key.encode()) + day) % len(backends)] if backends else None


def pytest_collection_modifyitems(config, items):
    """Leave out the slow checks that another backend's run takes today."""
    if not _rotating():
        return
    here = keras.backend.backend()
    kept, left = [], []
    for item in items:
        owner = rotation_owner(item)
        (left if owner is not None and owner != here else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


def pytest_generate_tests(metafunc):
    """``other_backend``: each backend but the one this run uses."""
    if "other_backend" in metafunc.fixturenames:
        others = [b for b in BACKENDS if b != keras.backend.backend()]
        metafunc.parametrize("other_backend", others)


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts from the same seed and an empty Keras name scope.

    ``free_memory=False``: the full garbage collection Keras would add costs 0.3-1 s per
    test once TensorFlow or PyTorch is imported, minutes per suite; Python's own collector
    still runs as usual."""
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    yield


@pytest.fixture(scope="session")
def backend() -> str:
    return keras.backend.backend()


#: Python source that hides TensorFlow as if it were not installed: every import finder
#: answers "not found" for it, so `importlib.util.find_spec("tensorflow")` is None and
#: `import tensorflow` raises ModuleNotFoundError.
BLOCK_TENSORFLOW = """
import sys
class _HideTensorFlow:
    def __init__(self, finder):
        self.finder = finder
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            return None
        find = getattr(self.finder, "find_spec", None)
        return find(name, path, target) if find else None
    def __getattr__(self, attribute):
        return getattr(self.finder, attribute)
sys.meta_path[:] = [_HideTensorFlow(f) for f in sys.meta_path]
"""


def run_python(code: str, backend: str, timeout: float = 300, env: dict | None = None):
    """Run Python code in a fresh process with another Keras backend; return its JSON output.

    The code must print one JSON document as its last line of stdout.
    """
    environment = {**os.environ, "KERAS_BACKEND": backend, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
        cwd=REPO,
    )
    if done.returncode != 0:
        raise AssertionError(f"subprocess on {backend} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def fashion_mnist():
    """Real Fashion-MNIST from the machine's files. CI installs them, so there it must load."""
    import kcnn

    try:
        return kcnn.data.load_dataset("fashion_mnist", validation_split=0)
    except FileNotFoundError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Fashion-MNIST files are not on this machine: {error}")


def images(shape, n=2, seed=0):
    """A small random batch of images of one image shape."""
    return np.random.default_rng(seed).uniform(0, 1, (n, *shape)).astype("float32")
