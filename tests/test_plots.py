"""kcnn.plots: learning curves, the LR range test and the confusion matrix, drawn with
matplotlib alone and written through kcnn._io."""

import ast
import os
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from kcnn import plots
from kcnn.plots import _best_and_stop


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
    fig = plots.plot_history(history, tmp_path / "a.png")
    assert isinstance(fig, Figure) and _png(tmp_path / "a.png") > 1000
    assert len(fig.axes) == 2 and [len(ax.lines) for ax in fig.axes] == [3, 3]  # 2 curves, best
    train_only = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.8]}
    plots.plot_history(train_only, tmp_path / "sub" / "b.png")
    assert _png(tmp_path / "sub" / "b.png") > 1000
    assert not list(tmp_path.rglob("*.tmp.png"))


def test_early_stopping_marker_follows_keras_rule():
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
    plots.plot_history(history, tmp_path / "a.png", monitor="val_accuracy", patience=2)
    image = matplotlib.image.imread(tmp_path / "a.png")
    assert image.shape[1] > 1000 and image.std() > 0.05  # a real picture, not blank
    fig = plots.plot_histories({"a": history, "b": history}, tmp_path / "c.png", "t")
    assert isinstance(fig, Figure) and fig.get_suptitle() == "t"
    image = matplotlib.image.imread(tmp_path / "c.png")
    assert image.shape[1] > 1000 and image.std() > 0.05
    with pytest.raises(ValueError, match=r"histories\['b'\] has no 'loss' list"):
        plots.plot_histories({"a": history, "b": {}}, tmp_path / "d.png")
    with pytest.raises(ValueError, match="non-empty dict of label -> history"):
        plots.plot_histories({}, tmp_path / "d.png")


def test_plot_history_rejects_empty(tmp_path):
    with pytest.raises(ValueError, match="non-empty 'loss'"):
        plots.plot_history({"accuracy": [0.1]}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_confusion_matrix(tmp_path):
    y_true = np.array([0, 1, 2, 2, 1, 0])
    y_pred = np.array([0, 2, 2, 2, 1, 0])
    fig = plots.plot_confusion_matrix(y_true, y_pred, ["a", "b", "c"], tmp_path / "c.png")
    assert _png(tmp_path / "c.png") > 1000 and "accuracy 83.3%, 6 images" in fig.axes[0].get_title()
    assert isinstance(plots.plot_confusion_matrix(y_true, y_pred), Figure)  # no file
    plots.plot_confusion_matrix(y_true, y_pred, path=tmp_path / "n.png", normalize=True)
    assert _png(tmp_path / "n.png") > 1000
    with pytest.raises(ValueError, match="equal length"):
        plots.plot_confusion_matrix(y_true, y_pred[:3], path=tmp_path / "bad.png")


def test_plot_lr_range_draws_the_sweep(tmp_path):
    import matplotlib.image

    rates = np.geomspace(1e-6, 1.0, 50)
    losses = np.concatenate([np.full(30, 2.3), np.linspace(2.3, 1.0, 15), [2.0, 5, 9, np.nan, 20]])
    fig = plots.plot_lr_range(rates, losses, 1e-3, tmp_path / "lr.png")
    assert fig.axes[0].get_xscale() == "log"
    image = matplotlib.image.imread(tmp_path / "lr.png")
    assert image.shape[1] > 500 and image.std() > 0.05


def test_confusion_matrix_cells_equal_sklearn(tmp_path):
    from sklearn.metrics import confusion_matrix

    y_true = np.array([0, 1, 2, 2, 1, 0, 3, 3, 3])
    y_pred = np.array([0, 2, 2, 2, 1, 1, 3, 0, 3])
    expected = confusion_matrix(y_true, y_pred, labels=range(4))
    fig = plots.plot_confusion_matrix(y_true, y_pred, list("abcd"), title="T")
    assert [int(t.get_text()) for t in fig.axes[0].texts] == expected.ravel().tolist()
    assert fig.axes[0].get_title() == "T (accuracy 66.7%, 9 images)"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == list("abcd")
    fig = plots.plot_confusion_matrix(y_true, y_pred, normalize=True)
    rows = expected / expected.sum(axis=1, keepdims=True)
    assert [t.get_text() for t in fig.axes[0].texts] == [f"{v:.2f}" for v in rows.ravel()]
    # Without class names, the classes are 0..max label.
    fig = plots.plot_confusion_matrix([0, 2], [2, 2])
    assert [int(t.get_text()) for t in fig.axes[0].texts] == [0, 0, 1, 0, 0, 0, 0, 0, 1]


def test_figures_are_written_through_the_atomic_writer(tmp_path):
    """kcnn._io.save_figure replaces the file in one rename and clears the temporary file a
    killed earlier write of the same figure left behind."""
    stale = tmp_path / ".a.png.0123abcd.tmp.png"
    stale.write_bytes(b"half a png")
    (tmp_path / "a.png").write_bytes(b"old")
    plots.plot_lr_range([1e-3, 1e-2, 1e-1], [2.0, 1.5, 3.0], 1e-2, tmp_path / "a.png")
    assert _png(tmp_path / "a.png") > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o666 & ~umask


def test_plots_imports_matplotlib_only():
    """kcnn.plots is shared by training, inspection and inference: it imports no Keras, no
    TensorFlow and no kcnn package that does, and matplotlib only inside functions."""
    source = Path(plots.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    allowed = {"__future__", "math", "os", "collections.abc", "typing", "numpy", "kcnn._io"}
    lazy = {"matplotlib", "matplotlib.figure", "matplotlib.ticker", "sklearn.metrics"}
    assert imported <= allowed | lazy, imported - allowed - lazy
    top_level = ast.parse(source).body
    for node in top_level:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            assert not set(names) & lazy, names
