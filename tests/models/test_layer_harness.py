"""Every kcnn layer through Keras' own layer test harness, and under both mixed-precision
policies on every backend (the harness checks float16 only, and never on a PyTorch CPU)."""

import keras
import numpy as np
import pytest
from keras.src.testing import TestCase

import kcnn
from kcnn.data.augment import RandomPadCrop, RandomResizedCrop
from kcnn.models.resnet import ZeroPadShortcut
from kcnn.models.transfer import PREPROCESSING, ImageNetPreprocessing

#: (layer class, constructor arguments, input shape, output shape, seed generators)
LAYERS = [
    *[(ImageNetPreprocessing, {"mode": m}, (2, 8, 8, 3), (2, 8, 8, 3), 0) for m in PREPROCESSING],
    (ZeroPadShortcut, {"filters": 8}, (2, 8, 8, 4), (2, 4, 4, 8), 0),
    (RandomPadCrop, {"padding": 2, "seed": 1}, (2, 8, 8, 3), (2, 8, 8, 3), 1),
    (RandomResizedCrop, {"seed": 1}, (2, 8, 8, 3), (2, 8, 8, 3), 1),
]
IDS = [f"{cls.__name__}-{kwargs.get('mode', '')}" for cls, kwargs, *_ in LAYERS]


class _Harness(TestCase):
    def runTest(self):  # unittest needs one test method to build an instance
        pass


@pytest.mark.parametrize("cls, kwargs, shape, out_shape, seeds", LAYERS, ids=IDS)
def test_keras_layer_harness(cls, kwargs, shape, out_shape, seeds):
    _Harness().run_layer_test(
        cls, kwargs, input_shape=shape, expected_output_shape=out_shape,
        expected_num_trainable_weights=0, expected_num_seed_generators=seeds,
        run_training_check=False, supports_masking=False,
    )  # fmt: skip


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("cls, kwargs, shape, out_shape, seeds", LAYERS, ids=IDS)
def test_mixed_precision_gives_the_compute_dtype_and_the_float32_values(
    cls, kwargs, shape, out_shape, seeds, policy
):
    x = np.random.default_rng(0).uniform(size=shape).astype("float32")
    full = cls(**kwargs)
    mixed = cls(**kwargs, dtype=policy)
    got = mixed(x)
    assert keras.backend.standardize_dtype(got.dtype) == mixed.compute_dtype, policy
    if not seeds:  # the random layers draw differently per call
        tolerance = 2e-2 if policy == "mixed_bfloat16" else 2e-3
        expected = keras.ops.convert_to_numpy(full(x))
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(keras.ops.cast(got, "float32")), expected,
            rtol=tolerance, atol=tolerance * max(1.0, float(np.abs(expected).max())),
        )  # fmt: skip


@pytest.mark.rotate(backends=("torch",))  # where bfloat16 crashed; about 30 s
def test_a_torch_mode_transfer_model_trains_under_mixed_precision():
    """DenseNet's preprocessing (ImageNet mean and std) once made float32 outputs under a
    16-bit policy, and crashed under bfloat16 on PyTorch."""
    model = kcnn.build_model(
        "transfer", backbone="densenet121", weights=None, input_shape=(32, 32, 3), num_classes=3
    )
    x = np.random.default_rng(0).uniform(size=(8, 32, 32, 3)).astype("float32")
    y = np.arange(8) % 3
    data = kcnn.data.Dataset("random", x, y, x[:4], y[:4], x[:0], y[:0], ["a", "b", "c"])
    config = kcnn.train.TrainConfig(epochs=1, batch_size=4, mixed_precision=True, verbose=0)
    history, _ = kcnn.train.fit(model, data, config, run_dir=None)
    assert np.isfinite(history.history["loss"][-1])
    (layer,) = [v for v in model.layers if isinstance(v, ImageNetPreprocessing)]
    assert layer.mode == "torch" and layer.compute_dtype in ("float16", "bfloat16")
