"""`evaluate`: a classifier's scores on a split, from one prediction pass.

The pass is a `kcnn.inspect.Interpretation`; every number is read from it: top-1 and top-5
accuracy, the cross-entropy loss, scikit-learn's per-class precision, recall and F1, the most
confused pairs, and the expected calibration error (Guo et al. 2017: the gap between
confidence and accuracy, averaged over equal-width confidence bins, weighted by the images
in each bin).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kcnn import _io
from kcnn._validate import check_choice, check_int
from kcnn.infer.classifier import Classifier, load
from kcnn.inspect.interpret import SPLITS, Interpretation, _split

if TYPE_CHECKING:
    import keras

    from kcnn.data.datasets import Dataset

#: The files `Evaluation.save` writes.
FILES = ("evaluation.json", "evaluation.md", "confusion.png")


def expected_calibration_error(probabilities: np.ndarray, y_true: np.ndarray, bins: int = 15):
    """ECE over ``bins`` equal-width bins of the top-1 confidence (Guo et al. 2017)."""
    confidence = probabilities.max(axis=-1)
    correct = probabilities.argmax(axis=-1) == y_true
    edges = np.linspace(0.0, 1.0, bins + 1)
    # Bins are (low, high]; a confidence of exactly 0 cannot occur for a softmax.
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            ece += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(ece)


@dataclass
class Evaluation:
    """A classifier's scores on one split (see `evaluate`).

    Attributes:
        interpretation: the prediction pass (`kcnn.inspect.Interpretation`): confusion
            matrix, top losses, most confused pairs.
        accuracy: top-1 accuracy.
        top5_accuracy: top-5 accuracy (None with 5 classes or fewer, where it is 1).
        loss: mean cross-entropy.
        ece: expected calibration error over ``bins`` bins.
        per_class: scikit-learn's ``classification_report`` as a dict (precision,
            recall, F1 and support per class, then the averages).
        model, dataset, split: what was evaluated on what.
    """

    interpretation: Interpretation
    accuracy: float
    top5_accuracy: float | None
    loss: float
    ece: float
    per_class: dict
    model: str
    dataset: str
    split: str
    bins: int = 15

    @property
    def images(self) -> int:
        return len(self.interpretation.y_true)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "dataset": self.dataset,
            "split": self.split,
            "images": self.images,
            "accuracy": self.accuracy,
            "top5_accuracy": self.top5_accuracy,
            "loss": self.loss,
            "ece": self.ece,
            "ece_bins": self.bins,
            "per_class": self.per_class,
            "most_confused": [list(p) for p in self.interpretation.most_confused()[:10]],
        }

    def to_markdown(self) -> str:
        top5 = "n/a (5 classes or fewer)" if self.top5_accuracy is None else (
            f"{self.top5_accuracy:.4f}")  # fmt: skip
        lines = [
            f"# {self.model} on the {self.dataset} {self.split} set ({self.images} images)",
            "",
            "| metric | value |",
            "|---|---|",
            f"| top-1 accuracy | {self.accuracy:.4f} |",
            f"| top-5 accuracy | {top5} |",
            f"| loss (cross-entropy) | {self.loss:.4f} |",
            f"| expected calibration error ({self.bins} bins) | {self.ece:.4f} |",
            "",
            "| class | precision | recall | F1 | images |",
            "|---|---|---|---|---|",
        ]
        for name, row in self.per_class.items():
            if isinstance(row, dict):
                lines.append(
                    f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | "
                    f"{row['f1-score']:.3f} | {int(row['support'])} |"
                )
        confused = self.interpretation.most_confused()[:10]
        lines += ["", "Most confused (true → predicted, images):", ""]
        lines += [f"- {t} → {p}: {n}" for t, p, n in confused] or ["- none"]
        lines += ["", "![confusion matrix](confusion.png)", ""]
        return "\n".join(lines)

    def __str__(self) -> str:
        top5 = "" if self.top5_accuracy is None else f", top-5 {self.top5_accuracy:.4f}"
        return (
            f"{self.model} on the {self.dataset} {self.split} set ({self.images} images): "
            f"accuracy {self.accuracy:.4f}{top5}, loss {self.loss:.4f}, ECE {self.ece:.4f}"
        )

    def save(self, out: str | os.PathLike) -> Path:
        """Write `FILES` into the folder ``out`` (created if needed); returns it."""
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"out must be a folder. Received: out={os.fspath(out)!r} (a file)")
        out.mkdir(parents=True, exist_ok=True)
        _io.write_json(out / "evaluation.json", self.to_dict())
        _io.write_text(out / "evaluation.md", self.to_markdown())
        self.interpretation.plot_confusion_matrix(out / "confusion.png")
        return out


def evaluate(
    classifier: Classifier | keras.Model | str | os.PathLike,
    data: Dataset | str | os.PathLike | None = None,
    split: str = "test",
    *,
    batch_size: int = 256,
    tta: bool = False,
    out: str | os.PathLike | None = None,
    bins: int = 15,
) -> Evaluation:
    """Score a classifier on a split of a data set, from one prediction pass.

    Args:
        classifier: a `Classifier`, a `keras.Model`, or a run folder / ``.keras`` file
            (`load`).
        data: a `kcnn.data.Dataset`, or a name or path for `kcnn.data.load_dataset`.
            Defaults to the data set the model was trained on, loaded as its run loaded it
            (same validation split and seed, so ``split="val"`` is the same images).
        split: ``"test"``, ``"val"`` or ``"train"``. Defaults to ``"test"``.
        batch_size: images per prediction batch. Defaults to 256.
        tta: average over test-time views that keep the labels. Defaults to False.
        out: a folder to write ``evaluation.json``, ``evaluation.md`` and
            ``confusion.png`` into. Defaults to None (nothing written).
        bins: confidence bins of the calibration error. Defaults to 15.

    Returns:
        An `Evaluation`.

    Example:
        ```python
        evaluation = kcnn.infer.evaluate("runs/simple_cnn-20260101-120000", out="eval")
        print(evaluation)                   # accuracy, top-5, loss, ECE
        evaluation.interpretation.most_confused()[:3]
        ```
    """
    import keras
    from sklearn.metrics import classification_report

    if isinstance(classifier, (str, os.PathLike)):
        classifier = load(classifier)
    elif isinstance(classifier, keras.Model):
        classifier = Classifier(classifier)
    elif not isinstance(classifier, Classifier):
        raise TypeError(
            "classifier must be a kcnn.infer.Classifier, a keras.Model, a run folder or a "
            f".keras file. Received: {type(classifier).__name__}"
        )
    check_choice("split", split, SPLITS)
    bins = check_int("bins", bins, minimum=1)
    data = _data(classifier, data)
    x, y = _split(data, split)
    probabilities = classifier.probabilities(x, batch_size=batch_size, tta=tta)
    name = classifier.model.name
    interpretation = Interpretation(
        probabilities, y, classifier.class_names, split,
        title=f"{name} on the {data.name} {split} set", data=data,
    )  # fmt: skip
    losses = interpretation.losses  # checks the labels are the model's classes
    k = interpretation.num_classes
    top5 = None
    if k > 5:
        order = np.argsort(-interpretation.probabilities, axis=-1, kind="stable")[:, :5]
        top5 = float((order == y[:, None]).any(axis=-1).mean())
    report = classification_report(
        y, interpretation.y_pred, labels=np.arange(k), target_names=list(classifier.class_names),
        output_dict=True, zero_division=0,
    )  # fmt: skip
    evaluation = Evaluation(
        interpretation=interpretation,
        accuracy=float((interpretation.y_pred == y).mean()),
        top5_accuracy=top5,
        loss=float(losses.mean()),
        ece=expected_calibration_error(interpretation.probabilities, y, bins),
        per_class=report,
        model=name,
        dataset=data.name,
        split=split,
        bins=bins,
    )
    if out is not None:
        evaluation.save(out)
    return evaluation


def _data(classifier: Classifier, data):
    """The `Dataset` to evaluate on: ``data`` itself, loaded by name or path, or the one
    the classifier was trained on."""
    from kcnn.data.datasets import Dataset, load_dataset

    if isinstance(data, Dataset):
        return data
    run = classifier.run
    settings = run.data_settings() if run is not None else {}
    if data is None:
        data = run.config.get("dataset") if run is not None else classifier.contract.dataset
        if not data:
            raise ValueError(
                "data is needed: the classifier does not say which data set it was trained "
                "on. Received: data=None (pass a kcnn.data.Dataset, a data set name or a path)"
            )
    if not isinstance(data, (str, os.PathLike)):
        raise TypeError(
            "data must be a kcnn.data.Dataset, a data set name or a path. "
            f"Received: {type(data).__name__}"
        )
    if not settings:
        settings = {"image_size": classifier.contract.image_size}
    return load_dataset(os.fspath(data), **settings)
