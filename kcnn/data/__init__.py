"""Data sets and input pipelines."""

from kcnn.data.datasets import DATASETS, Dataset, load_dataset
from kcnn.data.formats import read_cifar_batch, read_idx, read_image_folder, read_npz

__all__ = [
    "DATASETS",
    "Dataset",
    "load_dataset",
    "read_cifar_batch",
    "read_idx",
    "read_image_folder",
    "read_npz",
]
