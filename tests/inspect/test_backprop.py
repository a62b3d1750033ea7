"""Backpropagation by hand: the formulas equal autodiff, and one SGD step equals model.fit's."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kcnn
from kcnn.inspect._grad import value_and_gradient, value_and_weight_gradients
from kcnn.inspect.backprop import (
    conv2d_backward,
    conv2d_backward_autodiff,
    cross_entropy_autodiff,
    dense_backward,
    fit_one_step,
    softmax_cross_entropy,
    train_step_by_hand,
)


def _conv_case(x_shape, kernel_shape, strides, padding, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=x_shape).astype("float32")
    kernel = rng.normal(size=kernel_shape).astype("float32")
    out = keras.ops.conv(x, kernel, strides=strides, padding=padding)
    g = rng.normal(size=tuple(out.shape)).astype("float32")
    return x, kernel, g


def _reference_sums(x, kernel, g, strides):
    """The chain rule's sums, one loop per index, for 'valid' padding."""
    (sr, sc), (kr, kc) = strides, kernel.shape[:2]
    grad_kernel, grad_input = np.zeros_like(kernel), np.zeros_like(x)
    for n, i, j in np.ndindex(*g.shape[:3]):
        window = x[n, sr * i : sr * i + kr, sc * j : sc * j + kc]  # (kr, kc, channels)
        grad_kernel += window[..., None] * g[n, i, j]
        grad_input[n, sr * i : sr * i + kr, sc * j : sc * j + kc] += kernel @ g[n, i, j]
    return grad_kernel, grad_input, g.sum(axis=(0, 1, 2))


@pytest.mark.parametrize(
    "x_shape, kernel_shape, strides, padding",
    [
        ((1, 6, 6, 2), (3, 3, 2, 3), 1, "valid"),
        ((2, 7, 7, 2), (3, 3, 2, 3), 2, "valid"),
        ((2, 7, 8, 1), (3, 2, 1, 2), (2, 3), "same"),
    ],
)
def test_conv_gradients_by_formula_equal_autodiff(x_shape, kernel_shape, strides, padding):
    x, kernel, g = _conv_case(x_shape, kernel_shape, strides, padding)
    hand = conv2d_backward(x, kernel, g, strides=strides, padding=padding)
    auto = conv2d_backward_autodiff(x, kernel, g, strides=strides, padding=padding)
    for name, h, a, like in zip(("kernel", "input", "bias"), hand, auto, (kernel, x, g[0, 0, 0])):
        assert h.shape == a.shape == like.shape, name
        np.testing.assert_allclose(h, a, atol=1e-5, err_msg=name)
    assert np.abs(hand.input).max() > 0.1  # a real gradient, not zeros on both sides


def test_conv_gradients_equal_the_sums_of_the_chain_rule():
    # 8 rows, stride 3, kernel 3: two windows (rows 0-2, 3-5); rows 6 and 7 get no gradient.
    x, kernel, g = _conv_case((2, 8, 7, 2), (3, 3, 2, 3), (3, 2), "valid", seed=1)
    hand = conv2d_backward(x, kernel, g, strides=(3, 2))
    for got, expected in zip(hand, _reference_sums(x, kernel, g, (3, 2))):
        np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not hand.input[:, 6:].any() and hand.input[:, 5].all()


def test_one_channel_worked_example():
    x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    k = np.array([[1, 2], [-1, 0]], "float32").reshape(2, 2, 1, 1)
    g = np.array([[1, 0, -1], [0, 2, 0], [1, 0, 0]], "float32").reshape(1, 3, 3, 1)
    grads = conv2d_backward(x, k, g)
    assert grads.kernel[0, 0, 0, 0] == np.sum(x[0, :3, :3, 0] * g[0, ..., 0])
    assert grads.input[0, 0, 0, 0] == g[0, 0, 0, 0] * k[0, 0, 0, 0]
    full = np.pad(g[0, ..., 0], 1)
    flipped = np.flip(k[..., 0, 0])
    expected = [[np.sum(full[i : i + 2, j : j + 2] * flipped) for j in range(4)] for i in range(4)]
    np.testing.assert_array_equal(grads.input[0, ..., 0], expected)
    assert grads.bias.tolist() == [3.0]


#: Bad arguments of conv2d_backward, and the start of what each must raise (one test walks
#: them all: each test of this suite first resets Keras, which takes a while on some backends).
BAD_CONV_ARGUMENTS = [
    ({"padding": "full"}, "padding must be one of"),
    ({"padding": "causal"}, "padding must be one of"),
    ({"strides": 0}, "strides must be an integer >= 1"),
    ({"strides": (1, 2, 3)}, r"strides must be .* Received: strides=\(1, 2, 3\)"),
    ({"strides": 1.5}, "strides must be an integer >= 1 or a pair of them"),
    ({"kernel": np.ones((3, 3, 1, 3), "float32")}, "kernel must have shape"),
    ({"kernel": np.ones((9, 9, 2, 3), "float32")}, "kernel must fit"),
    ({"x": np.ones((6, 6, 2), "float32")}, "x must have 4 axes"),
    ({"grad_output": np.ones((1, 6, 6, 3), "float32")}, r"grad_output must have .*\(1, 4, 4, 3\)"),
]


def test_conv2d_backward_refuses_bad_arguments():
    x, kernel, g = _conv_case((1, 6, 6, 2), (3, 3, 2, 3), 1, "valid")
    for change, match in BAD_CONV_ARGUMENTS:
        arguments = {"x": x, "kernel": kernel, "grad_output": g, **change}
        with pytest.raises(ValueError, match=match):
            conv2d_backward(**arguments)
        with pytest.raises(ValueError, match=match):
            conv2d_backward_autodiff(**arguments)


def test_dense_gradients_by_formula_equal_autodiff():
    rng = np.random.default_rng(2)
    h = rng.normal(size=(5, 7)).astype("float32")
    w = rng.normal(size=(7, 3)).astype("float32")
    g = rng.normal(size=(5, 3)).astype("float32")
    grads = dense_backward(h, w, g)

    def loss(inputs, kernel, bias):
        return keras.ops.sum(keras.ops.convert_to_tensor(g) * (inputs @ kernel + bias))

    tensor = keras.ops.convert_to_tensor
    bias = np.zeros(3, "float32")
    np.testing.assert_allclose(
        grads.kernel,
        value_and_gradient(lambda k: loss(tensor(h), k, tensor(bias)), w)[1],
        atol=1e-5,
    )
    np.testing.assert_allclose(
        grads.input, value_and_gradient(lambda v: loss(v, tensor(w), tensor(bias)), h)[1], atol=1e-5
    )
    np.testing.assert_allclose(grads.bias, g.sum(axis=0), atol=1e-5)
    with pytest.raises(ValueError, match="kernel must have 7 rows"):
        dense_backward(h, w.T, g)
    with pytest.raises(ValueError, match=r"grad_output must have shape \(5, 3\)"):
        dense_backward(h, w, g[:4])


def test_logits_gradient_formula_equals_autodiff():
    rng = np.random.default_rng(3)
    logits = (rng.normal(size=(6, 10)) * 4).astype("float32")
    logits[0] += 80.0  # exp() would overflow without subtracting the row's maximum
    labels = rng.integers(0, 10, size=6)
    loss, grad = softmax_cross_entropy(logits, labels)
    keras_loss, keras_grad = cross_entropy_autodiff(logits, labels)
    assert np.isfinite(loss) and loss > 0
    assert abs(loss - keras_loss) < 1e-5
    np.testing.assert_allclose(grad, keras_grad, atol=1e-5)
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-6)
    assert (grad[np.arange(6), labels] < 0).all()


def test_cross_entropy_refuses_bad_labels():
    logits = np.zeros((3, 4), "float32")
    for labels, match in [
        (np.array([0, 1, 9]), r"labels must be class indices in \[0, 4\)"),
        (np.array([0, 1]), "labels must be 3 integer class indices, one per example"),
        (np.array([0.0, 1.0, 2.0]), "labels must be 3 integer class indices"),
    ]:
        for function in (softmax_cross_entropy, cross_entropy_autodiff):
            with pytest.raises(ValueError, match=match):
                function(logits, labels)
    with pytest.raises(ValueError, match="logits must have 2 axes"):
        softmax_cross_entropy(np.zeros(4, "float32"), np.array([1]))


def test_weight_gradients_of_a_dense_layer():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    x = np.arange(12, dtype="float32").reshape(4, 3)
    before = [w.copy() for w in model.get_weights()]
    value, (grad_kernel, grad_bias) = value_and_weight_gradients(
        model, lambda out: keras.ops.sum(out[:, 1]), x
    )
    expected = float((x @ before[0][:, 1]).sum() + 4 * before[1][1])
    assert value == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(grad_kernel, np.stack([np.zeros(3), x.sum(axis=0)], axis=1))
    np.testing.assert_allclose(grad_bias, [0.0, 4.0])
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def digits_batch():
    data = kcnn.data.load_dataset("digits")
    return np.asarray(data.x_train[:8]), np.asarray(data.y_train[:8])


def _tiny_model():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(10, name="logits"),
        ]
    )


def test_train_step_by_hand_equals_one_step_of_fit(digits_batch):
    x, y = digits_batch
    model = _tiny_model()
    before = [w.copy() for w in model.get_weights()]
    step = train_step_by_hand(model, x, y, 0.5)
    fit_loss, fit_weights = fit_one_step(model, x, y, 0.5)
    assert abs(step.loss - fit_loss) < 1e-5
    assert len(step.weights) == len(fit_weights) == 4
    for hand, fit, old in zip(step.weights, fit_weights, before):
        np.testing.assert_allclose(hand, fit, atol=1e-5)
        assert np.abs(fit - old).max() > 1e-3  # the step moved the weights
    for a, b in zip(before, model.get_weights()):  # neither touched the model
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(step.probabilities.sum(axis=1), 1.0, atol=1e-6)
    onehot = np.eye(10, dtype="float32")[y]
    np.testing.assert_allclose(step.logits_gradient, (step.probabilities - onehot) / 8, atol=1e-6)

    # The chain rule by hand, layer by layer from the top, gives every weight's gradient.
    conv, dense = model.get_layer("conv"), model.get_layer("logits")
    activations = keras.ops.convert_to_numpy(conv(x))
    top = dense_backward(activations.reshape(8, -1), dense.kernel, step.logits_gradient)
    grad = top.input.reshape(activations.shape) * (activations > 0)
    bottom = conv2d_backward(x, conv.kernel, grad)
    for hand, auto in zip([bottom.kernel, bottom.bias, top.kernel, top.bias], step.gradients):
        np.testing.assert_allclose(hand, auto, atol=1e-5)
    assert np.abs(bottom.kernel).max() > 1e-4


def test_train_step_refuses_bad_arguments(digits_batch):
    x, y = digits_batch
    model = _tiny_model()
    with pytest.raises(ValueError, match="learning_rate must be > 0. Received: learning_rate=0"):
        train_step_by_hand(model, x, y, 0)
    with pytest.raises(ValueError, match="y must be 8 integer class indices"):
        train_step_by_hand(model, x, y[:5], 0.1)
    with pytest.raises(ValueError, match=r"y must be class indices in \[0, 10\)"):
        train_step_by_hand(model, x, y + 10, 0.1)
    with pytest.raises(ValueError, match=r"y must be class indices in \[0, 10\)"):
        fit_one_step(model, x, y + 10, 0.1)
    with pytest.raises(ValueError, match="x must be a non-empty batch"):
        fit_one_step(model, x[:0], y[:0], 0.1)
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        train_step_by_hand("model", x, y, 0.1)
    softmax = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    with pytest.raises(ValueError, match="model must output logits"):
        train_step_by_hand(softmax, np.ones((2, 4)), np.array([0, 1]), 0.1)
    dropout = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dropout(0.5, name="drop"), keras.layers.Dense(3)]
    )
    with pytest.raises(ValueError, match="layer 'drop'"):
        fit_one_step(dropout, np.ones((2, 4)), np.array([0, 1]), 0.1)
