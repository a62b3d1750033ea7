"""Training: the fit recipe and its configuration, callbacks, checkpoints, run folders,
schedules, curve diagnosis, fine-tuning.

Names load on first use (`kcnn._lazy`), so that `kcnn.train.config` can be read without
Keras (the command line builds ``kcnn train``'s flags from it).
"""

from kcnn._lazy import lazy_package

_EXPORTS = {
    "CurveExample": "kcnn.train.curve_examples:CurveExample",
    "CurvePlotter": "kcnn.train.callbacks:CurvePlotter",
    "FAST_RECIPE": "kcnn.train.recipe:FAST_RECIPE",
    "Finding": "kcnn.train.diagnose:Finding",
    "LabelBudgetCurve": "kcnn.train.label_budget:LabelBudgetCurve",
    "OneCycle": "kcnn.train.schedules:OneCycle",
    "PATTERNS": "kcnn.train.curve_examples:PATTERNS",
    "Run": "kcnn.train.run:Run",
    "RunCheckpoint": "kcnn.train.checkpoint:RunCheckpoint",
    "RunFolder": "kcnn.train.run:RunFolder",
    "SweepResult": "kcnn.train.sweep:SweepResult",
    "SweepRow": "kcnn.train.sweep:SweepRow",
    "TerminateOnNaN": "kcnn.train.callbacks:TerminateOnNaN",
    "TrainConfig": "kcnn.train.config:TrainConfig",
    "TrainingDiagnostics": "kcnn.train.callbacks:TrainingDiagnostics",
    "augment_in_step": "kcnn.train.in_step:augment_in_step",
    "check_data": "kcnn.train.fit:check_data",
    "diagnose": "kcnn.train.diagnose:diagnose",
    "early_stopping": "kcnn.train.callbacks:early_stopping",
    "fast_recipe": "kcnn.train.recipe:fast_recipe",
    "find_lr": "kcnn.train.schedules:find_lr",
    "fine_tune": "kcnn.train.transfer:fine_tune",
    "fit": "kcnn.train.fit:fit",
    "label_budget_curve": "kcnn.train.label_budget:label_budget_curve",
    "load_run": "kcnn.train.run:load_run",
    "make_schedule": "kcnn.train.schedules:make_schedule",
    "provoke": "kcnn.train.curve_examples:provoke",
    "read_checkpoint": "kcnn.train.checkpoint:read_checkpoint",
    "recommended_settings": "kcnn.train.config:recommended_settings",
    "restore_checkpoint": "kcnn.train.checkpoint:restore_checkpoint",
    "sample_per_class": "kcnn.train.label_budget:sample_per_class",
    "split_classes": "kcnn.train.label_budget:split_classes",
    "sweep": "kcnn.train.sweep:sweep",
    "unfreeze_backbone": "kcnn.train.transfer:unfreeze_backbone",
}
__all__ = sorted(_EXPORTS)
lazy_package(__name__, _EXPORTS)
