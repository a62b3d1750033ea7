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
from kcnn.data.arrays import take
from kcnn.data.formats import (
    read_cifar_batch,
    read_cifar_meta,
    read_idx,
    read_npz,
)
from kcnn.data.stream import is_image_source

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
    skipped: tuple = ()  # BadFile: the files of a folder or CSV that were left out


def split_indices(y, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the kept and the held-out part of a stratified, seeded split (the split
    scikit-learn's ``train_test_split`` makes of any arrays with these labels)."""
    index = np.arange(len(y))
    if not fraction:
        return index, index[:0]
    from sklearn.model_selection import train_test_split

    try:
        kept, held = train_test_split(index, test_size=fraction, random_state=seed, stratify=y)
    except ValueError:  # too few images per class to stratify
        kept, held = train_test_split(index, test_size=fraction, random_state=seed)
    return kept, held


def split_arrays(x, y, fraction: float, seed: int):
    """``(x_kept, y_kept, x_held, y_held)``: `split_indices` applied to images (arrays or
    `kcnn.data.arrays.Images`, whose kind is kept) and labels."""
    kept, held = split_indices(y, fraction, seed)
    return take(x, kept), y[kept], take(x, held), y[held]


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


def load_path(path: Path, **image_options) -> Raw:
    """The data set in a file or folder; ``image_options`` go to `load_images` (folders of
    images and CSV files)."""
    name = path.stem if path.is_file() else path.name
    if path.is_file() and path.suffix.lower() == ".csv":
        return load_images(path, **image_options)
    if path.is_file():
        if path.suffix != ".npz":
            raise ValueError(
                f"{path}: a data set file must be a .npz archive or a CSV of 'filename,label' "
                "rows; for IDX, CIFAR batches or images pass the folder that holds them."
            )
        return _raw_from_npz(name, path)
    raw = _read_idx_folder(path, name, None)
    if raw:
        return raw
    cifar = _cifar_folder(path)
    if cifar is not None:
        return _load_cifar_folder(cifar, name)
    if is_image_source(path):
        return load_images(path, **image_options)
    raise ValueError(
        f"{path} holds no data set kcnn can read: expected IDX files ({IDX_FILES[0]}.gz ...), "
        "CIFAR batches (data_batch_1 ... or train/test), one sub-folder of images per class, "
        "or a CSV file of 'filename,label' rows."
    )


#: Folders and CSV files whose decoded pixels (uint8) would take more bytes than this are
#: streamed (decoded a batch at a time) unless ``stream=`` says otherwise.
STREAM_ABOVE = 4 * 2**30


def load_images(
    path: Path, image_size=None, stream: bool | None = None, stream_above: int = STREAM_ABOVE,
    verify: bool = False, workers: int | None = None,
) -> Raw:  # fmt: skip
    """A folder of class folders or a CSV of ``filename,label`` rows, decoded into memory
    (uint8) or kept as `kcnn.data.stream.ImageFiles` to decode a batch at a time.

    Unreadable files are left out and listed in ``Raw.skipped``: at listing, files whose
    header does not open; in memory (or with ``verify``), files that fail to decode.
    Without a ``test`` split (folder or CSV column), a fifth of the images is set aside
    for testing with seed 0.
    """
    from kcnn.data import stream as streaming

    listing = streaming.list_images(path)
    size = streaming.target_size(listing, image_size)
    channels = 1 if listing.grayscale else 3
    decoded_bytes = listing.count * size[0] * size[1] * channels
    if stream is None:
        stream = decoded_bytes > stream_above
    many = listing.count >= 2000  # below this, starting worker processes costs more
    workers = (streaming.default_workers() if many else 0) if workers is None else workers
    if stream:
        if verify:
            streaming.verify_files(listing, size, workers)
        splits = {
            split: streaming.ImageFiles(files, size, listing.grayscale)
            for split, files in listing.files.items()
        }
    else:
        from kcnn._validate import check_memory

        check_memory(
            decoded_bytes,
            f"Decoding {listing.count} images of {size[0]}x{size[1]}x{channels} into memory",
            "Stream them instead: load_dataset(..., stream=True) (kcnn train --stream).",
        )
        splits = streaming.decode_all(listing, size, workers)
    labels = dict(listing.labels)
    if not len(labels["train"]):
        raise ValueError(f"{listing.source}: no readable training image.")
    if "test" not in splits:
        if len(labels["train"]) < 2:
            raise ValueError(
                f"{path} holds {len(labels['train'])} image: too few to set a fifth aside for "
                "testing. Add images, or give train/ and test/ folders of class folders."
            )
        splits["train"], labels["train"], splits["test"], labels["test"] = split_arrays(
            splits["train"], labels["train"], 0.2, 0
        )
    return Raw(
        listing.name, splits["train"], labels["train"], splits["test"], labels["test"],
        listing.class_names, listing.source, x_val=splits.get("val"), y_val=labels.get("val"),
        skipped=tuple(listing.bad),
    )  # fmt: skip


# -- TensorFlow Datasets ------------------------------------------------------------------------

#: The tfds split names read as the validation split, in order of preference.
TFDS_VALIDATION_SPLITS = ("validation", "val")


def _import_tfds(name: str):
    """``tensorflow_datasets``, or an ImportError that names the extras to install."""
    try:
        import tensorflow  # noqa: F401  (tfds reads and decodes its files with TensorFlow)
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise ImportError(
            f"'tfds:{name}' needs TensorFlow Datasets and TensorFlow ({error}). "
            "pip install 'kcnn[tfds]' installs tensorflow-datasets only; add a TensorFlow "
            "extra too, e.g. pip install 'kcnn[tensorflow-cpu,tfds]'."
        ) from error
    return tfds


def _tfds_builder(tfds, name: str):
    """``tfds.builder(name)``, with a short error for a name tfds does not know."""
    try:
        return tfds.builder(name)
    except tfds.core.DatasetNotFoundError:
        import difflib

        known = tfds.list_builders(with_community_datasets=False)
        base = name.split("/")[0].split(":")[0].lower()
        close = difflib.get_close_matches(base, known, n=5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        # from None: tfds' own message lists every one of its data sets
        raise ValueError(
            f"Unknown TensorFlow Datasets data set: name='tfds:{name}'. {base!r} is not one "
            f"of the {len(known)} data sets of tensorflow-datasets {tfds.__version__}.{hint} "
            "The catalog: https://www.tensorflow.org/datasets/catalog/overview"
        ) from None
    except (ValueError, AssertionError) as error:  # a bad config, version or name string
        raise ValueError(f"'tfds:{name}' cannot be opened: {error}") from error


def _tfds_features(tfds, builder, source: str) -> tuple[str, str]:
    """The keys of the image and the label feature of a tfds data set: its supervised keys,
    or, without them, its only Image and its only ClassLabel feature.

    Raises:
        ValueError: the features are not one fixed-size image and one class label.
    """
    features = builder.info.features
    kinds = ", ".join(f"{key}: {type(feature).__name__}" for key, feature in features.items())
    need = (
        "kcnn needs one image (tfds.features.Image) and one class label "
        f"(tfds.features.ClassLabel). Its features are {{{kinds}}}."
    )
    keys = builder.info.supervised_keys
    if keys:
        # (image, label) or (image, label, sample weight); the supervised keys define the
        # task, so they are never second-guessed by looking for other features
        if len(keys) < 2 or not all(isinstance(k, str) and k in features for k in keys[:2]):
            raise ValueError(
                f"{source}: its supervised keys are {keys!r}, not the names of two of its "
                f"features (image, label). {need}"
            )
        image_key, label_key = keys[:2]
    else:
        images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
        labels = [k for k, f in features.items() if isinstance(f, tfds.features.ClassLabel)]
        if len(images) != 1 or len(labels) != 1:
            raise ValueError(
                f"{source} has no supervised keys, and {len(images)} image feature(s) "
                f"{images} and {len(labels)} class label feature(s) {labels}, so kcnn cannot "
                f"pick the image and the label. {need}"
            )
        image_key, label_key = images[0], labels[0]
    image, label = features[image_key], features[label_key]
    if not isinstance(image, tfds.features.Image):
        raise ValueError(
            f"{source}: its image feature {image_key!r} is a {type(image).__name__}, not an "
            f"Image. {need}"
        )
    if not isinstance(label, tfds.features.ClassLabel):
        raise ValueError(
            f"{source}: its label feature {label_key!r} is a {type(label).__name__}, not a "
            "ClassLabel; kcnn trains classifiers that give each image one of a fixed set of "
            f"classes (not multi-label, regression or segmentation targets). {need}"
        )
    if None in image.shape:
        raise ValueError(
            f"{source}: its images vary in size (feature {image_key!r} has shape "
            f"{tuple(image.shape)}), so they cannot be stacked into one array; kcnn needs "
            "every image of a tfds data set to have one size. Save the images as a folder of "
            "class folders and load that with image_size=(height, width), which resizes each "
            "image as it is decoded."
        )
    return image_key, label_key


def _read_tfds_split(tfds, builder, split: str, image_key: str, label_key: str):
    """``(images, labels)`` of one split as NumPy arrays, in the data set's order."""
    image = builder.info.features[image_key]
    per_image = int(np.prod(image.shape)) * np.dtype(image.np_dtype).itemsize
    ds = builder.as_dataset(
        split=split, shuffle_files=False, read_config=tfds.ReadConfig(try_autocache=False)
    )
    # only the two features: the others may not batch (variable-length sequences)
    ds = ds.map(lambda example: (example[image_key], example[label_key]))
    ds = ds.batch(max(1, min(4096, 2**25 // per_image)))  # batches of about 32 MiB
    xs, ys = [], []
    for x, y in tfds.as_numpy(ds):
        xs.append(x)
        ys.append(y)
    if not xs:
        return np.zeros((0, *image.shape), image.np_dtype), np.zeros(0, np.int64)
    return np.concatenate(xs), np.concatenate(ys)


def load_tfds(name: str) -> Raw:
    """A TensorFlow Datasets image classification data set, downloaded and prepared by tfds
    where it is not yet, read into memory as the data set stores it (uint8 pixels).

    The images and labels are the data set's supervised keys or, without them, its only
    Image and its only ClassLabel feature; the class names are the ClassLabel's. The
    ``train`` split is the training set, ``validation`` (or ``val``) the validation set
    where there is one, and ``test`` the test set; without a ``test`` split a fifth of
    ``train`` is held out for testing (stratified, seed 0). Under
    ``tfds.testing.mock_data`` without metadata files, where tfds does not know the split
    names, ``train`` and ``test`` are read.

    Args:
        name: the tfds name, ``dataset[/config][:version]``, e.g. ``"mnist"`` or
            ``"imagenet_resized/32x32"``.

    Returns:
        A `Raw` set of arrays named after the data set (``"mnist"``), with source
        ``"tfds:<name>"``.

    Raises:
        ImportError: tensorflow-datasets or TensorFlow is not installed.
        ValueError: an empty or unknown name; features that are not one image of a fixed
            size and one class label; no ``train`` split; more pixels than this machine's
            memory holds.

    Example:
        ```python
        raw = load_tfds("mnist")
        raw.x_train.shape, raw.x_train.dtype  # ((60000, 28, 28, 1), dtype('uint8'))
        ```
    """
    if not name:
        raise ValueError(
            "Name a TensorFlow Datasets data set after 'tfds:', e.g. 'tfds:mnist'. "
            f"Received: name='tfds:{name}'"
        )
    tfds = _import_tfds(name)
    source = f"tfds:{name}"
    builder = _tfds_builder(tfds, name)
    image_key, label_key = _tfds_features(tfds, builder, source)  # before any download
    builder.download_and_prepare()
    info = builder.info
    # no split names: tfds.testing.mock_data without metadata files, which serves any split
    names = list(info.splits) or ["train", "test"]
    if "train" not in names:
        raise ValueError(
            f"{source} has no 'train' split; its splits are {names}. kcnn trains on 'train' "
            "(and tests on 'test', validates on 'validation' where they exist)."
        )
    val = next((s for s in TFDS_VALIDATION_SPLITS if s in names), None)
    wanted = [s for s in ("train", "test", val) if s in names]
    image = info.features[image_key]
    if info.splits:
        from kcnn._validate import check_memory

        count = sum(info.splits[s].num_examples for s in wanted)
        shape = "x".join(str(d) for d in image.shape)
        check_memory(  # the arrays, and their batches while they are joined
            2 * count * int(np.prod(image.shape)) * np.dtype(image.np_dtype).itemsize,
            f"Reading the {count} images ({shape}) of {source} into memory",
            "Pick a smaller data set or configuration (e.g. tfds:imagenet_resized/32x32).",
        )
    arrays = {s: _read_tfds_split(tfds, builder, s, image_key, label_key) for s in wanted}
    x_train, y_train = arrays["train"]
    if "test" in arrays:
        x_test, y_test = arrays["test"]
    else:
        x_train, y_train, x_test, y_test = split_arrays(x_train, y_train, 0.2, 0)
    x_val, y_val = arrays[val] if val else (None, None)
    return Raw(
        builder.name, x_train, y_train, x_test, y_test, tuple(info.features[label_key].names),
        source, x_val=x_val, y_val=y_val,
    )  # fmt: skip
