import numpy as np
import pytest
from matplotlib.figure import Figure

import kcnn


def _png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return len(data)


def test_plot_history_with_and_without_validation(tmp_path):
    history = {
        "loss": [1.0, 0.5, 0.3, 0.2],
        "accuracy": [0.5, 0.8, 0.9, 0.95],
        "val_loss": [1.1, 0.6, 0.55, 0.7],
        "val_accuracy": [0.45, 0.75, 0.8, 0.78],
    }
    fig = kcnn.inspect.plot_history(history, tmp_path / "a.png")
    assert isinstance(fig, Figure) and _png(tmp_path / "a.png") > 1000
    assert len(fig.axes) == 2 and [len(ax.lines) for ax in fig.axes] == [3, 3]  # 2 curves, best
    train_only = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.8]}
    kcnn.inspect.plot_history(train_only, tmp_path / "sub" / "b.png")
    assert _png(tmp_path / "sub" / "b.png") > 1000
    assert not list(tmp_path.rglob("*.tmp.png"))


def test_early_stopping_marker_follows_keras_rule():
    from kcnn.inspect.visualize import _best_and_stop

    val_loss = np.array([0.8, 0.55, 0.45, 0.42, 0.43, 0.45, 0.5, 0.55, 0.6])
    # Keras' EarlyStopping(patience=3): epochs 5, 6, 7 do not improve -> stops after 7
    # (index 6) and restores epoch 4 (index 3).
    assert _best_and_stop(val_loss, 3) == (3, (6, 3))
    assert _best_and_stop(val_loss, 10) == (3, None)
    assert _best_and_stop(np.array([np.nan, 1.0]), 2) == (1, None)  # NaN is never best


def test_plot_history_marks_and_plot_histories_compare(tmp_path):
    import matplotlib.image

    history = {"loss": [1.0, 0.6, 0.5, 0.55, 0.6], "accuracy": [0.6, 0.8, 0.85, 0.86, 0.87],
               "val_loss": [0.9, 0.6, 0.5, 0.6, 0.7], "val_accuracy": [0.6, 0.7, 0.8, 0.78, 0.77],
               "epoch": [1, 2, 3, 4, 5]}  # fmt: skip
    kcnn.inspect.plot_history(history, tmp_path / "a.png", monitor="val_accuracy", patience=2)
    image = matplotlib.image.imread(tmp_path / "a.png")
    assert image.shape[1] > 1000 and image.std() > 0.05  # a real picture, not blank
    fig = kcnn.inspect.plot_histories({"a": history, "b": history}, tmp_path / "c.png", "t")
    assert isinstance(fig, Figure) and fig.get_suptitle() == "t"
    image = matplotlib.image.imread(tmp_path / "c.png")
    assert image.shape[1] > 1000 and image.std() > 0.05
    with pytest.raises(ValueError, match=r"histories\['b'\] has no 'loss' list"):
        kcnn.inspect.plot_histories({"a": history, "b": {}}, tmp_path / "d.png")
    with pytest.raises(ValueError, match="non-empty dict of label -> history"):
        kcnn.inspect.plot_histories({}, tmp_path / "d.png")


def test_plot_history_rejects_empty(tmp_path):
    with pytest.raises(ValueError, match="non-empty 'loss'"):
        kcnn.inspect.plot_history({"accuracy": [0.1]}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_confusion_matrix(tmp_path):
    y_true = np.array([0, 1, 2, 2, 1, 0])
    y_pred = np.array([0, 2, 2, 2, 1, 0])
    fig = kcnn.inspect.plot_confusion_matrix(y_true, y_pred, ["a", "b", "c"], tmp_path / "c.png")
    assert _png(tmp_path / "c.png") > 1000 and "accuracy 83.3%, 6 images" in fig.axes[0].get_title()
    assert isinstance(kcnn.inspect.plot_confusion_matrix(y_true, y_pred), Figure)  # no file
    kcnn.inspect.plot_confusion_matrix(y_true, y_pred, path=tmp_path / "n.png", normalize=True)
    assert _png(tmp_path / "n.png") > 1000
    with pytest.raises(ValueError, match="equal length"):
        kcnn.inspect.plot_confusion_matrix(y_true, y_pred[:3], path=tmp_path / "bad.png")


def test_count_params():
    counts = kcnn.inspect.count_params(kcnn.build_model("simple_cnn"))
    assert counts["non_trainable"] == 2 * (32 + 64)  # BN moving mean and variance
    assert counts["total"] == counts["trainable"] + counts["non_trainable"]
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        kcnn.inspect.count_params("resnet20")


def test_augmentation_gallery(tmp_path, fashion_mnist):
    fig = kcnn.inspect.augmentation_gallery(
        fashion_mnist, "cutmix", tmp_path / "g.png", num_images=4, repeats=2
    )
    assert _png(tmp_path / "g.png") > 5000 and len(fig.axes) == 4 * 3
    digits = kcnn.data.load_dataset("digits")
    with pytest.raises(ValueError, match="would break the labels of digits"):
        kcnn.inspect.augmentation_gallery(digits, "flip_crop", tmp_path / "no.png")
    assert not (tmp_path / "no.png").exists()
    with pytest.raises(ValueError, match="num_images must be an integer >= 1"):
        kcnn.inspect.augmentation_gallery(digits, "crop", tmp_path / "no.png", num_images=0)


def test_plot_lr_range_draws_the_sweep(tmp_path):
    import matplotlib.image

    rates = np.geomspace(1e-6, 1.0, 50)
    losses = np.concatenate([np.full(30, 2.3), np.linspace(2.3, 1.0, 15), [2.0, 5, 9, np.nan, 20]])
    fig = kcnn.inspect.plot_lr_range(rates, losses, 1e-3, tmp_path / "lr.png")
    assert fig.axes[0].get_xscale() == "log"
    image = matplotlib.image.imread(tmp_path / "lr.png")
    assert image.shape[1] > 500 and image.std() > 0.05
