"""A receptive field too small for the task: the same-row task of `far_context_task`.

Three networks with as many weights: three 3x3 convolutions, global max pooling, a dense
head. Only the field of the last convolution differs: plain (7 pixels), pooled (18),
dilated (15). The dots lie 8 to 13 pixels apart, so only fields of 14 and more see both
dots of every image.
"""

import keras
import numpy as np
import pytest

from kcnn.data.synthetic import far_context_task
from kcnn.inspect.receptive_field import receptive_field

SIZE, DISTANCE, MARGIN = 24, (8, 13), 5


def _convs(
    name: str, dilations=(1, 1, 1), pool: bool = False, size: int = SIZE, init="glorot_uniform"
) -> keras.Model:
    """3x3 convolutions (three by default), global max pooling, a dense head."""
    layers = keras.layers
    channels_last = keras.config.image_data_format() == "channels_last"
    inputs = keras.Input((size, size, 1) if channels_last else (1, size, size))
    x = inputs
    for i, rate in enumerate(dilations, start=1):
        if pool and i > 1:
            x = layers.MaxPooling2D(2, name=f"{name}_pool{i - 1}")(x)
        x = layers.Conv2D(
            8, 3, padding="same", dilation_rate=rate, activation="relu",
            kernel_initializer=init, name=f"{name}_conv{i}",
        )(x)  # fmt: skip
    x = layers.GlobalMaxPooling2D(name=f"{name}_global_max")(x)
    x = layers.Dense(16, activation="relu", kernel_initializer=init, name=f"{name}_dense")(x)
    outputs = layers.Dense(
        2, activation="softmax", kernel_initializer=init, name=f"{name}_predictions"
    )(x)
    return keras.Model(inputs, outputs, name=name)


BUILDERS = {
    "plain": lambda **kw: _convs("plain", **kw),
    "pooled": lambda **kw: _convs("pooled", pool=True, **kw),
    "dilated": lambda **kw: _convs("dilated", dilations=(1, 2, 4), **kw),
}


def _move_right_dots(x: np.ndarray, rows: int) -> np.ndarray:
    """Shift the right half of every image by ``rows`` rows, cyclically within the band of
    rows where dots lie: every right dot moves to another row, the left dots stay."""
    moved = x.copy()
    band, right = slice(MARGIN, SIZE - MARGIN), slice(SIZE // 2, None)
    if keras.config.image_data_format() == "channels_last":
        moved[:, band, right] = np.roll(x[:, band, right], rows, axis=1)
    else:
        moved[:, :, band, right] = np.roll(x[:, :, band, right], rows, axis=2)
    return moved


def _same_row(x: np.ndarray) -> np.ndarray:
    """Whether the left and the right dot of each image lie on the same row."""
    images = x[..., 0] if keras.config.image_data_format() == "channels_last" else x[:, 0]
    left, right = images[:, :, : SIZE // 2], images[:, :, SIZE // 2 :]
    return left.max(axis=2).argmax(axis=1) == right.max(axis=2).argmax(axis=1)


def _pooled(model: keras.Model, x: np.ndarray) -> np.ndarray:
    features = keras.Model(model.input, model.get_layer(f"{model.name}_global_max").output)
    return keras.ops.convert_to_numpy(features(x))


def test_fields_against_the_distance_the_task_needs():
    with keras.StatelessScope(initialize_variables=False):  # the graph is enough
        fields = {
            name: receptive_field(build())[f"{name}_conv3"].field
            for name, build in BUILDERS.items()
        }
    assert fields == {"plain": (7, 7), "pooled": (18, 18), "dilated": (15, 15)}
    assert fields["plain"][1] < DISTANCE[0] + 1  # never both dots
    assert min(fields["pooled"][1], fields["dilated"][1]) >= DISTANCE[1] + 1  # always both


def test_the_plain_network_cannot_see_which_row_whatever_its_weights():
    """Moving the right dots to other rows changes the task's labels but not one pooled
    feature of the plain network, for any weights (here random, with random biases so that
    the feature maps' zero padding differs from their background); the wider networks see
    the move."""
    x, y = far_context_task(64, size=SIZE, distance=DISTANCE, margin=MARGIN, seed=5)
    moved = _move_right_dots(x, 4)
    rng = np.random.default_rng(0)
    changes, scale = {}, 0.0
    for name, build in BUILDERS.items():
        model = build(init="zeros")  # the weights are set below
        model.set_weights(
            [rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()]
        )
        base = _pooled(model, x)
        assert base.std() > 0.01  # the features respond to the dots
        scale = max(scale, float(np.abs(base).max()))
        changes[name] = np.abs(_pooled(model, moved) - base).max()
    assert changes["plain"] < 1e-5 * scale
    assert changes["pooled"] > 1e-2 * scale and changes["dilated"] > 1e-2 * scale
    # the move changed what the images mean: every same-row image became a different-row one
    assert y.sum() == 32 and not _same_row(moved)[y == 1].any()
    np.testing.assert_array_equal(_same_row(x), y == 1)


def _accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(keras.ops.convert_to_numpy(model(x)).argmax(-1) == y))


@pytest.mark.slow
@pytest.mark.learning
@pytest.mark.rotate
def test_only_a_wide_enough_field_learns_the_same_row_task():
    """The same task at a quarter of the cost (16x16 images, dots 6 to 9 pixels apart, two
    convolutions): a plain field of 5 pixels stays at chance, a dilated field of 11 learns."""
    task = dict(size=16, distance=(6, 9), margin=3)
    x, y = far_context_task(640, seed=10, **task)
    x_test, y_test = far_context_task(500, seed=11, **task)
    scores = {}
    for name, dilations in (("plain", (1, 1)), ("dilated", (1, 4))):
        keras.utils.set_random_seed(0)
        model = _convs(name, dilations, size=16)
        assert receptive_field(model)[f"{name}_conv2"].field[1] == {"plain": 5, "dilated": 11}[name]
        model.compile(keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=64, epochs=4, verbose=0)
        scores[name] = _accuracy(model, x_test, y_test)
    assert scores["plain"] < 0.6, scores
    assert scores["dilated"] > 0.9, scores


@pytest.mark.slow
@pytest.mark.learning
@pytest.mark.rotate
def test_shuffled_pixels_cost_a_convolutional_network_its_accuracy(fashion_mnist):
    """The shuffle claim of "When the field is too small, and when sharing does not fit":
    the page's all-convolutional CNN (3,330 weights, global average pooling), 6 epochs on
    200 Fashion-MNIST images per class, starts 0 and 1, tested on 1,000 images. Measured,
    photos / shuffled: tensorflow 0.71, 0.67 / 0.49, 0.33; jax 0.60, 0.71 / 0.51, 0.46;
    torch 0.64, 0.71 / 0.45, 0.46. The MLP's side is exact and checked in
    tests/data/test_synthetic.py."""
    from kcnn.data.synthetic import shuffle_pixels

    layers = keras.layers
    data = fashion_mnist.subset(per_class=200)
    x, y = np.asarray(data.x_train), np.asarray(data.y_train)
    x_test, y_test = np.asarray(data.x_test[:1000]), np.asarray(data.y_test[:1000])
    conv = dict(kernel_size=3, padding="same", activation="relu")
    scores = {"photos": [], "shuffled": []}
    for start in (0, 1):
        for version in scores:
            keras.utils.set_random_seed(start)
            model = keras.Sequential(
                [
                    keras.Input(x.shape[1:]),
                    layers.Conv2D(8, **conv),
                    layers.MaxPooling2D(2),
                    layers.Conv2D(8, **conv),
                    layers.MaxPooling2D(2),
                    layers.Conv2D(32, **conv),
                    layers.GlobalAveragePooling2D(),
                    layers.Dense(10, activation="softmax"),
                ]
            )  # fmt: skip
            model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
            shuffled = version == "shuffled"
            train = shuffle_pixels(x, seed=0) if shuffled else x
            check = shuffle_pixels(x_test, seed=0) if shuffled else x_test
            model.fit(train, y, batch_size=50, epochs=6, verbose=0)
            predicted = keras.ops.convert_to_numpy(model(check, training=False)).argmax(-1)
            scores[version].append(float(np.mean(predicted == y_test)))
    print(scores)
    photos, shuffled = np.mean(scores["photos"]), np.mean(scores["shuffled"])
    assert photos > 0.55, scores
    assert photos - shuffled >= 0.1, scores
