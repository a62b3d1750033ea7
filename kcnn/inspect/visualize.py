"""Deprecated location, kept for one release: every name it held is re-exported from the
module where it now lives.

- `kcnn.plots`: `plot_history`, `plot_histories`, `plot_lr_range`, `plot_confusion_matrix`
  (matplotlib only, shared with training and inference).
- `kcnn.inspect.features`: `plot_filters`, `plot_feature_maps`.
- `kcnn.inspect.cam`: `grad_cam`, `plot_grad_cam`.
- `kcnn.inspect.interpret`: `Interpretation` (one prediction -> confusion matrix, top losses,
  most confused pairs), `confusion_matrix_plot`, `top_losses`, `plot_top_losses`,
  `TopLosses`, `SPLITS`.
- `kcnn.inspect.gallery`: `augmentation_gallery`.
- `kcnn.inspect._graph`: the layer-walking helpers.

Import from `kcnn.inspect` (or `kcnn.plots`) instead.
"""

from kcnn.inspect.cam import grad_cam, plot_grad_cam
from kcnn.inspect.features import plot_feature_maps, plot_filters
from kcnn.inspect.gallery import augmentation_gallery
from kcnn.inspect.interpret import (
    SPLITS,
    TopLosses,
    confusion_matrix_plot,
    plot_top_losses,
    top_losses,
)
from kcnn.plots import (
    _best_and_stop,  # noqa: F401  (imported by tests of earlier releases)
    plot_confusion_matrix,
    plot_histories,
    plot_history,
    plot_lr_range,
)

__all__ = [
    "SPLITS",
    "TopLosses",
    "augmentation_gallery",
    "confusion_matrix_plot",
    "grad_cam",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_grad_cam",
    "plot_histories",
    "plot_history",
    "plot_lr_range",
    "plot_top_losses",
    "top_losses",
]
