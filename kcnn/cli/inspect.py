"""``kcnn inspect``: one picture of a trained model, into a PNG."""

from __future__ import annotations

from kcnn.cli._common import MODEL_HELP, resolve_model

PICTURES = ("filters", "feature-maps", "grad-cam", "confusion", "top-losses")


def add_parser(commands) -> None:
    inspect = commands.add_parser(
        "inspect",
        help="pictures of a trained model: filters, feature maps, Grad-CAM, confusion, top losses",
        description="Draw one picture of a model into a PNG. MODEL is usually a run folder "
        "from `kcnn train`, whose data set is reloaded; otherwise give --dataset.",
    )
    inspect.add_argument("what", choices=PICTURES)
    inspect.add_argument("model", help=MODEL_HELP)
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
    inspect.set_defaults(run=run)


def _data(args, run):
    """The data set to draw from: --dataset, else the run's own (reloaded as it was)."""
    from kcnn.data.datasets import load_dataset

    name = args.dataset or (run.config.get("dataset") if run else None) or "digits"
    settings = run.data_settings() if run else {"validation_split": 0.1, "seed": 0}
    if args.dataset:
        settings.pop("image_size", None)
    try:
        return load_dataset(name, **settings)
    except ValueError as error:
        if args.dataset:
            raise
        raise ValueError(
            f"The run's data set {name!r} cannot be reloaded by name ({error}); pass --dataset."
        ) from None


def run(args) -> int:
    from kcnn import inspect

    model, folder = resolve_model(args.model)
    out = args.out or f"{args.what}.png"
    if args.what == "filters":
        inspect.plot_filters(model, layer=args.layer, path=out)
        print(f"wrote {out}")
        return 0
    data = _data(args, folder)
    x = {"train": data.x_train, "val": data.x_val, "test": data.x_test}[args.split]
    if args.what in ("feature-maps", "grad-cam") and not 0 <= args.index < len(x):
        raise ValueError(
            f"--index must be in [0, {len(x)}) for the {args.split} split of {data.name}. "
            f"Received: --index {args.index}"
        )
    if args.what == "feature-maps":
        layers = [args.layer] if args.layer else None
        inspect.plot_feature_maps(model, x[args.index], layers=layers, path=out)
    elif args.what == "grad-cam":
        inspect.plot_grad_cam(
            model, x[args.index], class_index=args.class_index, layer=args.layer, path=out,
            class_names=data.class_names,
        )  # fmt: skip
    elif args.what == "confusion":
        inspect.confusion_matrix_plot(
            model, data, split=args.split, path=out, normalize=args.normalize
        )
    else:
        worst = inspect.top_losses(model, data, k=args.k, split=args.split)
        print(worst)
        worst.plot(data, path=out)
    print(f"wrote {out}")
    return 0
