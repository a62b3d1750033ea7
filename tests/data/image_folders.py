"""Folders of real images for the streaming tests: scikit-learn's digits written as PNG files."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image


def digits(count: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` of scikit-learn's digits as uint8 8x8 images and their labels."""
    from sklearn.datasets import load_digits

    found = load_digits()
    pixels = np.round(found.images[:count] * (255 / 16)).astype("uint8")
    return pixels, found.target[:count]


def write_digits(root: Path, layout: str = "classes", count: int = 240) -> Path:
    """Write digits as PNG files; return the path to load.

    ``layout``: ``"classes"`` (``root/<digit>/i.png``), ``"split"`` (``train/``, ``val/`` and
    ``test/`` folders of class folders), ``"csv"`` (``root/images/i.png`` and
    ``root/labels.csv`` with a ``split`` column) or ``"csv-nosplit"``.
    """
    pixels, labels = digits(count)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (image, label) in enumerate(zip(pixels, labels)):
        split = ("train", "train", "train", "val", "test")[i % 5]
        if layout == "classes":
            folder = root / str(label)
        elif layout == "split":
            folder = root / split / str(label)
        else:
            folder = root / "images"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, "L").save(folder / f"{i:04d}.png")
        rows.append((f"images/{i:04d}.png", str(label), split))
    if layout.startswith("csv"):
        with open(root / "labels.csv", "w", newline="") as f:
            writer = csv.writer(f)
            split = layout == "csv"
            writer.writerow(["filename", "label"] + (["split"] if split else []))
            for row in rows:
                writer.writerow(row if split else row[:2])
        return root / "labels.csv"
    return root
