# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Receptive fields
#
# A unit of a convolutional layer does not see the whole image, only a window of it: its
# **receptive field**. One 3x3 convolution sees 3x3 pixels; a second 3x3 convolution on top
# sees 3x3 units of the first, which together cover 5x5 pixels. Pooling and strides make
# every later layer's window count double.
#
# Per axis, with kernel `k`, stride `s` and dilation `d` at layer `l`:
#
# - the **jump** between neighbouring units, in input pixels: `j_l = j_{l-1} * s_l`
# - the **field**: `r_l = r_{l-1} + (k_eff - 1) * j_{l-1}`, with `k_eff = d * (k - 1) + 1`
#
# starting from `r_0 = 1`, `j_0 = 1`. `kcnn.inspect.receptive_field` applies this to every
# layer of a model, follows padding to locate each field, and takes the union where
# residual branches merge. `measure_receptive_field` checks it against the gradient.

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np

import kcnn
from kcnn.inspect.counts import dense_vs_conv, param_report
from kcnn.inspect.equivariance import equivariance_check, pooling_edge_response
from kcnn.inspect.receptive_field import measure_receptive_field, receptive_field

print("Keras", keras.__version__, "on", keras.backend.backend())

# %% [markdown]
# ## The exercise: three 3x3 convolutions
#
# Three stride-1 3x3 convolutions: 1 + 2 = 3, 3 + 2 = 5, 5 + 2 = 7. The last layer sees a
# 7x7 patch, as one 7x7 convolution would, with 3 * 9 = 27 weights per channel pair
# instead of 49, and three nonlinearities instead of one.

# %%
layers = keras.layers
three = keras.Sequential(
    [keras.Input((32, 32, 1))] + [layers.Conv2D(8, 3, name=f"conv{i}") for i in (1, 2, 3)],
    name="three_convs",
)
print(receptive_field(three))

# %% [markdown]
# ## A stride-2 pool in between
#
# A 2x2 max pool with stride 2 after the first convolution adds only one pixel itself
# (3 + 1 * 1 = 4), but doubles the jump: each later 3x3 convolution now adds 2 * 2 = 4
# pixels instead of 2. The fields become 3, 4, 8, 12.

# %%
pooled = keras.Sequential(
    [
        keras.Input((32, 32, 1)),
        layers.Conv2D(8, 3, name="conv1"),
        layers.MaxPooling2D(2, name="pool"),
        layers.Conv2D(8, 3, name="conv2"),
        layers.Conv2D(8, 3, name="conv3"),
    ],
    name="with_pool",
)
table = receptive_field(pooled)
print(table)
print("fields:", [row.field[0] for row in table.rows[1:]])

# %% [markdown]
# The `start` column locates the field: output unit `u` sees input pixels
# `start + u * jump` to `start + u * jump + field - 1`. With "same" padding the field of
# unit 0 starts before the image (negative start): part of it is padding.
#
# ## SimpleCNN and ResNet-20
#
# `spatial_only=True` keeps the rows that move pixels (convolutions, pooling, padding), the
# merges, the first global layer and the output. After `Flatten` every unit sees the whole
# image.

# %%
simple = kcnn.build_model("simple_cnn")
print(receptive_field(simple).to_text(spatial_only=True))

# %% [markdown]
# ResNet-20 on a 64x64 image (the layer geometry is the same as on CIFAR's 32x32; the larger
# image lets deep fields fit inside it below). Each 3x3 convolution adds `2 * jump`; each
# stage doubles the jump, so each stage adds twice as much as the one before. The shortcut
# of a block sees less than its main branch; the block's output is their union.

# %%
resnet = kcnn.build_model("resnet20", input_shape=(64, 64, 3))
table = receptive_field(resnet)
print(f"{'block output':28s} {'field':>5s} {'jump':>4s}")
for row in table:
    if row.name.endswith("_out") or row.name.endswith("stem_relu"):
        print(f"{row.name:28s} {row.field[0]:5d} {row.jump[0]:4d}")

# %% [markdown]
# The last block sees 81x81 pixels: more than a whole 32x32 CIFAR image, so every unit of
# the last stage can use all of it, and global average pooling combines them.
#
# ## Measured against computed
#
# `measure_receptive_field` takes the output of one unit (the centre unit of a layer,
# summed over channels), back-propagates it to the input, and reports the bounding box of
# the pixels whose gradient is not zero, over three random images (one gradient alone
# misses pixels behind dead ReLUs and the losing inputs of max pooling).

# %%
checks = [
    (simple, "simple_cnn_block1_conv"),
    (simple, "simple_cnn_block1_pool"),
    (simple, "simple_cnn_block2_pool"),
    (resnet, "resnet20_stage1_block1_out"),
    (resnet, "resnet20_stage2_block1_out"),
    (resnet, "resnet20_stage3_block1_out"),
]
measured = {}
for model, name in checks:
    measured[name] = result = measure_receptive_field(model, name)
    print(result)

# %% [markdown]
# They agree to the pixel, location included. The figure shows the gradient magnitude of
# one unit over the input, with the computed field drawn as a box: the gradient is zero
# exactly outside it. Within the box the gradient is far from uniform: the centre is
# reached by many more paths than the edges, so the *effective* receptive field is smaller
# than the theoretical one (Luo et al., 2016).

# %%
names = ["simple_cnn_block2_pool", "resnet20_stage2_block1_out", "resnet20_stage3_block1_out"]
cmap = plt.get_cmap("viridis").copy()
cmap.set_bad("white")
fig, axes = plt.subplots(1, 3, figsize=(13, 4.4))
for ax, name in zip(axes, names):
    result = measured[name]
    magnitude = result.gradient
    # log scale, clipped 8 decades below the peak; exact zeros (outside the field) in white
    floor = 1e-8 * magnitude.max()
    shown = np.ma.masked_where(magnitude == 0, np.log10(np.maximum(magnitude, floor)))
    image = ax.imshow(shown, cmap=cmap)
    top, left, bottom, right = result.computed_box
    ax.add_patch(
        plt.Rectangle(
            (left - 0.5, top - 0.5),
            right - left + 1,
            bottom - top + 1,
            fill=False,
            edgecolor="red",
            linewidth=1.5,
        )
    )
    ax.set_title(f"{name}\nunit {result.unit}: field {result.size[0]}x{result.size[1]}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
fig.suptitle(
    "log10 |d unit / d input| over three random images (white: exactly zero); "
    "red: the computed receptive field"
)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Why share weights: parameters
#
# A dense layer on a flattened 224x224x3 image needs a weight per pixel value and unit; a
# convolution reuses one small kernel at every position.

# %%
print(dense_vs_conv())

# %% [markdown]
# Where a network keeps its parameters: LeNet-5's first dense layer F5 holds most of them.

# %%
print(param_report(kcnn.build_model("lenet5")))

# %% [markdown]
# ## Shifts: equivariance, invariance, and what pooling keeps
#
# Because every position uses the same kernel, a convolution's output moves with its input.
# `equivariance_check` shifts an image (here: an object on a black background) by (2, 3)
# pixels and compares the output with the shifted output away from the borders; global
# average pooling then forgets the position altogether.

# %%
rng = np.random.default_rng(0)
image = np.zeros((24, 24, 1), "float32")
image[8:16, 7:15] = rng.uniform(size=(8, 8, 1))
print(equivariance_check(layers.Conv2D(8, 3, padding="same"), image, shift=(2, 3)))

# %% [markdown]
# A thin bright vertical line, pooled 2x2: max pooling keeps its full intensity wherever
# it falls; average pooling halves it. For a line two pixels wide the average even depends
# on where the line falls relative to the windows.

# %%
print(pooling_edge_response(size=8, pool_size=2))
wide = pooling_edge_response(size=8, pool_size=2, line_width=2)
print("2-pixel line, peak per position: max", wide.max_peak, "avg", wide.avg_peak)
