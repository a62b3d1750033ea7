import json

import keras
import numpy as np
import pytest

import kcnn
from kcnn.data import make_pipeline

from ..conftest import BLOCK_TENSORFLOW, run_python

PATHS = ["tf.data", "device"]


@pytest.fixture(scope="module")
def digits():
    return kcnn.data.load_dataset("digits", image_size=(16, 16))


@pytest.mark.parametrize("path", PATHS)
def test_batches_cover_the_set_once_per_epoch(digits, path):
    x, y = digits.x_train[:100], digits.y_train[:100]
    pipe = make_pipeline(x, y, 32, path=path, seed=1)
    assert pipe.path == path and f"path={path!r}" in repr(pipe) and len(pipe) == 4
    batches = [pipe[i] for i in range(len(pipe))]
    pipe.on_epoch_end()
    sizes = [len(b[0]) for b in batches]
    assert sizes == [32, 32, 32, 4]
    seen = np.concatenate([keras.ops.convert_to_numpy(b[1]) for b in batches])
    assert sorted(seen.tolist()) == sorted(y.tolist())
    second = np.concatenate([keras.ops.convert_to_numpy(pipe[i][1]) for i in range(len(pipe))])
    assert not np.array_equal(seen, second)  # reshuffled
    assert len(make_pipeline(x, y, 32, path=path, drop_remainder=True)) == 3


@pytest.mark.parametrize("path", PATHS)
def test_same_seed_same_batches(digits, path):
    x, y = digits.x_train[:64], digits.y_train[:64]
    a = make_pipeline(x, y, 16, "crop", dataset=digits, seed=3, path=path)
    b = make_pipeline(x, y, 16, "crop", dataset=digits, seed=3, path=path)
    for i in range(len(a)):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(a[i][0]), keras.ops.convert_to_numpy(b[i][0])
        )


@pytest.mark.parametrize("path", PATHS)
def test_mixing_policies_give_soft_one_hot_labels(digits, path):
    pipe = make_pipeline(digits.x_train[:64], digits.y_train[:64], 32, "mixup", path=path)
    x, y = (keras.ops.convert_to_numpy(t) for t in pipe[0])
    assert pipe.one_hot and y.shape == (32, 10)
    np.testing.assert_allclose(y.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("path", PATHS)
def test_normalisation_uses_training_statistics(digits, path):
    train = make_pipeline(digits.x_train, digits.y_train, 2000, normalize=True, path=path)
    x, _ = train[0]
    x = keras.ops.convert_to_numpy(x)
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-3
    test = make_pipeline(
        digits.x_test, digits.y_test, 1000, shuffle=False, normalize=(train.mean, train.std),
        path=path,
    )  # fmt: skip
    expected = (digits.x_test - train.mean) / train.std
    np.testing.assert_allclose(keras.ops.convert_to_numpy(test[0][0]), expected, atol=1e-5)


@pytest.mark.rotate
@pytest.mark.parametrize("path", PATHS)
def test_model_fit_takes_the_pipeline_directly(digits, path):
    augment = kcnn.data.augmentation("crop", digits, padding=2)
    train = make_pipeline(digits.x_train, digits.y_train, 64, augment, dataset=digits, path=path)
    model = kcnn.build_model("simple_cnn", input_shape=digits.input_shape)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, epochs=3, verbose=0)
    assert history.history["accuracy"][-1] > 0.5
    assert model.evaluate(digits.x_test, digits.y_test, verbose=0)[1] > 0.7


BAD = [
    ({"batch_size": 0}, ValueError, r"batch_size must be an integer >= 1.*batch_size=0"),
    ({"x": np.zeros((4, 8, 8, 1), np.uint8)}, TypeError, r"x must be float images.*uint8"),
    ({"y": np.arange(3)}, ValueError, r"4 images, 3 labels"),
    ({"y": np.array([0.0, 1.0, 0.0, 1.0])}, ValueError, r"y must be integer class indices"),
    ({"y": np.array([0, 1, 2, 5]), "num_classes": 3}, ValueError, r"y must be in \[0, 3\).*to 5"),
    ({"x": np.full((4, 8, 8, 1), np.nan, "float32")}, ValueError, r"NaN or infinite pixels"),
    ({"x": np.zeros((0, 8, 8, 1), "float32"), "y": np.zeros(0, int)}, ValueError, r"x is empty"),
    ({"path": "gpu"}, ValueError, r"path must be one of \['auto', 'tf.data', 'device'\]"),
    ({"augment": "warp"}, ValueError, r"Unknown augmentation policy"),
    ({"normalize": "yes"}, ValueError, r"normalize must be True, False or \(mean, std\)"),
]


@pytest.mark.parametrize("overrides, error, message", BAD)
def test_bad_input_is_refused_before_any_work(overrides, error, message):
    kwargs = {"x": np.zeros((4, 8, 8, 1), "float32"), "y": np.array([0, 1, 0, 1])}
    kwargs.update(overrides)
    with pytest.raises(error, match=message):
        make_pipeline(kwargs.pop("x"), kwargs.pop("y"), kwargs.pop("batch_size", 2), **kwargs)


_NO_TF = (
    BLOCK_TENSORFLOW
    + """
import json, sys
import keras, numpy as np, kcnn
data = kcnn.data.load_dataset("digits", image_size=(16, 16))
try:
    kcnn.data.make_pipeline(data.x_train, data.y_train, 32, path="tf.data")
    tf_error = ""
except ImportError as error:
    tf_error = str(error)
pipe = kcnn.data.make_pipeline(data.x_train, data.y_train, 64, "cutmix", dataset=data)
model = kcnn.build_model("simple_cnn", input_shape=data.input_shape)
model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
history = model.fit(pipe, epochs=2, verbose=0)
print(json.dumps({"repr": repr(pipe), "tf_error": tf_error,
                  "accuracy": history.history["accuracy"][-1],
                  "tf_loaded": any(m.startswith("tensorflow.") for m in sys.modules)}))
"""
)


@pytest.mark.rotate
def test_without_tensorflow_the_policy_runs_on_device(backend):
    other = "torch" if backend == "tensorflow" else backend
    result = run_python(_NO_TF, other)
    assert result["repr"].startswith("InputPipeline(path='device'")
    assert "augment='cutmix', one_hot=True" in result["repr"]
    assert "needs TensorFlow" in result["tf_error"]
    assert result["accuracy"] > 0.3 and not result["tf_loaded"]
    json.dumps(result)
