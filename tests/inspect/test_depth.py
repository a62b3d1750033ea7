"""Gradient norms per layer, plain against residual stacks, and deep linear networks."""

import keras
import numpy as np
import pytest

from kcnn.inspect._grad import value_and_gradient
from kcnn.inspect.depth import compose_linear, deep_stack, gradient_norms, reinitialize


def _numpy(value) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value), dtype="float64")


def _digits_like(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (n, 8, 8, 1)).astype("float32"), rng.integers(0, 10, n)


def test_gradient_norms_of_softmax_regression_equal_the_formula():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (32, 5)).astype("float32")
    y = rng.integers(0, 3, 32)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, name="linear")])
    model.get_layer("linear").bias.assign(np.array([0.5, -1.0, 0.2], "float32"))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    norms = gradient_norms(model, x, y, loss=loss)
    # mean cross-entropy of softmax(x W + b): dL/dW = x^T (softmax - onehot) / n
    logits = x.astype("float64") @ _numpy(model.get_layer("linear").kernel) + [0.5, -1.0, 0.2]
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    grad = x.T @ (p - np.eye(3)[y]) / 32
    assert list(norms) == ["linear"]
    assert norms["linear"] == pytest.approx(np.linalg.norm(grad), rel=1e-5)


def test_gradient_norms_equal_autodiff_one_kernel_at_a_time():
    x, y = _digits_like()
    # the shapes of the other tests' stacks: JAX compiles each operation once for them all
    model = deep_stack(depth=2, residual=True, filters=8, activation="tanh", name="net")
    norms = gradient_norms(model, x, y)
    assert list(norms) == ["net_stem_conv", "net_block1_conv", "net_block2_conv", "predictions"]
    target = keras.ops.convert_to_tensor(y)
    trainable = [v.value for v in model.trainable_variables]
    frozen = [v.value for v in model.non_trainable_variables]
    for name in norms:
        kernel = model.get_layer(name).kernel
        i = [id(v) for v in model.trainable_variables].index(id(kernel))

        def loss(k, i=i):
            weights = trainable[:i] + [k] + trainable[i + 1 :]
            out, _ = model.stateless_call(weights, frozen, x)
            return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(target, out))

        _, grad = value_and_gradient(loss, kernel)
        assert norms[name] == pytest.approx(np.linalg.norm(grad), rel=1e-4), name
        assert norms[name] > 0


def test_gradient_norms_in_training_mode_leave_the_moving_statistics():
    x, y = _digits_like()
    model = deep_stack(depth=2, residual=True, filters=8, batch_norm=True)
    bn = model.get_layer("residual2_block2_bn")
    bn.moving_variance.assign(np.full(8, 9.0, "float32"))
    train = gradient_norms(model, x, y, training=True)
    infer = gradient_norms(model, x, y, training=False)
    np.testing.assert_array_equal(_numpy(bn.moving_variance), np.full(8, 9.0))
    np.testing.assert_array_equal(_numpy(bn.moving_mean), np.zeros(8))
    assert list(train) == ["residual2_stem_conv", "residual2_block1_conv",
                           "residual2_block2_conv", "predictions"]  # fmt: skip
    assert abs(train["residual2_block1_conv"] / infer["residual2_block1_conv"] - 1) > 0.01


def test_gradient_norms_refusals():
    x, y = _digits_like(4)
    model = deep_stack(depth=1, filters=8)
    with pytest.raises(TypeError, match="model must be a keras.Model. Received: str"):
        gradient_norms("plain1", x, y)
    with pytest.raises(ValueError, match="x and y must hold the same number of examples"):
        gradient_norms(model, x, y[:3])
    with pytest.raises(ValueError, match="loss must name a Keras loss. Received: loss='nope'"):
        gradient_norms(model, x, y, loss="nope")
    with pytest.raises(TypeError, match="training must be a bool. Received: str"):
        gradient_norms(model, x, y, training="yes")
    no_kernel = keras.Sequential([keras.Input((3,)), keras.layers.Activation("relu")])
    with pytest.raises(ValueError, match="has no layer with a trainable kernel"):
        gradient_norms(no_kernel, np.ones((2, 3)), np.zeros(2))


def test_deep_stack_plain_and_residual_share_their_layers():
    with keras.StatelessScope(initialize_variables=False):  # shapes only: fast on JAX
        plain = deep_stack(depth=3, residual=False, filters=4)
        residual = deep_stack(depth=3, residual=True, filters=4)
        with_bn = deep_stack(depth=2, batch_norm=True, name="net")
    assert plain.name == "plain3" and residual.name == "residual3"
    assert (
        plain.count_params()
        == residual.count_params()
        == ((9 * 1 + 1) * 4 + 3 * (9 * 4 + 1) * 4 + (4 + 1) * 10)
    )
    names = [layer.name for layer in residual.layers]
    assert "residual3_block3_add" in names and "residual3_block1_conv" in names
    assert not any(name.endswith("_add") for name in (layer.name for layer in plain.layers))
    assert residual.output_shape == (None, 10) and names[-1] == "predictions"
    assert with_bn.get_layer("net_block2_bn").momentum == 0.9
    with pytest.raises(ValueError, match="depth must be an integer >= 1. Received: depth=0"):
        deep_stack(depth=0)
    with pytest.raises(ValueError, match="activation must be a Keras activation name"):
        deep_stack(activation="nope")
    with pytest.raises(TypeError, match="residual must be a bool. Received: str"):
        deep_stack(residual="yes")
    with pytest.raises(ValueError, match="input_shape must be 3 positive integers"):
        deep_stack(input_shape=(8, 8))


def test_plain_stack_gradient_vanishes_residual_does_not():
    x, y = _digits_like()
    norms = {}
    for activation in ("relu", "sigmoid"):
        for residual in (False, True):
            keras.utils.set_random_seed(0)
            model = deep_stack(depth=10, residual=residual, activation=activation, filters=8)
            norms[activation, residual] = gradient_norms(model, x, y)
    first, last = "block1_conv", "block10_conv"

    def at(key, block):
        return norms[key][f"{'residual' if key[1] else 'plain'}10_{block}"]

    # ReLU with Glorot initialisation: each plain layer halves the signal's variance on the
    # way up and the gradient's on the way down; the shortcuts keep both
    assert at(("relu", False), first) < 0.05 * at(("relu", True), first)
    # sigmoid (slope <= 1/4): the plain stack's gradient shrinks toward the input
    assert at(("sigmoid", False), first) < 1e-4 * at(("sigmoid", False), last)
    assert at(("sigmoid", True), first) > 0.1 * at(("sigmoid", True), last)
    assert at(("sigmoid", False), first) < 1e-4 * at(("sigmoid", True), first)


@pytest.mark.learning
@pytest.mark.slow
# PyTorch's CPU convolutions make this 93 s alone and 345 s beside the suite's other worker
# (35-60 s on TensorFlow and JAX); its numbers below were measured once.
@pytest.mark.rotate(backends=("tensorflow", "jax"))
def test_on_the_digits_the_residual_stack_learns_where_the_plain_one_does_not():
    """The training claim of "Why depth needs skip connections": 20 ReLU blocks, 5 epochs of
    Adam, seeds 0-2. Measured test accuracy, plain / residual: tensorflow 0.10-0.18 /
    0.89-0.93, and 0.10-0.30 / 0.88-0.93 on a CPU where TensorFlow runs oneDNN's custom
    operations; jax 0.10 / 0.10, 0.46, 0.80 (one residual seed stays at chance); torch 0.10 /
    0.81-0.96."""
    import kcnn

    data = kcnn.data.load_dataset("digits")
    accuracy = {}
    for residual in (False, True):
        keras.utils.set_random_seed(0)
        model = deep_stack(20, residual=residual)
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        for seed in (0, 1, 2):
            reinitialize(model, seed)
            model.fit(data.x_train, data.y_train, batch_size=32, epochs=5, verbose=0)
            accuracy[residual, seed] = model.evaluate(data.x_test, data.y_test, verbose=0)[1]
    plain = [accuracy[False, s] for s in (0, 1, 2)]
    residual = [accuracy[True, s] for s in (0, 1, 2)]
    print({"plain": plain, "residual": residual})
    assert max(plain) < 0.35, plain  # chance is 0.10
    assert max(residual) > 0.75, residual
    assert sorted(residual)[1] > 0.4, residual  # two seeds of three learn at least


@pytest.mark.parametrize("use_bias", [True, False])
def test_compose_linear_reproduces_the_model(use_bias):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (16, 4, 4, 1)).astype("float32")
    layers = [keras.Input((4, 4, 1)), keras.layers.Flatten()]
    layers += [keras.layers.Dense(units, use_bias=use_bias) for units in (12, 8, 8, 3)]
    model = keras.Sequential(layers)
    for layer in model.layers[1:]:
        if use_bias:
            layer.bias.assign(rng.normal(0, 1, layer.bias.shape).astype("float32"))
    weights, bias = compose_linear(model)
    assert weights.shape == (16, 3) and bias.shape == (3,)
    assert np.abs(bias).max() > 0.1 if use_bias else not bias.any()
    expected = _numpy(model(x))
    np.testing.assert_allclose(x.reshape(16, -1) @ weights + bias, expected, atol=1e-5)


def test_compose_linear_refusals():
    relu = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu", name="d")])
    with pytest.raises(ValueError, match="Received: layer 'd' with activation='relu'"):
        compose_linear(relu)
    conv = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3, name="c")])
    with pytest.raises(ValueError, match="Received: layer 'c' of type Conv2D"):
        compose_linear(conv)
    inputs = keras.Input((4,))
    shared = keras.layers.Dense(4, name="shared")
    twice = keras.Model(inputs, shared(shared(inputs)))  # one layer, applied two times
    with pytest.raises(ValueError, match="form one chain, each used once"):
        compose_linear(twice)
    a = keras.layers.Dense(4, name="a")(inputs)
    skip = keras.Model(inputs, keras.layers.Add(name="add")([a, inputs]))
    with pytest.raises(ValueError, match="Received: layer 'add' of type Add"):
        compose_linear(skip)
    with pytest.raises(TypeError, match="model must be a keras.Model"):
        compose_linear([np.eye(2)])


def test_reinitialize_gives_a_fresh_models_weights_and_training():
    x, y = _digits_like()

    def build():
        return keras.Sequential(
            [keras.Input((8, 8, 1)), keras.layers.Flatten(),
             keras.layers.Dense(6, activation="relu"), keras.layers.BatchNormalization(),
             keras.layers.Dense(10, activation="softmax")]
        )  # fmt: skip

    keras.utils.set_random_seed(3)
    fresh = [_numpy(w) for w in build().weights]
    keras.utils.set_random_seed(7)
    model = build()
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    trained_once = [_numpy(w) for w in model.weights]
    reinitialize(model, 3)
    assert all(np.array_equal(_numpy(w), f) for w, f in zip(model.weights, fresh))
    assert int(_numpy(model.optimizer.iterations)) == 0
    reinitialize(model, 7)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for w, t in zip(model.weights, trained_once):  # the same run again, step for step
        np.testing.assert_allclose(_numpy(w), t, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="seed must be an integer >= 0. Received: seed=-1"):
        reinitialize(model, -1)
