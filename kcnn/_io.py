"""The one atomic writer: every file kcnn writes goes through here.

A file is written to a temporary name in its own folder, flushed to disk (fsync) and
renamed over the target, so a process killed at any moment leaves either the previous
file or the new one, never half of one. Files get the mode the umask gives (0644 under the
usual 022), whoever writes them: text, JSON, figures and ``.keras`` files alike, so a
colleague on a shared file system can read a run folder.

A write killed between creating its temporary file and the rename leaves that temporary
file behind (``.NAME.<random>.tmp[.ext]``). The next write of the same file removes it,
and `remove_stale` clears a whole folder (a resumed run does).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

#: Temporary names: ``.NAME.<hex>.tmp`` plus NAME's extension, which savers that choose a
#: format by extension (Keras, matplotlib) need. Earlier kcnn versions wrote ``.NAME.tmp``
#: and ``.STEM.tmp.EXT``; `remove_stale` clears those too.
_TMP_MARK = ".tmp"


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{_TMP_MARK}{path.suffix}")


def _is_temp(name: str, target: str | None = None) -> bool:
    if not name.startswith(".") or _TMP_MARK not in name:
        return False
    if target is None:
        return True
    stem = target.rsplit(".", 1)[0]
    return name.startswith((f".{target}.", f".{stem}{_TMP_MARK}"))


def remove_stale(folder: str | os.PathLike, target: str | None = None) -> list[Path]:
    """Delete the temporary files a killed write left in ``folder`` (only those of
    ``target``, a file name, when given). Returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        if entry.is_file() and _is_temp(entry.name, target):
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write ``path``'s new content to; on a clean exit it is fsynced
    and renamed over ``path``, on an error it is deleted and ``path`` is left as it was.

    Example:
        ```python
        with atomic_path("runs/x/model.keras") as tmp:
            model.save(tmp)
        ```
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path.parent, path.name)
    tmp = _temp_path(path)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync_folder(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (mode from the umask). Returns the path."""
    with atomic_path(path) as tmp:
        # 0o666 & ~umask, as open() gives; tempfile.mkstemp would give 0600.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text to ``path`` atomically. Returns the path."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically. Returns the path."""
    return write_text(path, json.dumps(obj, indent=indent))


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Save a matplotlib figure to ``path`` atomically (format from the extension)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    return Path(path)


def save_model(model, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Save a Keras model to a ``.keras`` file atomically.

    ``metadata`` entries are added to the archive's ``metadata.json`` (beside Keras' own
    ``keras_version`` and ``date_saved``), which Keras does not read when it loads; read
    them back with `read_keras_metadata`.
    """
    with atomic_path(path) as tmp:
        model.save(tmp)
        if metadata:
            _add_keras_metadata(tmp, metadata)
    return Path(path)


_KERAS_METADATA = "metadata.json"


def _add_keras_metadata(archive: Path, metadata: dict) -> None:
    """Rewrite a ``.keras`` zip with ``metadata`` merged into its ``metadata.json`` (a zip
    member cannot be replaced in place; a fourth member would make Keras extract the whole
    archive to a temporary folder on every load)."""
    rewritten = _temp_path(archive)
    try:
        with zipfile.ZipFile(archive) as source, zipfile.ZipFile(rewritten, "w") as target:
            for info in source.infolist():
                if info.filename == _KERAS_METADATA:
                    merged = {**json.loads(source.read(info)), **metadata}
                    target.writestr(info, json.dumps(merged))
                    continue
                with source.open(info) as reader, target.open(info, "w") as writer:
                    shutil.copyfileobj(reader, writer, 1 << 20)
        os.replace(rewritten, archive)
    finally:
        rewritten.unlink(missing_ok=True)


def read_keras_metadata(path: str | os.PathLike) -> dict:
    """A ``.keras`` file's ``metadata.json`` (``{}`` when it has none, or is not a zip).

    Raises:
        ValueError: a zip archive whose ``metadata.json`` is damaged, or not a JSON object.
    """
    with open(path, "rb") as file:
        if not zipfile.is_zipfile(file):
            return {}
        try:
            with zipfile.ZipFile(file) as archive:
                if _KERAS_METADATA not in archive.namelist():
                    return {}
                metadata = json.loads(archive.read(_KERAS_METADATA))
        except Exception as error:  # zipfile: BadZipFile, EOFError, OSError, zlib.error,
            # NotImplementedError, RuntimeError (encrypted); json: ValueError, RecursionError
            raise ValueError(
                f"{os.fspath(path)} is a damaged .keras file: its {_KERAS_METADATA} cannot be "
                f"read ({type(error).__name__}: {error})."
            ) from error
    if not isinstance(metadata, dict):
        raise ValueError(
            f"{os.fspath(path)} is a damaged .keras file: its {_KERAS_METADATA} holds a JSON "
            f"{type(metadata).__name__}, not an object."
        )
    return metadata


def load_keras_model(path: str | os.PathLike):
    """Load a ``.keras`` file with ``safe_mode=True`` (register kcnn's layers first:
    `kcnn.load_all`).

    Raises:
        ValueError: the file is not a zip archive, or Keras cannot rebuild a model from it
            (a damaged or truncated file, missing members, layers it does not know).
    """
    import keras

    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{os.fspath(path)!r} is not a .keras model file (a .keras file is a zip archive; "
            "this one is damaged, truncated or something else)."
        )
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # zipfile, json, h5py and Keras' own errors, of many types
        raise ValueError(
            f"{os.fspath(path)!r} is not a loadable .keras model file (damaged, truncated, or "
            f"saved with layers this process does not know): {type(error).__name__}: {error}"
        ) from error
