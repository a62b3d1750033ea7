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
# # Why depth needs skip connections
#
# **Why can't we make a network better by stacking more layers, and what does a skip
# connection change?** Training moves each weight along the gradient of the loss, and
# backpropagation computes the gradient of layer `l` by multiplying the gradient at the top
# by the Jacobian of every layer above `l`. In a plain stack `x_{l+1} = f_l(x_l)` that is a
# product of `L - l` factors: if they are smaller than one, the gradient shrinks
# geometrically on its way down (it *vanishes*) and the first layers hardly learn.
#
# A residual block computes `x_{l+1} = x_l + f_l(x_l)`. Its Jacobian is `I + f_l'`: the
# identity term carries the gradient from the top to every layer, whatever the branches
# do (He et al., 2016).
#
# `kcnn.inspect.depth.deep_stack` builds the two side by side: a 3x3 stem convolution, then
# `depth` blocks of `activation -> 3x3 conv` (16 channels, the image size kept), global
# average pooling and a softmax classifier. With `residual=True` each block's output is
# added to its input; the layers and their weights are the same. `gradient_norms` gives the
# norm of the loss gradient with respect to each layer's kernel.

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

import kcnn
from kcnn.inspect.depth import compose_linear, deep_stack, gradient_norms, reinitialize

print("Keras", keras.__version__, "on", keras.backend.backend())

data = kcnn.data.load_dataset("digits")
x_batch, y_batch = data.x_train[:256], data.y_train[:256]
depth = 20

# %% [markdown]
# ## The gradient at initialisation
#
# Twenty blocks, Keras' default initialisation (Glorot uniform), the loss on 256 training
# digits. Two activations: the sigmoid, whose slope is at most 1/4, and the ReLU.

# %%
norms = {}
for activation in ("sigmoid", "relu"):
    for residual in (False, True):
        keras.utils.set_random_seed(0)
        model = deep_stack(depth, residual=residual, activation=activation)
        norms[activation, residual] = gradient_norms(model, x_batch, y_batch)

for (activation, residual), layer_norms in norms.items():
    values = list(layer_norms.values())
    print(f"{activation:7s} {'residual' if residual else 'plain':8s}  "
          f"block 1: {values[1]:.1e}  block {depth // 2}: {values[depth // 2]:.1e}  "
          f"block {depth}: {values[depth]:.1e}  classifier: {values[-1]:.1e}")  # fmt: skip

fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
for ax, activation in zip(axes, ("sigmoid", "relu")):
    for residual, style in ((False, "o-"), (True, "s-")):
        values = list(norms[activation, residual].values())
        label = "residual" if residual else "plain"
        ax.semilogy(range(len(values)), values, style, label=label, markersize=4)
    ax.set_title(f"{activation}, {depth} blocks, at initialisation", fontsize=12)
    ax.set_xlabel(f"layer (0: stem, 1-{depth}: blocks, {depth + 1}: classifier)", fontsize=11)
    ax.legend(fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
axes[0].set_ylabel("||dL / d kernel||", fontsize=11)
fig.tight_layout()
plt.show()

# %% [markdown]
# With the sigmoid, the plain stack's gradient falls by a constant factor per layer from
# the classifier down to the stem: the classic vanishing gradient. With the shortcuts it
# stays within a narrow band at every depth.
#
# With the ReLU the plain stack's curve is flat, but low everywhere: with Glorot's
# initialisation each ReLU layer halves the variance of the signal on its way up and of the
# gradient on its way down, so every layer receives a tiny gradient, not only the first
# ones. (He et al., 2015 double the initial weights' variance to undo that halving;
# BatchNorm re-scales the signal at every layer. Both help a plain stack start; neither
# gives every layer a direct path to the loss.)
#
# ## Training the two ReLU stacks
#
# Both ReLU stacks, five epochs of Adam on the training digits, three seeds each.
# `reinitialize` draws fresh weights for each seed and keeps the compiled training step.

# %%
epochs, seeds = 5, (0, 1, 2)
curves, test_accuracy = {}, {}
for residual in (False, True):
    keras.utils.set_random_seed(0)
    model = deep_stack(depth, residual=residual, activation="relu")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    for seed in seeds:
        reinitialize(model, seed)
        history = model.fit(data.x_train, data.y_train, batch_size=32, epochs=epochs, verbose=0)
        curves[residual, seed] = history.history["accuracy"]
        predictions = keras.ops.convert_to_numpy(model(data.x_test)).argmax(-1)
        test_accuracy[residual, seed] = float(np.mean(predictions == data.y_test))
        print(f"{'residual' if residual else 'plain':8s} seed {seed}: training accuracy per "
              f"epoch {np.round(curves[residual, seed], 3)}, "
              f"test accuracy {test_accuracy[residual, seed]:.3f}")  # fmt: skip

fig, ax = plt.subplots(figsize=(7, 4))
for residual, color in ((False, "C0"), (True, "C1")):
    for seed in seeds:
        label = ("residual" if residual else "plain") if seed == 0 else None
        ax.plot(range(1, epochs + 1), curves[residual, seed], "o-", color=color, label=label)
ax.set_xlabel("epoch", fontsize=11)
ax.set_ylabel("training accuracy", fontsize=11)
ax.set_xticks(range(1, epochs + 1))
ax.set_ylim(0, 1)
ax.set_title(f"ReLU, {depth} blocks, Adam; one line per seed", fontsize=12)
ax.legend(fontsize=11)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Checkpoint: depth without nonlinearity
#
# Take the activations away and depth buys nothing: `(x W_1 + b_1) W_2 + b_2` is
# `x (W_1 W_2) + (b_1 W_2 + b_2)`, one affine map, however many layers there are.
# `compose_linear` multiplies a stack of linear `Dense` layers into its one matrix `W` and
# bias `b`. We train a stack of four 64-unit linear layers and a classifier (logits) on the
# flattened digits, three seeds, eight epochs, and compare it with the single linear
# classifier `x @ W + b`.

# %%
keras.utils.set_random_seed(0)
linear_stack = keras.Sequential(
    [keras.Input(data.input_shape), keras.layers.Flatten()]
    + [keras.layers.Dense(64, name=f"linear{i}") for i in range(1, 5)]
    + [keras.layers.Dense(data.num_classes, name="logits")]
)
linear_stack.compile(
    keras.optimizers.Adam(3e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True)
)
flat_test = data.x_test.reshape(len(data.x_test), -1)
deep_linear, composed_accuracy, max_difference, same = [], [], 0.0, True
for seed in seeds:
    reinitialize(linear_stack, seed)
    linear_stack.fit(data.x_train, data.y_train, batch_size=32, epochs=8, verbose=0)
    logits = keras.ops.convert_to_numpy(linear_stack(data.x_test))
    W, b = compose_linear(linear_stack)
    composed = flat_test @ W + b
    max_difference = max(max_difference, float(np.abs(composed - logits).max()))
    same = same and bool((composed.argmax(-1) == logits.argmax(-1)).all())
    deep_linear.append(float(np.mean(logits.argmax(-1) == data.y_test)))
    composed_accuracy.append(float(np.mean(composed.argmax(-1) == data.y_test)))

dense_count = sum(isinstance(layer, keras.layers.Dense) for layer in linear_stack.layers)
print(f"{dense_count} Dense layers -> one {W.shape[0]} x {W.shape[1]} matrix "
      f"and {b.shape[0]} biases")  # fmt: skip
print(f"largest |model(x) - (x @ W + b)| over the test logits: {max_difference:.2e}")
print("deep linear stack, test accuracy per seed:", np.round(deep_linear, 3))
print("x @ W + b,         test accuracy per seed:", np.round(composed_accuracy, 3))

# %% [markdown]
# ## What the numbers showed

# %%
sig_plain, sig_res = (list(norms["sigmoid", r].values()) for r in (False, True))
relu_plain, relu_res = (list(norms["relu", r].values()) for r in (False, True))
plain_test = [test_accuracy[False, s] for s in seeds]
res_test = [test_accuracy[True, s] for s in seeds]
plain_final = [curves[False, s][-1] for s in seeds]
res_final = [curves[True, s][-1] for s in seeds]
learned = [s for s in seeds if test_accuracy[True, s] > 2 / data.num_classes]
stuck = [s for s in seeds if s not in learned]
plain_learned = [s for s in seeds if test_accuracy[False, s] > 2 / data.num_classes]


def spread(values):
    low, high = f"{min(values):.0%}", f"{max(values):.0%}"
    return low if low == high else f"{low}-{high}"


display(
    Markdown(
        f"- At initialisation, the plain sigmoid stack's gradient at block 1 was "
        f"{sig_plain[1]:.0e}, against {sig_plain[depth]:.0e} at block {depth}: it vanished "
        f"by {np.log10(sig_plain[depth] / sig_plain[1]):.0f} orders of magnitude over "
        f"{depth - 1} layers. With shortcuts, blocks 1 to {depth} stayed between "
        f"{min(sig_res[1:-1]):.1e} and {max(sig_res[1:-1]):.1e}.\n"
        f"- The plain ReLU stack's gradients were flat but small, between "
        f"{min(relu_plain[1:-1]):.0e} and {max(relu_plain[1:-1]):.0e} per block; the "
        f"residual ReLU stack's between {min(relu_res[1:-1]):.0e} and "
        f"{max(relu_res[1:-1]):.0e}, about "
        f"{np.median(np.array(relu_res[1:-1]) / np.array(relu_plain[1:-1])):.0e} times more.\n"
        f"- Trained {epochs} epochs with Adam (three seeds), the plain ReLU stack ended at "
        f"{spread(plain_final)} training and {spread(plain_test)} test accuracy "
        f"({data.num_classes} classes: chance is {1 / data.num_classes:.0%}); the residual "
        f"stack, with the same layers, at {spread(res_final)} and {spread(res_test)}. "
        f"The residual stack learned (more than twice chance on the test digits) with "
        f"{len(learned)} of {len(seeds)} seeds"
        + (
            f"; with seed {', '.join(map(str, stuck))} it stayed at chance too: without "
            "normalisation, a deep stack's start still matters, which is what the BatchNorm of "
            "a real ResNet takes care of"
            if stuck
            else ""
        )
        + f"; the plain stack with {len(plain_learned)}.\n"
        f"- A stack of {dense_count} linear Dense layers is one {W.shape[0]} x {W.shape[1]} matrix "
        f"and a bias: `compose_linear` reproduced its logits within {max_difference:.0e}, "
        f"and its predictions were {'the same' if same else 'not the same'} on every test "
        f"digit. Its test accuracy ({spread(deep_linear)} over three seeds) is that of the "
        f"linear classifier `x @ W + b` ({spread(composed_accuracy)}): without "
        f"nonlinearities, depth adds nothing one matrix cannot do; with them, a deep stack "
        f"trains only when the gradient can reach every layer."
    )
)
