"""Image folders and CSV label files: listed, checked, and decoded in memory or when read.

A user's own images come as

- a folder of class folders, ``photos/<class>/*.jpg`` (split into train and test with a
  seed), or ``photos/train/<class>/``, ``photos/test/<class>/`` and optionally
  ``photos/val/<class>/`` (also ``valid/`` or ``validation/``);
- a CSV file of ``filename,label`` rows (fastai's ``from_csv``), file names relative to the
  CSV's folder, with an optional ``split`` column (``train``, ``val``, ``test``).

`list_images` finds the files and their labels and reads each file's header (not its
pixels): files that are not images, and decompression bombs, are skipped and reported.
The images are then decoded into memory (`decode_all`, uint8) or, for a data set larger
than memory, kept as `ImageFiles`: an array of images decoded when read, which the input
pipeline reads a batch at a time in ``grain`` worker processes (`batch_iterator`).

Nothing here imports Keras: a worker process imports NumPy, Pillow and grain (which loads
JAX when it is installed), about 190 MB and a few seconds, once per pipeline.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kcnn.data.arrays import Images
from kcnn.data.formats import (
    MAX_PIXELS,
    BadImageError,
    class_folder_files,
    decode_image,
    image_header,
)

#: Folder names that mark a split, by split.
SPLIT_FOLDERS = {"train": ("train",), "val": ("val", "valid", "validation"), "test": ("test",)}
#: Values of a CSV's ``split`` column, mapped to the split.
CSV_SPLITS = {
    "train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
    "test": "test",
}  # fmt: skip
_FILENAME_COLUMNS = ("filename", "file", "fname", "image", "path", "name")


@dataclass(frozen=True)
class BadFile:
    """A file that is skipped: its path and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Listing:
    """The images of a folder or CSV source, by split, with their labels; nothing decoded.

    Attributes:
        name: the data set's name (the folder's or the CSV's).
        source: the folder or CSV file.
        class_names: one name per class index.
        files: split (``"train"``, and ``"val"`` and ``"test"`` when the source gives them)
            to the image files.
        labels: split to int64 class indices.
        size: ``(height, width)`` of the first readable image.
        grayscale: whether the first readable image is grayscale.
        bad: files skipped, with the reason.
        sizes: how many readable images have each ``(height, width)``.
    """

    name: str
    source: str
    class_names: tuple
    files: dict
    labels: dict
    size: tuple = (0, 0)
    grayscale: bool = False
    bad: list = field(default_factory=list)
    sizes: dict = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Readable images over all splits."""
        return sum(len(f) for f in self.files.values())

    def keep(self, split: str, kept: list[int]) -> None:
        """Keep only the files (and their labels) at indices ``kept`` of ``split``."""
        self.files[split] = [self.files[split][i] for i in kept]
        self.labels[split] = self.labels[split][kept]


# -- finding the files --------------------------------------------------------------------------


def is_image_source(path: Path) -> bool:
    """Whether ``path`` is a CSV file, or a folder of class folders or of one CSV file."""
    if path.is_file():
        return path.suffix.lower() == ".csv"
    return path.is_dir() and (_class_folders(path) != [] or _csv_in(path) is not None)


def _class_folders(path: Path) -> list[str]:
    return sorted(d.name for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))


def _csv_in(folder: Path) -> Path | None:
    found = sorted(folder.glob("*.csv"))
    return found[0] if len(found) == 1 and not _class_folders(folder) else None


def _split_folders(path: Path) -> dict[str, Path] | None:
    """``{"train": path/train, "test": path/test, ["val": ...]}`` when the folder is split."""
    found = {}
    for split, names in SPLIT_FOLDERS.items():
        for name in names:
            if (path / name).is_dir():
                found[split] = path / name
                break
    return found if "train" in found and "test" in found else None


def _read_class_folders(root: Path, classes: list[str] | None):
    """Files (as text) and labels of ``root/<class>/*``; ``classes`` fixes the order."""
    files, labels, present = class_folder_files(root, classes)
    return [str(f) for f in files], labels, present


def _read_csv(path: Path):
    """Files, labels, split per row and class names of a ``filename,label[,split]`` CSV."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if any(cell.strip() for cell in r)]
    if not rows:
        raise ValueError(
            f"{path} is empty: expected a header 'filename,label' and one row per image."
        )
    header = [cell.strip().lower() for cell in rows[0]]
    if "label" not in header:
        raise ValueError(
            f"{path}: the first row must name the columns, with 'label' and the file name "
            f"({' or '.join(_FILENAME_COLUMNS)}; else the first column). Received: {rows[0]}"
        )
    label_col = header.index("label")
    file_col = next((header.index(c) for c in _FILENAME_COLUMNS if c in header), 0)
    split_col = header.index("split") if "split" in header else None
    files, names, splits = [], [], []
    for number, row in enumerate(rows[1:], start=2):
        needed = max(label_col, file_col, split_col or 0)
        if len(row) <= needed or not row[file_col].strip() or not row[label_col].strip():
            raise ValueError(
                f"{path}, row {number}: a file name and a label are needed. Received: {row}"
            )
        label = row[label_col].strip()
        if len(label.split()) > 1:
            raise ValueError(
                f"{path}, row {number}: label {label!r} holds several labels; kcnn trains "
                "single-label classifiers (one class per image)."
            )
        split = "train"
        if split_col is not None:
            value = row[split_col].strip().lower()
            if value not in CSV_SPLITS:
                raise ValueError(
                    f"{path}, row {number}: split must be one of {sorted(CSV_SPLITS)}. "
                    f"Received: {row[split_col]!r}"
                )
            split = CSV_SPLITS[value]
        files.append(str(path.parent / row[file_col].strip()))
        names.append(label)
        splits.append(split)
    if not files:
        raise ValueError(f"{path} names no image: add one 'filename,label' row per image.")
    unique = sorted(set(names))
    if all(n.lstrip("-").isdigit() for n in unique):
        unique = sorted(unique, key=int)
    index = {n: i for i, n in enumerate(unique)}
    return files, np.asarray([index[n] for n in names], dtype="int64"), splits, tuple(unique)


def list_images(path: str | os.PathLike, max_pixels: int = MAX_PIXELS) -> Listing:
    """The images of a folder of class folders or a CSV file, with their labels.

    Every file's header is read (not its pixels): a file that is not an image Pillow can
    open, or that has more than ``max_pixels`` pixels, is left out and listed in ``bad``.
    A file that opens but is damaged further in is found only by decoding it (`decode_all`,
    `verify_files`).

    Args:
        path: a folder (``<class>/`` folders, or ``train/``, ``test/`` and optionally ``val/``
            folders of class folders, or one CSV file) or a CSV file.
        max_pixels: refuse larger images. Defaults to `kcnn.data.formats.MAX_PIXELS`.

    Returns:
        A `Listing`.

    Raises:
        ValueError: no class folders or CSV, an empty class, a CSV without a ``label``
            column, a file named by the CSV that does not exist, or no readable image.
    """
    path = Path(path)
    name = path.stem if path.is_file() else path.name
    csv_file = path if path.is_file() else _csv_in(path)
    files: dict = {}
    labels: dict = {}
    if csv_file is not None:
        all_files, all_labels, splits, classes = _read_csv(csv_file)
        missing = [f for f in all_files if not os.path.isfile(f)]
        if missing:
            raise ValueError(
                f"{csv_file} names {len(missing)} file(s) that do not exist, e.g. {missing[:3]} "
                "(file names are relative to the CSV's folder)."
            )
        splits = np.asarray(splits)
        for split in ("train", "val", "test"):
            chosen = np.flatnonzero(splits == split)
            if len(chosen) or split == "train":
                files[split] = [all_files[i] for i in chosen]
                labels[split] = all_labels[chosen]
        source = str(csv_file)
    else:
        folders = _split_folders(path)
        if folders is None:
            files["train"], labels["train"], classes = _read_class_folders(path, None)
        else:
            files["train"], labels["train"], classes = _read_class_folders(folders["train"], None)
            for split in ("val", "test"):
                if split in folders:
                    files[split], labels[split], _ = _read_class_folders(folders[split], classes)
        source = str(path)
    listing = Listing(name, source, tuple(classes), files, labels)
    _read_headers(listing, max_pixels)
    return listing


def _read_headers(listing: Listing, max_pixels: int) -> None:
    """Read every file's header; leave out the unreadable ones; note sizes and mode."""
    first = None
    for split in list(listing.files):
        kept = []
        for i, file in enumerate(listing.files[split]):
            try:
                height, width, grayscale = image_header(file, max_pixels)
            except BadImageError as error:
                listing.bad.append(BadFile(file, _reason(error)))
                continue
            kept.append(i)
            listing.sizes[(height, width)] = listing.sizes.get((height, width), 0) + 1
            if first is None:
                first = (height, width, grayscale)
        listing.keep(split, kept)
    if first is None:
        raise ValueError(
            f"{listing.source} holds no readable image: {len(listing.bad)} file(s) could not "
            f"be opened, e.g. {listing.bad[0] if listing.bad else 'none'}."
        )
    listing.size, listing.grayscale = first[:2], first[2]


def _reason(error: Exception) -> str:
    """The part of a `BadImageError` message after the file name."""
    text = str(error)
    return text.split(": ", 1)[1] if text.startswith("Cannot read image") else text


def target_size(listing: Listing, image_size) -> tuple[int, int]:
    """The size every image is decoded to: ``image_size``, else the one size they share."""
    if image_size is not None:
        return tuple(image_size)
    if len(listing.sizes) > 1:
        common = sorted(listing.sizes.items(), key=lambda kv: -kv[1])[:3]
        shown = ", ".join(f"{h}x{w} ({n} images)" for (h, w), n in common)
        raise ValueError(
            f"{listing.source}: the images have {len(listing.sizes)} sizes ({shown}, ...); "
            "pass image_size=(height, width) to resize them."
        )
    return listing.size


# -- decoding -----------------------------------------------------------------------------------


class ImageFiles(Images):
    """Image files read as a float32 array in [0, 1], decoded when read.

    ``files[i]`` decodes one file and ``files[indices]`` a batch; nothing is held in memory
    but the file names. Every image is decoded to ``size`` and ``grayscale`` by
    `kcnn.data.formats.decode_image`, the decoder of the in-memory path too.

    Args:
        files: the image files.
        size: ``(height, width)`` to decode to.
        grayscale: one channel (True) or three.
        channels_first: shape images ``(c, h, w)``. Defaults to False.
        max_pixels: refuse larger images. Defaults to `kcnn.data.formats.MAX_PIXELS`.
    """

    scale = 255.0

    def __init__(self, files: list, size: tuple[int, int], grayscale: bool,
                 channels_first: bool = False, max_pixels: int = MAX_PIXELS):  # fmt: skip
        self.files = tuple(str(f) for f in files)
        self.image_size = (int(size[0]), int(size[1]))
        self.grayscale = bool(grayscale)
        self.channels_first = bool(channels_first)
        self.max_pixels = int(max_pixels)

    @property
    def shape(self) -> tuple:
        channels = 1 if self.grayscale else 3
        image = (
            (channels, *self.image_size) if self.channels_first else (*self.image_size, channels)
        )
        return (len(self.files), *image)

    def pixels(self, indices) -> np.ndarray:
        if isinstance(indices, (int, np.integer)):
            return self._decode(self.files[indices])
        chosen = np.arange(len(self.files))[indices]
        if chosen.ndim != 1:
            raise IndexError(
                f"ImageFiles takes an index, a slice or a 1-D index array. Received: {indices!r}"
            )
        batch = np.zeros((len(chosen), *self.shape[1:]), dtype="uint8")
        for row, i in enumerate(chosen):
            batch[row] = self._decode(self.files[i])
        return batch

    def _decode(self, file: str) -> np.ndarray:
        try:
            pixels = decode_image(file, self.image_size, self.grayscale, self.max_pixels)
        except BadImageError as error:
            raise BadImageError(
                f"{error} Streamed files are checked when read: run `kcnn check-data` on the "
                "data set (or load it with verify=True) to leave out every damaged file first."
            ) from error
        return pixels.transpose(2, 0, 1) if self.channels_first else pixels

    def __getattr__(self, name: str):
        # Not forwarded to the float32 array (as Images does): that would decode every
        # file, unasked, for a probe such as hasattr(files, "nbytes").
        raise AttributeError(
            f"'ImageFiles' object has no attribute {name!r}: its images are decoded when read; "
            "index it (files[i], files[indices]) or call np.asarray(files) to decode them all."
        )

    def take(self, indices) -> ImageFiles:
        indices = np.asarray(indices, dtype="int64")
        return ImageFiles([self.files[i] for i in indices], self.image_size, self.grayscale,
                          self.channels_first, self.max_pixels)  # fmt: skip

    def __repr__(self) -> str:
        return f"ImageFiles({len(self.files)} files, shape={self.shape}, decoded when read)"


def _decode_or_reason(args) -> np.ndarray | str:
    """Decode one file: its pixels, or why it cannot be (for `decode_all`, `verify_files`)."""
    file, size, grayscale, max_pixels = args
    try:
        return decode_image(file, size, grayscale, max_pixels)
    except BadImageError as error:
        return _reason(error)


def _map(function, items: list, workers: int):
    """``function`` over ``items``, yielded in order, computed in ``workers`` grain
    processes (0: here)."""
    if workers <= 0 or len(items) < 2:
        yield from (function(item) for item in items)
        return
    grain = _grain()
    dataset = grain.MapDataset.source(items).map(function)
    dataset = dataset.to_iter_dataset(grain.ReadOptions(num_threads=2, prefetch_buffer_size=64))
    iterator = iter(
        dataset.mp_prefetch(
            grain.MultiprocessingOptions(num_workers=workers, per_worker_buffer_size=64),
            worker_init_fn=exit_with_parent,
        )
    )
    try:
        # Each array arrives in grain's shared memory, which holds a file descriptor until
        # it is freed: copy it out at once (thousands of them would exhaust the process's
        # descriptors).
        for result in iterator:
            yield np.array(result) if isinstance(result, np.ndarray) else result
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def decode_all(listing: Listing, size, workers: int = 0) -> dict[str, np.ndarray]:
    """Decode every listed image into memory (uint8 ``(n, h, w, c)`` per split), each
    written straight into the split's array (peak memory: the pixels, once).

    A file that fails to decode is left out of its split (with its label) and added to
    ``listing.bad``.
    """
    out = {}
    channels = 1 if listing.grayscale else 3
    for split, files in listing.files.items():
        pixels = np.empty((len(files), *size, channels), dtype="uint8")
        kept = []
        jobs = [(f, size, listing.grayscale, MAX_PIXELS) for f in files]
        for i, result in enumerate(_map(_decode_or_reason, jobs, workers)):
            if isinstance(result, str):
                listing.bad.append(BadFile(files[i], result))
            else:
                pixels[len(kept)] = result
                kept.append(i)
        listing.keep(split, kept)
        out[split] = pixels if len(kept) == len(files) else pixels[: len(kept)].copy()
    return out


def verify_files(listing: Listing, size, workers: int = 0) -> None:
    """Decode every listed image and leave out (into ``listing.bad``) those that fail,
    keeping nothing in memory: fastai's ``verify_images``."""
    for split, files in listing.files.items():
        results = list(_map(_VerifyOne(size, listing.grayscale), files, workers))
        kept = [i for i, r in enumerate(results) if r is None]
        listing.bad += [BadFile(files[i], r) for i, r in enumerate(results) if r is not None]
        listing.keep(split, kept)


class _VerifyOne:
    """Why one file cannot be decoded, or None (a picklable function for grain workers)."""

    def __init__(self, size, grayscale):
        self.size, self.grayscale = size, grayscale

    def __call__(self, file):
        result = _decode_or_reason((file, self.size, self.grayscale, MAX_PIXELS))
        return result if isinstance(result, str) else None


@dataclass
class ImageCheck:
    """What `verify_images` found: the images by split and class, their sizes, and every
    file that cannot be decoded.

    Attributes:
        listing: the `Listing`, bad files left out (``listing.bad`` has them).
    """

    listing: Listing

    @property
    def bad(self) -> list:
        """The files that cannot be decoded (`BadFile`)."""
        return self.listing.bad

    @property
    def ok(self) -> bool:
        """Whether every file decodes."""
        return not self.bad

    def to_text(self) -> str:
        """A short report: counts per split and class, sizes, then every bad file."""
        listing = self.listing
        classes = listing.class_names
        lines = [
            f"{listing.source}: {listing.count} readable images in {len(classes)} classes, "
            f"{len(self.bad)} bad file(s)"
        ]
        width = max([5] + [len(c) for c in classes])
        lines.append("  " + "split".ljust(6) + "images".rjust(8) + "".join(
            c[:width].rjust(width + 2) for c in classes))  # fmt: skip
        for split, labels in listing.labels.items():
            counts = np.bincount(labels, minlength=len(classes))
            lines.append("  " + split.ljust(6) + f"{len(labels):>8}" + "".join(
                f"{n:>{width + 2}}" for n in counts))  # fmt: skip
        sizes = sorted(listing.sizes.items(), key=lambda kv: -kv[1])
        shown = ", ".join(f"{h}x{w} ({n})" for (h, w), n in sizes[:5])
        more = f", and {len(sizes) - 5} more sizes" if len(sizes) > 5 else ""
        mode = "grayscale" if listing.grayscale else "RGB"
        lines.append(f"  sizes: {shown}{more}; decoded as {mode} (the first image's mode)")
        if self.bad:
            lines.append(f"bad files ({len(self.bad)}), left out when loading:")
            lines += [f"  {bad}" for bad in self.bad]
        return "\n".join(lines)


def verify_images(path: str | os.PathLike, workers: int | None = None) -> ImageCheck:
    """Decode every image of a folder or CSV source and list those that fail, without
    training: fastai's ``verify_images``, for the sources `kcnn.data.load_dataset` reads.

    Args:
        path: a folder of class folders (or ``train/``, ``val/``, ``test/`` folders of them)
            or a CSV file of ``filename,label[,split]`` rows.
        workers: processes decoding in parallel. Defaults to the cores but one for 2,000
            images or more, else none.

    Returns:
        An `ImageCheck`; ``to_text()`` is what ``kcnn check-data`` prints.

    Raises:
        ValueError: the path is not such a source (see `list_images`).

    Example:
        ```python
        check = kcnn.data.verify_images("photos/")
        print(check.to_text())
        [bad.path for bad in check.bad]
        ```
    """
    listing = list_images(path)
    if workers is None:
        workers = default_workers() if listing.count >= 2000 else 0
    verify_files(listing, None, workers)
    return ImageCheck(listing)


# -- batches for the input pipeline --------------------------------------------------------------


class _DecodeBatch:
    """The stored pixels of the batch at a position of the epochs laid end to end
    (``epoch * batches_per_epoch + index``): picklable, for grain's worker processes."""

    def __init__(self, images: ImageFiles, plan):
        self.images, self.plan = images, plan

    def __call__(self, position: int) -> np.ndarray:
        epoch, index = divmod(int(position), len(self.plan))
        return self.images.pixels(self.plan.indices(epoch, index))


#: Positions a batch iterator covers: epochs without end, for any run.
_ENDLESS = 2**40


def batch_iterator(images: ImageFiles, plan, start: int, workers: int):
    """An iterator over the uint8 pixels of the batches of `kcnn.data.batching.BatchPlan`
    ``plan``, epoch after epoch, from position ``start`` (``epoch * len(plan) + index``),
    decoded ahead in ``workers`` grain processes (0: in this process, one at a time)."""
    grain = _grain()

    dataset = grain.MapDataset.range(start, _ENDLESS).map(_DecodeBatch(images, plan))
    # Each process decodes two batches at a time and holds two ready: memory stays a few
    # batches per worker, whatever the size of the data set.
    threads = 2 if workers > 0 else 0
    dataset = dataset.to_iter_dataset(
        grain.ReadOptions(num_threads=threads, prefetch_buffer_size=2)
    )
    if workers > 0:
        dataset = dataset.mp_prefetch(
            grain.MultiprocessingOptions(num_workers=workers, per_worker_buffer_size=2),
            worker_init_fn=exit_with_parent,
        )
    return iter(dataset)


def exit_with_parent(worker_index: int = 0, worker_count: int = 1) -> None:
    """In a decoding worker: end this process when its parent (the training process) is
    gone. grain's workers outlive a parent killed with SIGKILL, each holding hundreds of
    MB; a killed run must not leave them behind."""
    import threading
    import time

    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="kcnn-exit-with-parent", daemon=True).start()


def _grain():
    """The ``grain`` module, ready to start worker processes."""
    try:
        import grain
        from absl import flags
    except ImportError as error:
        raise ImportError(
            "Streaming image files needs grain: pip install 'kcnn[stream]'."
        ) from error
    # grain 0.2.18 reads one of its absl flags in the worker processes, which fails unless
    # flags were parsed (google/grain#1355): a script that is not an absl app uses defaults.
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()
    return grain


def default_workers() -> int:
    """Decoding processes by default: the cores but one (training needs one), 1 to 8."""
    return max(1, min(8, (os.cpu_count() or 2) - 1))
