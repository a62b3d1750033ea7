"""Fine-tuning: the chosen top of the backbone trains, BatchNorm keeps its statistics."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.models.transfer import backbone_of

from ..conftest import images


def _transfer(**kwargs):
    return kcnn.build_model("transfer", backbone="simple_cnn", weights=None, num_classes=3,
                            input_shape=(16, 16, 1), **kwargs)  # fmt: skip


def _data():
    x = images((16, 16, 1), n=24)
    y = np.arange(24) % 3
    return kcnn.data.Dataset("random", x, y, x[:6], y[:6], x[:0], y[:0], ("a", "b", "c"))


def _value(layer, attribute):
    return np.array(keras.ops.convert_to_numpy(getattr(layer, attribute)))


def test_unfreeze_counts_weighted_layers_from_the_top_and_keeps_batchnorm_frozen():
    model = _transfer()
    assert kcnn.train.unfreeze_backbone(model, 1) == ["simple_cnn_block2_conv"]
    trainable = {w.path.split("/")[-2] for w in model.trainable_weights}
    assert trainable == {"simple_cnn_block2_conv", "predictions"}
    assert kcnn.train.unfreeze_backbone(model, "all") == [
        "simple_cnn_block1_conv", "simple_cnn_block2_conv"]  # fmt: skip
    with_bn = kcnn.train.unfreeze_backbone(model, 1, train_bn=True)
    assert with_bn == ["simple_cnn_block1_bn", "simple_cnn_block2_conv", "simple_cnn_block2_bn"]
    for bad in (0, -1, "some", True):
        with pytest.raises(ValueError, match=f"Received: unfreeze={bad!r}"):
            kcnn.train.unfreeze_backbone(model, bad)
    with pytest.raises(ValueError, match="exactly one nested backbone"):
        kcnn.train.unfreeze_backbone(kcnn.build_model("simple_cnn"), 1)


def test_fine_tune_moves_the_unfrozen_layers_only_and_keeps_bn_statistics():
    model = _transfer()
    data = _data()
    config = kcnn.train.TrainConfig(batch_size=8, verbose=0)
    kcnn.train.fit(model, data, kcnn.train.TrainConfig(epochs=1, batch_size=8, verbose=0),
                   run_dir=None)  # fmt: skip
    backbone = backbone_of(model)
    conv1, conv2 = (backbone.get_layer(f"simple_cnn_block{i}_conv") for i in (1, 2))
    bn = [backbone.get_layer(f"simple_cnn_block{i}_bn") for i in (1, 2)]
    before = {
        "conv1": _value(conv1, "kernel"),
        "conv2": _value(conv2, "kernel"),
        **{f"{b.name}/{a}": _value(b, a) for b in bn
           for a in ("moving_mean", "moving_variance", "gamma", "beta")},
    }  # fmt: skip
    history, run = kcnn.train.fine_tune(model, data, unfreeze=1, lr=1e-3, epochs=2,
                                        config=config, run_dir=None)  # fmt: skip
    assert run is None and len(history.history["loss"]) == 2
    rate = keras.ops.convert_to_numpy(model.optimizer.learning_rate)
    assert float(rate) == pytest.approx(1e-3)  # the constant schedule at lr
    np.testing.assert_array_equal(before["conv1"], _value(conv1, "kernel"))
    assert not np.array_equal(before["conv2"], _value(conv2, "kernel"))
    for b in bn:
        for a in ("moving_mean", "moving_variance", "gamma", "beta"):
            np.testing.assert_array_equal(before[f"{b.name}/{a}"], _value(b, a))


def test_fine_tune_rejects_bad_arguments():
    model, data = _transfer(), _data()
    with pytest.raises(ValueError, match="lr must be a positive number. Received: lr=0"):
        kcnn.train.fine_tune(model, data, lr=0, run_dir=None)
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        kcnn.train.fine_tune(model, data, config={"epochs": 1}, run_dir=None)
