"""``kcnn export``: write a trained model for deployment and check it against ``predict``."""

from __future__ import annotations

import argparse

from kcnn.cli._common import text_type

#: The formats, repeated here so that building the parser imports no Keras
#: (`kcnn.infer.export.FORMATS`; a test keeps them equal).
FORMATS = ("onnx", "tf_saved_model", "openvino", "litert")


def add_parser(commands) -> None:
    export = commands.add_parser(
        "export",
        help="export a trained model (ONNX, SavedModel, OpenVINO, LiteRT) and check it",
        description="Export a trained model with Keras' model.export, for any batch size and "
        "in float32 (a mixed-precision model is copied to float32), then load the export with "
        "its runtime, compare its outputs with predict on a few images and write the result "
        "beside it (PATH.check.json). ONNX exports from every backend; tf_saved_model from "
        "TensorFlow and JAX; openvino from TensorFlow and PyTorch; litert from TensorFlow. "
        'Converters and onnxruntime: pip install "kcnn[export]".',
    )
    export.add_argument(
        "model", metavar="RUN_OR_MODEL", help="a run folder from `kcnn train`, or a .keras file"
    )
    export.add_argument(
        "--format", default="onnx", choices=FORMATS, help="what to write (default: onnx)"
    )
    export.add_argument(
        "--out",
        metavar="PATH",
        help="where to write (default: RUN/model.onnx, model_saved_model, model.xml or "
        "model.tflite; beside a .keras file, its name with that ending)",
    )
    export.add_argument(
        "--tolerance",
        type=text_type(float),
        help="largest accepted |export - predict| (default: 1e-4; 1e-3 when predict runs on a GPU)",
    )
    export.add_argument(
        "--no-verify", action="store_true", help="write the export without running it"
    )
    export.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from kcnn.infer.classifier import load
    from kcnn.infer.export import check_exportable, default_path, export

    check_exportable(args.format, verify=not args.no_verify)  # before loading the model
    classifier = load(args.model)
    source = Path(args.model)
    base = source / "model" if source.is_dir() else source.with_suffix("")
    out = args.out or default_path(base, args.format)
    export(
        classifier,
        out,
        format=args.format,
        tolerance=args.tolerance,
        verify=not args.no_verify,
        verbose=True,
    )
    return 0
