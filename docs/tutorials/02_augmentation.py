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
# # Augmentation that keeps labels
#
# Augmentation shows the model transformed copies of its training images, so that it learns
# what does not matter: a shirt shifted by three pixels is still a shirt. Each transform
# teaches one invariance, and is only right where the labels survive it. A mirrored
# sneaker is still a sneaker; a mirrored 2 is not a 2, and an upside-down 6 is a 9.
#
# kcnn builds policies from Keras' own augmentation layers, composed with
# `keras.layers.Pipeline`, and every data set carries the rules its labels impose.

# %%
# %matplotlib inline
import keras

import kcnn

print("Keras", keras.__version__, "on", keras.backend.backend())
fashion = kcnn.data.load_dataset("fashion_mnist")
digits = kcnn.data.load_dataset("digits", image_size=(28, 28))
print(fashion)
print(digits)

# %% [markdown]
# ## The rules each data set carries

# %%
for data in (digits, fashion):
    print(data.name)
    for transform, reason in data.label_rules.items():
        print(f"  no {transform}: {reason}")

# %% [markdown]
# ## The policies
#
# | policy | transforms | invariance it teaches |
# |---|---|---|
# | `none` | | |
# | `crop` | pad 4, random crop back (`RandomPadCrop`) | small shifts |
# | `flip_crop` | crop + horizontal flip | shifts and left-right mirroring (the CIFAR standard) |
# | `color` | `RandomColorJitter` | lighting and colour casts |
# | `cutout` | `RandomErasing` of a quarter of the image | occlusion: use the whole object |
# | `mixup` | `MixUp` | behaving linearly between classes; soft labels |
# | `cutmix` | `CutMix` | a patch of one class in another; soft labels |
# | `randaugment` | `RandAugment`, 2 random ops | a broad mix of geometric and photometric changes |
#
# Custom lists combine transforms, and Keras layers: `["crop", "horizontal_flip", "cutout"]`,
# or `["resized_crop", "horizontal_flip"]` for ImageNet-style `RandomResizedCrop`.
#
# `kcnn.inspect.augmentation_gallery` shows the originals in the top row and three
# augmented versions below.

# %%
kcnn.inspect.augmentation_gallery(fashion, "flip_crop")

# %% [markdown]
# Every image moves by whole pixels, each by its own offset (Keras' `RandomCrop` would move
# a whole batch to one place), and about half are mirrored.
#
# MixUp and CutMix also mix the labels: the captions show the two largest weights of each
# soft label. The pipeline turns integer labels into one-hot vectors for these policies,
# and the loss must be categorical cross-entropy.

# %%
kcnn.inspect.augmentation_gallery(fashion, "cutmix")

# %% [markdown]
# ## Asking for a transform that breaks labels
#
# Flips on digits are refused with the reason; `allow=` overrides a rule on purpose.

# %%
try:
    kcnn.data.augmentation("flip_crop", digits)
except ValueError as error:
    print("ValueError:", error)

print(kcnn.data.augmentation("crop", digits).layers)
print(kcnn.data.augmentation("flip_crop", digits, allow=("horizontal_flip",)).layers)

# %% [markdown]
# Colour jitter on grayscale images is refused too: there is no hue or saturation to change.

# %%
try:
    kcnn.data.augmentation("color", fashion)
except ValueError as error:
    print("ValueError:", error)

# %% [markdown]
# ## Feeding model.fit
#
# `kcnn.data.make_pipeline` batches, shuffles with a seed, augments the training batches,
# and normalises with per-channel statistics of the training split only. With TensorFlow
# installed it is a `tf.data` pipeline; without it, the same layers run on each batch with
# the backend's own ops. The repr says which.

# %%
train = kcnn.data.make_pipeline(
    fashion.x_train[:6000],
    fashion.y_train[:6000],
    128,
    "flip_crop",
    dataset=fashion,
    normalize=True,
    seed=0,
)
val = kcnn.data.make_pipeline(
    fashion.x_val, fashion.y_val, 512, shuffle=False, normalize=(train.mean, train.std)
)
print(train)
print("mean", train.mean.ravel(), "std", train.std.ravel())

keras.utils.set_random_seed(0)
model = kcnn.build_model("simple_cnn")
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(train, validation_data=val, epochs=2, verbose=2)
