"""The ``kcnn`` command: thin shells over the library functions.

kcnn models                       table of registered models
kcnn summary NAME [--input-shape H,W,C] [--num-classes N]
kcnn train [--model simple_cnn] [--dataset digits] [--epochs 10] ...
"""

from __future__ import annotations

import argparse
import sys


def _ints(count: int, example: str):
    """An argparse type for ``count`` comma-separated integers, e.g. ``28,28,1``."""

    def parse(text: str) -> tuple:
        try:
            values = tuple(int(part) for part in text.replace("x", ",").split(","))
        except ValueError:
            values = ()
        if len(values) != count:
            raise argparse.ArgumentTypeError(
                f"expected {count} numbers such as {example}; received {text!r}"
            )
        return values

    return parse


def _build_parser() -> argparse.ArgumentParser:
    from kcnn.data.datasets import DATASETS

    parser = argparse.ArgumentParser(
        prog="kcnn",
        description="Convolutional image classifiers with Keras 3 on TensorFlow, JAX or "
        "PyTorch (choose with the KERAS_BACKEND environment variable).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    models = commands.add_parser("models", help="list the registered models")
    models.add_argument(
        "--no-params",
        action="store_true",
        help="skip building each model to count its parameters (faster)",
    )

    summary = commands.add_parser("summary", help="print a model's layers, shapes and parameters")
    summary.add_argument("name", help="a registered model name (see `kcnn models`)")
    summary.add_argument(
        "--input-shape", type=_ints(3, "28,28,1"), help="image shape, e.g. 28,28,1"
    )
    summary.add_argument("--num-classes", type=int, help="number of classes")

    train = commands.add_parser(
        "train",
        help="train a model and write a run folder",
        description="Train a model and write runs/<model>-<timestamp>/ with model.keras, "
        "history.json, curves.png, confusion.png, metrics.json and config.json.",
    )
    train.add_argument("--model", default="simple_cnn", help="model name (default: simple_cnn)")
    train.add_argument(
        "--dataset",
        default="digits",
        help=f"{', '.join(DATASETS)}, a .npz file, a folder (IDX files, CIFAR batches or one "
        "sub-folder of images per class), or tfds:NAME (default: digits)",
    )
    train.add_argument(
        "--image-size",
        type=_ints(2, "28,28"),
        help="resize images to HEIGHT,WIDTH, e.g. 28,28 (default: native size)",
    )
    train.add_argument(
        "--augment",
        help="augmentation policy (none, crop, flip_crop, color, cutout, mixup, cutmix, "
        "randaugment) or comma-separated transforms, e.g. crop,cutout (default: none); "
        "transforms that break the data set's labels are refused",
    )
    train.add_argument("--epochs", type=int, default=10, help="epochs (default: 10)")
    train.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    train.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)")
    train.add_argument("--optimizer", default="adam", help="adam, adamw or sgd (default: adam)")
    train.add_argument(
        "--validation-split",
        type=float,
        default=0.1,
        help="fraction of the training set held out for validation (default: 0.1)",
    )
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--out", default="runs", help="folder for run folders (default: runs)")
    train.add_argument(
        "--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras progress output"
    )
    return parser


def _cmd_models(args) -> int:
    import keras

    from kcnn.inspect.counts import count_params
    from kcnn.models.registry import get_model_builder, list_models

    rows = []
    for name in list_models():
        builder = get_model_builder(name)
        description = (builder.__doc__ or "").strip().splitlines()[0]
        if args.no_params:
            rows.append((name, "", "", description))
            continue
        model = builder()
        shape = "x".join(str(d) for d in model.input_shape[1:])
        rows.append((name, f"{count_params(model)['trainable']:,}", shape, description))
        del model
        keras.backend.clear_session()
    headers = ("name", "parameters", "input", "description")
    widths = [max(len(headers[i]), *(len(r[i]) for r in rows)) for i in range(3)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths)) + "  " + headers[3]
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[3])
    return 0


def _cmd_summary(args) -> int:
    from kcnn.inspect.counts import count_params
    from kcnn.models.registry import build_model

    kwargs = {}
    if args.input_shape:
        kwargs["input_shape"] = args.input_shape
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    model = build_model(args.name, **kwargs)
    model.summary()
    counts = count_params(model)
    print(f"trainable parameters: {counts['trainable']:,}")
    return 0


def _cmd_train(args) -> int:
    import json

    import keras

    from kcnn.data.datasets import load_dataset
    from kcnn.models.registry import build_model
    from kcnn.train.fit import TrainConfig, fit

    config = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        optimizer=args.optimizer,
        augment=args.augment.split(",") if args.augment and "," in args.augment else args.augment,
        seed=args.seed,
        verbose=args.verbose,
    )
    data = load_dataset(
        args.dataset,
        validation_split=args.validation_split,
        seed=args.seed,
        image_size=args.image_size,
    )
    print(f"{data}  backend={keras.backend.backend()}")
    keras.utils.set_random_seed(args.seed)
    model = build_model(args.model, input_shape=data.input_shape, num_classes=data.num_classes)
    _, run = fit(model, data, config, run_dir=args.out)
    metrics = json.loads((run / "metrics.json").read_text())
    history = json.loads((run / "history.json").read_text())
    if history.get("val_accuracy"):
        print(f"best validation accuracy: {max(history['val_accuracy']):.4f}")
    if "test_accuracy" in metrics:
        print(f"test accuracy: {metrics['test_accuracy']:.4f}")
    print(f"run folder: {run}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kcnn`` command."""
    args = _build_parser().parse_args(argv)
    import kcnn  # noqa: F401  (selects an installed backend before Keras loads)

    handler = {"models": _cmd_models, "summary": _cmd_summary, "train": _cmd_train}
    try:
        return handler[args.command](args)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as error:
        print(f"kcnn {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
