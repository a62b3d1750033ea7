"""The fully connected baseline: what a CNN is compared against.

An MLP flattens the image, so it has no notion of neighbouring pixels and no weight sharing:
on a 28x28x1 image its first layer of 512 units alone has 401,920 weights, more than all of
SimpleCNN's convolutions, and a shifted digit is a new input to it.
"""

from __future__ import annotations

import keras

from kcnn.models import _common
from kcnn.models.registry import register_model


def build_mlp(
    num_classes: int = 10,
    input_shape: tuple = (28, 28, 1),
    include_top: bool = True,
    pooling: str | None = None,
    hidden_units: tuple = (512, 256),
    dropout: float = 0.2,
    activation: str = "relu",
    classifier_activation: str | None = "softmax",
    name: str = "mlp",
) -> keras.Model:
    """Build a multilayer perceptron on flattened images.

    Args:
        num_classes: number of output classes. Defaults to 10.
        input_shape: image shape. Defaults to ``(28, 28, 1)``.
        include_top: whether to add the classifier; without it the model returns the last
            hidden layer. Defaults to True.
        pooling: must be None: an MLP has no spatial feature map to pool. Accepted so that
            every builder takes the same arguments. Defaults to None.
        hidden_units: width of each hidden layer. Defaults to ``(512, 256)``.
        dropout: dropout rate after every hidden layer; 0 disables it. Defaults to 0.2.
        activation: hidden activation. Defaults to ``"relu"``.
        classifier_activation: activation of ``predictions``; ``None`` gives logits.
            Defaults to ``"softmax"``.
        name: model name and layer-name prefix. Defaults to ``"mlp"``.

    Returns:
        A `keras.Model`.

    Example:
        ```python
        model = kcnn.build_model("mlp", hidden_units=(256,), dropout=0.0)
        ```

    References:
        Rumelhart, Hinton, Williams. Learning representations by back-propagating errors.
        Nature 323, 1986.
    """
    _common.check_common(
        num_classes=num_classes,
        include_top=include_top,
        pooling=pooling,
        activation=activation,
        classifier_activation=classifier_activation,
        name=name,
    )
    if pooling is not None:
        raise ValueError(
            "pooling must be None for an MLP: it has no spatial feature map to pool. "
            f"Received: pooling={pooling!r}"
        )
    hidden_units = _common.check_positive_ints("hidden_units", hidden_units, allow_empty=True)
    dropout = _common.check_rate("dropout", dropout)
    input_shape = _common.check_input_shape(input_shape, model=name)

    inputs = keras.Input(shape=input_shape, name=f"{name}_input")
    x = keras.layers.Flatten(name=f"{name}_flatten")(inputs)
    for index, units in enumerate(hidden_units, start=1):
        x = _common.dense(x, units, name=f"{name}_dense{index}", pytorch=False)
        x = _common.activation_layer(activation, f"{name}_dense{index}_{activation}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"{name}_dropout{index}")(x)
    if include_top:
        x = _common.classifier(x, num_classes, classifier_activation, pytorch=False)
    return keras.Model(inputs, x, name=name)


@register_model("mlp")
def mlp(**kwargs) -> keras.Model:
    """Fully connected baseline: flatten, dense 512 and 256 with dropout 0.2; 28x28x1 input."""
    return build_mlp(**kwargs)
