"""TrainConfig's ema, class_weight, keep_best / final_weights and tensorboard, through fit."""

import dataclasses
import importlib.util
import json

import keras
import numpy as np
import pytest

import kcnn
from kcnn.cli import build_parser
from kcnn.train import TrainConfig
from kcnn.train.fit import ema_note, imbalance_note
from tests.train.test_options import _mlp


@pytest.fixture(scope="module")
def digits():
    return kcnn.data.load_dataset("digits", validation_split=0.1, seed=0)


def _quiet(**kwargs):
    return TrainConfig(**{"verbose": 0, "top_k": None, "checkpoint": False, **kwargs})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"ema": 1.0}, r"ema must be in \(0, 1\)\. Received: ema=1.0"),
        ({"ema": 0}, r"ema must be in \(0, 1\)"),
        ({"class_weight": "even"}, r"class_weight must be 'balanced', None, or a mapping"),
        ({"class_weight": {0: -1.0}}, r"class_weight must be .*weights >= 0"),
        ({"final_weights": "first"}, r"final_weights must be one of \['last', 'best'\]"),
        ({"keep_best": "yes"}, r"keep_best must be True or False\. Received: keep_best='yes'"),
    ],
)
def test_bad_options_say_what_is_accepted(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_class_weight_reads_from_the_command_line_and_from_config_json():
    parser = build_parser()
    args = parser.parse_args(["train", "--class-weight", "0=1,3=2.5", "--ema", "0.99",
                              "--keep-best", "--final-weights", "best"])  # fmt: skip
    assert (args.class_weight, args.ema, args.keep_best, args.final_weights) == (
        {0: 1.0, 3: 2.5}, 0.99, True, "best")  # fmt: skip
    assert parser.parse_args(["train", "--class-weight", "balanced"]).class_weight == "balanced"
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--class-weight", "0:1"])
    stored = json.loads(json.dumps(TrainConfig(class_weight={3: 2.5}).to_dict()))
    assert TrainConfig.from_dict(stored).class_weight == {3: 2.5}  # keys come back as ints


# -- ema ------------------------------------------------------------------------------------
class _RecordTrained(keras.callbacks.Callback):
    """The weights right after each update (one batch per epoch here)."""

    def __init__(self):
        super().__init__()
        self.trained = []

    def on_train_batch_end(self, batch, logs=None):
        self.trained.append([np.array(v) for v in self.model.trainable_variables])


def test_ema_weights_are_the_running_average_and_training_goes_on_from_the_trained_ones(digits):
    data = digits.subset(per_class=10)
    full = dict(epochs=4, batch_size=len(data.x_train), optimizer="sgd", learning_rate=0.5)
    decay = 0.7
    plain = _mlp(data)
    kcnn.train.fit(plain, data, _quiet(**full), run_dir=None)
    model, recorder = _mlp(data), _RecordTrained()
    history, _ = kcnn.train.fit(model, data, _quiet(ema=decay, **full), run_dir=None,
                                callbacks=[recorder])  # fmt: skip
    assert len(recorder.trained) == 4
    # Keras' average starts at the first update's weights.
    average = recorder.trained[0]
    for trained in recorder.trained[1:]:
        average = [decay * a + (1 - decay) * w for a, w in zip(average, trained)]
    for got, expected in zip(model.trainable_variables, average):
        np.testing.assert_allclose(np.array(got), expected, rtol=1e-5, atol=1e-6)
    # The averaged weights never fed back into training: the trained ones are a plain run's.
    for got, expected in zip(recorder.trained[-1], plain.trainable_variables):
        np.testing.assert_allclose(got, np.array(expected), rtol=1e-5, atol=1e-6)
    # Validation saw the average: the last val_accuracy is the final model's.
    _, accuracy = model.evaluate(data.x_val, data.y_val, verbose=0)
    assert history.history["val_accuracy"][-1] == pytest.approx(accuracy, abs=1e-6)


@pytest.mark.rotate
def test_ema_checkpoints_hold_the_average_and_resume_trains_on_the_trained_weights(
    digits, tmp_path
):
    data = digits.subset(per_class=20)
    config = TrainConfig(epochs=2, batch_size=32, ema=0.9, verbose=0, top_k=None)
    reference = _mlp(data)
    kcnn.train.fit(reference, data, config, run_dir=None)
    first = _mlp(data)
    _, run = kcnn.train.fit(first, data, TrainConfig(**{**config.to_dict(), "epochs": 1}),
                            run_dir=tmp_path)  # fmt: skip
    state = json.loads((run / "checkpoint.json").read_text())
    assert state["ema_in_model"] is True
    saved = keras.saving.load_model(run / state["file"])
    for got, expected in zip(saved.trainable_variables, first.trainable_variables):
        np.testing.assert_array_equal(np.array(got), np.array(expected))  # the average
    resumed = _mlp(data)
    kcnn.train.fit(resumed, data, config, resume=run)
    for got, expected in zip(resumed.weights, reference.weights):
        np.testing.assert_array_equal(np.array(got), np.array(expected))


@pytest.mark.rotate
def test_every_option_with_mixed_precision_trains_and_saves_float32_averages(digits, tmp_path):
    config = _quiet(epochs=1, ema=0.9, mixed_precision=True, class_weight="balanced",
                    final_weights="best", grad_accum=2, clip_norm=1.0)  # fmt: skip
    data = digits.subset(per_class=20)
    _, run = kcnn.train.fit(_mlp(data), data, config, run_dir=tmp_path)
    loaded = keras.saving.load_model(run / "model.keras")
    assert all(v.dtype == "float32" for v in loaded.trainable_variables)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["weights_averaged"] is True and metrics["best_epoch"] == 1
    assert np.isfinite(metrics["test_loss"])


def test_an_ema_longer_than_the_run_is_noted_with_a_decay_that_fits():
    note = ema_note(TrainConfig(epochs=6, ema=0.999), steps_per_epoch=94)
    assert "averages about the last 1000 updates, but the run makes 564" in note
    assert note.endswith("e.g. ema=0.99.")
    assert ema_note(TrainConfig(epochs=6, ema=0.99), steps_per_epoch=94) is None
    assert ema_note(TrainConfig(epochs=6), steps_per_epoch=94) is None


# -- class_weight ---------------------------------------------------------------------------
def test_class_weights_change_the_loss_as_keras_fit_class_weight_does(digits):
    data = digits.subset(per_class=10)
    weights = {c: 1.0 for c in range(10)} | {0: 5.0, 7: 0.5}
    trained = []
    for how in ("kcnn", "keras"):
        model = _mlp(data)
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        if how == "kcnn":
            pipeline = kcnn.data.make_pipeline(
                data.x_train,
                data.y_train,
                32,
                shuffle=False,
                class_weight={0: 5.0, 7: 0.5},
                path="device",
            )
            model.fit(pipeline, epochs=1, shuffle=False, verbose=0)
        else:
            model.fit(data.x_train, data.y_train, batch_size=32, epochs=1, shuffle=False,
                      class_weight=weights, verbose=0)  # fmt: skip
        trained.append(model.get_weights())
    for a, b in zip(*trained):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_balanced_weights_are_scikit_learns_and_soft_labels_mix_them(digits):
    from sklearn.utils.class_weight import compute_class_weight

    y = np.repeat(np.arange(3), [6, 2, 1])
    x = np.zeros((9, 8, 8, 1), dtype="float32")
    pipeline = kcnn.data.make_pipeline(x, y, 9, shuffle=False, class_weight="balanced",
                                       path="device")  # fmt: skip
    _, _, sample_weight = pipeline[0]
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(np.asarray(sample_weight), expected[y], rtol=1e-6)
    mixed = kcnn.data.make_pipeline(x, y, 9, "mixup", shuffle=False, class_weight="balanced",
                                    num_classes=3, path="device")  # fmt: skip
    _, soft, sample_weight = mixed[0]
    np.testing.assert_allclose(np.asarray(sample_weight), np.asarray(soft) @ expected, rtol=1e-5)
    with pytest.raises(ValueError, match=r"classes \[2\] have no training image"):
        kcnn.data.make_pipeline(x[:8], y[:8], 4, class_weight="balanced", num_classes=3)
    with pytest.raises(ValueError, match=r"class_weight names class 3, but the classes are 0 to 2"):
        kcnn.data.make_pipeline(x, y, 4, class_weight={3: 1.0}, path="device")


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs TensorFlow")
def test_the_tf_data_path_weighs_batches_as_the_device_path_does(digits):
    made = [
        kcnn.data.make_pipeline(
            digits.x_train, digits.y_train, 64, shuffle=False, class_weight="balanced", path=path
        )[0]  # fmt: skip
        for path in ("device", "tf.data")
    ]
    np.testing.assert_allclose(np.asarray(made[0][2]), np.asarray(made[1][2]), rtol=1e-6)


def test_an_imbalance_is_noted_in_the_report_unless_class_weight_is_set(digits, tmp_path):
    keep = (digits.y_train != 3) | (np.cumsum(digits.y_train == 3) <= 10)
    data = dataclasses.replace(digits, x_train=digits.x_train[keep], y_train=digits.y_train[keep])
    note = imbalance_note(data.y_train, 10, TrainConfig())
    assert note.startswith("The classes are imbalanced: class ") and "class 3 10 " in note
    assert imbalance_note(data.y_train, 10, TrainConfig(class_weight="balanced")) is None
    assert imbalance_note(digits.y_train, 10, TrainConfig()) is None
    _, run = kcnn.train.fit(_mlp(data), data, _quiet(epochs=1), run_dir=tmp_path)
    report = (run / "report.md").read_text()
    assert "## Data" in report and "class_weight='balanced'" in report


# -- keep_best / final_weights ----------------------------------------------------------------
@pytest.mark.rotate
def test_final_weights_best_holds_the_best_epoch_by_val_accuracy(digits, tmp_path):
    config = _quiet(epochs=4, learning_rate=0.05, final_weights="best")  # a noisy rate
    model = _mlp(digits)
    history, run = kcnn.train.fit(model, digits, config, run_dir=tmp_path)
    scores = history.history["val_accuracy"]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["final_weights"] == "best"
    assert metrics["best_epoch"] == int(np.argmax(scores)) + 1
    assert metrics["best_val_accuracy"] == pytest.approx(max(scores))
    assert (run / "checkpoints" / "best.keras").is_file()
    saved = keras.saving.load_model(run / "model.keras")
    _, accuracy = saved.evaluate(digits.x_val, digits.y_val, verbose=0)
    assert accuracy == pytest.approx(max(scores), abs=1e-6)


def test_keep_best_without_validation_data_is_refused_before_anything_is_written(tmp_path):
    data = kcnn.data.load_dataset("digits", validation_split=0)
    for kwargs in ({"keep_best": True}, {"final_weights": "best"}):
        with pytest.raises(ValueError, match=r"best val_accuracy, but 'digits' has no validation"):
            kcnn.train.fit(_mlp(data), data, _quiet(**kwargs), run_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


# -- tensorboard ------------------------------------------------------------------------------
@pytest.mark.skipif(
    importlib.util.find_spec("tensorboard") is None
    or importlib.util.find_spec("tensorflow") is None,
    reason="needs TensorFlow and TensorBoard",
)
@pytest.mark.rotate
def test_tensorboard_writes_the_epoch_scalars(digits, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run = kcnn.train.fit(_mlp(digits), digits, _quiet(epochs=2, tensorboard=True),
                            run_dir=tmp_path)  # fmt: skip
    events = EventAccumulator(str(run / "tensorboard" / "validation")).Reload()
    tags = events.Tags()["tensors"] + events.Tags()["scalars"]
    assert "epoch_loss" in tags and "epoch_accuracy" in tags


def test_tensorboard_without_tensorflow_is_refused_before_anything_is_written(
    digits, tmp_path, monkeypatch
):
    real = importlib.util.find_spec
    hide = lambda name, *a: None if name == "tensorboard" else real(name, *a)  # noqa: E731
    monkeypatch.setattr(importlib.util, "find_spec", hide)
    with pytest.raises(ValueError, match=r"needs TensorFlow and TensorBoard.*tensorboard not inst"):
        kcnn.train.fit(_mlp(digits), digits, _quiet(tensorboard=True), run_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.learning
def test_balanced_class_weights_find_a_class_cut_to_5_percent(fashion_mnist):
    """Fashion-MNIST, 600 training images per class but 30 T-shirts: unweighted, the MLP
    hardly ever says T-shirt (2% recall when measured); balanced weights find most of them
    (73%) while overall accuracy holds."""
    from sklearn.metrics import recall_score

    rng = np.random.default_rng(0)
    keep = np.concatenate([
        rng.permutation(np.flatnonzero(fashion_mnist.y_train == c))[: 30 if c == 0 else 600]
        for c in range(10)
    ])  # fmt: skip
    half = len(fashion_mnist.x_test) // 2
    data = dataclasses.replace(
        fashion_mnist, x_train=fashion_mnist.x_train[keep], y_train=fashion_mnist.y_train[keep],
        x_val=fashion_mnist.x_test[:half], y_val=fashion_mnist.y_test[:half],
    )  # fmt: skip
    x_test, y_test = fashion_mnist.x_test[half:], fashion_mnist.y_test[half:]
    recall, accuracy = {}, {}
    for weights in (None, "balanced"):
        keras.utils.set_random_seed(0)
        model = kcnn.build_model("mlp", input_shape=data.input_shape)
        kcnn.train.fit(model, data, _quiet(epochs=5, class_weight=weights), run_dir=None)
        predicted = model.predict(x_test, batch_size=512, verbose=0).argmax(-1)
        recall[weights] = recall_score(y_test, predicted, average=None)[0]
        accuracy[weights] = float(np.mean(predicted == y_test))
    assert recall["balanced"] >= 0.5 and recall["balanced"] >= recall[None] + 0.3, recall
    assert accuracy["balanced"] >= accuracy[None] - 0.03, accuracy
