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
# # BatchNorm and Dropout at training and at inference time
#
# **What do BatchNorm and Dropout compute, and why does each behave differently while a
# model trains and when it is used?** Both layers take a `training` argument: `fit` calls
# them with `training=True`, `evaluate` and `predict` with `training=False`. This page
# writes out both modes by their equations, checks them against Keras' layers, and shows
# what goes wrong when the two modes drift apart.
#
# ## Batch normalisation, by its equations
#
# For each channel, at **training** time, over the batch (and, for the feature maps of a
# convolution, over every position too):
#
# ```
# mu_B      = mean(x)                    sigma_B^2 = mean((x - mu_B)^2)    (biased variance)
# x_hat     = (x - mu_B) / sqrt(sigma_B^2 + eps)
# y         = gamma * x_hat + beta       (gamma, beta: learned, one per channel)
# moving_mean     = momentum * moving_mean     + (1 - momentum) * mu_B
# moving_variance = momentum * moving_variance + (1 - momentum) * sigma_B^2
# ```
#
# At **inference** time the layer uses `moving_mean` and `moving_variance` instead of the
# batch's statistics, so the output of one image no longer depends on the others in its
# batch. Keras' `momentum` is the weight of the *old* average (PyTorch counts the other
# way: its `momentum=0.1` is Keras' 0.9).
#
# `kcnn.inspect.layers_by_hand` writes these in NumPy: `batch_statistics`,
# `batch_norm_by_hand` and `batch_norm_update`. We compare them with a
# `BatchNormalization` layer on a batch of convolutional features, 16 maps of 6x6 with 4
# channels, after giving the layer's `gamma`, `beta` and moving averages values far from
# their initial 1, 0, 0 and 1, so that every term matters.

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

import kcnn
from kcnn.inspect.depth import reinitialize
from kcnn.inspect.layers_by_hand import (
    batch_norm_by_hand,
    batch_norm_update,
    batch_statistics,
    batch_statistics_accuracy,
    dropout_by_hand,
    dropout_check,
    moving_statistics_gap,
    set_batch_norm_momentum,
)

print("Keras", keras.__version__, "on", keras.backend.backend())

rng = np.random.default_rng(0)
features = (rng.normal(1.5, 2.0, (16, 6, 6, 4)) * [1.0, 0.2, 5.0, 1.0]).astype("float32")

bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-3)
bn.build(features.shape)
bn.gamma.assign(np.array([1.5, 0.5, 2.0, 1.0], "float32"))
bn.beta.assign(np.array([0.0, 1.0, -1.0, 0.5], "float32"))
bn.moving_mean.assign(np.array([1.0, 0.0, 2.0, -1.0], "float32"))
bn.moving_variance.assign(np.array([4.0, 0.1, 50.0, 2.0], "float32"))
gamma, beta = keras.ops.convert_to_numpy(bn.gamma), keras.ops.convert_to_numpy(bn.beta)
old_mean = keras.ops.convert_to_numpy(bn.moving_mean)
old_variance = keras.ops.convert_to_numpy(bn.moving_variance)

# inference: the moving averages
by_hand = batch_norm_by_hand(features, gamma, beta, old_mean, old_variance, bn.epsilon)
layer_out = keras.ops.convert_to_numpy(bn(features, training=False))
bn_diffs = {"inference output": np.abs(layer_out - by_hand).max()}

# training: the batch's statistics, over 16 x 6 x 6 = 576 values per channel
mu_b, var_b = batch_statistics(features)
by_hand = batch_norm_by_hand(features, gamma, beta, mu_b, var_b, bn.epsilon)
layer_out = keras.ops.convert_to_numpy(bn(features, training=True))
bn_diffs["training output"] = np.abs(layer_out - by_hand).max()

# ... and the moving averages that training call left behind
new_mean, new_variance = batch_norm_update(old_mean, old_variance, features, bn.momentum)
bn_diffs["moving mean"] = np.abs(keras.ops.convert_to_numpy(bn.moving_mean) - new_mean).max()
bn_diffs["moving variance"] = np.abs(
    keras.ops.convert_to_numpy(bn.moving_variance) - new_variance
).max()

print("batch mean per channel:    ", np.round(mu_b, 3))
print("batch variance per channel:", np.round(var_b, 3))
print("moving variance after one step:", np.round(new_variance, 3))
for what, diff in bn_diffs.items():
    print(f"largest |layer - by hand|, {what:17s} {diff:.2e}")

# %% [markdown]
# The layer computes exactly these equations: the differences are float32 rounding. The
# variance is the *biased* one (divided by the number of values), in the normalisation and
# in the moving average alike.
#
# In training mode an image's output depends on the batch it comes in: the same image
# normalised with a different batch comes out different. At inference time it does not.

# %%
image = features[:1]
other_batch = rng.normal(0.0, 1.0, (15, 6, 6, 4)).astype("float32")
batch_a = np.concatenate([image, features[1:]])
batch_b = np.concatenate([image, other_batch])
saved = [keras.ops.convert_to_numpy(v) for v in (bn.moving_mean, bn.moving_variance)]
train_a = keras.ops.convert_to_numpy(bn(batch_a, training=True))[0]
train_b = keras.ops.convert_to_numpy(bn(batch_b, training=True))[0]
bn.moving_mean.assign(saved[0])
bn.moving_variance.assign(saved[1])
infer_a = keras.ops.convert_to_numpy(bn(batch_a, training=False))[0]
infer_b = keras.ops.convert_to_numpy(bn(batch_b, training=False))[0]
batch_effect_train = np.abs(train_a - train_b).max()
batch_effect_infer = np.abs(infer_a - infer_b).max()
print(f"one image in two batches, training mode:  outputs differ by up to {batch_effect_train:.3f}")
print(f"one image in two batches, inference mode: outputs differ by up to {batch_effect_infer:.3g}")

# %% [markdown]
# ## Dropout, by its equations
#
# With rate `p`, at training time each value is zeroed with probability `p` and the
# survivors are multiplied by `1 / (1 - p)` ("inverted dropout"), so that the expected
# output equals the input; at inference time the layer passes its input through unchanged.
# On a small input with rate 0.5, the survivors double:

# %%
small = np.arange(1, 11, dtype="float32").reshape(1, 10)
dropout = keras.layers.Dropout(0.5, seed=1)
train_out = keras.ops.convert_to_numpy(dropout(small, training=True))
mask = train_out != 0  # the input has no zeros, so the mask is where the output is not zero
print("input:              ", small[0])
print("training output:    ", train_out[0])
print("by hand, same mask: ", dropout_by_hand(small, mask, 0.5)[0])
print("inference output:   ", keras.ops.convert_to_numpy(dropout(small, training=False))[0])

# %% [markdown]
# `dropout_check` does the same on a million values, uniform in [1, 2): the fraction
# zeroed, the factor of the survivors, the mean kept, the by-hand version with the layer's
# own mask, and the inference output against the input.

# %%
checks = {rate: dropout_check(rate, size=1_000_000, seed=0) for rate in (0.2, 0.5)}
for check in checks.values():
    print(check, end="\n\n")

# %% [markdown]
# ## What a stale moving average does
#
# At inference time BatchNorm trusts its moving averages. They start at mean 0 and variance
# 1 and forget those initial values slowly: after `n` steps the initial value still weighs
# `momentum ** n`. If the activations' real variance is far from 1, a model evaluated after
# a short run divides by the wrong numbers. Two epochs of the digits in batches of 32:

# %%
data = kcnn.data.load_dataset("digits")
steps = 2 * -(-len(data.x_train) // 32)
print(f"{len(data.x_train)} training images, batch 32: {steps} steps in two epochs")
for momentum in (0.99, 0.9):
    print(f"momentum {momentum}: the initial value still weighs {momentum**steps:.2e}")

# %% [markdown]
# We train kcnn's SimpleCNN (two conv blocks with BatchNorm; no dropout, so that training
# mode differs from inference mode by BatchNorm alone) on the training digits for two
# epochs with Adam, once with momentum 0.99 and once with 0.9, from the same initial
# weights, over three seeds: Keras' default momentum, and the one kcnn's models use. For
# each model we measure the test accuracy twice: with `evaluate` (the moving averages) and
# with `batch_statistics_accuracy` (each batch of 128 test images normalised by its own
# statistics, as in training). The momentum does not
# change the training itself, only the averages kept beside it. The model with momentum
# 0.99 is then trained six more epochs, to see whether more steps catch up.
# `reinitialize` gives the compiled model fresh weights for each seed, so each momentum is
# compiled once.

# %%
seeds = (0, 1, 2)
results = {}
for momentum in (0.99, 0.9):
    keras.utils.set_random_seed(0)
    model = kcnn.build_model("simple_cnn", input_shape=data.input_shape, dropout=0.0)
    set_batch_norm_momentum(model, momentum)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    for seed in seeds:
        reinitialize(model, seed)
        model.fit(data.x_train, data.y_train, batch_size=32, epochs=2, verbose=0)
        row = {
            "inference": model.evaluate(data.x_test, data.y_test, verbose=0)[1],
            "batch statistics": batch_statistics_accuracy(model, data.x_test, data.y_test),
            "gap": moving_statistics_gap(model, data.x_train[:512])["simple_cnn_block1_bn"],
        }
        if momentum == 0.99:
            model.fit(data.x_train, data.y_train, batch_size=32, epochs=6, verbose=0)
            row["inference, 8 epochs"] = model.evaluate(data.x_test, data.y_test, verbose=0)[1]
        results[momentum, seed] = row

print(f"{'seed':>4s} {'momentum':>8s} {'evaluate()':>10s} {'batch stats':>11s} "
      f"{'moving var / var':>16s} {'evaluate() after 8 epochs':>26s}")  # fmt: skip
for (momentum, seed), row in sorted(results.items(), key=lambda item: item[0][1]):
    later = f"{row['inference, 8 epochs']:26.3f}" if "inference, 8 epochs" in row else ""
    print(f"{seed:4d} {momentum:8.2f} {row['inference']:10.3f} {row['batch statistics']:11.3f} "
          f"{row['gap'].variance_ratio:16.1f} {later}")  # fmt: skip


# %% [markdown]
# The column "moving var / var" is `moving_statistics_gap`: the first BatchNorm layer's
# moving variance divided by the variance its input really has on 512 training images (the
# median over channels). The figure puts the accuracies side by side.


# %%
def column(momentum, key):
    return [results[momentum, seed][key] for seed in seeds]


bars = {
    "momentum 0.99, evaluate()": column(0.99, "inference"),
    "momentum 0.99, 8 epochs, evaluate()": column(0.99, "inference, 8 epochs"),
    "momentum 0.9, evaluate()": column(0.9, "inference"),
    "batch statistics, either momentum": column(0.9, "batch statistics"),
}
fig, ax = plt.subplots(figsize=(9, 4))
for i, values in enumerate(bars.values()):
    ax.bar(i, np.mean(values), color=f"C{i}", alpha=0.6)
    ax.scatter([i] * len(values), values, color="black", zorder=3, s=18)
ax.set_xticks(range(len(bars)), [label.replace(", ", ",\n", 1) for label in bars], fontsize=10)
ax.set_ylabel(f"test accuracy ({len(data.x_test)} digits)", fontsize=11)
ax.set_ylim(0, 1.02)
ax.set_title(
    f"SimpleCNN on the digits, 2 epochs ({steps} steps) unless marked: "
    f"bars are means, dots the {len(seeds)} seeds",
    fontsize=11,
)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What the numbers showed

# %%
same_weights = all(
    results[0.99, s]["batch statistics"] == results[0.9, s]["batch statistics"] for s in seeds
)
stale = column(0.99, "inference")
fresh = column(0.9, "inference")
batch = column(0.9, "batch statistics")
later = column(0.99, "inference, 8 epochs")
ratios = [results[0.99, s]["gap"].variance_ratio for s in seeds]
fresh_ratios = [results[0.9, s]["gap"].variance_ratio for s in seeds]
rate_line = "; ".join(
    f"rate {rate}: {c.fraction_dropped:.4f} zeroed, survivors times {c.survivor_scale[0]:.4f}, "
    f"mean {c.input_mean:.4f} in and {c.output_mean:.4f} out"
    for rate, c in checks.items()
)
display(
    Markdown(
        f"- `BatchNormalization` computes the lesson's equations: by hand and layer differ by "
        f"at most {max(bn_diffs.values()):.1e} (training and inference outputs, moving mean "
        f"and variance updated with the biased batch variance).\n"
        f"- In training mode one image's output changed by up to {batch_effect_train:.2f} "
        f"when the rest of its batch changed; in inference mode by {batch_effect_infer:.1g}.\n"
        f"- `Dropout` zeroes a fraction close to `p` and scales the survivors by "
        f"`1 / (1 - p)`, keeping the mean ({rate_line}). With the layer's own mask the "
        f"by-hand output is the same (largest difference "
        f"{max(c.by_hand_difference for c in checks.values()):.1g}); at inference time the "
        f"output equals the input exactly (largest difference "
        f"{max(c.inference_difference for c in checks.values()):.1g}).\n"
        f"- After {steps} steps with Keras' default momentum 0.99, `evaluate()` gave "
        f"{min(stale):.0%}-{max(stale):.0%} test accuracy over three seeds, while the same "
        f"weights with batch statistics gave {min(batch):.0%}-{max(batch):.0%}. "
        f"The first layer's moving variance was {min(ratios):.0f}-{max(ratios):.0f} times "
        f"the real variance of its input: the average still remembered its initial value "
        f"of 1 (weight {0.99**steps:.0%} after {steps} steps).\n"
        f"- With momentum 0.9 the same training gave {min(fresh):.0%}-{max(fresh):.0%} "
        f"with `evaluate()` (moving variance {min(fresh_ratios):.2f}-{max(fresh_ratios):.2f} "
        f"times the real one). The batch-statistics accuracies of the two momenta were "
        f"{'identical' if same_weights else 'not identical'}: the momentum changed only the "
        f"averages, not the weights.\n"
        f"- Six more epochs with momentum 0.99 ({4 * steps} steps in all) brought `evaluate()` to "
        f"{min(later):.0%}-{max(later):.0%}: more steps help, slowly. A short run wants a "
        f"lower momentum, which is why kcnn's models use 0.9."
    )
)
