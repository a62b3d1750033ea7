"""Predictions and test-time augmentation.

`Predictions` holds one prediction pass: the probabilities, the files they came from and
the files that could not be read; it prints as a table and writes CSV. `tta_views` lists the
test-time transforms a `Contract`'s label rules allow: the identity, a horizontal flip
unless the labels forbid it (digits: a mirrored 2 is no 2), and shifts by the training
crop's padding in the four directions. The rules are asked through the same
`kcnn.data.augment.refused` that training augmentation asks, so test-time augmentation can
never apply a transform the training refused.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from kcnn import _io
from kcnn.data.contract import Contract


@dataclass
class Predictions:
    """Class probabilities for a batch of images, with what they came from.

    Attributes:
        probabilities: ``(images, classes)`` float32.
        class_names: one name per class.
        files: the image file of each row (None for arrays).
        bad: files that could not be read, as ``(file, reason)``.
        top_k: how many classes the table and the CSV show per image.
    """

    probabilities: np.ndarray
    class_names: tuple
    files: list[str] | None = None
    bad: list[tuple[str, str]] = field(default_factory=list)
    top_k: int = 5

    def __len__(self) -> int:
        return len(self.probabilities)

    @property
    def indices(self) -> np.ndarray:
        """The most probable class of each image."""
        return self.probabilities.argmax(axis=-1)

    @property
    def labels(self) -> list[str]:
        """The name of the most probable class of each image."""
        return [self.class_names[i] for i in self.indices]

    def top(self, k: int | None = None) -> list[list[tuple[str, float]]]:
        """For each image, its ``k`` most probable classes as ``(name, probability)``,
        most probable first (ties: the lower class index first). Defaults to ``top_k``."""
        k = min(k or self.top_k, self.probabilities.shape[-1])
        order = np.argsort(-self.probabilities, axis=-1, kind="stable")[:, :k]
        return [
            [(self.class_names[j], float(row[j])) for j in indices]
            for row, indices in zip(self.probabilities, order)
        ]

    def _names(self) -> list[str]:
        return self.files if self.files is not None else [str(i) for i in range(len(self))]

    def to_rows(self) -> list[dict]:
        """One dict per image: ``file`` (or ``index``), then ``class_1``, ``p_1``, ..."""
        key = "file" if self.files is not None else "index"
        rows = []
        for name, top in zip(self._names(), self.top()):
            row = {key: name}
            for rank, (label, p) in enumerate(top, start=1):
                row[f"class_{rank}"], row[f"p_{rank}"] = label, round(p, 6)
            rows.append(row)
        return rows

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write `to_rows` as CSV (atomically), then the unreadable files with their
        reason in a ``error`` column."""
        rows = self.to_rows()
        columns = list(rows[0]) if rows else ["file"]
        if self.bad:
            columns.append("error")
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        writer.writerows({columns[0]: file, "error": reason} for file, reason in self.bad)
        _io.write_text(path, buffer.getvalue())

    def __str__(self) -> str:
        names = [os.fspath(n) for n in self._names()]
        width = max([len(n) for n in names] + [4])
        header = "file" if self.files is not None else "image"
        lines = [f"{header:<{width}}  top {min(self.top_k, len(self.class_names))} classes"]
        for name, top in zip(names, self.top()):
            shown = "  ".join(f"{label} {p:.1%}" for label, p in top)
            lines.append(f"{name:<{width}}  {shown}")
        if self.bad:
            lines.append(f"{len(self.bad)} file(s) could not be read:")
            lines += [f"  {file}: {reason}" for file, reason in self.bad]
        return "\n".join(lines)


def tta_views(contract: Contract) -> list[tuple[str, Callable[[np.ndarray], np.ndarray]]]:
    """The test-time views of a batch that keep ``contract``'s labels, as ``(name, function
    of a batch in the model's layout)``; the identity comes first."""
    from kcnn.data.augment import default_padding, refused

    channels_first = contract.data_format == "channels_first"
    h_axis, w_axis = (2, 3) if channels_first else (1, 2)
    views = [("identity", lambda x: x)]
    if not refused("horizontal_flip", contract.label_rules):
        views.append(("horizontal_flip", lambda x: np.flip(x, axis=w_axis)))
    if not refused("crop", contract.label_rules):
        pad = default_padding(contract.input_shape)
        for name, axis, step in (("down", h_axis, pad), ("up", h_axis, -pad),
                                 ("right", w_axis, pad), ("left", w_axis, -pad)):  # fmt: skip
            views.append((f"shift_{name}", _shifter(axis, step)))
    return views


def _shifter(axis: int, step: int) -> Callable[[np.ndarray], np.ndarray]:
    """Shift a batch by ``step`` pixels along ``axis``, filling with black (0), as the
    training crop's padding does."""

    def shift(x: np.ndarray) -> np.ndarray:
        out = np.zeros_like(x)
        source = [slice(None)] * x.ndim
        target = [slice(None)] * x.ndim
        source[axis] = slice(0, x.shape[axis] - step) if step > 0 else slice(-step, None)
        target[axis] = slice(step, None) if step > 0 else slice(0, x.shape[axis] + step)
        out[tuple(target)] = x[tuple(source)]
        return out

    return shift
