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
# # Reading training curves
#
# After a run, the curves of training and validation loss and accuracy are the first thing
# to read. **What does each shape of the curves say, and what should you change?** The
# lesson's table:
#
# | pattern | what you see | what to try |
# |---|---|---|
# | overfitting | training accuracy high, validation far below | more data, dropout |
# | underfitting | both accuracies low and close together | a bigger model, train longer |
# | NaN (divergence) | loss NaN, or far above where it started | a lower learning rate |
# | late overfitting | validation loss falls for a while, then rises | early stopping |
#
# Here every row is provoked on purpose, with a real run on the 1,797 handwritten digits
# that ship with scikit-learn, and kcnn reads each curve: `kcnn.train.diagnose` runs a
# rule per pattern on the history, and the `TrainingDiagnostics` callback runs it after
# every epoch (`kcnn.train.fit` adds that callback for you and writes its report to the run
# folder). Each run is repeated with three seeds, to see whether the diagnosis holds.

# %%
import inspect

import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

import kcnn
from kcnn.train.curve_examples import PATTERNS, RECIPES, provoke
from kcnn.train.diagnose import check_overfit, report_markdown

print("Keras", keras.__version__, "on", keras.backend.backend())

# %% [markdown]
# ## Five runs, each broken in one way
#
# `provoke(pattern, seed)` trains one small model the way the recipe below says, with a
# plain `model.fit` and two kcnn callbacks: `TrainingDiagnostics`, and `TerminateOnNaN`
# set not to raise, so that a run whose loss turns NaN keeps its history. The NaN row of
# the lesson gets two runs: an absurd learning rate does not always produce a NaN.


# %%
def rate(value):
    """A learning rate as people write it: 0.003, 10, 1e6."""
    return f"{value:g}".replace("e+0", "e").replace("e+", "e")


rows = ["| pattern | what goes wrong | model | optimizer at rate | epochs x batch | images |",
        "|---|---|---|---|---|---|"]  # fmt: skip
for pattern, recipe in RECIPES.items():
    arguments = ", ".join(f"{k}={v}" for k, v in recipe.model_kwargs.items())
    config = recipe.config
    images = "all" if recipe.per_class is None else f"{recipe.per_class} per class"
    rows.append(
        f"| {pattern} | {recipe.setup} | {recipe.model}({arguments}) | "
        f"{config.get('optimizer', 'adam')} at {rate(config['learning_rate'])} | "
        f"{config['epochs']} x {config['batch_size']} | {images} |"
    )
display(Markdown("\n".join(rows)))

# %%
data = kcnn.data.load_dataset("digits", validation_split=0.2, seed=0)
print(data)
SEEDS = (0, 1, 2)
runs = {pattern: [provoke(pattern, seed, data) for seed in SEEDS] for pattern in PATTERNS}
for pattern, examples in runs.items():
    print(f"{pattern:13}", "  ".join(f"seed {e.seed}: {e.kinds}" for e in examples))

# %% [markdown]
# (Keras' `TerminateOnNaN` prints the batch where it stopped the NaN runs.)
#
# ## The curves
#
# Seed 0 in full colour, the two other seeds faint. The overfitting runs' loss is on a log
# scale: their training loss falls towards zero by orders of magnitude. The divergence panel
# shows the Adam runs; the SGD runs have no curve to draw.

# %%
TRAIN, VALIDATION = "tab:blue", "tab:orange"


def draw(axes, examples, title, log):
    for example in examples:
        alpha, width = (1.0, 1.8) if example.seed == SEEDS[0] else (0.35, 1.0)
        history = example.history
        epochs = np.arange(1, len(history["loss"]) + 1)
        for ax, metric in zip(axes, ("loss", "accuracy")):
            ax.plot(epochs, history[metric], color=TRAIN, alpha=alpha, linewidth=width)
            ax.plot(epochs, history[f"val_{metric}"], color=VALIDATION, alpha=alpha,
                    linewidth=width)  # fmt: skip
    axes[0].set_yscale("log" if log else "linear")
    axes[0].set_ylabel("loss (log scale)" if log else "loss")
    axes[1].set_ylabel("accuracy")
    axes[1].set_ylim(0, 1.02)
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_title(title, loc="left", fontsize=12)


fig = plt.figure(figsize=(13, 8.5), layout="constrained")
cells = fig.subfigures(2, 2, wspace=0.04, hspace=0.04)
panels = [  # (pattern, title, loss on a log scale)
    ("overfit", "Overfitting", True),
    ("underfit", "Underfitting", False),
    ("diverged", "Divergence", False),
    ("late_overfit", "Late overfitting", True),
]
for cell, (pattern, title, log) in zip(cells.ravel(), panels):
    axes = cell.subplots(1, 2)
    draw(axes, runs[pattern], f"{title}: kcnn says {', '.join(runs[pattern][0].kinds)}", log)
nan_epochs = sorted({e.finding.epoch for e in runs["nan"] if e.finding})
nan_rate = RECIPES["nan"].config["learning_rate"]
cells[1, 0].axes[1].text(
    0.05, 0.5, f"The SGD runs at {rate(nan_rate)}:\nloss NaN in epoch "
    f"{', '.join(map(str, nan_epochs))},\ntraining stopped",
    transform=cells[1, 0].axes[1].transAxes, color="tab:red", fontsize=10,
)  # fmt: skip
fig.legend(
    [plt.Line2D([], [], color=TRAIN), plt.Line2D([], [], color=VALIDATION)],
    ["training", "validation"], loc="outside lower center", ncols=2, fontsize=11,
)  # fmt: skip
plt.show()

# %% [markdown]
# ## What kcnn finds in each
#
# For each pattern: what kcnn saw in seed 0's run (the numbers come from its finding), the
# findings over the three seeds, and kcnn's first two pieces of advice.

# %%
table = ["| pattern | what you see (seed 0) | kcnn's diagnosis, 3 seeds | what to try |",
         "|---|---|---|---|"]  # fmt: skip
for pattern, examples in runs.items():
    kinds = sorted({kind for e in examples for kind in e.kinds}, key=lambda k: PATTERNS.index(k)
                   if k in PATTERNS else len(PATTERNS))  # fmt: skip
    counts = ", ".join(f"{k} {sum(k in e.kinds for e in examples)}/{len(examples)}" for k in kinds)
    found = examples[0].finding
    seen = found.message if found else "(missed)"
    advice = "; ".join(found.advice[:2]) if found else ""
    table.append(f"| {pattern} | {seen} | {counts} | {advice} |")
display(Markdown("\n".join(table)))

# %% [markdown]
# The run with a few images per class is both overfit and late overfit: it memorises its few
# images, and its validation loss turns up once it does. The late-overfitting run keeps
# its two accuracies close, so only the validation loss gives it away.
#
# ## The report of one run
#
# `kcnn.train.fit` writes this as `report.md` in the run folder, updated after every epoch
# (here: the late-overfitting run, seed 0).

# %%
example = runs["late_overfit"][0]
print(report_markdown(example.history, example.findings))

# %% [markdown]
# ## Try next
#
# - Add `early_stopping="default"` to the `TrainConfig` of the late-overfitting run:
#   `kcnn.train.fit` then keeps the weights of the best epoch.
# - Give the overfitting run dropout (`kcnn.build_model("mlp", dropout=0.5)`) or more
#   images per class, and watch the gap close.
# - `kcnn train --model mlp --lr 10` on the command line prints the diagnosis as it
#   appears, and writes `report.md` and `curves.png` into the run folder.

# %%
overfit, under, diverged, late = (runs[p] for p in ("overfit", "underfit", "diverged",
                                                    "late_overfit"))  # fmt: skip
final = {p: [(e.history["accuracy"][-1], e.history["val_accuracy"][-1]) for e in runs[p]]
         for p in PATTERNS}  # fmt: skip
best = [int(np.argmin(e.history["val_loss"])) + 1 for e in late]
rise = [e.history["val_loss"][-1] / min(e.history["val_loss"]) - 1 for e in late]
got = sum(e.finding is not None for examples in runs.values() for e in examples)
total = sum(len(examples) for examples in runs.values())
overfit_gap = inspect.signature(check_overfit).parameters["gap"].default
rates = {p: RECIPES[p].config["learning_rate"] for p in ("nan", "diverged")}


def span(values, fmt):
    low, high = fmt.format(min(values)), fmt.format(max(values))
    return low if low == high else f"{low} to {high}"


def gaps(pattern):
    return [train - val for train, val in final[pattern]]


under_train = span([train for train, _ in final["underfit"]], "{:.1%}")
nan_runs = sum(e.finding is not None for e in runs["nan"])
finite = sum(all(np.isfinite(e.history["loss"])) for e in diverged)
adam_nan = "no NaN" if finite == len(diverged) else f"a NaN in {len(diverged) - finite} seeds"


display(
    Markdown(f"""
**What the runs showed** ({len(SEEDS)} seeds each, on {keras.backend.backend()}; the exact
numbers change with the seed and the backend):

- kcnn's diagnosis named the provoked pattern in **{got} of {total}** runs.
- **Overfitting**: with {RECIPES["overfit"].per_class} images per class, training accuracy
  ended at {span([t for t, _ in final["overfit"]], "{:.0%}")} and validation accuracy at
  {span([v for _, v in final["overfit"]], "{:.1%}")}: a gap of
  {span(gaps("overfit"), "{:.1%}")}.
- **Underfitting**: two hidden units ended at {under_train} training accuracy, with
  validation within {max(abs(g) for g in gaps("underfit")):.1%} of it.
- **NaN**: SGD at a learning rate of {rate(rates["nan"])} made the loss NaN in epoch
  {", ".join(map(str, nan_epochs))} in {nan_runs} of {len(SEEDS)} seeds. Adam at
  {rate(rates["diverged"])} gave {adam_nan}: the loss ended at
  {span([e.history["loss"][-1] for e in diverged], "{:.1f}")} (a uniform guess over
  {data.num_classes} classes scores {np.log(data.num_classes):.2f}), with accuracy at
  {span([t for t, _ in final["diverged"]], "{:.1%}")}: the probabilities saturated
  (Keras clips them at {keras.config.epsilon():g}, so the loss stays finite).
  kcnn calls that divergence, not underfitting, and advises a lower rate, not a higher one.
- **Late overfitting**: validation loss was lowest at epoch {", ".join(map(str, best))} of
  {len(late[0].history["loss"])} (seeds {", ".join(map(str, SEEDS))}) and ended
  {span(rise, "{:.0%}")} above that minimum, while the final accuracy gap stayed at
  {span(gaps("late_overfit"), "{:.1%}")}, below the {overfit_gap:.0%} that kcnn calls
  overfitting. Early stopping would have kept the best epoch.
""")
)
