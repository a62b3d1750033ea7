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
# # Transfer learning with a frozen backbone
#
# A network trained on a large data set has learnt features (edges, textures, parts) that
# serve other tasks too. Transfer learning keeps those features, the *backbone*, frozen and
# trains only a new *head* on the new task, which needs far fewer labelled images than
# training from scratch. Optionally, a second phase then *fine-tunes* the top of the
# backbone at a low learning rate.
#
# With internet access the backbone is an ImageNet model from `keras.applications`:
#
# ```python
# model = kcnn.build_model("transfer", backbone="mobilenet_v2", weights="imagenet",
#                          num_classes=10, input_shape=(32, 32, 3), image_size=(96, 96))
# ```
#
# This page runs offline, so it makes its own pretrained backbone: a SimpleCNN that learns
# five Fashion-MNIST classes, reused for the other five.

# %%
import tempfile
from pathlib import Path

import keras
import numpy as np

import kcnn

work = Path(tempfile.mkdtemp())  # a scratch folder for the files this page writes
print("Keras", keras.__version__, "on", keras.backend.backend())
data = kcnn.data.load_dataset("fashion_mnist", validation_split=0)
source = data.subset(classes=[0, 1, 2, 3, 4])  # T-shirt, trouser, pullover, dress, coat
task = data.subset(classes=[5, 6, 7, 8, 9], per_class=50)  # sandal ... ankle boot
print(source.class_names, len(source.x_train), "training images")
print(task.class_names, len(task.x_train), "training images,", len(task.x_test), "test images")

# %% [markdown]
# ## Phase 0: a backbone that knows clothes
#
# SimpleCNN trains on 8,000 images of the first five classes for two epochs. Its saved
# `.keras` file plays the role of the ImageNet weights.

# %%
keras.utils.set_random_seed(0)
pretrain = source.subset(per_class=1600)
base = kcnn.build_model("simple_cnn", num_classes=5)
config = kcnn.train.TrainConfig(epochs=2, batch_size=128, learning_rate=3e-3, verbose=0)
kcnn.train.fit(base, pretrain, config, run_dir=None)
base.save(work / "pretrained_simple_cnn.keras")
print("test accuracy on its own five classes:",
      round(base.evaluate(source.x_test, source.y_test, verbose=0)[1], 3))  # fmt: skip

# %% [markdown]
# ## Phase 1: freeze the backbone, train a linear head
#
# `build_transfer` cuts the saved model at its last feature map, freezes it, and adds global
# average pooling, dropout and a dense `predictions` layer. Only the head's weights train:

# %%
keras.utils.set_random_seed(1)
model = kcnn.build_model("transfer", backbone=work / "pretrained_simple_cnn.keras",
                         weights=None, num_classes=5, input_shape=(28, 28, 1))  # fmt: skip
for layer in model.layers:
    print(f"{layer.name:32s} trainable={layer.trainable}")
print(kcnn.inspect.count_params(model))

# %% [markdown]
# **Frozen means frozen.** `trainable=False` stops gradient updates, but a BatchNorm layer
# called in *training* mode would still normalise each batch with that batch's statistics
# and update its moving averages: the features under the head would drift. kcnn calls the
# backbone with `training=False`, so BatchNorm keeps its pretrained statistics. The check:
# after training, every backbone weight, BN statistics included, is bit-identical.

# %%
backbone = kcnn.models.backbone_of(model)
before = [keras.ops.convert_to_numpy(w).copy() for w in backbone.weights]
head = kcnn.train.TrainConfig(epochs=40, batch_size=50, learning_rate=1e-2, verbose=0)
kcnn.train.fit(model, task, head, run_dir=None)
after = [keras.ops.convert_to_numpy(w) for w in backbone.weights]
print("backbone unchanged:", all(np.array_equal(a, b) for a, b in zip(before, after)))
frozen = model.evaluate(task.x_test, task.y_test, verbose=0)[1]

# %% [markdown]
# The control: the same head on the same architecture with *random* frozen weights.

# %%
keras.utils.set_random_seed(1)
random_model = kcnn.build_model("transfer", backbone=kcnn.build_model("simple_cnn"),
                                weights=None, num_classes=5)  # fmt: skip
kcnn.train.fit(random_model, task, head, run_dir=None)
control = random_model.evaluate(task.x_test, task.y_test, verbose=0)[1]
print(f"pretrained frozen backbone: {frozen:.3f}   random frozen backbone: {control:.3f}")

# %% [markdown]
# ## Phase 2: fine-tune
#
# `fine_tune` unfreezes the top of the backbone (here all of it; BatchNorm stays frozen and
# in inference mode) and trains on at a learning rate ten times lower than the head's, so
# the pretrained features adapt instead of being overwritten by large, noisy updates from
# 250 images.

# %%
kcnn.train.fine_tune(model, task, unfreeze="all", lr=1e-3, epochs=10,
                     config=kcnn.train.TrainConfig(batch_size=50, verbose=0),
                     run_dir=None)  # fmt: skip
tuned = model.evaluate(task.x_test, task.y_test, verbose=0)[1]
print(f"frozen {frozen:.3f} -> fine-tuned {tuned:.3f}")

# %% [markdown]
# ## The honest baseline: from scratch
#
# Transfer is worth it only if it beats training the same network on the same 250 images
# from random weights:

# %%
keras.utils.set_random_seed(1)
scratch = kcnn.build_model("simple_cnn", num_classes=5)
kcnn.train.fit(scratch, task, kcnn.train.TrainConfig(epochs=40, batch_size=50, verbose=0),
               run_dir=None)  # fmt: skip
print(f"from scratch {scratch.evaluate(task.x_test, task.y_test, verbose=0)[1]:.3f}")

# %% [markdown]
# Here scratch wins. Five clothing classes are too narrow a source: features pooled over
# T-shirts and coats say little about sandals, sneakers and bags, which are easy to tell
# apart anyway. The pretrained features do beat random ones, so they carry something, but
# not enough. Transfer pays when the source is large and general, as ImageNet's 1.2
# million images of 1,000 classes are, and the labelled target set is small. The recipe
# `recipes/transfer_learning.py` measures the same three numbers with 500 images per class.
# [When transfer learning pays](../13_when_transfer_pays/) measures all three from 1 to 500
# labelled images per class, with three seeds each, and shows what the choice of layer does.

# %% [markdown]
# ## Small images and ImageNet backbones
#
# ImageNet backbones take RGB images of a minimum size (32x32 for most, 71 for Xception, 75
# for the Inceptions). kcnn repeats a grey channel to RGB and resizes inside the model, and
# says what to do when an image is too small:

# %%
try:
    kcnn.build_model("transfer", backbone="mobilenet_v2", weights=None, input_shape=(28, 28, 1))
except ValueError as error:
    print(error)
small = kcnn.build_model("transfer", backbone="mobilenet_v2", weights=None,
                         input_shape=(28, 28, 1), image_size=(96, 96),
                         backbone_kwargs={"alpha": 0.35})  # fmt: skip
print([layer.name for layer in small.layers])

# %% [markdown]
# The preprocessing each backbone expects (`[-1, 1]` for MobileNet, the ImageNet mean in
# BGR for ResNet-50, ...) is a layer in the model too, so the model takes kcnn's usual
# `[0, 1]` images and reloads with `safe_mode=True`.
#
# Without internet, `weights="imagenet"` fails with the URL of the file to fetch and the
# folder to put it in (`~/.keras/models/`); a downloaded file also loads from anywhere with
# `weights="/path/to/file.h5"`, and `sha256=` checks it first.
