"""Label budgets: splitting a data set into source and target tasks, drawing k labels per
class, and the curve of frozen, fine-tuned and from-scratch accuracy against k."""

import keras
import numpy as np
import pytest

import kcnn
from kcnn.train.label_budget import (
    METHODS,
    LabelBudgetCurve,
    label_budget_curve,
    sample_per_class,
    split_classes,
)

from ..conftest import images


def _data(per_class=(6, 7, 8, 9, 10), shape=(12, 12, 1), test_per_class=2):
    """A data set whose training labels are known: class c has per_class[c] images, and
    every image's first pixel holds its index, so draws can be traced back."""
    y = np.repeat(np.arange(len(per_class)), per_class).astype("int32")
    y = y[np.random.default_rng(1).permutation(len(y))]  # classes interleaved
    x = images(shape, n=len(y), seed=2)
    x[:, 0, 0, 0] = np.arange(len(y)) / 1000
    y_test = np.repeat(np.arange(len(per_class)), test_per_class).astype("int32")
    x_test = images(shape, n=len(y_test), seed=3)
    names = tuple(f"class{c}" for c in range(len(per_class)))
    return kcnn.data.Dataset("toy", x, y, x[:0], y[:0], x_test, y_test, names)


def _ids(data):
    return np.rint(np.asarray(data.x_train)[:, 0, 0, 0] * 1000).astype(int)


# --- split_classes ---------------------------------------------------------------------------


def test_split_classes_makes_disjoint_relabelled_tasks_with_every_image():
    data = _data()
    source, target = split_classes(data, source=[0, 1, 2], target=[4, 3])
    assert source.class_names == ("class0", "class1", "class2")
    assert target.class_names == ("class4", "class3")
    assert np.bincount(source.y_train).tolist() == [6, 7, 8]
    assert np.bincount(target.y_train).tolist() == [10, 9]  # relabelled in the order given
    assert np.bincount(target.y_test).tolist() == [2, 2]
    assert set(_ids(source)).isdisjoint(_ids(target))
    assert len(_ids(source)) + len(_ids(target)) == len(data.y_train)
    original = data.y_train[_ids(target)]
    assert np.array_equal(np.where(original == 4, 0, 1), target.y_train)


@pytest.mark.parametrize(
    "source, target, match",
    [
        ([0, 1, 2], [2, 3], r"no class in common.*source=\[0, 1, 2\], target=\[2, 3\].*\[2\]"),
        ([0, 1], [5], r"target must hold class indices in \[0, 5\).*Received: target=\[5\]"),
        ([-1, 1], [3], r"source must hold class indices in \[0, 5\)"),
        ([], [3], r"source must be a non-empty list of distinct class indices.*source=\[\]"),
        ([0, 0], [3], r"source must be a non-empty list.*source=\[0, 0\]"),
        ([0, 1], [2.0], r"target must be a non-empty list.*target=\[2.0\]"),
        ([0, 1], "3", r"target must be a non-empty list.*target='3'"),
        ([True, 1], [3], r"source must be a non-empty list"),
    ],
)
def test_split_classes_refuses_bad_classes_by_name(source, target, match):
    with pytest.raises(ValueError, match=match):
        split_classes(_data(), source, target)


def test_split_classes_refuses_what_is_not_a_dataset():
    with pytest.raises(TypeError, match="data must be a kcnn.data.Dataset. Received: tuple"):
        split_classes((np.zeros(3), np.zeros(3)), [0], [1])


# --- sample_per_class ------------------------------------------------------------------------


def test_sample_per_class_takes_exact_counts_nested_and_seeded():
    data = _data()
    draws = {k: sample_per_class(data, k, seed=0) for k in (1, 3, 6)}
    for k, drawn in draws.items():
        assert np.bincount(drawn.y_train, minlength=5).tolist() == [k] * 5
        ids = _ids(drawn)
        assert len(set(ids)) == len(ids) == 5 * k  # no image twice
        assert np.array_equal(data.y_train[ids], drawn.y_train)  # labels travel with images
        assert np.array_equal(drawn.y_test, data.y_test) and drawn.x_test is data.x_test
        assert drawn.class_names == data.class_names
        assert drawn.name == f"toy[{k}/class, seed 0]"
    assert set(_ids(draws[1])) < set(_ids(draws[3])) < set(_ids(draws[6]))  # nested
    again = sample_per_class(data, 3, seed=0)
    assert np.array_equal(_ids(again), _ids(draws[3]))  # seeded
    others = [set(_ids(sample_per_class(data, 3, seed=s))) for s in (1, 2, 3)]
    assert any(o != set(_ids(draws[3])) for o in others)
    everything = sample_per_class(data, 6, seed=5)  # the smallest class, whole
    assert set(_ids(everything)) >= set(np.flatnonzero(data.y_train == 0))


@pytest.mark.parametrize(
    "per_class, seed, match",
    [
        (0, 0, r"per_class must be an integer >= 1. Received: per_class=0"),
        (2.0, 0, r"per_class must be an integer >= 1. Received: per_class=2.0"),
        (True, 0, r"per_class must be an integer >= 1. Received: per_class=True"),
        (3, -1, r"seed must be an integer >= 0. Received: seed=-1"),
        (7, 0, r"per_class=7 needs 7 training images of every class, but class 0 \(class0\)"),
    ],
)
def test_sample_per_class_refuses_bad_arguments_by_name(per_class, seed, match):
    with pytest.raises(ValueError, match=match):
        sample_per_class(_data(), per_class, seed=seed)


# --- the curve's arithmetic, table and figure -----------------------------------------------


def _curve():
    accuracy = {
        "frozen": np.array([[0.70, 0.72, 0.74], [0.80, 0.80, 0.80], [0.88, 0.90, 0.89]]),
        "fine_tuned": np.array([[0.66, 0.70, 0.74], [0.82, 0.82, 0.82], [0.91, 0.91, 0.91]]),
        "scratch": np.array([[0.50, 0.50, 0.50], [0.79, 0.80, 0.84], [0.92, 0.92, 0.92]]),
    }
    return LabelBudgetCurve((5, 50, 500), (0, 1, 2), accuracy, steps=10, batch_size=4,
                            target_name="toy")  # fmt: skip


def test_curve_means_advantages_and_crossover():
    curve = _curve()
    assert curve.methods == METHODS
    np.testing.assert_allclose(curve.mean("frozen"), [0.72, 0.80, 0.89])
    np.testing.assert_allclose(curve.std("scratch"), [0.0, np.std([0.79, 0.80, 0.84]), 0.0])
    np.testing.assert_allclose(curve.advantage("frozen"), [0.22, 0.80 - 0.81, 0.89 - 0.92])
    assert curve.crossover("frozen") == 50  # scratch at least as good from 50 on
    assert curve.crossover("fine_tuned") == 500  # ahead at 50, behind at 500
    assert curve.crossover("frozen", over="fine_tuned") == 50  # 0.72 > 0.70 at 5, then behind
    scores = {"frozen": np.array([[0.9], [0.9]]), "scratch": np.array([[0.5], [0.8]])}
    still_ahead = LabelBudgetCurve((5, 50), (0,), scores)
    assert still_ahead.crossover("frozen") is None
    with pytest.raises(ValueError, match=r"method must be one of \['frozen', 'scratch'\]"):
        still_ahead.mean("fine_tuned")


def test_curve_table_and_plot():
    curve = _curve()
    lines = curve.table().splitlines()
    assert lines[0] == "| labels per class | frozen + new head | fine-tuned | from scratch |"
    assert lines[2] == "| 5 | 0.720 ± 0.016 | 0.700 ± 0.033 | 0.500 ± 0.000 |"
    assert len(lines) == 2 + 3
    fig = curve.plot()
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == [
        "frozen + new head", "fine-tuned", "from scratch"]  # fmt: skip
    np.testing.assert_allclose(ax.get_lines()[2].get_ydata(), curve.mean("scratch"))
    assert ax.get_xscale() == "log" and "10 steps of 4 images" in ax.get_title()


# --- label_budget_curve: refusals, then a tiny run ------------------------------------------


@pytest.mark.parametrize(
    "changes, error, match",
    [
        ({"labels_per_class": ()}, ValueError, r"labels_per_class must be a non-empty list"),
        ({"labels_per_class": (2, 0)}, ValueError, r"integers >= 1. Received: labels_per_class"),
        ({"labels_per_class": (9,)}, ValueError, r"must be at most 8.*labels_per_class=\[9\]"),
        ({"seeds": (0, 0)}, ValueError, r"seeds must be a non-empty list of distinct integers"),
        ({"methods": ["frozen", "linear"]}, ValueError, r"methods must be one of \['frozen'"),
        ({"methods": []}, ValueError, r"methods must name at least one of"),
        ({"steps": 1}, ValueError, r"steps must be an integer >= 2. Received: steps=1"),
        ({"batch_size": 0}, ValueError, r"batch_size must be an integer >= 1"),
        ({"pretrain_epochs": 0}, ValueError, r"pretrain_epochs must be an integer >= 1"),
        ({"fine_tune_lr": 0.0}, ValueError, r"fine_tune_lr must be > 0. Received: fine_tune_lr"),
        ({"learning_rate": "fast"}, ValueError, r"learning_rate must be > 0"),
        ({"pretrained": "model.keras"}, TypeError, r"pretrained must be a keras.Model or None"),
    ],
)
def test_label_budget_curve_refuses_bad_arguments_by_name(changes, error, match):
    source, target = split_classes(_data(), [0, 1], [2, 3, 4])
    arguments = {"labels_per_class": (2,), **changes}
    with pytest.raises(error, match=match):
        label_budget_curve(source, target, **arguments)


def test_label_budget_curve_refuses_mismatched_tasks_and_layers():
    source, target = split_classes(_data(), [0, 1], [2, 3, 4])
    other = split_classes(_data(shape=(8, 8, 1)), [0, 1], [2, 3, 4])[1]
    with pytest.raises(ValueError, match=r"one shape. Received: source images \(12, 12, 1\)"):
        label_budget_curve(source, other, labels_per_class=(2,))
    with pytest.raises(TypeError, match="target must be a kcnn.data.Dataset"):
        label_budget_curve(source, [1, 2], labels_per_class=(2,))
    small = {"filters": (4, 8), "dense_units": 8}
    base = kcnn.build_model("simple_cnn", num_classes=2, input_shape=(12, 12, 1), **small)
    with pytest.raises(ValueError, match=r"feature_layer must name a layer of 'simple_cnn'"):
        label_budget_curve(source, target, labels_per_class=(2,), model_kwargs=small,
                           pretrained=base, feature_layer="nowhere")  # fmt: skip
    layers = [keras.layers.Flatten(), keras.layers.Dense(2), keras.layers.Activation("softmax")]
    dense_last = keras.Sequential([keras.Input((12, 12, 1)), *layers])
    with pytest.raises(ValueError, match="must end in a dense classifier.*ending in Activation"):
        label_budget_curve(source, target, labels_per_class=(2,), pretrained=dense_last)


@pytest.mark.slow
@pytest.mark.rotate
def test_a_tiny_curve_runs_every_method_on_one_architecture_and_keeps_the_source_model():
    source, target = split_classes(_data(), [0, 1], [2, 3, 4])
    small = {"filters": (4, 8), "dense_units": 8}
    base = kcnn.build_model("simple_cnn", num_classes=2, input_shape=(12, 12, 1), **small)
    before = [np.array(w) for w in base.get_weights()]
    run = dict(model_kwargs=small, steps=4, batch_size=4, pretrained=base)
    curve = label_budget_curve(source, target, labels_per_class=(2, 1), seeds=(3, 4), **run)
    assert curve.labels_per_class == (1, 2) and curve.seeds == (3, 4)
    assert curve.methods == METHODS and curve.feature_layer == "simple_cnn_flatten"
    assert np.isnan(curve.source_accuracy)  # given, not pretrained here
    for method in METHODS:
        scores = curve.accuracy[method]
        assert scores.shape == (2, 2)
        assert np.all((scores >= 0) & (scores <= 1))
        # accuracies on 6 test images are multiples of 1/6
        np.testing.assert_allclose(scores * 6, np.rint(scores * 6), atol=1e-4)
    weights = {m: total for m, (total, _) in curve.parameters.items()}
    assert len(set(weights.values())) == 1  # the same architecture for all three
    head = (3 * 3 * 8) * 8 + 8 + 8 * 3 + 3  # flatten (3x3x8) -> dense 8 -> 3 classes
    convolutions = 3 * 3 * 1 * 4 + 3 * 3 * 4 * 8  # no bias: BatchNorm follows
    batchnorm = 2 * (4 + 8)  # gamma and beta; the moving statistics never train
    assert weights["scratch"] == head + convolutions + 2 * batchnorm
    trained = {m: trainable for m, (_, trainable) in curve.parameters.items()}
    assert trained == {
        "frozen": head,
        "fine_tuned": head + convolutions,  # BatchNorm stays frozen when fine-tuning
        "scratch": head + convolutions + batchnorm,
    }
    for kept, now in zip(before, base.get_weights()):
        np.testing.assert_array_equal(kept, now)  # runs train copies, never the source model
    again = label_budget_curve(source, target, (1,), methods=["frozen"], seeds=(4,), **run)
    # a point does not depend on the other points of the curve
    np.testing.assert_allclose(again.accuracy["frozen"][0, 0], curve.accuracy["frozen"][0, 1])


# --- the page's claims, on real data ---------------------------------------------------------


@pytest.mark.learning
@pytest.mark.slow
@pytest.mark.rotate
def test_on_fashion_mnist_transfer_matches_scratch_and_the_cut_matters(fashion_mnist):
    """The central claims of "When transfer learning pays", at 10 labels per class.

    SimpleCNN at half width pretrains on 4,000 images of Fashion-MNIST classes 0-4 for one
    epoch; classes 5-9 then train from 10 images each, 80 steps of 32, seed 0, and are
    tested on their 5,000 test images. Measured on tensorflow / jax / torch: frozen at the
    convolutional base 0.848 / 0.869 / 0.838, from scratch 0.844 / 0.871 / 0.856, frozen at
    the last hidden layer 0.399 / 0.377 / 0.238.
    Asserted: (1) transfer does not pay here: frozen and scratch within 0.06 of each other;
    (2) the cut matters: frozen at the convolutional base beats frozen at the last hidden
    layer by at least 0.15.
    """
    source, target = split_classes(fashion_mnist, [0, 1, 2, 3, 4], [5, 6, 7, 8, 9])
    small = {"filters": (16, 32), "dense_units": 64}
    curve = label_budget_curve(source.subset(per_class=800), target, labels_per_class=(10,),
                               methods=["frozen", "scratch"], seeds=(0,), model_kwargs=small,
                               steps=80)  # fmt: skip
    late = label_budget_curve(source, target, labels_per_class=(10,), methods=["frozen"],
                              seeds=(0,), model_kwargs=small, steps=80,
                              pretrained=curve.pretrained,
                              feature_layer="simple_cnn_dense_relu")  # fmt: skip
    frozen, scratch = curve.accuracy["frozen"][0, 0], curve.accuracy["scratch"][0, 0]
    cut_late = late.accuracy["frozen"][0, 0]
    print({"frozen": frozen, "scratch": scratch, "late": cut_late})
    assert curve.source_accuracy > 0.7, curve.source_accuracy
    assert scratch > 0.75, scratch
    assert abs(frozen - scratch) <= 0.06, (frozen, scratch)
    assert frozen - cut_late >= 0.15, (frozen, cut_late)
