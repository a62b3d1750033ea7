"""``kcnn models``: the registered models, their parameters and input sizes."""

from __future__ import annotations


def add_parser(commands) -> None:
    models = commands.add_parser("models", help="list the registered models")
    models.add_argument(
        "--no-params",
        action="store_true",
        help="skip building each model to count its parameters (faster)",
    )
    models.set_defaults(run=run)


def run(args) -> int:
    import keras

    from kcnn.models.params import count_params
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
