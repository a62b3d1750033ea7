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
# # What the network sees
#
# A trained CNN is not a black box: its weights, its intermediate activations and its
# gradients can all be drawn. This tutorial trains the lesson's SimpleCNN on Fashion-MNIST
# for two short epochs and then looks at it five ways:
#
# 1. **Filters**: the kernels of the first convolution, before and after training.
# 2. **Feature maps**: what the early and the late layers compute for one image.
# 3. **Grad-CAM**: where in an image the evidence for the predicted class lies.
# 4. **The confusion matrix**: which classes the network mixes up.
# 5. **The top losses**: the test images it gets most confidently wrong.
#
# Every plot function of `kcnn.inspect` returns a matplotlib `Figure` (a notebook with
# `%matplotlib inline` shows it when it is the last line of a cell) and writes a PNG when
# given `path=`. The page runs on any Keras backend; its last cell prints how long it took.

# %%
# %matplotlib inline
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
from IPython.display import Markdown, display

import kcnn

started = time.perf_counter()
out = Path(tempfile.mkdtemp())
print("Keras", keras.__version__, "on", keras.backend.backend())
keras.utils.set_random_seed(0)
data = kcnn.data.load_dataset("fashion_mnist", validation_split=0.1, seed=0)
print(data)

# %% [markdown]
# ## The filters before training
#
# SimpleCNN's first layer, `simple_cnn_block1_conv`, has 32 filters of 3x3 weights on the
# one grayscale channel. Each cell below is one filter: red weights are positive, blue are
# negative, white is zero, on one colour scale for all of them. Freshly initialised
# (uniform in +-1/sqrt(9), PyTorch's default: see the Models page), the weights are
# independent random numbers: noise with no structure.

# %%
model = kcnn.build_model("simple_cnn")
before = keras.ops.convert_to_numpy(model.get_layer("simple_cnn_block1_conv").kernel)
kcnn.inspect.plot_filters(model, path=out / "filters_before.png")

# %% [markdown]
# ## Training, briefly
#
# Two epochs on 12,000 training images, with Adam. The tools below work the same on a
# network trained for longer.

# %%
model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
tick = time.perf_counter()
history = model.fit(
    data.x_train[:12000],
    data.y_train[:12000],
    batch_size=128,
    epochs=2,
    validation_data=(data.x_val, data.y_val),
    verbose=2,
)
seconds = time.perf_counter() - tick
test_accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)[1]
display(
    Markdown(
        f"Test accuracy after {seconds:.0f} s of training: **{test_accuracy:.1%}**. Not a good "
        "model yet, but a trained one: enough to look inside."
    )
)

# %% [markdown]
# ## The filters after training
#
# Same layer, same colour scale, after training:

# %%
kcnn.inspect.plot_filters(model, path=out / "filters_after.png")

# %% [markdown]
# They are recognisably the same filters as before. That is a finding, not a failure.
# Measure how far they moved:

# %%
after = keras.ops.convert_to_numpy(model.get_layer("simple_cnn_block1_conv").kernel)
change = np.linalg.norm(after - before) / np.linalg.norm(before)
print(f"the first-layer weights moved by {change:.0%} of their size")

# %% [markdown]
# Three reasons. A 3x3 kernel is tiny: among 32 random ones, every crude edge direction
# (a red side next to a blue side) is already there by chance, so the first layer has
# little to gain. BatchNorm right after the convolution removes the filter's scale, so only
# its pattern matters. And two epochs is short: most of the learning happened in the later
# layers, which combine these edge responses into parts of garments.
#
# ## Edge detectors from a wider first layer
#
# The famous picture, of oriented edge and stripe detectors like Gabor filters (the first
# layer of AlexNet, Krizhevsky et al. 2012), needs kernels large enough to hold a shape.
# A network with a single convolution of sixteen 7x7 filters shows it after a few seconds
# of training.
# Its weights start very small (`stddev=0.01`), so whatever structure appears is what
# training put there, not the random initialisation.

# %%
keras.utils.set_random_seed(0)
wide = keras.Sequential(
    [
        keras.Input(data.input_shape),
        keras.layers.Conv2D(
            16,
            7,
            padding="same",
            activation="relu",
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
            name="wide_conv",
        ),
        keras.layers.MaxPooling2D(4),
        keras.layers.Flatten(),
        keras.layers.Dense(data.num_classes, activation="softmax"),
    ],
    name="wide",
)
wide.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
wide.fit(data.x_train[:16000], data.y_train[:16000], batch_size=128, epochs=1, verbose=0)
kcnn.inspect.plot_filters(wide, path=out / "filters_wide.png")

# %% [markdown]
# Now the filters have structure. Look for **edges**, a red half next to a blue half: the
# filter answers a step in brightness along one direction (vertical, horizontal,
# diagonal), light-to-dark or dark-to-light. Look for **bars**, a stripe of one colour
# between two of the other: a Gabor-like detector of a thin line of one orientation, such
# as a trouser leg's edge or a strap. A filter all of one colour measures local brightness
# (a blurred copy of the image), and one that stays pale learned nothing (its ReLU never
# fired). CNNs trained on photographs find the same kinds of filters in their first layer,
# in colour.
#
# ## Feature maps: early and late
#
# A feature map is a layer's output for one image: one small image per channel. Below,
# the first row is the input; then the 16 most active channels after the first block's
# ReLU (28x28) and after the second block's (14x14). Early channels are still recognisably
# the picture, each bringing out different edges or regions. Later channels are coarser and
# more abstract: fewer pixels, each summarising a larger patch of the input (its receptive
# field), and each active on some parts of the object and silent elsewhere.

# %%
sample = data.x_test[0]
print("test image 0 is a", data.class_names[data.y_test[0]])
kcnn.inspect.plot_feature_maps(model, sample, path=out / "feature_maps.png")

# %% [markdown]
# ## Grad-CAM: where is the evidence?
#
# Grad-CAM (Selvaraju et al. 2017) asks which locations of the last convolutional feature
# map raise the score of a class. It weighs each channel of that map by the average
# gradient of the class score with respect to it, sums the weighted channels, keeps the
# positive part and scales it to the image: hot (red) where the evidence is.
#
# `kcnn.inspect.grad_cam` returns the heat map as an array, on every backend; the
# `plot_grad_cam` figure shows image, heat map and overlay for a few test images. The
# map is at the resolution of the layer it explains (here 14x14), so it is blurry by
# construction: it says *where*, not *which pixel*.

# %%
picks = [int(np.flatnonzero(data.y_test == c)[0]) for c in (9, 1, 8, 6)]
print("true classes:", [data.class_names[data.y_test[i]] for i in picks])
kcnn.inspect.plot_grad_cam(
    model, data.x_test[picks], class_names=data.class_names, path=out / "grad_cam.png"
)

# %% [markdown]
# Read the maps as "where the last conv layer found evidence for this class", not as an
# outline of the object. Hot spots can sit on the object, or on the empty background, and
# that is evidence too: for trousers, the black between and beside the legs is where every
# other garment would have cloth. Some land along the border: "same" padding fills the
# outside with zeros, so border positions look different from the inside and the network
# can use them to tell where it is. The exact spots change with the seed and the backend,
# so measure rather than guess: what share of each map's heat lies on the garment (pixels
# brighter than 0.1) and where its hottest point is.

# %%
heat = kcnn.inspect.grad_cam(model, data.x_test[picks])
rows = []
for index, image, cam in zip(picks, data.x_test[picks], heat):
    on_object = image[..., 0] > 0.1
    share = float((cam * on_object).sum() / max(float(cam.sum()), 1e-12))
    row, col = (int(v) for v in np.unravel_index(int(np.argmax(cam)), cam.shape))
    where = "garment" if on_object[row, col] else "background"
    edge = min(row, col, cam.shape[0] - 1 - row, cam.shape[1] - 1 - col) < 3
    rows.append((data.class_names[data.y_test[index]], share, where, (row, col), edge))
    print(
        f"{rows[-1][0]:12} heat on the garment {share:4.0%}, hottest point {(row, col)} "
        f"on the {where}{' (within 3 pixels of the border)' if edge else ''}"
    )
display(
    Markdown(
        "Here, "
        + "; ".join(f"the {n}'s map puts {s:.0%} of its heat on the garment" for n, s, *_ in rows)
        + f". {sum(r[2] == 'background' for r in rows)} of the {len(rows)} hottest points lie on "
        "the background."
    )
)
#
# `grad_cam(model, image, class_index=k)` explains any class `k`, not only the predicted
# one: what in this image would speak for a pullover?
#
# ## Which classes get confused?
#
# The confusion matrix counts, for every true class (row), what the network predicted
# (column). `normalize=True` shows each row as fractions, so the diagonal is each class's
# recall; the title gives the test accuracy.

# %%
kcnn.inspect.confusion_matrix_plot(model, data, normalize=True, path=out / "confusion.png")

# %% [markdown]
# Trousers, bags and footwear are mostly easy (sneakers and ankle boots get mixed up a
# little). The errors cluster in the upper-body garments: shirts are mistaken for
# T-shirts, pullovers and coats, pullovers for coats, and the other way round. At 28x28 in
# grayscale, a shirt and a pullover differ in details (buttons, a collar) that are only a
# few pixels wide.
#
# ## The most confident mistakes
#
# The loss of an image is `-log(p)`, with `p` the probability the network gave its true
# class: small when the network is right and sure, large when it is sure and wrong.
# Sorting the test set by loss (fastai's "top losses") finds the images worth looking
# at: real confusions, ambiguous pictures, and sometimes a wrong label in the data set.

# %%
worst = kcnn.inspect.top_losses(model, data, k=9)
print(worst)

# %% [markdown]
# Each image is titled *prediction / actual* and *loss / probability of the actual class*.

# %%
kcnn.inspect.plot_top_losses(model, data, k=9, path=out / "top_losses.png")
lowest = float(worst.prob_true.min())
display(
    Markdown(
        f"The smallest probability given to a true class here is `{lowest:.1e}`, that is "
        f"{np.format_float_positional(lowest, precision=2, fractional=False)}: the network was "
        "all but certain the image was something else."
    )
)

# %% [markdown]
# Look at them before blaming the network: several are hard for a person too, and some
# labels are debatable. A longer training run, augmentation (tutorial 2) or a deeper
# network mostly fix the first kind; no model fixes a wrong label.
#
# ## Try it
#
# - Train for 10 epochs on the whole training set: do the first-layer filters get cleaner,
#   and does the confusion between shirts and T-shirts shrink?
# - Build SimpleCNN with `kernel_size=5`: 5x5 filters have room for more of a Gabor shape.
# - Run Grad-CAM on a misclassified image with `class_index=` set to the true class: is the
#   evidence for it somewhere else?

# %%
print("figures written:", ", ".join(sorted(path.name for path in out.glob("*.png"))))
print(f"this page ran in {time.perf_counter() - started:.0f} s on {keras.backend.backend()}")
