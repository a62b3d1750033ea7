"""``kcnn lr-find``: the learning-rate range test, from the command line."""

from __future__ import annotations

import argparse

from kcnn.cli._common import ints, text_type
from kcnn.train.config import OPTIMIZERS


def add_parser(commands) -> None:
    from kcnn.data.datasets import DATASETS  # imports NumPy, no Keras

    finder = commands.add_parser(
        "lr-find",
        help="learning-rate range test: a plot of loss against rate, and a suggested --lr",
        description="Sweep the learning rate exponentially over a few hundred steps of a "
        "fresh model, record the loss, and suggest a rate (fastai's 'valley': the steepest "
        "descent of the smoothed loss before it explodes). Writes the loss-versus-rate plot "
        "and prints the `kcnn train` flags to use it. The model's weights are thrown away.",
    )
    finder.add_argument("--model", default="simple_cnn", help="model name (default: simple_cnn)")
    finder.add_argument(
        "--dataset", default="digits",
        help=f"{', '.join(DATASETS)}, a .npz file or a folder, as kcnn train (default: digits)",
    )  # fmt: skip
    finder.add_argument("--image-size", type=ints(2, "28,28"), help="resize to HEIGHT,WIDTH")
    finder.add_argument("--optimizer", default="adam", choices=OPTIMIZERS, help="(default: adam)")
    finder.add_argument(
        "--batch-size", type=text_type(int), default=64, help="images per step (default: 64)"
    )
    finder.add_argument(
        "--steps", type=text_type(int), default=200, help="steps of the sweep (default: 200)"
    )
    finder.add_argument(
        "--start-lr", type=text_type(float), default=1e-7, help="first rate (default: 1e-7)"
    )
    finder.add_argument(
        "--end-lr", type=text_type(float), default=10.0, help="last rate (default: 10)"
    )
    finder.add_argument("--seed", type=text_type(int), default=0, help="(default: 0)")
    finder.add_argument(
        "--out", default="lr_find.png", help="the plot to write (default: lr_find.png)"
    )
    finder.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import keras

    from kcnn.data.datasets import load_dataset
    from kcnn.models.registry import build_model
    from kcnn.train.compile import make_optimizer
    from kcnn.train.config import TrainConfig
    from kcnn.train.schedules import find_lr

    for flag, value, low in (("--batch-size", args.batch_size, 1), ("--steps", args.steps, 2)):
        if value < low:
            raise ValueError(f"{flag} must be an integer >= {low}. Received: {flag} {value}")
    if not 0 < args.start_lr < args.end_lr:
        raise ValueError(
            "--start-lr and --end-lr must satisfy 0 < start < end. "
            f"Received: --start-lr {args.start_lr} --end-lr {args.end_lr}"
        )
    data = load_dataset(
        args.dataset, seed=args.seed, image_size=tuple(args.image_size) if args.image_size else None
    )
    keras.utils.set_random_seed(args.seed)
    model = build_model(args.model, input_shape=data.input_shape, num_classes=data.num_classes)
    config = TrainConfig(optimizer=args.optimizer, batch_size=args.batch_size, seed=args.seed)
    result = find_lr(
        model, data.x_train, data.y_train, start_lr=args.start_lr, end_lr=args.end_lr,
        num_steps=args.steps, batch_size=args.batch_size, optimizer=make_optimizer(config),
        path=args.out, seed=args.seed,
    )  # fmt: skip
    suggestion = result["suggestion"]
    print(f"{args.model} on {data.name}, {args.optimizer}, batch {args.batch_size}: "
          f"suggested learning rate {suggestion:.3g}")  # fmt: skip
    print(f"wrote {args.out}")
    print(
        f"train with it: kcnn train --model {args.model} --dataset {args.dataset} "
        f"--optimizer {args.optimizer} --batch-size {args.batch_size} --lr {suggestion:.3g}"
    )
    return 0
