"""`setup` and `from_settings`: the `Strategy` for the devices and processes asked for,
on JAX (``keras.distribution``) or TensorFlow (``tf.distribute``)."""

from __future__ import annotations

import contextlib
import json
import os

import keras

from kcnn import _keras_compat as compat
from kcnn.distribute.strategy import Strategy

ENV_ADDRESSES = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
ENV_NUM_PROCESSES = "KERAS_DISTRIBUTION_NUM_PROCESSES"
ENV_PROCESS_ID = "KERAS_DISTRIBUTION_PROCESS_ID"
DEVICE_TYPES = ("cpu", "gpu", "tpu")


def supported(backend: str | None = None) -> bool:
    """Whether kcnn can train on several devices with this backend and the installed Keras."""
    return (backend or keras.backend.backend()) in ("jax", "tensorflow")


def _torch_message() -> str:
    what = (
        "has a keras.distribution module for PyTorch, which kcnn does not drive yet"
        if compat.torch_distribution_available()
        else "has no data-parallel path for the PyTorch backend: keras.distribution runs on "
        "JAX, and tf.distribute on TensorFlow"
    )
    return (
        f"Training on several devices is not available on the PyTorch backend: Keras "
        f"{keras.version()} {what}. Run the same command with KERAS_BACKEND=jax or "
        "KERAS_BACKEND=tensorflow, or train on one device (without --devices)."
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
        compat.fix_multi_worker_log_reduction()
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
