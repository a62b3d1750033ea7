"""A catalogue of bad inputs through the Python API and the command line.

Each case asserts the exception type, a message that names the argument and the value
received (or, for a file, the file and what is wrong with it), and that no file was
created, changed or left half-written. A command-line case asserts exit status 2, one line
on stderr and no traceback.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import keras
import numpy as np
import pytest

import kcnn
from kcnn.train import TrainConfig


@dataclasses.dataclass
class Context:
    root: Path
    digits: kcnn.data.Dataset
    run: Path

    def mlp(self, **kwargs):
        return kcnn.build_model("mlp", input_shape=(8, 8, 1), hidden_units=(8,), **kwargs)

    def digits_with(self, **arrays):
        return dataclasses.replace(self.digits, **arrays)

    @property
    def x(self):
        return self.digits.x_train[:32]

    @property
    def y(self):
        return self.digits.y_train[:32]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-inputs")
    (root / "notes.txt").write_text("not a data set")
    (root / "empty").mkdir()
    digits = kcnn.data.load_dataset("digits", validation_split=0.1, seed=0)
    keras.utils.set_random_seed(0)
    model = kcnn.build_model("mlp", input_shape=(8, 8, 1), hidden_units=(8,))
    config = TrainConfig(epochs=1, verbose=0, top_k=None)
    _, run = kcnn.train.fit(model, digits, config, run_dir=root / "runs")
    return Context(root, digits, Path(run))


def _snapshot(root: Path) -> dict:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def _cfg(**kwargs):
    return TrainConfig(**{"epochs": 1, "verbose": 0, **kwargs})


# (id, call(ctx), exception type, pattern of the message)
CASES = [
    # -- build_model -------------------------------------------------------------------------
    (
        "build unknown name",
        lambda c: kcnn.build_model("resnet7"),
        ValueError,
        r"Unknown model name: 'resnet7'\. Did you mean: .*resnet56",
    ),
    (
        "build num_classes 0",
        lambda c: kcnn.build_model("lenet5", num_classes=0),
        ValueError,
        r"num_classes must be an integer >= 2\. Received: num_classes=0",
    ),
    (
        "build num_classes text",
        lambda c: kcnn.build_model("lenet5", num_classes="10"),
        ValueError,
        r"num_classes must be an integer >= 2\. Received: num_classes='10'",
    ),
    (
        "build input_shape 2-D",
        lambda c: kcnn.build_model("simple_cnn", input_shape=(28, 28)),
        ValueError,
        r"input_shape must be a tuple of 3 positive integers .* input_shape=\(28, 28\)",
    ),
    (
        "build input_shape negative",
        lambda c: kcnn.build_model("simple_cnn", input_shape=(28, -1, 1)),
        ValueError,
        r"input_shape must hold 3 positive integers .* input_shape=\(28, -1, 1\)",
    ),
    (
        "build pooling with top",
        lambda c: kcnn.build_model("resnet20", pooling="avg"),
        ValueError,
        r"pooling is for include_top=False.* pooling='avg', include_top=True",
    ),
    (
        "build pooling unknown",
        lambda c: kcnn.build_model("resnet20", include_top=False, pooling="mean"),
        ValueError,
        r"pooling must be one of \[None, 'avg', 'max'\]\. Received: pooling='mean'",
    ),
    (
        "build activation",
        lambda c: kcnn.build_model("simple_cnn", activation="relu6x"),
        ValueError,
        r"activation must be one of \[.*\]\. Received: activation='relu6x'",
    ),
    (
        "build classifier_activation name",
        lambda c: kcnn.build_model("simple_cnn", classifier_activation="sofmax"),
        ValueError,
        r"classifier_activation must be the name of a Keras activation.* "
        r"classifier_activation='sofmax'",
    ),
    (
        "build classifier_activation type",
        lambda c: kcnn.build_model("simple_cnn", classifier_activation=1),
        TypeError,
        r"classifier_activation must be a string .* classifier_activation=1",
    ),
    (
        "build dropout",
        lambda c: kcnn.build_model("simple_cnn", dropout=1.5),
        ValueError,
        r"dropout must be a number in \[0, 1\)\. Received: dropout=1\.5",
    ),
    (
        "build filters",
        lambda c: kcnn.build_model("simple_cnn", filters=(0, 16)),
        ValueError,
        r"filters must be a tuple of positive integers\. Received: filters=\(0, 16\)",
    ),
    (
        "build unknown keyword",
        lambda c: kcnn.build_model("lenet5", widht=2),
        TypeError,
        r"unexpected keyword argument 'widht'",
    ),
    (
        "build name",
        lambda c: kcnn.build_model("lenet5", name=""),
        ValueError,
        r"name must be a non-empty string\. Received: name=''",
    ),
    (
        "build include_top",
        lambda c: kcnn.build_model("lenet5", include_top="yes"),
        TypeError,
        r"include_top must be True or False\. Received: include_top='yes'",
    ),
    (
        "build too small for resnet18",
        lambda c: kcnn.build_model("resnet18", input_shape=(8, 8, 3)),
        ValueError,
        r"input_shape is too small for resnet18.* >= 32\. Received: input_shape=\(8, 8, 3\)",
    ),
    (
        "build transfer backbone",
        lambda c: kcnn.build_model("transfer", backbone="resnet7"),
        ValueError,
        r"backbone must be a keras.applications name.* Received: backbone='resnet7'",
    ),
    (
        "build transfer weights",
        lambda c: kcnn.build_model("transfer", weights="cifar"),
        FileNotFoundError,
        r"weights file not found\. Received: weights='cifar'",
    ),
    (
        "build vgg dense_units",
        lambda c: kcnn.build_model("vgg16", dense_units=-1),
        ValueError,
        r"dense_units must be a tuple of positive integers\. Received: dense_units=\(-1,\)",
    ),
    # -- load_dataset ------------------------------------------------------------------------
    (
        "load unknown name",
        lambda c: kcnn.data.load_dataset("cifar5"),
        ValueError,
        r"Unknown data set: name='cifar5'\. Available: digits",
    ),
    (
        "load validation_split 1",
        lambda c: kcnn.data.load_dataset("digits", validation_split=1.0),
        ValueError,
        r"validation_split must be a fraction in \[0, 1\)\. .*validation_split=1\.0",
    ),
    (
        "load validation_split negative",
        lambda c: kcnn.data.load_dataset("digits", validation_split=-0.1),
        ValueError,
        r"validation_split must be a fraction .* validation_split=-0\.1",
    ),
    (
        "load image_size zero",
        lambda c: kcnn.data.load_dataset("digits", image_size=(0, 8)),
        ValueError,
        r"image_size must be \(height, width\) .* image_size=\(0, 8\)",
    ),
    (
        "load image_size scalar",
        lambda c: kcnn.data.load_dataset("digits", image_size=8),
        ValueError,
        r"image_size must be \(height, width\) .* image_size=8",
    ),
    (
        "load a text file",
        lambda c: kcnn.data.load_dataset(c.root / "notes.txt"),
        ValueError,
        r"notes\.txt: a data set file must be a \.npz archive",
    ),
    (
        "load an empty folder",
        lambda c: kcnn.data.load_dataset(c.root / "empty"),
        ValueError,
        r"empty holds no data set kcnn can read: expected IDX files",
    ),
    # -- make_pipeline -----------------------------------------------------------------------
    (
        "pipeline batch_size 0",
        lambda c: kcnn.data.make_pipeline(c.x, c.y, 0),
        ValueError,
        r"batch_size must be an integer >= 1\. Received: batch_size=0",
    ),
    (
        "pipeline uint8 images",
        lambda c: kcnn.data.make_pipeline((c.x * 255).astype("uint8"), c.y, 8),
        TypeError,
        r"x must be float images in \[0, 1\].* Received dtype uint8",
    ),
    (
        "pipeline lengths",
        lambda c: kcnn.data.make_pipeline(c.x, c.y[:5], 8),
        ValueError,
        r"x and y differ in length: 32 images, 5 labels",
    ),
    (
        "pipeline NaN pixels",
        lambda c: kcnn.data.make_pipeline(np.where(c.x > 0.5, np.nan, c.x), c.y, 8),
        ValueError,
        r"x contains NaN or infinite pixels",
    ),
    (
        "pipeline float labels",
        lambda c: kcnn.data.make_pipeline(c.x, c.y.astype("float32") + 0.5, 8),
        ValueError,
        r"y must be integer class indices shaped \(n,\)\. Received dtype float32",
    ),
    (
        "pipeline path",
        lambda c: kcnn.data.make_pipeline(c.x, c.y, 8, path="gpu"),
        ValueError,
        r"path must be one of \['auto', 'tf.data', 'device'\]\. Received: path='gpu'",
    ),
    (
        "pipeline normalize word",
        lambda c: kcnn.data.make_pipeline(c.x, c.y, 8, normalize="yes"),
        ValueError,
        r"normalize must be True, False or \(mean, std\)\. Received: 'yes'",
    ),
    (
        "pipeline normalize zero std",
        lambda c: kcnn.data.make_pipeline(c.x, c.y, 8, normalize=(0.5, 0.0)),
        ValueError,
        r"standard deviation, which must be > 0.* Received: std=\[0\.0\]",
    ),
    (
        "pipeline policy",
        lambda c: kcnn.data.make_pipeline(c.x, c.y, 8, "flipcrop"),
        ValueError,
        r"Unknown augmentation policy: policy='flipcrop'",
    ),
    (
        "pipeline Keras flip on digits",
        lambda c: kcnn.data.make_pipeline(
            c.x,
            c.y,
            8,
            keras.layers.Pipeline([keras.layers.RandomFlip("horizontal")]),
            dataset=c.digits,
        ),
        ValueError,
        r"The layer 'pipeline.*' would break the labels of digits: a mirrored digit",
    ),
    (
        "pipeline shard",
        lambda c: kcnn.data.make_pipeline(c.x, c.y, 8, shard=(2, 2)),
        ValueError,
        r"shard must be \(index, count\) .* Received: shard=\(2, 2\)",
    ),
    (
        "pipeline class_weight class",
        lambda c: kcnn.data.make_pipeline(c.x, c.y, 8, class_weight={11: 2.0}, num_classes=10),
        ValueError,
        r"class_weight names class 11, but the classes are 0 to 9",
    ),
    (
        "pipeline balanced with a missing class",
        lambda c: kcnn.data.make_pipeline(
            c.digits.x_train[c.digits.y_train != 3],
            c.digits.y_train[c.digits.y_train != 3],
            8,
            class_weight="balanced",
            num_classes=10,
        ),
        ValueError,
        r"class_weight='balanced' needs every class.* classes \[3\] have no training image",
    ),
    (
        "pipeline mixup one_hot False",
        lambda c: kcnn.data.make_pipeline(c.x, c.y, 8, "mixup", one_hot=False),
        ValueError,
        r"MixUp and CutMix make soft labels, so they need one_hot=True or None\. "
        r"Received: one_hot=False",
    ),
    # -- augmentation ------------------------------------------------------------------------
    (
        "augmentation unknown",
        lambda c: kcnn.data.augmentation("rotate90"),
        ValueError,
        r"Unknown augmentation policy: policy='rotate90'",
    ),
    (
        "augmentation flip on digits",
        lambda c: kcnn.data.augmentation("flip_crop", c.digits),
        ValueError,
        r"'horizontal_flip' would break the labels of digits.* allow=",
    ),
    (
        "augmentation Keras flip layer on digits",
        lambda c: kcnn.data.augmentation(["crop", keras.layers.RandomFlip("horizontal")], c.digits),
        ValueError,
        r"The layer 'random_flip.*' would break the labels of digits",
    ),
    (
        "augmentation vertical flip on fashion labels",
        lambda c: kcnn.data.augmentation(
            [keras.layers.RandomFlip("vertical")],
            {"vertical_flip": "an upside-down shoe is not a shoe"},
        ),
        ValueError,
        r"would break the labels of this data set: an upside-down shoe",
    ),
    (
        "augmentation type",
        lambda c: kcnn.data.augmentation(5),
        TypeError,
        r"policy must be a policy name or a list .* Received: int",
    ),
    (
        "augmentation option name",
        lambda c: kcnn.data.augmentation("crop", c.digits, paddin=2),
        TypeError,
        r"Unknown augmentation option\(s\) \['paddin'\]",
    ),
    (
        "augmentation padding",
        lambda c: kcnn.data.augmentation("crop", c.digits, padding=8),
        ValueError,
        r"padding must be smaller than the image \(8x8\).* Received: padding=8",
    ),
    (
        "augmentation allow",
        lambda c: kcnn.data.augmentation("crop", c.digits, allow=("diagonal_flip",)),
        ValueError,
        r"allow names label rules to override.* Received: allow=\['diagonal_flip'\]",
    ),
    (
        "augmentation value_range",
        lambda c: kcnn.data.augmentation("color", value_range=(1, 0)),
        ValueError,
        r"value_range must be \(low, high\)\. Received: value_range=\(1, 0\)",
    ),
    # -- TrainConfig -------------------------------------------------------------------------
    *[
        (f"config {field}", lambda c, kw=kw: TrainConfig(**kw), error, pattern)
        for field, kw, error, pattern in [
            (
                "epochs",
                {"epochs": 0},
                ValueError,
                r"epochs must be an integer >= 1\. "
                r"Received: epochs=0",
            ),
            (
                "batch_size",
                {"batch_size": 2.5},
                ValueError,
                r"batch_size must be an integer "
                r">= 1\. Received: batch_size=2\.5",
            ),
            (
                "learning_rate",
                {"learning_rate": -1},
                ValueError,
                r"learning_rate must be > 0"
                r".* Received: learning_rate=-1",
            ),
            (
                "optimizer",
                {"optimizer": "adagrad"},
                ValueError,
                r"optimizer must be one of "
                r"\['adam', 'adamw', 'sgd'\]\. Received: optimizer='adagrad'",
            ),
            (
                "schedule",
                {"schedule": "linear"},
                ValueError,
                r"schedule must be one of .* "
                r"Received: schedule='linear'",
            ),
            (
                "warmup",
                {"warmup_epochs": 1, "schedule": "step"},
                ValueError,
                r"warmup_epochs "
                r"is for the 'constant' and 'cosine' schedules\. Received: schedule='step'",
            ),
            (
                "label_smoothing",
                {"label_smoothing": 1.5},
                ValueError,
                r"label_smoothing must "
                r"be in .* Received: label_smoothing=1\.5",
            ),
            (
                "augment",
                {"augment": 3},
                ValueError,
                r"augment must be a policy name or a list "
                r".* Received: augment=3",
            ),
            (
                "early_stopping",
                {"early_stopping": "eager"},
                ValueError,
                r"patience must be an "
                r"integer or one of .* Received: patience='eager'",
            ),
            (
                "mixed_precision",
                {"mixed_precision": "float8"},
                ValueError,
                r"mixed_precision "
                r"must be True, False or one of .* Received: mixed_precision='float8'",
            ),
            (
                "jit_compile",
                {"jit_compile": "yes"},
                ValueError,
                r"jit_compile must be 'auto', "
                r"True or False\. Received: jit_compile='yes'",
            ),
            (
                "data_path",
                {"data_path": "disk"},
                ValueError,
                r"data_path must be 'device' or "
                r"'tf.data'\. Received: data_path='disk'",
            ),
            (
                "verbose",
                {"verbose": 3},
                ValueError,
                r"verbose must be 0, 1 or 2\. Received: "
                r"verbose=3",
            ),
            (
                "steps_per_execution",
                {"steps_per_execution": 0},
                ValueError,
                r"steps_per_"
                r"execution must be an integer >= 1\. Received: steps_per_execution=0",
            ),
            ("unknown field", {"epoch": 3}, TypeError, r"unexpected keyword argument 'epoch'"),
            ("ema", {"ema": 1.5}, ValueError, r"ema must be in \(0, 1\)\. Received: ema=1\.5"),
            (
                "clip_norm",
                {"clip_norm": 0},
                ValueError,
                r"clip_norm must be > 0.* "
                r"Received: clip_norm=0",
            ),
            (
                "grad_accum",
                {"grad_accum": 0},
                ValueError,
                r"grad_accum must be an integer >= 1"
                r"\. Received: grad_accum=0",
            ),
            (
                "top_k",
                {"top_k": 1},
                ValueError,
                r"top_k must be an integer >= 2\. "
                r"Received: top_k=1",
            ),
            (
                "class_weight",
                {"class_weight": "even"},
                ValueError,
                r"class_weight must be "
                r"'balanced', None, or a mapping.* Received: class_weight='even'",
            ),
            (
                "final_weights",
                {"final_weights": "first"},
                ValueError,
                r"final_weights must be "
                r"one of \['last', 'best'\]\. Received: final_weights='first'",
            ),
        ]
    ],
    # -- fit ---------------------------------------------------------------------------------
    (
        "fit a tuple of arrays",
        lambda c: kcnn.train.fit(c.mlp(), (c.x, c.y), run_dir=c.root),
        TypeError,
        r"data must be a kcnn.data.Dataset .* Received: tuple",
    ),
    (
        "fit a model name",
        lambda c: kcnn.train.fit("simple_cnn", c.digits, run_dir=c.root),
        TypeError,
        r"model must be a keras.Model\. Received: str 'simple_cnn'\. Build it first",
    ),
    (
        "fit a dict config",
        lambda c: kcnn.train.fit(c.mlp(), c.digits, {"epochs": 1}, run_dir=c.root),
        TypeError,
        r"config must be a TrainConfig\. Received: dict",
    ),
    (
        "fit logits",
        lambda c: kcnn.train.fit(
            c.mlp(classifier_activation=None), c.digits, _cfg(), run_dir=c.root
        ),
        ValueError,
        r"Model 'mlp' must output class probabilities .* its outputs range from -?\d",
    ),
    (
        "fit pixels in 0..255",
        lambda c: kcnn.train.fit(
            c.mlp(), c.digits_with(x_train=c.digits.x_train * 255), _cfg(), run_dir=c.root
        ),
        ValueError,
        r"x_train pixels must be in \[0, 1\].* Received values from 0 to 255 \(divide by 255",
    ),
    (
        "fit NaN in validation",
        lambda c: kcnn.train.fit(
            c.mlp(),
            c.digits_with(x_val=np.where(c.digits.x_val > 0.9, np.nan, c.digits.x_val)),
            _cfg(),
            run_dir=c.root,
        ),
        ValueError,
        r"x_val has NaN or infinite pixels in \d+ images \(the first: \[0,",
    ),
    (
        "fit inf in test",
        lambda c: kcnn.train.fit(
            c.mlp(), c.digits_with(x_test=c.digits.x_test + np.inf), _cfg(), run_dir=c.root
        ),
        ValueError,
        r"x_test has NaN or infinite pixels in 360 images",
    ),
    (
        "fit image shape",
        lambda c: kcnn.train.fit(
            kcnn.build_model("mlp", input_shape=(28, 28, 1)), c.digits, _cfg(), run_dir=c.root
        ),
        ValueError,
        r"x_train images have shape \(8, 8, 1\) but model 'mlp' expects \(28, 28, 1\)",
    ),
    (
        "fit labels beyond the outputs",
        lambda c: kcnn.train.fit(c.mlp(num_classes=5), c.digits, _cfg(), run_dir=c.root),
        ValueError,
        r"Labels for x_train must be in \[0, 5\) .* Received labels from 0 to 9",
    ),
    (
        "fit resume a missing folder",
        lambda c: kcnn.train.fit(c.mlp(), c.digits, resume=c.root / "norun"),
        FileNotFoundError,
        r"norun' is not a kcnn run folder: it has no config\.json",
    ),
    (
        "fit resume a file",
        lambda c: kcnn.train.fit(c.mlp(), c.digits, resume=c.root / "notes.txt"),
        FileNotFoundError,
        r"notes\.txt' is not a kcnn run folder",
    ),
    (
        "fit resume another architecture",
        lambda c: kcnn.train.fit(
            kcnn.build_model("mlp", input_shape=(8, 8, 1), hidden_units=(4,)),
            c.digits,
            resume=c.run,
        ),
        ValueError,
        r"The checkpoint .*epoch-0001\.keras does not fit model 'mlp'",
    ),
    (
        "fit distribute",
        lambda c: kcnn.train.fit(c.mlp(), c.digits, _cfg(), run_dir=c.root, distribute="gpu"),
        TypeError,
        r"distribute must be a kcnn.distribute.Strategy .* Received: str",
    ),
    (
        "fit keep_best without validation",
        lambda c: kcnn.train.fit(
            c.mlp(),
            c.digits_with(x_val=c.digits.x_val[:0], y_val=c.digits.y_val[:0]),
            _cfg(keep_best=True),
            run_dir=c.root,
        ),
        ValueError,
        r"keep_best picks the epoch with the best val_accuracy, but 'digits' has no validation",
    ),
    (
        "fit a batch larger than memory",  # ResNet-20's weights do not grow with the image
        lambda c: kcnn.train.fit(
            kcnn.build_model("resnet20", input_shape=(4096, 4096, 1)),
            c.digits_with(
                x_train=np.zeros((2, 4096, 4096, 1), "float32"), y_train=c.digits.y_train[:2]
            ),
            _cfg(),
            run_dir=c.root,
        ),
        ValueError,
        r"One training step of 'resnet20' on a batch of 64 images of 4096x4096x1 needs about "
        r"\d+\.\d GiB, but this machine has",
    ),
    (
        "fit top_k of every class",
        lambda c: kcnn.train.fit(c.mlp(), c.digits, _cfg(top_k=10), run_dir=c.root),
        ValueError,
        r"top_k must be below the number of classes \(10\).* Received: top_k=10",
    ),
    # -- find_lr -----------------------------------------------------------------------------
    (
        "find_lr labels beyond the outputs",
        lambda c: kcnn.train.find_lr(c.mlp(num_classes=5), c.x, c.y),
        ValueError,
        r"Labels for x must be in \[0, 5\) .* Received labels from 0 to \d",
    ),
    (
        "find_lr rates",
        lambda c: kcnn.train.find_lr(c.mlp(), c.x, c.y, start_lr=1, end_lr=0.1),
        ValueError,
        r"Need 0 < start_lr < end_lr\. Received: start_lr=1, end_lr=0\.1",
    ),
    (
        "find_lr num_steps",
        lambda c: kcnn.train.find_lr(c.mlp(), c.x, c.y, num_steps=5),
        ValueError,
        r"num_steps must be an integer >= 10\. Received: num_steps=5",
    ),
    # -- inspect -----------------------------------------------------------------------------
    (
        "interpretation one-hot labels",
        lambda c: kcnn.inspect.interpret.Interpretation(
            np.full((4, 3), 1 / 3), np.eye(3)[[0, 1, 2, 0]]
        ),
        ValueError,
        r"y_true must be integer class indices shaped \(n,\)\. Received one-hot .*\(4, 3\)",
    ),
    (
        "top_losses split",
        lambda c: kcnn.inspect.top_losses(c.mlp(), c.digits, split="valid"),
        ValueError,
        r"split must be one of \['train', 'val', 'test'\]\. Received: split='valid'",
    ),
    (
        "top_losses k",
        lambda c: kcnn.inspect.top_losses(c.mlp(), c.digits, k=0),
        ValueError,
        r"k must be an integer >= 1\. Received: k=0",
    ),
    (
        "grad_cam layer",
        lambda c: kcnn.inspect.grad_cam(
            kcnn.build_model("simple_cnn", input_shape=(8, 8, 1)), c.digits.x_test[:1], layer="nope"
        ),
        ValueError,
        r"nope",
    ),
    (
        "receptive_field model",
        lambda c: kcnn.inspect.receptive_field("resnet7"),
        TypeError,
        r"model must be a keras.Model\. Received: model=str",
    ),
    (
        "plot_filters layer",
        lambda c: kcnn.inspect.plot_filters(
            kcnn.build_model("simple_cnn", input_shape=(8, 8, 1)), layer="nope"
        ),
        ValueError,
        r"nope",
    ),
    (
        "confusion lengths",
        lambda c: kcnn.inspect.plot_confusion_matrix([0, 1], [0], ["a", "b"]),
        ValueError,
        r"y_true and y_pred .*2.*1",
    ),
    (
        "load_run",
        lambda c: kcnn.train.load_run(c.root / "norun"),
        FileNotFoundError,
        r"norun' is not a kcnn run folder: it has no config\.json",
    ),
    ("infer load", lambda c: kcnn.infer.load(c.root / "notes.txt"), ValueError, r"notes\.txt"),
]


@pytest.mark.parametrize("name, call, error, pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error_and_writes_nothing(ctx, name, call, error, pattern):
    before = _snapshot(ctx.root)
    with pytest.raises(error, match=pattern):
        call(ctx)
    assert _snapshot(ctx.root) == before


# (id, arguments after `kcnn`, pattern of the one stderr line)
CLI_CASES = [
    ("summary unknown model", ["summary", "resnet7"], r"resnet7"),
    (
        "summary input shape",
        ["summary", "lenet5", "--input-shape", "28,28"],
        r"--input-shape.*28,28",
    ),
    ("rf unknown model", ["rf", "resnet7"], r"resnet7"),
    ("params unknown model", ["params", "resnet7"], r"resnet7"),
    ("train lr", ["train", "--lr", "-1"], r"learning_rate must be > 0.* learning_rate=-1"),
    ("train lr text", ["train", "--lr", "fast"], r"--lr.*'fast'"),
    (
        "train flip on digits",
        ["train", "--augment", "flip_crop"],
        r"'horizontal_flip' would break the labels of digits.* Choose --augment without it",
    ),
    ("train unknown data set", ["train", "--dataset", "cifar5"], r"name='cifar5'"),
    ("train unknown model", ["train", "--model", "resnet7"], r"'resnet7'"),
    ("train resume missing", ["train", "--resume", "{root}/norun"], r"norun' is not a kcnn run"),
    (
        "train resume another model",
        ["train", "--resume", "{run}", "--model", "lenet5"],
        r"trained --model mlp; it cannot go on as --model lenet5",
    ),
    (
        "train out under a file",
        ["train", "--out", "{root}/notes.txt/runs", "--epochs", "1"],
        r"notes\.txt",
    ),
    (
        "train image size too large",
        ["train", "--model", "lenet5", "--image-size", "4096,4096"],
        r"Resizing 1797 images to image_size=\(4096, 4096\) needs about \d+\.\d GiB, but this",
    ),
    ("train ema", ["train", "--ema", "2"], r"ema must be in \(0, 1\)\. Received: ema=2\.0"),
    ("train class weight", ["train", "--class-weight", "0:1"], r"--class-weight.*'0:1'"),
    ("lr-find unknown model", ["lr-find", "--model", "resnet7"], r"'resnet7'"),
    ("fine-tune not a run", ["fine-tune", "{root}/notes.txt"], r"notes\.txt"),
    ("predict missing file", ["predict", "{run}", "{root}/nope.png"], r"nope\.png"),
    ("predict top-k", ["predict", "{run}", "{root}/nope.png", "--top-k", "0"], r"--top-k.*0"),
    ("evaluate split", ["evaluate", "{run}", "--split", "valid"], r"--split.*'valid'"),
    ("export format", ["export", "{run}", "--format", "pt"], r"--format.*'pt'"),
    ("inspect unknown picture", ["inspect", "saliency", "{run}"], r"'saliency'"),
    ("inspect index", ["inspect", "grad-cam", "{run}", "--index", "100000"], r"index.*100000"),
]


@pytest.mark.parametrize("name, argv, pattern", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_command_line_user_errors_exit_2_with_one_line(ctx, name, argv, pattern, capsys):
    from kcnn.cli import main

    argv = [a.format(root=ctx.root, run=ctx.run) for a in argv]
    before = _snapshot(ctx.root)
    cwd = os.getcwd()
    os.chdir(ctx.root)  # the default --out runs/ is under the snapshot
    try:
        try:
            code = main(argv)
        except SystemExit as exit:  # argparse
            code = exit.code
    finally:
        os.chdir(cwd)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith("usage:")
             and not line.startswith(" ")]  # fmt: skip
    assert len(lines) == 1, err
    assert pytest.importorskip("re").search(pattern, lines[0]), lines[0]
    assert _snapshot(ctx.root) == before
