"""Why depth needs skip connections: the gradient each layer receives, a deep plain stack
against the same stack with identity shortcuts, and a deep linear network collapsed into one
matrix.

Backpropagation multiplies, layer by layer, the gradient that reaches the top of a network by
each layer's Jacobian. In a plain stack ``x_{l+1} = f_l(x_l)`` the gradient reaching layer
``l`` is a product of ``L - l`` such factors: when they are smaller than one it shrinks
geometrically toward the input (it *vanishes*), and the first layers hardly learn. A residual
block computes ``x_{l+1} = x_l + f_l(x_l)``, whose Jacobian is ``I + f_l'``: the identity term
carries the gradient from the top to every layer unchanged, whatever the branches do.

Depth without nonlinearities buys nothing at all: a stack of linear layers is one linear map,
``x W_1 W_2 ... W_L``, so it can only be as good as one linear classifier (`compose_linear`).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from kcnn._validate import check_int, check_type
from kcnn.inspect._grad import value_and_weight_gradients
from kcnn.inspect._graph import _check_model, _walk

__all__ = [
    "compose_linear",
    "deep_stack",
    "gradient_norms",
    "reinitialize",
]


def gradient_norms(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    loss: str | keras.losses.Loss | Callable = "sparse_categorical_crossentropy",
    training: bool = False,
) -> dict[str, float]:
    """The norm of the loss gradient with respect to each layer's kernel, at the model's
    current weights.

    Args:
        model: a built Keras model with one input and one output.
        x: a batch of inputs (NumPy array or tensor).
        y: the batch's targets, as ``loss`` takes them.
        loss: a Keras loss name, a `keras.losses.Loss` or a function ``loss(y_true,
            y_pred)``. For a model that outputs logits pass
            ``keras.losses.SparseCategoricalCrossentropy(from_logits=True)``. Defaults to
            ``"sparse_categorical_crossentropy"``.
        training: call the model in training mode (BatchNorm normalises with the batch's
            statistics, Dropout drops), as ``fit`` does; the moving statistics are left as
            they were either way. Defaults to False.

    Returns:
        ``{layer name: ||dL/dkernel||}`` (the Frobenius norm) for every layer with a
        trainable ``kernel`` (Conv, Dense), from the input to the output, nested models
        included.

    Raises:
        TypeError: ``model`` is not a Keras model.
        ValueError: the model has no layer with a trainable kernel, or ``x`` and ``y`` hold
            different numbers of examples.

    Example:
        ```python
        model = deep_stack(depth=20, residual=False)
        norms = gradient_norms(model, data.x_train[:256], data.y_train[:256])
        norms["plain20_block1_conv"] / norms["plain20_block20_conv"]
        ```
    """
    _check_model(model)
    if not isinstance(training, bool):
        raise TypeError(f"training must be a bool. Received: {type(training).__name__}")
    loss_fn = _loss_function(loss)
    x = np.asarray(keras.ops.convert_to_numpy(x), dtype="float32")
    y = np.asarray(keras.ops.convert_to_numpy(y))
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(
            "x and y must hold the same number of examples, at least one. "
            f"Received: x with {len(x)} and y with {len(y)}"
        )
    index = {id(v): i for i, v in enumerate(model.trainable_weights)}
    kernels = []
    for layer in _walk(model):
        kernel = getattr(layer, "kernel", None)
        if kernel is not None and id(kernel) in index:
            kernels.append((layer.name, index[id(kernel)]))
    if not kernels:
        raise ValueError(
            f"model {model.name!r} has no layer with a trainable kernel (Conv, Dense). "
            "Received: a model with none"
        )
    target = keras.ops.convert_to_tensor(y)
    _, grads = value_and_weight_gradients(
        model, lambda out: keras.ops.mean(loss_fn(target, out)), x, training=training
    )
    return {name: float(np.linalg.norm(grads[i])) for name, i in kernels}


def _loss_function(loss) -> Callable:
    if isinstance(loss, str):
        try:
            return keras.losses.get(loss)
        except ValueError:
            raise ValueError(f"loss must name a Keras loss. Received: loss={loss!r}") from None
    if not callable(loss):
        raise TypeError(
            "loss must be a Keras loss name, a keras.losses.Loss or a function. "
            f"Received: {type(loss).__name__}"
        )
    return loss


def deep_stack(
    depth: int = 20,
    residual: bool = False,
    *,
    filters: int = 16,
    input_shape: tuple = (8, 8, 1),
    num_classes: int = 10,
    activation: str = "relu",
    batch_norm: bool = False,
    name: str | None = None,
) -> keras.Model:
    """A stack of ``depth`` 3x3 convolutions of one width, plain or with identity shortcuts.

    A 3x3 stem convolution maps the image to ``filters`` channels; then come ``depth``
    blocks ``f``, each ``(BatchNorm ->) activation -> 3x3 conv`` (the "pre-activation"
    order of He et al.'s second paper); a last ``(BatchNorm ->) activation``, global average
    pooling and a softmax classifier end it. A plain block outputs ``f(x)``; with
    ``residual=True`` it outputs ``x + f(x)``: the same layers with the same weights, only
    the shortcuts differ. Every convolution keeps the image size (``padding="same"``), so
    the shortcuts need no projection. The weights keep Keras' default initialisation.

    Args:
        depth: number of blocks (convolutions besides the stem). Defaults to 20.
        residual: add each block's input to its output. Defaults to False.
        filters: channels of every convolution. Defaults to 16.
        input_shape: image shape. Defaults to ``(8, 8, 1)`` (the digits).
        num_classes: classes of the softmax classifier. Defaults to 10.
        activation: a Keras activation name. Defaults to ``"relu"``.
        batch_norm: BatchNormalization (momentum 0.9) before every block's activation and
            the last one. Defaults to False.
        name: the model's name and its layers' prefix. Defaults to ``"residual{depth}"`` or
            ``"plain{depth}"``.

    Returns:
        A `keras.Model` whose layers are named ``{name}_stem_conv``, then
        ``{name}_block{i}_bn``, ``_act``, ``_conv`` and ``_add`` (``i`` from 1 at the
        input), then ``{name}_bn``, ``{name}_act``, ``{name}_pool`` and ``predictions``.

    Raises:
        ValueError: a count below 1 (``num_classes`` below 2), a bad ``input_shape`` or an
            unknown activation.
        TypeError: ``residual`` or ``batch_norm`` is not a bool.

    Example:
        ```python
        plain = deep_stack(depth=20, residual=False)
        resnet = deep_stack(depth=20, residual=True)
        ```

    References:
        He, Zhang, Ren, Sun. Deep residual learning for image recognition. CVPR 2016.
        He, Zhang, Ren, Sun. Identity mappings in deep residual networks. ECCV 2016.
    """
    check_int("depth", depth, 1)
    check_type("residual", residual, bool, "a bool")
    check_int("filters", filters, 1)
    check_int("num_classes", num_classes, 2)
    check_type("batch_norm", batch_norm, bool, "a bool")
    try:
        keras.activations.get(activation)
    except ValueError:
        raise ValueError(
            f"activation must be a Keras activation name. Received: activation={activation!r}"
        ) from None
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            f"input_shape must be 3 positive integers. Received: input_shape={input_shape!r}"
        )
    name = name or f"{'residual' if residual else 'plain'}{depth}"
    layers = keras.layers
    inputs = keras.Input(tuple(input_shape), name=f"{name}_image")
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_stem_conv")(inputs)
    for i in range(1, depth + 1):
        block = f"{name}_block{i}"
        h = layers.BatchNormalization(momentum=0.9, name=f"{block}_bn")(x) if batch_norm else x
        h = layers.Activation(activation, name=f"{block}_act")(h)
        h = layers.Conv2D(filters, 3, padding="same", name=f"{block}_conv")(h)
        x = layers.Add(name=f"{block}_add")([x, h]) if residual else h
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x) if batch_norm else x
    x = layers.Activation(activation, name=f"{name}_act")(x)
    x = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


def compose_linear(model: keras.Model) -> tuple[np.ndarray, np.ndarray]:
    """The one matrix and bias of a stack of linear ``Dense`` layers.

    ``(x W_1 + b_1) W_2 + b_2 = x (W_1 W_2) + (b_1 W_2 + b_2)``: applied layer after
    layer, any number of ``Dense`` layers without activation are one affine map.

    Args:
        model: a chain of ``Dense`` layers with ``activation=None`` (``"linear"``), with or
            without bias, optionally after a ``Flatten`` (``x`` is then flattened first).

    Returns:
        ``(W, b)`` as float64 NumPy arrays: ``model(x) == x @ W + b`` up to float32
        rounding (``b`` is zeros when no layer has a bias).

    Raises:
        TypeError: ``model`` is not a Keras model.
        ValueError: a layer that is not a linear ``Dense`` layer (or ``Flatten``), or
            layers that do not form one chain, each used once (checked on a random batch).

    Example:
        ```python
        W, b = compose_linear(deep_linear_model)
        np.abs(deep_linear_model.predict(x) - (x.reshape(len(x), -1) @ W + b)).max()
        ```
    """
    _check_model(model)
    weights, bias = None, None
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.layers.Flatten) and weights is None:
            pass
        elif isinstance(layer, keras.layers.Dense):
            if layer.activation not in (keras.activations.linear, None):
                activation = keras.activations.serialize(layer.activation)
                raise ValueError(
                    "compose_linear needs Dense layers without activation. Received: layer "
                    f"{layer.name!r} with activation={activation!r}"
                )
            kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel), dtype="float64")
            b = (
                np.asarray(keras.ops.convert_to_numpy(layer.bias), dtype="float64")
                if layer.use_bias
                else np.zeros(kernel.shape[1])
            )
            if weights is None:
                weights, bias = kernel, b
            else:
                weights, bias = weights @ kernel, bias @ kernel + b
        else:
            raise ValueError(
                "compose_linear needs a chain of linear Dense layers (after an optional "
                f"Flatten). Received: layer {layer.name!r} of type {type(layer).__name__}"
            )
    if weights is None:
        raise ValueError(f"model {model.name!r} has no Dense layer. Received: a model with none")
    # the layers were taken in order, each once: check that the model computes just that
    probe = np.random.default_rng(0).normal(0, 1, (4, *model.input_shape[1:])).astype("float32")
    expected = np.asarray(keras.ops.convert_to_numpy(model(probe)), dtype="float64")
    composed = probe.reshape(4, -1).astype("float64") @ weights + bias
    if composed.shape != expected.shape or not np.allclose(
        composed, expected, rtol=1e-3, atol=1e-3 * (1 + np.abs(expected).max())
    ):
        raise ValueError(
            "compose_linear needs the Dense layers to form one chain, each used once. "
            f"Received: model {model.name!r}, whose output is not the product of its layers"
        )
    return weights, bias


def reinitialize(model: keras.Model, seed: int) -> None:
    """Give a compiled model fresh initial weights and a fresh optimizer state, in place.

    The weights are those a new copy of the model would get after
    ``keras.utils.set_random_seed(seed)`` (drawn by a clone of the model); BatchNorm's moving
    statistics start again from zero mean and unit variance, the optimizer's slots and step
    count from their initial values. The global seed stays set, so the shuffling and the
    dropout of the next ``fit`` follow it too. The compiled training and evaluation steps
    are kept, so training again over several seeds compiles once (on JAX and TensorFlow,
    compiling dominates a short run).

    Args:
        model: a functional or ``Sequential`` Keras model (``keras.models.clone_model``
            must be able to copy it); compiled or not.
        seed: the seed of the new weights.

    Raises:
        TypeError: ``model`` is not a Keras model.
        ValueError: ``seed`` is not an integer >= 0.

    Example:
        ```python
        for seed in (0, 1, 2):
            reinitialize(model, seed)
            model.fit(x, y, epochs=3, verbose=0)
        ```
    """
    check_type("model", model, keras.Model, "a keras.Model")
    check_int("seed", seed, 0)
    keras.utils.set_random_seed(seed)
    fresh = keras.models.clone_model(model)
    model.set_weights(fresh.get_weights())
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and optimizer.built:
        new = optimizer.__class__.from_config(optimizer.get_config())
        new.build(model.trainable_variables)
        for old, value in zip(optimizer.variables, new.variables):
            old.assign(value)
