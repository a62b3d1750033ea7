"""mkdocs hook: fill the Models page with a table generated from kcnn's registry."""

from __future__ import annotations

PLACEHOLDER = "<!-- models-table -->"


def _models_table() -> str:
    import keras

    import kcnn
    from kcnn.inspect import count_params
    from kcnn.models.registry import get_model_builder

    rows = [
        "| name | trainable parameters | default input | description |",
        "|---|---:|---|---|",
    ]
    for name in kcnn.list_models():
        builder = get_model_builder(name)
        model = builder(**getattr(builder, "listing_kwargs", {}))
        shape = "x".join(str(d) for d in model.input_shape[1:])
        description = (builder.__doc__ or "").strip().splitlines()[0]
        rows.append(
            f"| `{name}` | {count_params(model)['trainable']:,} | {shape} | {description} |"
        )
        del model
        keras.backend.clear_session()
    return "\n".join(rows)


def on_page_markdown(markdown, page, config, files):
    if PLACEHOLDER in markdown:
        return markdown.replace(PLACEHOLDER, _models_table())
    return markdown
