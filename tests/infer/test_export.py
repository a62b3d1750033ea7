"""``kcnn.infer.export`` and ``kcnn export``: every format the backend can export loads in
its runtime and reproduces ``predict`` at batch sizes 1 and 5."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import warnings

import keras
import numpy as np
import pytest

import kcnn
from kcnn.infer.export import (
    DEFAULT_TOLERANCE,
    EXPORTERS,
    FORMATS,
    GPU_TOLERANCE,
    RUNTIMES,
    UNSUPPORTED,
    ExportMismatchError,
    check_exportable,
    default_path,
    export,
    exportable_formats,
)

BACKEND = keras.backend.backend()
SHAPE = (12, 12, 1)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _skip_unless_exportable(format: str) -> None:
    """Skip a format the backend cannot export, or OpenVINO / LiteRT when not installed
    (they are not in kcnn[export]). ONNX and SavedModel are never skipped for a missing
    package: the export extra and the backends' extras install them."""
    if format not in exportable_formats():
        pytest.skip(f"{BACKEND} cannot export {format}: {UNSUPPORTED[(BACKEND, format)]}")
    optional = {"openvino": ("openvino",), "litert": RUNTIMES["litert"]}.get(format, ())
    if optional and not any(_installed(m) for m in optional):
        pytest.skip(f"{format} needs {optional[0]}, not installed (not in kcnn[export])")


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return kcnn.build_model(
        "simple_cnn", input_shape=SHAPE, num_classes=5, filters=(4, 8), dense_units=16
    )


def _images(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, *SHAPE)).astype("float32")


def _run(format: str, path, x: np.ndarray) -> np.ndarray:
    """Run an export with its runtime, independently of kcnn's own check."""
    path = os.fspath(path)
    if format == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]
    if format == "tf_saved_model":
        import tensorflow as tf

        loaded = tf.saved_model.load(path)  # held: its variables die with it
        return loaded.serve(tf.constant(x)).numpy()
    if format == "openvino":
        import openvino

        return openvino.Core().compile_model(path, "CPU")(x)[0]
    if _installed("ai_edge_litert"):
        from ai_edge_litert.interpreter import Interpreter
    else:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = Interpreter(model_path=path)
    source = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(source, x.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(source, x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@pytest.mark.parametrize("format", FORMATS)
def test_round_trip_at_batch_sizes_1_and_5(model, format, tmp_path):
    _skip_unless_exportable(format)
    path = default_path(tmp_path / "model", format)
    x = _images(5)
    check = export(model, path, format=format, images=x, verbose=False)

    assert check.passed is True and check.error is None
    assert check.tolerance in (DEFAULT_TOLERANCE, GPU_TOLERANCE)  # probabilities: not scaled
    assert check.max_abs_diff <= check.tolerance
    assert check.batch_sizes == (5, 1) and check.images == 5 and check.backend == BACKEND
    expected = model.predict(x, verbose=0)
    for n in (1, 5):
        got = _run(format, path, x[:n])
        assert got.shape == (n, 5) and got.dtype == np.float32
        np.testing.assert_allclose(got, expected[:n], atol=check.tolerance, rtol=0)

    saved = json.loads((tmp_path / f"{path.name}.check.json").read_text())
    assert saved == check.to_dict()
    assert saved["format"] == format and saved["path"] == str(path) and saved["passed"] is True
    assert saved["runtime"].split()[0] in RUNTIMES[format] + ("tf.lite",)
    written = {p.name for p in tmp_path.iterdir()}  # nothing temporary left behind
    assert written == {path.name, f"{path.name}.check.json"} | (
        {"model.bin"} if format == "openvino" else set()
    )


def test_onnx_is_exportable_from_every_backend():
    assert all("onnx" in formats for formats in EXPORTERS.values())
    assert "onnx" in exportable_formats() and BACKEND in EXPORTERS


def test_a_mixed_precision_model_is_exported_in_float32(tmp_path):
    import onnx
    import onnxruntime

    keras.utils.set_random_seed(0)
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        mixed = kcnn.build_model("simple_cnn", input_shape=SHAPE, filters=(4,), dense_units=8)
    finally:
        keras.config.set_dtype_policy(policy)
    x = _images(5)
    check = export(mixed, tmp_path / "m.onnx", images=x, verbose=False)

    assert check.passed and check.dtype_policy == "mixed_float16"
    assert mixed.layers[-1].dtype_policy.name == "mixed_float16"  # the model is left as it was
    graph = onnx.load(tmp_path / "m.onnx").graph
    half = onnx.TensorProto.FLOAT16
    assert half not in {t.data_type for t in graph.initializer}  # no float16 weights
    casts = [n for n in graph.node if n.op_type == "Cast"]
    assert all(onnx.helper.get_attribute_value(a) != half for n in casts for a in n.attribute)
    session = onnxruntime.InferenceSession(tmp_path / "m.onnx", providers=["CPUExecutionProvider"])
    assert session.get_outputs()[0].type == "tensor(float)"
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    # float32 probabilities, within float16's precision of the mixed model's own predict
    np.testing.assert_allclose(got, mixed.predict(x, verbose=0).astype("float32"), atol=5e-3)
    assert "float32 copy of a mixed_float16 model" in str(check)


def test_an_unknown_format_names_the_choices(model, tmp_path):
    with pytest.raises(ValueError) as error:
        export(model, tmp_path / "m.pb", format="pb")
    assert str(error.value) == f"format must be one of {list(FORMATS)}. Received: format='pb'"
    assert not any(tmp_path.iterdir())


def test_an_unsupported_combination_names_the_backends_that_can():
    with pytest.raises(ValueError, match=r"from the jax backend .*backends that can: tensorflow"):
        check_exportable("litert", backend="jax")
    with pytest.raises(ValueError, match=r"backends that can: tensorflow, jax\b"):
        check_exportable("tf_saved_model", backend="torch")


def test_a_missing_runtime_or_converter_names_the_extra(model, tmp_path, monkeypatch):
    path = tmp_path / "m.onnx"
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now fails
        with pytest.raises(
            ImportError, match=r'needs the onnxruntime .*pip install "kcnn\[export\]"'
        ):
            export(model, path)
    converter = EXPORTERS[BACKEND]["onnx"][1][0]
    monkeypatch.setitem(sys.modules, converter, None)
    with pytest.raises(ImportError, match=rf'needs the {converter} .*"kcnn\[export\]"'):
        export(model, path)
    assert not any(tmp_path.iterdir())


def test_paths_that_cannot_be_written(model, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    bad = tmp_path / "file" / "m.onnx"
    with pytest.raises(OSError, match=rf"path cannot be written .*Received: path='{bad}'"):
        export(model, bad)
    if "litert" in exportable_formats():
        with pytest.raises(ValueError, match=r"path must end with \.tflite for format='litert'"):
            export(model, tmp_path / "m.onnx", format="litert", verify=False)
    with pytest.raises(ValueError, match="path must be a file for format='onnx'; it is a folder"):
        export(model, tmp_path)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    if "tf_saved_model" in exportable_formats():  # a folder that is not a SavedModel stays
        with pytest.raises(ValueError, match="path must be a new name, an empty folder or a"):
            export(model, tmp_path / "run", format="tf_saved_model")
    with pytest.raises(ValueError, match=r"images must be a batch of shape \(n, 12, 12, 1\)"):
        export(model, tmp_path / "m.onnx", images=np.zeros((2, 8, 8, 1)))
    with pytest.raises(ValueError, match="tolerance must be a number > 0"):
        export(model, tmp_path / "m.onnx", tolerance=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "run"]


def test_a_failed_export_leaves_nothing_at_path(model, tmp_path, monkeypatch):
    def half_written(self, filepath, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"half")
        raise RuntimeError("converter crashed")

    (tmp_path / "m.onnx").write_bytes(b"the previous export")
    monkeypatch.setattr(type(model), "export", half_written)
    with pytest.raises(RuntimeError, match="converter crashed"):
        export(model, tmp_path / "m.onnx")
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]
    assert (tmp_path / "m.onnx").read_bytes() == b"the previous export"


def test_a_mismatch_raises_and_says_so_beside_the_file(model, tmp_path, monkeypatch):
    predict = model.predict
    monkeypatch.setattr(model, "predict", lambda *a, **k: predict(*a, **k) + 0.01)
    with pytest.raises(ExportMismatchError, match=r"max \|export - predict\| = 0.01 > 0.0001"):
        export(model, tmp_path / "m.onnx", verbose=False)
    saved = json.loads((tmp_path / "m.onnx.check.json").read_text())
    assert saved["passed"] is False and abs(saved["max_abs_diff"] - 0.01) < 1e-4
    assert (tmp_path / "m.onnx").is_file()  # written, for a look


def test_jax2onnx_max_pools_are_rewritten_for_onnxruntime(tmp_path):
    """jax2onnx's rank-6 MaxPool (NHWC, 3x3 window, stride 2, padded) runs after the fix."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    axes = numpy_helper.from_array(np.array([0], "int64"), "a0")
    axes1 = numpy_helper.from_array(np.array([1], "int64"), "a1")
    axes01 = numpy_helper.from_array(np.array([0, 1], "int64"), "a01")
    nodes = [
        helper.make_node("Unsqueeze", ["x", "a0"], ["u0"]),
        helper.make_node("Unsqueeze", ["u0", "a1"], ["u1"]),
        helper.make_node(
            "MaxPool",
            ["u1"],
            ["p"],
            kernel_shape=[1, 3, 3, 1],
            strides=[1, 2, 2, 1],
            pads=[0, 1, 1, 0, 0, 1, 1, 0],
        ),  # fmt: skip
        helper.make_node("Squeeze", ["p", "a01"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 6, 6, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, 3, 2])],
        initializer=[axes, axes1, axes01],
    )  # fmt: skip
    path = tmp_path / "pool.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    from kcnn.infer._jax2onnx import fix_max_pools

    fix_max_pools(path)

    x = np.random.default_rng(0).normal(size=(2, 6, 6, 2)).astype("float32")
    got = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )[0]
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    expected = np.stack(
        [
            np.stack(
                [padded[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3].max((1, 2)) for j in range(3)], 1
            )
            for i in range(3)
        ],
        1,
    )
    np.testing.assert_array_equal(got, expected)


# --- kcnn export ---------------------------------------------------------------------------


def _cli(argv):
    from kcnn.cli import export as command

    parser = argparse.ArgumentParser(prog="kcnn")
    command.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.run(args)


def test_cli_exports_a_keras_file_beside_it(model, tmp_path, capsys):
    file = tmp_path / "digits.keras"
    model.save(file)
    assert _cli(["export", str(file)]) == 0
    assert "onnx export:" in capsys.readouterr().out
    saved = json.loads((tmp_path / "digits.onnx.check.json").read_text())
    assert saved["passed"] is True and saved["path"] == str(tmp_path / "digits.onnx")
    np.testing.assert_allclose(
        _run("onnx", tmp_path / "digits.onnx", _images(3)),
        model.predict(_images(3), verbose=0),
        atol=saved["tolerance"],
    )


def test_cli_bad_input(model, tmp_path, capsys):
    file = tmp_path / "m.keras"
    model.save(file)
    with pytest.raises(SystemExit) as stop:
        _cli(["export", str(file), "--format", "pb"])
    assert stop.value.code == 2 and "invalid choice: 'pb'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="tolerance must be a number > 0. Received: tolerance=-1"):
        _cli(["export", str(file), "--tolerance", "-1"])
    from kcnn.cli import export as command

    assert command.FORMATS == FORMATS


def test_cli_errors_exit_2_without_a_traceback(model, tmp_path, capsys, monkeypatch):
    from kcnn import cli

    monkeypatch.setitem(cli.COMMANDS, "export", "kcnn.cli.export")  # as kcnn.cli registers it
    file = tmp_path / "m.keras"
    model.save(file)
    (tmp_path / "file").write_text("")
    assert cli.main(["export", str(file), "--out", str(tmp_path / "file" / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "kcnn export: error: path cannot be written" in err and "Traceback" not in err
    assert cli.main(["export", str(file), "--tolerance", "-1"]) == 2
    assert "error: tolerance must be a number > 0" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert cli.main(["export", str(file)]) == 2
    assert 'pip install "kcnn[export]"' in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "m.keras"]


def test_cli_exports_a_run_folder_with_its_contract_beside_it(digits_run, capsys):
    from kcnn import cli

    assert cli.main(["export", str(digits_run)]) == 0
    assert "onnx export:" in capsys.readouterr().out
    assert json.loads((digits_run / "model.onnx.check.json").read_text())["passed"] is True
    contract = json.loads((digits_run / "model.onnx.contract.json").read_text())
    assert contract["class_names"] == [str(i) for i in range(10)]
    assert contract["input_shape"] == list(kcnn.infer.load(digits_run).contract.input_shape)
