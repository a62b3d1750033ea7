"""Data sets, augmentation policies and input pipelines.

Names load on first use (`kcnn._lazy`), so that ``kcnn.data.datasets`` and
``kcnn.data.formats`` can be imported without Keras (the command line reads the data set
names from them); ``augment`` and ``pipeline`` import Keras when first used.
"""

from kcnn._lazy import lazy_package

_EXPORTS = {
    "Contract": "kcnn.data.contract:Contract",
    "DATASETS": "kcnn.data.datasets:DATASETS",
    "Dataset": "kcnn.data.datasets:Dataset",
    "ImageArray": "kcnn.data.arrays:ImageArray",
    "ImageFiles": "kcnn.data.stream:ImageFiles",
    "Images": "kcnn.data.arrays:Images",
    "InputPipeline": "kcnn.data.pipeline:InputPipeline",
    "POLICIES": "kcnn.data.augment:POLICIES",
    "RandomPadCrop": "kcnn.data.augment:RandomPadCrop",
    "RandomResizedCrop": "kcnn.data.augment:RandomResizedCrop",
    "TRANSFORMS": "kcnn.data.augment:TRANSFORMS",
    "augmentation": "kcnn.data.augment:augmentation",
    "channel_stats": "kcnn.data.pipeline:channel_stats",
    "far_context_task": "kcnn.data.synthetic:far_context_task",
    "load_dataset": "kcnn.data.datasets:load_dataset",
    "make_pipeline": "kcnn.data.pipeline:make_pipeline",
    "needs_one_hot": "kcnn.data.augment:needs_one_hot",
    "pixel_permutation": "kcnn.data.synthetic:pixel_permutation",
    "read_cifar_batch": "kcnn.data.formats:read_cifar_batch",
    "read_contract": "kcnn.data.contract:read_contract",
    "read_idx": "kcnn.data.formats:read_idx",
    "read_image_folder": "kcnn.data.formats:read_image_folder",
    "read_npz": "kcnn.data.formats:read_npz",
    "shuffle_pixels": "kcnn.data.synthetic:shuffle_pixels",
    "verify_images": "kcnn.data.stream:verify_images",
}
__all__ = sorted(_EXPORTS)

# The submodules stay reachable as attributes (``kcnn.data.pipeline.PATHS``), as when this
# package imported them all; they are not exported names.
_SUBMODULES = {
    name: f"kcnn.data.{name}"
    for name in (
        "arrays",
        "augment",
        "batching",
        "contract",
        "datasets",
        "formats",
        "pipeline",
        "sources",
        "stream",
        "synthetic",
    )  # fmt: skip
}

lazy_package(__name__, {**_EXPORTS, **_SUBMODULES})
