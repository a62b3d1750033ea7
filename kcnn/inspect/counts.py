"""Parameter counts: totals, per layer, and the dense-versus-convolution comparison."""

from __future__ import annotations

import dataclasses
import math

import keras

from kcnn.inspect._table import markdown_rows, text_table
from kcnn.models.params import count_params


@dataclasses.dataclass(frozen=True)
class ParamRow:
    """One layer of a `ParamReport`.

    Attributes:
        name: the layer's name.
        kind: the layer's class name.
        output_shape: the layer's output shape without the batch axis (None where a layer is
            called several times and has no single output).
        trainable: trainable parameters.
        non_trainable: non-trainable parameters (BatchNorm's moving statistics, frozen layers).
    """

    name: str
    kind: str
    output_shape: tuple | None
    trainable: int
    non_trainable: int

    @property
    def total(self) -> int:
        """Trainable plus non-trainable parameters."""
        return self.trainable + self.non_trainable


class ParamReport:
    """Parameters per layer, with totals that match `count_params`.

    Attributes:
        rows: one `ParamRow` per layer of the model (a nested model is one row).
        model_name: the model's name.
    """

    _HEADER = ("layer", "kind", "output shape", "trainable", "non-trainable", "share")

    def __init__(self, rows, model_name: str, counts: dict[str, int]):
        self.rows = tuple(rows)
        self.model_name = model_name
        self._counts = dict(counts)

    @property
    def trainable(self) -> int:
        """Trainable parameters of the model (shared weights counted once)."""
        return self._counts["trainable"]

    @property
    def non_trainable(self) -> int:
        """Non-trainable parameters of the model."""
        return self._counts["non_trainable"]

    @property
    def total(self) -> int:
        """All parameters of the model."""
        return self._counts["total"]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, name: str) -> ParamRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"No layer named {name!r} in the report of {self.model_name!r}.")

    def _cells(self) -> list[tuple[str, ...]]:
        cells = []
        for row in self.rows:
            shape = "?" if row.output_shape is None else _shape(row.output_shape)
            share = f"{row.total / self.total:.1%}" if self.total else "-"
            cells.append((row.name, row.kind, shape, f"{row.trainable:,}",
                          f"{row.non_trainable:,}", share))  # fmt: skip
        cells.append(("total", "", "", f"{self.trainable:,}", f"{self.non_trainable:,}",
                      "100.0%" if self.total else "-"))  # fmt: skip
        return cells

    def to_text(self) -> str:
        """The report as aligned plain text, one line per layer and a total line."""
        return text_table(self._HEADER, self._cells(), left=3, total=True)

    def to_markdown(self) -> str:
        """The report as a GitHub-flavoured Markdown table with a bold total row."""
        cells = self._cells()
        lines = markdown_rows(self._HEADER, cells[:-1], left=3)
        total = cells[-1]
        lines.append(f"| **total** | | | **{total[3]}** | **{total[4]}** | {total[5]} |")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return (
            f"ParamReport({self.model_name!r}, {len(self.rows)} layers, "
            f"trainable={self.trainable:,}, non_trainable={self.non_trainable:,})\n"
            f"{self.to_text()}"
        )


def _shape(shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _output_shape(layer) -> tuple | None:
    try:
        output = layer.output
    except (AttributeError, ValueError):
        return None
    if isinstance(output, (list, tuple)):
        return None
    return tuple(output.shape[1:])


def param_report(model: keras.Model) -> ParamReport:
    """Parameters per layer: where a model's weights are.

    Args:
        model: a built `keras.Model`.

    Returns:
        A `ParamReport`: one row per layer (name, kind, output shape, trainable and
        non-trainable parameters), totals equal to `count_params`, printable as a text table
        and as Markdown.

    Raises:
        TypeError: ``model`` is not a `keras.Model`.

    Example:
        ```python
        report = kcnn.inspect.param_report(kcnn.build_model("lenet5"))
        report["lenet5_f5_dense"].trainable  # 48120: 400 * 120 + 120, most of LeNet-5
        print(report)
        ```
    """
    counts = count_params(model)
    rows = []
    for layer in model.layers:
        rows.append(
            ParamRow(
                name=layer.name,
                kind=type(layer).__name__,
                output_shape=_output_shape(layer),
                trainable=int(sum(math.prod(w.shape) for w in layer.trainable_weights)),
                non_trainable=int(sum(math.prod(w.shape) for w in layer.non_trainable_weights)),
            )
        )
    return ParamReport(rows, model.name, counts)


@dataclasses.dataclass(frozen=True)
class DenseVsConv:
    """Parameters of a dense layer and of a convolution on the same image.

    Attributes:
        image_shape: the image, ``(height, width, channels)``.
        inputs: values of the flattened image, ``height * width * channels``.
        dense_weights: ``inputs * units``.
        dense_biases: ``units``.
        conv_weights: ``kernel_height * kernel_width * channels * filters``.
        conv_biases: ``filters``.
        units: units of the dense layer.
        filters: filters of the convolution.
        kernel_size: the convolution's ``(height, width)``.
    """

    image_shape: tuple[int, int, int]
    inputs: int
    units: int
    filters: int
    kernel_size: tuple[int, int]
    dense_weights: int
    dense_biases: int
    conv_weights: int
    conv_biases: int

    @property
    def dense_params(self) -> int:
        """Weights plus biases of the dense layer."""
        return self.dense_weights + self.dense_biases

    @property
    def conv_params(self) -> int:
        """Weights plus biases of the convolution."""
        return self.conv_weights + self.conv_biases

    @property
    def ratio(self) -> float:
        """How many times more parameters the dense layer has."""
        return self.dense_params / self.conv_params

    def __str__(self) -> str:
        h, w, c = self.image_shape
        kh, kw = self.kernel_size
        return (
            f"dense on a flattened {h}x{w}x{c} image: {self.inputs:,} inputs x {self.units:,} "
            f"units + {self.dense_biases:,} biases = {self.dense_params:,} parameters\n"
            f"conv {kh}x{kw}, {self.filters} filters: {kh}*{kw}*{c}*{self.filters} + "
            f"{self.conv_biases} biases = {self.conv_params:,} parameters\n"
            f"ratio: {self.ratio:,.0f}x"
        )


def dense_vs_conv(
    image_shape: tuple = (224, 224, 3),
    units: int = 1000,
    filters: int = 64,
    kernel_size: int | tuple = 3,
) -> DenseVsConv:
    """Compare the parameters of a dense layer and a convolution on one image.

    A dense layer connects every pixel value to every unit; a convolution shares one small
    kernel across all positions, so its size does not depend on the image's. On a
    224x224x3 image a dense layer of 1000 units has 150,528 * 1000 + 1000 = 150,529,000
    parameters; a 3x3 convolution with 64 filters has ``3*3*3*64 + 64`` = 1,792.

    Args:
        image_shape: ``(height, width, channels)`` (``(channels, height, width)`` under
            ``channels_first``). Defaults to ``(224, 224, 3)``.
        units: units of the dense layer. Defaults to 1000.
        filters: filters of the convolution. Defaults to 64.
        kernel_size: the convolution's side, or ``(height, width)``. Defaults to 3.

    Returns:
        A `DenseVsConv` with the counts, ``ratio`` and a readable ``str``.

    Raises:
        ValueError: a non-positive or non-integer argument, naming it.

    Example:
        ```python
        comparison = kcnn.inspect.dense_vs_conv()
        comparison.dense_params, comparison.conv_params  # (150529000, 1792)
        ```

    References:
        LeCun, Bottou, Bengio, Haffner. Gradient-based learning applied to document
        recognition. Proc. IEEE 86(11), 1998 (weight sharing).
    """

    def positive(argument, value, length):
        values = (value,) if length == 1 else value
        if (
            not isinstance(values, (tuple, list))
            or len(values) != length
            or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values)
        ):
            what = "a positive integer" if length == 1 else f"{length} positive integers"
            raise ValueError(f"{argument} must be {what}. Received: {argument}={value!r}")
        return tuple(int(v) for v in values)

    shape = positive("image_shape", image_shape, 3)
    (units,) = positive("units", units, 1)
    (filters,) = positive("filters", filters, 1)
    if isinstance(kernel_size, int) and not isinstance(kernel_size, bool):
        kernel_size = (kernel_size, kernel_size)
    kernel = positive("kernel_size", kernel_size, 2)
    if keras.config.image_data_format() == "channels_first":
        shape = (shape[1], shape[2], shape[0])
    inputs = math.prod(shape)
    return DenseVsConv(
        image_shape=shape,
        inputs=inputs,
        units=units,
        filters=filters,
        kernel_size=kernel,
        dense_weights=inputs * units,
        dense_biases=units,
        conv_weights=kernel[0] * kernel[1] * shape[2] * filters,
        conv_biases=filters,
    )


def count_flops(model: keras.Model) -> int:
    """Floating-point operations of one forward pass on one image (2 per multiply-add).

    Counts the multiply-adds of the layers that hold nearly all of a CNN's work:
    ``Conv2D`` (output pixels x kernel height x kernel width x input channels / groups x
    filters), ``DepthwiseConv2D`` and ``Dense``; BatchNorm, activations, pooling and
    additions (a few operations per value) are left out, as in the FLOP counts the papers
    give. A training step costs about three times the forward pass (forward, the input
    gradient and the weight gradient), so ``3 * count_flops(model) * images_per_second``
    is the arithmetic rate a benchmark reaches, to compare with the device's peak.

    Args:
        model: a built `keras.Model` (nested models are counted through).

    Returns:
        The FLOPs per image, an int.

    Example:
        ```python
        kcnn.inspect.count_flops(kcnn.build_model("lenet5", input_shape=(28, 28, 1)))
        # 833040: 416,520 multiply-adds
        ```

    References:
        He, Zhang, Ren, Sun. Deep residual learning for image recognition. CVPR 2016
        (FLOPs counted as multiply-adds of the convolutions and the dense layer).
    """
    from kcnn._keras_compat import flatten_layers

    # Each kernel weight is one multiply-add per output position (pixel, or row of a Dense
    # layer's input): Conv2D's (kh, kw, in / groups, filters), DepthwiseConv2D's
    # (kh, kw, in, multiplier) and Dense's (in, units) alike.
    kinds = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D, keras.layers.Dense)
    channels_axis = -1 if keras.config.image_data_format() == "channels_last" else 0
    macs = 0
    for layer in flatten_layers(model):
        if isinstance(layer, kinds):
            out = list(_output_shape(layer))
            del out[-1 if isinstance(layer, keras.layers.Dense) else channels_axis]
            macs += math.prod(out) * math.prod(int(d) for d in layer.kernel.shape)
    return 2 * macs
