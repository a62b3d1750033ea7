"""Run an export in its own runtime: onnxruntime, TensorFlow, OpenVINO or LiteRT."""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent that fails, or a module set to None
        return False


def version(module: str) -> str:
    """``"onnxruntime 1.32.0"``: the module and its installed distribution's version."""
    from importlib import metadata

    names = {"ai_edge_litert": ("ai-edge-litert",), "tensorflow": ("tensorflow", "tensorflow-cpu")}
    for name in names.get(module, (module,)):
        try:
            return f"{module} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            continue
    return module


def runner(format: str, path: Path):
    """A function batch -> outputs that runs the export, and the runtime's name."""
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return (lambda x: session.run(None, {name: x})[0]), version("onnxruntime")
    if format == "openvino":
        import openvino

        compiled = openvino.Core().compile_model(os.fspath(path), "CPU")
        return (lambda x: compiled(x)[0]), version("openvino")
    if format == "tf_saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(os.fspath(path))

        def serve(x):
            out = loaded.serve(tf.constant(x))
            return next(iter(out.values())) if isinstance(out, dict) else out

        return (lambda x: serve(x).numpy()), version("tensorflow")
    return _litert(path)


def _litert(path: Path):
    if installed("ai_edge_litert"):
        from ai_edge_litert.interpreter import Interpreter

        runtime = version("ai_edge_litert")
    else:
        import tensorflow as tf

        Interpreter, runtime = tf.lite.Interpreter, f"tf.lite ({version('tensorflow')})"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
        interpreter = Interpreter(model_path=os.fspath(path))

    def run(x):
        source = interpreter.get_input_details()[0]["index"]
        interpreter.resize_tensor_input(source, x.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(source, x)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    return run, runtime
