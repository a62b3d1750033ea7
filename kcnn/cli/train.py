"""``kcnn train``: train a model and write a run folder; ``--resume`` continues one.

The training flags come from `kcnn.train.TrainConfig`'s fields: their defaults, and the
help, flag name and reader each field's metadata gives. With ``--resume RUN_DIR`` the run's
stored ``config.json`` becomes the parser's defaults before the one parse, so the flags
given on the command line override the stored settings (timm's ``_parse_args``).
"""

from __future__ import annotations

import argparse
import dataclasses

from kcnn.cli._common import add_group_flags, ints, strategy_from, text_type
from kcnn.train.config import TrainConfig
from kcnn.train.recipe import FAST_RECIPE, RECIPE_FIELDS, RECIPES, recipe_settings

#: Flags that say how to rebuild the model and reload the data; stored in config.json.
RUN_FLAGS = ("model", "dataset", "image_size", "validation_split", "stream")


class _FromRecipe:
    """The parser's default for a setting the recipe chooses (see `resolve_config`)."""

    def __repr__(self) -> str:
        return "FROM_RECIPE"


#: The default of ``kcnn train``'s recipe settings: the ``--recipe`` row decides.
FROM_RECIPE = _FromRecipe()


def config_fields() -> list:
    """`TrainConfig`'s fields that the command line offers."""
    return [f for f in dataclasses.fields(TrainConfig) if f.metadata.get("cli", True)]


def _add_config_flag(parser, field) -> None:
    """``--x-y`` for field ``x_y`` (or ``--FLAG`` from its metadata), with the field's
    default and help."""
    meta = field.metadata
    name = meta.get("flag") or field.name
    help_text = meta["help"]
    if meta.get("switch"):  # off unless given, as its help says
        parser.add_argument("--" + name.replace("_", "-"), dest=field.name,
                            action="store_true", default=field.default, help=help_text)  # fmt: skip
        return
    default = field.default
    if field.name in RECIPE_FIELDS:
        help_text += (
            f" (default: the recipe's; {'none' if default is None else default} with --recipe none)"
        )
        default = FROM_RECIPE
    elif "(default:" not in help_text:
        help_text += f" (default: {'none' if default is None else default})"
    kind = meta.get("parse") or (type(field.default) if field.default is not None else str)
    parser.add_argument(
        "--" + name.replace("_", "-"), dest=field.name, type=text_type(kind),
        default=default, choices=meta.get("choices"), help=help_text,
        metavar=meta.get("metavar") or (None if meta.get("choices") else name.upper()),
    )  # fmt: skip


def add_parser(commands) -> argparse.ArgumentParser:
    from kcnn.data.datasets import DATASETS  # imports NumPy, no Keras

    train = commands.add_parser(
        "train",
        help="train a model and write a run folder",
        description="Train a model and write runs/<model>-<timestamp>/ with config.json, "
        "curves.png, history.json/.csv and report.md (rewritten every epoch), a checkpoint "
        "per epoch, and at the end model.keras, confusion.png and metrics.json. "
        "--resume RUN_DIR continues a killed run from its last checkpoint. The epochs, "
        "batch size, learning rate, optimizer, schedule, label smoothing and augmentation "
        "come from --recipe unless given.",
    )
    train.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue this run folder from its last checkpoint, with its own settings "
        "(flags given here override them, e.g. more --epochs)",
    )
    train.add_argument("--model", default="simple_cnn", help="model name (default: simple_cnn)")
    train.add_argument(
        "--dataset",
        default="digits",
        help=f"{', '.join(DATASETS)}, a .npz file, a folder (IDX files, CIFAR batches or "
        "one sub-folder of images per class), a CSV of filename,label rows, or tfds:NAME "
        "(default: digits)",
    )
    train.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="decode a folder's or CSV's images a batch at a time while training (--stream) "
        "or all into memory first (--no-stream) (default: stream above 4 GiB of pixels)",
    )
    train.add_argument(
        "--image-size",
        type=ints(2, "28,28"),
        help="resize images to HEIGHT,WIDTH, e.g. 28,28 (default: native size)",
    )
    train.add_argument(
        "--validation-split",
        type=text_type(float),
        default=0.1,
        help="fraction of the training set held out for validation (default: 0.1)",
    )
    train.add_argument("--out", default="runs", help="folder for run folders (default: runs)")
    train.add_argument(
        "--recipe",
        choices=RECIPES,
        default="fast",
        help="where the settings not given come from: fast (by training-set size: "
        + "; ".join(_describe_row(row) for row in FAST_RECIPE)
        + ") or none (TrainConfig's defaults) (default: fast)",
    )
    for field in config_fields():
        _add_config_flag(train, field)
    add_group_flags(train)
    train.set_defaults(run=run)
    return train


def _describe_settings(s: dict) -> str:
    """The recipe's settings in words, from a recipe row or a `TrainConfig`'s dict."""
    augment = s["augment"] or "none"
    return (
        f"{s['epochs']} epochs, batch {s['batch_size']}, {s['optimizer']} "
        f"{s['learning_rate']:g} {s['schedule']}, label smoothing {s['label_smoothing']:g}, "
        f"augment {augment if isinstance(augment, str) else ','.join(augment)}"
    )


def _describe_row(row) -> str:
    size = f"up to {row.max_images:,} images" if row.max_images else "more"
    return f"{size}: {_describe_settings(row.settings)}"


def resolve_config(args, num_train: int) -> TrainConfig:
    """The run's `TrainConfig`: the settings given (or stored, on ``--resume``), and for
    each recipe setting left to its default, the ``--recipe`` row for ``num_train``
    training images (``--recipe none``: `TrainConfig`'s default). A resumed run keeps its
    stored settings; one its ``config.json`` lacks takes `TrainConfig`'s default, as
    `TrainConfig.from_dict` reads it."""
    recipe = recipe_settings("none" if getattr(args, "resume", None) else args.recipe, num_train)
    values = {}
    for field in config_fields():
        value = getattr(args, field.name)
        if value is FROM_RECIPE:
            value = recipe.get(field.name, field.default)
        values[field.name] = value
    return TrainConfig(**values)


def stored_defaults(run_dir: str) -> dict:
    """A resumed run's settings as parser defaults (config fields and run flags)."""
    from kcnn.train.run import RunFolder

    stored = RunFolder(run_dir).read_config()
    names = {f.name for f in config_fields()} | set(RUN_FLAGS)
    stored = {"top_k": None, **stored}  # runs from before top_k reported no top-k metric
    return {k: v for k, v in stored.items() if k in names}


def resume_defaults(train_parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Make a resumed run's stored settings ``train_parser``'s defaults when ``argv`` (the
    words after ``train``) has ``--resume``."""
    finder = argparse.ArgumentParser(add_help=False)
    finder.add_argument("--resume")
    found, _ = finder.parse_known_args(argv)
    if found.resume:
        train_parser.set_defaults(**stored_defaults(found.resume))


def run(args) -> int:
    import contextlib

    import keras

    from kcnn.data.datasets import load_dataset
    from kcnn.models.registry import build_model
    from kcnn.train.fit import fit

    strategy = strategy_from(args)  # first, before the backend runs anything
    run_flags = {flag: getattr(args, flag) for flag in RUN_FLAGS}
    if args.resume:
        _check_resumed_model(args.resume, run_flags["model"])
    size = run_flags["image_size"]
    data = load_dataset(
        run_flags["dataset"], validation_split=run_flags["validation_split"], seed=args.seed,
        image_size=tuple(size) if size else None, stream=run_flags["stream"],
    )  # fmt: skip
    config = resolve_config(args, len(data.x_train))
    if strategy is None or strategy.is_chief:
        print(f"{data}  backend={keras.backend.backend()}")
        if not args.resume:
            described = _describe_settings(config.to_dict())
            print(f"settings (recipe {args.recipe}, flags given win): {described}")
        slow = _slow_backend_note()
        if slow:
            print(slow)
    keras.utils.set_random_seed(config.seed)  # the same initial weights in every process
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_model(
            run_flags["model"], input_shape=data.input_shape, num_classes=data.num_classes
        )
    _, path = fit(
        model, data, config, run_dir=None if args.resume else args.out, resume=args.resume,
        run_info={**run_flags, "recipe": args.recipe}, distribute=strategy,
    )  # fmt: skip
    if path is not None:  # process 0 writes and reports
        _report(path)
    return 0


def _slow_backend_note() -> str | None:
    """On JAX without an accelerator: say that TensorFlow and PyTorch train faster there."""
    import keras

    from kcnn._backend import has_gpu

    if keras.backend.backend() != "jax" or has_gpu():
        return None
    return (
        "note: JAX on a CPU runs each convolution on one core; on a 2-core CPU TensorFlow "
        "trained kcnn's models 2x to 3.5x faster and PyTorch 1.3x to 10x (docs: Performance). "
        "Set KERAS_BACKEND=tensorflow or torch to use them."
    )


def _check_resumed_model(run_dir: str, model: str) -> None:
    """A resumed run goes on with its own model: say so before Keras fails to load it."""
    from kcnn.train.run import RunFolder

    stored = RunFolder(run_dir).read_config().get("model")
    if stored is not None and stored != model:
        raise ValueError(
            f"--resume {run_dir} trained --model {stored}; it cannot go on as --model {model}. "
            "Leave --model out to resume, or start a new run."
        )


def _report(path) -> None:
    from kcnn.train.run import load_run

    finished = load_run(path)
    validation = [v for v in finished.history.get("val_accuracy", []) if v == v]
    if validation:
        print(f"best validation accuracy: {max(validation):.4f}")
    if "test_accuracy" in finished.metrics:
        print(f"test accuracy: {finished.metrics['test_accuracy']:.4f}")
    print(f"run folder: {path}")
