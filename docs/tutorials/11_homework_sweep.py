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
# # The homework, executed
#
# The lesson's homework: **vary the number of filters, the kernel size and the depth of
# the CNN, and compare training with and without BatchNorm and Dropout.** What does each
# choice cost in parameters and time, and what does it buy in accuracy?
#
# `kcnn.train.sweep` does the bookkeeping: it changes one argument of the model builder at
# a time around a base setting, trains every setting with `kcnn.train.fit` once per seed,
# and collects parameters, test accuracy and training time. A difference between two
# settings means something only when it is larger than the spread between seeds of the same
# setting, so each setting is trained with several seeds.

# %%
# %matplotlib inline
import keras
from IPython.display import Markdown, display

import kcnn
from kcnn.train.sweep import sweep

print("Keras", keras.__version__, "on", keras.backend.backend())

# %% [markdown]
# ## The data and the base setting
#
# The handwritten digits: the same number of training images per class, a whole number of
# batches, and no validation split (the settings are compared on the test set, which no
# run looks at while training). The base is SimpleCNN with two blocks of 16 and 32
# filters, 3x3 kernels, BatchNorm, and dropout 0.5 before the classifier
# (`kcnn.models.simple_cnn`).

# %%
data = kcnn.data.load_dataset("digits", validation_split=0, seed=0).subset(per_class=128)
print(data)
config = kcnn.train.TrainConfig(epochs=6, batch_size=32, verbose=0, top_k=None)
base = {"filters": (16, 32), "kernel_size": 3, "batchnorm": True, "dropout": 0.5}
grid = {
    "filters": [(32, 64), (16, 32, 64)],  # twice the filters; a third block
    "kernel_size": [5],
    "batchnorm": [False],
    "dropout": [0.0],
}
SEEDS = (0, 1)

# %% [markdown]
# ## The sweep
#
# Each row changes one argument of the base; `filters` sets both the width (filters per
# block) and the depth (its length, one conv block per entry). The fit time includes
# compiling the training step, which on a set this small is most of it.

# %%
result = sweep("simple_cnn", grid, data, config, base=base, seeds=SEEDS)
display(Markdown(result.table()))

# %% [markdown]
# ## The curves
#
# Training loss per epoch, the mean over the seeds; the base (dashed) is in every panel.
# With dropout, the training loss is measured on a thinned network, a different one at each
# step, while the test set sees the full network; BatchNorm changes how fast the loss
# falls in the first epochs.

# %%
display(result.plot("loss"))

# %% [markdown]
# ## Try next
#
# - Sweep the learning rate or the number of epochs too: any `TrainConfig` field can be a
#   key of the grid (`{"learning_rate": [3e-4, 3e-3]}`).
# - `mode="product"` trains every combination of the grid instead of one change at a time
#   (with four arguments of two values each, sixteen settings per seed).
# - On Fashion-MNIST (`kcnn.data.load_dataset("fashion_mnist")`, 28x28 images) depth and
#   kernel size matter more: an 8x8 digit leaves little room for a third block or a 5x5
#   kernel.

# %%
base_row = result.row("base")
others = sorted(result.rows[1:], key=lambda row: row.accuracy - base_row.accuracy)
worst, best = others[0], others[-1]
largest = max(result.rows, key=lambda row: row.params)
smallest = min(result.rows, key=lambda row: row.params)
fastest, slowest = min(result.rows, key=lambda r: r.time), max(result.rows, key=lambda r: r.time)
low, high = base_row.spread
apart = [row for row in others if row.spread[0] > high or row.spread[1] < low]


def loss(row, epoch):
    return sum(h["loss"][epoch] for h in row.histories) / len(row.histories)


def points(row):
    return f"{(row.accuracy - base_row.accuracy) * 100:+.1f} points"


def accuracy(row):
    low, high = row.spread
    return f"{row.accuracy:.1%} ({low:.1%} to {high:.1%})"


losses = "; ".join(
    f"{row.label} {loss(row, 0):.3f} then {loss(row, -1):.3f}"
    for row in (base_row, result.row("batchnorm=False"), result.row("dropout=0.0"))
)
named = ", ".join(f"{row.label} ({points(row)})" for row in apart)
if not apart:
    verdict = "no change put all its seeds outside it: each mattered less than the seeds' luck"
elif len(apart) == len(others):
    verdict = f"every change put all its seeds outside it: {named}"
else:
    verdict = f"only {named} put all their seeds outside it; the others stayed within luck"

display(
    Markdown(f"""
**What the sweep showed** ({len(result.seeds)} seeds per setting, {config.epochs} epochs on
{len(data.x_train)} digits, test accuracy on {len(data.x_test)}; on
{keras.backend.backend()}, the numbers change with the seeds and the backend):

- The base setting reached {accuracy(base_row)} with {base_row.params:,} parameters.
- Best change: **{best.label}**, {accuracy(best)} ({points(best)} against the base);
  worst: **{worst.label}**, {accuracy(worst)} ({points(worst)}).
- The base's seeds spanned {low:.1%} to {high:.1%}; {verdict}. With {len(result.seeds)}
  seeds a setting, that is a first hint, not a proof: more seeds narrow it down.
- Parameters ran from {smallest.params:,} ({smallest.label}) to {largest.params:,}
  ({largest.label}), {largest.params / smallest.params:.1f}x; the 5x5 kernels have
  {result.row("kernel_size=5").params / base_row.params:.2f}x the base's parameters.
- Training loss after the first and the last epoch (mean over the seeds): {losses}.
- Fit time (the fastest seed's, compilation included) ran from {fastest.time:.1f} s
  ({fastest.label}) to {slowest.time:.1f} s ({slowest.label}).
""")
)
