"""Averaged weights (``TrainConfig.ema``): validation, checkpoints and the final model see
the exponential moving average the optimizer keeps, while training goes on from the
trained weights.

Keras' optimizer keeps the average inside the compiled train step (``use_ema=True``:
``average = decay * average + (1 - decay) * weights`` after every update, starting from the
weights of the first update) and puts it into the model when ``fit`` ends. What it does not
do is show the average to validation or to the checkpoints; Keras' ``SwapEMAWeights`` does,
but on TensorFlow it swaps by adding and subtracting, which changes the last bits of the
weights and so a resumed run's result. `AveragedWeights` copies instead:

- before validation (or at the end of an epoch without it) the trained weights are kept
  aside and the model takes the average, so ``val_*`` metrics, early stopping's best
  weights, `RunCheckpoint` and the best checkpoint all see the average;
- at the start of the next epoch the trained weights come back, bit for bit;
- a checkpoint holds the average as its model weights and the trained weights in the
  optimizer's slot for the average (`saving_state`), and ``checkpoint.json`` says so;
  `restore_checkpoint` swaps them back (`swap`), so a resumed run trains on exactly.

Only trainable weights are averaged (as in Keras and PyTorch's ``AveragedModel``):
BatchNorm's running mean and variance stay those of the trained weights. They are
themselves a moving average (momentum 0.9 in kcnn's models, about the last 10 batches; 0.99,
Keras' default, about the last 100).
"""

from __future__ import annotations

import contextlib
import weakref

import keras
import numpy as np

from kcnn.train.in_step import trained_model

#: The `AveragedWeights` callback of each model being trained.
_ACTIVE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def ema_optimizer(model: keras.Model):
    """The model's optimizer that keeps an average (inside a ``LossScaleOptimizer`` too),
    or None."""
    optimizer = getattr(model, "optimizer", None)
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    if optimizer is None or not getattr(optimizer, "use_ema", False):
        return None
    return optimizer


def _pairs(optimizer) -> list:
    return list(zip(optimizer._trainable_variables, optimizer._model_variables_moving_average))


def swap(model: keras.Model) -> None:
    """Exchange the model's trainable weights and the optimizer's averages, exactly."""
    for variable, average in _pairs(ema_optimizer(model)):
        trained = np.array(variable)
        variable.assign(np.array(average))
        average.assign(trained)


class AveragedWeights(keras.callbacks.Callback):
    """Show the optimizer's average of the weights to validation and to the callbacks at
    the end of each epoch; train on from the trained weights (see the module's text).

    Put it first among the callbacks, so that the others see the average at the end of an
    epoch. The model must be compiled with an optimizer with ``use_ema=True``.
    """

    def __init__(self):
        super().__init__()
        self._trained = None  # the trained weights while the model holds the average

    def on_train_begin(self, logs=None):
        if ema_optimizer(self.model) is None:
            raise ValueError("AveragedWeights needs an optimizer with use_ema=True.")
        _ACTIVE[trained_model(self.model)] = self  # what checkpoints save
        self._trained = None

    def _show_average(self) -> None:
        if self._trained is not None:
            return
        pairs = _pairs(ema_optimizer(self.model))
        self._trained = [np.array(variable) for variable, _ in pairs]
        for variable, average in pairs:
            variable.assign(np.array(average))

    def _train_on(self) -> None:
        if self._trained is None:
            return
        for (variable, _), trained in zip(_pairs(ema_optimizer(self.model)), self._trained):
            variable.assign(trained)
        self._trained = None

    def on_test_begin(self, logs=None):
        self._show_average()

    def on_epoch_end(self, epoch, logs=None):
        self._show_average()

    def on_epoch_begin(self, epoch, logs=None):
        self._train_on()

    def on_train_end(self, logs=None):
        # Keras has already put the average into the model (finalize_variable_values).
        self._trained = None
        _ACTIVE.pop(trained_model(self.model), None)

    @contextlib.contextmanager
    def saving_state(self):
        """While the model holds the average: the trained weights in the optimizer's slots
        for the average, so that a saved file holds both (see `swap`)."""
        if self._trained is None:
            yield False
            return
        pairs = _pairs(ema_optimizer(self.model))
        for (_, average), trained in zip(pairs, self._trained):
            average.assign(trained)
        try:
            yield True
        finally:
            for variable, average in pairs:
                average.assign(np.array(variable))


@contextlib.contextmanager
def saving_state(model: keras.Model):
    """`AveragedWeights.saving_state` of the model's callback; yields whether the model
    holds the average (False without one)."""
    callback = _ACTIVE.get(model)
    if callback is None:
        yield False
        return
    with callback.saving_state() as swapped:
        yield swapped
