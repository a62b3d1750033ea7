"""Reading training curves the way a teacher does.

Each rule is a pure function of a Keras history dict (``loss``, ``accuracy``, ``val_loss``,
``val_accuracy`` lists, one value per epoch) that returns a `Finding` or None:

| rule | what the curves show | what to try |
|---|---|---|
| `check_nan` | the loss became NaN or infinite | lower the learning rate, check the input scaling, loss scaling under mixed precision |
| `check_overfit` | training accuracy high, validation far below (train 99%, val 60%) | more data or augmentation, dropout, weight decay |
| `check_underfit` | both accuracies low and close together | a bigger model, train longer, a higher rate, check the labels |
| `check_late_overfit` | validation loss fell, then rose for several epochs | early stopping at the best epoch |
| `check_stagnation` | the training loss stopped falling | change the learning rate, use a schedule |

`diagnose` runs them all; `report_markdown` writes what they found.
"""  # noqa: E501

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

KINDS = ("nan", "diverged", "overfit", "underfit", "late_overfit", "stagnation")


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing the curves say.

    Attributes:
        kind: one of `KINDS`.
        epoch: the epoch (1-based) the finding refers to.
        message: what was seen, with the numbers.
        advice: what to try, most likely first.
    """

    kind: str
    epoch: int
    message: str
    advice: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.kind} (epoch {self.epoch}): {self.message} Try: {'; '.join(self.advice)}."


def _series(history: Mapping[str, Sequence[float]], key: str) -> list[float]:
    return [float(v) for v in history.get(key) or []]


def check_nan(history: Mapping[str, Sequence[float]]) -> Finding | None:
    """The first epoch whose training or validation loss is NaN or infinite."""
    for key in ("loss", "val_loss"):
        for epoch, value in enumerate(_series(history, key), start=1):
            if not math.isfinite(value):
                return Finding(
                    "nan",
                    epoch,
                    f"The {'training' if key == 'loss' else 'validation'} loss is {value} at "
                    f"epoch {epoch}: the weights diverged.",
                    (
                        "lower the learning rate (10x) or add warmup",
                        "check the input scaling (images in [0, 1] or standardised)",
                        "under mixed float16, keep loss scaling on and the output in float32",
                    ),
                )
    return None


def check_diverged(
    history: Mapping[str, Sequence[float]],
    above: float = 5.0,
    rise: float = 1.5,
    saturated: float = 10.0,
) -> Finding | None:
    """A finite training loss that ended above ``above`` and ``rise`` times its lowest: the
    updates threw the weights away and the probabilities saturated (a loss of ~14.5 is
    a probability of 5e-7 for the right class), which is not underfitting.

    A loss above ``saturated`` means divergence too: a uniform guess over ``k`` classes
    scores ``ln k`` (2.3 for 10 classes, 6.9 for 1,000), so the cross-entropy of
    probabilities exceeds 10 only when they are pinned near 0 for the right class. So the
    rule also fires when the loss ends above ``saturated`` although it was never lower (a
    rate so large that the first epoch already saturated), and when it went above
    ``saturated`` at some epoch and the training accuracy ended no more than 5 points
    above the first epoch's (the weights blew up and never recovered; TensorFlow computes
    the loss from the logits, so there it can reach millions and then fall back)."""
    loss = _series(history, "loss")
    if not loss or not all(math.isfinite(v) for v in loss):
        return None
    last, lowest, peak = loss[-1], min(loss), max(loss)
    accuracy = _series(history, "accuracy")
    if last > above and last > rise * lowest:
        seen = f"The training loss rose to {last:.3g} (its lowest was {lowest:.3g})"
    elif last > max(above, saturated):
        seen = (
            f"The training loss is {last:.3g} (its lowest was {lowest:.3g}), far above the "
            "ln(number of classes) of a uniform guess (2.3 for 10 classes)"
        )
    elif peak > saturated and accuracy and accuracy[-1] <= accuracy[0] + 0.05:
        seen = (
            f"The training loss reached {peak:.3g} at epoch {loss.index(peak) + 1}, far above "
            "the ln(number of classes) of a uniform guess (2.3 for 10 classes), and training "
            f"accuracy ended at {accuracy[-1]:.1%} (after epoch 1: {accuracy[0]:.1%})"
        )
    else:
        return None
    return Finding(
        "diverged",
        len(loss),
        f"{seen}: the updates are too large, and the model now gives the right class a "
        "probability near 0.",
        (
            "lower the learning rate (10x) or add warmup",
            "clip the gradients (clip_norm=1.0)",
            "check the input scaling (images in [0, 1] or standardised)",
        ),
    )


def check_overfit(
    history: Mapping[str, Sequence[float]], gap: float = 0.10, train_at_least: float = 0.90
) -> Finding | None:
    """Training accuracy >= ``train_at_least`` and validation accuracy ``gap`` or more below
    it at the last epoch."""
    train, val = _series(history, "accuracy"), _series(history, "val_accuracy")
    if not train or not val:
        return None
    t, v = train[-1], val[-1]
    if t >= train_at_least and t - v >= gap:
        return Finding(
            "overfit",
            len(train),
            f"Training accuracy is {t:.1%} but validation accuracy only {v:.1%} "
            f"({t - v:.1%} apart): the model memorises the training set.",
            (
                "more training data, or augmentation",
                "dropout",
                "weight decay",
                "a smaller model",
            ),
        )
    return None


def check_underfit(
    history: Mapping[str, Sequence[float]],
    below: float = 0.70,
    gap: float = 0.10,
    min_epochs: int = 2,
) -> Finding | None:
    """Training accuracy below ``below`` and validation within ``gap`` of it, after at least
    ``min_epochs`` epochs."""
    train = _series(history, "accuracy")
    val = _series(history, "val_accuracy")
    if len(train) < min_epochs or not all(math.isfinite(v) for v in train):
        return None
    t = train[-1]
    v = val[-1] if val else t
    if t < below and abs(t - v) < gap:
        return Finding(
            "underfit",
            len(train),
            f"Training accuracy is only {t:.1%} and validation {v:.1%}: the model does not "
            "fit even the training set.",
            (
                "a bigger model (more filters or layers)",
                "train longer",
                "a higher learning rate",
                "check that images and labels match",
            ),
        )
    return None


def check_late_overfit(
    history: Mapping[str, Sequence[float]], patience: int = 3, rise: float = 0.05
) -> Finding | None:
    """The validation loss reached its minimum, then stayed above it for ``patience`` or more
    epochs and ended at least ``rise`` (relative) above it."""
    val = _series(history, "val_loss")
    if len(val) < patience + 2 or not all(math.isfinite(v) for v in val):
        return None
    best = min(range(len(val)), key=val.__getitem__)
    after = len(val) - 1 - best
    if best > 0 and after >= patience and val[-1] > val[best] * (1 + rise):
        return Finding(
            "late_overfit",
            best + 1,
            f"Validation loss was lowest at epoch {best + 1} ({val[best]:.4f}) and rose to "
            f"{val[-1]:.4f} over the {after} epochs after it.",
            (
                f"early stopping with restore_best_weights (it would keep epoch {best + 1})",
                "more regularisation: augmentation, dropout, weight decay",
            ),
        )
    return None


def check_stagnation(
    history: Mapping[str, Sequence[float]], window: int = 3, min_improvement: float = 0.02
) -> Finding | None:
    """The training loss improved by less than ``min_improvement`` (relative) over the last
    ``window`` epochs, while still far from zero."""
    loss = _series(history, "loss")
    if len(loss) <= window or not all(math.isfinite(v) for v in loss):
        return None
    before, now = loss[-window - 1], loss[-1]
    accuracy = _series(history, "accuracy")
    if accuracy and accuracy[-1] >= 0.99:
        return None  # converged, not stuck
    if now > before * (1 - min_improvement) and now > 0.05:
        return Finding(
            "stagnation",
            len(loss),
            f"The training loss moved from {before:.4f} to {now:.4f} over the last {window} "
            "epochs: training has stalled.",
            (
                "a different learning rate (run kcnn.train.find_lr)",
                "a schedule that lowers the rate (cosine, step)",
                "check that the data is shuffled and normalised",
            ),
        )
    return None


RULES = (check_nan, check_diverged, check_overfit, check_underfit, check_late_overfit,
         check_stagnation)  # fmt: skip


def diagnose(history: Mapping[str, Sequence[float]]) -> list[Finding]:
    """Run every rule on a history; NaN or divergence hides the others (they would read
    garbage).

    Example:
        ```python
        for finding in kcnn.train.diagnose(history.history):
            print(finding)
        ```
    """
    if not isinstance(history, Mapping) or "loss" not in history:
        raise ValueError(
            "history must be a dict with a 'loss' list, such as History.history. "
            f"Received: {type(history).__name__}"
        )
    for rule in (check_nan, check_diverged):  # either hides the others: they would misread it
        finding = rule(history)
        if finding is not None:
            return [finding]
    return [f for f in (rule(history) for rule in RULES[2:]) if f is not None]


def report_markdown(
    history: Mapping[str, Sequence[float]],
    findings: Sequence[Finding],
    notes: Sequence[str] = (),
) -> str:
    """A short Markdown report: the last epoch's numbers, each finding with advice, and
    ``notes`` about the data under "Data"."""
    epochs = len(_series(history, "loss"))
    lines = ["# Training diagnosis", "", f"Epochs run: {epochs}", ""]
    metrics = [k for k in ("loss", "accuracy", "val_loss", "val_accuracy") if history.get(k)]
    if metrics:
        lines += ["| " + " | ".join(metrics) + " |", "|" + "---|" * len(metrics)]
        lines += ["| " + " | ".join(f"{float(history[k][-1]):.4f}" for k in metrics) + " |", ""]
    if not findings and history.get("val_loss"):
        lines.append("No problem found: training and validation curves look healthy.")
    elif not findings:
        lines.append(
            "No problem found in the training curve. There was no validation data, so "
            "overfitting cannot be seen: hold out a validation split (validation_split > 0)."
        )
    for finding in findings:
        lines += [f"## {finding.kind.replace('_', ' ')} (epoch {finding.epoch})", ""]
        lines += [finding.message, "", "What to try:", ""]
        lines += [f"- {advice}" for advice in finding.advice] + [""]
    if notes:
        lines += ["## Data", ""] + [f"{note}\n" for note in notes]
    return "\n".join(lines).rstrip() + "\n"
