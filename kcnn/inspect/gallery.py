"""The augmentation gallery: a data set's images next to what an augmentation policy makes of
them, soft labels included."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from kcnn._validate import check_int
from kcnn.plots import figure, finish

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from kcnn.data.datasets import Dataset


def _augmented_rows(pipeline, images: np.ndarray, labels, repeats: int) -> list:
    """``[(images, None), (augmented, soft labels), ...]``: the originals, then ``repeats``
    passes of ``pipeline`` over them."""
    import keras

    rows = [(images, None)]
    for _ in range(repeats):
        batch = {"images": keras.ops.convert_to_tensor(images), "labels": labels}
        out = pipeline(batch, training=True)
        rows.append(
            (keras.ops.convert_to_numpy(out["images"]), keras.ops.convert_to_numpy(out["labels"]))
        )
    return rows


def _draw_gallery(dataset: Dataset, index: np.ndarray, rows: list, mixing: bool) -> Figure:
    """One column per image, one row per pass; mixed images titled with their two largest
    label weights."""
    import keras

    channels_first = keras.config.image_data_format() == "channels_first"
    n = len(index)
    fig = figure((1.6 * n, 1.75 * len(rows)), layout=None)
    axes = fig.subplots(len(rows), n, squeeze=False)
    for r, (batch, soft) in enumerate(rows):
        for c in range(n):
            ax = axes[r][c]
            image = np.transpose(batch[c], (1, 2, 0)) if channels_first else batch[c]
            image = np.clip(image, 0.0, 1.0)
            if image.shape[-1] == 1:
                ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(image)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(dataset.class_names[int(dataset.y_train[index[c]])], fontsize=8)
            elif mixing:
                top = np.argsort(soft[c])[::-1][:2]
                ax.set_xlabel(
                    " + ".join(
                        f"{soft[c][t]:.2f} {dataset.class_names[t]}"
                        for t in top
                        if soft[c][t] > 0.005
                    ),
                    fontsize=6,
                )
        axes[r][0].set_ylabel("original" if r == 0 else f"augmented {r}", fontsize=8)
    return fig


def augmentation_gallery(
    dataset: Dataset,
    policy: str | Sequence = "flip_crop",
    path: str | os.PathLike | None = None,
    num_images: int = 8,
    repeats: int = 3,
    seed: int = 0,
    allow: Sequence[str] = (),
) -> Figure:
    """A grid of original images in the top row and augmented versions below.

    For MixUp and CutMix, each augmented image is titled with its two largest label weights,
    so the soft labels are visible too.

    Args:
        dataset: a `kcnn.data.Dataset`; its label rules are checked.
        policy: a policy name, a list of transforms, or a `keras.layers.Pipeline`.
            Defaults to ``"flip_crop"``.
        path: where to write the PNG. Defaults to None (no file).
        num_images: columns: how many training images to show. Defaults to 8.
        repeats: rows of augmented versions. Defaults to 3.
        seed: seed of the image choice and the augmentation. Defaults to 0.
        allow: label rules to override (see `kcnn.data.augmentation`). Defaults to none.

    Returns:
        The matplotlib `Figure` (written to ``path`` when one is given).

    Example:
        ```python
        data = kcnn.data.load_dataset("fashion_mnist")
        kcnn.inspect.augmentation_gallery(data, "flip_crop", "flip_crop.png")
        ```
    """
    import keras

    from kcnn.data.augment import augmentation, needs_one_hot

    check_int("num_images", num_images, minimum=1)
    check_int("repeats", repeats, minimum=1)
    if isinstance(policy, keras.layers.Pipeline):
        pipeline = policy
    else:
        pipeline = augmentation(policy, dataset, seed=seed, allow=allow)
    rng = np.random.default_rng(seed)
    index = rng.choice(
        len(dataset.x_train), size=min(num_images, len(dataset.x_train)), replace=False
    )
    labels = keras.ops.one_hot(dataset.y_train[index], dataset.num_classes)
    rows = _augmented_rows(pipeline, dataset.x_train[index], labels, repeats)
    fig = _draw_gallery(dataset, index, rows, needs_one_hot(pipeline))
    name = pipeline.name.removeprefix("augment_")
    fig.suptitle(f"{dataset.name}: augmentation policy {name!r}", fontsize=10)
    fig.tight_layout()
    return finish(fig, path)
