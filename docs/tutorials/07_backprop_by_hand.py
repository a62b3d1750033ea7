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
# # Backpropagation by hand
#
# **What does the backward pass of a CNN compute, and what does one training step do to the
# weights?** Automatic differentiation hides it behind one call. This page writes it out:
# the gradients of a convolution by their formulas, the gradient of softmax cross-entropy,
# and one step of stochastic gradient descent, each checked against what Keras computes.
#
# ## The formulas of a convolution
#
# A `Conv2D` layer computes a cross-correlation. With input `x` (channels last), kernel `K`
# of `kh x kw` taps, stride `s`, and `x_pad` the input with its padding:
#
# ```
# y[n, i, j, f] = b[f] + sum over a, b', c of  x_pad[n, s*i + a, s*j + b', c] * K[a, b', c, f]
# ```
#
# Backpropagation starts from `g = dL/dy`, the gradient of the loss with respect to the
# output, and applies the chain rule to each weight and each input pixel:
#
# ```
# dL/db[f]          = sum over n, i, j of  g[n, i, j, f]
# dL/dK[a, b', c, f] = sum over n, i, j of  x_pad[n, s*i + a, s*j + b', c] * g[n, i, j, f]
# dL/dx_pad          = full convolution of g (s - 1 zeros between entries) with K flipped
# ```
#
# The weight gradient is the input **correlated** with the output gradient: each tap of the
# kernel collects the input pixels it met, weighted by how much the loss cared about the
# output it produced. The input gradient sends each output's gradient back to the pixels
# that made it, through the same taps: sliding the kernel backwards, which is a
# **convolution with the flipped kernel**, over `g` padded with `kh - 1` zeros on each side
# (a *full* convolution, so that border pixels, seen by fewer windows, get their share).
# `kcnn.inspect.backprop.conv2d_backward` computes these with `keras.ops`, no autodiff.

# %%
import keras
import numpy as np
from IPython.display import Markdown, display

import kcnn
from kcnn.inspect.backprop import (
    conv2d_backward,
    conv2d_backward_autodiff,
    cross_entropy_autodiff,
    dense_backward,
    fit_one_step,
    softmax_cross_entropy,
    train_step_by_hand,
)

print("Keras", keras.__version__, "on", keras.backend.backend())

# %% [markdown]
# ## A worked example: one channel, 4x4 input, 2x2 kernel
#
# Small integers, so every entry can be checked with pencil and paper. The forward pass gives
# a 3x3 output; pretend the loss sent back the gradient `g` below.

# %%
x = np.arange(16, dtype="float32").reshape(4, 4)
k = np.array([[1, 2], [-1, 0]], "float32")
g = np.array([[1, 0, -1], [0, 2, 0], [1, 0, 0]], "float32")
y = keras.ops.convert_to_numpy(keras.ops.conv(x[None, :, :, None], k[:, :, None, None]))[0, ..., 0]
small = conv2d_backward(x[None, :, :, None], k[:, :, None, None], g[None, :, :, None])
grad_k, grad_x = small.kernel[:, :, 0, 0], small.input[0, :, :, 0]

with np.printoptions(formatter={"float": lambda v: f"{v:4.0f}"}):
    print("x =\n", x, "\nk =\n", k, "\ny = x correlated with k =\n", y, "\ng = dL/dy =\n", g)
    print("dL/dk = x correlated with g =\n", grad_k)
    print("tap (0, 0) met x[0:3, 0:3]:", np.sum(x[0:3, 0:3] * g))
    print("\ng padded with 1 zero all round =\n", np.pad(g, 1))
    print("k flipped =\n", np.flip(k))
    print("dL/dx = padded g correlated with flipped k =\n", grad_x)
    print("dL/db =", small.bias)

# %% [markdown]
# Pixel `x[0, 0]` fed only output `y[0, 0]`, through tap `k[0, 0]`, so its gradient is
# `g[0, 0] * k[0, 0]`; a pixel in the middle fed four outputs and sums four such products.
#
# ## Checked against autodiff
#
# A layer with two input channels and three filters, on a 6x6 input: the gradients by the
# formulas and those of the backend's automatic differentiation
# (`conv2d_backward_autodiff` differentiates `sum(g * conv(x, K))`), for both paddings and
# two strides. The table shows the largest absolute difference over all entries.

# %%
rng = np.random.default_rng(0)
x6 = rng.normal(size=(1, 6, 6, 2)).astype("float32")
kernel = rng.normal(size=(3, 3, 2, 3)).astype("float32")
conv_diffs = {}
print(
    f"{'padding':8s} {'strides':>7s} {'output':>14s}   max |hand - autodiff|: kernel, input, bias"
)
for padding in ("valid", "same"):
    for strides in (1, 2):
        out = keras.ops.conv(x6, kernel, strides=strides, padding=padding)
        g6 = rng.normal(size=out.shape).astype("float32")
        hand = conv2d_backward(x6, kernel, g6, strides=strides, padding=padding)
        auto = conv2d_backward_autodiff(x6, kernel, g6, strides=strides, padding=padding)
        diffs = [float(np.abs(h - a).max()) for h, a in zip(hand, auto)]
        conv_diffs[padding, strides] = max(diffs)
        print(
            f"{padding:8s} {strides:7d} {str(tuple(out.shape)):>14s}   ",
            *(f"{d:.2e}" for d in diffs),
        )

# %% [markdown]
# ## One training step, written out
#
# A training step of a classifier has five parts:
#
# 1. **forward**: the model maps a batch of images to logits `z`, one score per class;
# 2. **softmax**: `p = exp(z) / sum(exp(z))`, row by row;
# 3. **loss**: the mean over the batch of `-log p[label]` (cross-entropy with the one-hot
#    label);
# 4. **backward**: the loss's gradient with respect to the logits is
#    `(p - onehot(label)) / batch`; the chain rule carries it down through each layer;
# 5. **update**: stochastic gradient descent moves each weight `w <- w - lr * dL/dw`.
#
# The model: one 3x3 convolution with ReLU, then a dense layer to ten logits, on eight
# handwritten digits.

# %%
data = kcnn.data.load_dataset("digits")
images, labels = np.asarray(data.x_train[:8]), np.asarray(data.y_train[:8])
learning_rate = 0.1


def tiny_model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(images.shape[1:]),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(10, name="logits"),
        ],
        name="tiny",
    )


model = tiny_model(0)
step = train_step_by_hand(model, images, labels, learning_rate)
print("labels       ", labels)
with np.printoptions(precision=3, suppress=True):
    print("p, image 0   ", step.probabilities[0])
    print("dL/dz, image 0", step.logits_gradient[0])
row_sums = float(np.abs(step.logits_gradient.sum(axis=1)).max())
print(f"largest |sum of a row of dL/dz| = {row_sums:.1e}")
print(step)

# %% [markdown]
# The gradient of the true class's logit is negative (raising it lowers the loss), the
# others positive, in proportion to the probability the model gave them; each row sums to
# zero. Keras' own loss, differentiated by the backend, agrees with the formula:

# %%
logits = keras.ops.convert_to_numpy(model(images))
loss_hand, grad_hand = softmax_cross_entropy(logits, labels)
loss_auto, grad_auto = cross_entropy_autodiff(logits, labels)
loss_diff, logits_diff = abs(loss_hand - loss_auto), float(np.abs(grad_hand - grad_auto).max())
print(f"loss: formula {loss_hand:.6f}, keras {loss_auto:.6f}")
print(f"max |dL/dz formula - dL/dz autodiff| = {logits_diff:.2e}")

# %% [markdown]
# ## The chain rule, layer by layer
#
# `train_step_by_hand` lets automatic differentiation carry `dL/dz` down through the layers.
# The same can be done by hand with the layers' own formulas, from the top: the dense layer
# (`dL/dW = h^T g`, `dL/dh = g W^T`), the flatten (a reshape), the ReLU (the gradient passes
# where the output was positive and stops elsewhere), and the convolution above.

# %%
conv, dense = model.get_layer("conv"), model.get_layer("logits")
activations = keras.ops.convert_to_numpy(conv(images))  # after the ReLU
h = activations.reshape(len(images), -1)  # the flatten

top = dense_backward(h, dense.kernel, step.logits_gradient)
grad_activations = top.input.reshape(activations.shape)
grad_before_relu = grad_activations * (activations > 0)
bottom = conv2d_backward(images, conv.kernel, grad_before_relu)

by_hand = [bottom.kernel, bottom.bias, top.kernel, top.bias]
chain_diffs = [float(np.abs(a - b).max()) for a, b in zip(by_hand, step.gradients)]
for name, diff in zip(step.names, chain_diffs):
    print(f"{name:22s} max |chain rule by hand - autodiff| = {diff:.2e}")

# %% [markdown]
# ## The update, checked against one step of fit
#
# `fit_one_step` compiles a copy of the model with `keras.optimizers.SGD(learning_rate)` and
# `SparseCategoricalCrossentropy(from_logits=True)` and fits it on the same batch, as one
# batch, unshuffled. Its weights after the step should be those of `w - lr * dL/dw`. The
# weights depend on the random initialisation, so the check runs for three seeds.

# %%
fit_diffs, fit_loss_diffs = [], []
for seed in (0, 1, 2):
    seeded = tiny_model(seed)
    hand = train_step_by_hand(seeded, images, labels, learning_rate)
    fit_loss, fit_weights = fit_one_step(seeded, images, labels, learning_rate)
    moved = max(float(np.abs(w - v).max()) for w, v in zip(hand.weights, seeded.get_weights()))
    diff = max(float(np.abs(w - f).max()) for w, f in zip(hand.weights, fit_weights))
    fit_diffs.append(diff)
    fit_loss_diffs.append(abs(hand.loss - fit_loss))
    print(
        f"seed {seed}: loss {hand.loss:.4f} (fit {fit_loss:.4f}); the step moved weights by up "
        f"to {moved:.3f}; max |hand - fit| = {diff:.2e}"
    )

# %% [markdown]
# ## The loop
#
# Training is this step, repeated. Twenty steps by hand on the same eight digits, assigning
# the new weights to the model each time, from three random initialisations:

# %%
curves = {}
for seed in (0, 1, 2):
    looped = tiny_model(seed)
    curves[seed] = []
    for _ in range(20):
        step = train_step_by_hand(looped, images, labels, learning_rate)
        curves[seed].append(step.loss)
        for variable, value in zip(looped.trainable_weights, step.weights):
            variable.assign(value)
    print(f"seed {seed}: loss per step", " ".join(f"{loss:.2f}" for loss in curves[seed]))
first = [curve[0] for curve in curves.values()]
last = [curve[-1] for curve in curves.values()]

# %% [markdown]
# ## What the numbers showed

# %%
worst_conv = max(conv_diffs.values())
display(
    Markdown(
        f"- The gradients of a convolution by their formulas (weight gradient: the input "
        f"correlated with the output gradient; input gradient: the full convolution of the "
        f"output gradient with the flipped kernel) are those of the backend's autodiff: the "
        f"largest difference over {len(conv_diffs)} combinations of padding and stride is "
        f"{worst_conv:.1e}, float32 rounding.\n"
        f"- The gradient of mean cross-entropy with respect to the logits is "
        f"`(softmax - onehot) / batch`: against Keras' loss differentiated by "
        f"{keras.backend.backend()}, the largest difference is {logits_diff:.1e} (losses: "
        f"{loss_diff:.1e}).\n"
        f"- Carried down by hand through dense, flatten, ReLU and convolution, it gives every "
        f"weight gradient of the model (largest difference {max(chain_diffs):.1e}).\n"
        f"- One step `w - lr * dL/dw` is one step of `model.fit` with SGD: the weights differ "
        f"by {max(fit_diffs):.1e} at most over three initialisations, the reported losses by "
        f"{max(fit_loss_diffs):.1e}.\n"
        f"- Repeated {len(curves[0])} times on one batch of {len(images)} digits, the step "
        f"lowers the loss from {min(first):.2f}-{max(first):.2f} to {min(last):.2f}-"
        f"{max(last):.2f} (over three initialisations): that loop is training."
    )
)
