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
# # LeNet-5 and SimpleCNN on handwritten digits
#
# This tutorial builds the two small networks of the lesson, follows an image through them
# layer by layer with the output-size formula, counts their parameters by hand and by Keras,
# and trains both on scikit-learn's 1,797 handwritten digits, which need no download.
#
# It runs on any Keras backend: set `KERAS_BACKEND=tensorflow`, `jax` or `torch` before
# starting Python.

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

import kcnn

print("Keras", keras.__version__, "on", keras.backend.backend())
keras.utils.set_random_seed(0)

# %% [markdown]
# ## The data
#
# `kcnn.data.load_dataset("digits")` scales the 8x8 images to [0, 1], adds a channel axis,
# and splits off a stratified test set (20%) and validation set (10% of the rest).

# %%
data = kcnn.data.load_dataset("digits", validation_split=0.1, seed=0)
print(data)

fig, axes = plt.subplots(1, 10, figsize=(10, 1.4))
for digit, ax in enumerate(axes):
    index = int(np.flatnonzero(data.y_train == digit)[0])
    ax.imshow(data.x_train[index, :, :, 0], cmap="gray_r")
    ax.set_title(data.class_names[digit])
    ax.axis("off")
plt.show()

# %% [markdown]
# ## The output-size formula
#
# A convolution or pooling with kernel size `k`, stride `s` and padding `p` turns an input of
# side `n` into an output of side
#
# ```
# out = floor((n + 2p - k) / s) + 1
# ```
#
# A convolution layer with `c_in` input channels and `c_out` filters of size `k x k` has
# `k * k * c_in * c_out` weights plus `c_out` biases; pooling has none.
#
# ## LeNet-5, layer by layer
#
# LeNet-5 expects 32x32 images. kcnn pads smaller images with zeros to 32x32, as LeCun
# padded MNIST's 28x28 digits, so strokes near the border still reach the centre of C1's
# 5x5 receptive fields. Here the 8x8 digits are padded by 12 pixels on each side.


# %%
def out_size(n, k, s=1, p=0):
    return (n + 2 * p - k) // s + 1


n, channels, rows = 32, 1, []
for layer, kind, k, s, filters in [
    ("C1", "conv", 5, 1, 6),
    ("S2", "pool", 2, 2, None),
    ("C3", "conv", 5, 1, 16),
    ("S4", "pool", 2, 2, None),
]:
    n = out_size(n, k, s)
    params = k * k * channels * filters + filters if kind == "conv" else 0
    channels = filters or channels
    rows.append((layer, f"{n}x{n}x{channels}", params))
flat = n * n * channels
for layer, units in (("F5", 120), ("F6", 84), ("output", 10)):
    rows.append((layer, str(units), flat * units + units))
    flat = units

lenet = kcnn.build_model("lenet5", input_shape=data.input_shape)
keras_shapes = [
    lenet.get_layer(f"lenet5_{name}").output.shape[1:]
    for name in ("c1_conv", "s2_pool", "c3_conv", "s4_pool", "f5_dense", "f6_dense")
] + [lenet.output.shape[1:]]
print(f"{'layer':8}{'by formula':>14}{'in Keras':>16}{'parameters':>12}")
for (layer, shape, params), actual in zip(rows, keras_shapes):
    print(f"{layer:8}{shape:>14}{str(tuple(actual)):>16}{params:>12,}")
print(f"{'total':8}{'':>30}{sum(r[2] for r in rows):>12,}")
print("Keras counts", kcnn.inspect.count_params(lenet)["trainable"], "trainable parameters")

# %% [markdown]
# Most of LeNet-5's 61,706 parameters sit in F5, the first dense layer (48,120): dense
# layers pay for every input-output pair, convolutions share one small kernel across the
# whole image.
#
# ## SimpleCNN
#
# SimpleCNN stacks two blocks of conv 3x3 ("same" padding, so `p = 1` keeps the size) ->
# BatchNorm -> ReLU -> 2x2 max pooling, then a dense layer of 128 units with dropout 0.5.
# On the 8x8 digits: 8x8x32 -> 4x4x32 -> 4x4x64 -> 2x2x64 -> 256 -> 128 -> 10.

# %%
simple = kcnn.build_model("simple_cnn", input_shape=data.input_shape)
for layer in simple.layers[1:]:
    print(f"{layer.name:24}{str(tuple(layer.output.shape[1:])):>16}{layer.count_params():>10,}")
print(kcnn.inspect.count_params(simple))

# %% [markdown]
# The convolutions have no bias: BatchNorm subtracts the batch mean right after them, which
# would cancel any bias, and adds its own learned offset (beta). BatchNorm's moving mean and
# variance are the non-trainable parameters.
#
# ## Training both
#
# `kcnn.train.fit` compiles with Adam and sparse categorical cross-entropy, trains, and (with
# a `run_dir`) writes the model, history, curves and a confusion matrix. Here we keep the
# histories and plot them side by side.

# %%
config = kcnn.train.TrainConfig(epochs=15, batch_size=64, verbose=0)
histories = {}
for name in ("lenet5", "simple_cnn"):
    keras.utils.set_random_seed(0)
    model = kcnn.build_model(name, input_shape=data.input_shape)
    history, _ = kcnn.train.fit(model, data, config, run_dir=None)
    histories[name] = history.history
    test_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)[1]
    print(
        f"{name:12} best val accuracy {max(history.history['val_accuracy']):.3f}, "
        f"test accuracy {test_accuracy:.3f}"
    )

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
for name, logs in histories.items():
    epochs = range(1, len(logs["loss"]) + 1)
    axes[0].plot(epochs, logs["val_loss"], label=f"{name} validation")
    axes[0].plot(epochs, logs["loss"], "--", label=f"{name} train")
    axes[1].plot(epochs, logs["val_accuracy"], label=f"{name} validation")
    axes[1].plot(epochs, logs["accuracy"], "--", label=f"{name} train")
axes[0].set(title="loss", xlabel="epoch")
axes[1].set(title="accuracy", xlabel="epoch")
for ax in axes:
    ax.grid(alpha=0.3)
    ax.legend()
plt.show()

# %% [markdown]
# Where does the dashed training curve sit against the validation curve? Two effects pull
# opposite ways. The training accuracy Keras reports is an average over the epoch's
# batches, measured with dropout active and with weights that were still improving during
# the epoch, while the validation accuracy is measured once, at the end of the epoch, with
# dropout off: both make the training figure look lower. Fitting the training images better
# than unseen ones makes it higher. Count the epochs on each side:

# %%
logs = histories["simple_cnn"]
train_acc, val_acc = np.array(logs["accuracy"]), np.array(logs["val_accuracy"])
below = [int(e) + 1 for e in np.flatnonzero(train_acc < val_acc)]
above = [int(e) + 1 for e in np.flatnonzero(train_acc > val_acc)]
print("epochs with training accuracy below validation:", below)
print("epochs with training accuracy above validation:", above)
display(
    Markdown(
        f"SimpleCNN's training accuracy was below its validation accuracy in {len(below)} of "
        f"{len(train_acc)} epochs and above it in {len(above)}. Neither "
        f"side means much on its own with {len(data.y_val)} validation images (one image is "
        f"{1 / len(data.y_val):.1%}); what would mean something is a gap that keeps growing, "
        "the sign of overfitting (the tutorial on reading training curves shows one)."
    )
)

# %% [markdown]
# BatchNorm lets SimpleCNN reach a high accuracy in a few epochs. LeNet-5 learns more
# slowly here: the 8x8 digits sit in the middle of a 32x32 canvas of
# zeros, so most of its 5x5 windows see nothing, and without BatchNorm its layers adapt to
# each other more slowly. On 28x28 Fashion-MNIST or MNIST, the images it was designed for,
# the gap closes.
#
# ## Try next
#
# Each homework question of the lesson is one argument:
#
# ```python
# kcnn.build_model("simple_cnn", filters=(16, 32, 64))     # deeper
# kcnn.build_model("simple_cnn", kernel_size=5)            # wider kernels
# kcnn.build_model("simple_cnn", batchnorm=False)          # without BatchNorm
# kcnn.build_model("simple_cnn", dropout=0.0)              # without dropout
# kcnn.build_model("lenet5", variant="classic")            # tanh + average pooling
# kcnn.build_model("simple_cnn", activation="gelu")        # another activation
# ```
#
# On the command line, `kcnn train --model lenet5 --epochs 15` trains on the digits and
# writes a run folder with the curves and the confusion matrix.
