"""Readers for the file formats image data sets come in.

Each reader checks what it reads and raises a `ValueError` naming the file for a truncated or
corrupt one, returning nothing partial:

- IDX (MNIST, Fashion-MNIST), gzip-compressed or raw: `read_idx`;
- CIFAR-10/100 python pickle batches: `read_cifar_batch` (a restricted unpickler that only
  rebuilds NumPy arrays, never arbitrary objects);
- ``.npz`` archives with ``x_train``, ``y_train``, ``x_test``, ``y_test``: `read_npz`;
- a folder of images per class: `read_image_folder`.
"""

from __future__ import annotations

import codecs
import gzip
import math
import os
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (MNIST's format), gzip-compressed or raw.

    Args:
        path: the file.

    Returns:
        The array, with the dtype and shape the header declares.

    Raises:
        ValueError: a bad magic number, a damaged gzip stream, or a file shorter or longer
            than its header says.

    Example:
        ```python
        y = kcnn.data.read_idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
        ```
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as error:  # gzip: BadGzipFile, EOF, bad deflate data
        raise ValueError(
            f"Cannot read IDX file {path} (truncated or corrupt): {type(error).__name__}: {error}"
        ) from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file: bad magic number {raw[:4]!r}.")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: its header needs {header} bytes.")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = header + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if len(raw) != expected:
        raise ValueError(
            f"{path} has {len(raw)} bytes but its header (shape {shape}) needs {expected}: "
            "the file is truncated or corrupt."
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _latin1_encode(text, encoding="latin1", errors="strict"):
    """``_codecs.encode`` as pickles call it (how Python 3 pickles bytes at protocol 2:
    ``encode(str, "latin1")``), and no other codec."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        raise pickle.UnpicklingError(
            f"refusing _codecs.encode with encoding {encoding!r} and errors {errors!r} "
            "(only latin1, as pickled bytes use)"
        )
    return codecs.encode(text, "latin1")


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and NumPy arrays only: a CIFAR batch needs nothing else."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")


def read_cifar_batch(
    path: str | os.PathLike, label_key: str = "labels"
) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR python batch (``data_batch_1``, ``test_batch``, CIFAR-100's ``train``).

    Args:
        path: the batch file.
        label_key: ``"labels"`` (CIFAR-10), ``"fine_labels"`` or ``"coarse_labels"``
            (CIFAR-100). Defaults to ``"labels"``.

    Returns:
        ``(images, labels)``: uint8 images ``(n, 32, 32, 3)`` and int labels ``(n,)``.

    Raises:
        ValueError: a truncated, corrupt or foreign file.
    """
    path = Path(path)
    batch = _unpickle(path, "CIFAR batch")
    if not isinstance(batch, dict):
        raise ValueError(f"{path} is not a CIFAR batch: it holds a {type(batch).__name__}.")
    batch = {_text(k): v for k, v in batch.items()}
    if "data" not in batch or label_key not in batch:
        raise ValueError(
            f"{path} is not a CIFAR batch with {label_key!r}: it has keys "
            f"{sorted(str(k) for k in batch)}."
        )
    try:
        data = np.asarray(batch["data"])
        labels = np.asarray(batch[label_key])
    except Exception as error:  # ragged lists, objects NumPy cannot hold: ValueError, TypeError...
        raise ValueError(
            f"{path} is not a valid CIFAR batch: its 'data' or {label_key!r} is not an array "
            f"({type(error).__name__}: {error})."
        ) from error
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(
            f"{path}: 'data' must be uint8 rows of 3072 pixels; it is {data.dtype} {data.shape}."
        )
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(
            f"{path}: {label_key!r} must be a list of integer labels; it is {labels.dtype} "
            f"{labels.shape}."
        )
    if len(data) != len(labels):
        raise ValueError(f"{path}: {len(data)} images but {len(labels)} labels.")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels.astype("int64")


def _text(key):
    """A key of a pickled dict as text (the str keys of a Python 2 pickle load as bytes)."""
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else key


def _unpickle(path: Path, what: str):
    """The object pickled in ``path``, through `_ArrayUnpickler`; a `ValueError` naming the
    file for anything else (a damaged pickle raises nearly any exception type: EOFError,
    UnpicklingError, KeyError, IndexError, TypeError, OverflowError, MemoryError...)."""
    try:
        with open(path, "rb") as f:
            return _ArrayUnpickler(f, encoding="bytes").load()
    except Exception as error:
        raise ValueError(
            f"{path} is not a readable {what} (truncated or corrupt): "
            f"{type(error).__name__}: {error}"
        ) from error


def read_cifar_meta(path: str | os.PathLike, key: str) -> list[str] | None:
    """Class names from a CIFAR ``batches.meta`` / ``meta`` file, or None if absent."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        meta = _unpickle(path, "CIFAR meta file")
        names = meta.get(key.encode()) or meta.get(key)
        return [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    except Exception:  # class names are a nicety: fall back to the built-in ones
        return None


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an ``.npz`` archive of ``x_train``, ``y_train``, ``x_test``, ``y_test``.

    Optional keys: ``x_val``, ``y_val`` and ``class_names``. Pickled objects are refused.

    Raises:
        ValueError: a corrupt archive or missing keys.
    """
    path = Path(path)
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError(
                f"it holds a single {loaded.dtype} array {loaded.shape} (a .npy file), not "
                "named arrays (write one with numpy.savez)"
            )
        with loaded as archive:
            arrays = {key: archive[key] for key in archive.files}
    except Exception as error:  # OSError, EOFError, ValueError, zipfile.BadZipFile and friends
        raise ValueError(f"{path} is not a readable .npz archive: {error}") from error
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise ValueError(
            f"{path} lacks {', '.join(missing)}: a data set archive needs x_train, y_train, "
            f"x_test and y_test (x_val, y_val, class_names optional). It has: {sorted(arrays)}."
        )
    return arrays


def read_image_folder(
    path: str | os.PathLike, image_size: tuple[int, int] | None = None, color_mode: str = "auto"
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a folder with one sub-folder of images per class.

    Classes and files are taken in sorted order, as `keras.utils.image_dataset_from_directory`
    takes them. Files are read with Pillow (a matplotlib dependency), so this works the same
    on every backend and without TensorFlow. (`kcnn.data.load_dataset` reads such folders
    too, skipping damaged files instead of stopping at the first.)

    Args:
        path: the folder; each sub-folder's name is a class name.
        image_size: ``(height, width)`` to resize to. Defaults to the size of the first
            image; images of other sizes are then an error.
        color_mode: ``"grayscale"``, ``"rgb"`` or ``"auto"`` (grayscale when the first
            image is). Defaults to ``"auto"``.

    Returns:
        ``(images, labels, class_names)`` with uint8 images ``(n, h, w, c)``.

    Raises:
        ValueError: no class folders, an empty class, an unreadable image, or mixed sizes.
    """
    files, labels, classes = class_folder_files(path)
    height, width, grayscale = image_header(files[0])
    if color_mode != "auto":
        grayscale = color_mode == "grayscale"
    target = tuple(image_size) if image_size else (height, width)
    images = []
    for file in files:
        pixels = decode_image(file, target if image_size else None, grayscale)
        if pixels.shape[:2] != target:
            raise ValueError(
                f"{file} is {pixels.shape[0]}x{pixels.shape[1]} but the first image "
                f"is {target[0]}x{target[1]}; pass image_size= to resize."
            )
        images.append(pixels)
    return np.stack(images), labels, classes


def class_folder_files(root: str | os.PathLike, classes: list[str] | None = None):
    """The image files of ``root/<class>/`` and their labels, classes and files in sorted
    order: ``(files, int64 labels, class names)``.

    Raises:
        ValueError: no class folders, an empty one, or classes other than ``classes``.
    """
    root = Path(root)
    present = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not present:
        raise ValueError(f"{root} has no class sub-folders (one folder of images per class).")
    if classes is not None and present != classes:
        raise ValueError(f"{root} has classes {present} but train/ has {classes}.")
    files, labels = [], []
    for index, name in enumerate(present):
        found = image_files(root / name)
        if not found:
            raise ValueError(f"Class folder {root / name} holds no images ({IMAGE_SUFFIXES}).")
        files += found
        labels += [index] * len(found)
    return files, np.asarray(labels, dtype="int64"), present


#: File name endings read as images (those of `keras.utils.image_dataset_from_directory`).
IMAGE_SUFFIXES = _IMAGE_SUFFIXES

#: An image with more pixels than this is refused as a decompression bomb (a small file
#: that decodes to gigabytes): Pillow's own warning limit, about 9,459 x 9,459 pixels.
MAX_PIXELS = 89_478_485


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder`` (by suffix, hidden files left out), sorted."""
    return sorted(
        f for f in folder.iterdir()
        if f.suffix.lower() in _IMAGE_SUFFIXES and not f.name.startswith(".") and f.is_file()
    )  # fmt: skip


def _open(file, max_pixels: int):
    """Pillow's lazy image (header read, pixels not decoded), with the size checked."""
    import warnings

    from PIL import Image

    with warnings.catch_warnings():  # the size is checked here, against max_pixels
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(file)
        except Exception as error:  # OSError, UnidentifiedImageError, DecompressionBombError...
            raise _unreadable_image(Path(file), error) from error
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise BadImageError(
            f"Cannot read image {file}: {width}x{height} = {width * height:,} pixels exceeds "
            f"{max_pixels:,}, a decompression bomb or an image far too large to train on."
        )
    return image


def image_header(file: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> tuple[int, int, bool]:
    """``(height, width, grayscale)`` of an image file, read from its header alone.

    Raises:
        ValueError: not an image Pillow can open, or more than ``max_pixels`` pixels.
    """
    with _open(file, max_pixels) as image:
        return image.size[1], image.size[0], image.mode in ("L", "1", "I;16")


def decode_image(
    file: str | os.PathLike, size: tuple[int, int] | None = None, grayscale: bool = False,
    max_pixels: int = MAX_PIXELS,
) -> np.ndarray:  # fmt: skip
    """Decode one image file to uint8 pixels ``(height, width, channels)``.

    The one decoder of kcnn's folder sources, in memory and streamed, so both give the
    same pixels: Pillow converts to ``"L"`` or ``"RGB"`` and, when ``size`` differs from the
    file's, resizes bilinearly (with Pillow's antialiasing when shrinking).

    Args:
        file: the image file.
        size: ``(height, width)`` to resize to, or None to keep the file's size.
        grayscale: one channel (True) or three (False). Defaults to False.
        max_pixels: refuse images with more pixels. Defaults to `MAX_PIXELS`.

    Raises:
        ValueError: a damaged, truncated or non-image file, or a decompression bomb.
    """
    from PIL import Image

    try:
        with _open(file, max_pixels) as image:
            image = image.convert("L" if grayscale else "RGB")
            if size is not None and image.size[::-1] != tuple(size):
                image = image.resize((size[1], size[0]), Image.BILINEAR)
            pixels = np.asarray(image, dtype=np.uint8)
    except BadImageError:
        raise
    except Exception as error:  # a damaged file fails in any of Pillow's decoders
        raise _unreadable_image(Path(file), error) from error
    return pixels[..., None] if pixels.ndim == 2 else pixels


class BadImageError(ValueError):
    """An image file that cannot be decoded: damaged, truncated, not an image, or a
    decompression bomb. The message names the file."""


def _unreadable_image(file: Path, error: Exception) -> ValueError:
    """The error for an image file Pillow cannot decode. Pillow raises OSError
    (UnidentifiedImageError, "image file is truncated"), SyntaxError ("broken PNG file"),
    ValueError, EOFError, struct.error, zlib.error or DecompressionBombError, by format."""
    return BadImageError(
        f"Cannot read image {file} (damaged, truncated or not an image): "
        f"{type(error).__name__}: {error}"
    )
