"""The hand-written PyTorch baseline of the training-throughput benchmark.

This is what a PyTorch user writes by hand to train kcnn's models: `torch.nn` modules and
the usual loop (Adam, cross-entropy, zero_grad / forward / backward / step). The benchmark
times it next to kcnn's `model.fit`, so nothing here imports Keras or kcnn.

The modules match kcnn's Keras models layer for layer: the same layers, widths, strides,
padding and trainable parameter count, and BatchNorm with kcnn's statistics (Keras momentum
0.9 is PyTorch momentum 0.1; epsilon 1e-5, see ``kcnn.models._common``). Every module is
named after the kcnn layer it stands for, without the model-name prefix and with ``_`` for
``.``: torch ``c1_conv`` is kcnn's ``lenet5_c1_conv``, torch ``stage2.block1.shortcut.conv``
is kcnn's ``resnet18_stage2_block1_shortcut_conv``, ``predictions`` is ``predictions``. The
differences, none of which changes the work done per step:

- The models return logits and the loop uses `torch.nn.CrossEntropyLoss`, as a PyTorch user
  writes it; kcnn's models end with a softmax and train on the cross-entropy of its output.
- Images are NCHW. Flatten therefore orders features (channel, row, column) where Keras
  orders them (row, column, channel): the same dense layer with its rows permuted.
- Weights start from PyTorch's default initialisers, not Keras' Glorot uniform.
- kcnn's explicit ``ZeroPadding2D`` before stride-2 convolutions and ResNet's stem pooling is
  the ``padding=`` argument of `torch.nn.Conv2d` and `torch.nn.MaxPool2d` (the pooling pads
  with -inf instead of 0, which is the same after a ReLU).

Models and the shapes the benchmark uses: ``lenet5`` (28, 28, 1), zero-padded to 32x32 inside
the model, as kcnn's; ``simple_cnn`` (28, 28, 1); ``resnet20`` (32, 32, 3), CIFAR-style with
the parameter-free option A shortcut; ``resnet18`` (64, 64, 3), ImageNet-style with projection
shortcuts.

Example:
    ```python
    model = build("resnet20", (32, 32, 3), num_classes=10)
    logits = model(torch.zeros(8, 3, 32, 32))  # (8, 10)
    ```

References:
    LeCun et al. Gradient-based learning applied to document recognition. Proc. IEEE, 1998.
    He, Zhang, Ren, Sun. Deep residual learning for image recognition. CVPR 2016.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: The models this baseline builds, by kcnn's registry names.
MODELS = ("lenet5", "simple_cnn", "resnet20", "resnet18")

#: PyTorch BatchNorm momentum equal to kcnn's Keras ``BN_MOMENTUM = 0.9`` (torch = 1 - keras).
BN_MOMENTUM = 0.1

#: BatchNorm epsilon, kcnn's ``BN_EPSILON``.
BN_EPSILON = 1e-5

#: Adam's learning rate, kcnn's default optimizer.
LEARNING_RATE = 1e-3

#: LeNet-5's input size; smaller images are zero-padded to it.
LENET_INPUT_SIZE = 32

#: name: (style, blocks per stage) of the ResNets built here (all with basic blocks).
_RESNETS = {
    "resnet20": ("cifar", (3, 3, 3)),
    "resnet18": ("imagenet", (2, 2, 2, 2)),
}

#: style: stage widths.
_RESNET_WIDTHS = {"cifar": (16, 32, 64), "imagenet": (64, 128, 256, 512)}


def _batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPSILON, momentum=BN_MOMENTUM)


def lenet5(input_shape: tuple, num_classes: int) -> nn.Sequential:
    """LeNet-5, kcnn's default "modern" variant (ReLU and max pooling).

    Args:
        input_shape: ``(height, width, channels)``; images smaller than 32x32 are zero-padded
            to 32x32 (split evenly, the extra pixel at the bottom/right) as kcnn does.
        num_classes: number of output logits.

    Returns:
        An `nn.Sequential` mapping ``(n, channels, height, width)`` images to logits.
    """
    height, width, channels = input_shape
    pad_h, pad_w = max(LENET_INPUT_SIZE - height, 0), max(LENET_INPUT_SIZE - width, 0)
    layers = OrderedDict()
    if pad_h or pad_w:
        # ZeroPad2d takes (left, right, top, bottom).
        layers["pad"] = nn.ZeroPad2d(
            (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2)
        )
    height, width = height + pad_h, width + pad_w
    in_channels = channels
    for conv, pool, filters in (("c1", "s2", 6), ("c3", "s4", 16)):
        layers[f"{conv}_conv"] = nn.Conv2d(in_channels, filters, 5)
        layers[f"{conv}_relu"] = nn.ReLU(inplace=True)
        layers[f"{pool}_pool"] = nn.MaxPool2d(2)
        in_channels = filters
        height, width = (height - 4) // 2, (width - 4) // 2
    layers["flatten"] = nn.Flatten()
    features = in_channels * height * width
    for layer, units in (("f5", 120), ("f6", 84)):
        layers[f"{layer}_dense"] = nn.Linear(features, units)
        layers[f"{layer}_relu"] = nn.ReLU(inplace=True)
        features = units
    layers["predictions"] = nn.Linear(features, num_classes)
    return nn.Sequential(layers)


def simple_cnn(input_shape: tuple, num_classes: int) -> nn.Sequential:
    """kcnn's SimpleCNN with its defaults: two conv-BN-ReLU-pool blocks, dense 128, dropout 0.5.

    Args:
        input_shape: ``(height, width, channels)``.
        num_classes: number of output logits.

    Returns:
        An `nn.Sequential` mapping ``(n, channels, height, width)`` images to logits.
    """
    height, width, channels = input_shape
    layers = OrderedDict()
    in_channels = channels
    for index, filters in enumerate((32, 64), start=1):
        # kcnn's Conv2D(padding="same") with kernel 3 pads 1 on every side; no bias before BN.
        layers[f"block{index}_conv"] = nn.Conv2d(in_channels, filters, 3, padding=1, bias=False)
        layers[f"block{index}_bn"] = _batch_norm(filters)
        layers[f"block{index}_relu"] = nn.ReLU(inplace=True)
        layers[f"block{index}_pool"] = nn.MaxPool2d(2)
        in_channels = filters
        height, width = height // 2, width // 2
    layers["flatten"] = nn.Flatten()
    layers["dense"] = nn.Linear(in_channels * height * width, 128)
    layers["dense_relu"] = nn.ReLU(inplace=True)
    layers["dropout"] = nn.Dropout(0.5)
    layers["predictions"] = nn.Linear(128, num_classes)
    return nn.Sequential(layers)


class ZeroPadShortcut(nn.Module):
    """The parameter-free "option A" shortcut: subsample by ``stride``, zero-pad the channels.

    The new channels are split evenly, half before the existing ones and half after (the odd
    one after), as kcnn's ``ZeroPadShortcut``.

    Args:
        filters: number of output channels.
        stride: spatial subsampling factor.
    """

    def __init__(self, filters: int, stride: int):
        super().__init__()
        self.filters = filters
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        extra = self.filters - x.shape[1]
        x = x[:, :, :: self.stride, :: self.stride]
        # F.pad's last pairs come first: (W left, W right, H top, H bottom, C front, C back).
        return F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut, then ReLU (ResNet v1).

    Args:
        in_channels: channels of the block's input.
        filters: channels of its output.
        stride: stride of the first convolution (and of the shortcut).
        shortcut: ``"A"`` (zero-padding) or ``"B"`` (1x1 projection and BN) where the shape
            changes; the identity otherwise.
    """

    def __init__(self, in_channels: int, filters: int, stride: int, shortcut: str):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, filters, 3, stride, padding=1, bias=False)
        self.bn1 = _batch_norm(filters)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(filters, filters, 3, 1, padding=1, bias=False)
        self.bn2 = _batch_norm(filters)
        if stride == 1 and in_channels == filters:
            self.shortcut = nn.Identity()
        elif shortcut == "A":
            self.shortcut = ZeroPadShortcut(filters, stride)
        else:
            self.shortcut = nn.Sequential(
                OrderedDict(
                    conv=nn.Conv2d(in_channels, filters, 1, stride, bias=False),
                    bn=_batch_norm(filters),
                )
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return self.relu(out)


def resnet(name: str, input_shape: tuple, num_classes: int) -> nn.Sequential:
    """ResNet-20 (CIFAR-style, option A) or ResNet-18 (ImageNet-style, option B), as kcnn's.

    Args:
        name: ``"resnet20"`` or ``"resnet18"``.
        input_shape: ``(height, width, channels)``.
        num_classes: number of output logits.

    Returns:
        An `nn.Sequential` mapping ``(n, channels, height, width)`` images to logits.
    """
    style, blocks = _RESNETS[name]
    widths = _RESNET_WIDTHS[style]
    layers = OrderedDict()
    if style == "cifar":
        layers["stem_conv"] = nn.Conv2d(input_shape[2], widths[0], 3, padding=1, bias=False)
    else:
        # kcnn: ZeroPadding2D(3) + Conv2D(7, strides=2, padding="valid").
        layers["stem_conv"] = nn.Conv2d(input_shape[2], widths[0], 7, 2, padding=3, bias=False)
    layers["stem_bn"] = _batch_norm(widths[0])
    layers["stem_relu"] = nn.ReLU(inplace=True)
    if style == "imagenet":
        # kcnn: ZeroPadding2D(1) + MaxPooling2D(3, 2).
        layers["stem_pool"] = nn.MaxPool2d(3, 2, padding=1)
    shortcut = "A" if style == "cifar" else "B"
    in_channels = widths[0]
    for stage, (width, count) in enumerate(zip(widths, blocks), start=1):
        stage_blocks = OrderedDict()
        for index in range(1, count + 1):
            stride = 2 if stage > 1 and index == 1 else 1
            stage_blocks[f"block{index}"] = BasicBlock(in_channels, width, stride, shortcut)
            in_channels = width
        layers[f"stage{stage}"] = nn.Sequential(stage_blocks)
    layers["avg_pool"] = nn.AdaptiveAvgPool2d(1)
    layers["flatten"] = nn.Flatten()
    layers["predictions"] = nn.Linear(in_channels, num_classes)
    return nn.Sequential(layers)


def build(name: str, input_shape: tuple, num_classes: int) -> nn.Module:
    """Build one of `MODELS` as a PyTorch module that returns logits.

    Args:
        name: one of `MODELS`.
        input_shape: ``(height, width, channels)``, as kcnn's ``input_shape``.
        num_classes: number of output logits.

    Returns:
        An `nn.Module` taking ``(n, channels, height, width)`` float images.

    Raises:
        ValueError: an unknown name or a malformed ``input_shape``.
    """
    if name not in MODELS:
        raise ValueError(f"name must be one of {list(MODELS)}. Received: name={name!r}")
    if len(input_shape) != 3 or any(int(d) < 1 for d in input_shape):
        raise ValueError(
            "input_shape must be (height, width, channels), 3 positive integers. "
            f"Received: input_shape={input_shape!r}"
        )
    input_shape = tuple(int(d) for d in input_shape)
    if name == "lenet5":
        return lenet5(input_shape, num_classes)
    if name == "simple_cnn":
        return simple_cnn(input_shape, num_classes)
    return resnet(name, input_shape, num_classes)


def count_params(name: str, input_shape: tuple, num_classes: int) -> int:
    """Trainable parameters of `build`'s model (BatchNorm running statistics are buffers).

    Equal to the sum of the shapes of the kcnn model's ``trainable_weights``.
    """
    model = build(name, input_shape, num_classes)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def prepare_model(model: nn.Module, options: dict) -> nn.Module:
    """Apply the benchmark's options to a model already on its device.

    Args:
        model: the module from `build`.
        options: ``{"channels_last": True}`` converts the weights to
            ``torch.channels_last``; ``{"compile": True}`` wraps the model with `torch.compile`.

    Returns:
        The module to train: ``model`` itself, or its compiled wrapper.
    """
    if options.get("channels_last"):
        model = model.to(memory_format=torch.channels_last)
    if options.get("compile"):
        model = torch.compile(model)
    return model


def fit(session) -> nn.Module:
    """Train ``session.spec["model"]`` on ``session.x, session.y``; return the trained module.

    Each epoch is one pass over a fresh random permutation in batches of ``batch_size`` (the
    last one partial, as Keras), between ``session.epoch_begin()`` and
    ``session.epoch_end(images)``. All device work is finished before ``epoch_end``.

    Args:
        session: the benchmark session: ``spec`` (a dict with ``model``, ``input_shape``,
            ``num_classes``, ``batch_size``, ``epochs``, ``seed`` and ``options``), ``x``
            (float32 ``(n, h, w, c)`` NumPy images), ``y`` (integer labels), ``device``
            (``"cpu"`` or ``"cuda"``), ``epoch_begin()`` and ``epoch_end(images)``.

    Returns:
        The trained module (the compiled wrapper with ``options["compile"]``).
    """
    spec = session.spec
    options = spec.get("options") or {}
    device = torch.device(session.device)
    memory_format = torch.channels_last if options.get("channels_last") else torch.contiguous_format
    torch.manual_seed(spec["seed"])

    model = build(spec["model"], tuple(spec["input_shape"]), spec["num_classes"]).to(device)
    model = prepare_model(model, options)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()

    # NHWC -> NCHW once, on the device once. Indexing with a tensor keeps the memory format.
    x = torch.from_numpy(np.ascontiguousarray(session.x, dtype=np.float32))
    x = x.permute(0, 3, 1, 2).to(device, memory_format=memory_format)
    y = torch.from_numpy(np.asarray(session.y, dtype=np.int64)).to(device)
    n, batch_size = x.shape[0], spec["batch_size"]

    model.train()
    for _ in range(spec["epochs"]):
        session.epoch_begin()
        permutation = torch.randperm(n, device=device)
        for start in range(0, n, batch_size):
            index = permutation[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[index]), y[index])
            loss.backward()
            optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        session.epoch_end(n)
    return model


def train(session) -> None:
    """The benchmark's entry point: `fit` the session's model, discarding the result.

    Args:
        session: the benchmark session (see `fit`).
    """
    fit(session)
