"""Checkpoints that survive a killed process: saving, restoring and the random-generator
state, together (as Keras' ``BackupAndRestore`` keeps both halves in one callback).

`RunCheckpoint` writes a complete ``.keras`` file per epoch and then ``checkpoint.json``;
`restore_checkpoint` puts a compiled model back where the last one left it, and the same
callback puts torch's global generator back at the start of the resumed epoch. A resumed
run ends with the weights of a run that never stopped.
"""

from __future__ import annotations

import base64
import os
import warnings

import keras
import numpy as np

from kcnn import _io
from kcnn._validate import check_int
from kcnn.distribute.strategy import unsynchronized_for_saving
from kcnn.train import ema
from kcnn.train.callbacks import _EpochHistory, _truncate
from kcnn.train.in_step import trained_model
from kcnn.train.run import CHECKPOINT, RunFolder


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

    With ``keep_best``, an epoch whose ``val_accuracy`` beats every earlier one is also
    saved as ``checkpoints/best.keras`` (before ``checkpoint.json`` names the epoch), and
    ``checkpoint.json`` records ``best``: its epoch and ``val_accuracy``. Under averaged
    weights (`kcnn.train.ema`) every file holds the average as the model's weights.

    Args:
        directory: the run folder.
        keep: how many checkpoints to keep, >= 1. Defaults to 2.
        keep_best: also keep the best checkpoint by ``val_accuracy``. Defaults to False.
    """

    def __init__(self, directory: str | os.PathLike, keep: int = 2, keep_best: bool = False):
        super().__init__(directory)
        self.keep = check_int("keep", keep, minimum=1)
        self.keep_best = bool(keep_best)

    def on_epoch_begin(self, epoch, logs=None):
        if self._started:
            return
        self._started = True
        state = _state_at(self.directory, epoch) if epoch > 0 else None
        self.history = _truncate(state["history"], epoch) if state else {}
        if state and state["epoch"] == epoch:
            # Set here rather than in restore_checkpoint: between on_epoch_begin and the
            # first batch, torch's DataLoader draws from the global generator, as it did
            # in the run that wrote the checkpoint; fit's own set-up draws before this.
            _set_global_rng_state(state.get("global_rng", {}))

    def on_epoch_end(self, epoch, logs=None):
        self._record(epoch, logs)
        folder = RunFolder(self.directory)
        model = trained_model(self.model)  # not augment_in_step's training model
        extra = {}
        if self.keep_best:
            extra["best"] = self._best(folder, epoch, model)
        with ema.saving_state(model) as averaged:
            save_atomic(model, folder.checkpoint_path(epoch + 1))
        if averaged:
            extra["ema_in_model"] = True
        folder.write_checkpoint(
            epoch + 1,
            self.history,
            seed_states=[np.asarray(v).tolist() for v in _seed_states(model)],
            global_rng=_global_rng_state(),
            **extra,
        )
        folder.prune_checkpoints(self.keep)

    def _best(self, folder: RunFolder, epoch: int, model: keras.Model) -> dict:
        """Save ``best.keras`` when this epoch's ``val_accuracy`` beats the earlier ones;
        the best epoch (1-based) and its ``val_accuracy``."""
        scores = self.history.get("val_accuracy")
        if not scores or not np.isfinite(scores[-1]):
            raise ValueError(
                "keep_best needs a val_accuracy every epoch: train with validation data."
            )
        best = int(np.nanargmax(scores))  # the first of equal scores
        if best == len(scores) - 1:
            save_atomic(model, folder.best_path())
        return {"epoch": self.history["epoch"][best], "val_accuracy": scores[best]}

    def get_config(self) -> dict:
        return {"directory": self.directory, "keep": self.keep, "keep_best": self.keep_best}


def save_atomic(model: keras.Model, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Save a ``.keras`` file through a temporary file, fsync and an atomic rename
    (``metadata``: entries for the archive's ``metadata.json``, see `kcnn._io.save_model`)."""
    with unsynchronized_for_saving(model):
        _io.save_model(model, path, metadata)


def read_checkpoint(directory: str | os.PathLike) -> dict | None:
    """The state ``RunCheckpoint`` last completed in ``directory`` (None if there is none):
    ``epoch``, ``file`` (absolute), ``history`` and ``seed_states``."""
    return RunFolder(directory).read_checkpoint()


def _loads(model: keras.Model, path: str) -> bool:
    try:
        model.load_weights(path)
    except Exception:
        return False
    return True


def _state_at(directory, epoch: int) -> dict | None:
    """The checkpoint state a run resumed at ``epoch`` started from: the last one, or the
    one before it when the last file was damaged."""
    state = read_checkpoint(directory)
    if state is not None and state["epoch"] != epoch:
        earlier = RunFolder(directory).read_checkpoint(previous=True)
        if earlier is not None and earlier["epoch"] == epoch:
            return earlier
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
            f"{os.fspath(directory)!r} has no {CHECKPOINT}: it is not a run folder with "
            "a finished epoch, so there is nothing to resume."
        )
    if getattr(model, "optimizer", None) is None:
        raise ValueError("Compile the model before restoring a checkpoint into it.")
    model.optimizer.build(model.trainable_variables)
    try:
        model.load_weights(state["file"])
    except Exception as error:  # damaged (any zip or h5 error), or another architecture
        earlier = RunFolder(directory).read_checkpoint(previous=True)
        if earlier is None or not _loads(model, earlier["file"]):
            if isinstance(error, ValueError):
                raise ValueError(
                    f"The checkpoint {state['file']} does not fit model {model.name!r}: {error}"
                ) from None
            raise ValueError(
                f"The checkpoint {state['file']} cannot be read ({type(error).__name__}: "
                f"{error}), and there is no earlier checkpoint to fall back to."
            ) from None
        warnings.warn(
            f"The checkpoint {state['file']} cannot be read ({type(error).__name__}); "
            f"resuming from the one before it, epoch {earlier['epoch']}.",
            stacklevel=2,
        )
        state = earlier
    if state.get("ema_in_model"):
        ema.swap(model)  # the file holds the average as the weights; train on the trained ones
    seeds = _seed_states(model)
    if len(seeds) == len(state["seed_states"]):
        for variable, value in zip(seeds, state["seed_states"]):
            variable.assign(np.asarray(value, dtype=variable.dtype))
    return state
