"""Where a data set's images come from: the named sets (files on the machine first, then
Keras' download), a user's ``.npz`` file or folder, and TensorFlow Datasets.

Each loader returns a `Raw` set of arrays as its source gives them; `kcnn.data.datasets`
checks, splits, resizes and describes them as a `Dataset`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kcnn._backend import keras_home
from kcnn.data.formats import (
    read_cifar_batch,
    read_cifar_meta,
    read_idx,
    read_image_folder,
    read_npz,
)

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip

#: The IDX files of MNIST and Fashion-MNIST, in the order train x, train y, test x, test y.
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: Where Debian's ``dataset-fashion-mnist`` package puts the IDX files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass
class Raw:
    """Arrays as a source gives them, before `kcnn.data.datasets` checks them."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple | None
    source: str
    scale: float | None = None  # divide by this to reach [0, 1]; None: decide by dtype
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None


def split_arrays(x, y, fraction: float, seed: int):
    if not fraction:
        return x, y, x[:0], y[:0]
    from sklearn.model_selection import train_test_split

    try:
        x_train, x_val, y_train, y_val = train_test_split(
            x, y, test_size=fraction, random_state=seed, stratify=y
        )
    except ValueError:  # too few images per class to stratify
        x_train, x_val, y_train, y_val = train_test_split(
            x, y, test_size=fraction, random_state=seed
        )
    return x_train, y_train, x_val, y_val


# -- named data sets ----------------------------------------------------------------------------


def _search_dirs(*names: str, system: tuple = ()) -> list[Path]:
    """Folders searched, in order, for a data set's files: ``$KCNN_DATA_DIR/<name>`` and
    ``$KCNN_DATA_DIR``, then ``system`` folders, then the Keras cache."""
    dirs = []
    if os.environ.get("KCNN_DATA_DIR"):
        base = Path(os.environ["KCNN_DATA_DIR"])
        dirs += [base / n for n in names] + [base]
    dirs += list(system)
    dirs += [keras_home() / "datasets" / n for n in names]
    return dirs


def _load_digits(seed: int) -> Raw:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=0.2, random_state=seed, stratify=digits.target
    )
    return Raw(
        "digits",
        x_train,
        y_train,
        x_test,
        y_test,
        tuple(str(i) for i in range(10)),
        "sklearn.datasets.load_digits",
        scale=16.0,  # each pixel counts the set pixels of a 4x4 cell: 0..16
    )


def _find_idx_files(folder: Path) -> list[Path] | None:
    found = []
    for stem in IDX_FILES:
        candidates = [folder / f"{stem}.gz", folder / stem, folder / stem.replace("-idx", ".idx")]
        match = next((c for c in candidates if c.is_file()), None)
        if match is None:
            return None
        found.append(match)
    return found


def _read_idx_folder(folder: Path, name: str, classes) -> Raw | None:
    """The four IDX files of ``folder`` as a data set, or None if they are not all there."""
    files = _find_idx_files(folder)
    if not files:
        return None
    x_train, y_train, x_test, y_test = (read_idx(f) for f in files)
    return Raw(name, x_train, y_train, x_test, y_test, classes, str(folder))


def _offline_error(name: str, files: str, dirs: list[Path], error: Exception):
    searched = "\n  ".join(str(d) for d in dirs)
    return FileNotFoundError(
        f"{name} is not on this machine and could not be downloaded "
        f"({type(error).__name__}: {error}). Put {files} into one of:\n  {searched}\n"
        "or set KCNN_DATA_DIR to a folder that holds them."
    )


def _load_mnist(seed: int) -> Raw:
    classes = tuple(str(i) for i in range(10))
    for folder in _search_dirs("mnist"):
        raw = _read_idx_folder(folder, "mnist", classes)
        if raw:
            return raw
        for npz in (folder / "mnist.npz", folder.parent / "mnist.npz"):
            if npz.is_file():  # the Keras cache keeps ~/.keras/datasets/mnist.npz
                return _raw_from_npz("mnist", npz, classes)
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
    except Exception as error:  # network errors differ by platform
        raise _offline_error(
            "MNIST", "mnist.npz (or the four IDX files)", _search_dirs("mnist"), error
        ) from error
    return Raw("mnist", x_train, y_train, x_test, y_test, classes, "keras.datasets.mnist")


def fashion_mnist_dirs() -> list[Path]:
    """Folders searched, in order, for the four Fashion-MNIST IDX files."""
    return _search_dirs("fashion-mnist", "fashion_mnist", system=(DEBIAN_FASHION_MNIST_DIR,))


def _load_fashion_mnist(seed: int) -> Raw:
    dirs = fashion_mnist_dirs()
    for folder in dirs:
        raw = _read_idx_folder(folder, "fashion_mnist", FASHION_MNIST_CLASSES)
        if raw:
            return raw
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    except Exception as error:  # network errors differ by platform
        raise _offline_error(
            "Fashion-MNIST",
            "the four files "
            + ", ".join(f"{f}.gz" for f in IDX_FILES)
            + " (on Debian: apt-get install dataset-fashion-mnist)",
            dirs,
            error,
        ) from error
    return Raw(
        "fashion_mnist", x_train, y_train, x_test, y_test, FASHION_MNIST_CLASSES,
        "keras.datasets.fashion_mnist",
    )  # fmt: skip


def _cifar_folder(folder: Path) -> Path | None:
    for candidate in (folder, *(p for p in folder.glob("*") if p.is_dir())):
        if (candidate / "data_batch_1").is_file() or (
            (candidate / "train").is_file() and (candidate / "test").is_file()
        ):
            return candidate
    return None


def _load_cifar_folder(folder: Path, name: str | None = None) -> Raw:
    if (folder / "data_batch_1").is_file():
        parts = [read_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
        x_test, y_test = read_cifar_batch(folder / "test_batch")
        names = read_cifar_meta(folder / "batches.meta", "label_names") or CIFAR10_CLASSES
        x_train = np.concatenate([p[0] for p in parts])
        y_train = np.concatenate([p[1] for p in parts])
        return Raw(name or "cifar10", x_train, y_train, x_test, y_test, tuple(names), str(folder))
    x_train, y_train = read_cifar_batch(folder / "train", label_key="fine_labels")
    x_test, y_test = read_cifar_batch(folder / "test", label_key="fine_labels")
    names = read_cifar_meta(folder / "meta", "fine_label_names") or CIFAR100_CLASSES
    return Raw(name or "cifar100", x_train, y_train, x_test, y_test, tuple(names), str(folder))


def _load_cifar(name: str, keras_dir: str, inner: str, loader_name: str, files: str) -> Raw:
    dirs = _search_dirs(inner, f"{keras_dir}/{inner}", keras_dir)
    for folder in dirs:
        if folder.is_dir():
            found = _cifar_folder(folder)
            if found is not None and ((name == "cifar10") == (found / "data_batch_1").is_file()):
                return _load_cifar_folder(found, name)
    import keras

    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, loader_name).load_data()
    except Exception as error:  # network errors differ by platform
        raise _offline_error(name.upper(), files, dirs, error) from error
    if x_train.shape[-1] != 3:  # keras returns channels_first under that data format
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    classes = CIFAR10_CLASSES if name == "cifar10" else CIFAR100_CLASSES
    return Raw(name, x_train, y_train, x_test, y_test, classes, f"keras.datasets.{loader_name}")


def _load_cifar10(seed: int) -> Raw:
    return _load_cifar(
        "cifar10", "cifar-10-batches-py-target", "cifar-10-batches-py", "cifar10",
        "the folder cifar-10-batches-py (data_batch_1..5, test_batch) from "
        "cifar-10-python.tar.gz",
    )  # fmt: skip


def _load_cifar100(seed: int) -> Raw:
    return _load_cifar(
        "cifar100", "cifar-100-python-target", "cifar-100-python", "cifar100",
        "the folder cifar-100-python (train, test, meta) from cifar-100-python.tar.gz",
    )  # fmt: skip


LOADERS = {
    "digits": _load_digits,
    "mnist": _load_mnist,
    "fashion_mnist": _load_fashion_mnist,
    "cifar10": _load_cifar10,
    "cifar100": _load_cifar100,
}


# -- files the user has -------------------------------------------------------------------------


def _raw_from_npz(name: str, path: Path, classes=None) -> Raw:
    arrays = read_npz(path)
    names = arrays.get("class_names")
    if names is not None:
        if names.ndim != 1 or names.dtype.kind not in "USiu":
            raise ValueError(
                f"{path}: class_names must be a 1-D array of names (strings); it is "
                f"{names.dtype} {names.shape}."
            )
        classes = tuple(
            n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names.tolist()
        )
    return Raw(
        name,
        arrays["x_train"],
        arrays["y_train"],
        arrays["x_test"],
        arrays["y_test"],
        classes,
        str(path),
        x_val=arrays.get("x_val"),
        y_val=arrays.get("y_val"),
    )


def load_path(path: Path) -> Raw:
    name = path.stem if path.is_file() else path.name
    if path.is_file():
        if path.suffix != ".npz":
            raise ValueError(
                f"{path}: a data set file must be a .npz archive; for IDX, CIFAR batches or "
                "images pass the folder that holds them."
            )
        return _raw_from_npz(name, path)
    raw = _read_idx_folder(path, name, None)
    if raw:
        return raw
    cifar = _cifar_folder(path)
    if cifar is not None:
        return _load_cifar_folder(cifar, name)
    if (path / "train").is_dir() and (path / "test").is_dir():
        x_train, y_train, classes = read_image_folder(path / "train")
        size = x_train.shape[1:3]
        mode = "grayscale" if x_train.shape[-1] == 1 else "rgb"
        x_test, y_test, test_classes = read_image_folder(path / "test", size, mode)
        if test_classes != classes:
            raise ValueError(f"{path}: train/ has classes {classes} but test/ has {test_classes}.")
        return Raw(name, x_train, y_train, x_test, y_test, tuple(classes), str(path))
    if any(p.is_dir() for p in path.iterdir()):
        x, y, classes = read_image_folder(path)
        if len(x) < 2:
            raise ValueError(
                f"{path} holds {len(x)} image: too few to set a fifth aside for testing. Add "
                "images, or give train/ and test/ folders of class folders."
            )
        x_train, y_train, x_test, y_test = split_arrays(x, y, 0.2, 0)
        return Raw(name, x_train, y_train, x_test, y_test, tuple(classes), str(path))
    raise ValueError(
        f"{path} holds no data set kcnn can read: expected IDX files ({IDX_FILES[0]}.gz ...), "
        "CIFAR batches (data_batch_1 ... or train/test), or one sub-folder of images per class."
    )


def load_tfds(name: str) -> Raw:
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise ImportError(
            f"'tfds:{name}' needs TensorFlow Datasets: pip install 'kcnn[tfds]' "
            "(tensorflow-datasets and tensorflow)."
        ) from error
    if not name:
        raise ValueError("Name a TensorFlow Datasets data set after 'tfds:', e.g. 'tfds:mnist'.")
    (train, test), info = tfds.load(
        name, split=["train", "test"], as_supervised=True, batch_size=-1, with_info=True
    )
    (x_train, y_train), (x_test, y_test) = tfds.as_numpy(train), tfds.as_numpy(test)
    label = info.features["label"]
    classes = tuple(label.names) if getattr(label, "names", None) else None
    return Raw(name, x_train, y_train, x_test, y_test, classes, f"tfds:{name}")
