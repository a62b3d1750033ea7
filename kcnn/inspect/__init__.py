"""Tools that make a CNN's insides visible: parameter counts, curves, confusion matrices."""

from kcnn.inspect.counts import count_params
from kcnn.inspect.visualize import plot_confusion_matrix, plot_history

__all__ = ["count_params", "plot_confusion_matrix", "plot_history"]
