import keras
import numpy as np
import pytest

from kcnn.data.synthetic import far_context_task, pixel_permutation, shuffle_pixels


def _dots(image: np.ndarray) -> np.ndarray:
    """The (row, column) of the bright pixels of one channels-last image, left to right."""
    found = np.argwhere(image[..., 0] == 1.0)
    return found[np.argsort(found[:, 1])]


def test_far_context_task_follows_its_rule():
    size, distance, margin = 24, (8, 13), 5
    x, y = far_context_task(
        600, size=size, distance=distance, margin=margin, seed=3, data_format="channels_last"
    )
    assert x.shape == (600, 24, 24, 1) and x.dtype == np.float32
    assert y.shape == (600,) and y.dtype == np.int32
    assert set(np.unique(x)) == {0.0, 1.0}
    assert y.sum() == 300  # balanced exactly
    offsets, distances = [], []
    for image, label in zip(x, y):
        dots = _dots(image)
        assert len(dots) == 2  # two dots, nothing else
        (row1, col1), (row2, col2) = dots
        assert label == int(row1 == row2)
        distances.append(col2 - col1)
        offsets.append(row2 - row1)
        assert dots.min() >= margin and dots.max() <= size - 1 - margin
    assert min(distances) == distance[0] and max(distances) == distance[1]
    # a different row is any other row: offsets reach both ends of the allowed range
    span = size - 1 - 2 * margin
    assert min(offsets) <= -span + 3 and max(offsets) >= span - 3
    assert len(set(np.asarray(offsets)[y == 0])) > 2 * span - 6


def test_far_context_task_is_reproducible_and_formats():
    a, ya = far_context_task(50, seed=1, data_format="channels_last")
    b, yb = far_context_task(50, seed=1, data_format="channels_first")
    assert b.shape == (50, 1, 24, 24)
    np.testing.assert_array_equal(a[..., 0], b[:, 0])
    np.testing.assert_array_equal(ya, yb)
    c, yc = far_context_task(50, seed=2, data_format="channels_last")
    assert not np.array_equal(a, c)
    odd_x, odd_y = far_context_task(7, size=12, distance=(3, 5), margin=2, seed=0)
    assert odd_y.sum() == 3
    assert odd_x.shape[1:] == (
        (12, 12, 1) if keras.config.image_data_format() == "channels_last" else (1, 12, 12)
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 0}, r"n must be an integer >= 1\. Received: n=0"),
        (
            {"n": 10, "distance": (9, 14)},
            r"distance must be .*<= 13 .*Received: distance=\(9, 14\)",
        ),
        ({"n": 10, "distance": (5, 4)}, r"Received: distance=\(5, 4\)"),
        ({"n": 10, "distance": 8}, r"Received: distance=8"),
        ({"n": 10, "size": 10, "margin": 5}, r"size >= 2 \* margin \+ 2\. Received: size=10"),
        ({"n": 10, "data_format": "NHWC"}, r"data_format must be one of"),
    ],
)
def test_far_context_task_refuses_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        far_context_task(**kwargs)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_shuffle_pixels_is_one_permutation_for_all_images(data_format):
    rng = np.random.default_rng(0)
    shape = (5, 6, 7, 3) if data_format == "channels_last" else (5, 3, 6, 7)
    x = rng.integers(0, 256, shape).astype("uint8")
    shuffled = shuffle_pixels(x, seed=4, data_format=data_format)
    assert shuffled.shape == x.shape and shuffled.dtype == x.dtype
    assert not np.array_equal(shuffled, x)
    # per image, the same multiset of values; a pixel keeps its channels together
    as_pixels = (
        (lambda a: a.reshape(5, -1, 3))
        if data_format == "channels_last"
        else (lambda a: a.reshape(5, 3, -1).transpose(0, 2, 1))
    )
    for before, after in zip(as_pixels(x), as_pixels(shuffled)):
        np.testing.assert_array_equal(np.sort(before, axis=0), np.sort(after, axis=0))
        assert sorted(map(tuple, before)) == sorted(map(tuple, after))
    # the same permutation for every image, the one pixel_permutation gives
    perm = pixel_permutation(shape[1:], seed=4, data_format=data_format)
    assert sorted(perm) == list(range(6 * 7))
    np.testing.assert_array_equal(as_pixels(shuffled), as_pixels(x)[:, perm])
    # flat indexes the flattened image, in Flatten's order
    flat = pixel_permutation(shape[1:], seed=4, flat=True, data_format=data_format)
    np.testing.assert_array_equal(shuffled.reshape(5, -1), x.reshape(5, -1)[:, flat])
    # the inverse restores; another seed gives another permutation
    restored = shuffle_pixels(shuffled, seed=4, inverse=True, data_format=data_format)
    np.testing.assert_array_equal(restored, x)
    assert not np.array_equal(shuffle_pixels(x, seed=5, data_format=data_format), shuffled)


def test_shuffle_pixels_refuses_bad_arguments():
    with pytest.raises(ValueError, match=r"x must be a batch of images with 4 axes.*\(6, 7, 3\)"):
        shuffle_pixels(np.zeros((6, 7, 3)))
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0\. Received: seed=-1"):
        shuffle_pixels(np.zeros((1, 6, 7, 3)), seed=-1)
    with pytest.raises(ValueError, match=r"image_shape must be three positive integers"):
        pixel_permutation((6, 7))
    with pytest.raises(ValueError, match=r"data_format must be one of"):
        pixel_permutation((6, 7, 1), data_format="last")


def test_rewired_mlp_on_shuffled_images_is_the_same_function():
    """An MLP's first Dense kernel with its rows permuted computes on shuffled images what
    the original computes on the originals: no notion of neighbours to lose."""
    shape = (6, 5, 3) if keras.config.image_data_format() == "channels_last" else (3, 6, 5)
    layers = keras.layers
    model = keras.Sequential(
        [keras.Input(shape), layers.Flatten(), layers.Dense(16, activation="relu"), layers.Dense(4)]
    )
    rewired = keras.models.clone_model(model)
    kernel, *rest = model.get_weights()
    perm = pixel_permutation(shape, seed=7, flat=True)
    rewired.set_weights([kernel[perm], *rest])
    x = np.random.default_rng(1).uniform(size=(8, *shape)).astype("float32")
    shuffled = shuffle_pixels(x, seed=7)
    before = keras.ops.convert_to_numpy(model(x))
    after = keras.ops.convert_to_numpy(rewired(shuffled))
    np.testing.assert_allclose(after, before, rtol=1e-5, atol=1e-5)
    # without the rewiring the outputs differ: the check can fail
    assert np.abs(keras.ops.convert_to_numpy(model(shuffled)) - before).max() > 1e-2
