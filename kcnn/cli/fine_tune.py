"""``kcnn fine-tune``: phase two of transfer learning, on a finished run."""

from __future__ import annotations

import argparse

from kcnn.cli._common import text_type

#: How the run reloads its data; the fine-tuned run records them as they were.
_DATA_KEYS = ("dataset", "image_size", "validation_split")


def _unfreeze(text: str):
    if text == "all":
        return text
    value = int(text)  # text_type turns a ValueError into argparse's message
    if value < 1:
        raise ValueError(f"expected all or an integer >= 1; received {text!r}")
    return value


def add_parser(commands) -> None:
    tune = commands.add_parser(
        "fine-tune",
        help="unfreeze the top of a trained transfer model's backbone and train on, slowly",
        description="Load the model of a finished run (a transfer model: a frozen backbone "
        "and a trained head), unfreeze the top --unfreeze layers of its backbone and train "
        "the whole model with a low learning rate, BatchNorm kept in inference mode. The "
        "data set and the other settings are the run's own; a new run folder is written.",
    )
    tune.add_argument("run_dir", metavar="RUN", help="a finished run folder of a transfer model")
    tune.add_argument(
        "--unfreeze", type=text_type(_unfreeze), default="all",
        help="backbone layers to unfreeze from the top, or all (default: all)",
    )  # fmt: skip
    tune.add_argument(
        "--lr", type=text_type(float), default=1e-5, help="learning rate (default: 1e-5)"
    )
    tune.add_argument("--epochs", type=text_type(int), default=5, help="(default: 5)")
    tune.add_argument(
        "--train-bn", action="store_true", help="also train BatchNorm's scale and offset"
    )
    tune.add_argument("--out", default="runs", help="folder for run folders (default: runs)")
    tune.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from kcnn.data.datasets import load_dataset
    from kcnn.train.config import TrainConfig
    from kcnn.train.run import load_run
    from kcnn.train.transfer import fine_tune

    if args.epochs < 1:
        raise ValueError(f"--epochs must be an integer >= 1. Received: --epochs {args.epochs}")
    if not args.lr > 0:
        raise ValueError(f"--lr must be a positive number. Received: --lr {args.lr}")
    run = load_run(args.run_dir)
    model = run.load_model()
    name = run.config.get("dataset")
    try:
        data = load_dataset(name, **run.data_settings())
    except (ValueError, FileNotFoundError) as error:
        raise ValueError(f"The run's data set {name!r} cannot be reloaded ({error}).") from None
    config = dataclasses.replace(TrainConfig.from_dict(run.config), verbose=2)
    _, path = fine_tune(
        model, data, unfreeze=args.unfreeze, lr=args.lr, epochs=args.epochs, config=config,
        run_dir=args.out, train_bn=args.train_bn,
        run_info={**{k: run.config[k] for k in _DATA_KEYS if k in run.config},
                  "fine_tuned_from": str(run.path), "unfreeze": args.unfreeze},
    )  # fmt: skip
    metrics = load_run(path).metrics
    print(f"wrote {path}: test accuracy {metrics.get('test_accuracy', float('nan')):.4f} "
          f"(before: {run.metrics.get('test_accuracy', float('nan')):.4f})")  # fmt: skip
    return 0
