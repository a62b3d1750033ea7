"""`Classifier`: a trained model with its inference contract; `load` reads one back.

Like fastai's ``load_learner`` and keras-hub's ``ImageClassifier``: one object that takes
image files, a folder or arrays and answers with class names and probabilities.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kcnn._validate import check_choice, check_int, check_type
from kcnn.data.contract import Contract, read_contract
from kcnn.infer.images import RESIZE, find_images, read_batches
from kcnn.infer.predict import Predictions, tta_views

#: Images of a data set read (and converted to float32) at a time by `Classifier.probabilities`.
_CHUNK = 4096

if TYPE_CHECKING:
    import keras

    from kcnn.train.run import Run


class Classifier:
    """A Keras classifier and its `kcnn.data.Contract`.

    Args:
        model: a `keras.Model` with one image input and one output of class scores.
        contract: what its inputs and outputs mean. Defaults to one read from the model's
            shapes, with classes named ``0..k-1``.
        run: the `kcnn.train.Run` it comes from, if any (evaluation reloads its data the
            way training did). Defaults to None.

    Example:
        ```python
        classifier = kcnn.infer.load("runs/simple_cnn-20260101-120000")
        predictions = classifier.predict("my_photos/", top_k=3)
        print(predictions)            # a table: file, top-3 classes with probabilities
        predictions.to_csv("predictions.csv")
        ```
    """

    def __init__(
        self, model: keras.Model, contract: Contract | None = None, run: Run | None = None
    ):
        import keras

        check_type("model", model, keras.Model, "a keras.Model")
        if len(model.inputs) != 1 or len(model.outputs) != 1 or len(model.input_shape) != 4:
            raise ValueError(
                "model must take one batch of images (batch, height, width, channels) and give "
                f"one output. Received: inputs {model.input_shape}, outputs {model.output_shape}"
            )
        self.model = model
        self.contract = contract or Contract.for_model(model)
        if self.contract.num_classes != int(model.output_shape[-1]):
            raise ValueError(
                f"contract names {self.contract.num_classes} classes but the model has "
                f"{int(model.output_shape[-1])} outputs."
            )
        self.run = run

    @property
    def class_names(self) -> tuple:
        return self.contract.class_names

    def __repr__(self) -> str:
        c = self.contract
        return (
            f"Classifier({self.model.name!r}, {c.num_classes} classes, input "
            f"{tuple(c.input_shape)}, data set {c.dataset or 'unknown'!r})"
        )

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model and its contract to a ``.keras`` file (atomically)."""
        from kcnn import _io

        return _io.save_model(self.model, path, self.contract.metadata())

    # -- prediction -------------------------------------------------------------------------

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """Check a batch of images in the model's layout and apply the contract's
        normalisation: what the model itself is given. uint8 images are scaled to [0, 1]."""
        x = np.asarray(images)
        expected = tuple(self.contract.input_shape)
        if x.ndim == len(expected):
            x = x[None]
        if x.ndim != len(expected) + 1 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"images must be shaped (batch, {', '.join(map(str, expected))}) or one image "
                f"{expected}, as the model takes. Received: shape {x.shape}"
            )
        if x.dtype == np.uint8:
            x = x.astype("float32") / 255.0
        elif x.dtype.kind not in "f":
            raise TypeError(f"images must be float in [0, 1] or uint8. Received: dtype {x.dtype}")
        x = x.astype("float32", copy=False)
        low, high = self.contract.pixel_range
        if x.size and (not np.isfinite(x).all() or x.min() < low - 1e-3 or x.max() > high + 1e-3):
            raise ValueError(
                f"images must hold finite pixels in [{low}, {high}], as the model was trained "
                f"on. Received: values from {np.nanmin(x):.4g} to {np.nanmax(x):.4g}"
                + (" (divide 0..255 images by 255)" if np.nanmax(x) > 1.5 else "")
            )
        if self.contract.mean is not None:
            axis = 1 if self.contract.data_format == "channels_first" else -1
            shape = [1] * x.ndim
            shape[axis] = -1
            mean = np.reshape(np.asarray(self.contract.mean, "float32"), shape)
            std = np.reshape(np.asarray(self.contract.std, "float32"), shape)
            x = (x - mean) / std
        return x

    def probabilities(self, images: np.ndarray, batch_size: int = 64,
                      tta: bool = False) -> np.ndarray:  # fmt: skip
        """Class probabilities ``(images, classes)`` of a batch in the model's layout;
        with ``tta``, averaged over `kcnn.infer.predict.tta_views`. A data set's images
        (`kcnn.data.arrays.Images`: uint8 in memory, or streamed files) are read a chunk
        at a time, so their float32 copy is never whole in memory."""
        from kcnn.data.arrays import Images

        if isinstance(images, Images) and len(images) > _CHUNK:
            parts = [
                self.probabilities(images[start : start + _CHUNK], batch_size, tta)
                for start in range(0, len(images), _CHUNK)
            ]
            return np.concatenate(parts)
        return self._probabilities(np.asarray(images), batch_size, tta)

    def _probabilities(self, x: np.ndarray, batch_size: int, tta: bool) -> np.ndarray:
        from kcnn.inspect._graph import _probabilities

        views = tta_views(self.contract) if tta else [("identity", None)]
        total = None
        for _, view in views:
            batch = self.prepare(view(x) if view else x)
            p = _probabilities(self.model.predict(batch, batch_size=batch_size, verbose=0))
            total = p if total is None else total + p
        return (total / len(views)).astype("float32")

    def predict(
        self,
        inputs: np.ndarray | str | os.PathLike | Iterable,
        top_k: int = 5,
        batch_size: int = 64,
        resize: str = "pad",
        tta: bool = False,
        verbose: bool = False,
    ) -> Predictions:
        """Classify images: an array (in the model's layout, [0, 1] or uint8), an image
        file, a folder of images, or a list of files and folders.

        Files are decoded ``batch_size`` at a time (memory holds one batch, whatever the
        folder's size); a file that is not a readable image is skipped and listed in
        ``bad``.

        Args:
            inputs: images or where to find them.
            top_k: classes shown per image by the table and the CSV (at most the number of
                classes). Defaults to 5.
            batch_size: images per batch. Defaults to 64.
            resize: how a file of another size is fitted to the model's input: ``"pad"``
                (keep the aspect ratio, pad with black), ``"stretch"`` or ``"crop"`` (keep
                the aspect ratio, cut the centre). Defaults to ``"pad"``.
            tta: average over the test-time views the data set's label rules allow
                (`tta_views`). Defaults to False.
            verbose: show a progress bar over a folder's batches. Defaults to False.

        Returns:
            `Predictions`.

        Raises:
            ValueError: ``top_k`` not in ``[1, classes]``, arrays of another shape, or no
                readable image among the files.
            FileNotFoundError: a path that does not exist.
        """
        top_k = check_int("top_k", top_k, minimum=1, maximum=self.contract.num_classes)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        check_choice("resize", resize, RESIZE)
        if isinstance(inputs, np.ndarray) or _is_array_like(inputs):
            p = self.probabilities(np.asarray(inputs), batch_size, tta)
            return Predictions(p, self.class_names, top_k=top_k)
        files = find_images(inputs)
        return self._predict_files(files, top_k, batch_size, resize, tta, verbose)

    def _predict_files(self, files, top_k, batch_size, resize, tta, verbose) -> Predictions:
        import keras

        contract = self.contract
        if contract.channels not in (1, 3):
            raise ValueError(
                f"model takes images with {contract.channels} channels; image files convert "
                "to 1 (grayscale) or 3 (RGB). Predict on arrays of the model's shape instead."
            )
        show = verbose and len(files) > batch_size  # a bar for more than one batch
        progress = keras.utils.Progbar(len(files), unit_name="image") if show else None
        parts, good, bad = [], [], []
        for batch, ok, failed in read_batches(
            files, contract.image_size, contract.channels, resize, batch_size
        ):
            if len(batch):
                if contract.data_format == "channels_first":
                    batch = batch.transpose(0, 3, 1, 2)
                parts.append(self.probabilities(batch, batch_size, tta))
            good += [os.fspath(f) for f in ok]
            bad += [(os.fspath(f), reason) for f, reason in failed]
            if progress is not None:
                progress.add(len(ok) + len(failed))
        if not good:
            raise ValueError(
                f"None of the {len(files)} file(s) is a readable image: "
                + "; ".join(f"{f}: {r}" for f, r in bad[:3])
            )
        if bad and verbose:
            print(f"Skipped {len(bad)} unreadable file(s).", file=sys.stderr)
        return Predictions(np.concatenate(parts), self.class_names, good, bad, top_k)


def _is_array_like(inputs) -> bool:
    """A NumPy-convertible batch (a backend tensor or a list of arrays), not paths."""
    if isinstance(inputs, (str, os.PathLike)):
        return False
    if hasattr(inputs, "shape") and hasattr(inputs, "dtype"):
        return True
    return isinstance(inputs, (list, tuple)) and bool(inputs) and hasattr(inputs[0], "shape")


def load(path: str | os.PathLike) -> Classifier:
    """Load a trained classifier from a run folder or a ``.keras`` file (with
    ``safe_mode=True``: a file cannot run arbitrary code).

    The inference contract comes from the file (kcnn writes it into every ``model.keras``);
    for a file without one (a ``.keras`` saved by plain Keras, or by an older kcnn), classes
    are named after the run's data set when a run folder names one, else ``0..k-1``.

    Args:
        path: a run folder (written by ``kcnn train`` or `kcnn.train.fit`) or a ``.keras``
            file.

    Returns:
        A `Classifier`.

    Raises:
        FileNotFoundError: no such file or folder, or a run that has not finished.
        ValueError: a file that is not a ``.keras`` model (or a damaged one), a damaged
            run folder, or an inference contract that does not fit the model.

    Example:
        ```python
        classifier = kcnn.infer.load("runs/simple_cnn-20260101-120000")
        classifier.class_names
        ```
    """
    import kcnn
    from kcnn import _io
    from kcnn.train.run import MODEL, load_run

    check_type("path", path, (str, os.PathLike), "a run folder or a .keras file")
    path = Path(path)
    run = None
    if path.is_dir():
        run = load_run(path)
        model = run.load_model()
        file = path / MODEL
    elif path.is_file():
        if path.suffix != ".keras":
            raise ValueError(
                f"path must be a run folder or a .keras file. Received: path={os.fspath(path)!r}"
            )
        kcnn.load_all()
        file = path
        model = _io.load_keras_model(path)
    else:
        raise FileNotFoundError(f"No such run folder or .keras file: {os.fspath(path)!r}")
    contract = read_contract(file)
    if contract is None:
        dataset = run.config.get("dataset", "") if run else ""
        contract = Contract.for_model(model, dataset=dataset if isinstance(dataset, str) else "")
    else:
        expected = tuple(model.input_shape[1:])
        if len(contract.input_shape) != len(expected) or any(
            d is not None and d != c for d, c in zip(expected, contract.input_shape)
        ):
            raise ValueError(
                f"{os.fspath(file)} is damaged: its inference contract says the input is "
                f"{tuple(contract.input_shape)} but the model takes {expected}."
            )
    try:
        return Classifier(model, contract, run)
    except ValueError as error:  # a contract that does not fit the model
        raise ValueError(f"{os.fspath(file)} is damaged: {error}") from None
