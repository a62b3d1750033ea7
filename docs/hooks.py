"""mkdocs hooks: fill the Models page with a table generated from kcnn's registry, and the
Performance page with the newest measurements in ``benchmarks/results/``."""

from __future__ import annotations

import sys
from pathlib import Path

PLACEHOLDER = "<!-- models-table -->"
RESULTS_PLACEHOLDER = "<!-- performance-results -->"
BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


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


def _report():
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    import report

    return report


def on_files(files, config):
    """Publish the plots of the newest results under ``performance/``."""
    from mkdocs.structure.files import File

    images = set()
    for path in _report().latest(BENCHMARKS / "results").values():
        images.update(path.parent.glob(path.stem + "*.png"))
    for image in sorted(images):
        file = File(
            f"performance/{image.name}",
            src_dir=None,
            dest_dir=config["site_dir"],
            use_directory_urls=config["use_directory_urls"],
        )
        file.abs_src_path = str(image)
        files.append(file)
    return files


def on_page_markdown(markdown, page, config, files):
    if PLACEHOLDER in markdown:
        return markdown.replace(PLACEHOLDER, _models_table())
    if RESULTS_PLACEHOLDER in markdown:
        return markdown.replace(
            RESULTS_PLACEHOLDER, _report().markdown(BENCHMARKS / "results", "performance/")
        )
    return markdown
