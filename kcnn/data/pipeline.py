"""Input pipelines: ``tf.data`` on the host when TensorFlow is installed, on device otherwise.

`make_pipeline` returns an `InputPipeline`, a `keras.utils.PyDataset` that ``model.fit``
takes on every backend. Which path it runs is in its ``path`` attribute and its repr:

- ``"tf.data"`` (TensorFlow installed): shuffle with a seed, batch, augment, normalise,
  prefetch, optionally cache; Keras' augmentation layers switch to TensorFlow ops inside
  ``tf.data`` whatever the backend. ``pipeline.dataset`` is the current epoch's
  ``tf.data.Dataset`` itself, for your own ``tf.data`` code.
- ``"device"`` (no TensorFlow: a JAX or PyTorch install, a GPU machine, streamed image
  files): NumPy batching with a seeded permutation per epoch; the same augmentation layers
  run on each training batch with the backend's own ops, so on the accelerator when there
  is one. Streamed image files are decoded ahead by ``grain`` worker processes. On a JAX
  or PyTorch accelerator, images that fit are held there (``hold``): a batch is gathered
  on the device, with no copy from NumPy. With ``augment_on="step"`` the pipeline leaves
  the augmentation to the compiled train step (`kcnn.train.augment_in_step`).

Images stay as stored (uint8) until a batch is made, then read as float32 in [0, 1].

An epoch's order and augmentation depend only on the seed and the epoch number (the
augmentation layers' generators restart from them), so a run resumed at epoch ``e`` in a
fresh process (`InputPipeline.set_epoch`) sees the same batches as one that never stopped.
On the device path each batch is a pure function of (seed, epoch, batch index); the
tf.data path serves its batches in sequence. Keras counts one extra ``on_epoch_end``
before training starts; `kcnn.train.fit` sets the epoch from its callbacks instead, and
passes ``shuffle=False`` so that Keras does not reorder the batches with its global RNG.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import keras
import numpy as np

from kcnn._validate import check_choice, check_int, check_number
from kcnn.data.arrays import ImageArray, Images
from kcnn.data.augment import augmentation, check_layer_rules, is_identity, needs_one_hot
from kcnn.data.batching import BatchPlan

if TYPE_CHECKING:
    from kcnn.data.datasets import Dataset

PATHS = ("auto", "tf.data", "device")
AUGMENT_ON = ("batch", "step")
#: ``hold="auto"`` keeps the images on the accelerator when they take at most this share of
#: its memory.
HOLD_SHARE = 0.25


def tensorflow_available() -> bool:
    """Whether TensorFlow can be imported (without importing it)."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"] is not None
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def channel_stats(x) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of a set of images (the training split).

    `kcnn.data.arrays.Images` are read a chunk at a time (two passes, float64 sums), so
    the float32 copy of the whole set is never made."""
    axes = tuple(i for i in range(x.ndim) if i != _channel_axis(x.ndim))
    if isinstance(x, ImageArray) and x.stored.dtype == np.float32 and x.scale == 1:
        x = x.stored  # float images in [0, 1]: no copy to make
    if not isinstance(x, Images):
        mean = x.mean(axis=axes, dtype="float64")
        std = x.std(axis=axes, dtype="float64")
    else:
        chunks = [slice(i, i + 4096) for i in range(0, len(x), 4096)]
        count = len(x) * np.prod([x.shape[i] for i in axes[1:]])
        mean = sum(x[c].sum(axis=axes, dtype="float64") for c in chunks) / count
        shape = [1] * x.ndim
        shape[_channel_axis(x.ndim)] = -1
        centred = mean.reshape(shape)
        var = sum(np.square(x[c] - centred).sum(axis=axes) for c in chunks) / count
        std = np.sqrt(var)
    return mean.astype("float32"), np.maximum(std.astype("float32"), 1e-7)


def class_weights(setting: str | dict | None, y: np.ndarray, num_classes: int) -> np.ndarray | None:
    """The per-class loss weights a ``class_weight`` setting means for labels ``y``.

    Args:
        setting: ``"balanced"`` (``n / (num_classes * count)``, scikit-learn's
            ``compute_class_weight``), a mapping ``{class: weight}`` (classes not named
            weigh 1, as in Keras' ``fit``), or None.
        y: the training labels (integer class indices).
        num_classes: the number of classes.

    Returns:
        A float32 vector of ``num_classes`` weights, or None for None.

    Raises:
        ValueError: ``"balanced"`` with a class that has no training image, a class index
            outside ``[0, num_classes)``, a negative weight, or another setting.
    """
    if setting is None:
        return None
    if isinstance(setting, str) and setting == "balanced":
        counts = np.bincount(np.asarray(y).astype("int64"), minlength=num_classes)
        if not counts.all():
            raise ValueError(
                "class_weight='balanced' needs every class in the training labels; classes "
                f"{np.flatnonzero(counts == 0).tolist()} have no training image."
            )
        from sklearn.utils.class_weight import compute_class_weight

        classes = np.arange(num_classes)
        return compute_class_weight("balanced", classes=classes, y=y).astype("float32")
    if isinstance(setting, dict):
        weights = np.ones(num_classes, dtype="float32")
        for key, value in setting.items():
            if (
                isinstance(key, bool)
                or not isinstance(key, (int, np.integer))
                or not (0 <= key < num_classes)
            ):
                raise ValueError(
                    f"class_weight names class {key!r}, but the classes are 0 to {num_classes - 1}."
                )
            weights[key] = check_number(f"class_weight[{key}]", value, 0.0)
        return weights
    raise ValueError(
        "class_weight must be 'balanced', a mapping {class: weight} or None. "
        f"Received: class_weight={setting!r}"
    )


def _channel_axis(ndim: int) -> int:
    return ndim - 1 if keras.config.image_data_format() == "channels_last" else 1


def _check_arrays(x, y, num_classes):
    """``x`` as `kcnn.data.arrays.Images` (float arrays are wrapped, not copied) and ``y``
    as int32, checked."""
    y = np.asarray(y)
    if not isinstance(x, Images):
        x = np.asarray(x)
    if x.dtype.kind != "f":
        raise TypeError(
            f"x must be float images in [0, 1] (see kcnn.data.load_dataset). Received dtype "
            f"{x.dtype}."
        )
    if x.ndim != 4:
        raise ValueError(f"x must be a batch of images (n, h, w, c). Received shape {x.shape}.")
    if len(x) == 0:
        raise ValueError("x is empty: a pipeline needs at least one image.")
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} images, {len(y)} labels.")
    if y.ndim != 1 or y.dtype.kind not in "ui":
        raise ValueError(
            f"y must be integer class indices shaped (n,). Received dtype {y.dtype}, "
            f"shape {y.shape}."
        )
    stored = x.stored if isinstance(x, ImageArray) else x
    if (
        isinstance(stored, np.ndarray)
        and stored.dtype.kind == "f"
        and not np.isfinite(stored).all()
    ):
        raise ValueError("x contains NaN or infinite pixels.")
    if num_classes is not None and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(
            f"y must be in [0, {num_classes}). Received labels from {int(y.min())} to "
            f"{int(y.max())}."
        )
    if not isinstance(x, Images):
        x = ImageArray(x.astype("float32", copy=False), 1.0)
    return x, y.astype("int32", copy=False)


def _seed_generators(layer) -> list:
    """Every ``keras.random.SeedGenerator`` a layer and its sub-layers hold, including those
    Keras makes per backend for running inside ``tf.data``, in a stable order."""
    found, seen = [], set()

    def visit(obj, depth=0):
        if id(obj) in seen or depth > 8:
            return
        seen.add(id(obj))
        if isinstance(obj, keras.random.SeedGenerator):
            found.append(obj)
        elif isinstance(obj, keras.layers.Layer):
            for name in sorted(vars(obj)):
                visit(vars(obj)[name], depth + 1)
        elif isinstance(obj, dict):
            for key in sorted(obj, key=str):
                visit(obj[key], depth + 1)
        elif isinstance(obj, (list, tuple)):
            for item in obj:
                visit(item, depth + 1)

    visit(layer)
    return found


class InputPipeline(keras.utils.PyDataset):
    """Batches of ``(images, labels)`` for ``model.fit``; see `make_pipeline`.

    Attributes:
        path: ``"tf.data"`` or ``"device"``.
        dataset: the current epoch's ``tf.data.Dataset`` (tf.data path) or None.
        epoch: the epoch whose batches come next; see `set_epoch`.
        augment: the augmentation `keras.layers.Pipeline`, or None.
        one_hot: whether labels are one-hot (soft after MixUp/CutMix).
        mean, std: the per-channel normalisation, or None.
    """

    def __init__(
        self, x, y, batch_size, augment, one_hot, num_classes, shuffle, seed, mean, std,
        drop_remainder, path, cache, deterministic, shard=(0, 1), multiple_of=1,
        class_weight=None, workers=0, augment_on="batch", hold=False,
    ):  # fmt: skip
        super().__init__()
        self.augment_on = augment_on
        self.workers = workers
        self.plan = BatchPlan(len(x), batch_size, shuffle, seed, drop_remainder, shard, multiple_of)
        self._stream, self._next = None, 0  # streamed files: grain's iterator, its position
        self.class_weight = class_weight
        self.shard, self.multiple_of = shard, multiple_of
        self.deterministic = deterministic
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.augment = augment
        self.one_hot = one_hot
        self.num_classes = num_classes
        self.shuffle = shuffle
        self.seed = seed
        self.mean, self.std = mean, std
        self.drop_remainder = drop_remainder
        self.path = path
        self.epoch = 0
        self._lock = threading.Lock()
        self._iterator = None
        self._served = 0
        self._generators = None
        self._base = self._build_tf_data(cache) if path == "tf.data" else None
        self._held = self._hold() if hold else None

    # -- the tf.data path --------------------------------------------------------------------
    def _build_tf_data(self, cache: bool):
        import tensorflow as tf

        if not isinstance(self.x, ImageArray):
            raise ValueError(
                "The tf.data path reads images held in memory; streamed image files "
                "(kcnn.data.stream.ImageFiles) are decoded by grain on path='device'."
            )
        # The stored pixels (uint8: a quarter of float32's memory); each batch is converted.
        ds = tf.data.Dataset.from_tensor_slices((self.x.stored, self.y))
        return ds.cache() if cache else ds

    def _to_float_tf(self, x, tf):
        """A batch of stored pixels as float32 in [0, 1], as `Images.to_float` converts."""
        if x.dtype == tf.float32 and self.x.scale == 1:
            return x
        return tf.cast(x, "float32") / np.float32(self.x.scale)

    def _epoch_dataset(self):
        """This epoch's batches. The order and the augmentation depend only on ``seed`` and
        the epoch number, so an epoch can be replayed in a fresh process (resume)."""
        import tensorflow as tf

        ds = self._base
        if self.shuffle:
            ds = ds.shuffle(len(self.x), seed=self._epoch_seed(), reshuffle_each_iteration=False)
        ds = ds.batch(self.batch_size, drop_remainder=self.drop_remainder)
        if self.augment is not None:
            # Keras' augmentation layers draw from a stateful generator: calls running in
            # parallel would take its numbers in a racy order, so reproducible batches need
            # one augmentation call at a time. deterministic=False trades that for speed.
            parallel = None if self.deterministic else tf.data.AUTOTUNE
            ds = ds.map(
                lambda x, y: self._augment(self._to_float_tf(x, tf), y, tf.one_hot),
                num_parallel_calls=parallel,
            )
        elif self.one_hot:
            ds = ds.map(lambda x, y: (x, tf.one_hot(y, self.num_classes)))
        converted = self.augment is not None
        ds = ds.map(
            lambda x, y: self._weighted(
                self._normalize(x if converted else self._to_float_tf(x, tf)), y, tf
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        return ds.prefetch(tf.data.AUTOTUNE)

    def _weighted(self, x, y, tf=None):
        """``(x, y)``, or ``(x, y, sample_weight)`` with class weights; a soft label's weight
        is the mixture of its classes' weights. ``tf`` inside tf.data, else keras.ops."""
        if self.class_weight is None:
            return x, y
        if tf is not None:
            weights = tf.constant(self.class_weight)
            if self.one_hot:
                return x, y, tf.reduce_sum(tf.cast(y, "float32") * weights, axis=-1)
            return x, y, tf.gather(weights, y)
        weights = keras.ops.convert_to_tensor(self.class_weight)
        if self.one_hot:
            return x, y, keras.ops.sum(keras.ops.cast(y, "float32") * weights, axis=-1)
        return x, y, keras.ops.take(weights, y)

    @property
    def dataset(self):
        """The ``tf.data.Dataset`` of the current epoch (tf.data path), else None."""
        return None if self._base is None else self._epoch_dataset()

    def _epoch_seed(self, stream: int = 0) -> int:
        return int(np.random.default_rng([self.seed, self.epoch, stream]).integers(2**31 - 1))

    def _reseed_augmentation(self, index: int = -1) -> None:
        """Restart every random generator of the augmentation layers from (seed, epoch,
        batch index): a batch's augmentation then depends on nothing else."""
        if self.augment is None:
            return
        if self._generators is None:
            self.augment(self._sample_batch(), training=True)  # creates lazy generators
            self._generators = _seed_generators(self.augment)
        for i, generator in enumerate(self._generators):
            # Each process draws its own augmentation for its share of a batch.
            key = [self.seed, self.epoch, index + 1, i]
            if self.shard[1] > 1:
                key.append(self.shard[0])
            seed = np.random.default_rng(key).integers(2**31)
            generator.state.assign(np.array([seed, 0], dtype="uint32"))

    def _sample_batch(self):
        x = keras.ops.convert_to_tensor(self.x[:2])
        if not self.one_hot:
            return x
        y = keras.ops.one_hot(keras.ops.convert_to_tensor(self.y[:2]), self.num_classes)
        return {"images": x, "labels": y}

    def set_epoch(self, epoch: int) -> None:
        """Make the next batches those of ``epoch`` (0-based), as when resuming a run.
        With ``augment_on="step"``, also restart the augmentation's generators from (seed,
        epoch): the train step then draws each batch's augmentation in turn from there."""
        self.epoch = check_int("epoch", epoch, 0)
        self._iterator = None
        if self.augment_on == "step":
            self._reseed_augmentation()

    @property
    def held(self) -> bool:
        """Whether the images are held on the accelerator (see ``hold``)."""
        return self._held is not None

    # -- streamed image files ----------------------------------------------------------------
    def _streamed_pixels(self, index: int) -> np.ndarray:
        """The stored pixels of batch ``index`` of streamed image files.

        One grain iterator decodes the batches of this and the following epochs ahead, in
        order, in ``workers`` processes (started once, not per epoch); it runs on as long as
        the batches asked for are the next ones, and restarts where a jump (a resumed run)
        asks. Without shuffling, every epoch has the same batches."""
        from kcnn.data.stream import batch_iterator

        position = self.epoch * len(self) + index
        if self._stream is not None and not self.shuffle:
            position = self._next - self._next % len(self) + index  # any epoch will do
        if self._stream is None or position != self._next:
            self.close()
            self._stream = batch_iterator(self.x, self.plan, position, self.workers)
        pixels = np.array(next(self._stream))  # a private copy of grain's shared memory
        self._next = position + 1
        return pixels

    def close(self) -> None:
        """Stop the processes decoding streamed images (they also stop when the pipeline
        is deleted); nothing to do for images in memory."""
        stream, self._stream = getattr(self, "_stream", None), None
        close = getattr(stream, "close", None)
        if close is not None:
            close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # at interpreter exit, the modules it needs may be gone
            pass

    def _augment(self, x, y, one_hot):
        """Augment one training batch; ``one_hot`` is tf.one_hot inside tf.data (where Keras'
        layers switch to TF ops) and keras.ops.one_hot on the device path."""
        y = one_hot(y, self.num_classes) if self.one_hot else y
        out = self.augment({"images": x, "labels": y}, training=True)
        return out["images"], out["labels"]

    def _normalize(self, x):
        return x if self.mean is None else (x - self.mean) / self.std

    # -- PyDataset ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.plan)

    @property
    def images_per_epoch(self) -> int:
        """Images in an epoch's batches, all processes together."""
        return self.plan.images_per_epoch

    def __getitem__(self, index: int):
        if self.path == "tf.data":
            # tf.data runs the epoch in its own order: batches come in sequence, whatever
            # index is asked for, and a new epoch starts after the last one.
            with self._lock:
                if self._iterator is None or self._served >= len(self):
                    self._iterator = None  # stop the last epoch's prefetching first
                    dataset = self._epoch_dataset()  # tracing makes tf.data's generators
                    self._generators = None
                    self._reseed_augmentation()
                    self._iterator, self._served = iter(dataset), 0
                next_batch = next(self._iterator)
                self._served += 1
            return tuple(part.numpy() for part in next_batch)
        if not 0 <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        with self._lock:
            chosen = self.plan.indices(self.epoch, index)
            if self._held is not None:
                x, y = self._held_batch(chosen)
            else:
                pixels = self._streamed_pixels(index) if self.streamed else self.x.pixels(chosen)
                x = keras.ops.convert_to_tensor(self.x.to_float(pixels))
                y = keras.ops.convert_to_tensor(self.y[chosen])
            if self.augment is not None and self.augment_on == "batch":
                self._reseed_augmentation(index)
                x, y = self._augment(x, y, keras.ops.one_hot)
            elif self.one_hot:
                y = keras.ops.one_hot(y, self.num_classes)
        return self._weighted(self._normalize(x), y)

    def _hold(self) -> tuple:
        """The stored pixels and the labels on the accelerator, and for uint8 pixels the
        float32 value of each of the 256 levels, as NumPy computes it."""
        stored = self.x.stored
        levels = None
        if stored.dtype == np.uint8:
            levels = self.x.to_float(np.arange(256, dtype=np.uint8))
        held = (stored, self.y) if levels is None else (stored, self.y, levels)
        return tuple(keras.ops.convert_to_tensor(part) for part in held)

    def _held_batch(self, chosen: np.ndarray):
        """The batch at ``chosen`` gathered from the held images: the same values as
        ``to_float(pixels(chosen))`` on the host. (uint8 levels are looked up, since XLA
        divides by a constant as a multiplication, a rounding apart.)"""
        at = keras.ops.convert_to_tensor(np.asarray(chosen, dtype=np.int32))
        pixels, y = (keras.ops.take(part, at, axis=0) for part in self._held[:2])
        if len(self._held) == 3:
            pixels = keras.ops.take(self._held[2], keras.ops.cast(pixels, "int32"))
        elif self.x.stored.dtype != np.float32 or self.x.scale != 1:
            pixels = keras.ops.cast(pixels, "float32") / np.float32(self.x.scale)
        return pixels, y

    @property
    def streamed(self) -> bool:
        """Whether the images are files decoded as the batches are made."""
        from kcnn.data.stream import ImageFiles

        return isinstance(self.x, ImageFiles)

    def on_epoch_end(self):
        self.set_epoch(self.epoch + 1)

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]
        self.on_epoch_end()

    def __repr__(self) -> str:
        policy = self.augment.name.removeprefix("augment_") if self.augment else "none"
        normalize = "per-channel" if self.mean is not None else "none"
        where = (", augment_on='step'" if self.augment_on == "step" else "") + (
            ", held=True" if self.held else "")  # fmt: skip
        return (
            f"InputPipeline(path={self.path!r}, images={len(self.x)}, "
            f"batch_size={self.batch_size}, batches={len(self)}, augment={policy!r}, "
            f"one_hot={self.one_hot}, shuffle={self.shuffle}, normalize={normalize!r}{where})"
        )


def make_pipeline(
    x: np.ndarray,
    y: np.ndarray,
    batch_size: int = 64,
    augment: str | Sequence | keras.layers.Pipeline | None = None,
    *,
    dataset: Dataset | None = None,
    num_classes: int | None = None,
    shuffle: bool = True,
    seed: int = 0,
    normalize: bool | tuple = False,
    cache: bool = False,
    drop_remainder: bool = False,
    path: str = "auto",
    deterministic: bool = True,
    one_hot: bool | None = None,
    shard: tuple[int, int] = (0, 1),
    multiple_of: int = 1,
    class_weight: str | dict | None = None,
    workers: int | None = None,
    augment_on: str = "batch",
    hold: bool | str = "auto",
) -> InputPipeline:
    """Make a batched, optionally augmented and normalised input pipeline.

    Images held as uint8 (a `kcnn.data.Dataset`'s) stay uint8 until a batch is made.
    Streamed image files (`kcnn.data.stream.ImageFiles`, from
    ``load_dataset(folder, stream=True)``) are decoded ahead of training, a batch at a time,
    in ``workers`` grain processes; their batches are the same as those of the same images
    held in memory.

    Args:
        x: images in [0, 1] shaped ``(n, h, w, c)``: float arrays, or a `kcnn.data.Dataset`'s
            ``x_train`` (`kcnn.data.arrays.Images`).
        y: integer labels ``(n,)``.
        batch_size: images per batch, >= 1. Defaults to 64.
        augment: a policy name or list for `augmentation`, a ready `keras.layers.Pipeline`
            or Keras layer (held to ``dataset``'s label rules too), or None. Defaults to None.
        dataset: the `kcnn.data.Dataset` the arrays come from; its label rules are checked
            and its ``num_classes`` used. Defaults to None.
        num_classes: number of classes, needed for one-hot labels. Defaults to the
            dataset's, else ``max(y) + 1``.
        shuffle: reshuffle every epoch with ``seed``. Defaults to True.
        seed: seed of the shuffle and the augmentation. Defaults to 0.
        normalize: False, True (per-channel mean and std of ``x``: pass the training split),
            or ``(mean, std)`` computed elsewhere (use the training pipeline's ``mean`` and
            ``std`` for validation and test). Defaults to False.
        cache: cache the decoded examples in memory (tf.data path). Defaults to False.
        drop_remainder: drop the last, smaller batch. Defaults to False.
        path: ``"auto"`` (tf.data when TensorFlow is installed), ``"tf.data"`` or
            ``"device"``. Defaults to ``"auto"``.
        deterministic: the same seed gives the same batches. On the tf.data path this runs
            the augmentation of one batch at a time (normalisation stays parallel);
            False augments batches in parallel, in a racy random order. Defaults to True.
        one_hot: yield one-hot labels (for label smoothing, say). None decides by the
            augmentation: MixUp and CutMix need them. Defaults to None.
        shard: ``(index, count)``: yield only the ``index``-th of ``count`` equal parts of
            every batch, for training in ``count`` processes that each feed their share
            (device path). Every process makes the same batches from the same seed, so
            together they feed exactly the batches one process would. Defaults to ``(0, 1)``.
        multiple_of: cut the last batch down to a multiple of this (the number of replicas,
            which must each get the same number of images); ``batch_size`` must be a
            multiple of it. Defaults to 1.
        class_weight: yield ``(images, labels, sample_weight)`` with each image's weight
            by its class, as Keras' ``fit(class_weight=)`` does: ``"balanced"``, a mapping
            ``{class: weight}`` or None (see `class_weights`). Defaults to None.
        workers: processes decoding streamed image files; 0 decodes in this process.
            Defaults to the cores but one (1 to 8).
        augment_on: ``"batch"``: each batch comes augmented; ``"step"`` (device path, no
            MixUp or CutMix): batches come as they are, and the train step of a model made
            by `kcnn.train.augment_in_step` augments them, compiled with it; the
            augmentation's generators restart from (seed, epoch) at each `set_epoch`.
            Defaults to ``"batch"``.
        hold: keep the images and labels on the accelerator and gather each batch there
            (device path, images in memory): True, False, or ``"auto"``: when training on
            one JAX or PyTorch accelerator (no ``shard`` or ``multiple_of``) whose memory
            the stored pixels take at most a quarter of. The batches are the same either
            way. Defaults to ``"auto"``.

    Returns:
        An `InputPipeline`, to pass to ``model.fit`` directly.

    Raises:
        ValueError: non-float images, a length mismatch, NaN pixels, labels out of range, an
            empty ``x``, a batch size < 1, an unknown path or policy.
        ImportError: ``path="tf.data"`` without TensorFlow.

    Example:
        ```python
        data = kcnn.data.load_dataset("fashion_mnist")
        train = kcnn.data.make_pipeline(data.x_train, data.y_train, 128, "flip_crop",
                                        dataset=data, normalize=True)
        val = kcnn.data.make_pipeline(data.x_val, data.y_val, 256, shuffle=False,
                                      normalize=(train.mean, train.std))
        model.fit(train, validation_data=val, epochs=10)
        ```
    """
    check_int("batch_size", batch_size, 1)
    check_choice("path", path, PATHS)
    check_choice("augment_on", augment_on, AUGMENT_ON)
    if hold not in (True, False, "auto"):
        raise ValueError(f"hold must be True, False or 'auto'. Received: hold={hold!r}")
    check_int("multiple_of", multiple_of, 1)
    if batch_size % multiple_of:
        raise ValueError(
            f"batch_size must be a multiple of multiple_of={multiple_of}. "
            f"Received: batch_size={batch_size}"
        )
    if (
        not isinstance(shard, (tuple, list))
        or len(shard) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in shard)
        or not 0 <= shard[0] < shard[1]
        or multiple_of % shard[1]
    ):
        raise ValueError(
            "shard must be (index, count) with 0 <= index < count, and count must divide "
            f"multiple_of={multiple_of}. Received: shard={shard!r}"
        )
    shard = tuple(shard)
    if num_classes is None and dataset is not None:
        num_classes = dataset.num_classes
    x, y = _check_arrays(x, y, num_classes)
    num_classes = int(y.max()) + 1 if num_classes is None else num_classes
    if isinstance(augment, keras.layers.Layer):
        check_layer_rules(augment, dataset)  # a ready layer obeys the label rules too
        if not isinstance(augment, keras.layers.Pipeline):
            augment = keras.layers.Pipeline([augment], name="augment_custom")
    elif augment is not None:
        augment = augmentation(augment, dataset, seed=seed)
    mixing = augment is not None and needs_one_hot(augment)
    if one_hot is False and mixing:
        raise ValueError(
            "MixUp and CutMix make soft labels, so they need one_hot=True or None. "
            "Received: one_hot=False"
        )
    one_hot = mixing or bool(one_hot)
    if augment_on == "step" and mixing:
        raise ValueError(
            "MixUp and CutMix change the labels too, which a model's train step cannot: "
            "they need augment_on='batch'. Received: augment_on='step'"
        )
    if augment is not None and is_identity(augment):
        augment = None  # the "none" policy
    if normalize is True:
        mean, std = channel_stats(x)
    elif normalize is False or normalize is None:
        mean = std = None
    else:
        try:
            mean, std = (np.asarray(v, dtype="float32") for v in normalize)
        except (TypeError, ValueError):
            raise ValueError(
                f"normalize must be True, False or (mean, std). Received: {normalize!r}"
            ) from None
    if mean is not None and not (np.all(np.isfinite(std)) and np.all(std > 0)):
        raise ValueError(
            "normalize divides by each channel's standard deviation, which must be > 0: a "
            f"constant channel would make every batch NaN. Received: std={np.ravel(std).tolist()}"
        )
    if mean is not None:
        shape = [1] * x.ndim
        shape[_channel_axis(x.ndim)] = x.shape[_channel_axis(x.ndim)]
        mean, std = mean.reshape(shape[1:]), std.reshape(shape[1:])
    from kcnn.data.stream import ImageFiles, default_workers

    streamed = isinstance(x, ImageFiles)
    workers = default_workers() if workers is None else check_int("workers", workers, 0)
    if streamed and path == "tf.data":
        raise ValueError(
            "Streamed image files are decoded by grain worker processes on the device path. "
            "Received: path='tf.data'; use path='auto' or 'device'."
        )
    if path == "auto":
        path = "tf.data" if tensorflow_available() and not streamed else "device"
    if path == "tf.data" and not tensorflow_available():
        raise ImportError(
            "path='tf.data' needs TensorFlow: pip install 'kcnn[tensorflow]', or use path='device'."
        )
    if path == "tf.data" and (shard[1] > 1 or multiple_of > 1):
        raise ValueError(
            "shard and multiple_of work on the device path. Received: path='tf.data', "
            f"shard={shard}, multiple_of={multiple_of}"
        )
    if path != "device" and (augment_on == "step" or hold is True):
        raise ValueError(
            "augment_on='step' and hold=True work on the device path. Received: "
            f"path={path!r}, augment_on={augment_on!r}, hold={hold!r}"
        )
    if streamed and hold is True:
        raise ValueError("Streamed image files are decoded a batch at a time: hold=True "
                         "needs images in memory. Received: hold=True")  # fmt: skip
    if hold == "auto":
        one_device = shard[1] == 1 and multiple_of == 1
        hold = path == "device" and not streamed and one_device and _fits_device(x)
    return InputPipeline(
        x, y, batch_size, augment, one_hot, num_classes, shuffle, seed, mean, std,
        drop_remainder, path, cache, deterministic, shard, multiple_of,
        class_weights(class_weight, y, num_classes), workers, augment_on, hold,
    )  # fmt: skip


def _fits_device(x: ImageArray) -> bool:
    """Whether ``x``'s stored pixels take at most `HOLD_SHARE` of the memory of the
    accelerator Keras uses (False without a JAX or PyTorch accelerator)."""
    from kcnn._backend import device_memory

    memory = device_memory()
    return memory is not None and x.stored.nbytes <= HOLD_SHARE * memory
