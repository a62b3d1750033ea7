"""Small, fast configurations of every registered model, for round-trip tests."""

SMALL_KWARGS = {
    "lenet5": {"input_shape": (28, 28, 1)},
    "simple_cnn": {"input_shape": (16, 16, 1)},
    "mlp": {"input_shape": (8, 8, 1), "hidden_units": (16,)},
    **{f"resnet{d}": {"input_shape": (16, 16, 3)} for d in (20, 32, 44, 56, 110)},
    **{f"resnet{d}": {"input_shape": (32, 32, 3)} for d in (18, 34, 50, 101, 152)},
    **{f"vgg{d}": {"input_shape": (32, 32, 3), "dense_units": (32, 32)} for d in (11, 13, 16, 19)},
    **{
        f"vgg{d}_cifar": {"input_shape": (32, 32, 3), "dense_units": (32,)}
        for d in (11, 13, 16, 19)
    },
}

#: Registered models outside the families' shared arguments (no include_top, activation, ...).
WRAPPER_KWARGS = {
    "transfer": {
        "backbone": "mobilenet_v2", "weights": None, "input_shape": (32, 32, 3),
        "backbone_kwargs": {"alpha": 0.35},
    },
}  # fmt: skip
