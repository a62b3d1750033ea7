"""`RunFolder`: the only code that knows a run folder's files.

| file | what |
|---|---|
| ``config.json`` | the `TrainConfig`, the model, the data set, the versions and the device |
| ``curves.png``, ``history.json``, ``history.csv`` | curves and history, rewritten every epoch |
| ``report.md`` | the diagnosis of the curves (`kcnn.train.diagnose`) |
| ``checkpoint.json``, ``checkpoints/`` | the last epoch, for ``resume=``; ``best.keras`` |
| ``model.keras`` | the trained model and its inference contract (`kcnn.infer.load`) |
| ``confusion.png`` | confusion matrix on the test set |
| ``metrics.json`` | test loss and accuracy, parameter count, time taken, which weights |
| ``tensorboard/`` | TensorBoard event files, with ``tensorboard`` |

Every file goes through `kcnn._io`'s atomic writer: a killed process leaves the previous
file or the new one, and every file is readable by the group and others under the usual
umask. `load_run` reads a finished or unfinished run back, for the command line and for
users.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from kcnn import _io
from kcnn._validate import is_int as _is_int
from kcnn._validate import is_number as _is_number
from kcnn._validate import short_repr as _short

CONFIG = "config.json"
HISTORY = "history.json"
HISTORY_CSV = "history.csv"
CURVES = "curves.png"
REPORT = "report.md"
CHECKPOINT = "checkpoint.json"
CHECKPOINTS = "checkpoints"
MODEL = "model.keras"
BEST = "best.keras"
TENSORBOARD = "tensorboard"
CONFUSION = "confusion.png"
METRICS = "metrics.json"


def json_ready(history: dict) -> dict:
    """NaN and infinity are not JSON: write them as null (`nan_restored` reads them back)."""
    return {
        key: [None if isinstance(v, float) and not math.isfinite(v) else v for v in values]
        for key, values in history.items()
    }


def nan_restored(history: dict) -> dict:
    """A history read from JSON, with its nulls back as NaN."""
    return {k: [float("nan") if v is None else v for v in values] for k, values in history.items()}


def _read_json(path: Path, what: str) -> dict:
    """The JSON object in ``path``; a `ValueError` naming the file when it cannot be read,
    is not JSON (damaged, truncated, not UTF-8, nested past the parser's limit) or holds
    something other than an object."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"{path} cannot be read ({error}); it is not a {what}.") from None
    except (ValueError, RecursionError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}); it is not a {what}.") from None
    if not isinstance(record, dict):
        raise ValueError(
            f"{path} is not a {what}: it holds a JSON {type(record).__name__}, not an object."
        )
    return record


def _history_problem(history) -> str | None:
    """What is wrong with a history read from JSON, or None: it must map each metric to a
    list of numbers (nulls stand for NaN)."""
    if not isinstance(history, dict):
        return f"the history must be an object of lists, not {_short(history)}"
    for key, values in history.items():
        if not isinstance(values, list) or not all(v is None or _is_number(v) for v in values):
            return f"history[{key!r}] must be a list of numbers, not {_short(values)}"
    return None


def _checkpoint_problem(state: dict) -> str | None:
    """What is wrong with a ``checkpoint.json`` record, or None."""
    if not _is_int(state.get("epoch")) or state["epoch"] < 0:
        return f"'epoch' must be a whole number >= 0, not {_short(state.get('epoch'))}"
    if not isinstance(state.get("file"), str) or not state["file"]:
        return f"'file' must name the checkpoint's .keras file, not {_short(state.get('file'))}"
    if "history" not in state:
        return "it has no 'history'"
    problem = _history_problem(state["history"])
    if problem:
        return problem
    seeds = state.get("seed_states", [])
    if not isinstance(seeds, list) or not all(
        isinstance(s, list) and all(_is_int(v) for v in s) for s in seeds
    ):
        return f"'seed_states' must be lists of integers, not {_short(seeds)}"
    rng = state.get("global_rng", {})
    if not isinstance(rng, dict) or not isinstance(rng.get("torch", ""), str):
        return f"'global_rng' must be an object of base64 strings, not {_short(rng)}"
    try:
        base64.b64decode(rng.get("torch", ""), validate=True)
    except ValueError:
        return "'global_rng' holds a torch generator state that is not base64"
    best = state.get("best", {"epoch": 0, "val_accuracy": 0.0})
    if not (
        isinstance(best, dict)
        and _is_int(best.get("epoch"))
        and _is_number(best.get("val_accuracy"))
    ):
        return f"'best' must hold an 'epoch' and its 'val_accuracy', not {_short(best)}"
    if not isinstance(state.get("ema_in_model", False), bool):
        return f"'ema_in_model' must be true or false, not {_short(state['ema_in_model'])}"
    return None


class RunFolder:
    """A run folder: where a training run writes, and where a resumed run reads.

    Args:
        path: the folder.
        scratch: a folder of a process other than process 0, deleted by `close` (saving a
            model is a collective step, so every process saves; only process 0 keeps its
            files). Defaults to False.
    """

    def __init__(self, path: str | os.PathLike, scratch: bool = False):
        self.path = Path(path)
        self.scratch = scratch

    @classmethod
    def new(cls, root: str | os.PathLike, name: str) -> RunFolder:
        """Create ``root/<name>-<YYYYmmdd-HHMMSS>/`` (with a suffix if that exists)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        for attempt in range(1000):
            path = root / (f"{name}-{stamp}" + (f"-{attempt}" if attempt else ""))
            try:
                path.mkdir()
                return cls(path)
            except FileExistsError:
                continue
        raise FileExistsError(f"Could not create a new run folder under {root}.")

    @classmethod
    def existing(cls, path: str | os.PathLike) -> RunFolder:
        """A run folder to resume: it must have a ``config.json``. Temporary files a killed
        write left behind are removed."""
        folder = cls(path)
        folder.read_config()  # raises unless it is a run folder
        for place in (folder.path, folder.path / CHECKPOINTS):
            _io.remove_stale(place)
        return folder

    @classmethod
    def for_process(cls, process_id: int) -> RunFolder:
        """A scratch folder for a process other than process 0."""
        return cls(tempfile.mkdtemp(prefix=f"kcnn-process{process_id}-"), scratch=True)

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def __repr__(self) -> str:
        return f"RunFolder({os.fspath(self.path)!r})"

    def close(self) -> None:
        """Delete a scratch folder; a real run folder stays."""
        if self.scratch:
            shutil.rmtree(self.path, ignore_errors=True)

    # config.json
    def read_config(self) -> dict:
        """The ``config.json``, with a clear error when this is not a run folder."""
        path = self.path / CONFIG
        if not path.is_file():
            raise FileNotFoundError(
                f"{os.fspath(self.path)!r} is not a kcnn run folder: it has no {CONFIG}."
            )
        return _read_json(path, "run folder's config")

    def write_config(self, config: dict) -> None:
        _io.write_json(self.path / CONFIG, config)

    # history.json, history.csv, curves.png, report.md
    def read_history(self) -> dict:
        """The history written so far (``{}`` if none); nulls become NaN."""
        path = self.path / HISTORY
        if not path.exists():
            return {}
        history = _read_json(path, "history")
        problem = _history_problem(history)
        if problem:
            raise ValueError(f"{path} is not a valid history: {problem}.")
        return nan_restored(history)

    def write_history(self, history: dict) -> None:
        """``history.json`` and ``history.csv``: one column per metric, ``epoch`` first."""
        _io.write_text(self.path / HISTORY, json.dumps(json_ready(history), indent=1))
        keys = ["epoch"] + sorted(k for k in history if k != "epoch")
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(keys)
        writer.writerows(zip(*(history[k] for k in keys)))
        _io.write_text(self.path / HISTORY_CSV, buffer.getvalue())

    def write_report(self, text: str) -> None:
        _io.write_text(self.path / REPORT, text)

    # checkpoint.json, checkpoints/
    def checkpoint_path(self, epoch: int) -> Path:
        """Where the checkpoint after ``epoch`` (1-based) goes."""
        return self.path / CHECKPOINTS / f"epoch-{epoch:04d}.keras"

    def best_path(self) -> Path:
        """Where the best checkpoint (``keep_best``) goes."""
        return self.path / CHECKPOINTS / BEST

    def read_checkpoint(self, previous: bool = False) -> dict | None:
        """The last completed checkpoint's state (None if there is none): ``epoch``,
        ``file`` (absolute), ``history`` (NaN restored), ``seed_states``, ``global_rng``.
        ``previous=True``: the one before it, kept for when the last file is damaged."""
        path = self.path / CHECKPOINT
        if not path.exists():
            return None
        state = _read_json(path, "checkpoint state")
        if previous:
            state = state.get("previous") if isinstance(state, dict) else None
            if state is None:
                return None
        problem = _checkpoint_problem(state)
        if problem:
            raise ValueError(f"{path} is not a valid checkpoint state: {problem}.")
        state.pop("previous", None)
        state["file"] = str(self.path / state["file"])
        state["history"] = nan_restored(state["history"])
        return state

    def write_checkpoint(self, epoch: int, history: dict, **state) -> None:
        """Record that the checkpoint of ``epoch`` is complete (written after it), keeping
        the record before it as ``previous``."""
        relative = self.checkpoint_path(epoch).relative_to(self.path).as_posix()
        record = {"epoch": epoch, "file": relative, "history": json_ready(history), **state}
        try:
            last = json.loads((self.path / CHECKPOINT).read_text())
        except (OSError, ValueError):
            last = None
        if isinstance(last, dict) and last.get("epoch") != epoch:
            last.pop("previous", None)
            record["previous"] = last
        _io.write_text(self.path / CHECKPOINT, json.dumps(record))

    def prune_checkpoints(self, keep: int) -> None:
        """Delete all but the last ``keep`` checkpoints."""
        for old in sorted((self.path / CHECKPOINTS).glob("epoch-*.keras"))[:-keep]:
            old.unlink(missing_ok=True)

    # the final files
    def write_metrics(self, metrics: dict) -> None:
        _io.write_json(self.path / METRICS, metrics)

    def read_metrics(self) -> dict:
        path = self.path / METRICS
        return _read_json(path, "metrics file") if path.exists() else {}


@dataclass
class Run:
    """A run folder read back: its settings, history and results.

    Attributes:
        folder: the `RunFolder`.
        config: ``config.json`` as stored (training settings, model, data set, backend).
        history: the history so far (``{}`` before the first epoch ends).
        metrics: ``metrics.json`` (``{}`` until the run has finished).
    """

    folder: RunFolder
    config: dict
    history: dict
    metrics: dict

    @property
    def path(self) -> Path:
        return self.folder.path

    @property
    def finished(self) -> bool:
        """Whether the run wrote its final model."""
        return (self.folder / MODEL).is_file()

    def load_model(self):
        """The final ``model.keras`` (``safe_mode=True``).

        Raises:
            FileNotFoundError: the run has not finished.
            ValueError: ``model.keras`` is damaged or not a Keras model.
        """
        import kcnn

        kcnn.load_all()  # kcnn's layers must be registered before Keras reads the file
        path = self.folder / MODEL
        if not path.is_file():
            raise FileNotFoundError(
                f"{os.fspath(self.path)!r} has no {MODEL}: the run has not finished. Resume "
                f"it with `kcnn train --resume {os.fspath(self.path)}`."
            )
        return _io.load_keras_model(path)

    def data_settings(self) -> dict:
        """How the run loaded its data: ``kcnn.data.load_dataset`` keyword arguments."""
        size = self.config.get("image_size")
        return {
            "validation_split": self.config.get("validation_split", 0.1),
            "seed": self.config.get("seed", 0),
            "image_size": tuple(size) if size else None,
        }


def load_run(path: str | os.PathLike) -> Run:
    """Read a run folder written by `kcnn.train.fit` or ``kcnn train``.

    Raises:
        FileNotFoundError: ``path`` has no ``config.json``.
        ValueError: one of its JSON files is damaged.

    Example:
        ```python
        run = kcnn.train.load_run("runs/simple_cnn-20260101-120000")
        run.metrics["test_accuracy"], max(run.history["val_accuracy"])
        model = run.load_model()
        ```
    """
    folder = RunFolder(path)
    return Run(folder, folder.read_config(), folder.read_history(), folder.read_metrics())


def resume_settings(stored: dict, config, run_info: dict | None, config_type) -> tuple:
    """The settings of a resumed run: ``config`` if given, else the stored one; and the
    stored entries saying how to reload the data and model, under ``run_info``'s. The
    backend, the distribution and the environment (versions, device) are this process's
    own, not carried over."""
    config = config or config_type.from_dict(stored)
    own = {f for f in config_type.__dataclass_fields__} | {"backend", "distribution", "environment"}
    carried = {k: v for k, v in stored.items() if k not in own}
    return config, {**carried, **(run_info or {})}


def read_run_config(run_dir: str | os.PathLike) -> dict:
    """The ``config.json`` of a run folder, with a clear error when it is not one."""
    return RunFolder(run_dir).read_config()


def new_run_dir(root: str | os.PathLike, name: str) -> Path:
    """Create ``root/<name>-<YYYYmmdd-HHMMSS>/`` (with a suffix if that exists already)."""
    return RunFolder.new(root, name).path
