"""Data set loaders returning one small, documented `Dataset` object.

`load_dataset` takes a name, a path or ``tfds:<name>``:

- ``"digits"``: scikit-learn's 1,797 bundled 8x8 digits; works offline anywhere.
- ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``, ``"cifar100"``: files already on the
  machine (``$KCNN_DATA_DIR``, Debian's ``dataset-fashion-mnist``, the Keras cache), else
  ``keras.datasets`` downloads them.
- a ``.npz`` file: ``x_train``, ``y_train``, ``x_test``, ``y_test`` (``x_val``, ``y_val``,
  ``class_names`` optional).
- a folder of IDX files: ``train-images-idx3-ubyte[.gz]`` and the other three, as MNIST ships.
- a folder of CIFAR batches: ``data_batch_1..5`` and ``test_batch``, or CIFAR-100's ``train``
  and ``test``.
- a folder of class folders: ``root/<class>/*.png``, or ``root/train/<class>/`` and
  ``root/test/<class>/``.
- ``"tfds:<name>"``: TensorFlow Datasets, when installed.

Images come back float32 in [0, 1] with a channel axis placed by
``keras.config.image_data_format()``; labels are int32 class indices.

Each `Dataset` also carries ``label_rules``: the transforms that would change what its
labels mean (a mirrored 2 is not a 2; an upside-down 6 is a 9), with the reason. The
augmentation policies consult them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kcnn._backend import keras_home
from kcnn._validate import check_int, check_number
from kcnn.data.formats import (
    read_cifar_batch,
    read_cifar_meta,
    read_idx,
    read_image_folder,
    read_npz,
)

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10", "cifar100")

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

_DIGIT_RULES = {
    "horizontal_flip": "a mirrored digit is a different glyph or none (2, 3, 4, 7, 9)",
    "vertical_flip": "an upside-down digit changes meaning (6 becomes 9)",
}
_GRAYSCALE_RULE = {"color": "grayscale images have no hue or saturation to jitter"}
_LABEL_RULES = {
    "digits": _DIGIT_RULES,
    "mnist": _DIGIT_RULES,
    "fashion_mnist": {
        "vertical_flip": "Fashion-MNIST photographs every item upright; an upside-down "
        "shoe or dress is no longer the class the test set shows",
    },
}


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
        label_rules: transforms that break this data set's labels, mapped to the reason
            (``"horizontal_flip"``, ``"vertical_flip"``, ``"color"``).
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
    label_rules: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple:
        """Shape of one image, e.g. ``(28, 28, 1)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def subset(
        self, classes: list[int] | None = None, per_class: int | None = None, seed: int = 0
    ) -> Dataset:
        """A data set of some classes, relabelled 0..k-1, with at most ``per_class``
        training images of each (validation and test keep all images of those classes).

        For few-shot and transfer experiments: "500 images per class", or "train on classes
        0-4, transfer to 5-9".

        Args:
            classes: the class indices to keep, in their new order. Defaults to all.
            per_class: training images kept per class, drawn at random. Defaults to all.
            seed: seed of the draw. Defaults to 0.

        Returns:
            A new `Dataset` named like ``"fashion_mnist[5-9, 50/class]"``.

        Raises:
            ValueError: unknown or repeated classes, ``per_class`` < 1, or a class with
                fewer training images than ``per_class``.

        Example:
            ```python
            few = data.subset(classes=[5, 6, 7, 8, 9], per_class=50)
            ```
        """
        n = self.num_classes
        chosen = list(range(n)) if classes is None else list(classes)
        if (
            not chosen
            or len(set(chosen)) != len(chosen)
            or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) for c in chosen)
            or not all(0 <= c < n for c in chosen)
        ):
            raise ValueError(
                f"classes must be distinct class indices in [0, {n}). Received: classes={classes!r}"
            )
        if per_class is not None:
            check_int("per_class", per_class, 1)
        rng = np.random.default_rng(seed)
        new_label = np.full(n, -1, dtype="int32")
        new_label[chosen] = np.arange(len(chosen), dtype="int32")

        def keep(x, y, limit):
            picks = []
            for c in chosen:
                where = np.flatnonzero(y == c)
                if limit is not None:
                    if len(where) < limit:
                        raise ValueError(
                            f"Class {c} ({self.class_names[c]}) has {len(where)} training "
                            f"images, fewer than per_class={limit}."
                        )
                    where = np.sort(rng.choice(where, limit, replace=False))
                picks.append(where)
            index = np.sort(np.concatenate(picks))
            return x[index], new_label[y[index]]

        x_train, y_train = keep(self.x_train, self.y_train, per_class)
        x_val, y_val = keep(self.x_val, self.y_val, None)
        x_test, y_test = keep(self.x_test, self.y_test, None)
        span = (
            f"{chosen[0]}-{chosen[-1]}"
            if chosen == list(range(chosen[0], chosen[-1] + 1))
            else ",".join(map(str, chosen))
        )
        label = f"{span}" + (f", {per_class}/class" if per_class else "")
        return Dataset(
            f"{self.name}[{label}]", x_train, y_train, x_val, y_val, x_test, y_test,
            tuple(self.class_names[c] for c in chosen), self.source, dict(self.label_rules),
        )  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.x_train)}, val={len(self.x_val)}, "
            f"test={len(self.x_test)}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes}, source={self.source!r})"
        )


def load_dataset(
    name: str = "digits",
    validation_split: float = 0.1,
    seed: int = 0,
    image_size: tuple[int, int] | None = None,
) -> Dataset:
    """Load a data set by name, from a path, or from TensorFlow Datasets.

    Args:
        name: one of `DATASETS`, a path (``.npz`` file, or a folder of IDX files, CIFAR
            batches or class folders), or ``"tfds:<name>"``. Defaults to ``"digits"``.
        validation_split: fraction of the training set held out for validation, stratified
            by class; 0 keeps none. Defaults to 0.1.
        seed: seed of the validation split (and of the digits' test split). Defaults to 0.
        image_size: ``(height, width)`` to resize every image to, e.g. ``(28, 28)`` to feed
            the 8x8 digits to a model built for MNIST. Defaults to the native size.

    Returns:
        A `Dataset`.

    Raises:
        ValueError: an unknown name, a bad argument, or files whose contents are unusable
            (truncated, NaN pixels, labels that are not integers, an empty split).
        FileNotFoundError: a named data set is neither on the machine nor downloadable; the
            message says which files to put where.
        ImportError: ``tfds:`` without TensorFlow Datasets installed.

    Example:
        ```python
        data = kcnn.data.load_dataset("digits", image_size=(28, 28))
        data.x_train.shape  # (1293, 28, 28, 1)
        ```
    """
    if not isinstance(name, (str, os.PathLike)) or not str(name):
        raise ValueError(f"name must be a data set name or a path. Received: name={name!r}")
    check_number("validation_split", validation_split, 0, 1, kind="a fraction")
    if image_size is not None and (
        not isinstance(image_size, (tuple, list))
        or len(image_size) != 2
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in image_size)
    ):
        raise ValueError(
            "image_size must be (height, width) with two positive integers. "
            f"Received: image_size={image_size!r}"
        )
    text = os.fspath(name)
    if text.startswith("tfds:"):
        raw = _load_tfds(text[len("tfds:") :])
    elif text in DATASETS:
        raw = _LOADERS[text](seed)
    elif Path(text).exists():
        raw = _load_path(Path(text))
    else:
        raise ValueError(
            f"Unknown data set: name={text!r}. Available: {', '.join(DATASETS)}, a path to "
            "a .npz file or a folder (IDX files, CIFAR batches, class folders), or 'tfds:<name>'."
        )
    return _assemble(raw, validation_split, seed, image_size)


# -- assembling a Dataset from raw arrays -------------------------------------------------------


@dataclass
class _Raw:
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


def _assemble(raw: _Raw, validation_split: float, seed: int, image_size) -> Dataset:
    split_names = ("train", "test") + (("val",) if raw.x_val is not None else ())
    images, labels = {}, {}
    for split in split_names:
        x, y = getattr(raw, f"x_{split}"), getattr(raw, f"y_{split}")
        images[split] = _check_images(x, raw.scale, f"x_{split}", raw.source)
        labels[split] = _check_labels(y, len(images[split]), f"y_{split}", raw.source)
    num_classes = (
        len(raw.class_names)
        if raw.class_names
        else int(max(int(y.max()) for y in labels.values() if y.size)) + 1
    )
    for split, y in labels.items():
        if y.size and int(y.max()) >= num_classes:
            raise ValueError(
                f"{raw.source}: y_{split} has label {int(y.max())} but there are only "
                f"{num_classes} class names."
            )
    if not len(images["train"]):
        raise ValueError(f"{raw.source}: the training split is empty.")
    class_names = tuple(raw.class_names or (str(i) for i in range(num_classes)))

    if "val" in images:
        x_train, y_train = images["train"], labels["train"]
        x_val, y_val = images["val"], labels["val"]
    else:
        x_train, y_train, x_val, y_val = _split(
            images["train"], labels["train"], validation_split, seed
        )
    splits = {"train": x_train, "val": x_val, "test": images["test"]}
    if image_size is not None:
        splits = {k: _resize(v, image_size) for k, v in splits.items()}
    channels = splits["train"].shape[-1]
    rules = dict(_LABEL_RULES.get(raw.name, {}))
    if channels == 1:
        rules.update(_GRAYSCALE_RULE)
    return Dataset(
        name=raw.name,
        x_train=_to_data_format(splits["train"]),
        y_train=y_train,
        x_val=_to_data_format(splits["val"]),
        y_val=y_val,
        x_test=_to_data_format(splits["test"]),
        y_test=labels["test"],
        class_names=class_names,
        source=raw.source,
        label_rules=rules,
    )


def _check_images(x, scale: float | None, argument: str, source: str) -> np.ndarray:
    """Images as float32 (n, h, w, c) in [0, 1]."""
    x = np.asarray(x)
    if x.dtype.kind not in "uif":
        raise ValueError(
            f"{source}: {argument} must hold numbers; it has dtype {x.dtype} "
            "(expected uint8 pixels or floats in [0, 1])."
        )
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise ValueError(
            f"{source}: {argument} must be images shaped (n, height, width[, channels]) with "
            f"1, 3 or 4 channels; it has shape {x.shape}."
        )
    if x.dtype.kind == "f":
        if not np.isfinite(x).all():
            raise ValueError(f"{source}: {argument} contains NaN or infinite pixels.")
        if scale is None and x.size and (x.min() < 0 or x.max() > 1):
            raise ValueError(
                f"{source}: {argument} is float with values in [{x.min():g}, {x.max():g}]; "
                "float images must be in [0, 1] (or store uint8 pixels)."
            )
    if scale is None:
        scale = 255.0 if x.dtype.kind in "ui" else 1.0
    return x.astype("float32") / np.float32(scale)


def _check_labels(y, n: int, argument: str, source: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or y.dtype.kind not in "ui":
        raise ValueError(
            f"{source}: {argument} must be integer class indices shaped (n,); "
            f"it has dtype {y.dtype} and shape {y.shape}."
        )
    if len(y) != n:
        raise ValueError(f"{source}: {n} images but {len(y)} labels in {argument}.")
    if y.size and int(y.min()) < 0:
        raise ValueError(f"{source}: {argument} has a negative label ({int(y.min())}).")
    return y.astype("int32")


def _split(x, y, fraction: float, seed: int):
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


def _resize(x: np.ndarray, size) -> np.ndarray:
    if x.shape[1:3] == tuple(size) or not len(x):
        return x if len(x) else np.zeros((0, *size, x.shape[-1]), x.dtype)
    import keras

    resized = keras.ops.image.resize(
        x, tuple(size), interpolation="bilinear", antialias=True, data_format="channels_last"
    )
    return np.clip(keras.ops.convert_to_numpy(resized), 0.0, 1.0).astype("float32")


def _to_data_format(x: np.ndarray) -> np.ndarray:
    import keras

    if keras.config.image_data_format() == "channels_first":
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    return x


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


def _load_digits(seed: int) -> _Raw:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.images, digits.target, test_size=0.2, random_state=seed, stratify=digits.target
    )
    return _Raw(
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


def _read_idx_folder(folder: Path, name: str, classes) -> _Raw | None:
    """The four IDX files of ``folder`` as a data set, or None if they are not all there."""
    files = _find_idx_files(folder)
    if not files:
        return None
    x_train, y_train, x_test, y_test = (read_idx(f) for f in files)
    return _Raw(name, x_train, y_train, x_test, y_test, classes, str(folder))


def _offline_error(name: str, files: str, dirs: list[Path], error: Exception):
    searched = "\n  ".join(str(d) for d in dirs)
    return FileNotFoundError(
        f"{name} is not on this machine and could not be downloaded "
        f"({type(error).__name__}: {error}). Put {files} into one of:\n  {searched}\n"
        "or set KCNN_DATA_DIR to a folder that holds them."
    )


def _load_mnist(seed: int) -> _Raw:
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
    return _Raw("mnist", x_train, y_train, x_test, y_test, classes, "keras.datasets.mnist")


def fashion_mnist_dirs() -> list[Path]:
    """Folders searched, in order, for the four Fashion-MNIST IDX files."""
    return _search_dirs("fashion-mnist", "fashion_mnist", system=(DEBIAN_FASHION_MNIST_DIR,))


def _load_fashion_mnist(seed: int) -> _Raw:
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
    return _Raw(
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


def _load_cifar_folder(folder: Path, name: str | None = None) -> _Raw:
    if (folder / "data_batch_1").is_file():
        parts = [read_cifar_batch(folder / f"data_batch_{i}") for i in range(1, 6)]
        x_test, y_test = read_cifar_batch(folder / "test_batch")
        names = read_cifar_meta(folder / "batches.meta", "label_names") or CIFAR10_CLASSES
        x_train = np.concatenate([p[0] for p in parts])
        y_train = np.concatenate([p[1] for p in parts])
        return _Raw(name or "cifar10", x_train, y_train, x_test, y_test, tuple(names), str(folder))
    x_train, y_train = read_cifar_batch(folder / "train", label_key="fine_labels")
    x_test, y_test = read_cifar_batch(folder / "test", label_key="fine_labels")
    names = read_cifar_meta(folder / "meta", "fine_label_names") or CIFAR100_CLASSES
    return _Raw(name or "cifar100", x_train, y_train, x_test, y_test, tuple(names), str(folder))


def _load_cifar(name: str, keras_dir: str, inner: str, loader_name: str, files: str) -> _Raw:
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
    return _Raw(name, x_train, y_train, x_test, y_test, classes, f"keras.datasets.{loader_name}")


def _load_cifar10(seed: int) -> _Raw:
    return _load_cifar(
        "cifar10", "cifar-10-batches-py-target", "cifar-10-batches-py", "cifar10",
        "the folder cifar-10-batches-py (data_batch_1..5, test_batch) from "
        "cifar-10-python.tar.gz",
    )  # fmt: skip


def _load_cifar100(seed: int) -> _Raw:
    return _load_cifar(
        "cifar100", "cifar-100-python-target", "cifar-100-python", "cifar100",
        "the folder cifar-100-python (train, test, meta) from cifar-100-python.tar.gz",
    )  # fmt: skip


_LOADERS = {
    "digits": _load_digits,
    "mnist": _load_mnist,
    "fashion_mnist": _load_fashion_mnist,
    "cifar10": _load_cifar10,
    "cifar100": _load_cifar100,
}


# -- files the user has -------------------------------------------------------------------------


def _raw_from_npz(name: str, path: Path, classes=None) -> _Raw:
    arrays = read_npz(path)
    names = arrays.get("class_names")
    if names is not None:
        classes = tuple(str(n) for n in np.asarray(names).tolist())
    return _Raw(
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


def _load_path(path: Path) -> _Raw:
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
        return _Raw(name, x_train, y_train, x_test, y_test, tuple(classes), str(path))
    if any(p.is_dir() for p in path.iterdir()):
        x, y, classes = read_image_folder(path)
        x_train, y_train, x_test, y_test = _split(x, y, 0.2, 0)
        return _Raw(name, x_train, y_train, x_test, y_test, tuple(classes), str(path))
    raise ValueError(
        f"{path} holds no data set kcnn can read: expected IDX files ({IDX_FILES[0]}.gz ...), "
        "CIFAR batches (data_batch_1 ... or train/test), or one sub-folder of images per class."
    )


def _load_tfds(name: str) -> _Raw:
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
    return _Raw(name, x_train, y_train, x_test, y_test, classes, f"tfds:{name}")
