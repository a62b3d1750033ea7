"""Tools that make a CNN's insides visible: receptive fields, parameter counts, equivariance,
curves, confusion matrices, augmentation galleries."""

from kcnn.inspect.counts import (
    DenseVsConv,
    ParamReport,
    ParamRow,
    count_params,
    dense_vs_conv,
    param_report,
)
from kcnn.inspect.equivariance import (
    EquivarianceResult,
    PoolingEdgeResponse,
    equivariance_check,
    pooling_edge_response,
)
from kcnn.inspect.receptive_field import (
    MeasuredField,
    ReceptiveFieldRow,
    ReceptiveFieldTable,
    measure_receptive_field,
    receptive_field,
    receptive_field_size,
)
from kcnn.inspect.visualize import (
    augmentation_gallery,
    plot_confusion_matrix,
    plot_histories,
    plot_history,
    plot_lr_range,
)

__all__ = [
    "DenseVsConv",
    "EquivarianceResult",
    "MeasuredField",
    "ParamReport",
    "ParamRow",
    "PoolingEdgeResponse",
    "ReceptiveFieldRow",
    "ReceptiveFieldTable",
    "augmentation_gallery",
    "count_params",
    "dense_vs_conv",
    "equivariance_check",
    "measure_receptive_field",
    "param_report",
    "plot_confusion_matrix",
    "plot_histories",
    "plot_history",
    "plot_lr_range",
    "pooling_edge_response",
    "receptive_field",
    "receptive_field_size",
]
