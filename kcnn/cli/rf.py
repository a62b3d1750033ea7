"""``kcnn rf``: the receptive field of every layer."""

from __future__ import annotations

from kcnn.cli._common import MODEL_HELP, ints, resolve_model


def add_parser(commands) -> None:
    rf = commands.add_parser(
        "rf",
        help="receptive field of every layer: kernel, stride, jump, field size",
        description="Receptive field of every layer, with r_l = r_(l-1) + (k_l - 1) * "
        "j_(l-1) and the jump j_l = j_(l-1) * s_l. By default only the layers that change "
        "it are listed.",
    )
    rf.add_argument("model", help=MODEL_HELP)
    rf.add_argument("--input-shape", type=ints(3, "28,28,1"), help="image shape, e.g. 64,64,3")
    rf.add_argument("--all", action="store_true", help="list every layer")
    rf.add_argument("--markdown", action="store_true", help="print a Markdown table")
    rf.add_argument(
        "--measure",
        metavar="LAYER",
        help="also measure LAYER's field by back-propagating from its centre unit",
    )
    rf.set_defaults(run=run)


def run(args) -> int:
    from kcnn.inspect.receptive_field import measure_receptive_field, receptive_field

    model, _ = resolve_model(args.model, args.input_shape)
    table = receptive_field(model, input_shape=args.input_shape)
    spatial_only = not args.all
    print(table.to_markdown(spatial_only) if args.markdown else table.to_text(spatial_only))
    if args.measure:
        print(measure_receptive_field(model, args.measure, input_shape=args.input_shape))
    return 0
