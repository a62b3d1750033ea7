"""``kcnn predict``: classify image files with a trained model."""

from __future__ import annotations

import argparse

from kcnn.cli._common import text_type

RUN_HELP = "a run folder from `kcnn train`, or a .keras file"


def add_parser(commands) -> None:
    predict = commands.add_parser(
        "predict",
        help="classify your own image files with a trained model",
        description="Classify image files (PNG, JPEG, BMP, ... in grey or colour) with a "
        "trained model: a table of the top classes per file. Files are converted to the "
        "model's channels and size; unreadable files are skipped and listed.",
    )
    predict.add_argument("model", metavar="RUN_OR_MODEL", help=RUN_HELP)
    predict.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    predict.add_argument(
        "--top-k", type=text_type(int), default=3, help="classes shown per file (default: 3)"
    )
    predict.add_argument("--csv", metavar="PATH", help="also write the table as CSV")
    predict.add_argument(
        "--resize", default="pad", choices=("pad", "stretch", "crop"),
        help="fit another size by keeping the aspect ratio and padding with black (pad), by "
        "stretching (stretch), or by keeping the aspect ratio and cutting the centre (crop) "
        "(default: pad)",
    )  # fmt: skip
    predict.add_argument(
        "--tta", action="store_true",
        help="average over test-time views that keep the labels (flips only where the data "
        "set allows them, small shifts)",
    )  # fmt: skip
    predict.add_argument(
        "--batch-size", type=text_type(int), default=64, help="images per batch (default: 64)"
    )
    predict.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from kcnn.infer.classifier import load

    classifier = load(args.model)
    if args.top_k < 1 or args.top_k > classifier.contract.num_classes:
        raise ValueError(
            f"--top-k must be between 1 and {classifier.contract.num_classes} (the model's "
            f"classes). Received: --top-k {args.top_k}"
        )
    predictions = classifier.predict(
        args.images, top_k=args.top_k, batch_size=args.batch_size, resize=args.resize,
        tta=args.tta, verbose=True,
    )  # fmt: skip
    print(predictions)
    if args.csv:
        predictions.to_csv(args.csv)
        print(f"wrote {args.csv}")
    return 0
