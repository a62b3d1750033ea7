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
# # When the receptive field is too small, and when sharing does not fit
#
# Two questions about the assumptions built into a convolutional network:
#
# 1. **What if the answer depends on pixels further apart than any unit can see?** A
#    unit's receptive field (tutorial 03) is the window of input pixels it depends on.
#    Global pooling at the end does not widen it: it only collects what each unit found on
#    its own.
# 2. **Why does weight sharing fit photos but not a table's columns?** A convolution
#    applies the same small kernel to every neighbourhood. That is right when neighbouring
#    pixels belong together and a pattern means the same thing wherever it appears; the
#    columns of a table have no neighbours, their order is arbitrary.
#
# Both answers below are measured on this page: a task built so that we know which fields
# can solve it, and Fashion-MNIST photos with their pixels shuffled.

# %%
import keras
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

import kcnn
from kcnn.data.synthetic import far_context_task, pixel_permutation, shuffle_pixels
from kcnn.inspect.receptive_field import receptive_field

print("Keras", keras.__version__, "on", keras.backend.backend())
layers = keras.layers
SEEDS = (0, 1, 2)

# %% [markdown]
# ## A task that needs a wide view
#
# `far_context_task` draws black 24x24 images with two white dots, the right one 8 to 13
# pixels to the right of the left one. The label says whether the two dots lie on the
# **same row** (1) or on different rows (0); half the images are of each kind. To tell, a
# unit must see both dots at once: its field must be at least 9 pixels wide for the
# closest pairs and 14 for the farthest. The dots keep 5 pixels away from every border, so
# that the border gives no hint about a dot's row (`far_context_task`'s docstring says why).

# %%
x_train, y_train = far_context_task(800, seed=10)
x_test, y_test = far_context_task(1000, seed=11)
distance = (8, 13)
print("train", x_train.shape, "share of 'same row':", y_train.mean())
print("test ", x_test.shape, "share of 'same row':", y_test.mean())

fig, axes = plt.subplots(1, 6, figsize=(12, 2.6))
for ax, image, label in zip(axes, x_test, y_test):
    ax.imshow(image[:, :, 0], cmap="gray", vmin=0, vmax=1)
    ax.set_title("same row" if label else "different rows", fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %% [markdown]
# ## Three networks: as many weights, different fields
#
# Each network has three 3x3 convolutions of 8 channels, then global max pooling ("did any
# unit find it?") and a small dense head, so they have the same number of weights. They
# differ only in how far the convolutions reach:
#
# - **plain**: three stride-1 convolutions, field 3 + 2 + 2 = 7 pixels;
# - **pooled**: a 2x2 max pooling between the convolutions doubles the jump each time;
# - **dilated**: dilation rates 1, 2 and 4 spread each kernel's taps apart without pooling.
#
# `receptive_field` computes the field of the last convolution, the widest view any single
# unit has before the global pooling.


# %%
def three_convs(name: str, dilations=(1, 1, 1), pool: bool = False) -> keras.Model:
    """Three 3x3 convolutions, global max pooling, a dense head with two outputs."""
    inputs = keras.Input((24, 24, 1))
    x = inputs
    for i, rate in enumerate(dilations, start=1):
        if pool and i > 1:
            x = layers.MaxPooling2D(2, name=f"{name}_pool{i - 1}")(x)
        x = layers.Conv2D(
            8, 3, padding="same", dilation_rate=rate, activation="relu", name=f"{name}_conv{i}"
        )(x)
    x = layers.GlobalMaxPooling2D(name=f"{name}_global_max")(x)
    x = layers.Dense(16, activation="relu", name=f"{name}_dense")(x)
    outputs = layers.Dense(2, activation="softmax", name=f"{name}_predictions")(x)
    return keras.Model(inputs, outputs, name=name)


builders = {
    "plain": lambda: three_convs("plain"),
    "pooled": lambda: three_convs("pooled", pool=True),
    "dilated": lambda: three_convs("dilated", dilations=(1, 2, 4)),
}
models = {name: build() for name, build in builders.items()}
fields = {}
for name, model in models.items():
    table = receptive_field(model)
    fields[name] = table[f"{name}_conv3"].field[1]
    print(table.to_text(spatial_only=True), "\n")
needed = (distance[0] + 1, distance[1] + 1)
print(f"field width needed: {needed[0]} (closest dots) to {needed[1]} (farthest)")
print({name: model.count_params() for name, model in models.items()})

# %% [markdown]
# ## Why the plain network cannot learn it, whatever its weights
#
# No unit of the plain network sees both dots. Global max pooling then reports, per
# channel, the strongest response anywhere, and a lone dot gives the same responses on
# every row. Move every right dot to another row (a cyclic shift by 4 rows within the band
# where dots lie) and compare the pooled features of the networks, still at their random
# initial weights:

# %%
moved = x_test.copy()
band, right_half = slice(5, 19), slice(12, None)  # rows of the dots; columns of right dots
moved[:, band, right_half] = np.roll(x_test[:, band, right_half], 4, axis=1)


def pooled_features(model: keras.Model, x: np.ndarray) -> np.ndarray:
    features = keras.Model(model.input, model.get_layer(f"{model.name}_global_max").output)
    return keras.ops.convert_to_numpy(features(x))


change = {
    name: float(np.abs(pooled_features(m, moved) - pooled_features(m, x_test)).max())
    for name, m in models.items()
}
for name, value in change.items():
    print(f"{name:8s} largest change of a pooled feature: {value:.3g}")

# %% [markdown]
# The plain network's features do not change at all: for it, a same-row image and a
# different-row image with the same dots are the same input. No training can separate
# them. The two wider networks see the move.
#
# ## Training
#
# Each network trains for 6 epochs on 800 images, from 3 random starts. Compiling a model
# costs more than one of these short runs, so each model is compiled once and, for every
# seed, restarted from fresh random weights and a fresh optimizer state.


# %%
def restart(model: keras.Model, build, seed: int, learning_rate: float) -> None:
    """New random weights (drawn with `seed`) and a new optimizer state, same compiled model."""
    keras.utils.set_random_seed(seed)
    model.set_weights(build().get_weights())
    for variable in model.optimizer.variables:  # the step count and Adam's moments
        variable.assign(np.zeros(variable.shape, variable.dtype))
    model.optimizer.learning_rate = learning_rate


def accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    probabilities = keras.ops.convert_to_numpy(model(x, training=False))
    return float(np.mean(probabilities.argmax(-1) == y))


context = {name: [] for name in models}
for name, model in models.items():
    model.compile(keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    for seed in SEEDS:
        restart(model, builders[name], seed, 3e-3)
        model.fit(x_train, y_train, batch_size=32, epochs=6, verbose=0)
        context[name].append(accuracy(model, x_test, y_test))

print(f"test accuracy on {len(y_test)} images, seeds {SEEDS}; guessing scores 0.5")
print(f"{'network':8s} {'field':>5s}   accuracy per seed")
for name, scores in context.items():
    print(f"{name:8s} {fields[name]:5d}   " + "  ".join(f"{s:.3f}" for s in scores))

# %% [markdown]
# ## Shuffled pixels: an MLP does not notice, a CNN does
#
# `shuffle_pixels` moves every pixel to a new place, by one fixed permutation for all
# images: the values stay, the neighbourhoods go. It is what a table's columns look like
# to a model: the order is a convention, and "neighbouring" columns need not be related.

# %%
data = kcnn.data.load_dataset("fashion_mnist", validation_split=0).subset(per_class=200)
x_photos, y_photos = np.asarray(data.x_train), data.y_train
x_eval, y_eval = np.asarray(data.x_test[:1000]), data.y_test[:1000]
x_photos_shuffled = shuffle_pixels(x_photos, seed=0)
x_eval_shuffled = shuffle_pixels(x_eval, seed=0)
print(f"{len(x_photos)} training and {len(x_eval)} test images of {data.input_shape}")

fig, axes = plt.subplots(2, 5, figsize=(11, 4.8))
for column in range(5):
    for row, images in enumerate((x_eval, x_eval_shuffled)):
        axes[row, column].imshow(images[column, :, :, 0], cmap="gray_r")
        axes[row, column].axis("off")
    axes[0, column].set_title(data.class_names[y_eval[column]], fontsize=11)
axes[1, 0].set_title("shuffled", fontsize=11, loc="left")
plt.show()

# %% [markdown]
# The two networks:
#
# - an **MLP**: flatten, 128 ReLU units, 10 outputs. It has no notion of neighbours: every
#   pixel has its own weights.
# - a **CNN** that is convolutional all the way, like a ResNet: three 3x3 convolutions (8,
#   8 and 32 channels) with 2x2 max pooling between them, global average pooling, 10
#   outputs. Every weight is shared over all positions.


# %%
def mlp() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Flatten(name="flatten"),
            layers.Dense(128, activation="relu", name="dense"),
            layers.Dense(10, activation="softmax", name="predictions"),
        ],
        name="mlp",
    )


def cnn() -> keras.Model:
    conv = dict(kernel_size=3, padding="same", activation="relu")
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            layers.Conv2D(8, name="conv1", **conv),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(8, name="conv2", **conv),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Conv2D(32, name="conv3", **conv),
            layers.GlobalAveragePooling2D(name="global_average"),
            layers.Dense(10, activation="softmax", name="predictions"),
        ],
        name="cnn",
    )


photo_models = {"MLP": (mlp(), mlp, 2e-3), "CNN": (cnn(), cnn, 1e-2)}
for name, (model, _, rate) in photo_models.items():
    model.compile(keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy")
    print(f"{name}: {model.count_params():,} weights")
cnn_field = receptive_field(photo_models["CNN"][0])["conv3"].field
print("field of the CNN's last convolution:", cnn_field, "of a 28x28 image")

# %% [markdown]
# ## For the MLP, shuffling is a relabelling of its inputs
#
# The MLP's first layer multiplies the flattened image by a kernel, one row per pixel. Put
# the rows in the shuffled order (`pixel_permutation(..., flat=True)`) and the network
# computes on shuffled images exactly what it computed on the originals. Train it once,
# rewire it, compare:

# %%
perm = pixel_permutation((28, 28, 1), seed=0, flat=True)
model, build, rate = photo_models["MLP"]
restart(model, build, 0, rate)
model.fit(x_photos, y_photos, batch_size=50, epochs=6, verbose=0)
before = keras.ops.convert_to_numpy(model(x_eval, training=False))
kernel, *rest = model.get_weights()
rewired = keras.models.clone_model(model)
rewired.set_weights([kernel[perm], *rest])
after = keras.ops.convert_to_numpy(rewired(x_eval_shuffled, training=False))
rewired_gap = float(np.abs(after - before).max())
same_answers = float(np.mean(after.argmax(-1) == before.argmax(-1)))
print(f"largest difference of a predicted probability: {rewired_gap:.2g}")
print(f"same predicted class: {same_answers:.1%} of {len(x_eval)} test images")

# %% [markdown]
# So for the MLP, training on shuffled images from the rewired start is training on the
# photos again: its initial weights are just as random (the rows of a random kernel in
# another order), and each step is the same step. A convolution has no such rewiring: its
# 3x3 kernel is the same at every position, so it cannot follow each pixel to its new
# place. Below, each network trains 6 epochs on the training photos and on their shuffled
# version, from the same 3 random starts (for the MLP on shuffled images, the start with
# its first kernel rewired).

# %%
results = {name: {"photos": [], "shuffled": []} for name in photo_models}
for name, (model, build, rate) in photo_models.items():
    for seed in SEEDS:
        for version, x, x_check in (
            ("photos", x_photos, x_eval),
            ("shuffled", x_photos_shuffled, x_eval_shuffled),
        ):
            restart(model, build, seed, rate)
            if name == "MLP" and version == "shuffled":
                kernel, *rest = model.get_weights()
                model.set_weights([kernel[perm], *rest])
            model.fit(x, y_photos, batch_size=50, epochs=6, verbose=0)
            results[name][version].append(accuracy(model, x_check, y_eval))

print(f"test accuracy on {len(y_eval)} images, seeds {SEEDS}")
print(f"{'network':8s} {'weights':>8s}   {'photos':19s}   shuffled pixels")
for name, scores in results.items():
    row = "   ".join(" ".join(f"{s:.3f}" for s in scores[v]) for v in ("photos", "shuffled"))
    print(f"{name:8s} {photo_models[name][0].count_params():8,d}   {row}")

# %% [markdown]
# ## What the numbers showed


# %%
def spread(scores) -> str:
    return f"{np.mean(scores):.2f} (seeds: {min(scores):.2f} to {max(scores):.2f})"


mlp_weights = photo_models["MLP"][0].count_params()
cnn_weights = photo_models["CNN"][0].count_params()
mlp_gap = max(abs(a - b) for a, b in zip(results["MLP"]["photos"], results["MLP"]["shuffled"]))
cnn_photos, cnn_shuffled = np.mean(results["CNN"]["photos"]), np.mean(results["CNN"]["shuffled"])
versus_mlp = "above" if cnn_photos > np.mean(results["MLP"]["photos"]) else "below"
display(
    Markdown(
        "**A receptive field too small for the task.** The same-row task needs a field "
        f"{needed[0]} to {needed[1]} pixels wide. The plain network's last convolution sees "
        f"{fields['plain']} pixels: its pooled features changed by {change['plain']:.1g} "
        "when every right dot moved to another row, and after training it scored "
        f"{spread(context['plain'])} on {len(y_test):,} test images; guessing scores 0.50. "
        f"With the same {models['plain'].count_params():,} weights, the pooled network "
        f"(field {fields['pooled']}) scored {spread(context['pooled'])} and the dilated one "
        f"(field {fields['dilated']}) {spread(context['dilated'])}. Depth, pooling and "
        "dilation count here through the field they give the last convolution: global "
        "pooling at the end cannot make up for units that never see both dots.\n\n"
        "**Sharing fits photos, not an arbitrary order.** Rewired to follow the pixels, the "
        "trained MLP gave the same probabilities on shuffled images as on the photos "
        f"(largest difference {rewired_gap:.1g}), and trained on shuffled images from the "
        f"rewired start it scored {spread(results['MLP']['shuffled'])}, against "
        f"{spread(results['MLP']['photos'])} on the photos (largest difference between "
        f"paired runs: {mlp_gap:.3f}). The CNN, with {cnn_weights:,} shared weights to the "
        f"MLP's {mlp_weights:,}, scored {spread(results['CNN']['photos'])} on the photos "
        f"({versus_mlp} the MLP after this short training) and "
        f"{spread(results['CNN']['shuffled'])} on the shuffled pixels: "
        f"{cnn_photos - cnn_shuffled:.2f} lower. Its kernels assume that neighbouring "
        "pixels belong together and that a pattern means the same wherever it appears; "
        "after the shuffle a 3x3 window holds nine pixels from all over the image, a "
        "different nine at every position. A table's columns are like shuffled pixels: "
        "their order is a convention, so a dense layer, which gives every input its own "
        "weights, is the fitting tool there."
    )
)
