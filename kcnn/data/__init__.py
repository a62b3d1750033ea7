"""Data sets and input pipelines."""

from kcnn.data.datasets import DATASETS, Dataset, load_dataset, read_idx

__all__ = ["DATASETS", "Dataset", "load_dataset", "read_idx"]
