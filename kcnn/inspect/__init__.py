"""Tools that make a CNN's insides visible: receptive fields, parameter counts, equivariance,
filters and feature maps, Grad-CAM, what a classifier gets wrong (confusion matrices, top
losses), augmentation galleries, and the learning curves of `kcnn.plots`."""

from kcnn.inspect.backprop import (
    LayerGradients,
    TrainStep,
    conv2d_backward,
    conv2d_backward_autodiff,
    cross_entropy_autodiff,
    dense_backward,
    fit_one_step,
    softmax_cross_entropy,
    train_step_by_hand,
)
from kcnn.inspect.cam import grad_cam, plot_grad_cam
from kcnn.inspect.counts import (
    DenseVsConv,
    ParamReport,
    ParamRow,
    count_flops,
    count_params,
    dense_vs_conv,
    param_report,
)
from kcnn.inspect.depth import compose_linear, deep_stack, gradient_norms, reinitialize
from kcnn.inspect.equivariance import (
    EquivarianceResult,
    PoolingEdgeResponse,
    equivariance_check,
    pooling_edge_response,
)
from kcnn.inspect.features import plot_feature_maps, plot_filters
from kcnn.inspect.gallery import augmentation_gallery
from kcnn.inspect.interpret import (
    Interpretation,
    TopLosses,
    confusion_matrix_plot,
    plot_top_losses,
    top_losses,
)
from kcnn.inspect.layers_by_hand import (
    DropoutCheck,
    StatisticsGap,
    batch_norm_by_hand,
    batch_norm_update,
    batch_statistics,
    batch_statistics_accuracy,
    dropout_by_hand,
    dropout_check,
    moving_statistics_gap,
    set_batch_norm_momentum,
)
from kcnn.inspect.receptive_field import (
    MeasuredField,
    ReceptiveFieldRow,
    ReceptiveFieldTable,
    measure_receptive_field,
    receptive_field,
    receptive_field_size,
)
from kcnn.plots import plot_confusion_matrix, plot_histories, plot_history, plot_lr_range

__all__ = [
    "DenseVsConv",
    "DropoutCheck",
    "EquivarianceResult",
    "Interpretation",
    "LayerGradients",
    "MeasuredField",
    "ParamReport",
    "ParamRow",
    "PoolingEdgeResponse",
    "ReceptiveFieldRow",
    "ReceptiveFieldTable",
    "StatisticsGap",
    "TopLosses",
    "TrainStep",
    "augmentation_gallery",
    "batch_norm_by_hand",
    "batch_norm_update",
    "batch_statistics",
    "batch_statistics_accuracy",
    "compose_linear",
    "confusion_matrix_plot",
    "conv2d_backward",
    "conv2d_backward_autodiff",
    "count_flops",
    "count_params",
    "cross_entropy_autodiff",
    "deep_stack",
    "dense_backward",
    "dense_vs_conv",
    "dropout_by_hand",
    "dropout_check",
    "equivariance_check",
    "fit_one_step",
    "grad_cam",
    "gradient_norms",
    "measure_receptive_field",
    "moving_statistics_gap",
    "param_report",
    "plot_confusion_matrix",
    "plot_feature_maps",
    "plot_filters",
    "plot_grad_cam",
    "plot_histories",
    "plot_history",
    "plot_lr_range",
    "plot_top_losses",
    "pooling_edge_response",
    "receptive_field",
    "receptive_field_size",
    "reinitialize",
    "set_batch_norm_momentum",
    "softmax_cross_entropy",
    "top_losses",
    "train_step_by_hand",
]
