"""The inference contract: what a saved model needs beside its weights to classify images.

A `.keras` file knows its layers, not what its outputs mean or what its input must look
like. kcnn writes a `Contract` into every ``model.keras`` it saves, as the ``"kcnn"`` entry
of the archive's ``metadata.json`` (which Keras writes and does not read back): the class
names, the input shape and channel layout, the pixel range, the normalisation applied before
the model (if any), and the data set's label rules, which say which test-time
augmentations keep the labels. A ``.keras`` file without one still loads: its classes are
then named ``0..k-1``, or after a named data set when a run folder says which.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from kcnn import _io
from kcnn._validate import is_int as _is_int
from kcnn._validate import is_number
from kcnn._validate import short_repr as _short


def _is_finite_number(value) -> bool:
    return is_number(value, finite=True)


#: Bumped when a field changes meaning; a reader refuses a newer one.
VERSION = 1
#: The key of ``metadata.json`` that holds kcnn's entries.
METADATA_KEY = "kcnn"


@dataclass(frozen=True)
class Contract:
    """What a classifier's inputs and outputs mean.

    Attributes:
        class_names: one name per output, in the model's order.
        input_shape: one image as the model takes it, e.g. ``(28, 28, 1)`` (channels first
            when ``data_format`` says so).
        data_format: ``"channels_last"`` or ``"channels_first"``.
        pixel_range: the range of the pixels the model was trained on (kcnn's data sets:
            ``(0.0, 1.0)``).
        mean, std: per-channel normalisation applied to the images before the model
            (``(x - mean) / std``), or None when the model takes the pixels as they are.
        dataset: the name of the data set the model was trained on ("" if unknown).
        label_rules: transforms that would change what the labels mean, mapped to the
            reason (see `kcnn.data.Dataset.label_rules`); test-time augmentation skips them.
    """

    class_names: tuple
    input_shape: tuple
    data_format: str = "channels_last"
    pixel_range: tuple = (0.0, 1.0)
    mean: tuple | None = None
    std: tuple | None = None
    dataset: str = ""
    label_rules: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def channels(self) -> int:
        """Channels of one image (1: grayscale, 3: RGB)."""
        return int(self.input_shape[0 if self.data_format == "channels_first" else -1])

    @property
    def image_size(self) -> tuple[int, int]:
        """``(height, width)``."""
        shape = self.input_shape
        return (int(shape[1]), int(shape[2])) if self.data_format == "channels_first" else (
            int(shape[0]), int(shape[1]))  # fmt: skip

    def to_dict(self) -> dict:
        """The JSON form (lists for tuples), with the contract's version."""
        record = asdict(self)
        for key in ("class_names", "input_shape", "pixel_range", "mean", "std"):
            if record[key] is not None:
                record[key] = list(record[key])
        return {"version": VERSION, **record}

    @classmethod
    def from_dict(cls, record: dict, source: str = "the contract") -> Contract:
        """Read `to_dict`'s form back.

        Raises:
            ValueError: a newer contract version, or a record that is not a contract
                (missing or malformed entries); the message names ``source``.
        """
        if not isinstance(record, dict):
            raise ValueError(
                f"{source} has an inference contract that is not a JSON object: {_short(record)}"
            )
        record = dict(record)
        version = record.pop("version", VERSION)
        if not _is_int(version) or version > VERSION:
            raise ValueError(
                f"{source} has inference contract version {_short(version)}; this kcnn reads "
                f"versions up to {VERSION}. Upgrade kcnn to load it."
            )
        known = set(cls.__dataclass_fields__)
        missing = {"class_names", "input_shape"} - set(record)
        if missing:
            raise ValueError(f"{source} lacks {sorted(missing)} in its inference contract.")
        values = {k: v for k, v in record.items() if k in known}
        problem = _contract_problem(values)
        if problem:
            raise ValueError(f"{source} has an invalid inference contract: {problem}.")
        for key in ("class_names", "input_shape", "pixel_range", "mean", "std"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        values["class_names"] = tuple(str(name) for name in values["class_names"])
        values["label_rules"] = dict(values.get("label_rules") or {})
        return cls(**values)

    @classmethod
    def for_model(cls, model, data=None, *, class_names=None, dataset: str | None = None,
                  label_rules: dict | None = None, mean=None, std=None) -> Contract:  # fmt: skip
        """The contract of ``model`` trained on ``data`` (a `kcnn.data.Dataset`), or on the
        named data set ``dataset``; class names default to ``data``'s, then to the named
        data set's, then to ``0..k-1``."""
        import keras

        from kcnn.data.datasets import NAMED_CLASSES, label_rules_for

        input_shape = tuple(int(d) for d in model.input_shape[1:])
        data_format = keras.config.image_data_format()
        num_classes = int(model.output_shape[-1])
        dataset = dataset if dataset is not None else getattr(data, "name", "")
        if class_names is None:
            class_names = getattr(data, "class_names", None) or NAMED_CLASSES.get(dataset)
        if class_names is None or len(class_names) != num_classes:
            class_names = tuple(str(i) for i in range(num_classes))
        channels = input_shape[0 if data_format == "channels_first" else -1]
        if label_rules is None:
            label_rules = getattr(data, "label_rules", None)
        if label_rules is None:
            label_rules = label_rules_for(dataset, channels)
        return cls(
            class_names=tuple(str(c) for c in class_names),
            input_shape=input_shape,
            data_format=data_format,
            mean=None if mean is None else tuple(float(v) for v in mean),
            std=None if std is None else tuple(float(v) for v in std),
            dataset=dataset,
            label_rules=dict(label_rules),
        )

    def metadata(self) -> dict:
        """The entries for a ``.keras`` file's ``metadata.json``."""
        return {METADATA_KEY: {"inference": self.to_dict()}}


def _contract_problem(values: dict) -> str | None:
    """What is wrong with a contract's entries read from JSON, or None."""
    names = values["class_names"]
    if not isinstance(names, (list, tuple)) or not all(
        isinstance(n, str) or _is_finite_number(n) for n in names
    ):
        return f"class_names must be a list of names, not {_short(names)}"
    shape = values["input_shape"]
    if (
        not isinstance(shape, (list, tuple))
        or len(shape) != 3
        or not all(_is_int(d) and d > 0 for d in shape)
    ):
        return f"input_shape must be three positive integers, not {_short(shape)}"
    data_format = values.get("data_format", "channels_last")
    if data_format not in ("channels_last", "channels_first"):
        return f"data_format must be 'channels_last' or 'channels_first', not {_short(data_format)}"
    pixels = values.get("pixel_range", (0.0, 1.0))
    if not (
        isinstance(pixels, (list, tuple)) and len(pixels) == 2
        and all(_is_finite_number(v) for v in pixels) and pixels[0] < pixels[1]
    ):  # fmt: skip
        return f"pixel_range must be two numbers (low, high), not {_short(pixels)}"
    mean, std = values.get("mean"), values.get("std")
    if (mean is None) != (std is None):
        return "mean and std must both be given or both be null"
    for key, numbers in (("mean", mean), ("std", std)):
        if numbers is not None and not (
            isinstance(numbers, (list, tuple)) and numbers
            and all(_is_finite_number(v) for v in numbers)
        ):  # fmt: skip
            return f"{key} must be a list of numbers (one per channel), not {_short(numbers)}"
    if std is not None and not all(v > 0 for v in std):
        return f"std must be positive, not {_short(std)}"
    if not isinstance(values.get("dataset", ""), str):
        return f"dataset must be a name, not {_short(values['dataset'])}"
    rules = values.get("label_rules") or {}
    if not isinstance(rules, dict) or not all(isinstance(v, str) for v in rules.values()):
        return f"label_rules must map transforms to reasons, not {_short(rules)}"
    return None


def read_contract(path: str | os.PathLike) -> Contract | None:
    """The contract stored in a ``.keras`` file, or None if it has none.

    Raises:
        ValueError: the file's ``metadata.json`` or its contract is damaged.
    """
    entry = _io.read_keras_metadata(path).get(METADATA_KEY)
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise ValueError(
            f"{os.fspath(path)} is a damaged .keras file: the {METADATA_KEY!r} entry of its "
            f"metadata.json is not an object: {_short(entry)}"
        )
    if "inference" not in entry:
        return None
    return Contract.from_dict(entry["inference"], source=os.fspath(path))
