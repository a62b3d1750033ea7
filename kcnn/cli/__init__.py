"""The ``kcnn`` command: thin shells over the library functions, one module per command.

kcnn models                       table of registered models
kcnn summary NAME [--input-shape H,W,C] [--num-classes N]
kcnn check-data PATH              list the images of a folder or CSV that cannot be decoded
kcnn train [--model simple_cnn] [--dataset digits] [--epochs 10] ...
kcnn train --resume RUN_DIR       continue a killed run from its last checkpoint
kcnn lr-find [--model simple_cnn] [--dataset digits] [--optimizer adam]   suggest a --lr
kcnn fine-tune RUN [--unfreeze N|all] [--lr 1e-5] [--epochs 5]   phase two of transfer learning
kcnn rf MODEL [--all] [--measure LAYER]     receptive field per layer
kcnn params MODEL                 parameters per layer
kcnn inspect filters|feature-maps|grad-cam|confusion|top-losses MODEL --out PNG
kcnn predict RUN_OR_MODEL IMAGE... [--top-k 3] [--csv out.csv] [--tta]
kcnn evaluate RUN_OR_MODEL [--dataset NAME|PATH] [--split test|val|train] [--out DIR]
kcnn export RUN_OR_MODEL [--format onnx|tf_saved_model|openvino|litert] [--out PATH]
kcnn bench [--model simple_cnn] [--backends tensorflow,jax,torch]   training images/s

Building the parser imports no Keras, so ``kcnn --help`` and ``kcnn COMMAND --help``
answer at once; a command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from kcnn._backend import load_tensorflow_quietly
from kcnn.cli._common import add_group_flags, strategy_from

__all__ = ["COMMANDS", "add_group_flags", "build_parser", "main", "strategy_from"]

#: Command -> the module that adds its parser and runs it, in the order --help lists them.
COMMANDS = {
    "models": "kcnn.cli.models",
    "summary": "kcnn.cli.summary",
    "rf": "kcnn.cli.rf",
    "params": "kcnn.cli.params",
    "inspect": "kcnn.cli.inspect",
    "check-data": "kcnn.cli.check_data",
    "train": "kcnn.cli.train",
    "lr-find": "kcnn.cli.lr_find",
    "fine-tune": "kcnn.cli.fine_tune",
    "predict": "kcnn.cli.predict",
    "evaluate": "kcnn.cli.evaluate",
    "export": "kcnn.cli.export",
    "bench": "kcnn.cli.bench",
}


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``kcnn`` parser; given the command line, a resumed run's settings become
    ``kcnn train``'s defaults."""
    parser = argparse.ArgumentParser(
        prog="kcnn",
        description="Convolutional image classifiers with Keras 3 on TensorFlow, JAX or "
        "PyTorch (choose with the KERAS_BACKEND environment variable).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        sub = importlib.import_module(module).add_parser(commands)
        if name == "train" and argv and argv[0] == "train":
            importlib.import_module(module).resume_defaults(sub, argv[1:])
    return parser


#: Commands that train, so call Keras' set_random_seed.
_SEEDING_COMMANDS = ("train", "lr-find", "fine-tune", "bench")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kcnn`` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # TensorFlow prints its start-up lines (absl, cpu_feature_guard) unless this is set
    # before it loads; a user's own setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        args = build_parser(argv).parse_args(argv)
    except (ValueError, FileNotFoundError) as error:  # an unreadable --resume folder
        print(f"kcnn train: error: {error}", file=sys.stderr)
        return 2
    import kcnn  # noqa: F401  (selects an installed backend before Keras loads)

    # Keras imports TensorFlow with itself on the TensorFlow backend, and in set_random_seed
    # (kcnn.train.fit) on the others: load it first, without its start-up lines, only then.
    if os.environ.get("KERAS_BACKEND") == "tensorflow" or args.command in _SEEDING_COMMANDS:
        load_tensorflow_quietly()

    try:
        return args.run(args)
    # FileNotFoundError and PermissionError (an output that cannot be written) are OSErrors.
    except (ValueError, TypeError, OSError, ImportError) as error:
        cli = getattr(error, "for_command_line", None)
        message = cli() if cli else str(error)
        print(f"kcnn {args.command}: error: {message}", file=sys.stderr)
        return 2
    # A diverged run or a benchmark worker that failed or hung: the message says which.
    except (RuntimeError, TimeoutError) as error:
        print(f"kcnn {args.command}: {error}", file=sys.stderr)
        return 1
