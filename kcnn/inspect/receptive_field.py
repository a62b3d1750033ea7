"""Receptive fields: which input pixels each layer's output units can see.

For a chain of layers with kernel ``k_l``, stride ``s_l`` and dilation ``d_l``, the standard
recurrence (Araujo et al., 2019) gives, per axis,

- the jump (distance in input pixels between two neighbouring output units):
  ``j_l = j_{l-1} * s_l``;
- the receptive-field size: ``r_l = r_{l-1} + (k_eff - 1) * j_{l-1}`` with the effective
  kernel ``k_eff = d_l * (k_l - 1) + 1``;
- the first input pixel seen by output unit 0: ``start_l = start_{l-1} - p_l * j_{l-1}``,
  where ``p_l`` is the padding added before the first pixel (``"same"`` padding, an explicit
  `ZeroPadding2D`). Output unit ``u`` then sees input pixels
  ``start_l + u * j_l`` to ``start_l + u * j_l + r_l - 1``; negative coordinates and
  coordinates past the image are padding.

`receptive_field` walks a model's graph in topological order and applies the recurrence to
every layer, taking the union of the fields where branches merge (residual additions,
concatenations). `measure_receptive_field` checks it empirically: it back-propagates from one
output unit to the input and returns the bounding box of the non-zero gradient.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterator, Sequence

import keras
import numpy as np

from kcnn import _keras_compat as compat
from kcnn._validate import check_int
from kcnn.inspect._grad import value_and_gradient
from kcnn.inspect._table import markdown_rows, text_table
from kcnn.models.resnet import ZeroPadShortcut
from kcnn.models.transfer import ImageNetPreprocessing

__all__ = [
    "MeasuredField",
    "ReceptiveFieldRow",
    "ReceptiveFieldTable",
    "measure_receptive_field",
    "receptive_field",
    "receptive_field_size",
]

_L = keras.layers

#: Layers that act on each pixel position on its own: the field passes through unchanged.
#: BatchNormalization counts as such in inference, where it is a per-channel affine map.
_ELEMENTWISE = (
    _L.Activation,
    _L.ReLU,
    _L.LeakyReLU,
    _L.PReLU,
    _L.ELU,
    _L.BatchNormalization,
    _L.Dropout,
    _L.SpatialDropout2D,
    _L.GaussianDropout,
    _L.GaussianNoise,
    _L.AlphaDropout,
    _L.ActivityRegularization,
    _L.Rescaling,
    _L.Normalization,
    _L.Identity,
    ImageNetPreprocessing,
)

#: Layers whose inputs are combined position by position: the field is the union.
_MERGES = (
    _L.Add,
    _L.Subtract,
    _L.Multiply,
    _L.Average,
    _L.Maximum,
    _L.Minimum,
    _L.Concatenate,
)

_MERGE_NAMES = frozenset(cls.__name__ for cls in _MERGES)

#: ``keras.ops`` operations (not layers) that a functional graph can hold, such as ``x + y``
#: on symbolic tensors in ``keras.applications`` models: element-wise, and for several
#: inputs the union of their fields.
_ELEMENTWISE_OPS = frozenset(
    ("Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Maximum", "Minimum", "Power",
     "Negative", "Abs", "Square", "Sqrt", "Exp", "Log", "Cast", "Clip", "Erf", "Relu",
     "Relu6", "Gelu", "Silu", "Swish", "Sigmoid", "HardSigmoid", "HardSilu", "Tanh",
     "Softplus", "LeakyRelu", "Elu", "Selu")
)  # fmt: skip


def _is_elementwise_op(operation) -> bool:
    """A ``keras.ops`` operation that acts element by element."""
    return not isinstance(operation, _L.Layer) and type(operation).__name__ in _ELEMENTWISE_OPS


#: Layers after which every unit sees the whole input.
_GLOBAL = (_L.GlobalAveragePooling2D, _L.GlobalMaxPooling2D, _L.Flatten, _L.Reshape)


@dataclasses.dataclass(frozen=True)
class _Axis:
    """The field of one spatial axis: feature-map size, jump, field size, start of unit 0."""

    size: int | None
    jump: int
    field: int
    start: int


@dataclasses.dataclass(frozen=True)
class _State:
    """The field of one tensor: two axes, or global (every unit sees the whole input)."""

    axes: tuple[_Axis, _Axis] | None  # None when global


@dataclasses.dataclass(frozen=True)
class ReceptiveFieldRow:
    """One layer of a `ReceptiveFieldTable`.

    Pairs are ``(height, width)``. Layers that do not move pixels (activations,
    BatchNormalization, merges) have ``kernel``, ``stride``, ``dilation`` and ``padding`` set
    to None.

    Attributes:
        name: the layer's name; ``"outer/inner"`` for a layer of a nested model.
        kind: the layer's class name, such as ``"Conv2D"``.
        kernel: kernel (or pool) size.
        stride: stride.
        dilation: dilation rate.
        padding: ``"same"``, ``"valid"``, or explicit pixels ``((top, bottom), (left, right))``
            for `ZeroPadding2D` (negative for `Cropping2D`).
        output_size: height and width of the layer's output feature map (None where unknown);
            None for global rows.
        jump: distance in input pixels between neighbouring output units; None for global
            rows.
        field: receptive-field height and width in input pixels; for a global row, the input
            image's size.
        start: input coordinates (row, column) of the first pixel seen by output unit
            ``(0, 0)``; negative values lie in the padding.
        is_global: every output unit sees the whole input (after global pooling, `Flatten`,
            `Dense`).
    """

    name: str
    kind: str
    kernel: tuple[int, int] | None
    stride: tuple[int, int] | None
    dilation: tuple[int, int] | None
    padding: str | tuple | None
    output_size: tuple[int | None, int | None] | None
    jump: tuple[int, int] | None
    field: tuple[int | None, int | None]
    start: tuple[int, int]
    is_global: bool = False

    @property
    def centre(self) -> tuple[float, float] | None:
        """Input coordinates of the centre of output unit ``(0, 0)``'s field."""
        if self.field[0] is None or self.field[1] is None:
            return None
        return tuple(s + (f - 1) / 2 for s, f in zip(self.start, self.field))

    def box(self, unit: tuple[int, int] = (0, 0)) -> tuple[int, int, int, int]:
        """The field of one output unit, as inclusive input coordinates.

        Args:
            unit: ``(row, column)`` of the output unit. Defaults to ``(0, 0)``.

        Returns:
            ``(top, left, bottom, right)``, not clipped to the image: coordinates below 0 or
            past the image's size lie in the padding. A global row returns the whole input.
        """
        if self.is_global:
            return (0, 0, self.field[0] - 1, self.field[1] - 1)
        top = self.start[0] + unit[0] * self.jump[0]
        left = self.start[1] + unit[1] * self.jump[1]
        return (top, left, top + self.field[0] - 1, left + self.field[1] - 1)


def _pair(value, sep: str = "x") -> str:
    """``(3, 3)`` -> ``"3"``, ``(3, 5)`` -> ``"3x5"`` (or ``"3,5"``), None -> ``"-"``."""
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if len(value) == 2 and all(isinstance(v, tuple) for v in value):  # explicit padding
        (top, bottom), (left, right) = value
        if top == bottom == left == right:
            return str(top)
        return f"({top},{bottom}),({left},{right})"
    if value[0] == value[1]:
        return "?" if value[0] is None else f"{value[0]:g}"
    return sep.join("?" if v is None else f"{v:g}" for v in value)


class ReceptiveFieldTable:
    """The receptive field of every layer of a model, in topological order.

    Index it by layer name (``table["resnet20_stage1_block1_out"]``), iterate over its
    `ReceptiveFieldRow` rows, print it as an aligned text table, or render it as Markdown.

    Attributes:
        rows: one `ReceptiveFieldRow` per layer, the input first.
        model_name: the model's name.
        input_size: the input image's ``(height, width)``.
    """

    _HEADER = ("layer", "kind", "kernel", "stride", "dilation", "padding", "output", "jump",
               "field", "start", "centre")  # fmt: skip

    def __init__(self, rows: Sequence[ReceptiveFieldRow], model_name: str, input_size):
        self.rows = tuple(rows)
        self.model_name = model_name
        self.input_size = tuple(input_size)
        self._by_name = {row.name: row for row in self.rows}

    @property
    def final(self) -> ReceptiveFieldRow:
        """The row of the model's output layer."""
        return self.rows[-1]

    @property
    def names(self) -> list[str]:
        """The layer names, in order."""
        return [row.name for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[ReceptiveFieldRow]:
        return iter(self.rows)

    def __contains__(self, name) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> ReceptiveFieldRow:
        if name in self._by_name:
            return self._by_name[name]
        nested = [row for row in self.rows if row.name.endswith(f"/{name}")]
        if len(nested) == 1:
            return nested[0]
        close = difflib.get_close_matches(str(name), list(self._by_name), n=3)
        hint = f" Close matches: {close}." if close else ""
        raise KeyError(f"No layer named {name!r} in the table of {self.model_name!r}.{hint}")

    def _cells(self, spatial_only: bool) -> list[tuple[str, ...]]:
        cells = []
        seen_global = False
        for index, row in enumerate(self.rows):
            keep = (
                index in (0, len(self.rows) - 1)
                or (row.kernel is not None and not row.is_global)
                or row.kind in _MERGE_NAMES
                or (row.is_global and not seen_global)
            )
            seen_global = seen_global or row.is_global
            if spatial_only and not keep:
                continue
            if row.is_global:
                cells.append((row.name, row.kind, _pair(row.kernel), _pair(row.stride),
                               _pair(row.dilation), _pair(row.padding), "-", "-",
                               f"global ({_pair(row.field)})", "-", "-"))  # fmt: skip
                continue
            centre = row.centre
            cells.append((row.name, row.kind, _pair(row.kernel), _pair(row.stride),
                          _pair(row.dilation), _pair(row.padding), _pair(row.output_size),
                          _pair(row.jump), _pair(row.field), _pair(row.start, ","),
                          _pair(centre, ",")))  # fmt: skip
        return cells

    def to_text(self, spatial_only: bool = False) -> str:
        """The table as aligned plain text.

        Args:
            spatial_only: keep only the input, the rows that move pixels (convolutions,
                pooling, padding), merges, the first global layer and the output.
                Defaults to False.

        Returns:
            The text, one line per row under a header.
        """
        return text_table(self._HEADER, self._cells(spatial_only), left=2)

    def to_markdown(self, spatial_only: bool = False) -> str:
        """The table as GitHub-flavoured Markdown.

        Args:
            spatial_only: as in `to_text`. Defaults to False.

        Returns:
            The Markdown table.
        """
        return "\n".join(markdown_rows(self._HEADER, self._cells(spatial_only), left=2))

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        head = (
            f"ReceptiveFieldTable({self.model_name!r}, input {_pair(self.input_size)}, "
            f"{len(self.rows)} layers, final field {_pair(self.final.field)}"
            f"{' (global)' if self.final.is_global else ''})"
        )
        return f"{head}\n{self.to_text()}"


# --------------------------------------------------------------------------- the recurrence


def _as_pair(value) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[1]))


def _channels_last() -> bool:
    return keras.config.image_data_format() == "channels_last"


def _same_padding(size: int | None, kernel: int, stride: int, layer) -> int:
    """Pixels that Keras' ``"same"`` padding adds before the first pixel (all backends pad
    ``total // 2`` before and the rest after, as TensorFlow does)."""
    if stride == 1:
        return (kernel - 1) // 2
    if size is None:
        raise ValueError(
            f"Layer {layer.name!r} ({type(layer).__name__}) uses 'same' padding with stride "
            f"{stride}, whose offset depends on the input size, and the model's input size is "
            "not fixed. Pass input_shape=(height, width, channels)."
        )
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2


def _window(state: _State, layer, kernel, stride, dilation, padding) -> _State:
    """Apply a sliding window (convolution or pooling) to each axis."""
    axes = []
    for axis, k, s, d in zip(state.axes, kernel, stride, dilation):
        k_eff = d * (k - 1) + 1
        if padding == "same":
            before = _same_padding(axis.size, k_eff, s, layer)
            size = None if axis.size is None else -(-axis.size // s)
        elif padding == "valid":
            before = 0
            size = None if axis.size is None else (axis.size - k_eff) // s + 1
        else:
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) has padding={padding!r}; "
                "receptive_field knows 'same' and 'valid'."
            )
        if size is not None and size < 1:
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) reduces the feature map below "
                f"one pixel (input {axis.size}, kernel {k_eff}). Pass a larger input_shape."
            )
        axes.append(
            _Axis(
                size=size,
                jump=axis.jump * s,
                field=axis.field + (k_eff - 1) * axis.jump,
                start=axis.start - before * axis.jump,
            )
        )
    return _State(tuple(axes))


def _pad(state: _State, pads) -> _State:
    """Add ``(before, after)`` pixels to each axis (negative: crop)."""
    axes = []
    for axis, (before, after) in zip(state.axes, pads):
        size = None if axis.size is None else axis.size + before + after
        axes.append(dataclasses.replace(axis, size=size, start=axis.start - before * axis.jump))
    return _State(tuple(axes))


def _union(layer, states: list[_State]) -> _State:
    """The field of a merge: the union of its inputs' fields (their jumps must agree)."""
    if any(s.axes is None for s in states):
        return _State(None)
    axes = []
    for index, group in enumerate(zip(*(s.axes for s in states))):
        jumps = {a.jump for a in group}
        if len(jumps) > 1:
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) merges inputs whose jumps differ "
                f"on axis {('height', 'width')[index]}: {sorted(jumps)}. Their units are not "
                "aligned, so the merged field is not a box."
            )
        sizes = {a.size for a in group if a.size is not None}
        if len(sizes) > 1:
            raise ValueError(
                f"Layer {layer.name!r} ({type(layer).__name__}) merges feature maps of "
                f"different {('height', 'width')[index]}s: {sorted(sizes)}."
            )
        start = min(a.start for a in group)
        end = max(a.start + a.field - 1 for a in group)
        size = sizes.pop() if sizes else None
        axes.append(_Axis(size=size, jump=group[0].jump, field=end - start + 1, start=start))
    return _State(tuple(axes))


class _Walker:
    """Walks a model's graph, applying the recurrence and collecting rows."""

    def __init__(self, input_size: tuple[int | None, int | None], elementwise=()):
        self.input_size = input_size
        self.rows: list[ReceptiveFieldRow] = []
        self.classes = tuple(e for e in elementwise if isinstance(e, type))
        self.names = frozenset(e for e in elementwise if isinstance(e, str))

    def row(self, name, layer, state: _State, kernel=None, stride=None, dilation=None,
            padding=None) -> None:  # fmt: skip
        kind = type(layer).__name__ if not isinstance(layer, str) else layer
        if state.axes is None:  # after global pooling, Flatten or Dense: the whole input
            size, jump, field, start = None, None, self.input_size, (0, 0)
        else:
            h, w = state.axes
            size, jump = (h.size, w.size), (h.jump, w.jump)
            field, start = (h.field, w.field), (h.start, w.start)
        self.rows.append(
            ReceptiveFieldRow(
                name,
                kind,
                kernel,
                stride,
                dilation,
                padding,
                size,
                jump,
                field,
                start,
                is_global=state.axes is None,
            )  # fmt: skip
        )

    # -- graphs

    def model(self, model, states: list[_State], prefix: str) -> list[_State]:
        if isinstance(model, keras.Sequential):
            if len(states) != 1:
                raise ValueError(f"Sequential model {model.name!r} takes one input.")
            state = states[0]
            for layer in model.layers:
                (state,) = self.layer(layer, [state], prefix, 1)
            return [state]
        if not hasattr(model, "operations"):
            raise ValueError(
                f"Model {model.name!r} ({type(model).__name__}) is a subclassed model: its "
                "graph cannot be read. receptive_field needs a Sequential or functional model."
            )
        tensors = {id(t): s for t, s in zip(model.inputs, states)}
        for operation in model.operations:
            if isinstance(operation, _L.InputLayer):
                continue
            for node in compat.inbound_nodes(operation):
                inputs = list(node.input_tensors)
                outputs = list(node.output_tensors)
                if not inputs or any(id(t) not in tensors for t in inputs):
                    continue  # a call from another graph
                if all(id(t) in tensors for t in outputs):
                    continue
                results = self.layer(
                    operation, [tensors[id(t)] for t in inputs], prefix, len(outputs)
                )
                for tensor, state in zip(outputs, results):
                    tensors[id(tensor)] = state
        missing = [t for t in model.outputs if id(t) not in tensors]
        if missing:
            raise ValueError(f"Could not trace model {model.name!r} from its inputs to outputs.")
        return [tensors[id(t)] for t in model.outputs]

    # -- one layer

    def layer(self, layer, states: list[_State], prefix: str, num_outputs: int) -> list[_State]:
        name = f"{prefix}{layer.name}"
        if isinstance(layer, keras.Model):
            outputs = self.model(layer, states, prefix=f"{name}/")
            self.row(name, layer, _union(layer, outputs) if len(outputs) > 1 else outputs[0])
            return outputs
        if isinstance(layer, _MERGES) or _is_elementwise_op(layer):
            if isinstance(layer, _L.Concatenate) and layer.axis not in (
                (-1, 3) if _channels_last() else (1, -3)
            ):
                raise ValueError(
                    f"Layer {name!r} (Concatenate) joins feature maps along axis {layer.axis}, "
                    "not the channel axis; receptive_field supports channel concatenation only."
                )
            state = _union(layer, states)
            self.row(name, layer, state)
            return [state] * num_outputs
        if len(states) != 1:
            raise ValueError(
                f"Layer {name!r} ({type(layer).__name__}) takes {len(states)} inputs; "
                "receptive_field knows merges (Add, Concatenate, Multiply, ...) only."
            )
        (state,) = states
        if state.axes is None:  # already global: stays global
            self.row(name, layer, state)
            return [state] * num_outputs
        state, geometry = self._spatial(layer, name, state)
        self.row(name, layer, state, *geometry)
        return [state] * num_outputs

    def _spatial(self, layer, name: str, state: _State):
        """The new state of a one-input layer, and (kernel, stride, dilation, padding)."""
        if isinstance(layer, (_L.Conv2D, _L.DepthwiseConv2D, _L.SeparableConv2D)) and not (
            isinstance(layer, _L.Conv2DTranspose)
        ):
            kernel, stride = _as_pair(layer.kernel_size), _as_pair(layer.strides)
            dilation, padding = _as_pair(layer.dilation_rate), layer.padding
            return _window(state, layer, kernel, stride, dilation, padding), (
                kernel, stride, dilation, padding)  # fmt: skip
        if isinstance(layer, (_L.MaxPooling2D, _L.AveragePooling2D)):
            kernel = _as_pair(layer.pool_size)
            stride = _as_pair(layer.strides if layer.strides is not None else layer.pool_size)
            padding = layer.padding
            return _window(state, layer, kernel, stride, (1, 1), padding), (
                kernel, stride, (1, 1), padding)  # fmt: skip
        if isinstance(layer, _L.ZeroPadding2D):
            pads = tuple(tuple(int(p) for p in pad) for pad in layer.padding)
            return _pad(state, pads), ((1, 1), (1, 1), (1, 1), pads)
        if isinstance(layer, _L.Cropping2D):
            crops = tuple(tuple(-int(c) for c in crop) for crop in layer.cropping)
            return _pad(state, crops), ((1, 1), (1, 1), (1, 1), crops)
        if isinstance(layer, ZeroPadShortcut):
            stride = (layer.strides, layer.strides)
            return _window(state, layer, (1, 1), stride, (1, 1), "valid"), (
                (1, 1), stride, (1, 1), "valid")  # fmt: skip
        if (
            isinstance(layer, (*_ELEMENTWISE, *self.classes))
            or layer.name in self.names
            or type(layer).__name__ in self.names
            or _pointwise(layer)
        ):
            return state, (None, None, None, None)
        if isinstance(layer, (*_GLOBAL, _L.Dense)):
            return _State(None), (None, None, None, None)
        raise ValueError(
            f"receptive_field does not know how layer {name!r} ({type(layer).__name__}) maps "
            "input pixels to output pixels. It knows Conv2D, DepthwiseConv2D, SeparableConv2D, "
            "MaxPooling2D, AveragePooling2D, ZeroPadding2D, Cropping2D, ZeroPadShortcut, merges, "
            "element-wise layers and global layers; pass layers that act on each pixel on its "
            "own as elementwise=."
        )


def _pointwise(layer) -> bool:
    """Layers that act on the channels of each pixel: Dense on a channels-last feature map
    (it maps the last axis), Softmax and LayerNormalization along the channel axis."""
    if isinstance(layer, _L.Dense):
        return _channels_last()
    if isinstance(layer, (_L.Softmax, _L.LayerNormalization, _L.UnitNormalization)):
        channel_axes = (-1, 3) if _channels_last() else (1, -3)
        axis = layer.axis
        axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
        return all(a in channel_axes for a in axes)
    return False


def _model_input_size(model, input_shape) -> tuple[int | None, int | None]:
    """The input image's (height, width), from ``input_shape`` or the model's input."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model. Received: model={type(model).__name__}")
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            f"model {model.name!r} has no inputs yet: build it with a keras.Input first."
        )
    if len(inputs) != 1:
        raise ValueError(
            f"receptive_field needs a model with one image input. Received: model "
            f"{model.name!r} with {len(inputs)} inputs."
        )
    model_shape = tuple(inputs[0].shape[1:])
    if len(model_shape) != 3:
        raise ValueError(
            f"receptive_field needs an image input of rank 3 (height, width, channels). "
            f"Received: model {model.name!r} with input shape {model_shape}."
        )
    if input_shape is None:
        shape = model_shape
    else:
        if (
            not isinstance(input_shape, (tuple, list))
            or len(input_shape) != 3
            or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in input_shape)
        ):
            raise ValueError(
                "input_shape must be a tuple of 3 positive integers. "
                f"Received: input_shape={input_shape!r}"
            )
        if any(m is not None and m != d for m, d in zip(model_shape, input_shape)):
            raise ValueError(
                f"input_shape must agree with the model's input shape {model_shape}. "
                f"Received: input_shape={tuple(input_shape)!r}"
            )
        shape = tuple(input_shape)
    return (shape[0], shape[1]) if _channels_last() else (shape[1], shape[2])


def receptive_field(
    model: keras.Model,
    input_shape: tuple | None = None,
    elementwise: Sequence[type | str] = (),
) -> ReceptiveFieldTable:
    """Compute the receptive field of every layer of a model.

    Walks the model's graph in topological order, nested models included, and applies the
    recurrence ``j_l = j_{l-1} * s_l``, ``r_l = r_{l-1} + (k_eff - 1) * j_{l-1}`` (with the
    effective kernel ``k_eff = d * (k - 1) + 1`` of a dilated convolution) per axis, and the
    start of unit 0's field through ``"same"`` padding, `ZeroPadding2D` and pooling. Where
    branches merge (`Add`, `Concatenate`, `Multiply`, ...) the field is the union of the
    branches' fields. After global pooling, `Flatten` or `Dense` every unit sees the whole
    input (so does every unit after a squeeze-and-excitation block, as in EfficientNet:
    its channel weights come from a global pooling).

    Only the graph is read, not the weights: a model built inside
    ``keras.StatelessScope(initialize_variables=False)`` is enough, and skips the
    initialisation (seconds for a large model on JAX).

    Args:
        model: a Sequential or functional `keras.Model` with one image input.
        input_shape: ``(height, width, channels)`` (``(channels, height, width)`` under
            ``channels_first``), needed only when the model's input size is not fixed and a
            strided layer uses ``"same"`` padding. Defaults to the model's input shape.
        elementwise: further layers that act on each pixel on its own (custom activations,
            preprocessing, ConvNeXt's ``"LayerScale"``), as classes, class names or layer
            names, passed through unchanged. Keras'
            activations, BatchNormalization, dropout, Rescaling and Normalization are known
            already. Defaults to none.

    Returns:
        A `ReceptiveFieldTable`, one row per layer, the input first.

    Raises:
        ValueError: a layer whose geometry is unknown (named, with its class), merged
            branches whose jumps differ, a model with several inputs.
        TypeError: ``model`` is not a `keras.Model`.

    Example:
        ```python
        table = kcnn.inspect.receptive_field(kcnn.build_model("resnet20"))
        print(table.to_text(spatial_only=True))
        table["resnet20_stage1_block1_out"].field  # (7, 7)
        ```

    References:
        Araujo, Norris, Sim. Computing receptive fields of convolutional neural networks.
        Distill, 2019. https://distill.pub/2019/computing-receptive-fields/
        Luo, Li, Urtasun, Zemel. Understanding the effective receptive field in deep
        convolutional neural networks. NeurIPS 2016.
    """
    if isinstance(elementwise, (str, type)) or not all(
        isinstance(e, (str, type)) for e in elementwise
    ):
        raise TypeError(
            "elementwise must be a list of layer classes or layer names. "
            f"Received: elementwise={elementwise!r}"
        )
    input_size = _model_input_size(model, input_shape)
    walker = _Walker(input_size, elementwise)
    start = _State(tuple(_Axis(size=n, jump=1, field=1, start=0) for n in input_size))
    input_layers = [op for op in getattr(model, "operations", []) if isinstance(op, _L.InputLayer)]
    input_name = input_layers[0].name if input_layers else "input"
    walker.row(input_name, "InputLayer", start)
    walker.model(model, [start], prefix="")
    return ReceptiveFieldTable(walker.rows, model.name, input_size)


def receptive_field_size(
    model: keras.Model, layer_name: str, input_shape: tuple | None = None
) -> tuple[int, int]:
    """The receptive field ``(height, width)`` of one layer, in input pixels.

    Args:
        model: as in `receptive_field`.
        layer_name: the layer's name.
        input_shape: as in `receptive_field`. Defaults to the model's input shape.

    Returns:
        ``(height, width)``; the input's size for a layer after global pooling.

    Example:
        ```python
        kcnn.inspect.receptive_field_size(kcnn.build_model("lenet5"), "lenet5_s4_pool")  # (16, 16)
        ```
    """
    return receptive_field(model, input_shape)[layer_name].field


# --------------------------------------------------------------------------- measurement


@dataclasses.dataclass(frozen=True)
class MeasuredField:
    """The field of one output unit, measured from the gradient and computed.

    Boxes are inclusive input coordinates ``(top, left, bottom, right)``.

    Attributes:
        layer: the layer's name.
        unit: ``(row, column)`` of the output unit whose gradient was taken.
        size: height and width of the bounding box of non-zero input gradient; ``(0, 0)``
            when the gradient is zero everywhere.
        box: that bounding box (None when the gradient is zero everywhere).
        computed_size: the computed field's height and width, clipped to the image.
        computed_box: the computed field of ``unit``, clipped to the image.
        gradient: the summed absolute input gradient, ``(height, width)``; not compared and
            not printed.
    """

    layer: str
    unit: tuple[int, int]
    size: tuple[int, int]
    box: tuple[int, int, int, int] | None
    computed_size: tuple[int, int]
    computed_box: tuple[int, int, int, int]
    gradient: np.ndarray = dataclasses.field(repr=False, compare=False)

    @property
    def matches(self) -> bool:
        """Whether the measured box is the computed one."""
        return self.box == self.computed_box

    def __str__(self) -> str:
        return (
            f"{self.layer} unit {self.unit}: measured {_pair(self.size)} at {self.box}, "
            f"computed {_pair(self.computed_size)} at {self.computed_box}"
            f" ({'match' if self.matches else 'MISMATCH'})"
        )


def measure_receptive_field(
    model: keras.Model,
    layer_name: str,
    input_shape: tuple | None = None,
    trials: int = 3,
    seed: int = 0,
    unit: tuple[int, int] | None = None,
) -> MeasuredField:
    """Measure a layer's receptive field by back-propagating from one of its output units.

    The output of ``layer_name`` at ``unit`` (summed over channels) is differentiated with
    respect to the input for ``trials`` random normal images, with the model's own weights
    and ``training=False``. One gradient is sparse (dead ReLUs, the argmax of max pooling),
    so the result is the bounding box of the input pixels whose gradient is non-zero for at
    least one image. Where the field lies inside the image it equals the computed field
    exactly; near a border it is the computed field clipped to the image.

    Args:
        model: a Sequential or functional `keras.Model` with one image input.
        layer_name: a layer of ``model`` itself (not of a nested model) whose output is a
            feature map.
        input_shape: the image shape, needed when the model's input size is not fixed.
            Defaults to the model's input shape.
        trials: random images whose gradients are combined. Defaults to 3.
        seed: seed of the random images. Defaults to 0.
        unit: ``(row, column)`` of the output unit. Defaults to the centre unit
            ``(height // 2, width // 2)`` of the layer's output.

    Returns:
        A `MeasuredField` with the measured and the computed boxes.

    Raises:
        ValueError: an unknown layer, a layer whose units see the whole input, ``trials``
            below 1, a ``unit`` outside the feature map.

    Example:
        ```python
        model = kcnn.build_model("resnet20", input_shape=(64, 64, 3))
        measured = kcnn.inspect.measure_receptive_field(model, "resnet20_stage2_block1_out")
        measured.size, measured.computed_size  # (21, 21) (21, 21)
        ```
    """
    check_int("trials", trials, minimum=1)
    table = receptive_field(model, input_shape)
    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        close = difflib.get_close_matches(str(layer_name), [lay.name for lay in model.layers])
        raise ValueError(
            f"layer_name must name a layer of model {model.name!r}. "
            f"Received: layer_name={layer_name!r}. Close matches: {close}"
        ) from None
    row = table[layer_name]
    if row.is_global:
        raise ValueError(
            f"layer_name must name a layer whose output is a feature map; every unit of "
            f"{layer_name!r} ({row.kind}) sees the whole input. Received: layer_name={layer_name!r}"
        )
    height, width = table.input_size
    if height is None or width is None:
        raise ValueError("The model's input size is not fixed: pass input_shape.")
    out_h, out_w = row.output_size
    unit = (out_h // 2, out_w // 2) if unit is None else tuple(int(u) for u in unit)
    if len(unit) != 2 or not (0 <= unit[0] < out_h and 0 <= unit[1] < out_w):
        raise ValueError(
            f"unit must be (row, column) inside the {out_h}x{out_w} output of {layer_name!r}. "
            f"Received: unit={unit!r}"
        )

    cut = keras.Model(model.inputs[0], layer.output, name=f"{model.name}_to_{layer_name}")
    channels_last = _channels_last()
    shape = tuple(model.inputs[0].shape[1:]) if input_shape is None else tuple(input_shape)
    images = np.random.default_rng(seed).standard_normal((trials, *shape)).astype("float32")

    def unit_sum(x):
        out = cut(x, training=False)
        if channels_last:
            return keras.ops.sum(out[:, unit[0], unit[1], :])
        return keras.ops.sum(out[:, :, unit[0], unit[1]])

    _, grad = value_and_gradient(unit_sum, images)
    magnitude = np.abs(grad).sum(axis=(0, 3) if channels_last else (0, 1))
    rows = np.flatnonzero(magnitude.any(axis=1))
    cols = np.flatnonzero(magnitude.any(axis=0))
    if rows.size:
        box = (int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1]))
        size = (box[2] - box[0] + 1, box[3] - box[1] + 1)
    else:
        box, size = None, (0, 0)
    top, left, bottom, right = row.box(unit)
    computed = (max(top, 0), max(left, 0), min(bottom, height - 1), min(right, width - 1))
    computed_size = (computed[2] - computed[0] + 1, computed[3] - computed[1] + 1)
    return MeasuredField(
        layer=layer_name,
        unit=unit,
        size=size,
        box=box,
        computed_size=computed_size,
        computed_box=computed,
        gradient=magnitude,
    )
