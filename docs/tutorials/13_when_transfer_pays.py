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
# # When transfer learning pays
#
# **The question.** A frozen pretrained backbone is said to need fewer labels than a
# network trained from scratch. How many fewer, and from how many labels per class on does
# training from scratch catch up?
#
# One comparison at one budget cannot answer that: [the transfer-learning
# tutorial](../05_transfer_learning/) measured one budget, and training from scratch won.
# This page measures the whole curve, test accuracy against the number of labelled images
# per class, for three ways to use them:
#
# 1. **frozen**: the pretrained backbone, frozen, and a new head; only the head learns;
# 2. **fine-tuned**: the same, then halfway through, the backbone is unfrozen and trained
#    on at a ten times lower learning rate;
# 3. **from scratch**: the same network from random weights, every layer trained.

# %%
# %matplotlib inline
import time

import keras
import numpy as np
from IPython.display import Markdown, display

import kcnn
from kcnn.train.label_budget import label_budget_curve, split_classes

started = time.perf_counter()
print("Keras", keras.__version__, "on", keras.backend.backend())

# %% [markdown]
# ## A fair source task
#
# No ImageNet weights are available offline, so the backbone is pretrained here, on a task
# chosen to give transfer the conditions that make ImageNet work:
#
# - **many labels**: 1,500 labelled images per source class, three times the largest
#   target budget below;
# - **the same kind of images**: 28x28 grey Fashion-MNIST photographs of garments, shoes
#   and bags on both sides, so edges, strokes and textures carry over;
# - **disjoint classes**: the source's five classes (T-shirt, trouser, pullover, dress,
#   coat) are not the target's (sandal, shirt, sneaker, bag, ankle boot), so every target
#   label is new to the pretrained network, as a new task's labels are to ImageNet.
#
# Every accuracy below is measured on all the target's test images, never seen in training.

# %%
data = kcnn.data.load_dataset("fashion_mnist", validation_split=0)
source, target = split_classes(data, source=[0, 1, 2, 3, 4], target=[5, 6, 7, 8, 9])
source = source.subset(per_class=1500)  # one epoch over these: within the page's budget
print("source:", source.class_names, len(source.x_train), "training images")
print("target:", target.class_names, len(target.x_test), "test images")

# %% [markdown]
# ## Same network, same steps, same batches
#
# The network is SimpleCNN at half width (16 and 32 filters, a dense layer of 64), to keep
# the page short. The backbone is its convolutional base, cut where the flattened feature
# map enters the dense layers, as `include_top=False` cuts an ImageNet model; the new head
# is made like SimpleCNN's own (dense, ReLU, dropout, classifier). So the three methods
# train networks with the same layers and the same number of weights.
#
# The backbone is pretrained once, for one epoch. Then every run takes the same number of
# Adam steps on the same batches: the labelled images, reshuffled at each pass. The first
# half of fine-tuning is the frozen run's first half. Each point is run with three seeds,
# which draw the labelled images, the new weights and the order of the batches: the table
# gives the mean and the standard deviation over the seeds, and the band around each line
# spans the lowest to the highest seed.

# %%
small_cnn = {"filters": (16, 32), "dense_units": 64}
curve = label_budget_curve(
    source, target,
    labels_per_class=(1, 3, 10, 50, 500),
    seeds=(0, 1, 2),
    model="simple_cnn",
    model_kwargs=small_cnn,
    pretrain_epochs=1,
    steps=80,
    batch_size=32,
    learning_rate=3e-3,
    fine_tune_lr=3e-4,
)  # fmt: skip
print(f"pretrained network: test accuracy {curve.source_accuracy:.3f} on the source classes")
print(f"every run: {curve.steps} steps of {curve.batch_size} images")
for method, (weights, trainable) in curve.parameters.items():
    print(f"{method:10s} {weights:,} weights, {trainable:,} of them trained")

# %%
display(Markdown(curve.table()))
curve.plot()

# %% [markdown]
# ## What the frozen features are worth
#
# Two controls for the frozen backbone, at one budget. The same head on the same
# convolutional base with **random** weights shows what pretraining added to the features.
# A cut at the **last hidden layer** (the dense layer of 64, keeping only a new classifier
# on top) shows what the choice of layer does: that layer was trained to tell the source's
# T-shirts from its coats, the most task-specific features of the network (Yosinski et
# al., 2014).

# %%
budget = 10
keras.utils.set_random_seed(0)
random_cnn = kcnn.build_model("simple_cnn", num_classes=5, **small_cnn)
controls = {
    "convolutional base, pretrained": curve,
    "convolutional base, random": label_budget_curve(
        source, target, labels_per_class=(budget,), methods=["frozen"], model_kwargs=small_cnn,
        steps=80, pretrained=random_cnn,
    ),
    "last hidden layer, pretrained": label_budget_curve(
        source, target, labels_per_class=(budget,), methods=["frozen"], model_kwargs=small_cnn,
        steps=80, pretrained=curve.pretrained, feature_layer="simple_cnn_dense_relu",
    ),
}  # fmt: skip
frozen_at = {}
for name, result in controls.items():
    index = result.labels_per_class.index(budget)
    frozen_at[name] = (result.mean("frozen")[index], result.std("frozen")[index])
    print(f"frozen {name:31s} {frozen_at[name][0]:.3f} ± {frozen_at[name][1]:.3f}")
print(f"from scratch {'':29s} {curve.mean('scratch')[curve.labels_per_class.index(budget)]:.3f}")

# %% [markdown]
# ## What the numbers showed

# %%
k = curve.labels_per_class
mean = {m: curve.mean(m) for m in curve.methods}
lead = np.maximum(curve.advantage("frozen"), curve.advantage("fine_tuned"))
noise = np.max([curve.std(m) for m in curve.methods], axis=0)  # the widest spread, per budget
clear = ", ".join(str(b) for b, g, n in zip(k, lead, noise) if g > 2 * n)
best = int(np.argmax(lead))
frozen_lead = curve.advantage("frozen")
catch_up = curve.crossover("frozen")
(pretrained, pretrained_sd), (random, random_sd), (late, _) = frozen_at.values()
scratch_at = mean["scratch"][k.index(budget)]


def per_class(b):
    return f"{b} labelled image{'' if b == 1 else 's'} per class"


display(Markdown(
    f"- With {per_class(k[0])}, the frozen backbone reached {mean['frozen'][0]:.3f}, "
    f"fine-tuning {mean['fine_tuned'][0]:.3f} and training from scratch "
    f"{mean['scratch'][0]:.3f}; with {k[-1]}: {mean['frozen'][-1]:.3f}, "
    f"{mean['fine_tuned'][-1]:.3f} and {mean['scratch'][-1]:.3f} (means of "
    f"{len(curve.seeds)} seeds).\n"
    f"- The better transfer method's largest lead over scratch was {lead[best]:+.3f}, with "
    f"{per_class(k[best])}, where the seeds spread by up to {noise[best]:.3f} (standard "
    "deviation). "
    + (f"Transfer led by more than twice the spread of the seeds at {clear} labelled images "
       "per class.\n" if clear else "At no budget did transfer lead by more than twice the "
       "spread of the seeds.\n")
    + (f"- The frozen backbone was ahead of scratch at every budget, by {frozen_lead.min():.3f} "
       f"to {frozen_lead.max():.3f}: the lines never crossed.\n" if catch_up is None and
       frozen_lead.min() > 0 else
       f"- From {catch_up} labelled images per class on, scratch was level with or ahead "
       "of the frozen backbone.\n" if catch_up is not None else
       "- The frozen backbone and scratch crossed more than once.\n")
    + f"- At {budget} labels per class the frozen pretrained base reached {pretrained:.3f} ± "
    f"{pretrained_sd:.3f} and the frozen random one {random:.3f} ± {random_sd:.3f}: "
    + ("pretraining improved the features by more than twice the spread of the seeds. "
       if pretrained - random > 2 * max(pretrained_sd, random_sd) else
       "even random convolutional features, with a trained head, came within twice the "
       "spread of the seeds of the pretrained ones. ")
    + f"Training from scratch reached {scratch_at:.3f}.\n"
    + f"- The cut mattered most: frozen at its last hidden layer, the same pretrained network "
    f"reached {late:.3f} at {budget} labels per class, against {pretrained:.3f} frozen at its "
    "convolutional base.\n"
    + (f"\nSo, on this data, transfer paid little: at most {max(lead[best], 0):.3f}, within the "
       "differences between seeds. Transfer pays when the features are what few labels "
       "cannot teach: deep networks, natural photographs and a source as broad as ImageNet. "
       "A small network on small grey images learns its features from a handful of "
       "examples per class, so here training from scratch was nearly as good, and it must "
       "always be measured.\n" if not clear else "")
    + f"\nThe page took {time.perf_counter() - started:.0f} s on {keras.backend.backend()}."
))  # fmt: skip
