"""Training: the fit recipe and its configuration."""

from kcnn.train.fit import TrainConfig, check_data, fit

__all__ = ["TrainConfig", "check_data", "fit"]
