"""Every model saves to .keras, reloads under safe_mode, and its weights cross backends."""

import json

import keras
import numpy as np
import pytest

import kcnn

from ..conftest import images, run_python
from .small import SMALL_KWARGS, by_name


@pytest.mark.parametrize("name", by_name(sorted(SMALL_KWARGS)))
def test_keras_file_round_trip_in_safe_mode(name, tmp_path):
    model = kcnn.build_model(name, **SMALL_KWARGS[name])
    x = images(model.input_shape[1:], n=2)
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(loaded(x, training=False)), expected)


_LOAD_ELSEWHERE = """
import json, sys
import keras, numpy as np
import kcnn
spec = json.load(open({spec!r}))
worst = {{}}
for name, kwargs in spec["models"].items():
    kwargs = {{k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}}
    model = kcnn.build_model(name, **kwargs)
    model.load_weights(spec["dir"] + f"/{{name}}.weights.h5")
    x = np.load(spec["dir"] + f"/{{name}}.x.npy")
    y = np.load(spec["dir"] + f"/{{name}}.y.npy")
    got = keras.ops.convert_to_numpy(model(x, training=False))
    worst[name] = float(np.max(np.abs(got - y)))
print(json.dumps({{"backend": keras.backend.backend(), "worst": worst}}))
"""


@pytest.fixture(scope="module")
def saved_weights(tmp_path_factory):
    """Every model's weights, inputs and predictions, saved once under this backend."""
    folder = tmp_path_factory.mktemp("weights")
    for name, kwargs in SMALL_KWARGS.items():
        keras.utils.set_random_seed(1)
        model = kcnn.build_model(name, **kwargs)
        # perturb BN statistics so that loading them is tested too, not just the kernels
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.moving_mean.assign(np.full(layer.moving_mean.shape, 0.1, "float32"))
                layer.moving_variance.assign(np.full(layer.moving_variance.shape, 2.0, "float32"))
        x = images(model.input_shape[1:], n=4, seed=3)
        model.save_weights(folder / f"{name}.weights.h5")
        np.save(folder / f"{name}.x.npy", x)
        np.save(folder / f"{name}.y.npy", keras.ops.convert_to_numpy(model(x, training=False)))
        keras.backend.clear_session()
    spec = folder / "spec.json"
    spec.write_text(json.dumps({"dir": str(folder), "models": SMALL_KWARGS}))
    return spec


@pytest.mark.rotate
def test_weights_saved_here_load_on_the_other_backends(saved_weights, backend, other_backend):
    """Weights written under this backend give the same predictions under the other two."""
    result = run_python(_LOAD_ELSEWHERE.format(spec=str(saved_weights)), other_backend, 600)
    assert result["backend"] == other_backend
    assert set(result["worst"]) == set(SMALL_KWARGS)
    for name, error in result["worst"].items():
        assert error <= 1e-5, f"{name}: max |difference| {error} from {backend} to {other_backend}"


_LOAD_AFTER_IMPORT = """
import json, keras, numpy as np
import kcnn  # nothing else: the custom layers must be registered by this import alone
model = keras.saving.load_model({path!r}, safe_mode=True)
print(json.dumps([layer.__class__.__name__ for layer in model.layers]))
"""


@pytest.mark.rotate  # backend-independent plumbing, 15-40 s: one backend a day
def test_keras_files_load_in_a_process_that_only_imported_kcnn(tmp_path, backend):
    inputs = keras.Input((16, 16, 3))
    x = kcnn.data.RandomPadCrop(2)(inputs)
    features = kcnn.build_model("resnet20", input_shape=(16, 16, 3), include_top=False)(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(features))
    model.save(tmp_path / "m.keras")
    names = run_python(_LOAD_AFTER_IMPORT.format(path=str(tmp_path / "m.keras")), backend)
    assert "RandomPadCrop" in names
