"""What the commands share: argparse types, the model argument, the group flags, and the
error messages. Nothing here imports Keras: ``kcnn --help`` must answer at once."""

from __future__ import annotations

import argparse

MODEL_HELP = (
    "a registered model name, a .keras file, or a run folder (its model.keras; "
    "`kcnn inspect` also reloads the run's data set)"
)


def ints(count: int, example: str):
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


#: What the message of a bad value says was expected, for the plain readers.
_EXPECTED = {int: "an integer", float: "a number"}


def text_type(parse):
    """An argparse type from a text-to-value function that raises ValueError; argparse
    adds the flag's name to the message."""

    def convert(text: str):
        try:
            return parse(text)
        except ValueError as error:
            if parse in _EXPECTED:
                message = f"expected {_EXPECTED[parse]}; received {text!r}"
            else:
                message = str(error) or f"cannot read {text!r}"
            raise argparse.ArgumentTypeError(message) from None

    convert.__name__ = getattr(parse, "__name__", "value").lstrip("_")
    return convert


def add_group_flags(parser: argparse.ArgumentParser, title: str | None = None):
    """The flags that train on several devices and processes (``kcnn train`` and the
    recipes share them): --devices, --addresses, --num-processes, --process-id."""
    group = parser.add_argument_group(
        title or "several devices (JAX or TensorFlow; see the docs' Training on many devices)"
    )
    group.add_argument(
        "--devices",
        help="train data-parallel on this process's devices: all, a count (on a CPU-only "
        "machine, the CPU split in that many devices) or names such as gpu:0,gpu:1; with "
        "several processes, all; --batch-size is the global batch (default: one device, "
        "or all when $KERAS_DISTRIBUTION_NUM_PROCESSES or, on TensorFlow, $TF_CONFIG is set)",
    )
    group.add_argument(
        "--addresses",
        metavar="HOST:PORT[,...]",
        help="several processes: process 0's address first (JAX needs only it; TensorFlow "
        "needs every process's) (default: $KERAS_DISTRIBUTION_JOB_ADDRESSES)",
    )
    group.add_argument(
        "--num-processes",
        type=int,
        help="processes taking part (default: $KERAS_DISTRIBUTION_NUM_PROCESSES, else 1)",
    )
    group.add_argument(
        "--process-id",
        type=int,
        help="this process's rank, 0 writes the run folder "
        "(default: $KERAS_DISTRIBUTION_PROCESS_ID)",
    )
    return group


def strategy_from(args):
    """The `kcnn.distribute` strategy the group flags ask for (None: one device). Call it
    before the backend runs anything: device counts and collectives are fixed then."""
    from kcnn import distribute

    return distribute.from_settings(
        args.devices,
        addresses=args.addresses,
        num_processes=args.num_processes,
        process_id=args.process_id,
    )


def resolve_model(text: str, input_shape=None):
    """A model from a registered name, a ``.keras`` file or a run folder, and the `Run`
    (None unless a run folder was given)."""
    from pathlib import Path

    import keras

    import kcnn
    from kcnn.models.registry import build_model, list_models
    from kcnn.train.run import MODEL, load_run

    path = Path(text)
    if path.is_dir():
        if not (path / MODEL).is_file():
            raise FileNotFoundError(
                f"{text!r} is a folder without a {MODEL}: give a finished run folder, a "
                ".keras file or a model name."
            )
        if (path / "config.json").is_file():
            run = load_run(path)
            return run.load_model(), run
        path = path / MODEL
    if path.is_file():
        kcnn.load_all()  # kcnn's layers must be registered before Keras reads the file
        return keras.saving.load_model(path, safe_mode=True), None
    if text in list_models():
        return build_model(text, **({"input_shape": input_shape} if input_shape else {})), None
    raise ValueError(
        f"MODEL must be a registered model name, a .keras file or a run folder. "
        f"Received: {text!r}. Registered models: {', '.join(list_models())}."
    )
