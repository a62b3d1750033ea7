"""``kcnn bench``: training images/s per backend, measured side by side."""

from __future__ import annotations

import argparse

from kcnn.cli._common import text_type
from kcnn.train.config import parse_auto_or_bool, parse_auto_or_count

_steps_type = text_type(parse_auto_or_count)
_jit_type = text_type(parse_auto_or_bool)


def add_parser(commands) -> None:
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
    bench.set_defaults(run=run)


def run(args) -> int:
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
        steps_per_execution=values("steps-per-execution", args.steps_per_execution, _steps_type),
        jit_compile=values("jit-compile", args.jit_compile, _jit_type),
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
