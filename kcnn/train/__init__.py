"""Training: the fit recipe and its configuration, callbacks, schedules, curve diagnosis,
fine-tuning."""

from kcnn.train.callbacks import (
    CurvePlotter,
    RunCheckpoint,
    TerminateOnNaN,
    TrainingDiagnostics,
    early_stopping,
    read_checkpoint,
    restore_checkpoint,
)
from kcnn.train.diagnose import Finding, diagnose
from kcnn.train.fit import TrainConfig, check_data, fit, recommended_settings
from kcnn.train.schedules import OneCycle, find_lr, make_schedule
from kcnn.train.transfer import fine_tune, unfreeze_backbone

__all__ = [
    "CurvePlotter",
    "Finding",
    "OneCycle",
    "RunCheckpoint",
    "TerminateOnNaN",
    "TrainConfig",
    "TrainingDiagnostics",
    "check_data",
    "diagnose",
    "early_stopping",
    "find_lr",
    "fine_tune",
    "fit",
    "make_schedule",
    "read_checkpoint",
    "recommended_settings",
    "restore_checkpoint",
    "unfreeze_backbone",
]
