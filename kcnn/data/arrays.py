"""Images kept as their source stores them, read as float32 in [0, 1].

A data set's images are uint8 pixels in almost every source (IDX, CIFAR batches, PNG and
JPEG files); as float32 they take four times the memory. `Images` holds them as the source
stores them and converts only what is read: ``images[i]`` or ``images[batch_indices]`` is a
float32 array in [0, 1], converted exactly as a whole-array conversion would
(``pixels.astype("float32") / scale``). Anything else NumPy does with it (``np.asarray``,
``images.mean()``, ``images * 2``) sees the float32 array, so code written for float
arrays keeps working; the input pipelines read batches only.

Two kinds:

- `ImageArray`: pixels in memory (uint8, or float32 for resized or float sources).
- `kcnn.data.stream.ImageFiles`: image files decoded when read (streaming).

Both offer ``pixels(indices)`` (the stored dtype, for pipelines that convert on the
device) and ``take(indices)`` (a subset of the same kind).
"""

from __future__ import annotations

import numpy as np


class Images(np.lib.mixins.NDArrayOperatorsMixin):
    """A read-only sequence of images that reads as a float32 array in [0, 1].

    Subclasses define ``shape``, ``scale``, ``pixels(indices)`` and ``take(indices)``.

    Attributes:
        shape: ``(n, height, width, channels)`` (or channels first, by the Keras data format
            the images were loaded under).
        scale: the stored value of a white pixel (255 for uint8 pixels, 1 for floats).
    """

    dtype = np.dtype("float32")
    shape: tuple
    scale: float

    # -- what a subclass provides ------------------------------------------------------------
    def pixels(self, indices) -> np.ndarray:  # pragma: no cover - abstract
        """The images at ``indices`` as stored (e.g. uint8), shaped like ``self[indices]``."""
        raise NotImplementedError

    def take(self, indices) -> Images:  # pragma: no cover - abstract
        """The images at ``indices`` (a 1-D integer array), as the same kind of `Images`."""
        raise NotImplementedError

    # -- the array interface -----------------------------------------------------------------
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def to_float(self, pixels: np.ndarray) -> np.ndarray:
        """Stored pixels as float32 in [0, 1]: ``pixels.astype("float32") / scale``."""
        if pixels.dtype == np.float32 and self.scale == 1:
            return pixels.copy()
        return pixels.astype("float32") / np.float32(self.scale)

    def __getitem__(self, key) -> np.ndarray:
        return self.to_float(self.pixels(key))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __array__(self, dtype=None, copy=None):
        if copy is False:
            raise ValueError(f"{type(self).__name__} converts to float32: it cannot avoid a copy.")
        x = self[:]
        return x if dtype is None else x.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(np.asarray(v) if isinstance(v, Images) else v for v in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(np.asarray(v) if isinstance(v, Images) else v
                                  for v in kwargs["out"])  # fmt: skip
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        def convert(value):
            if isinstance(value, Images):
                return np.asarray(value)
            if isinstance(value, (list, tuple)):
                return type(value)(convert(v) for v in value)
            return value

        return func(*convert(args), **{k: convert(v) for k, v in kwargs.items()})

    def __getattr__(self, name: str):
        # ndarray methods and attributes (mean, max, astype, reshape, T, ...) on the float
        # array; private names are not forwarded (copy and pickle probe them).
        if name.startswith("_") or not hasattr(np.ndarray, name):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(np.asarray(self), name)


class ImageArray(Images):
    """Images held in memory as stored (uint8 pixels, say), read as float32 in [0, 1].

    Args:
        pixels: the images, ``(n, h, w, c)`` or channels first; integer or float dtype.
        scale: the stored value of white: 255 for 0..255 pixels, 16 for scikit-learn's
            digits, 1 for floats already in [0, 1]. Defaults to 255 for integers, 1 for
            floats.

    Raises:
        TypeError: pixels that are not numbers.
        ValueError: a scale that is not a positive finite number, or an array with fewer
            than one axis.

    Example:
        ```python
        x = kcnn.data.ImageArray(np.zeros((10, 28, 28, 1), "uint8"))
        x.dtype, x[:2].dtype, x.pixels(slice(0, 2)).dtype  # float32, float32, uint8
        ```
    """

    def __init__(self, pixels: np.ndarray, scale: float | None = None):
        pixels = np.asarray(pixels)
        if pixels.dtype.kind not in "uif":
            raise TypeError(
                f"pixels must be integer or float images. Received dtype {pixels.dtype}."
            )
        if pixels.ndim < 1:
            raise ValueError(f"pixels must be a batch of images. Received shape {pixels.shape}.")
        if scale is None:
            scale = 255.0 if pixels.dtype.kind in "ui" else 1.0
        if isinstance(scale, bool) or not np.isfinite(scale) or scale <= 0:
            raise ValueError(f"scale must be a positive number. Received: scale={scale!r}")
        if pixels.dtype.kind == "f" and pixels.dtype != np.float32:
            pixels = pixels.astype("float32")
        self.stored = pixels
        self.scale = float(scale)

    @property
    def shape(self) -> tuple:
        return self.stored.shape

    @property
    def nbytes(self) -> int:
        """Bytes held in memory (the stored pixels, not their float32 reading)."""
        return self.stored.nbytes

    def pixels(self, indices) -> np.ndarray:
        return self.stored[indices]

    def take(self, indices) -> ImageArray:
        return ImageArray(self.stored[np.asarray(indices, dtype="int64")], self.scale)

    def __repr__(self) -> str:
        return (
            f"ImageArray(shape={self.shape}, stored={self.stored.dtype}, scale={self.scale:g}, "
            f"{self.nbytes / 2**20:.1f} MiB)"
        )


def as_images(x) -> Images:
    """``x`` as `Images`: itself if it is, else an `ImageArray` of float pixels in [0, 1]."""
    return x if isinstance(x, Images) else ImageArray(np.asarray(x), 1.0)


def take(x, indices):
    """The images of ``x`` at ``indices``, keeping its kind (`Images` or ndarray)."""
    indices = np.asarray(indices, dtype="int64")
    return x.take(indices) if isinstance(x, Images) else x[indices]
