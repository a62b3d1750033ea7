"""``kcnn summary``: a model's layers, output shapes and parameters."""

from __future__ import annotations

from kcnn.cli._common import ints


def add_parser(commands) -> None:
    summary = commands.add_parser("summary", help="print a model's layers, shapes and parameters")
    summary.add_argument("name", help="a registered model name (see `kcnn models`)")
    summary.add_argument("--input-shape", type=ints(3, "28,28,1"), help="image shape, e.g. 28,28,1")
    summary.add_argument("--num-classes", type=int, help="number of classes")
    summary.set_defaults(run=run)


def run(args) -> int:
    from kcnn.models.params import count_params
    from kcnn.models.registry import build_model

    kwargs = {}
    if args.input_shape:
        kwargs["input_shape"] = args.input_shape
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    model = build_model(args.name, **kwargs)
    model.summary()
    print(f"trainable parameters: {count_params(model)['trainable']:,}")
    return 0
