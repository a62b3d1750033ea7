"""Data set loaders returning one small, documented `Dataset` object.

Sources:

- ``"digits"``: scikit-learn's 1,797 bundled 8x8 handwritten digits. Works offline anywhere.
- ``"fashion_mnist"``: Zalando's 70,000 28x28 clothing images. Files already on the machine
  are used first (``$KCNN_DATA_DIR``, Debian's ``dataset-fashion-mnist`` package, the Keras
  cache), then ``keras.datasets.fashion_mnist`` downloads them.

Images are float32 in [0, 1] with a channel axis placed by ``keras.config.image_data_format()``;
labels are int32.
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DATASETS = ("digits", "fashion_mnist")

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

_FASHION_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

#: Where Debian's ``dataset-fashion-mnist`` package puts the IDX files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass
class Dataset:
    """Train, validation and test arrays with what describes them.

    Attributes:
        name: the data set's name.
        x_train, y_train: training images ``(n, h, w, c)`` float32 in [0, 1] and int32 labels.
        x_val, y_val: validation split held out of the training set (may be empty).
        x_test, y_test: the test set.
        class_names: one name per class index.
        source: where the data came from (a path or a package).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple = field(default_factory=tuple)
    source: str = ""

    @property
    def input_shape(self) -> tuple:
        """Shape of one image, e.g. ``(28, 28, 1)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.x_train)}, val={len(self.x_val)}, "
            f"test={len(self.x_test)}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes}, source={self.source!r})"
        )


def load_dataset(name: str = "digits", validation_split: float = 0.1, seed: int = 0) -> Dataset:
    """Load a data set by name.

    Args:
        name: ``"digits"`` or ``"fashion_mnist"``. Defaults to ``"digits"``.
        validation_split: fraction of the training set held out for validation, stratified
            by class; 0 keeps none. Defaults to 0.1.
        seed: seed of the validation (and, for digits, test) split. Defaults to 0.

    Returns:
        A `Dataset`.

    Raises:
        ValueError: unknown name or a ``validation_split`` outside [0, 1).
        FileNotFoundError: Fashion-MNIST is neither on the machine nor downloadable; the
            message says which files to put where.

    Example:
        ```python
        data = kcnn.data.load_dataset("digits")
        data.x_train.shape  # (1293, 8, 8, 1)
        ```
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown data set: name={name!r}. Available: {', '.join(DATASETS)}.")
    if isinstance(validation_split, bool) or not (
        isinstance(validation_split, (int, float)) and 0 <= validation_split < 1
    ):
        raise ValueError(
            "validation_split must be a fraction in [0, 1). "
            f"Received: validation_split={validation_split!r}"
        )
    if name == "digits":
        (x_train, y_train), (x_test, y_test), classes, source = _load_digits(seed)
        scale = 16.0  # digits are counts of 0..16 set pixels in 4x4 cells
    else:
        (x_train, y_train), (x_test, y_test), classes, source = _load_fashion_mnist()
        scale = 255.0
    x_train, x_val, y_train, y_val = _split(x_train, y_train, validation_split, seed)
    return Dataset(
        name=name,
        x_train=_images(x_train, scale),
        y_train=y_train.astype("int32"),
        x_val=_images(x_val, scale),
        y_val=y_val.astype("int32"),
        x_test=_images(x_test, scale),
        y_test=y_test.astype("int32"),
        class_names=tuple(classes),
        source=source,
    )


def _images(x: np.ndarray, scale: float) -> np.ndarray:
    """Divide images by their maximum value ``scale`` to float32 [0, 1]; add the channel axis."""
    import keras

    x = np.asarray(x, dtype="float32") / np.float32(scale)
    axis = -1 if keras.config.image_data_format() == "channels_last" else 1
    return np.expand_dims(x, axis)


def _split(x, y, fraction: float, seed: int):
    if not fraction:
        return x, x[:0], y, y[:0]
    from sklearn.model_selection import train_test_split

    return train_test_split(x, y, test_size=fraction, random_state=seed, stratify=y)


def _load_digits(seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images  # (1797, 8, 8), values 0..16
    x_train, x_test, y_train, y_test = train_test_split(
        images, digits.target, test_size=0.2, random_state=seed, stratify=digits.target
    )
    classes = [str(i) for i in range(10)]
    return (x_train, y_train), (x_test, y_test), classes, "sklearn.datasets.load_digits"


def fashion_mnist_dirs() -> list[Path]:
    """Folders searched, in order, for the four Fashion-MNIST IDX files."""
    dirs = []
    if os.environ.get("KCNN_DATA_DIR"):
        base = Path(os.environ["KCNN_DATA_DIR"])
        dirs += [base / "fashion-mnist", base / "fashion_mnist", base]
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    dirs += [DEBIAN_FASHION_MNIST_DIR, keras_home / "datasets" / "fashion-mnist"]
    return dirs


def _load_fashion_mnist():
    for folder in fashion_mnist_dirs():
        if all((folder / f).is_file() for f in _FASHION_FILES):
            x_train, y_train, x_test, y_test = (read_idx(folder / f) for f in _FASHION_FILES)
            return (x_train, y_train), (x_test, y_test), FASHION_MNIST_CLASSES, str(folder)
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    except Exception as error:  # network errors vary by backend and platform
        searched = "\n  ".join(str(d) for d in fashion_mnist_dirs())
        raise FileNotFoundError(
            "Fashion-MNIST is not on this machine and could not be downloaded "
            f"({type(error).__name__}: {error}). Put the four files "
            f"{', '.join(_FASHION_FILES)} into one of:\n  {searched}\n"
            "(on Debian: `apt-get install dataset-fashion-mnist`), or set KCNN_DATA_DIR."
        ) from error
    return (x_train, y_train), (x_test, y_test), FASHION_MNIST_CLASSES, "keras.datasets"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (MNIST's format), gzip-compressed or raw.

    Args:
        path: the file.

    Returns:
        The array, with the dtype and shape the header declares.

    Raises:
        ValueError: a bad magic number or a file shorter or longer than its header says.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as error:
        raise ValueError(f"Cannot read IDX file {path}: {error}") from error
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in dtypes:
        raise ValueError(f"{path} is not an IDX file: bad magic number {raw[:4]!r}.")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path} is truncated: its header needs {header} bytes.")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(dtypes[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"{path} has {len(raw)} bytes but its header (shape {shape}) needs {expected}: "
            "the file is truncated or corrupt."
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))
