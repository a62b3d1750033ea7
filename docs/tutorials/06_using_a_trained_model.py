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
# # Using a trained model
#
# Training ends with a run folder. This page uses it: it classifies image files from Python
# and from the command line, scores the model on a split with a per-class table, and exports
# it to ONNX for a program that has neither Keras nor kcnn, checking that the exported file
# answers as the model does.
#
# It runs on any Keras backend (`KERAS_BACKEND=tensorflow`, `jax` or `torch`).

# %%
# %matplotlib inline
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import numpy as np
import onnxruntime  # for the exported file at the end (pip install "kcnn[export]")
from PIL import Image

import kcnn

print("Keras", keras.__version__, "on", keras.backend.backend())
keras.utils.set_random_seed(0)
os.chdir(tempfile.mkdtemp(prefix="kcnn-tutorial-"))  # a scratch folder for what it writes

# %% [markdown]
# ## A model to use
#
# SimpleCNN on scikit-learn's digits, ten epochs (a few seconds). `fit` writes the run
# folder; its `model.keras` carries the *inference contract*: the class names, the input
# shape, the pixel range the model was trained on, and the data set's label rules.

# %%
data = kcnn.data.load_dataset("digits", validation_split=0.1, seed=0)
model = kcnn.build_model("simple_cnn", input_shape=data.input_shape, num_classes=10)
config = kcnn.train.TrainConfig(epochs=10, batch_size=32, verbose=0)
_, run = kcnn.train.fit(model, data, config, run_dir="runs")
print(run)

classifier = kcnn.infer.load(run)
print(classifier)
print(classifier.contract)

# %% [markdown]
# ## Image files of your own
#
# Here the "own" images are PNG files written from the test set, plus one JPEG enlarged to
# 64x64 in colour and one file that is not an image at all. `predict` converts each file to
# what the model takes (grey, 8x8, pixels in [0, 1]); the resize keeps the aspect ratio and
# pads with black unless `resize="stretch"` or `"crop"` is asked for. A file it cannot read
# is skipped and listed, not fatal.

# %%
photos = Path("photos")
photos.mkdir()
pixels = np.round(data.x_test[..., 0] * 255).astype("uint8")
for i in range(6):
    Image.fromarray(pixels[i]).save(photos / f"digit_{i}_true_{data.y_test[i]}.png")
big = Image.fromarray(pixels[6]).resize((64, 64), Image.Resampling.BILINEAR).convert("RGB")
big.save(photos / f"big_colour_true_{data.y_test[6]}.jpg", quality=95)
(photos / "notes.png").write_text("this is not an image")

predictions = classifier.predict(photos, top_k=3)
print(predictions)

# %% [markdown]
# The files that are exact copies of test images get exactly the probabilities that
# `model.predict` gives for those arrays:

# %%
files = sorted(photos.glob("digit_*.png"))
from_files = classifier.predict(files).probabilities
from_arrays = classifier.model.predict(pixels[:6, ..., None] / 255.0, verbose=0)
print("largest difference:", float(np.abs(from_files - from_arrays).max()))

# %% [markdown]
# **Test-time augmentation** averages the prediction over views of each image that keep its
# label. Which views those are comes from the data set's label rules, the same ones that
# stop training augmentation from mirroring a digit: for digits there is no flip, only
# small shifts. Whether averaging helps is for the numbers to say: on the 8x8 digits a
# one-pixel shift moves an eighth of the image, so it need not.

# %%
print([name for name, _ in kcnn.infer.tta_views(classifier.contract)])
plain = classifier.predict(data.x_test).indices
averaged = classifier.predict(data.x_test, tta=True).indices
print(f"test accuracy {np.mean(plain == data.y_test):.4f}")
print(f"with TTA      {np.mean(averaged == data.y_test):.4f}")

# %% [markdown]
# The same from the command line. `kcnn predict` takes a run folder or a `.keras` file and
# files or folders, prints the table, and writes it as CSV with `--csv`:


# %%
def kcnn_command(*words):
    done = subprocess.run([sys.executable, "-m", "kcnn.cli", *map(str, words)],
                          capture_output=True, text=True)  # fmt: skip
    print(done.stdout + done.stderr)


kcnn_command("predict", run, photos, "--top-k", "2", "--csv", "predictions.csv")
print(Path("predictions.csv").read_text())

# %% [markdown]
# ## Evaluate
#
# `evaluate` predicts a split once and reads every number from that pass: top-1 and top-5
# accuracy, the cross-entropy, scikit-learn's per-class precision, recall and F1, the pairs
# of classes the model mixes up, and the expected calibration error (how far the model's
# confidence is from its accuracy). With no data set named, it reloads the run's own, split
# as training split it, so `split="val"` is the same held-out images.

# %%
evaluation = kcnn.infer.evaluate(run, split="test", out="evaluation")
print(evaluation)
print(evaluation.to_markdown())

# %% [markdown]
# `kcnn evaluate RUN --split val` does the same from the shell and writes
# `evaluation.json`, `evaluation.md` and `confusion.png`:

# %%
kcnn_command("evaluate", run, "--split", "val", "--out", "evaluation-val")

# %% [markdown]
# The confusion matrix of the test pass, as fractions of each true class:

# %%
evaluation.interpretation.plot_confusion_matrix(normalize=True)

# %% [markdown]
# ## Export for deployment
#
# `kcnn.infer.export` goes through Keras' own `model.export`. ONNX comes out of every
# backend, by three routes (tf2onnx from TensorFlow, jax2onnx from JAX, PyTorch's exporter
# from torch); `pip install "kcnn[export]"` installs them and onnxruntime. After writing,
# kcnn runs the file in onnxruntime at two batch sizes (the batch size stays free) and
# compares it with `predict`; the check is printed and saved beside the file.

# %%
check = kcnn.infer.export(classifier, "digits.onnx", format="onnx")
print(check)
print(Path("digits.onnx.check.json").read_text())

# %% [markdown]
# The exported file needs neither Keras nor kcnn: onnxruntime, NumPy and the class names
# are enough. Its answers on the test images, side by side with Keras':

# %%
session = onnxruntime.InferenceSession("digits.onnx")
name = session.get_inputs()[0].name
onnx_probabilities = session.run(None, {name: data.x_test.astype("float32")})[0]
keras_probabilities = classifier.model.predict(data.x_test, verbose=0)
print("input", name, session.get_inputs()[0].shape)
print("largest |onnx - keras|:", float(np.abs(onnx_probabilities - keras_probabilities).max()))
same = int((onnx_probabilities.argmax(-1) == keras_probabilities.argmax(-1)).sum())
print(f"same predicted class on {same} of {len(data.x_test)} test images")
names = classifier.class_names
for i in range(3):
    onnx_p, keras_p = onnx_probabilities[i], keras_probabilities[i]
    print(
        f"image {i}: onnx says {names[onnx_p.argmax()]} ({onnx_p.max():.3f}), "
        f"keras says {names[keras_p.argmax()]} ({keras_p.max():.3f})"
    )

# %% [markdown]
# The class names and the input contract went beside the file, as
# `digits.onnx.contract.json`, for the program that will run it. From the shell,
# `kcnn export RUN --format onnx` writes `RUN/model.onnx` with its check and contract.
