"""``kcnn params``: parameters per layer, trainable and not."""

from __future__ import annotations

from kcnn.cli._common import MODEL_HELP, ints, resolve_model


def add_parser(commands) -> None:
    params = commands.add_parser("params", help="parameters per layer, trainable and not")
    params.add_argument("model", help=MODEL_HELP)
    params.add_argument("--input-shape", type=ints(3, "28,28,1"), help="image shape")
    params.add_argument("--markdown", action="store_true", help="print a Markdown table")
    params.set_defaults(run=run)


def run(args) -> int:
    from kcnn.inspect.counts import param_report

    model, _ = resolve_model(args.model, args.input_shape)
    report = param_report(model)
    print(report.to_markdown() if args.markdown else report.to_text())
    return 0
