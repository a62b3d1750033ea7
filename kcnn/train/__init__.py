"""Training: the fit recipe and its configuration, callbacks, checkpoints, run folders,
schedules, curve diagnosis, fine-tuning.

Names load on first use (`kcnn._lazy`), so that `kcnn.train.config` can be read without
Keras (the command line builds ``kcnn train``'s flags from it).
"""

from kcnn._lazy import lazy_package

_EXPORTS = {
    "CurvePlotter": "kcnn.train.callbacks:CurvePlotter",
    "Finding": "kcnn.train.diagnose:Finding",
    "OneCycle": "kcnn.train.schedules:OneCycle",
    "Run": "kcnn.train.run:Run",
    "RunCheckpoint": "kcnn.train.checkpoint:RunCheckpoint",
    "RunFolder": "kcnn.train.run:RunFolder",
    "TerminateOnNaN": "kcnn.train.callbacks:TerminateOnNaN",
    "TrainConfig": "kcnn.train.config:TrainConfig",
    "TrainingDiagnostics": "kcnn.train.callbacks:TrainingDiagnostics",
    "check_data": "kcnn.train.fit:check_data",
    "diagnose": "kcnn.train.diagnose:diagnose",
    "early_stopping": "kcnn.train.callbacks:early_stopping",
    "find_lr": "kcnn.train.schedules:find_lr",
    "fine_tune": "kcnn.train.transfer:fine_tune",
    "fit": "kcnn.train.fit:fit",
    "load_run": "kcnn.train.run:load_run",
    "make_schedule": "kcnn.train.schedules:make_schedule",
    "read_checkpoint": "kcnn.train.checkpoint:read_checkpoint",
    "recommended_settings": "kcnn.train.config:recommended_settings",
    "restore_checkpoint": "kcnn.train.checkpoint:restore_checkpoint",
    "unfreeze_backbone": "kcnn.train.transfer:unfreeze_backbone",
}
__all__ = sorted(_EXPORTS)
lazy_package(__name__, _EXPORTS)
