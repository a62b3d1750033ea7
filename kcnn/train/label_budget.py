"""When does transfer learning pay? Test accuracy against the number of labels per class.

`label_budget_curve` pretrains a network once on a source task, then trains it on a target
task from ``k`` labelled images per class in three ways, for each ``k`` and seed:

- ``"frozen"``: the pretrained network's convolutional base (every layer before its dense
  head), frozen, and a new head;
- ``"fine_tuned"``: the same, with the whole backbone unfrozen halfway, at a lower rate;
- ``"scratch"``: the same architecture from random weights, every layer trained.

Every method takes the same number of optimizer steps on the same batches, so the only
thing that differs is where the weights start and which of them move. `split_classes` and
`sample_per_class` make the source and target tasks from one labelled data set.

The runs reuse one compiled model per method (a run resets its weights, its optimizer and
its dropout generator), and the frozen backbone's features are computed once per image:
on JAX a compile costs more than a short run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import keras
import numpy as np

from kcnn._validate import check_choice, check_int, check_number, check_type
from kcnn.data.arrays import take
from kcnn.data.datasets import Dataset
from kcnn.plots import figure, finish

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The ways to use ``k`` labels per class, in the order tables and plots show them.
METHODS = ("frozen", "fine_tuned", "scratch")

_LABELS = {"frozen": "frozen + new head", "fine_tuned": "fine-tuned", "scratch": "from scratch"}
_HEAD_LAYERS = (
    keras.layers.Dense, keras.layers.Dropout, keras.layers.Activation, keras.layers.ReLU,
    keras.layers.LeakyReLU,
)  # fmt: skip
_BATCH = 500  # images per batch to compute features and test accuracy
_STYLES = {
    "frozen": ("tab:blue", "o"),
    "fine_tuned": ("tab:green", "s"),
    "scratch": ("tab:red", "^"),
}


def split_classes(
    data: Dataset, source: Sequence[int], target: Sequence[int]
) -> tuple[Dataset, Dataset]:
    """Two tasks of disjoint classes from one data set: a source to pretrain on and a target.

    Each keeps every image of its classes in every split, relabelled ``0..k-1`` in the
    order given (see `kcnn.data.Dataset.subset`).

    Args:
        data: the labelled data set.
        source: the class indices of the source task.
        target: the class indices of the target task; none may be in ``source``.

    Returns:
        ``(source_data, target_data)``.

    Raises:
        ValueError: a class in both tasks, or a class index that ``data`` does not have.

    Example:
        ```python
        data = kcnn.data.load_dataset("fashion_mnist", validation_split=0)
        source, target = split_classes(data, source=[0, 1, 2, 3, 4], target=[5, 6, 7, 8, 9])
        ```
    """
    check_type("data", data, Dataset, "a kcnn.data.Dataset")
    source, target = _class_list("source", source), _class_list("target", target)
    shared = sorted(set(source) & set(target))
    if shared:
        raise ValueError(
            "source and target must have no class in common, or the target's labels would "
            f"not be new to the pretrained network. Received: source={source}, "
            f"target={target} (both hold {shared})"
        )
    for name, classes in (("source", source), ("target", target)):
        bad = [c for c in classes if not 0 <= c < data.num_classes]
        if bad:
            raise ValueError(
                f"{name} must hold class indices in [0, {data.num_classes}) of {data.name}. "
                f"Received: {name}={classes}"
            )
    return data.subset(classes=source), data.subset(classes=target)


def sample_per_class(data: Dataset, per_class: int, seed: int = 0) -> Dataset:
    """The first ``per_class`` training images of each class in a seeded random order.

    The draws are nested: with the same seed, the images of a smaller ``per_class`` are
    among those of every larger one, so a curve over ``per_class`` adds labels instead of
    drawing a new set at each point. The validation and test splits are kept whole.

    Args:
        data: the labelled data set.
        per_class: training images to keep of each class; every class must have that many.
        seed: seed of the order. Defaults to 0.

    Returns:
        A `kcnn.data.Dataset` named like ``"fashion_mnist[10/class, seed 0]"`` with
        ``per_class`` training images of each class, in class order.

    Raises:
        ValueError: ``per_class`` or ``seed`` that is not a non-negative integer (``per_class``
            at least 1), or a class with fewer training images than ``per_class``.

    Example:
        ```python
        ten = sample_per_class(target, per_class=10, seed=0)  # 10 labelled images per class
        ```
    """
    check_type("data", data, Dataset, "a kcnn.data.Dataset")
    check_int("per_class", per_class, 1)
    check_int("seed", seed, 0)
    y = np.asarray(data.y_train)
    rng = np.random.default_rng(seed)
    picks = []
    for label in range(data.num_classes):
        where = np.flatnonzero(y == label)
        if len(where) < per_class:
            raise ValueError(
                f"per_class={per_class} needs {per_class} training images of every class, "
                f"but class {label} ({data.class_names[label]}) of {data.name} has {len(where)}."
            )
        picks.append(rng.permutation(where)[:per_class])  # independent of per_class: nested
    index = np.concatenate(picks)
    return Dataset(
        f"{data.name}[{per_class}/class, seed {seed}]", take(data.x_train, index), y[index],
        data.x_val, data.y_val, data.x_test, data.y_test, tuple(data.class_names),
        data.source, dict(data.label_rules), data.skipped,
    )  # fmt: skip


@dataclass
class LabelBudgetCurve:
    """Target test accuracy of each method for each number of labels per class and seed.

    Attributes:
        labels_per_class: the label budgets, ascending.
        seeds: the seeds of each point (the draw of the labelled images, the new weights
            and the order of the batches).
        accuracy: method name -> array ``(len(labels_per_class), len(seeds))`` of test
            accuracies on the target task.
        parameters: method name -> ``(weights, trainable weights)`` of its network (for
            ``"fine_tuned"``, once the backbone is unfrozen).
        source_accuracy: the pretrained network's test accuracy on the source task (NaN
            when the network was given as ``pretrained``).
        steps: optimizer steps of every run, whatever the method and the budget.
        batch_size: images per step.
        feature_layer: the layer of the pretrained network whose output the new head reads.
        target_name: the target task's name.
        test_images: the target test images each accuracy is measured on.
        pretrained: the network trained on the source task, to pass to another
            `label_budget_curve` call (``pretrained=``).
    """

    labels_per_class: tuple
    seeds: tuple
    accuracy: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    source_accuracy: float = float("nan")
    steps: int = 0
    batch_size: int = 0
    feature_layer: str = ""
    target_name: str = ""
    test_images: int = 0
    pretrained: keras.Model | None = field(default=None, repr=False, compare=False)

    @property
    def methods(self) -> tuple:
        """The methods measured, in `METHODS` order."""
        return tuple(m for m in METHODS if m in self.accuracy)

    def _scores(self, method: str) -> np.ndarray:
        check_choice("method", method, self.methods)
        return np.asarray(self.accuracy[method], dtype="float64")

    def mean(self, method: str) -> np.ndarray:
        """Mean accuracy over the seeds, one per label budget."""
        return self._scores(method).mean(axis=1)

    def std(self, method: str) -> np.ndarray:
        """Standard deviation over the seeds (``ddof=0``), one per label budget."""
        return self._scores(method).std(axis=1)

    def advantage(self, method: str, over: str = "scratch") -> np.ndarray:
        """``method``'s mean accuracy minus ``over``'s, one per label budget."""
        return self.mean(method) - self.mean(over)

    def crossover(self, method: str, over: str = "scratch") -> int | None:
        """The label budget from which ``over`` is at least as accurate as ``method`` (in
        the mean over seeds) at that budget and every larger one measured; None when
        ``method`` is still ahead at the largest budget."""
        ahead = self.advantage(method, over) > 0
        if ahead[-1]:
            return None
        first = len(ahead)
        while first > 0 and not ahead[first - 1]:
            first -= 1
        return int(self.labels_per_class[first])

    def table(self) -> str:
        """A Markdown table: one row per label budget, mean ± std over the seeds of each
        method."""
        from kcnn.inspect._table import markdown_rows

        header = ["labels per class", *(_LABELS[m] for m in self.methods)]
        rows = [
            [str(k), *(f"{self.mean(m)[i]:.3f} ± {self.std(m)[i]:.3f}" for m in self.methods)]
            for i, k in enumerate(self.labels_per_class)
        ]
        return "\n".join(markdown_rows(header, rows))

    def plot(self, path: str | os.PathLike | None = None) -> Figure:
        """Accuracy against labels per class (log scale): each method's mean over the
        seeds, with a band from the lowest to the highest seed.

        Args:
            path: where to write the figure (PNG, SVG, ...). Defaults to None (not written).

        Returns:
            The matplotlib ``Figure``.
        """
        fig = figure((8.0, 4.8))
        ax = fig.add_subplot()
        k = np.asarray(self.labels_per_class)
        for method in self.methods:
            color, marker = _STYLES[method]
            scores = self._scores(method)
            ax.plot(k, scores.mean(axis=1), marker=marker, color=color, label=_LABELS[method])
            ax.fill_between(k, scores.min(axis=1), scores.max(axis=1), color=color, alpha=0.15)
        ax.set_xscale("log")
        ax.set_xticks(k, [str(v) for v in k])
        ax.minorticks_off()
        ax.tick_params(labelsize=10)
        ax.set_xlabel("labelled training images per class", fontsize=11)
        ax.set_ylabel("test accuracy", fontsize=11)
        ax.set_title(
            f"{self.target_name}: {self.steps} steps of {self.batch_size} images per run, "
            f"{len(self.seeds)} seeds (band: lowest to highest)",
            fontsize=11,
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=10, loc="lower right")
        return finish(fig, path)


def label_budget_curve(
    source: Dataset,
    target: Dataset,
    labels_per_class: Sequence[int] = (5, 10, 25, 50, 100, 500),
    methods: Sequence[str] = METHODS,
    seeds: Sequence[int] = (0, 1, 2),
    model: str = "simple_cnn",
    model_kwargs: dict | None = None,
    pretrain_epochs: int = 1,
    steps: int = 100,
    batch_size: int = 32,
    learning_rate: float = 3e-3,
    fine_tune_lr: float = 3e-4,
    feature_layer: str | None = None,
    pretrained: keras.Model | None = None,
) -> LabelBudgetCurve:
    """Target test accuracy against labels per class: frozen, fine-tuned and from scratch.

    The network ``model`` is pretrained once on all of ``source`` (Adam at 3e-3, batches
    of 128, ``pretrain_epochs`` epochs, seed ``seeds[0]``). Then, for each budget ``k``
    and seed, the same ``k`` labelled images per class of ``target`` (`sample_per_class`)
    train:

    - ``"frozen"``: the pretrained network up to ``feature_layer``, frozen, with a new head
      made like the network's own (its hidden dense layers, dropout and classifier, newly
      initialised; see `kcnn.models.build_transfer`); only the head learns, at
      ``learning_rate``;
    - ``"fine_tuned"``: the frozen run's weights after ``steps // 2`` steps; then every
      backbone layer is unfrozen (BatchNorm keeps its pretrained statistics, see
      `kcnn.train.unfreeze_backbone`) for the other half, at ``fine_tune_lr``;
    - ``"scratch"``: ``model`` with new random weights, every layer trained at
      ``learning_rate``.

    So the three networks have the same layers and number of weights, and every run takes
    ``steps`` Adam steps on the same batches of ``batch_size`` images (the labelled
    images, reshuffled at each pass). Each accuracy is measured on all of the target's
    test images.

    Args:
        source: the task to pretrain on (see `split_classes`).
        target: the task to transfer to, with images of the same shape.
        labels_per_class: the label budgets ``k``. Defaults to ``(5, 10, 25, 50, 100, 500)``.
        methods: which of `METHODS` to measure. Defaults to all three.
        seeds: one run per seed and budget. Defaults to ``(0, 1, 2)``.
        model: a registered kcnn model ending in dense layers (a ``predictions``
            classifier). Defaults to ``"simple_cnn"``.
        model_kwargs: extra arguments of the model's builder. Defaults to None.
        pretrain_epochs: epochs over ``source``. Defaults to 1.
        steps: optimizer steps of every run. Defaults to 100.
        batch_size: images per step. Defaults to 32.
        learning_rate: Adam's rate for a new head and for scratch. Defaults to 3e-3.
        fine_tune_lr: Adam's rate once the backbone is unfrozen. Defaults to 3e-4.
        feature_layer: the layer whose output the new head reads. Defaults to the layer
            before the network's dense head (for SimpleCNN, ``simple_cnn_flatten``: the
            convolutional base, as ``include_top=False`` cuts an ImageNet model).
        pretrained: a network already trained on ``source`` (such as the ``pretrained`` of
            an earlier result), built by ``model`` with ``model_kwargs``: no pretraining.
            Defaults to None.

    Returns:
        A `LabelBudgetCurve`, with ``.table()``, ``.plot()`` and ``.crossover()``.

    Raises:
        ValueError: an empty list of budgets or seeds, an unknown method, a budget above
            the target's smallest class, images of another shape in ``target`` than in
            ``source``, a network that does not end in a dense classifier, a
            ``feature_layer`` it does not have, or a non-positive number of steps, batch
            size, epochs or rate.
        TypeError: ``source`` or ``target`` that is not a `kcnn.data.Dataset`, or
            ``pretrained`` that is not a `keras.Model`.

    Example:
        ```python
        source, target = split_classes(data, [0, 1, 2, 3, 4], [5, 6, 7, 8, 9])
        curve = label_budget_curve(source, target, labels_per_class=(5, 50, 500))
        print(curve.table())
        ```

    References:
        Yosinski, Clune, Bengio, Lipson. How transferable are features in deep neural
        networks? NeurIPS 2014. Kornblith, Shlens, Le. Do better ImageNet models transfer
        better? CVPR 2019 (fixed features, fine-tuning and training from random
        initialisation, compared across data sets).
    """
    check_type("source", source, Dataset, "a kcnn.data.Dataset")
    check_type("target", target, Dataset, "a kcnn.data.Dataset")
    budgets = _distinct_ints("labels_per_class", labels_per_class, 1, ascending=True)
    seeds = _distinct_ints("seeds", seeds, 0)
    methods = tuple(m for m in METHODS if m in _methods(methods))
    check_int("pretrain_epochs", pretrain_epochs, 1)
    check_int("steps", steps, 2)
    check_int("batch_size", batch_size, 1)
    check_number("learning_rate", learning_rate, 0, low_open=True)
    check_number("fine_tune_lr", fine_tune_lr, 0, low_open=True)
    if pretrained is not None:
        check_type("pretrained", pretrained, keras.Model, "a keras.Model or None")
    if target.input_shape != source.input_shape:
        raise ValueError(
            "source and target must hold images of one shape. Received: source images "
            f"{source.input_shape}, target images {target.input_shape}"
        )
    smallest = int(np.bincount(np.asarray(target.y_train), minlength=target.num_classes).min())
    if budgets[-1] > smallest:
        raise ValueError(
            f"labels_per_class must be at most {smallest}, the training images of the "
            f"target's smallest class. Received: labels_per_class={list(budgets)}"
        )
    from kcnn.models.registry import build_model

    kwargs = dict(model_kwargs or {}, input_shape=target.input_shape)
    if pretrained is None:
        keras.utils.set_random_seed(seeds[0])
        network = build_model(model, num_classes=source.num_classes, **kwargs)
        head = _split_head(network, feature_layer)  # before the pretraining: a bad name fails fast
        _pretrain(network, source, pretrain_epochs)
        source_accuracy = _accuracy(network, source)
    else:
        network, head = pretrained, _split_head(pretrained, feature_layer)
        source_accuracy = float("nan")  # trained elsewhere: its owner knows how well
    runner = _Runner(
        network, head, target, steps, batch_size,
        lambda: build_model(model, num_classes=target.num_classes, **kwargs),
    )  # fmt: skip
    runner.compile(methods, learning_rate, fine_tune_lr)
    accuracy = {m: np.zeros((len(budgets), len(seeds))) for m in methods}
    for j, seed in enumerate(seeds):
        runner.initialise(seed)
        for i, k in enumerate(budgets):
            for method, value in runner.run(sample_per_class(target, k, seed), seed).items():
                accuracy[method][i, j] = value
    return LabelBudgetCurve(
        budgets, seeds, accuracy, runner.parameters(), source_accuracy, steps, batch_size,
        runner.feature_layer, target.name, len(target.x_test), network,
    )  # fmt: skip


# --- the runs -------------------------------------------------------------------------------


class _Runner:
    """One compiled model per role, reused by every run: a run resets the weights, the
    optimizer and the dropout generator instead of building and compiling anew (on JAX a
    compile costs more than a short run).

    Roles: ``"head"`` (the new head alone, trained on the frozen backbone's features, which
    are computed once per image: the frozen method, and the first half of fine-tuning),
    ``"tuned"`` (the transfer model with its backbone unfrozen) and ``"scratch"``.
    """

    def __init__(self, pretrained, head, target, steps, batch_size, build_scratch):
        self.pretrained = pretrained
        self.feature_layer, self.hidden, self.dropout = head
        self.target = target
        self.steps = steps
        self.batch_size = batch_size
        self.build_scratch = build_scratch
        self.y_test = np.asarray(target.y_test)
        self.models: dict = {}
        self.start: dict = {}

    def _transfer(self) -> keras.Model:
        from kcnn.models.transfer import build_transfer

        backbone = keras.models.clone_model(self.pretrained)  # its own layers and weights
        backbone.set_weights(self.pretrained.get_weights())
        return build_transfer(
            backbone, weights=None, num_classes=self.target.num_classes,
            input_shape=self.target.input_shape, head=self.hidden or "linear",
            dropout=self.dropout, feature_layer=self.feature_layer, name="transfer",
        )  # fmt: skip

    def compile(self, methods: tuple, learning_rate: float, fine_tune_lr: float) -> None:
        from kcnn.train.transfer import unfreeze_backbone

        self.methods = methods
        self.rates = {"head": learning_rate, "tuned": fine_tune_lr, "scratch": learning_rate}
        if "frozen" in methods or "fine_tuned" in methods:
            self.transfer = self._transfer()
            self.extract, self.models["head"] = _cut_head(self.transfer)
            self.test_features = self._features(self.target.x_test)
        if "fine_tuned" in methods:
            self.models["tuned"] = self._transfer()
            unfreeze_backbone(self.models["tuned"], "all")
        if "scratch" in methods:
            self.models["scratch"] = self.build_scratch()
        for role, model in self.models.items():
            model.compile(
                keras.optimizers.Adam(self.rates[role]),
                "sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )

    def _features(self, x) -> np.ndarray:
        """The frozen backbone's output (the same for every run: it never trains), in
        batches of one shape (padded), so that the backbone compiles once."""
        x = np.asarray(x)
        padded = np.zeros((-(-len(x) // _BATCH) * _BATCH, *x.shape[1:]), dtype=x.dtype)
        padded[: len(x)] = x
        features = self.extract.predict(padded, batch_size=_BATCH, verbose=0)
        return keras.ops.convert_to_numpy(features)[: len(x)]

    def parameters(self) -> dict:
        models = {
            "frozen": getattr(self, "transfer", None),
            "fine_tuned": self.models.get("tuned"),
            "scratch": self.models.get("scratch"),
        }
        counts = {}
        for method in self.methods:
            model = models[method]
            trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
            counts[method] = (int(model.count_params()), trainable)
        return counts

    def initialise(self, seed: int) -> None:
        """The starting weights of this seed: a new head, new weights for scratch."""
        keras.utils.set_random_seed(seed)
        self.start = {}
        if "head" in self.models:
            self.start["head"] = _cut_head(self._transfer())[1].get_weights()
        if "scratch" in self.models:
            self.start["scratch"] = self.build_scratch().get_weights()

    def _reset(self, role: str, weights: list, seed: int) -> keras.Model:
        model = self.models[role]
        model.set_weights(weights)
        optimizer = model.optimizer
        for variable in optimizer.variables:
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
        optimizer.learning_rate = self.rates[role]
        for index, layer in enumerate(_all_layers(model)):
            generator = getattr(layer, "seed_generator", None)
            if generator is not None:  # dropout draws the same masks in every run
                state = generator.state
                state.assign(np.array([seed, index], dtype=state.dtype))
        return model

    def _fit(self, model: keras.Model, x: np.ndarray, y: np.ndarray, first: int, last: int):
        size = self.batch_size
        model.fit(x[first * size : last * size], y[first * size : last * size],
                  batch_size=size, epochs=1, shuffle=False, verbose=0)  # fmt: skip

    def _score(self, model: keras.Model, x: np.ndarray) -> float:
        return float(model.evaluate(x, self.y_test, batch_size=_BATCH, verbose=0)[1])

    def run(self, labelled: Dataset, seed: int) -> dict:
        """The test accuracy of each method trained on ``labelled``."""
        order = _order(len(labelled.y_train), self.steps * self.batch_size, seed)
        x, y = np.asarray(labelled.x_train), np.asarray(labelled.y_train)[order]
        half, scores = self.steps // 2, {}
        if "head" in self.models:
            features = self._features(x)[order]
            head = self._reset("head", self.start["head"], seed)
            self._fit(head, features, y, 0, half)
            if "fine_tuned" in self.methods:  # the head's weights are the transfer model's
                tuned = self._reset("tuned", self.transfer.get_weights(), seed)
                self._fit(tuned, x[order], y, half, self.steps)
                scores["fine_tuned"] = self._score(tuned, self.target.x_test)
            if "frozen" in self.methods:
                self._fit(head, features, y, half, self.steps)
                scores["frozen"] = self._score(head, self.test_features)
        if "scratch" in self.models:
            scratch = self._reset("scratch", self.start["scratch"], seed)
            self._fit(scratch, x[order], y, 0, self.steps)
            scores["scratch"] = self._score(scratch, self.target.x_test)
        return scores


def _cut_head(model: keras.Model) -> tuple[keras.Model, keras.Model]:
    """A transfer model as ``(features, head)``: its input up to the backbone's output, and
    the layers after the backbone as a model of their own, sharing their weights."""
    from kcnn.models.transfer import backbone_of

    layers = model.layers
    position = layers.index(backbone_of(model))
    features = keras.Model(model.inputs, layers[position + 1].input)  # the backbone's output
    inputs = keras.Input(shape=tuple(features.output.shape[1:]))
    x = inputs
    for layer in layers[position + 1 :]:
        x = layer(x)
    return features, keras.Model(inputs, x)


def _all_layers(model: keras.Model) -> list:
    """Every layer, nested models' layers included, in order."""
    layers = []
    for layer in model.layers:
        layers.append(layer)
        if isinstance(layer, keras.Model):
            layers.extend(_all_layers(layer))
    return layers


def _accuracy(model: keras.Model, data: Dataset) -> float:
    scores = model.evaluate(np.asarray(data.x_test), np.asarray(data.y_test),
                            batch_size=_BATCH, verbose=0, return_dict=True)  # fmt: skip
    return float(scores["accuracy"])


def _pretrain(model: keras.Model, source: Dataset, epochs: int) -> None:
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])  # fmt: skip
    model.fit(np.asarray(source.x_train), np.asarray(source.y_train), batch_size=128,
              epochs=epochs, verbose=0)  # fmt: skip


def _order(images: int, length: int, seed: int) -> np.ndarray:
    """``length`` indices into ``images`` labelled images: passes over them, each
    reshuffled."""
    rng = np.random.default_rng([seed, images])
    passes = -(-length // images)
    return np.concatenate([rng.permutation(images) for _ in range(passes)])[:length]


def _split_head(model: keras.Model, feature_layer: str | None) -> tuple[str, tuple, float]:
    """Where a network's dense head starts: ``(feature layer, hidden widths, dropout)``.

    The head is the run of dense, activation and dropout layers at the end of the network,
    ending in the classifier; the features are the output of the layer before it.
    """
    layers = model.layers
    if not layers or not isinstance(layers[-1], keras.layers.Dense):
        raise ValueError(
            f"model must end in a dense classifier to transfer from. Received: model "
            f"{model.name!r} ending in {type(layers[-1]).__name__ if layers else 'nothing'}"
        )
    names = [layer.name for layer in layers]
    if feature_layer is None:
        index = len(layers) - 1
        while index > 1 and isinstance(layers[index - 1], _HEAD_LAYERS):
            index -= 1
        feature_layer = names[index - 1]
    elif feature_layer not in names[:-1]:
        raise ValueError(
            f"feature_layer must name a layer of {model.name!r} before its classifier. "
            f"Received: feature_layer={feature_layer!r}"
        )
    head = layers[names.index(feature_layer) + 1 :]
    hidden = tuple(int(layer.units) for layer in head[:-1] if isinstance(layer, keras.layers.Dense))
    rates = [float(layer.rate) for layer in head if isinstance(layer, keras.layers.Dropout)]
    return feature_layer, hidden, rates[-1] if rates else 0.0


def _class_list(name: str, classes) -> list[int]:
    values = list(classes) if isinstance(classes, (list, tuple, range, np.ndarray)) else None
    if (
        not values
        or any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) for c in values)
        or len(set(values)) != len(values)
    ):
        raise ValueError(
            f"{name} must be a non-empty list of distinct class indices. Received: "
            f"{name}={classes!r}"
        )
    return [int(c) for c in values]


def _distinct_ints(name: str, values, minimum: int, ascending: bool = False) -> tuple:
    items = list(values) if isinstance(values, (list, tuple, range)) else None
    if (
        not items
        or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in items)
        or min(items) < minimum
        or len(set(items)) != len(items)
    ):
        raise ValueError(
            f"{name} must be a non-empty list of distinct integers >= {minimum}. "
            f"Received: {name}={values!r}"
        )
    items = [int(v) for v in items]
    return tuple(sorted(items)) if ascending else tuple(items)


def _methods(methods) -> tuple:
    items = [methods] if isinstance(methods, str) else list(methods)
    if not items:
        raise ValueError(f"methods must name at least one of {list(METHODS)}. Received: []")
    for method in items:
        check_choice("methods", method, METHODS)
    return tuple(items)
