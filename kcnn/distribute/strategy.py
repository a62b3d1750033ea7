"""`Strategy`: where training runs, and everything `fit` asks of it.

`fit` never asks whether it runs on one device: it asks its strategy. `SingleDevice` (the
default) answers every question with "nothing to do", as Keras' TensorFlow trainer falls
back to a default strategy rather than to ``None``. `kcnn.distribute.setup` makes the
strategies for several devices and processes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import weakref

import keras

from kcnn import _keras_compat as compat


@dataclasses.dataclass(frozen=True, eq=False)
class Strategy:
    """Where training runs: the engine, this process's devices and the whole group.

    Made by `setup`; pass it to `kcnn.train.fit` as ``distribute=``.

    Attributes:
        backend: ``"jax"`` or ``"tensorflow"``.
        engine: ``"DataParallel"``, ``"MirroredStrategy"`` or
            ``"MultiWorkerMirroredStrategy"``.
        devices: this process's devices, e.g. ``("gpu:0", "gpu:1")``.
        num_replicas: model replicas in all processes together (one per device).
        num_processes: processes taking part (1 on one machine).
        process_id: this process's rank; 0 is the one that writes files.
        native: the Keras ``Distribution`` or ``tf.distribute.Strategy`` itself.
        sync_batchnorm: BatchNorm statistics over the global batch on TensorFlow.
    """

    backend: str
    engine: str
    devices: tuple
    num_replicas: int
    num_processes: int
    process_id: int
    native: object
    sync_batchnorm: bool = True

    @property
    def is_chief(self) -> bool:
        """Whether this is process 0, the one that writes the run folder."""
        return self.process_id == 0

    @contextlib.contextmanager
    def scope(self):
        """Build and compile models in here: their variables are then replicated."""
        with self.native.scope():
            yield

    def per_replica_batch(self, batch_size: int) -> int:
        """The images each replica takes from a global batch; the batch must split evenly."""
        if batch_size % self.num_replicas:
            raise ValueError(
                f"batch_size must be a multiple of the {self.num_replicas} replicas, so that "
                f"each takes the same share of a batch. Received: batch_size={batch_size}; "
                f"try {max(1, round(batch_size / self.num_replicas)) * self.num_replicas}."
            )
        return batch_size // self.num_replicas

    def shards_data(self) -> bool:
        """Whether each process feeds only its share of every batch (JAX). TensorFlow's
        strategies split whole batches themselves."""
        return self.backend == "jax"

    def shares(self) -> dict:
        """What `kcnn.data.make_pipeline` needs to feed this process its share of each
        batch: ``shard`` and ``multiple_of`` (empty where batches go whole)."""
        if not self.shards_data():
            return {}
        return {"shard": (self.process_id, self.num_processes), "multiple_of": self.num_replicas}

    def check_model(self, model: keras.Model) -> None:
        """Raise unless the model's variables were made inside `scope`."""
        if self.backend == "tensorflow":
            ok = compat.built_under_tf_strategy(model) is self.native
        else:
            mesh = compat.variable_device_mesh(model.weights[0]) if model.weights else None
            ok = mesh is not None and mesh is self.native.device_mesh
        if not ok:
            raise ValueError(
                f"Model {model.name!r} was built outside this strategy's scope, so its weights "
                f"live on one device. Build it inside the scope:\n"
                "    with strategy.scope():\n"
                "        model = kcnn.build_model(...)"
            )

    def check(self, model: keras.Model, batch_size: int, data_path: str) -> None:
        """Raise before training when the model, batch size or data path cannot work."""
        self.check_model(model)
        self.per_replica_batch(batch_size)  # raises unless it splits evenly
        if self.shards_data() and data_path != "device":
            raise ValueError(
                "On JAX with several devices each process feeds its share of every batch, "
                f"which the device path does. Received: data_path={data_path!r}"
            )

    def prepare(self, model: keras.Model, x, y) -> None:
        """Finish a compiled model's set-up before ``fit``: under
        MultiWorkerMirroredStrategy, build its optimizer and metrics from a few local
        images (see `kcnn._keras_compat.build_before_fit`)."""
        if self.engine == "MultiWorkerMirroredStrategy":
            with self.scope():
                compat.build_before_fit(model, x, y)

    def training(self, model: keras.Model):
        """The context ``fit`` trains in: BatchNorm over the global batch where asked."""
        return synchronized_batchnorm(model, self)

    def describe(self, batch_size: int) -> str:
        """One paragraph for the start of a run: the devices and how a batch splits."""
        where = ", ".join(self.devices)
        processes = (
            f"{self.num_processes} processes (this is process {self.process_id})"
            if self.num_processes > 1
            else "1 process"
        )
        replicas = f"{self.num_replicas} replica" + ("s" if self.num_replicas > 1 else "")
        text = (
            f"{self.engine} on {replicas}: {where} in {processes}. "
            f"Global batch {batch_size} = {replicas} x "
            f"{self.per_replica_batch(batch_size)} per replica"
        )
        if self.shards_data() and self.num_processes > 1:
            text += f"; each process feeds {batch_size // self.num_processes} images a step"
        return text + "."

    def as_dict(self) -> dict:
        """What ``config.json`` records about the distribution."""
        return {
            "engine": self.engine,
            "backend": self.backend,
            "num_replicas": self.num_replicas,
            "num_processes": self.num_processes,
            "devices": list(self.devices),
            "sync_batchnorm": self.sync_batchnorm,
        }

    def record(self) -> dict:
        """The entries this strategy adds to ``config.json``."""
        return {"distribution": self.as_dict()}

    def scorer(self, model: keras.Model, loss, metrics=("accuracy",)) -> keras.Model:
        """The model that scores the test set: a one-device copy with the trained weights,
        so that every test image counts (replicas take batches cut to a multiple of their
        number)."""
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        copy.compile(loss=loss, metrics=list(metrics))
        return copy

    def __repr__(self) -> str:
        return (
            f"Strategy(engine={self.engine!r}, devices={list(self.devices)}, "
            f"num_replicas={self.num_replicas}, num_processes={self.num_processes}, "
            f"process_id={self.process_id})"
        )


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class SingleDevice(Strategy):
    """Training on the one device Keras picks, in one process: every step of a strategy
    is a no-op, so `fit` runs the same stages whatever the strategy."""

    backend: str = ""
    engine: str = "SingleDevice"
    devices: tuple = ()
    num_replicas: int = 1
    num_processes: int = 1
    process_id: int = 0
    native: object = None
    sync_batchnorm: bool = False

    def __post_init__(self):
        if not self.backend:
            object.__setattr__(self, "backend", keras.backend.backend())

    def scope(self):
        return contextlib.nullcontext()

    def shards_data(self) -> bool:
        return False

    def check_model(self, model: keras.Model) -> None:
        return None

    def training(self, model: keras.Model):
        return contextlib.nullcontext()

    def describe(self, batch_size: int) -> str:
        return ""

    def record(self) -> dict:
        return {}

    def scorer(self, model: keras.Model, loss, metrics=("accuracy",)) -> keras.Model:
        return model

    def __repr__(self) -> str:
        return f"SingleDevice(backend={self.backend!r})"


def batchnorm_layers(model: keras.Model) -> list:
    """Every BatchNormalization layer of a model, nested models included."""
    return [
        layer
        for layer in compat.flatten_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


_SYNCHRONIZED = weakref.WeakSet()


@contextlib.contextmanager
def synchronized_batchnorm(model: keras.Model, strategy: Strategy | None):
    """Inside this block, the model's BatchNorm layers take statistics over the global batch
    (Keras' ``synchronized=True``, TensorFlow only); saved files never carry the flag, so
    a model trained this way loads on every backend."""
    layers = []
    if (
        strategy is not None
        and strategy.backend == "tensorflow"
        and strategy.sync_batchnorm
        and strategy.num_replicas > 1
    ):
        layers = [layer for layer in batchnorm_layers(model) if not layer.synchronized]
    for layer in layers:
        layer.synchronized = True
        _SYNCHRONIZED.add(layer)
    try:
        yield
    finally:
        for layer in layers:
            layer.synchronized = False
            _SYNCHRONIZED.discard(layer)


@contextlib.contextmanager
def unsynchronized_for_saving(model: keras.Model):
    """Save with ``synchronized=False`` where `synchronized_batchnorm` set it. Outside such
    a block (every one-device run) there is nothing to undo and nothing is walked."""
    layers = []
    if len(_SYNCHRONIZED):
        layers = [
            layer
            for layer in batchnorm_layers(model)
            if layer in _SYNCHRONIZED and layer.synchronized
        ]
    for layer in layers:
        layer.synchronized = False
    try:
        yield
    finally:
        for layer in layers:
            layer.synchronized = True


def prepare_model(model: keras.Model, strategy: Strategy, x, y) -> None:
    """Finish a compiled model's set-up for the strategy before ``fit`` (see
    `Strategy.prepare`)."""
    strategy.prepare(model, x, y)
