"""Each diagnosis rule on synthetic histories: it fires on its pattern and stays quiet on a
healthy run."""

import importlib
import math

import pytest

# The module: the attribute kcnn.train.diagnose is the function of the same name.
d = importlib.import_module("kcnn.train.diagnose")

HEALTHY = {
    "loss": [1.2, 0.6, 0.4, 0.3, 0.25, 0.22],
    "accuracy": [0.6, 0.8, 0.86, 0.9, 0.91, 0.92],
    "val_loss": [0.9, 0.55, 0.42, 0.35, 0.31, 0.30],
    "val_accuracy": [0.7, 0.82, 0.86, 0.88, 0.90, 0.905],
}


def test_a_healthy_run_has_no_findings():
    assert d.diagnose(HEALTHY) == []
    assert "No problem found" in d.report_markdown(HEALTHY, [])


def test_overfit_is_the_lessons_99_vs_60():
    history = {**HEALTHY, "accuracy": [0.7, 0.9, 0.99], "val_accuracy": [0.55, 0.6, 0.6],
               "loss": [1.0, 0.3, 0.02], "val_loss": [1.2, 1.3, 1.6]}  # fmt: skip
    finding = d.check_overfit(history)
    assert finding.kind == "overfit" and finding.epoch == 3
    assert "99.0%" in finding.message and "60.0%" in finding.message
    assert any("dropout" in a for a in finding.advice)
    assert d.check_overfit({**history, "val_accuracy": [0.6, 0.85, 0.95]}) is None


def test_underfit_when_both_are_low_and_close():
    history = {"loss": [2.2, 2.0, 1.9], "accuracy": [0.2, 0.3, 0.35],
               "val_loss": [2.1, 2.0, 1.9], "val_accuracy": [0.22, 0.3, 0.33]}  # fmt: skip
    finding = d.check_underfit(history)
    assert finding.kind == "underfit" and "35.0%" in finding.message
    assert d.check_underfit({k: v[:1] for k, v in history.items()}) is None  # too early


def test_nan_names_the_epoch_and_hides_the_other_rules():
    history = {"loss": [2.0, 5.0, math.nan], "accuracy": [0.1, 0.1, 0.1]}
    findings = d.diagnose(history)
    assert [f.kind for f in findings] == ["nan"] and findings[0].epoch == 3
    assert "learning rate" in findings[0].advice[0]
    assert d.check_nan({"loss": [1.0], "val_loss": [math.inf]}).epoch == 1


def test_late_overfit_points_at_the_best_epoch():
    history = {**HEALTHY, "val_loss": [0.9, 0.5, 0.4, 0.45, 0.5, 0.6]}
    finding = d.check_late_overfit(history)
    assert finding.kind == "late_overfit" and finding.epoch == 3
    assert "epoch 3" in finding.advice[0]
    assert d.check_late_overfit({**history, "val_loss": [0.9, 0.5, 0.4, 0.41, 0.39, 0.38]}) is None


def test_stagnation_when_the_training_loss_stops_falling():
    history = {"loss": [1.5, 1.2, 1.19, 1.185, 1.18], "accuracy": [0.5, 0.6, 0.6, 0.6, 0.6]}
    assert d.check_stagnation(history).kind == "stagnation"
    assert d.check_stagnation({**history, "accuracy": [0.9, 0.99, 0.995, 0.995, 0.996]}) is None


def test_report_lists_findings_with_advice():
    history = {"loss": [1.0, math.nan], "accuracy": [0.5, 0.5]}
    text = d.report_markdown(history, d.diagnose(history))
    assert "## nan (epoch 2)" in text and "- lower the learning rate" in text


def test_diagnose_rejects_what_is_not_a_history():
    with pytest.raises(ValueError, match="history must be a dict with a 'loss' list"):
        d.diagnose([0.1, 0.2])


def test_a_loss_that_saturated_far_above_its_lowest_is_diverged_not_underfit():
    """A rate of 1e6 on PyTorch: the loss jumps and saturates at ~14.5, accuracy ~10%."""
    history = {"loss": [2.3, 14.5, 14.51, 14.5], "accuracy": [0.12, 0.1, 0.1, 0.1],
               "val_loss": [14.5, 14.5, 14.5, 14.5], "val_accuracy": [0.1] * 4}  # fmt: skip
    findings = d.diagnose(history)
    assert [f.kind for f in findings] == ["diverged"], findings
    assert "rose to 14.5 (its lowest was 2.3)" in findings[0].message
    assert any("clip_norm" in a for a in findings[0].advice)
    assert d.check_diverged({"loss": [2.3, 2.2, 2.4]}) is None  # a bump is not divergence


def test_without_validation_the_report_does_not_call_the_curves_healthy():
    history = {k: v for k, v in HEALTHY.items() if not k.startswith("val_")}
    report = d.report_markdown(history, d.diagnose(history))
    assert "healthy" not in report
    assert "There was no validation data" in report
    notes = d.report_markdown(HEALTHY, [], ["The classes are imbalanced: ..."])
    assert "## Data" in notes and "The classes are imbalanced" in notes


def test_a_loss_saturated_from_the_first_epoch_is_diverged_not_underfit():
    """Adam at a rate of 10 on JAX or PyTorch: the first epoch already ends near 14.5."""
    history = {"loss": [13.9, 14.5, 14.5, 14.5], "accuracy": [0.1, 0.1, 0.1, 0.1],
               "val_loss": [14.5] * 4, "val_accuracy": [0.1] * 4}  # fmt: skip
    findings = d.diagnose(history)
    assert [f.kind for f in findings] == ["diverged"], findings
    assert "loss is 14.5 (its lowest was 13.9), far above" in findings[0].message
    assert "lower the learning rate" in findings[0].advice[0]


def test_a_loss_in_the_millions_that_fell_back_is_diverged_while_accuracy_stays_at_chance():
    """The same rate on TensorFlow, which computes the loss from the logits."""
    history = {"loss": [6.47e6, 135.7, 20.1, 7.3, 3.5], "accuracy": [0.15, 0.1, 0.11, 0.1, 0.09],
               "val_loss": [767.5, 19.2, 12.6, 5.0, 2.6], "val_accuracy": [0.1] * 5}  # fmt: skip
    findings = d.diagnose(history)
    assert [f.kind for f in findings] == ["diverged"], findings
    assert "reached 6.47e+06 at epoch 1" in findings[0].message
    assert "ended at 9.0% (after epoch 1: 15.0%)" in findings[0].message


def test_a_loss_spike_that_recovers_or_a_thousand_classes_is_not_divergence():
    recovered = {"loss": [12.0, 1.0, 0.5], "accuracy": [0.2, 0.8, 0.9]}
    assert d.check_diverged(recovered) is None
    imagenet_start = {"loss": [6.9, 6.7, 6.6], "accuracy": [0.001, 0.004, 0.006]}
    assert d.check_diverged(imagenet_start) is None
    assert d.check_diverged({"loss": [14.5, 14.5]}) is not None  # no accuracy: still saturated
    assert d.check_diverged({"loss": [20.0, 3.0]}) is None  # no accuracy to judge recovery
