"""Training on several devices and processes, on Keras' own distribution engines.

`setup` returns a `Strategy` for the backend Keras runs on:

| backend | one machine, several devices | several processes or machines |
|---|---|---|
| JAX | ``keras.distribution.DataParallel`` | the same, joined by ``jax.distributed`` |
| TensorFlow | ``MirroredStrategy`` | ``MultiWorkerMirroredStrategy`` (``TF_CONFIG``) |
| PyTorch | not in Keras 3.15: `setup` raises and names the backends that have it | |

Build the model inside ``strategy.scope()`` and pass the strategy to `kcnn.train.fit`:

```python
strategy = kcnn.distribute.setup("all")  # before anything else runs on the backend
with strategy.scope():
    model = kcnn.build_model("simple_cnn", input_shape=data.input_shape)
kcnn.train.fit(model, data, config, distribute=strategy)
```

Every replica holds the whole model; each step, the global batch (``config.batch_size``) is
split across the replicas and the gradients are averaged, so one step on N devices is the
step one device takes on the same batch. BatchNormalization takes its statistics over the
global batch: JAX does this by itself, and on TensorFlow `fit` turns on Keras'
``synchronized`` BatchNorm while it trains (not stored in saved files). Process 0 keeps the
run folder; saving is a collective step, so the other processes save the same files into a
scratch folder that is deleted at the end.

Several processes need their address and rank: pass ``addresses`` (all processes'
``HOST:PORT``, process 0's first; JAX needs only process 0's), ``num_processes`` and
``process_id``, or set Keras' variables ``KERAS_DISTRIBUTION_JOB_ADDRESSES``,
``KERAS_DISTRIBUTION_NUM_PROCESSES`` and ``KERAS_DISTRIBUTION_PROCESS_ID``. On TensorFlow a
``TF_CONFIG`` that is already set is used as it is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import weakref

import keras

ENV_ADDRESSES = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
ENV_NUM_PROCESSES = "KERAS_DISTRIBUTION_NUM_PROCESSES"
ENV_PROCESS_ID = "KERAS_DISTRIBUTION_PROCESS_ID"
DEVICE_TYPES = ("cpu", "gpu", "tpu")


def supported(backend: str | None = None) -> bool:
    """Whether kcnn can train on several devices with this backend and the installed Keras."""
    return (backend or keras.backend.backend()) in ("jax", "tensorflow")


def _torch_message() -> str:
    has_lib = importlib.util.find_spec("keras.src.backend.torch.distribution_lib") is not None
    what = (
        "has a keras.distribution module for PyTorch, which kcnn does not drive yet"
        if has_lib
        else "has no data-parallel path for the PyTorch backend: keras.distribution runs on "
        "JAX, and tf.distribute on TensorFlow"
    )
    return (
        f"Training on several devices is not available on the PyTorch backend: Keras "
        f"{keras.version()} {what}. Run the same command with KERAS_BACKEND=jax or "
        "KERAS_BACKEND=tensorflow, or train on one device (without --devices)."
    )


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

    def check_model(self, model: keras.Model) -> None:
        """Raise unless the model's variables were made inside `scope`."""
        if self.backend == "tensorflow":
            built_under = getattr(model, "_distribute_strategy", None)
            ok = built_under is self.native
        else:
            layout = getattr(model.weights[0], "_layout", None) if model.weights else None
            ok = layout is not None and getattr(layout, "device_mesh", None) is (
                self.native.device_mesh
            )
        if not ok:
            raise ValueError(
                f"Model {model.name!r} was built outside this strategy's scope, so its weights "
                f"live on one device. Build it inside the scope:\n"
                "    with strategy.scope():\n"
                "        model = kcnn.build_model(...)"
            )

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

    def __repr__(self) -> str:
        return (
            f"Strategy(engine={self.engine!r}, devices={list(self.devices)}, "
            f"num_replicas={self.num_replicas}, num_processes={self.num_processes}, "
            f"process_id={self.process_id})"
        )


def parse_devices(devices) -> tuple[str, object]:
    """Read a ``devices`` argument: ``"all"``, a count (``2`` or ``"2"``) or a list of
    names (``"gpu:0,gpu:1"`` or ``["cpu:0", "cpu:1"]``).

    Returns:
        ``("all", None)``, ``("count", n)`` or ``("names", [(type, index), ...])``.
    """
    if isinstance(devices, bool):
        raise TypeError(f"devices must be 'all', a count or device names. Received: {devices!r}")
    if isinstance(devices, str) and devices.strip().isdigit():
        devices = int(devices)
    if isinstance(devices, int):
        if devices < 1:
            raise ValueError(f"devices must be >= 1. Received: devices={devices}")
        return "count", devices
    if devices == "all":
        return "all", None
    if isinstance(devices, str):
        devices = [d for d in devices.split(",") if d.strip()]
    if not isinstance(devices, (list, tuple)) or not devices:
        raise ValueError(
            "devices must be 'all', a count such as 2, or names such as 'gpu:0,gpu:1'. "
            f"Received: devices={devices!r}"
        )
    names = []
    for name in devices:
        kind, _, index = str(name).strip().lower().partition(":")
        if kind not in DEVICE_TYPES or not index.isdigit():
            raise ValueError(
                f"Device names look like 'gpu:0' or 'cpu:1' (type {'/'.join(DEVICE_TYPES)}, "
                f"then an index). Received: {name!r} in devices={devices!r}"
            )
        names.append((kind, int(index)))
    if len(set(names)) != len(names):
        raise ValueError(f"devices names a device twice. Received: devices={devices!r}")
    if len({kind for kind, _ in names}) > 1:
        raise ValueError(f"devices mixes device types. Received: devices={devices!r}")
    return "names", names


def _int_setting(name: str, value, env: str, minimum: int):
    source = name
    if value is None and os.environ.get(env):
        value, source = os.environ[env], f"${env}"
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or number < minimum:
        raise ValueError(f"{source} must be an integer >= {minimum}. Received: {value!r}")
    return number


def setup(
    devices: str | int | list | tuple = "all",
    *,
    addresses: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    sync_batchnorm: bool = True,
) -> Strategy:
    """Make the `Strategy` for training on several devices, and join the other processes.

    Call it first, before the backend has run anything: the number of CPU devices and
    TensorFlow's collective ops are fixed when the backend starts.

    Args:
        devices: this process's devices: ``"all"`` (every GPU, or every CPU device), a count
            (the first n; on a machine without accelerators, the CPU is split into n
            devices, which is for trying things out: they share the same cores), or names
            such as ``"gpu:0,gpu:1"``. With several processes, each uses all of its devices.
            Defaults to ``"all"``.
        addresses: ``HOST:PORT`` of every process, comma-separated, process 0's first (JAX
            needs only process 0's, the coordinator). Defaults to
            ``$KERAS_DISTRIBUTION_JOB_ADDRESSES``.
        num_processes: processes taking part. Defaults to
            ``$KERAS_DISTRIBUTION_NUM_PROCESSES``, else 1 (or ``TF_CONFIG``'s workers).
        process_id: this process's rank in ``[0, num_processes)``. Defaults to
            ``$KERAS_DISTRIBUTION_PROCESS_ID``.
        sync_batchnorm: on TensorFlow, BatchNorm statistics over the global batch rather
            than each replica's share (JAX always uses the global batch). Defaults to True.

    Returns:
        A `Strategy`.

    Raises:
        ValueError: the PyTorch backend, bad device names or counts, more devices than the
            machine has, or an incomplete multi-process setting.

    Example:
        ```python
        strategy = kcnn.distribute.setup("all")
        with strategy.scope():
            model = kcnn.build_model("resnet20", input_shape=(32, 32, 3))
        kcnn.train.fit(model, data, kcnn.train.TrainConfig(batch_size=256), distribute=strategy)
        ```
    """
    backend = keras.backend.backend()
    if backend not in ("jax", "tensorflow"):
        raise ValueError(_torch_message())
    kind, value = parse_devices(devices)
    if not isinstance(sync_batchnorm, bool):
        raise TypeError(f"sync_batchnorm must be True or False. Received: {sync_batchnorm!r}")
    addresses = addresses or os.environ.get(ENV_ADDRESSES) or None
    num_processes = _int_setting("num_processes", num_processes, ENV_NUM_PROCESSES, 1)
    process_id = _int_setting("process_id", process_id, ENV_PROCESS_ID, 0)
    tf_config = os.environ.get("TF_CONFIG") if backend == "tensorflow" else None
    if num_processes is None and tf_config:
        cluster = _read_tf_config(tf_config)
        num_processes, process_id = len(cluster["cluster"]["worker"]), cluster["task"]["index"]
    num_processes = num_processes or 1
    if num_processes > 1:
        if process_id is None or process_id >= num_processes:
            raise ValueError(
                f"process_id must be in [0, {num_processes}) with num_processes="
                f"{num_processes}. Received: process_id={process_id!r}"
            )
        if not addresses and not tf_config:
            raise ValueError(
                f"Training in {num_processes} processes needs addresses: HOST:PORT of process 0"
                " (the coordinator) first, e.g. addresses='10.0.0.1:1234' (JAX) or every "
                "process's, e.g. '10.0.0.1:1234,10.0.0.2:1234' (TensorFlow), or set "
                f"${ENV_ADDRESSES}."
            )
        if kind != "all":
            raise ValueError(
                "With several processes each one uses all of its devices; choose them with "
                "CUDA_VISIBLE_DEVICES instead. Received: devices="
                f"{devices!r}"
            )
    elif process_id not in (None, 0):
        raise ValueError(f"process_id must be 0 with one process. Received: {process_id}")
    if backend == "jax":
        return _setup_jax(kind, value, addresses, num_processes, process_id or 0)
    return _setup_tensorflow(
        kind, value, addresses, num_processes, process_id or 0, tf_config, sync_batchnorm
    )


def from_settings(
    devices: str | int | list | tuple | None = None,
    *,
    addresses: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> Strategy | None:
    """The `Strategy` that command-line settings ask for, or None for one device.

    Training goes on several devices when any of the settings is given, or when
    ``$KERAS_DISTRIBUTION_NUM_PROCESSES`` (or, on TensorFlow, ``$TF_CONFIG``) is set; then
    this is `setup` with ``devices`` defaulting to ``"all"``. ``kcnn train`` and the
    recipes call it with their flags.
    """
    given = (devices, addresses, num_processes, process_id)
    from_env = os.environ.get(ENV_NUM_PROCESSES) or (
        os.environ.get("TF_CONFIG") and keras.backend.backend() == "tensorflow"
    )
    if all(value is None for value in given) and not from_env:
        return None
    return setup(
        "all" if devices is None else devices,
        addresses=addresses,
        num_processes=num_processes,
        process_id=process_id,
    )


def _choose(kind, value, available: list, describe) -> list:
    """The chosen entries of ``available`` (a list of ``(type, index, device)``)."""
    if kind == "all":
        return available
    if kind == "count":
        if value > len(available):
            raise ValueError(
                f"devices={value} asks for more devices than this process has: "
                f"{describe(available)}."
            )
        return available[:value]
    chosen = []
    for device_type, index in value:
        match = [a for a in available if (a[0], a[1]) == (device_type, index)]
        if not match:
            raise ValueError(
                f"There is no device {device_type}:{index} here; this process has "
                f"{describe(available)}."
            )
        chosen += match
    return chosen


def _cpu_devices_wanted(kind, value) -> int:
    """How many CPU devices to split the CPU into, on a machine without accelerators."""
    if kind == "count":
        return value
    if kind == "names":
        return max((index + 1 for device_type, index in value if device_type == "cpu"), default=1)
    return 1


def _describe(available) -> str:
    return ", ".join(f"{t}:{i}" for t, i, _ in available) or "none"


def _setup_jax(kind, value, addresses, num_processes, process_id) -> Strategy:
    import jax

    if num_processes > 1:
        initialized = getattr(jax.distributed, "is_initialized", lambda: False)()
        if not initialized:
            # CPU processes all-reduce over gloo; GPUs and TPUs use their own collectives.
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
            keras.distribution.initialize(addresses, num_processes, process_id)
    else:
        wanted = _cpu_devices_wanted(kind, value)
        if wanted > 1:
            with contextlib.suppress(RuntimeError):  # too late once JAX has started
                jax.config.update("jax_num_cpu_devices", wanted)
    local = [(d.platform, d.id, d) for d in jax.local_devices()]
    chosen = _choose(kind, value, local, _describe)
    mesh_devices = jax.devices() if num_processes > 1 else [d for _, _, d in chosen]
    native = keras.distribution.DataParallel(
        devices=[f"{d.platform}:{d.id}" for d in mesh_devices],
        auto_shard_dataset=False,  # kcnn's pipeline feeds each process its share
    )
    return Strategy(
        backend="jax",
        engine="DataParallel",
        devices=tuple(f"{t}:{i}" for t, i, _ in chosen),
        num_replicas=len(mesh_devices),
        num_processes=num_processes,
        process_id=process_id,
        native=native,
    )


def _read_tf_config(text: str) -> dict:
    try:
        config = json.loads(text)
        workers, index = config["cluster"]["worker"], int(config["task"]["index"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            'TF_CONFIG must be JSON such as {"cluster": {"worker": ["host0:port", '
            f'"host1:port"]}}, "task": {{"type": "worker", "index": 0}}}}. '
            f"Received: {text!r}"
        ) from None
    if not 0 <= index < len(workers):
        raise ValueError(f"TF_CONFIG's task index {index} is not in [0, {len(workers)}).")
    return config


def _setup_tensorflow(
    kind, value, addresses, num_processes, process_id, tf_config, sync_batchnorm
) -> Strategy:
    import tensorflow as tf

    if num_processes > 1:
        if not tf_config:
            workers = [a.strip() for a in addresses.split(",") if a.strip()]
            if len(workers) != num_processes:
                raise ValueError(
                    f"TensorFlow needs the address of every process: {num_processes} "
                    f"processes but {len(workers)} addresses in {addresses!r}."
                )
            os.environ["TF_CONFIG"] = json.dumps(
                {
                    "cluster": {"worker": workers},
                    "task": {"type": "worker", "index": process_id},
                }
            )
        native = tf.distribute.MultiWorkerMirroredStrategy()
        _fix_multi_worker_logs()
        local = native.extended.worker_devices
        return Strategy(
            backend="tensorflow",
            engine="MultiWorkerMirroredStrategy",
            devices=tuple(_tf_name(d) for d in local),
            num_replicas=native.num_replicas_in_sync,
            num_processes=num_processes,
            process_id=process_id,
            native=native,
            sync_batchnorm=sync_batchnorm,
        )
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        available = [("gpu", i, f"/gpu:{i}") for i in range(len(gpus))]
    else:
        wanted = _cpu_devices_wanted(kind, value)
        if wanted > 1:
            cpu = tf.config.list_physical_devices("CPU")[0]
            try:
                tf.config.set_logical_device_configuration(
                    cpu, [tf.config.LogicalDeviceConfiguration()] * wanted
                )
            except RuntimeError:
                pass  # TensorFlow has started; the check below says what is there
        count = len(tf.config.list_logical_devices("CPU"))
        available = [("cpu", i, f"/cpu:{i}") for i in range(count)]
    chosen = _choose(kind, value, available, _describe)
    native = tf.distribute.MirroredStrategy([name for _, _, name in chosen])
    return Strategy(
        backend="tensorflow",
        engine="MirroredStrategy",
        devices=tuple(f"{t}:{i}" for t, i, _ in chosen),
        num_replicas=native.num_replicas_in_sync,
        num_processes=1,
        process_id=0,
        native=native,
        sync_batchnorm=sync_batchnorm,
    )


def _tf_name(device: str) -> str:
    kind, index = device.lower().split("device:")[-1].split(":")
    return f"{kind}:{index}"


_FIXED = []


def _fix_multi_worker_logs() -> None:
    """Keras 3.15 averages a multi-worker run's logged metrics with
    ``strategy.reduce("MEAN", value, axis=0)``, which fails on the scalar each metric is
    (keras-team/keras#20585), so ``fit`` cannot run under MultiWorkerMirroredStrategy at all.
    Average them over the replicas instead (``axis=None``): every replica holds the same
    number of images, so this is the mean over the global batch."""
    from keras.src.backend.tensorflow import trainer

    if _FIXED or not hasattr(trainer, "reduce_per_replica"):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            import tensorflow as tf

            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    trainer.reduce_per_replica = reduce_per_replica
    _FIXED.append(original)


def prepare_model(model: keras.Model, strategy: Strategy, x, y) -> None:
    """Finish a compiled model's set-up for the strategy before ``fit``.

    Under MultiWorkerMirroredStrategy, Keras 3.15's ``fit`` builds the optimizer and the
    metrics from a batch it reduces across workers in a way that fails
    (keras-team/keras#20585); build them here from a few local images instead, so that
    ``fit`` has nothing left to build.
    """
    if strategy.engine != "MultiWorkerMirroredStrategy":
        return
    with strategy.scope():
        model._symbolic_build(data_batch=(x, y, None))
    model._maybe_symbolic_build = _already_built


def _already_built(iterator=None, data_batch=None):
    return None


def batchnorm_layers(model: keras.Model) -> list:
    """Every BatchNormalization layer of a model, nested models included."""
    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
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
    """Save with ``synchronized=False`` where `synchronized_batchnorm` set it."""
    layers = [
        layer for layer in batchnorm_layers(model) if layer in _SYNCHRONIZED and layer.synchronized
    ]
    for layer in layers:
        layer.synchronized = False
    try:
        yield
    finally:
        for layer in layers:
            layer.synchronized = True
