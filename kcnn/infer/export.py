"""Export a trained model for deployment with Keras' own ``model.export``, and check the
export against ``predict``.

`export` writes the artifact to a temporary sibling of ``path``, loads it there with its
runtime (onnxruntime for ONNX, TensorFlow for a SavedModel, OpenVINO, LiteRT), runs it at
batch sizes 4 and 1 (the batch size must be dynamic) and compares the outputs with
``model.predict``; then it renames the artifact into place and writes the check beside it
as ``PATH.check.json``. A model that computes in mixed precision is exported as a float32
copy.

What each backend can export (Keras 3.15; `EXPORTERS`, `UNSUPPORTED` says why not):

| format | tensorflow | jax | torch |
|---|---|---|---|
| ``onnx`` | tf2onnx | jax2onnx | ``torch.onnx`` (TorchScript) |
| ``tf_saved_model`` | ``tf.saved_model`` | jax2tf (needs TensorFlow) | no (torch_xla) |
| ``openvino`` | ``openvino.convert_model`` | no (``XlaCallModule``) | ``torch.jit.trace`` |
| ``litert`` | ``tf.lite.TFLiteConverter`` | no | no (batch fixed at 1) |

``pip install "kcnn[export]"`` installs the ONNX converters and onnxruntime. OpenVINO
(``pip install openvino``, about 180 MB) and the LiteRT runtime (``pip install
ai-edge-litert``; TensorFlow's own ``tf.lite.Interpreter`` is used without it) are used
where installed.

Example:
    ```python
    check = kcnn.infer.export(classifier, "model.onnx", format="onnx")
    check.passed, check.max_abs_diff     # (True, 3e-08)
    ```
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kcnn import _io
from kcnn._validate import check_choice, check_number
from kcnn.infer._jax2onnx import fix_max_pools
from kcnn.infer._runtimes import installed, runner

if TYPE_CHECKING:
    import keras

    from kcnn.infer.classifier import Classifier

FORMATS = ("onnx", "tf_saved_model", "openvino", "litert")

#: backend -> format -> (how Keras 3.15 exports it, the modules that exporting needs).
EXPORTERS = {
    "tensorflow": {
        "onnx": ("tf2onnx", ("tf2onnx", "onnx")),
        "tf_saved_model": ("tf.saved_model", ()),
        "openvino": ("openvino.convert_model of a tf.function", ("openvino",)),
        "litert": ("tf.lite.TFLiteConverter", ()),
    },
    "jax": {
        "onnx": ("jax2onnx", ("jax2onnx", "onnx")),
        "tf_saved_model": ("jax2tf, then tf.saved_model", ("tensorflow",)),
    },
    "torch": {
        "onnx": ("torch.onnx.export, TorchScript exporter", ("onnx",)),
        "openvino": ("torch.jit.trace, then openvino.convert_model", ("openvino",)),
    },
}

#: Why kcnn refuses the other combinations.
UNSUPPORTED = {
    ("jax", "openvino"): "OpenVINO cannot convert the XlaCallModule op that jax2tf writes",
    ("jax", "litert"): "Keras exports LiteRT from TensorFlow and PyTorch only",
    ("torch", "tf_saved_model"): "Keras needs torch_xla for it and fixes the batch size",
    ("torch", "litert"): "Keras' litert-torch route fixes the batch size at 1",
}

#: format -> the modules that can run it, in order of preference.
RUNTIMES = {
    "onnx": ("onnxruntime",),
    "tf_saved_model": ("tensorflow",),
    "openvino": ("openvino",),
    "litert": ("ai_edge_litert", "tensorflow"),
}

_INSTALL = {
    "onnx": 'pip install "kcnn[export]"',
    "onnxruntime": 'pip install "kcnn[export]"',
    "tf2onnx": 'pip install "kcnn[export]"',
    "jax2onnx": 'pip install "kcnn[export]"',
    "tensorflow": 'pip install "kcnn[tensorflow-cpu]"',
    "openvino": "pip install openvino",
    "ai_edge_litert": "pip install ai-edge-litert",
}

#: Largest ``|export - predict|`` accepted by default, times the largest ``|predict|`` when
#: that is over 1 (logits). Measured on CPU (tests, benchmarks of ResNet-20, VGG-11,
#: LeNet-5 on the three backends): up to 1.2e-7 on probabilities, 5.7e-6 on near one-hot
#: ones, 4.6e-5 on logits up to 190. On a GPU ``predict`` uses TF32 matmuls and
#: convolutions (TensorFlow, JAX, cuDNN), hence `GPU_TOLERANCE` there.
DEFAULT_TOLERANCE = 1e-4
GPU_TOLERANCE = 1e-3


class ExportMismatchError(RuntimeError):
    """The export was written but its runtime does not reproduce ``predict``."""


@dataclasses.dataclass
class ExportCheck:
    """What `export` wrote and how its runtime compared with ``predict``.

    ``max_abs_diff``, ``runtime`` and ``passed`` are None when the export was not verified;
    ``error`` says why a runtime could not run it. ``dtype_policy`` is the given model's;
    the export always computes in float32.
    """

    format: str
    path: str
    backend: str
    runtime: str | None
    max_abs_diff: float | None
    tolerance: float
    passed: bool | None
    images: int
    batch_sizes: tuple = ()
    dtype_policy: str = "float32"
    seconds: float = 0.0
    error: str | None = None

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "batch_sizes": list(self.batch_sizes)}

    def __str__(self) -> str:
        head = f"{self.format} export: {self.path} ({self.backend} backend"
        if self.dtype_policy != "float32":
            head += f", float32 copy of a {self.dtype_policy} model"
        head += ")"
        if self.passed is None:
            return f"{head}, not verified ({self.seconds:.1f} s)"
        if self.error:
            return f"{head}: {self.runtime} could not run it: {self.error}"
        sizes = " and ".join(map(str, self.batch_sizes))
        verdict = "passed" if self.passed else "FAILED"
        sign = "<=" if self.passed else ">"
        return (
            f"{head}: {self.runtime}, max |export - predict| = {self.max_abs_diff:.2g} {sign} "
            f"{self.tolerance:.2g} at batch sizes {sizes}, {verdict} ({self.seconds:.1f} s)"
        )


def exportable_formats(backend: str | None = None) -> tuple:
    """The formats Keras can export from ``backend`` (defaults to the current one)."""
    return tuple(EXPORTERS[backend or _backend()])


def check_exportable(format: str, backend: str | None = None, verify: bool = True) -> None:
    """Raise unless ``format`` can be exported (and, with ``verify``, run) here.

    Raises:
        ValueError: an unknown format, or one the backend cannot export.
        ImportError: a package the export or its runtime needs is missing; the message says
            what to install.
    """
    check_choice("format", format, FORMATS)
    backend = backend or _backend()
    if format not in EXPORTERS.get(backend, {}):
        able = [b for b, formats in EXPORTERS.items() if format in formats]
        reason = UNSUPPORTED.get((backend, format), "not supported by Keras")
        raise ValueError(
            f"format={format!r} cannot be exported from the {backend} backend ({reason}); "
            f"backends that can: {', '.join(able)} (set KERAS_BACKEND). "
            f"Received: format={format!r} on KERAS_BACKEND={backend!r}"
        )
    how, needs = EXPORTERS[backend][format]
    for module in needs:
        if not installed(module):
            raise ImportError(
                f"Exporting format={format!r} from the {backend} backend ({how}) needs the "
                f"{module} package, which is not installed. Install it: {_INSTALL[module]}"
            )
    if verify and not any(installed(m) for m in RUNTIMES[format]):
        module = RUNTIMES[format][0]
        raise ImportError(
            f"Checking a format={format!r} export needs the {module} package, which is not "
            f"installed. Install it: {_INSTALL[module]} (or pass verify=False)"
        )


def default_path(base: str | os.PathLike, format: str) -> Path:
    """Where `export` writes ``format`` by default: ``base`` (a path without an extension,
    such as ``runs/x/model``) plus ``.onnx``, ``_saved_model``, ``.xml`` or ``.tflite``."""
    check_choice("format", format, FORMATS)
    suffix = {"onnx": ".onnx", "tf_saved_model": "_saved_model", "openvino": ".xml"}
    return Path(os.fspath(base) + suffix.get(format, ".tflite"))


def export(
    model: keras.Model | Classifier,
    path: str | os.PathLike,
    format: str = "onnx",
    *,
    images: np.ndarray | None = None,
    tolerance: float | None = None,
    verify: bool = True,
    verbose: bool = True,
) -> ExportCheck:
    """Export ``model`` with ``model.export`` and check the artifact against ``predict``.

    The artifact takes a batch of any size. Nothing is left at ``path`` when the export
    fails; when its runtime does not reproduce ``predict`` within ``tolerance``, the export
    and its ``PATH.check.json`` (``passed: false``) are written and `ExportMismatchError`
    is raised.

    Args:
        model: a `keras.Model`, or an object with one as ``.model`` (a
            `kcnn.infer.Classifier`). A mixed-precision model is exported as a float32 copy.
        path: the file to write (``.xml`` for OpenVINO, ``.tflite`` for LiteRT; a folder
            for ``tf_saved_model``). An existing one is replaced.
        format: one of `FORMATS`: ``"onnx"``, ``"tf_saved_model"``, ``"openvino"``,
            ``"litert"``. Defaults to ``"onnx"``.
        images: a batch the check runs, as the model itself takes it (after any
            normalisation). Defaults to 4 seeded uniform [0, 1] float32 images.
        tolerance: largest accepted ``|export - predict|`` over the outputs. Defaults to
            `DEFAULT_TOLERANCE` (1e-4), or `GPU_TOLERANCE` (1e-3) when ``predict`` runs on
            a GPU, times the largest ``|predict|`` output when that is over 1 (logits).
        verify: run the export in its runtime and compare. Defaults to True.
        verbose: print the one-line result. Defaults to True.

    Returns:
        An `ExportCheck`, also written as JSON to ``PATH.check.json``. Exporting a
        `kcnn.infer.Classifier` also writes its inference contract (class names, input shape,
        pixel range, normalisation) to ``PATH.contract.json``, for the program that runs the
        export.

    Raises:
        ValueError: an unknown format, one the backend cannot export, a wrong extension or
            images of another shape.
        ImportError: a missing converter or runtime (the message says what to install).
        OSError: ``path`` cannot be written.
        ExportMismatchError: the runtime failed or differs from ``predict``.

    Example:
        ```python
        check = kcnn.infer.export(model, "runs/x/model.onnx")
        print(check)   # onnx export: runs/x/model.onnx (...): max |export - predict| = ...
        ```
    """
    import keras

    start = time.perf_counter()
    check_exportable(format, verify=verify)
    contract = getattr(model, "contract", None)  # a Classifier's class names and input
    model = _keras_model(model, keras)
    if tolerance is not None:
        check_number("tolerance", tolerance, 0, low_open=True, kind="a number")
    images = _check_images(model, images)
    path = _check_path(path, format)
    policy = _dtype_policy(model)
    exported = model if policy == "float32" else _float32_copy(model, keras)
    exported(images[:1], training=False)  # Keras' ONNX export needs a called model (JAX)
    check = ExportCheck(
        format=format,
        path=os.fspath(path),
        backend=keras.backend.backend(),
        runtime=None,
        max_abs_diff=None,
        tolerance=tolerance or _default_tolerance(keras),
        passed=None,
        images=len(images),
        dtype_policy=policy,
    )
    with _staging(path) as staged:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # converters' deprecation notices
            exported.export(os.fspath(staged), format=format, verbose=False)
        if check.backend == "jax" and format == "onnx":
            fix_max_pools(staged)
        if verify:
            _verify(check, exported, staged, images, scale=tolerance is None)
        _move_into_place(staged, path)
    check.seconds = round(time.perf_counter() - start, 2)
    _io.write_json(Path(os.fspath(path) + ".check.json"), check.to_dict())
    if contract is not None:  # what a deployment needs beside the artifact
        _io.write_json(Path(os.fspath(path) + ".contract.json"), contract.to_dict())
    if verbose:
        print(check)
    if check.passed is False:
        raise ExportMismatchError(f"{check} (written, with {path}.check.json)")
    return check


# --- arguments -----------------------------------------------------------------------------


def _backend() -> str:
    import keras

    return keras.backend.backend()


def _keras_model(model, keras):
    inner = getattr(model, "model", None)
    if not isinstance(model, keras.Model) and isinstance(inner, keras.Model):
        model = inner
    if not isinstance(model, keras.Model):
        raise TypeError(
            "model must be a keras.Model or have one as .model (a kcnn.infer.Classifier). "
            f"Received: {type(model).__name__}"
        )
    inputs = getattr(model, "inputs", None) or ()
    if len(inputs) != 1:
        raise ValueError(
            f"model must be a built model with one input to be exported. Received: "
            f"{len(inputs)} inputs"
        )
    return model


def _check_path(path, format: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"path must be a file path. Received: path={path!r}")
    path = Path(path)
    suffix = {"openvino": ".xml", "litert": ".tflite"}.get(format)
    if suffix and path.suffix != suffix:
        raise ValueError(
            f"path must end with {suffix} for format={format!r}. Received: path={str(path)!r}"
        )
    if format == "tf_saved_model" and (
        path.is_file() or (path.is_dir() and any(path.iterdir()) and not _is_saved_model(path))
    ):
        raise ValueError(
            "path must be a new name, an empty folder or a SavedModel to replace for "
            f"format='tf_saved_model'. Received: path={str(path)!r}"
        )
    if format != "tf_saved_model" and path.is_dir():
        raise ValueError(
            f"path must be a file for format={format!r}; it is a folder. "
            f"Received: path={str(path)!r}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OSError(f"path cannot be written ({error}). Received: path={str(path)!r}") from None
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise PermissionError(
            f"path cannot be written: its folder is not writable. Received: path={str(path)!r}"
        )
    return path


def _is_saved_model(folder: Path) -> bool:
    return (folder / "saved_model.pb").is_file() or (folder / "saved_model.pbtxt").is_file()


def _check_images(model, images) -> np.ndarray:
    shape = tuple(model.inputs[0].shape[1:])
    if images is None:
        if None in shape:
            raise ValueError(
                f"images must be given for a model whose input shape {shape} has unknown "
                "dimensions. Received: images=None"
            )
        return np.random.default_rng(0).uniform(0, 1, (4, *shape)).astype("float32")
    images = np.asarray(images, dtype="float32")
    expected = ", ".join("any" if d is None else str(d) for d in shape)
    if (
        images.ndim != len(shape) + 1
        or len(images) < 1
        or not all(d is None or d == n for d, n in zip(shape, images.shape[1:]))
    ):
        raise ValueError(
            f"images must be a batch of shape (n, {expected}) that the model takes. "
            f"Received: images of shape {images.shape}"
        )
    return images


def _default_tolerance(keras) -> float:
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        gpu = jax.default_backend() != "cpu"
    elif backend == "torch":
        import torch

        gpu = torch.cuda.is_available()
    else:
        import tensorflow as tf

        gpu = bool(tf.config.list_logical_devices("GPU"))
    return GPU_TOLERANCE if gpu else DEFAULT_TOLERANCE


# --- float32 -------------------------------------------------------------------------------


def _dtype_policy(model) -> str:
    """``"float32"``, or the first other policy among the model's layers."""
    from kcnn._keras_compat import flatten_layers

    for layer in [model, *flatten_layers(model)]:
        policy = layer.dtype_policy
        if policy.compute_dtype != "float32" or policy.variable_dtype != "float32":
            return policy.name
    return "float32"


def _float32_copy(model, keras):
    """``model`` rebuilt with every layer in float32, with its weights."""

    def float32_layer(layer):
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    copy = keras.models.clone_model(model, clone_function=float32_layer, recursive=True)
    if _dtype_policy(copy) != "float32":
        raise ValueError(
            f"model computes in {_dtype_policy(model)} and kcnn cannot rebuild it in float32 "
            "(a subclassed model?): rebuild it under keras.config.set_dtype_policy('float32') "
            "and load its weights."
        )
    copy.set_weights([np.asarray(w, dtype="float32") for w in model.get_weights()])
    return copy


# --- writing -------------------------------------------------------------------------------


class _staging:
    """A temporary folder beside ``path`` with the artifact's own name inside; removed on
    exit, so a failed export leaves nothing at ``path``."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self) -> Path:
        folder = tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self.folder = Path(folder)
        return self.folder / self.path.name

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _move_into_place(staged: Path, path: Path) -> None:
    """Rename the staged artifact (and its OpenVINO ``.bin``) over ``path``; an old
    SavedModel folder is moved aside first and removed with the staging folder."""
    companion = staged.with_suffix(".bin") if staged.suffix == ".xml" else None
    if companion is not None and companion.exists():
        os.replace(companion, path.with_suffix(".bin"))
    if staged.is_dir() and path.is_dir():
        os.replace(path, staged.parent / ".previous")
    os.replace(staged, path)


# --- checking ------------------------------------------------------------------------------


def _verify(check: ExportCheck, model, staged: Path, images: np.ndarray, scale: bool) -> None:
    """Run the staged export at batch sizes ``len(images)`` and 1 and compare; ``scale``
    multiplies the tolerance by the largest ``|predict|`` over 1."""
    expected = np.asarray(model.predict(images, batch_size=len(images), verbose=0), "float32")
    if scale and np.isfinite(expected).all():
        check.tolerance *= max(1.0, float(np.max(np.abs(expected))))
    batches = [images, images[:1]] if len(images) > 1 else [images]
    check.batch_sizes = tuple(len(b) for b in batches)
    try:
        run, check.runtime = runner(check.format, staged)
        diffs = []
        for batch in batches:
            got = np.asarray(run(batch), dtype="float32")
            if got.shape != (len(batch), *expected.shape[1:]):
                raise ValueError(f"output of shape {got.shape} for a batch of {len(batch)}")
            diffs.append(float(np.max(np.abs(got - expected[: len(batch)]))))
    except Exception as error:  # noqa: BLE001  (any runtime failure is the check's result)
        check.runtime = check.runtime or RUNTIMES[check.format][0]
        check.error = " ".join(str(error).split())[:500] or type(error).__name__
        check.passed = False
        return
    check.max_abs_diff = max(diffs)
    check.passed = bool(np.isfinite(check.max_abs_diff) and check.max_abs_diff <= check.tolerance)
