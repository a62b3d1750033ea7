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

Images read as float32 in [0, 1], with a channel axis placed by
``keras.config.image_data_format()``; labels are int32 class indices. They are held as their
source stores them (uint8 pixels: a quarter of float32's memory) in a
`kcnn.data.arrays.ImageArray`, converted a batch at a time; a folder or CSV of image files
too large for memory is streamed: its images are `kcnn.data.stream.ImageFiles`, decoded when
read. Damaged files in a folder are skipped and listed in ``Dataset.skipped``.

Each `Dataset` also carries ``label_rules``: the transforms that would change what its
labels mean (a mirrored 2 is not a 2; an upside-down 6 is a 9), with the reason. The
augmentation policies consult them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kcnn._validate import check_int, check_number
from kcnn.data.arrays import ImageArray, Images, take
from kcnn.data.sources import (  # noqa: F401  (the class names and file lists were defined here)
    CIFAR10_CLASSES,
    CIFAR100_CLASSES,
    DEBIAN_FASHION_MNIST_DIR,
    FASHION_MNIST_CLASSES,
    IDX_FILES,
    LOADERS,
    STREAM_ABOVE,
    Raw,
    fashion_mnist_dirs,
    load_path,
    load_tfds,
    split_arrays,
)

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10", "cifar100")

#: The most classes a data set without class names may have (its largest label + 1): a
#: larger label is a damaged file or labels that are not class indices.
MAX_NUMBERED_CLASSES = 100_000

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


#: The class names of the named data sets, without loading them.
NAMED_CLASSES = {
    "digits": tuple(str(i) for i in range(10)),
    "mnist": tuple(str(i) for i in range(10)),
    "fashion_mnist": FASHION_MNIST_CLASSES,
    "cifar10": CIFAR10_CLASSES,
    "cifar100": CIFAR100_CLASSES,
}


def label_rules_for(name: str, channels: int) -> dict:
    """The label rules of a data set called ``name`` whose images have ``channels``
    channels: the named data sets' own, plus no colour jitter for grayscale images."""
    rules = dict(_LABEL_RULES.get(name, {}))
    if channels == 1:
        rules.update(_GRAYSCALE_RULE)
    return rules


@dataclass
class Dataset:
    """Train, validation and test arrays with what describes them.

    The images of each split read as float32 in [0, 1] (``data.x_train[:8]`` is a float32
    array) but are held as their source stores them: an `kcnn.data.arrays.ImageArray` of
    uint8 pixels in memory, or `kcnn.data.stream.ImageFiles` decoded when read (a streamed
    folder). Anything NumPy does with them (``np.asarray(data.x_test)``) sees float32.

    Attributes:
        name: the data set's name.
        x_train, y_train: training images ``(n, h, w, c)`` in [0, 1] and int32 labels.
        x_val, y_val: validation split held out of the training set (may be empty).
        x_test, y_test: the test set.
        class_names: one name per class index.
        source: where the data came from (a path or a package).
        label_rules: transforms that break this data set's labels, mapped to the reason
            (``"horizontal_flip"``, ``"vertical_flip"``, ``"color"``).
        skipped: the files of a folder or CSV left out as unreadable
            (`kcnn.data.stream.BadFile`: path and reason).
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
    skipped: tuple = ()

    @property
    def streamed(self) -> bool:
        """Whether the images are files decoded when read (`kcnn.data.stream.ImageFiles`)."""
        from kcnn.data.stream import ImageFiles

        return isinstance(self.x_train, ImageFiles)

    @property
    def nbytes(self) -> int:
        """Bytes the images hold in memory, all splits (0 when streamed)."""
        splits = (self.x_train, self.x_val, self.x_test)
        return sum(x.nbytes for x in splits if isinstance(x, (ImageArray, np.ndarray)))

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
            return take(x, index), new_label[y[index]]

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
            self.skipped,
        )  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.x_train)}, val={len(self.x_val)}, "
            f"test={len(self.x_test)}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes}, source={self.source!r}"
            + (", streamed" if self.streamed else "")
            + ")"
        )


def load_dataset(
    name: str = "digits",
    validation_split: float = 0.1,
    seed: int = 0,
    image_size: tuple[int, int] | None = None,
    *,
    stream: bool | None = None,
    stream_above: int = STREAM_ABOVE,
    verify: bool = False,
) -> Dataset:
    """Load a data set by name, from a path, or from TensorFlow Datasets.

    A folder of images (class folders, or ``train/``, ``val/``, ``test/`` folders of class
    folders) or a CSV of ``filename,label[,split]`` rows is decoded into memory, or
    streamed when its pixels would take more than ``stream_above`` bytes: its images are
    then decoded a batch at a time, in worker processes, while training. Files that cannot
    be read are skipped, counted in a warning and listed in ``Dataset.skipped``.

    Args:
        name: one of `DATASETS`, a path (``.npz`` file, a folder of IDX files, CIFAR
            batches or class folders, or a CSV file of ``filename,label`` rows with file
            names relative to it), or ``"tfds:<name>"``. Defaults to ``"digits"``.
        validation_split: fraction of the training set held out for validation, stratified
            by class; 0 keeps none. Defaults to 0.1.
        seed: seed of the validation split (and of the digits' test split). Defaults to 0.
        image_size: ``(height, width)`` to resize every image to, e.g. ``(28, 28)`` to feed
            the 8x8 digits to a model built for MNIST. Folders and CSV files resize each image
            as it is decoded (Pillow, bilinear); images of several sizes need it. Defaults to
            the native size.
        stream: for folders and CSV files: True decodes images when read, False into
            memory, None decides by ``stream_above``. Defaults to None.
        stream_above: stream a folder or CSV whose decoded pixels (uint8) would take more
            bytes than this. Defaults to 4 GiB.
        verify: decode every image of a streamed folder first and skip those that fail (a
            folder in memory is decoded anyway); slower to start, never stops mid-run.
            Defaults to False.

    Returns:
        A `Dataset`.

    Raises:
        ValueError: an unknown name, a bad argument, or files whose contents are unusable
            (truncated, NaN pixels, labels that are not integers, an empty split), or
            ``stream=True`` for a source that is not image files.
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
    check_int("seed", seed, 0, 2**32 - 1)
    if image_size is not None and (
        not isinstance(image_size, (tuple, list))
        or len(image_size) != 2
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in image_size)
    ):
        raise ValueError(
            "image_size must be (height, width) with two positive integers. "
            f"Received: image_size={image_size!r}"
        )
    if stream not in (None, True, False):
        raise ValueError(f"stream must be True, False or None. Received: stream={stream!r}")
    check_int("stream_above", stream_above, 0)
    text = os.fspath(name)
    from kcnn.data.stream import is_image_source

    if stream and not (Path(text).exists() and is_image_source(Path(text))):
        raise ValueError(
            f"stream=True streams image files: a folder of class folders or a CSV file. "
            f"{text!r} is not one; named data sets, .npz files, IDX and CIFAR files load into "
            "memory as uint8."
        )
    if text.startswith("tfds:"):
        raw = load_tfds(text[len("tfds:") :])
    elif text in DATASETS:
        raw = LOADERS[text](seed)
    elif Path(text).exists():
        raw = load_path(
            Path(text), image_size=image_size, stream=stream, stream_above=stream_above,
            verify=verify,
        )  # fmt: skip
    elif os.sep in text or "/" in text or text.endswith((".npz", ".npy")):
        raise ValueError(
            f"No such file or folder: name={text!r}. A data set path must be an existing .npz "
            "file or a folder (IDX files, CIFAR batches, class folders)."
        )
    else:
        raise ValueError(
            f"Unknown data set: name={text!r}. Available: {', '.join(DATASETS)}, a path to "
            "a .npz file or a folder (IDX files, CIFAR batches, class folders), or 'tfds:<name>'."
        )
    if raw.skipped:
        _warn_skipped(raw)
    return _assemble(raw, validation_split, seed, image_size)


def _warn_skipped(raw: Raw) -> None:
    import warnings

    shown = "\n  ".join(str(bad) for bad in raw.skipped[:5])
    more = f"\n  ... and {len(raw.skipped) - 5} more" if len(raw.skipped) > 5 else ""
    warnings.warn(
        f"{raw.source}: skipped {len(raw.skipped)} file(s) that are not readable images:\n  "
        f"{shown}{more}\n(Dataset.skipped lists them; `kcnn check-data {raw.source}` "
        "checks every file without training.)",
        UserWarning,
        stacklevel=3,
    )


# -- assembling a Dataset from raw arrays -------------------------------------------------------


def _assemble(raw: Raw, validation_split: float, seed: int, image_size) -> Dataset:
    split_names = ("train", "test") + (("val",) if raw.x_val is not None else ())
    images, labels = {}, {}
    for split in split_names:
        x, y = getattr(raw, f"x_{split}"), getattr(raw, f"y_{split}")
        images[split] = _check_images(x, raw.scale, f"x_{split}", raw.source)
        labels[split] = _check_labels(y, len(images[split]), f"y_{split}", raw.source)
    if not len(images["train"]):
        raise ValueError(f"{raw.source}: the training split is empty.")
    largest = max(int(y.max()) for y in labels.values() if y.size)
    if not raw.class_names and largest >= MAX_NUMBERED_CLASSES:
        raise ValueError(
            f"{raw.source}: a label is {largest}, which would make {largest + 1} classes; "
            f"labels must be class indices 0..k-1 (k up to {MAX_NUMBERED_CLASSES} without "
            "class names)."
        )
    num_classes = len(raw.class_names) if raw.class_names else largest + 1
    for split, y in labels.items():
        if y.size and int(y.max()) >= num_classes:
            raise ValueError(
                f"{raw.source}: y_{split} has label {int(y.max())} but there are only "
                f"{num_classes} class names."
            )
    class_names = tuple(raw.class_names or (str(i) for i in range(num_classes)))

    if "val" in images:
        x_train, y_train = images["train"], labels["train"]
        x_val, y_val = images["val"], labels["val"]
    else:
        held_out = math.ceil(len(images["train"]) * validation_split)
        if validation_split and held_out >= len(images["train"]):
            raise ValueError(
                f"{raw.source}: {len(images['train'])} training image(s) are too few to hold "
                f"out validation_split={validation_split} and still train on some."
            )
        x_train, y_train, x_val, y_val = split_arrays(
            images["train"], labels["train"], validation_split, seed
        )
    splits = {"train": x_train, "val": x_val, "test": images["test"]}
    if image_size is not None and splits["train"].shape[1:3] != tuple(image_size):
        from kcnn._validate import check_memory

        count = sum(len(v) for v in splits.values())
        channels = splits["train"].shape[-1]
        check_memory(  # the resized copy, the backend's and the clipped one
            3 * 4 * count * image_size[0] * image_size[1] * channels,
            f"Resizing {count} images to image_size={tuple(image_size)}",
            "Use a smaller image_size.",
        )
        splits = {k: _resize(v, image_size) for k, v in splits.items()}
    rules = label_rules_for(raw.name, channels=splits["train"].shape[-1])
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
        skipped=tuple(raw.skipped),
    )


def _check_images(x, scale: float | None, argument: str, source: str) -> Images:
    """Images (n, h, w, c) that read as float32 in [0, 1], stored as the source gives them
    (integer pixels as uint8)."""
    if isinstance(x, Images):  # decoded by kcnn, already checked
        return x
    x = np.asarray(x)
    if x.dtype.kind not in "uif":
        raise ValueError(
            f"{source}: {argument} must hold numbers; it has dtype {x.dtype} "
            "(expected uint8 pixels or floats in [0, 1])."
        )
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4) or not (x.shape[1] and x.shape[2]):
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
    elif scale is None and x.size and (int(x.min()) < 0 or int(x.max()) > 255):
        raise ValueError(
            f"{source}: {argument} holds integer pixels in [{int(x.min())}, {int(x.max())}]; "
            "integer images must be 0..255 (or store floats in [0, 1])."
        )
    if scale is None:
        scale = 255.0 if x.dtype.kind in "ui" else 1.0
    if x.dtype.kind in "ui" and x.dtype != np.uint8 and (not x.size or int(x.max()) <= 255):
        x = x.astype("uint8")  # the same pixels in the least memory
    return ImageArray(x, scale)


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
    if y.size and int(y.max()) > np.iinfo("int32").max:
        raise ValueError(
            f"{source}: {argument} has a label too large for a class index ({int(y.max())})."
        )
    return y.astype("int32")


def _resize(x: Images, size) -> Images:
    """Images resized (bilinear, antialiased) by Keras, as float32 in [0, 1]."""
    if x.shape[1:3] == tuple(size) or not len(x):
        return x if len(x) else ImageArray(np.zeros((0, *size, x.shape[-1]), "float32"))
    import keras

    resized = keras.ops.image.resize(
        x[:], tuple(size), interpolation="bilinear", antialias=True, data_format="channels_last"
    )
    return ImageArray(np.clip(keras.ops.convert_to_numpy(resized), 0.0, 1.0).astype("float32"))


def _to_data_format(x: Images) -> Images:
    import keras

    if keras.config.image_data_format() != "channels_first":
        return x
    from kcnn.data.stream import ImageFiles

    if isinstance(x, ImageFiles):
        return ImageFiles(x.files, x.image_size, x.grayscale, True, x.max_pixels)
    return ImageArray(np.ascontiguousarray(x.stored.transpose(0, 3, 1, 2)), x.scale)
