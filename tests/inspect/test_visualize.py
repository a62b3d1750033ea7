import pytest

import kcnn


def _png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return len(data)


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


#: Every public name kcnn.inspect.visualize held before it was split, and where it lives now.
MOVED = {
    "kcnn.plots": ["plot_history", "plot_histories", "plot_lr_range", "plot_confusion_matrix",
                   "_best_and_stop"],
    "kcnn.inspect.features": ["plot_filters", "plot_feature_maps"],
    "kcnn.inspect.cam": ["grad_cam", "plot_grad_cam"],
    "kcnn.inspect.interpret": ["confusion_matrix_plot", "top_losses", "plot_top_losses",
                               "TopLosses", "SPLITS"],
    "kcnn.inspect.gallery": ["augmentation_gallery"],
}  # fmt: skip


def test_visualize_reexports_every_name_from_its_new_module():
    import importlib

    from kcnn.inspect import visualize

    for module, names in MOVED.items():
        home = importlib.import_module(module)
        for name in names:
            assert getattr(visualize, name) is getattr(home, name), name
            if not name.startswith("_") and name != "SPLITS":
                assert getattr(kcnn.inspect, name) is getattr(home, name), name
    public = sorted(n for names in MOVED.values() for n in names if not n.startswith("_"))
    assert sorted(visualize.__all__) == public
    assert visualize.SPLITS == ("train", "val", "test")
    assert "Interpretation" in kcnn.inspect.__all__
    assert kcnn.inspect.Interpretation.__module__ == "kcnn.inspect.interpret"
