"""Data sets, augmentation policies and input pipelines."""

from kcnn.data.augment import (
    POLICIES,
    TRANSFORMS,
    RandomPadCrop,
    RandomResizedCrop,
    augmentation,
    needs_one_hot,
)
from kcnn.data.datasets import DATASETS, Dataset, load_dataset
from kcnn.data.formats import read_cifar_batch, read_idx, read_image_folder, read_npz
from kcnn.data.pipeline import InputPipeline, channel_stats, make_pipeline

__all__ = [
    "DATASETS",
    "POLICIES",
    "TRANSFORMS",
    "Dataset",
    "InputPipeline",
    "RandomPadCrop",
    "RandomResizedCrop",
    "augmentation",
    "channel_stats",
    "load_dataset",
    "make_pipeline",
    "needs_one_hot",
    "read_cifar_batch",
    "read_idx",
    "read_image_folder",
    "read_npz",
]
