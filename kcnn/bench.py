"""Training throughput, measured side by side: kcnn on each backend, and any baseline.

`run_benchmark` (and ``kcnn bench``) starts one worker process per contender (a backend
cannot change inside a process), lets each build its model and load the same images, then
runs their epochs in turn: round 1 is the warm-up (tracing, compilation, first allocations),
then every round times one epoch of each contender, in an order that rotates from round to
round. Only one worker computes at a time; the others wait on a pipe. Since every
contender's samples come from the same minutes of the same machine, their ratios hold even
when the machine is shared and its speed drifts, which a lone absolute time does not.

A contender is kcnn itself (``source="kcnn"``: `kcnn.train.fit` with its own input pipeline
and callbacks, no run folder) or a Python file with a ``train(session)`` function (the
hand-written baselines in the repository's ``benchmarks/baselines/``). Such a function
trains ``session.spec["epochs"]`` epochs on ``session.x`` and ``session.y``, calling
``session.epoch_begin()`` and ``session.epoch_end(images)`` around each, or passing
``session.callback()`` to ``model.fit``.

Reported per contender: images per second (median, min, max over the timed epochs), step
time, the warm-up epoch's extra time ("compile": first epoch minus a steady epoch), the
process's peak memory (resident set on CPU, the device's peak on a GPU), and for kcnn the
input pipeline's images per second with an augmentation policy, timed in the same rounds.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import platform
import queue
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kcnn._backend import has_gpu

#: The benchmarked models and the image shape each is measured at.
BENCH_MODELS = {
    "lenet5": (28, 28, 1),
    "simple_cnn": (28, 28, 1),
    "resnet20": (32, 32, 3),
    "resnet18": (64, 64, 3),
}
#: Images per timed epoch: a few seconds per epoch on a 2-core CPU.
DEFAULT_IMAGES = {"lenet5": 16384, "simple_cnn": 8192, "resnet20": 2048, "resnet18": 1024}
BACKENDS = ("tensorflow", "jax", "torch")
_TAG = "KCNN-BENCH "


# -- the worker side --------------------------------------------------------------------------
class Session:
    """What a contender's ``train`` function gets: its spec, the images, and the clock.

    Attributes:
        spec: the contender's settings: ``model``, ``input_shape``, ``num_classes``,
            ``batch_size``, ``epochs`` (warm-up plus timed), ``seed``,
            ``steps_per_execution``, ``jit_compile``, ``options`` (contender-specific).
        x: float32 images in [0, 1], ``(n, h, w, c)``.
        y: int32 labels ``(n,)``.
        device: ``"cuda"`` when the backend sees a GPU, else ``"cpu"``.
        records: the epochs timed so far, as dicts (``seconds``, ``images``, ...).
        strategy: the `kcnn.distribute.Strategy` when ``options["devices"]`` is set, else
            None.
    """

    def __init__(
        self, spec: dict, x: np.ndarray, y: np.ndarray, commands=None, reply=None, strategy=None
    ):
        self.spec = spec
        self.x, self.y = x, y
        self.device = "cuda" if has_gpu() else "cpu"
        self.records: list[dict] = []
        self.handlers: dict = {}
        self._commands = commands  # a file to read commands from; None runs freely
        self._reply = reply
        self._start = None
        self.strategy = strategy

    def epoch_begin(self) -> None:
        """Wait for the coordinator's go (running any measurement it asks for first), then
        start the clock."""
        while self._commands is not None:
            line = self._commands.readline()
            if not line or line.strip() == "stop":
                raise SystemExit(0)
            command = line.strip()
            if command == "epoch":
                break
            if command not in self.handlers:
                self.send({"error": f"unknown command {command!r}"})
                continue
            self.send({"command": command, **self.handlers[command]()})
        self._start = time.perf_counter()

    def epoch_end(self, images: int) -> None:
        """Stop the clock (the epoch's work must be finished) and report the epoch."""
        seconds = time.perf_counter() - self._start
        record = {"command": "epoch", "seconds": seconds, "images": int(images)}
        record["peak_memory_mb"] = peak_memory_mb(self.device)
        self.records.append(record)
        self.send(record)

    def callback(self):
        """A Keras callback that calls `epoch_begin` and `epoch_end` around every epoch. It
        has no batch hooks, so Keras keeps dispatching steps asynchronously."""
        import keras

        session = self

        class _EpochClock(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                session.epoch_begin()

            def on_epoch_end(self, epoch, logs=None):
                session.epoch_end(len(session.x))

        return _EpochClock()

    def send(self, message: dict) -> None:
        if self._reply is not None:
            self._reply.write(_TAG + json.dumps(message) + "\n")
            self._reply.flush()


def peak_memory_mb(device: str | None = None) -> float:
    """The peak memory of this process so far: the GPU's peak allocation when training runs
    on one (``device="cuda"``; None asks the backend), else the peak resident set size."""
    if device is None:
        device = "cuda" if has_gpu() else "cpu"
    if device == "cuda":
        backend = os.environ.get("KERAS_BACKEND")
        if backend == "torch":
            import torch

            return torch.cuda.max_memory_allocated() / 2**20
        if backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            return stats.get("peak_bytes_in_use", 0) / 2**20
        if backend == "tensorflow":
            import tensorflow as tf

            return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    try:  # Linux: the peak of this program (ru_maxrss would carry the parent's over exec)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def train_kcnn(session: Session) -> None:
    """The kcnn contender: `kcnn.train.fit` on a `Dataset` of the session's images, with
    kcnn's input pipeline and callbacks and no run folder. ``options["pipeline"]`` names an
    augmentation policy whose input pipeline is timed on the coordinator's request;
    ``options["mixed_precision"]`` is passed to `kcnn.train.TrainConfig`;
    ``options["devices"]`` trains data-parallel on that many devices (`kcnn.distribute`; the
    worker sets it up before the backend starts)."""
    import contextlib

    import keras

    from kcnn.data.datasets import Dataset
    from kcnn.data.pipeline import make_pipeline
    from kcnn.models.registry import build_model
    from kcnn.train.fit import TrainConfig, fit

    spec = session.spec
    empty_x, empty_y = session.x[:0], session.y[:0]
    data = Dataset(
        name="bench",
        x_train=session.x,
        y_train=session.y,
        x_val=empty_x,
        y_val=empty_y,
        x_test=empty_x,
        y_test=empty_y,
        class_names=[str(i) for i in range(spec["num_classes"])],
    )
    config = TrainConfig(
        epochs=spec["epochs"],
        batch_size=spec["batch_size"],
        seed=spec["seed"],
        steps_per_execution=spec.get("steps_per_execution", "auto"),
        jit_compile=spec.get("jit_compile", "auto"),
        data_path=spec.get("data_path", "device"),
        mixed_precision=spec.get("options", {}).get("mixed_precision", False),
        verbose=0,
    )
    policy = spec.get("options", {}).get("pipeline")
    if policy:

        def pipeline_rate() -> dict:
            pipe = make_pipeline(
                session.x, session.y, spec["batch_size"], policy, dataset=data,
                seed=spec["seed"], path=config.data_path,
            )  # fmt: skip
            pipe[0]  # warm-up: the augmentation layers build their generators
            start = time.perf_counter()
            count = sum(int(pipe[i][0].shape[0]) for i in range(len(pipe)))
            return {"policy": policy, "images_per_second": count / (time.perf_counter() - start)}

        session.handlers["pipeline"] = pipeline_rate
    keras.utils.set_random_seed(spec["seed"])
    strategy = session.strategy
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = build_model(
            spec["model"], input_shape=tuple(spec["input_shape"]), num_classes=spec["num_classes"]
        )
    fit(model, data, config, run_dir=None, callbacks=[session.callback()], distribute=strategy)


def _worker(spec_path: str) -> None:
    """Entry point of a worker process: ``python -m kcnn.bench SPEC.json``."""
    spec = json.loads(Path(spec_path).read_text())
    arrays = np.load(spec["data_file"])
    reply = sys.stdout
    sys.stdout = sys.stderr  # library output must not mix with the protocol
    strategy = None
    if spec.get("options", {}).get("devices") is not None:
        from kcnn import distribute  # before the Session asks the backend for its device

        strategy = distribute.setup(spec["options"]["devices"])
    session = Session(
        spec, arrays["x"], arrays["y"], commands=sys.stdin, reply=reply, strategy=strategy
    )
    if spec["source"] == "kcnn":
        from kcnn.train.fit import resolve_steps_per_execution

        spec["steps_per_execution"] = resolve_steps_per_execution(
            spec.get("steps_per_execution", "auto"), strategy
        )
        train = train_kcnn
    else:
        import importlib.util

        name = Path(spec["source"]).stem
        module_spec = importlib.util.spec_from_file_location(name, spec["source"])
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module  # torch.compile looks the module up by name
        module_spec.loader.exec_module(module)
        train = module.train
    session.send(
        {
            "command": "ready",
            "device": session.device,
            "steps_per_execution": spec.get("steps_per_execution", 1),
        }
    )
    train(session)
    session.send({"command": "done"})


# -- the coordinator side ---------------------------------------------------------------------
@dataclasses.dataclass
class Contender:
    """One thing to measure: a name, a backend, where its ``train`` comes from, its settings.

    Attributes:
        name: the label in the results, e.g. ``"kcnn"`` or ``"torch eager"``.
        backend: the ``KERAS_BACKEND`` of its process.
        source: ``"kcnn"`` or the path of a Python file with ``train(session)``.
        batch_size, steps_per_execution, jit_compile, data_path: the training settings
            (see `kcnn.train.TrainConfig`).
        options: contender-specific settings passed through ``spec["options"]``.
    """

    name: str
    backend: str
    source: str = "kcnn"
    batch_size: int = 128
    steps_per_execution: int | str = "auto"
    jit_compile: bool | str = "auto"
    data_path: str = "device"
    options: dict = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.backend})" if self.source == "kcnn" else self.name


class _Worker:
    """A contender's process and the pipe to it."""

    def __init__(self, contender: Contender, spec: dict, folder: Path, timeout: float):
        self.contender = contender
        self.timeout = timeout
        spec_path = folder / f"spec-{id(self)}.json"
        spec_path.write_text(json.dumps(spec))
        self.log_path = folder / f"worker-{id(self)}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop())
        env = {**os.environ, "KERAS_BACKEND": contender.backend}
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kcnn.bench", str(spec_path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
            text=True, env=env,
        )  # fmt: skip
        self._messages: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            if line.startswith(_TAG):
                self._messages.put(json.loads(line[len(_TAG) :]))
        self._messages.put(None)

    def ask(self, command: str | None, expect: str) -> dict:
        """Send a command (None: only wait) and return the reply, bounded by the timeout."""
        if command is not None:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        try:
            message = self._messages.get(timeout=self.timeout)
        except queue.Empty:
            self.stop()
            raise TimeoutError(
                f"{self.contender.label} did not answer {command or expect!r} within "
                f"{self.timeout:.0f} s. Its log: {self.log_path}"
            ) from None
        if message is None or message.get("command") != expect:
            self.stop()
            tail = self.log_path.read_text()[-3000:]
            raise RuntimeError(
                f"{self.contender.label} failed (expected {expect!r}, got {message!r}). "
                f"The end of its log:\n{tail}"
            )
        return message

    def stop(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.write("stop\n")
                self.process.stdin.flush()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self._log.close()


def bench_arrays(input_shape: tuple, images: int, seed: int = 0) -> tuple:
    """``images`` Fashion-MNIST training images (the bundled digits when it is not on this
    machine), resized and repeated to ``input_shape``, with their labels."""
    from kcnn.data.datasets import load_dataset

    height, width, channels = input_shape
    try:
        data = load_dataset("fashion_mnist", validation_split=0)
    except FileNotFoundError:
        data = load_dataset("digits", validation_split=0)
    picks = np.random.default_rng(seed).permutation(len(data.x_train))
    picks = np.resize(picks, images)  # repeats images when the data set is smaller
    x, y = data.x_train[picks], data.y_train[picks]
    if x.shape[1:3] != (height, width):
        import keras

        x = keras.ops.convert_to_numpy(keras.ops.image.resize(x, (height, width)))
    if x.shape[-1] != channels:
        x = np.repeat(x, channels, axis=-1)
    return x.astype("float32"), y.astype("int32"), data.name


def _summary(values: list[float]) -> dict:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
        "samples": [round(v, 4) for v in values],
    }


def run_benchmark(
    model: str,
    contenders: list[Contender],
    images: int | None = None,
    repeats: int = 3,
    warmup: int = 1,
    seed: int = 0,
    pipeline: str | None = "flip_crop",
    timeout: float = 900.0,
    progress: Callable[[str], object] = print,
) -> dict:
    """Measure every contender's training throughput on ``model``, interleaved.

    Args:
        model: one of `BENCH_MODELS`, measured at the image shape given there.
        contenders: what to measure, each in its own process.
        images: images per epoch. Defaults to `DEFAULT_IMAGES` for the model.
        repeats: timed epochs per contender. Defaults to 3.
        warmup: untimed epochs first (compilation). Defaults to 1.
        seed: seed of the image choice and of training. Defaults to 0.
        pipeline: augmentation policy whose kcnn input pipeline is timed in every round,
            or None. Defaults to ``"flip_crop"``.
        timeout: seconds any one answer of a worker may take. Defaults to 900.
        progress: called with a line of text per measurement. Defaults to print.

    Returns:
        ``{"model", "input_shape", "images", "data", "results": {label: {...}}}``.

    Raises:
        ValueError: an unknown model, a bad count, or two contenders with the same label.
        RuntimeError / TimeoutError: a worker failed or stopped answering; its log is named.
    """
    if model not in BENCH_MODELS:
        raise ValueError(f"model must be one of {list(BENCH_MODELS)}. Received: model={model!r}")
    for name, value, low in (("repeats", repeats, 1), ("warmup", warmup, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}. Received: {name}={value!r}")
    if not contenders:
        raise ValueError("contenders is empty: there is nothing to measure.")
    labels = [c.label for c in contenders]
    if len(set(labels)) != len(labels):
        raise ValueError(f"Contender labels must differ. Received: {labels}")
    images = images or DEFAULT_IMAGES[model]
    input_shape = BENCH_MODELS[model]
    x, y, data_name = bench_arrays(input_shape, images, seed)
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="kcnn-bench-") as folder:
        folder = Path(folder)
        np.savez(folder / "data.npz", x=x, y=y)
        workers = []
        try:
            for contender in contenders:
                options = dict(contender.options)
                if contender.source == "kcnn" and pipeline:
                    options["pipeline"] = pipeline
                spec = {
                    "model": model,
                    "input_shape": list(input_shape),
                    "num_classes": 10,
                    "batch_size": contender.batch_size,
                    "steps_per_execution": contender.steps_per_execution,
                    "jit_compile": contender.jit_compile,
                    "data_path": contender.data_path,
                    "epochs": warmup + repeats,
                    "seed": seed,
                    "source": contender.source,
                    "options": options,
                    "data_file": str(folder / "data.npz"),
                }
                workers.append(_Worker(contender, spec, folder, timeout))
            ready = {w.contender.label: w.ask(None, "ready") for w in workers}
            samples = {label: [] for label in labels}
            firsts, pipes, memory = {}, {label: [] for label in labels}, {}
            for round_index in range(warmup + repeats):
                shift = round_index % len(workers)
                for worker in workers[shift:] + workers[:shift]:
                    label = worker.contender.label
                    if pipeline and worker.contender.source == "kcnn" and round_index >= warmup:
                        rate = worker.ask("pipeline", "pipeline")["images_per_second"]
                        pipes[label].append(rate)
                    record = worker.ask("epoch", "epoch")
                    memory[label] = record["peak_memory_mb"]
                    if round_index < warmup:
                        firsts.setdefault(label, record["seconds"])
                        continue
                    samples[label].append(record["seconds"])
                    progress(
                        f"{model:10} {label:28} epoch {round_index - warmup + 1}/{repeats}: "
                        f"{record['images'] / record['seconds']:8.0f} images/s"
                    )
            for worker in workers:
                worker.ask(None, "done")
        finally:
            for worker in workers:
                worker.stop()

    for contender in contenders:
        label = contender.label
        seconds = samples[label]
        steps = -(-images // contender.batch_size)
        steady = statistics.median(seconds)
        entry = {
            "name": contender.name,
            "backend": contender.backend,
            "source": "kcnn" if contender.source == "kcnn" else Path(contender.source).name,
            "batch_size": contender.batch_size,
            "steps_per_execution": ready[label]["steps_per_execution"],
            "jit_compile": contender.jit_compile,
            "data_path": contender.data_path,
            "options": contender.options,
            "device": ready[label]["device"],
            "images_per_second": _summary([images / s for s in seconds]),
            "step_ms": _summary([1000 * s / steps for s in seconds]),
            "compile_seconds": max(0.0, firsts[label] - steady),
            "peak_memory_mb": round(memory[label], 1),
        }
        if pipes[label]:
            entry["pipeline"] = {"policy": pipeline, "images_per_second": _summary(pipes[label])}
        results[label] = entry
    return {
        "model": model,
        "input_shape": list(input_shape),
        "images": images,
        "data": data_name,
        "repeats": repeats,
        "warmup": warmup,
        "results": results,
    }


def machine_info() -> dict:
    """The machine and the versions a result was measured with."""
    import importlib.metadata

    versions = {}
    for package in (
        "keras",
        "tensorflow",
        "tensorflow-cpu",
        "jax",
        "jaxlib",
        "torch",
        "numpy",
        "kcnn",
    ):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "versions": versions,
    }


def machine_tag() -> str:
    """A short name of this machine for result files: the GPU's name when PyTorch sees one,
    else ``<architecture>-<n>cpu`` (``x86_64-2cpu``)."""
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0).replace(" ", "-").lower()
    except ImportError:
        pass
    return f"{platform.machine()}-{os.cpu_count()}cpu"


def kcnn_contenders(
    backends,
    batch_sizes=(128,),
    steps_per_execution=("auto",),
    jit_compile=("auto",),
    data_paths=("device",),
) -> list[Contender]:
    """kcnn on each backend, for every combination of the settings given (a sweep when more
    than one value is given). PyTorch gets only ``steps_per_execution=1``, all Keras runs
    there."""
    contenders = []
    for backend, batch, spe, jit, path in itertools.product(
        backends, batch_sizes, steps_per_execution, jit_compile, data_paths
    ):
        if backend == "torch" and spe != "auto" and spe > 1:
            continue  # Keras' PyTorch backend runs one step per call
        varied = []
        if len(batch_sizes) > 1:
            varied.append(f"bs={batch}")
        if len(steps_per_execution) > 1:
            varied.append(f"spe={spe}")
        if len(jit_compile) > 1:
            varied.append(f"jit={jit}")
        if len(data_paths) > 1:
            varied.append(f"data={path}")
        name = "kcnn" + (f"[{','.join(varied)}]" if varied else "")
        contenders.append(Contender(name, backend, "kcnn", batch, spe, jit, path))
    return contenders


def baseline_contenders(
    folder, backends, batch_size: int = 128, torch_compile: bool = False
) -> list[Contender]:
    """The baselines in ``folder``: ``keras_baseline.py`` on each backend ("keras
    (<backend>)") and ``torch_baseline.py`` ("torch eager", and "torch.compile" when asked),
    whichever of the two files exist.

    Raises:
        FileNotFoundError: ``folder`` holds neither file.
    """
    folder = Path(folder)
    keras_file, torch_file = folder / "keras_baseline.py", folder / "torch_baseline.py"
    if not keras_file.is_file() and not torch_file.is_file():
        raise FileNotFoundError(
            f"{os.fspath(folder)!r} has neither keras_baseline.py nor torch_baseline.py. "
            "Pass the repository's benchmarks/baselines folder."
        )
    contenders = []
    if keras_file.is_file():
        for backend in backends:
            keras_name = f"keras ({backend})"
            contenders.append(Contender(keras_name, backend, str(keras_file), batch_size, 1))
    if torch_file.is_file():
        contenders.append(Contender("torch eager", "torch", str(torch_file), batch_size, 1))
        if torch_compile:
            contenders.append(
                Contender("torch.compile", "torch", str(torch_file), batch_size, 1,
                          options={"compile": True})
            )  # fmt: skip
    return contenders


def benchmark(models, contenders: list[Contender], **kwargs) -> dict:
    """`run_benchmark` for each model, with the machine, versions and date: the report that
    `format_report` prints and `write_report` saves. Keyword arguments go to
    `run_benchmark`."""
    if isinstance(models, str):
        models = [models]
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "runs": [run_benchmark(model, contenders, **kwargs) for model in models],
    }


def ratios(run: dict) -> dict:
    """The comparisons of one model's results: for each round, one contender's images/s
    over the other's in that round, and the median of those ratios:

    - ``"kcnn/keras (<backend>)"``: kcnn over plain Keras on the same backend;
    - ``"best kcnn/torch eager"`` (and ``/torch.compile``): the fastest kcnn contender over
      the hand-written PyTorch loop;
    - ``"pipeline/train (<label>)"``: a kcnn contender's input pipeline over its training.
    """
    results = run["results"]

    def rate(label):
        return results[label]["images_per_second"]["median"]

    def ratio(a, b):
        """The median over rounds of a's images/s over b's in the same round (the samples
        are in round order), which cancels the machine's drift from round to round."""
        pairs = zip(
            results[a]["images_per_second"].get("samples", [rate(a)]),
            results[b]["images_per_second"].get("samples", [rate(b)]),
        )
        return statistics.median(x / y for x, y in pairs)

    out = {}
    kcnn_labels = [label for label, r in results.items() if r["source"] == "kcnn"]
    for label in kcnn_labels:
        keras_label = f"keras ({results[label]['backend']})"
        if keras_label in results and results[label]["name"] == "kcnn":
            out[f"kcnn/{keras_label}"] = ratio(label, keras_label)
    if kcnn_labels:
        best = max(kcnn_labels, key=rate)
        for baseline in ("torch eager", "torch.compile"):
            if baseline in results:
                out[f"best kcnn/{baseline}"] = ratio(best, baseline)
        out["best kcnn"] = best
    for label in kcnn_labels:
        if "pipeline" in results[label]:
            piped = results[label]["pipeline"]["images_per_second"]
            trained = results[label]["images_per_second"]
            pairs = zip(
                piped.get("samples", [piped["median"]]), trained.get("samples", [rate(label)])
            )
            out[f"pipeline/train ({label})"] = statistics.median(p / t for p, t in pairs)
    return out


def format_report(report: dict) -> str:
    """The report as a text table per model, with the ratios under it."""
    lines = [
        f"{report['machine']['cpu']}, {report['machine']['cpus']} CPUs; "
        f"keras {report['machine']['versions'].get('keras', '?')}"
    ]
    for run in report["runs"]:
        lines.append("")
        lines.append(
            f"{run['model']} {tuple(run['input_shape'])}, {run['images']} {run['data']} "
            f"images per epoch, median of {run['repeats']} epochs after {run['warmup']} warm-up"
        )
        lines.append(
            f"{'contender':30}{'images/s':>10}{'min-max':>14}{'step ms':>9}{'compile s':>11}"
            f"{'peak MB':>9}{'pipeline/s':>12}"
        )
        for label, r in run["results"].items():
            ips = r["images_per_second"]
            pipe = r.get("pipeline", {}).get("images_per_second", {}).get("median")
            spread = f"{ips['min']:.0f}-{ips['max']:.0f}"
            piped = "" if pipe is None else f"{pipe:.0f}"
            lines.append(
                f"{label:30}{ips['median']:10.0f}{spread:>14}"
                f"{r['step_ms']['median']:9.1f}{r['compile_seconds']:11.1f}"
                f"{r['peak_memory_mb']:9.0f}{piped:>12}"
            )
        for key, value in ratios(run).items():
            lines.append(f"  {key}: {value if isinstance(value, str) else f'{value:.2f}x'}")
    return "\n".join(lines)


def result_path(folder, kind: str | None = None, date: str | None = None) -> Path:
    """``folder/<date>-<machine>[-<kind>].json``: the name of every benchmark result file
    (``benchmarks/report.py`` finds the newest of each kind by it).

    Args:
        folder: where results go.
        kind: ``"sweep"``, ``"fit-overhead"``, ...; None for throughput. Defaults to None.
        date: ``YYYY-mm-dd``. Defaults to today.
    """
    date = date or time.strftime("%Y-%m-%d")
    return Path(folder) / f"{date}-{machine_tag()}{f'-{kind}' if kind else ''}.json"


def write_report(report: dict, path) -> None:
    """Write the report as JSON, atomically (a temporary file renamed into place)."""
    from kcnn.train.fit import write_json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, report)


if __name__ == "__main__":
    _worker(sys.argv[1])
