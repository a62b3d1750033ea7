"""Keras callbacks that make training explain itself and survive a killed process.

| callback | what it does |
|---|---|
| `CurvePlotter` | after every epoch rewrites ``curves.png``, ``history.json`` and ``history.csv`` |
| `TrainingDiagnostics` | reads the curves (`kcnn.train.diagnose`) and writes ``report.md`` |
| `RunCheckpoint` | (in `kcnn.train.checkpoint`) a checkpoint per epoch, for resuming |
| `TerminateOnNaN` | Keras' callback, raising by default so the last good checkpoint stays |
| `early_stopping` | Keras' ``EarlyStopping`` with a named patience, restoring the best weights |

Every file is written to a temporary name and renamed into place, so a process killed at
any moment leaves either the previous file or the new one, never half of one. The
callbacks that keep a history (`CurvePlotter`, `TrainingDiagnostics`) read the history
already in their folder when training starts at a later epoch, keeping the epochs before
it: a resumed run continues its curves with no gap and no repeated epoch.
"""

from __future__ import annotations

import math
import os
import threading

import keras
import numpy as np

from kcnn.train.config import EARLY_STOPPING, early_stopping_patience  # noqa: F401
from kcnn.train.diagnose import diagnose, report_markdown
from kcnn.train.run import CHECKPOINT, CURVES, HISTORY, RunFolder, json_ready

HISTORY_FILE = HISTORY
CHECKPOINT_FILE = CHECKPOINT
_json_ready = json_ready


def _to_float(value) -> float:
    """A logged number (a Python or NumPy number, or a tensor on any backend and device:
    NumPy cannot read a PyTorch tensor on a GPU) as a float."""
    if not isinstance(value, (int, float, np.ndarray, np.generic)):
        value = keras.ops.convert_to_numpy(value)
    return float(np.asarray(value).reshape(-1)[0])


def read_history(directory: str | os.PathLike) -> dict:
    """The history a `CurvePlotter` wrote to ``directory/history.json`` (``{}`` if none);
    nulls become NaN."""
    return RunFolder(directory).read_history()


class _EpochHistory(keras.callbacks.Callback):
    """Keeps ``self.history`` (lists per metric, plus ``epoch``, 1-based) across a resume:
    when training starts at epoch ``e``, the epochs before ``e`` are read from the folder."""

    def __init__(self, directory: str | os.PathLike | None):
        super().__init__()
        self.directory = None if directory is None else os.fspath(directory)
        self.history: dict[str, list] = {}
        self._started = False

    def on_train_begin(self, logs=None):
        self.history = {}
        self._started = False

    def on_epoch_begin(self, epoch, logs=None):
        if self._started:
            return
        self._started = True
        if epoch > 0 and self.directory is not None:
            self.history = _truncate(read_history(self.directory), epoch)

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def _record(self, epoch: int, logs: dict) -> None:
        self.on_epoch_begin(epoch)  # in case a caller skips on_epoch_begin
        n = len(self.history.get("epoch", []))
        values = {"epoch": epoch + 1, **{k: _to_float(v) for k, v in (logs or {}).items()}}
        optimizer = getattr(self.model, "optimizer", None) if self.model is not None else None
        if optimizer is not None and "learning_rate" not in values:
            values["learning_rate"] = _to_float(optimizer.learning_rate)
        for key in set(self.history) | set(values):
            column = self.history.setdefault(key, [float("nan")] * n)
            column.append(values.get(key, float("nan")))


def _truncate(history: dict, epoch: int) -> dict:
    """The entries of a history for epochs (0-based) before ``epoch``."""
    keep = sum(1 for e in history.get("epoch", []) if e <= epoch)
    return {k: list(v[:keep]) for k, v in history.items()} if keep else {}


@keras.saving.register_keras_serializable(package="kcnn")
class CurvePlotter(_EpochHistory):
    """After every epoch, rewrite one PNG of training and validation loss and accuracy, and
    the history as ``history.json`` and ``history.csv``.

    The plot marks the best epoch (by ``monitor``) and, given ``patience``, the epoch where
    early stopping with that patience would stop and which epoch it would restore.

    Args:
        directory: the folder to write into.
        filename: the PNG's name. Defaults to ``"curves.png"``.
        monitor: ``"val_loss"`` (lowest is best) or ``"val_accuracy"`` (highest is best);
            falls back to the training metric without validation. Defaults to ``"val_loss"``.
        patience: mark where early stopping with this patience would stop; None marks
            nothing. Defaults to 5.

    Example:
        ```python
        model.fit(x, y, validation_split=0.1, epochs=20,
                  callbacks=[kcnn.train.CurvePlotter("runs/mine")])
        ```
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        filename: str = CURVES,
        monitor: str = "val_loss",
        patience: int | None = 5,
    ):
        super().__init__(directory)
        if monitor not in ("val_loss", "val_accuracy", "loss", "accuracy"):
            raise ValueError(
                "monitor must be 'val_loss', 'val_accuracy', 'loss' or 'accuracy'. "
                f"Received: monitor={monitor!r}"
            )
        if patience is not None and (isinstance(patience, bool) or int(patience) != patience):
            raise ValueError(f"patience must be an integer or None. Received: {patience!r}")
        self.filename = filename
        self.monitor = monitor
        self.patience = patience

    def on_epoch_end(self, epoch, logs=None):
        self._record(epoch, logs)
        self.write()

    def write(self) -> None:
        """Write ``history.json``, ``history.csv`` and the PNG from ``self.history``."""
        from kcnn.plots import plot_history

        folder = RunFolder(self.directory)
        folder.write_history(self.history)
        plot_history(self.history, folder / self.filename, monitor=self.monitor,
                     patience=self.patience)  # fmt: skip

    def get_config(self) -> dict:
        return {
            "directory": self.directory,
            "filename": self.filename,
            "monitor": self.monitor,
            "patience": self.patience,
        }


@keras.saving.register_keras_serializable(package="kcnn")
class TrainingDiagnostics(_EpochHistory):
    """Read the curves after every epoch and say what they show: overfitting, underfitting,
    a NaN loss, late overfitting, stagnation (see `kcnn.train.diagnose`).

    Each new finding is printed once, when it first appears; ``report.md`` in ``directory``
    holds the current diagnosis and the advice. A NaN loss is caught on the batch where it
    appears, so the report is written even when `TerminateOnNaN` stops training there.

    Args:
        directory: where to write ``report.md``; None writes nothing. Defaults to None.
        verbose: print findings as they appear. Defaults to True.
        notes: sentences about the data for ``report.md`` (a class imbalance, say), printed
            once at the start. Defaults to None.

    Attributes:
        findings: the current list of `kcnn.train.diagnose.Finding`.
    """

    #: Keras may run the batch hook in a helper thread (JAX, PyTorch): reading each
    #: batch's loss there waits for that step while the training loop dispatches the next
    #: ones, instead of stopping the accelerator every step. Keras finishes the hooks
    #: before each epoch's end, so a NaN still stops training before a checkpoint is saved.
    async_safe = True

    def __init__(
        self,
        directory: str | os.PathLike | None = None,
        verbose: bool = True,
        notes: list[str] | None = None,
    ):
        super().__init__(directory)
        self.verbose = verbose
        self.notes = list(notes or [])
        self.findings: list = []
        self._said: set = set()
        # Keras' helper threads may run several batches' hooks at once: one writes the
        # report of the first NaN, the others see that it is done.
        self._lock = threading.Lock()
        self._nan_seen = False

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.findings, self._said, self._nan_seen = [], set(), False
        self._epoch = 0
        if self.verbose:
            for note in self.notes:
                print(f"kcnn note: {note}", flush=True)

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(_to_float(loss)):
            return
        with self._lock:
            if self._nan_seen:
                return
            self._nan_seen = True
            history = {k: list(v) for k, v in self.history.items()}
            history.setdefault("loss", []).append(_to_float(loss))
            self._update(history, f" at step {batch + 1} of epoch {self._epoch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._record(epoch, logs)
        with self._lock:
            self._update(self.history)

    def _update(self, history: dict, where: str = "") -> None:
        self.findings = diagnose(history)
        for finding in self.findings:
            if self.verbose and finding.kind not in self._said:
                print(f"kcnn diagnosis{where}: {finding}", flush=True)
            self._said.add(finding.kind)
        if self.directory is not None:
            RunFolder(self.directory).write_report(
                report_markdown(history, self.findings, self.notes)
            )

    def get_config(self) -> dict:
        return {"directory": self.directory, "verbose": self.verbose, "notes": self.notes}


@keras.saving.register_keras_serializable(package="kcnn")
class TerminateOnNaN(keras.callbacks.TerminateOnNaN):
    """Keras' ``TerminateOnNaN``, raising ``RuntimeError`` by default: training stops on the
    batch whose loss is NaN, before any callback can checkpoint the broken weights.

    Args:
        raise_error: raise (True) or stop gracefully (False). Defaults to True.
    """

    #: Keras runs the batch hook in a helper thread (see `TrainingDiagnostics`).
    async_safe = True

    def __init__(self, raise_error: bool = True):
        super().__init__(raise_error=raise_error)

    def get_config(self) -> dict:
        return {"raise_error": self.raise_error}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def early_stopping(
    patience: str | int = "default", monitor: str = "val_loss", min_delta: float = 0.0
) -> keras.callbacks.EarlyStopping:
    """Keras' ``EarlyStopping`` that restores the best weights at the end.

    Args:
        patience: epochs without improvement before stopping: a number, or a preset name:
            ``"quick"`` (3), ``"default"`` (5), ``"patient"`` (10). Defaults to ``"default"``.
        monitor: the metric to watch. Defaults to ``"val_loss"``.
        min_delta: the smallest change that counts as an improvement. Defaults to 0.

    Returns:
        A ``keras.callbacks.EarlyStopping`` with ``restore_best_weights=True``.
    """
    patience = early_stopping_patience(patience)
    return keras.callbacks.EarlyStopping(
        monitor=monitor, patience=patience, min_delta=min_delta, restore_best_weights=True
    )


def __getattr__(name: str):
    """`RunCheckpoint` and its functions moved to `kcnn.train.checkpoint`; the old import
    path keeps working."""
    if name in ("RunCheckpoint", "save_atomic", "read_checkpoint", "restore_checkpoint"):
        from kcnn.train import checkpoint

        return getattr(checkpoint, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
