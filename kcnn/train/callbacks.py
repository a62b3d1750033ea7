"""Keras callbacks that make training explain itself and survive a killed process.

| callback | what it does |
|---|---|
| `CurvePlotter` | after every epoch rewrites ``curves.png``, ``history.json`` and ``history.csv`` |
| `TrainingDiagnostics` | reads the curves (`kcnn.train.diagnose`) and writes ``report.md`` |
| `RunCheckpoint` | an atomic checkpoint per epoch that `restore_checkpoint` resumes from |
| `TerminateOnNaN` | Keras' callback, raising by default so the last good checkpoint stays |
| `early_stopping` | Keras' ``EarlyStopping`` with a named patience, restoring the best weights |

Every file is written to a temporary name and renamed into place, so a process killed at
any moment leaves either the previous file or the new one, never half of one. The
callbacks that keep a history (`CurvePlotter`, `TrainingDiagnostics`) read the history
already in their folder when training starts at a later epoch, keeping the epochs before
it: a resumed run continues its curves with no gap and no repeated epoch.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path

import keras
import numpy as np

from kcnn.distribute import unsynchronized_for_saving
from kcnn.train.diagnose import diagnose, report_markdown

HISTORY_FILE = "history.json"
CHECKPOINT_FILE = "checkpoint.json"
EARLY_STOPPING = {"quick": 3, "default": 5, "patient": 10}


def _write_text(path: Path, text: str) -> None:
    """Write text to a temporary file in the same folder and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    ) as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, path)


def _to_float(value) -> float:
    return float(np.asarray(value).reshape(-1)[0])


def _json_ready(history: dict) -> dict:
    """NaN and infinity are not JSON: write them as null, read back as NaN."""
    return {
        key: [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]
        for key, values in history.items()
    }


def read_history(directory: str | os.PathLike) -> dict:
    """The history a `CurvePlotter` wrote to ``directory/history.json`` (``{}`` if none);
    nulls become NaN."""
    path = Path(directory) / HISTORY_FILE
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {k: [float("nan") if v is None else v for v in values] for k, values in data.items()}


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
        filename: str = "curves.png",
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
        from kcnn.inspect.visualize import plot_history

        directory = Path(self.directory)
        _write_text(directory / HISTORY_FILE, json.dumps(_json_ready(self.history), indent=1))
        keys = ["epoch"] + sorted(k for k in self.history if k != "epoch")
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(keys)
        writer.writerows(zip(*(self.history[k] for k in keys)))
        _write_text(directory / "history.csv", buffer.getvalue())
        plot_history(
            self.history, directory / self.filename, monitor=self.monitor, patience=self.patience
        )

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

    Attributes:
        findings: the current list of `kcnn.train.diagnose.Finding`.
    """

    def __init__(self, directory: str | os.PathLike | None = None, verbose: bool = True):
        super().__init__(directory)
        self.verbose = verbose
        self.findings: list = []
        self._said: set = set()

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.findings, self._said = [], set()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        super().on_epoch_begin(epoch, logs)
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(_to_float(loss)):
            history = {k: list(v) for k, v in self.history.items()}
            history.setdefault("loss", []).append(_to_float(loss))
            self._update(history, f" at step {batch + 1} of epoch {self._epoch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._record(epoch, logs)
        self._update(self.history)

    def _update(self, history: dict, where: str = "") -> None:
        self.findings = diagnose(history)
        for finding in self.findings:
            if self.verbose and finding.kind not in self._said:
                print(f"kcnn diagnosis{where}: {finding}", flush=True)
            self._said.add(finding.kind)
        if self.directory is not None:
            report = report_markdown(history, self.findings)
            _write_text(Path(self.directory) / "report.md", report)

    def get_config(self) -> dict:
        return {"directory": self.directory, "verbose": self.verbose}


@keras.saving.register_keras_serializable(package="kcnn")
class TerminateOnNaN(keras.callbacks.TerminateOnNaN):
    """Keras' ``TerminateOnNaN``, raising ``RuntimeError`` by default: training stops on the
    batch whose loss is NaN, before any callback can checkpoint the broken weights.

    Args:
        raise_error: raise (True) or stop gracefully (False). Defaults to True.
    """

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
    if isinstance(patience, str):
        if patience not in EARLY_STOPPING:
            raise ValueError(
                f"patience must be an integer or one of {list(EARLY_STOPPING)}. "
                f"Received: patience={patience!r}"
            )
        patience = EARLY_STOPPING[patience]
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
        raise ValueError(f"patience must be an integer >= 1. Received: patience={patience!r}")
    return keras.callbacks.EarlyStopping(
        monitor=monitor, patience=patience, min_delta=min_delta, restore_best_weights=True
    )


def _seed_states(model: keras.Model) -> list:
    """The random-generator states of the model's layers (Dropout's, for instance): they
    are model variables but not part of Keras' weight files."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def _global_rng_state() -> dict:
    """The backend's global random state where layers draw from it: on PyTorch, a layer
    without a seed (Keras' default Dropout) uses torch's global generator."""
    if keras.backend.backend() != "torch":
        return {}
    import torch

    return {"torch": base64.b64encode(torch.get_rng_state().numpy().tobytes()).decode()}


def _set_global_rng_state(state: dict) -> None:
    if state.get("torch") and keras.backend.backend() == "torch":
        import torch

        raw = np.frombuffer(base64.b64decode(state["torch"]), dtype=np.uint8).copy()
        torch.set_rng_state(torch.from_numpy(raw))


@keras.saving.register_keras_serializable(package="kcnn")
class RunCheckpoint(_EpochHistory):
    """Save a checkpoint after every epoch that survives a killed process.

    Each checkpoint is a complete ``.keras`` file (weights, optimizer state, compile
    settings) written to a temporary file and renamed into
    ``directory/checkpoints/epoch-NNNN.keras``; then ``directory/checkpoint.json`` (the
    epoch, the file, the history so far, the random-generator states of layers such as
    Dropout and, on PyTorch, torch's global generator) is replaced in the same way. Only
    then are checkpoints older than the last ``keep`` deleted. Whenever the process dies,
    ``checkpoint.json`` names a complete file.
    `restore_checkpoint` puts a model back where the last checkpoint left it.

    Args:
        directory: the run folder.
        keep: how many checkpoints to keep, >= 1. Defaults to 2.
    """

    def __init__(self, directory: str | os.PathLike, keep: int = 2):
        super().__init__(directory)
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise ValueError(f"keep must be an integer >= 1. Received: keep={keep!r}")
        self.keep = keep

    def on_epoch_begin(self, epoch, logs=None):
        if self._started:
            return
        self._started = True
        state = read_checkpoint(self.directory) if epoch > 0 else None
        self.history = _truncate(state["history"], epoch) if state else {}
        if state and state["epoch"] == epoch:
            # Set here rather than in restore_checkpoint: between on_epoch_begin and the
            # first batch, torch's DataLoader draws from the global generator, as it did
            # in the run that wrote the checkpoint; fit's own set-up draws before this.
            _set_global_rng_state(state.get("global_rng", {}))

    def on_epoch_end(self, epoch, logs=None):
        self._record(epoch, logs)
        directory = Path(self.directory)
        folder = directory / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{epoch + 1:04d}.keras"
        save_atomic(self.model, folder / name)
        state = {
            "epoch": epoch + 1,
            "file": f"checkpoints/{name}",
            "history": _json_ready(self.history),
            "seed_states": [np.asarray(v).tolist() for v in _seed_states(self.model)],
            "global_rng": _global_rng_state(),
        }
        _write_text(directory / CHECKPOINT_FILE, json.dumps(state))
        kept = sorted(folder.glob("epoch-*.keras"))[: -self.keep]
        for old in kept:
            old.unlink(missing_ok=True)

    def get_config(self) -> dict:
        return {"directory": self.directory, "keep": self.keep}


def save_atomic(model: keras.Model, path: str | os.PathLike) -> None:
    """Save a ``.keras`` file through a temporary file, fsync and an atomic rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        with unsynchronized_for_saving(model):
            model.save(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_checkpoint(directory: str | os.PathLike) -> dict | None:
    """The state ``RunCheckpoint`` last completed in ``directory`` (None if there is none):
    ``epoch``, ``file`` (absolute), ``history`` and ``seed_states``."""
    path = Path(directory) / CHECKPOINT_FILE
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    state["file"] = str(Path(directory) / state["file"])
    state["history"] = {
        k: [float("nan") if v is None else v for v in values]
        for k, values in state["history"].items()
    }
    return state


def restore_checkpoint(model: keras.Model, directory: str | os.PathLike) -> dict:
    """Load the last checkpoint of a run folder into a compiled model: weights, optimizer
    state and layer random-generator states.

    Args:
        model: the same architecture, compiled with the same optimizer type.
        directory: a run folder written with `RunCheckpoint`.

    Returns:
        The checkpoint state (see `read_checkpoint`); train on with
        ``model.fit(..., initial_epoch=state["epoch"])`` and a `RunCheckpoint` on the same
        folder among the callbacks (it restores torch's global generator at the right
        moment, and goes on checkpointing).

    Raises:
        FileNotFoundError: the folder has no checkpoint.
        ValueError: the model is not compiled, or its architecture differs.
    """
    state = read_checkpoint(directory)
    if state is None:
        raise FileNotFoundError(
            f"{os.fspath(directory)!r} has no {CHECKPOINT_FILE}: it is not a run folder with "
            "a finished epoch, so there is nothing to resume."
        )
    if getattr(model, "optimizer", None) is None:
        raise ValueError("Compile the model before restoring a checkpoint into it.")
    model.optimizer.build(model.trainable_variables)
    try:
        model.load_weights(state["file"])
    except ValueError as error:
        raise ValueError(
            f"The checkpoint {state['file']} does not fit model {model.name!r}: {error}"
        ) from None
    seeds = _seed_states(model)
    if len(seeds) == len(state["seed_states"]):
        for variable, value in zip(seeds, state["seed_states"]):
            variable.assign(np.asarray(value, dtype=variable.dtype))
    return state
