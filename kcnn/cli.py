"""The ``kcnn`` command: thin shells over the library functions.

kcnn models                       table of registered models
kcnn summary NAME [--input-shape H,W,C] [--num-classes N]
kcnn train [--model simple_cnn] [--dataset digits] [--epochs 10] ...
kcnn train --resume RUN_DIR       continue a killed run from its last checkpoint
kcnn rf MODEL [--all] [--measure LAYER]     receptive field per layer
kcnn params MODEL                 parameters per layer
kcnn inspect filters|feature-maps|grad-cam|confusion|top-losses MODEL --out PNG
kcnn bench [--model simple_cnn] [--backends tensorflow,jax,torch]   training images/s
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


def _steps(text: str):
    """``auto`` or a whole number >= 1 (argparse type of --steps-per-execution)."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected auto or an integer >= 1; received {text!r}")
    return value


def _jit(text: str):
    """``auto``, ``true`` or ``false`` (argparse type of --jit-compile)."""
    choices = {"auto": "auto", "true": True, "false": False}
    if text.lower() not in choices:
        raise argparse.ArgumentTypeError(f"expected auto, true or false; received {text!r}")
    return choices[text.lower()]


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

    model_help = (
        "a registered model name, a .keras file, or a run folder (its model.keras; "
        "`kcnn inspect` also reloads the run's data set)"
    )
    rf = commands.add_parser(
        "rf",
        help="receptive field of every layer: kernel, stride, jump, field size",
        description="Receptive field of every layer, with r_l = r_(l-1) + (k_l - 1) * "
        "j_(l-1) and the jump j_l = j_(l-1) * s_l. By default only the layers that change "
        "it are listed.",
    )
    rf.add_argument("model", help=model_help)
    rf.add_argument("--input-shape", type=_ints(3, "28,28,1"), help="image shape, e.g. 64,64,3")
    rf.add_argument("--all", action="store_true", help="list every layer")
    rf.add_argument("--markdown", action="store_true", help="print a Markdown table")
    rf.add_argument(
        "--measure",
        metavar="LAYER",
        help="also measure LAYER's field by back-propagating from its centre unit",
    )

    params = commands.add_parser("params", help="parameters per layer, trainable and not")
    params.add_argument("model", help=model_help)
    params.add_argument("--input-shape", type=_ints(3, "28,28,1"), help="image shape")
    params.add_argument("--markdown", action="store_true", help="print a Markdown table")

    inspect = commands.add_parser(
        "inspect",
        help="pictures of a trained model: filters, feature maps, Grad-CAM, confusion, top losses",
        description="Draw one picture of a model into a PNG. MODEL is usually a run folder "
        "from `kcnn train`, whose data set is reloaded; otherwise give --dataset.",
    )
    inspect.add_argument(
        "what", choices=("filters", "feature-maps", "grad-cam", "confusion", "top-losses")
    )
    inspect.add_argument("model", help=model_help)
    inspect.add_argument("--out", help="the PNG to write (default: <what>.png)")
    inspect.add_argument("--dataset", help="data set (default: the run's, else digits)")
    inspect.add_argument(
        "--split", default="test", choices=("train", "val", "test"), help="(default: test)"
    )
    inspect.add_argument(
        "--index", type=int, default=0, help="image of the split for feature-maps and grad-cam"
    )
    inspect.add_argument("--layer", help="the layer to show (default: chosen per picture)")
    inspect.add_argument("--class-index", type=int, help="Grad-CAM's class (default: predicted)")
    inspect.add_argument("-k", type=int, default=9, help="how many top losses (default: 9)")
    inspect.add_argument("--normalize", action="store_true", help="confusion as row fractions")

    train = commands.add_parser(
        "train",
        help="train a model and write a run folder",
        description="Train a model and write runs/<model>-<timestamp>/ with config.json, "
        "curves.png, history.json/.csv and report.md (rewritten every epoch), a checkpoint "
        "per epoch, and at the end model.keras, confusion.png and metrics.json. "
        "--resume RUN_DIR continues a killed run from its last checkpoint.",
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
        "randaugment), a transform, or comma-separated transforms, e.g. crop,cutout "
        "(default: none); "
        "transforms that break the data set's labels are refused",
    )
    train.add_argument("--epochs", type=int, default=10, help="epochs (default: 10)")
    train.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    train.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 1e-3)")
    train.add_argument(
        "--lr-scaling",
        default="none",
        choices=("none", "linear", "sqrt"),
        help="scale --lr by batch size / --lr-base-batch (linear) or its square root "
        "(default: none)",
    )
    train.add_argument(
        "--lr-base-batch",
        type=int,
        default=256,
        help="the batch size --lr was chosen for, with --lr-scaling (default: 256)",
    )
    train.add_argument("--optimizer", default="adam", help="adam, adamw or sgd (default: adam)")
    train.add_argument(
        "--schedule",
        default="constant",
        help="learning-rate schedule: constant, cosine, onecycle or step (default: constant)",
    )
    train.add_argument(
        "--warmup-epochs",
        type=float,
        default=0.0,
        help="linear warmup epochs for constant and cosine (default: 0)",
    )
    train.add_argument(
        "--weight-decay", type=float, default=1e-4, help="for adamw and sgd (default: 1e-4)"
    )
    train.add_argument(
        "--label-smoothing", type=float, default=0.0, help="label smoothing (default: 0)"
    )
    train.add_argument(
        "--early-stopping",
        metavar="PATIENCE",
        help="stop after this many epochs without a better validation loss and keep the "
        "best weights: a number, quick (3), default (5) or patient (10) (default: off)",
    )
    train.add_argument(
        "--mixed-precision",
        action="store_true",
        help="16-bit compute with float32 weights (float16 on a GPU, bfloat16 otherwise)",
    )
    train.add_argument(
        "--steps-per-execution",
        type=_steps,
        default="auto",
        help="training steps per call of the train function; auto: 4 for TensorFlow on a "
        "CPU, else 1 (default: auto; see `kcnn bench`)",
    )
    train.add_argument(
        "--jit-compile",
        type=_jit,
        default="auto",
        help="XLA compilation: auto (Keras' choice), true or false (default: auto)",
    )
    train.add_argument(
        "--data-path",
        default="device",
        choices=("device", "tf.data"),
        help="where batches are made and augmented (default: device)",
    )
    train.add_argument(
        "--validation-split",
        type=float,
        default=0.1,
        help="fraction of the training set held out for validation (default: 0.1)",
    )
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--out", default="runs", help="folder for run folders (default: runs)")
    scale = train.add_argument_group(
        "several devices (JAX or TensorFlow; see the docs' Training on many devices)"
    )
    scale.add_argument(
        "--devices",
        help="train data-parallel on this process's devices: all, a count (on a CPU-only "
        "machine, the CPU split in that many devices) or names such as gpu:0,gpu:1; with "
        "several processes, all; --batch-size is the global batch (default: one device, "
        "or all when $KERAS_DISTRIBUTION_NUM_PROCESSES or, on TensorFlow, $TF_CONFIG is set)",
    )
    scale.add_argument(
        "--addresses",
        metavar="HOST:PORT[,...]",
        help="several processes: process 0's address first (JAX needs only it; TensorFlow "
        "needs every process's) (default: $KERAS_DISTRIBUTION_JOB_ADDRESSES)",
    )
    scale.add_argument(
        "--num-processes",
        type=int,
        help="processes taking part (default: $KERAS_DISTRIBUTION_NUM_PROCESSES, else 1)",
    )
    scale.add_argument(
        "--process-id",
        type=int,
        help="this process's rank, 0 writes the run folder "
        "(default: $KERAS_DISTRIBUTION_PROCESS_ID)",
    )
    train.add_argument(
        "--verbose", type=int, default=1, choices=(0, 1, 2), help="Keras progress output"
    )

    bench = commands.add_parser(
        "bench",
        help="training images/s per backend, measured side by side",
        description="Measure training throughput (images/s after warm-up; step time; the "
        "warm-up's compile time; peak memory) and the input pipeline's images/s, for kcnn on "
        "each backend and optional baselines. Each contender runs in its own process; their "
        "epochs take turns, so every ratio is measured in the same minutes of the same "
        "machine. Comma-separated values of --batch-size, --steps-per-execution, "
        "--jit-compile and --data-path make a sweep. Prints a table and writes JSON.",
    )
    bench.add_argument(
        "--model",
        default="simple_cnn",
        help="comma-separated: lenet5, simple_cnn, resnet20, resnet18 (default: simple_cnn)",
    )
    bench.add_argument(
        "--backends", default="tensorflow,jax,torch", help="(default: tensorflow,jax,torch)"
    )
    bench.add_argument("--batch-size", default="128", help="one or more (default: 128)")
    bench.add_argument(
        "--steps-per-execution",
        default="auto",
        help="one or more; auto is kcnn's choice per backend (default: auto)",
    )
    bench.add_argument(
        "--jit-compile", default="auto", help="auto, true or false; one or more (default: auto)"
    )
    bench.add_argument(
        "--data-path", default="device", help="device or tf.data; one or more (default: device)"
    )
    bench.add_argument("--images", type=int, help="images per epoch (default: per model)")
    bench.add_argument("--repeats", type=int, default=3, help="timed epochs each (default: 3)")
    bench.add_argument("--warmup", type=int, default=1, help="untimed epochs first (default: 1)")
    bench.add_argument(
        "--pipeline",
        default="flip_crop",
        help="augmentation policy whose input pipeline is timed; none to skip (default: flip_crop)",
    )
    bench.add_argument(
        "--baselines",
        metavar="DIR",
        help="also measure the baselines in DIR: keras_baseline.py (plain Keras, each "
        "backend) and torch_baseline.py (a hand-written PyTorch loop), such as the "
        "repository's benchmarks/baselines",
    )
    bench.add_argument(
        "--torch-compile", action="store_true", help="with --baselines: add torch.compile"
    )
    bench.add_argument("--out", help="JSON file to write (default: runs/bench-<time>.json)")
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
        model = builder(**getattr(builder, "listing_kwargs", {}))
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


def _resolve_model(text: str, input_shape=None):
    """A model from a registered name, a ``.keras`` file or a run folder, and the run's
    ``config.json`` (empty unless a run folder was given)."""
    import json
    from pathlib import Path

    import keras

    from kcnn.models.registry import build_model, list_models

    path = Path(text)
    config = {}
    if path.is_dir():
        if not (path / "model.keras").is_file():
            raise FileNotFoundError(
                f"{text!r} is a folder without a model.keras: give a finished run folder, a "
                ".keras file or a model name."
            )
        if (path / "config.json").is_file():
            config = json.loads((path / "config.json").read_text())
        path = path / "model.keras"
    if path.is_file():
        return keras.saving.load_model(path, safe_mode=True), config
    if text in list_models():
        return build_model(text, **({"input_shape": input_shape} if input_shape else {})), {}
    raise ValueError(
        f"MODEL must be a registered model name, a .keras file or a run folder. "
        f"Received: {text!r}. Registered models: {', '.join(list_models())}."
    )


def _cmd_rf(args) -> int:
    from kcnn.inspect.receptive_field import measure_receptive_field, receptive_field

    model, _ = _resolve_model(args.model, args.input_shape)
    table = receptive_field(model, input_shape=args.input_shape)
    spatial_only = not args.all
    print(table.to_markdown(spatial_only) if args.markdown else table.to_text(spatial_only))
    if args.measure:
        print(measure_receptive_field(model, args.measure, input_shape=args.input_shape))
    return 0


def _cmd_params(args) -> int:
    from kcnn.inspect.counts import param_report

    model, _ = _resolve_model(args.model, args.input_shape)
    report = param_report(model)
    print(report.to_markdown() if args.markdown else report.to_text())
    return 0


def _cmd_inspect(args) -> int:
    from kcnn.data.datasets import load_dataset
    from kcnn.inspect import visualize

    model, run = _resolve_model(args.model)
    out = args.out or f"{args.what}.png"
    if args.what == "filters":
        visualize.plot_filters(model, layer=args.layer, path=out)
        print(f"wrote {out}")
        return 0
    name = args.dataset or run.get("dataset") or "digits"
    size = run.get("image_size") if not args.dataset else None
    try:
        data = load_dataset(
            name,
            validation_split=run.get("validation_split", 0.1),
            seed=run.get("seed", 0),
            image_size=tuple(size) if size else None,
        )
    except ValueError as error:
        if args.dataset:
            raise
        raise ValueError(
            f"The run's data set {name!r} cannot be reloaded by name ({error}); pass --dataset."
        ) from None
    x = {"train": data.x_train, "val": data.x_val, "test": data.x_test}[args.split]
    if args.what in ("feature-maps", "grad-cam") and not 0 <= args.index < len(x):
        raise ValueError(
            f"--index must be in [0, {len(x)}) for the {args.split} split of {data.name}. "
            f"Received: --index {args.index}"
        )
    if args.what == "feature-maps":
        layers = [args.layer] if args.layer else None
        visualize.plot_feature_maps(model, x[args.index], layers=layers, path=out)
    elif args.what == "grad-cam":
        visualize.plot_grad_cam(
            model, x[args.index], class_index=args.class_index, layer=args.layer, path=out,
            class_names=data.class_names,
        )  # fmt: skip
    elif args.what == "confusion":
        visualize.confusion_matrix_plot(
            model, data, split=args.split, path=out, normalize=args.normalize
        )
    else:
        worst = visualize.top_losses(model, data, k=args.k, split=args.split)
        print(worst)
        worst.plot(data, path=out)
    print(f"wrote {out}")
    return 0


#: kcnn train's flags that are TrainConfig fields, and the field each sets.
_CONFIG_FLAGS = {
    "epochs": "epochs", "batch_size": "batch_size", "lr": "learning_rate",
    "optimizer": "optimizer", "schedule": "schedule", "warmup_epochs": "warmup_epochs",
    "weight_decay": "weight_decay", "label_smoothing": "label_smoothing",
    "augment": "augment", "early_stopping": "early_stopping", "seed": "seed",
    "mixed_precision": "mixed_precision", "verbose": "verbose",
    "steps_per_execution": "steps_per_execution", "jit_compile": "jit_compile",
    "data_path": "data_path", "lr_scaling": "lr_scaling", "lr_base_batch": "lr_base_batch",
}  # fmt: skip
#: Flags that say how to rebuild the model and reload the data; stored in config.json.
_RUN_FLAGS = ("model", "dataset", "image_size", "validation_split")


def _flag_values(args, parser_defaults: dict) -> dict:
    """The flags given on the command line (those that differ from their defaults)."""
    return {k: v for k, v in vars(args).items() if parser_defaults.get(k, object()) != v}


def _cmd_train(args) -> int:
    import contextlib
    import json

    import keras

    from kcnn import distribute
    from kcnn.data.datasets import load_dataset
    from kcnn.models.registry import build_model
    from kcnn.train.fit import TrainConfig, fit, read_run_config

    if args.augment and "," in args.augment:
        args.augment = args.augment.split(",")
    if args.early_stopping is not None and args.early_stopping.isdigit():
        args.early_stopping = int(args.early_stopping)
    # First, before the backend runs anything: device counts and collectives are fixed when
    # it starts.
    strategy = distribute.from_settings(
        args.devices,
        addresses=args.addresses,
        num_processes=args.num_processes,
        process_id=args.process_id,
    )
    given = _flag_values(args, args.defaults)
    values = {field: getattr(args, flag) for flag, field in _CONFIG_FLAGS.items()}
    run = {flag: getattr(args, flag) for flag in _RUN_FLAGS}
    if args.resume:
        stored = read_run_config(args.resume)
        values = {
            field: given.get(flag, stored.get(field, values[field]))
            for flag, field in _CONFIG_FLAGS.items()
        }
        run = {flag: given.get(flag, stored.get(flag, run[flag])) for flag in _RUN_FLAGS}
    config = TrainConfig(**values)
    data = load_dataset(
        run["dataset"],
        validation_split=run["validation_split"],
        seed=config.seed,
        image_size=tuple(run["image_size"]) if run["image_size"] else None,
    )
    chief = strategy is None or strategy.is_chief
    if chief:
        print(f"{data}  backend={keras.backend.backend()}")
    keras.utils.set_random_seed(config.seed)  # the same initial weights in every process
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_model(
            run["model"], input_shape=data.input_shape, num_classes=data.num_classes
        )
    _, path = fit(
        model,
        data,
        config,
        run_dir=None if args.resume else args.out,
        resume=args.resume,
        run_info=run,
        distribute=strategy,
    )
    if path is None:  # not process 0: it writes and reports
        return 0
    metrics = json.loads((path / "metrics.json").read_text())
    history = json.loads((path / "history.json").read_text())
    if history.get("val_accuracy"):
        print(f"best validation accuracy: {max(v for v in history['val_accuracy'] if v):.4f}")
    if "test_accuracy" in metrics:
        print(f"test accuracy: {metrics['test_accuracy']:.4f}")
    print(f"run folder: {path}")
    return 0


def _cmd_bench(args) -> int:
    import time
    from pathlib import Path

    from kcnn import bench

    def values(flag, text, convert):
        try:
            return tuple(convert(part.strip()) for part in text.split(",") if part.strip())
        except (ValueError, argparse.ArgumentTypeError) as error:
            detail = str(error) if convert is not int else f"could not read {text!r}"
            raise ValueError(f"--{flag}: {detail}") from None

    backends = values("backends", args.backends, str)
    unknown = sorted(set(backends) - set(bench.BACKENDS))
    if unknown:
        raise ValueError(f"--backends: unknown {unknown}; expected some of {list(bench.BACKENDS)}")
    contenders = bench.kcnn_contenders(
        backends,
        batch_sizes=values("batch-size", args.batch_size, int),
        steps_per_execution=values("steps-per-execution", args.steps_per_execution, _steps),
        jit_compile=values("jit-compile", args.jit_compile, _jit),
        data_paths=values("data-path", args.data_path, str),
    )
    if args.baselines:
        contenders += bench.baseline_contenders(
            args.baselines, backends, batch_size=contenders[0].batch_size,
            torch_compile=args.torch_compile,
        )  # fmt: skip
    report = bench.benchmark(
        values("model", args.model, str),
        contenders,
        images=args.images,
        repeats=args.repeats,
        warmup=args.warmup,
        pipeline=None if args.pipeline == "none" else args.pipeline,
    )
    print(bench.format_report(report))
    out = Path(args.out or f"runs/bench-{time.strftime('%Y%m%d-%H%M%S')}.json")
    bench.write_report(report, out)
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``kcnn`` command."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":
        args.defaults = vars(parser.parse_args(["train"]))
    import kcnn  # noqa: F401  (selects an installed backend before Keras loads)

    handler = {
        "models": _cmd_models, "summary": _cmd_summary, "train": _cmd_train, "rf": _cmd_rf,
        "params": _cmd_params, "inspect": _cmd_inspect, "bench": _cmd_bench,
    }  # fmt: skip
    try:
        return handler[args.command](args)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as error:
        print(f"kcnn {args.command}: error: {error}", file=sys.stderr)
        return 2
    # A diverged run or a benchmark worker that failed or hung: the message says which.
    except (RuntimeError, TimeoutError) as error:
        print(f"kcnn {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
