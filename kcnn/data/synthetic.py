"""Synthetic images whose answer is known by construction, and the pixel shuffle.

- `far_context_task`: two dots far apart on a black image; the label says whether they lie
  on the same row. Only a unit that sees both dots at once can tell, so the task measures
  whether a network's receptive field is wide enough.
- `pixel_permutation` and `shuffle_pixels`: one fixed reordering of the pixel positions,
  the same for every image. It takes the neighbourhoods out of images while keeping every
  pixel value: what a fully connected network sees is unchanged up to the order of its
  inputs, what a convolution sees is not.

NumPy only (Keras is asked for the default image data format and nothing else).
"""

from __future__ import annotations

import numpy as np

from kcnn._validate import check_choice, check_int

__all__ = ["far_context_task", "pixel_permutation", "shuffle_pixels"]

_FORMATS = ("channels_last", "channels_first")


def _data_format(data_format: str | None) -> str:
    if data_format is None:
        import keras

        return keras.config.image_data_format()
    return check_choice("data_format", data_format, _FORMATS)


def far_context_task(
    n: int,
    size: int = 24,
    distance: tuple[int, int] = (8, 13),
    margin: int = 5,
    seed: int = 0,
    data_format: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Images of two far-apart dots, labelled 1 when both dots lie on the same row.

    The rule, for every image: the background is 0 and exactly two pixels are 1. The left
    dot is at ``(row1, col)``, the right dot at ``(row2, col + d)``, where

    - the horizontal distance ``d`` is drawn uniformly from ``distance[0]`` to
      ``distance[1]`` (both included);
    - every row and column of a dot lies in ``[margin, size - 1 - margin]``: ``row1`` and
      ``col`` are drawn uniformly among the positions that keep both dots there;
    - label 1 (same row): ``row2 == row1``; label 0: ``row2`` is drawn uniformly from the
      other rows of that range.

    Exactly ``n // 2`` images have label 1, in random order.

    A unit sees both dots only if its receptive field is at least ``d + 1`` pixels wide. A
    network whose units are all narrower than ``distance[0] + 1`` pixels, followed by
    global pooling, cannot beat chance: each unit sees at most one dot, and a lone dot
    looks the same on every row. ``margin`` keeps the zero padding of the feature maps out
    of every unit that sees a dot, so that the border gives the row away neither: a
    margin of ``f - 2`` is enough for a stack of stride-1 3x3 "same" convolutions whose
    field is ``f`` pixels wide (5 for three such layers, field 7).

    Args:
        n: number of images.
        size: height and width of each image. Defaults to 24.
        distance: smallest and largest horizontal distance between the dots, in pixels.
            Defaults to ``(8, 13)``.
        margin: pixels kept free of dots along every border. Defaults to 5.
        seed: seed of the draw. Defaults to 0.
        data_format: ``"channels_last"`` (``(n, size, size, 1)``) or ``"channels_first"``
            (``(n, 1, size, size)``). Defaults to ``keras.config.image_data_format()``.

    Returns:
        ``(x, y)``: float32 images with values 0 and 1, and int32 labels (1: same row).

    Raises:
        ValueError: a bad argument, or a ``distance`` that does not fit between the margins
            (``distance[1] > size - 1 - 2 * margin``), or fewer than two rows between them.

    Example:
        ```python
        from kcnn.data.synthetic import far_context_task

        x, y = far_context_task(1000, seed=0)  # x: (1000, 24, 24, 1), y.mean() == 0.5
        ```
    """
    check_int("n", n, 1)
    check_int("size", size, 2)
    check_int("margin", margin, 0)
    check_int("seed", seed, 0)
    data_format = _data_format(data_format)
    span = size - 1 - 2 * margin  # the largest distance between two allowed columns
    if span < 1:
        raise ValueError(
            "size must leave at least two rows between the margins: size >= 2 * margin + 2. "
            f"Received: size={size}, margin={margin}"
        )
    if (
        not isinstance(distance, (tuple, list))
        or len(distance) != 2
        or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in distance)
        or not 1 <= distance[0] <= distance[1] <= span
    ):
        raise ValueError(
            f"distance must be two integers (low, high) with 1 <= low <= high <= {span} "
            f"(size - 1 - 2 * margin, so that both dots fit between the margins). "
            f"Received: distance={distance!r}"
        )
    rng = np.random.default_rng(seed)
    y = np.zeros(n, dtype="int32")
    y[: n // 2] = 1
    rng.shuffle(y)
    low, high = int(distance[0]), int(distance[1])
    d = rng.integers(low, high + 1, size=n)
    # the left column: uniform in [margin, size - 1 - margin - d]
    col = margin + rng.integers(0, span - d + 1)
    rows = span + 1
    row1 = margin + rng.integers(0, rows, size=n)
    # another row: shift by 1..rows-1 around the allowed range (uniform over the others)
    other = margin + (row1 - margin + rng.integers(1, rows, size=n)) % rows
    row2 = np.where(y == 1, row1, other)
    x = np.zeros((n, size, size), dtype="float32")
    index = np.arange(n)
    x[index, row1, col] = 1.0
    x[index, row2, col + d] = 1.0
    x = x[:, None] if data_format == "channels_first" else x[..., None]
    return x, y


def _spatial(image_shape, data_format: str) -> tuple[int, int, int]:
    """``(height, width, channels)`` of an image shape in ``data_format``."""
    if (
        not isinstance(image_shape, (tuple, list))
        or len(image_shape) != 3
        or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1
            for s in image_shape
        )
    ):
        raise ValueError(
            "image_shape must be three positive integers, (height, width, channels) or "
            f"(channels, height, width) by data_format. Received: image_shape={image_shape!r}"
        )
    if data_format == "channels_first":
        c, h, w = image_shape
    else:
        h, w, c = image_shape
    return int(h), int(w), int(c)


def pixel_permutation(
    image_shape: tuple[int, int, int],
    seed: int = 0,
    *,
    flat: bool = False,
    data_format: str | None = None,
) -> np.ndarray:
    """The reordering of pixel positions that `shuffle_pixels` applies.

    A pixel moves with all its channels. With ``flat=False`` the result orders the
    ``height * width`` positions row by row: position ``i`` of a shuffled image holds what
    position ``perm[i]`` of the original held. With ``flat=True`` it indexes the flattened
    image instead (``height * width * channels`` values, in the order ``keras.layers.Flatten``
    lays them out): ``shuffled.reshape(n, -1) == x.reshape(n, -1)[:, perm]``. So a ``Dense``
    layer on the flattened shuffled images with kernel rows ``kernel[perm]`` computes
    exactly what ``kernel`` computes on the originals.

    Args:
        image_shape: shape of one image, ``(height, width, channels)`` or
            ``(channels, height, width)`` by ``data_format``.
        seed: seed of the permutation. Defaults to 0.
        flat: index the flattened image rather than the pixel positions. Defaults to False.
        data_format: ``"channels_last"`` or ``"channels_first"``. Defaults to
            ``keras.config.image_data_format()``.

    Returns:
        An int64 array holding a permutation of ``range(height * width)`` (or of
        ``range(height * width * channels)`` with ``flat=True``).

    Raises:
        ValueError: a bad ``image_shape``, ``seed`` or ``data_format``.

    Example:
        ```python
        from kcnn.data.synthetic import pixel_permutation

        perm = pixel_permutation((28, 28, 1), seed=0, flat=True)
        rewired = kernel[perm]  # the first Dense kernel of an MLP, for shuffled images
        ```
    """
    check_int("seed", seed, 0)
    data_format = _data_format(data_format)
    h, w, c = _spatial(image_shape, data_format)
    perm = np.random.default_rng(seed).permutation(h * w)
    if not flat:
        return perm
    if data_format == "channels_first":
        # Flatten orders (channel, position): value k*h*w + p moves with its position
        return (np.arange(c)[:, None] * (h * w) + perm[None, :]).reshape(-1)
    return (perm[:, None] * c + np.arange(c)[None, :]).reshape(-1)


def shuffle_pixels(
    x: np.ndarray,
    seed: int = 0,
    *,
    inverse: bool = False,
    data_format: str | None = None,
) -> np.ndarray:
    """Move every image's pixels to new positions, by one permutation for all images.

    Each image keeps its pixel values (a pixel moves with all its channels); only their
    places change, the same way in every image (`pixel_permutation` with the same seed).
    Neighbouring pixels of the result are, in general, far apart in the original.

    Args:
        x: a batch of images, ``(n, height, width, channels)`` or
            ``(n, channels, height, width)`` by ``data_format``; any array-like.
        seed: seed of the permutation. Defaults to 0.
        inverse: undo the shuffle of this seed instead: ``shuffle_pixels(shuffle_pixels(x,
            s), s, inverse=True)`` returns ``x``. Defaults to False.
        data_format: ``"channels_last"`` or ``"channels_first"``. Defaults to
            ``keras.config.image_data_format()``.

    Returns:
        A new array of the shape and dtype of ``x``.

    Raises:
        ValueError: ``x`` is not a batch of images (4 axes), or a bad ``seed`` or
            ``data_format``.

    Example:
        ```python
        from kcnn.data.synthetic import shuffle_pixels

        scrambled = shuffle_pixels(data.x_test[:100], seed=0)
        ```
    """
    data_format = _data_format(data_format)
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(
            "x must be a batch of images with 4 axes, (n, height, width, channels) or "
            f"(n, channels, height, width). Received: x with shape {x.shape}"
        )
    perm = pixel_permutation(x.shape[1:], seed, data_format=data_format)
    if inverse:
        perm = np.argsort(perm)
    n = x.shape[0]
    if data_format == "channels_first":
        c = x.shape[1]
        return x.reshape(n, c, -1)[:, :, perm].reshape(x.shape)
    c = x.shape[-1]
    return x.reshape(n, -1, c)[:, perm].reshape(x.shape)
