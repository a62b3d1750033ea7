"""``kcnn evaluate``: a trained model's scores on a split, with a per-class table."""

from __future__ import annotations

import argparse

from kcnn.cli._common import text_type
from kcnn.cli.predict import RUN_HELP


def add_parser(commands) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="accuracy, top-5, loss, per-class table and calibration of a trained model",
        description="Score a trained model on a split of a data set, from one prediction "
        "pass: top-1 and top-5 accuracy, loss, per-class precision/recall/F1, the most "
        "confused pairs and the expected calibration error. Writes evaluation.json, "
        "evaluation.md and confusion.png into --out.",
    )
    evaluate.add_argument("model", metavar="RUN_OR_MODEL", help=RUN_HELP)
    evaluate.add_argument(
        "--dataset", metavar="NAME_OR_PATH",
        help="data set name or path (default: the run's own, loaded as training loaded it)",
    )  # fmt: skip
    evaluate.add_argument(
        "--split", default="test", choices=("test", "val", "train"), help="(default: test)"
    )
    evaluate.add_argument(
        "--out", help="folder for the files (default: RUN/evaluation-SPLIT, or beside a .keras)"
    )
    evaluate.add_argument("--tta", action="store_true", help="test-time augmentation")
    evaluate.add_argument(
        "--batch-size", type=text_type(int), default=256, help="images per batch (default: 256)"
    )
    evaluate.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from kcnn.infer.classifier import load
    from kcnn.infer.evaluate import evaluate

    classifier = load(args.model)
    model = Path(args.model)
    default = (model if model.is_dir() else model.with_suffix("")).as_posix()
    out = args.out or (
        os.path.join(default, f"evaluation-{args.split}") if model.is_dir()
        else f"{default}-evaluation-{args.split}"
    )  # fmt: skip
    evaluation = evaluate(
        classifier, args.dataset, args.split, batch_size=args.batch_size, tta=args.tta, out=out
    )
    print(evaluation)
    print(evaluation.to_markdown().split("\n\n", 3)[2])  # the per-class table
    print(f"wrote {out}/evaluation.json, evaluation.md, confusion.png")
    return 0
