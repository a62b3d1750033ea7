"""Tools that make a CNN's insides visible: parameter counts, curves, confusion matrices,
augmentation galleries."""

from kcnn.inspect.counts import count_params
from kcnn.inspect.visualize import (
    augmentation_gallery,
    plot_confusion_matrix,
    plot_histories,
    plot_history,
    plot_lr_range,
)

__all__ = [
    "augmentation_gallery",
    "count_params",
    "plot_confusion_matrix",
    "plot_histories",
    "plot_history",
    "plot_lr_range",
]
