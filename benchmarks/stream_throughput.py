"""Streamed image folders: decoding images/s against ResNet-18 training, and peak memory.

Does streaming a folder of JPEG files (``load_dataset(folder, stream=True)``) keep training
fed, and does its memory stay flat as the folder grows? The script writes its own folders of
JPEG class folders (10 classes of smooth colour noise with some grain, so that the files are
not trivially compressible) into a temporary folder, at each image size, and measures, in
one run:

1. Streaming throughput: one epoch of the training split through
   ``make_pipeline(x_train, y_train, batch, dataset=data, workers=w)`` (the `InputPipeline`
   that ``model.fit`` gets; no augmentation, no normalisation), for ``w`` in 0 (decoded in
   this process), 1 and the cores but one. Images/s counts the batches after the first;
   the first batch's seconds (starting the worker processes, decoding the first batch) are
   reported apart as start-up. Each epoch is checked: every image served once, with its
   label, and the first batch's pixels equal to the same files decoded directly.
2. Training throughput: ResNet-18 at the same image size and batch, compiled with Adam,
   ``train_on_batch`` on one batch held in memory, after warm-up steps (compiling).
   Streaming and training take turns for ``rounds`` rounds; the result is the ratio
   streaming images/s / training images/s, the median over rounds of each round's ratio.
   Goal: >= 3x, so that training is never input-bound. Both are measured apart: while
   training, the decoding processes share the cores with it, so the ratio is the headroom
   the decoding has, not a promise that it never slows training down.
3. Peak memory as the folder grows: for a folder of N and of ``memory_factor`` x N images,
   each in a fresh process, the growth of the peak resident set (VmHWM, reset to the
   resident set after importing Keras and kcnn) from loading the folder to the end of one
   epoch through the pipeline (device path), streamed (workers 0 and 1; for 1, also the
   decoding process's own peak) and decoded into memory (``stream=False``). Streamed
   growth should not depend on N; in memory it grows with the pixels.

The images are decoded at the size they are stored; a folder of larger photos resized as
they are decoded costs more per image.

    KERAS_BACKEND=jax .venv/bin/python benchmarks/stream_throughput.py           # ~10 min, 2 cores
    KERAS_BACKEND=jax .venv/bin/python benchmarks/stream_throughput.py --quick   # < 1 min
    KERAS_BACKEND=jax .venv/bin/python benchmarks/stream_throughput.py --write   # and save

Prints Markdown tables; ``--write`` also saves them as
``results/<date>-<machine>-stream-throughput.md``. `main` returns the results as a dict.
"""

from __future__ import annotations

# Light imports only: grain's worker processes are spawned and import this file again.
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

#: The full run. Per-size lists hold one value per entry of ``sizes``.
CONFIG = {
    "sizes": [[64, 64], [224, 224]],  # (height, width) of the JPEG files
    "images": [3000, 1000],  # files written per size (a fifth is set aside for testing)
    "batch_sizes": [128, 32],
    "train_steps": [3, 2],  # timed train_on_batch steps per round, per size
    "workers": None,  # None: 0, 1 and the cores but one
    "rounds": 3,  # rounds in which streaming and training take turns
    "warmup_steps": 2,
    "model": "resnet18",
    "classes": 10,
    "memory_size": [64, 64],
    "memory_images": 3000,  # N: the smaller folder
    "memory_factor": 4,  # the larger folder holds memory_factor * N images
    "memory_batch_size": 128,
    "memory_workers": [0, 1],
    "seed": 0,
}
#: ``--quick``: tiny sizes and a small model (ResNet-18's building and compiling alone take
#: most of a minute on a busy 2-core CPU), for the test and a first look (under a minute).
QUICK = {
    **CONFIG,
    "model": "simple_cnn",
    "sizes": [[32, 32]],
    "images": [160],
    "batch_sizes": [32],
    "train_steps": [2],
    "rounds": 2,
    "warmup_steps": 1,
    "memory_size": [32, 32],
    "memory_images": 160,
    "memory_batch_size": 32,
    "memory_workers": [1],  # 4 fresh processes, not 6
}
PER_SIZE = ("images", "batch_sizes", "train_steps")


# -- the images -----------------------------------------------------------------------------------


def write_folder(root: Path, count: int, size, classes: int = 10, seed: int = 0) -> Path:
    """Write ``count`` JPEG files of ``size`` (height, width) as ``root/class_<c>/<i>.jpg``.

    Class ``c`` is smooth noise around its own colour, on a grid of ``3 + c % 5`` cells,
    with per-pixel grain: structured like photos, not trivially compressible.
    """
    from PIL import Image

    height, width = size
    rng = np.random.default_rng(seed)
    palette = rng.uniform(50, 205, (classes, 3))
    root.mkdir(parents=True, exist_ok=True)
    for c in range(classes):
        (root / f"class_{c}").mkdir(exist_ok=True)
    for i in range(count):
        c = i % classes
        cells = 3 + c % 5
        coarse = np.clip(palette[c] + rng.normal(0, 45, (cells, cells, 3)), 0, 255)
        smooth = Image.fromarray(coarse.astype("uint8")).resize((width, height), Image.BICUBIC)
        grain = rng.normal(0, 6, (height, width, 3))
        pixels = np.clip(np.asarray(smooth, dtype="float32") + grain, 0, 255).astype("uint8")
        Image.fromarray(pixels).save(root / f"class_{c}" / f"{i:06d}.jpg", quality=90)
    return root


def folder_kb_per_file(root: Path) -> float:
    files = list(root.glob("*/*.jpg"))
    return sum(f.stat().st_size for f in files) / max(1, len(files)) / 1024


# -- throughput (this process) ----------------------------------------------------------------


def stream_epoch(data, batch_size: int, workers: int, seed: int = 0) -> dict:
    """One epoch of ``data``'s training split through the pipeline, timed and checked."""
    import keras

    import kcnn

    x, y = data.x_train, data.y_train
    start = time.perf_counter()
    pipe = kcnn.data.make_pipeline(x, y, batch_size, dataset=data, workers=workers, seed=seed)
    try:
        first_x, first_y = pipe[0]
        startup = time.perf_counter() - start
        counts, labels = [int(first_x.shape[0])], [first_y]
        begin = time.perf_counter()
        for index in range(1, len(pipe)):
            batch_x, batch_y = pipe[index]
            counts.append(int(batch_x.shape[0]))
            labels.append(batch_y)
        seconds = time.perf_counter() - begin
    finally:
        pipe.close()
    order = np.concatenate([pipe.plan.indices(0, i) for i in range(len(pipe))])
    served = np.concatenate([keras.ops.convert_to_numpy(v) for v in labels])
    first = keras.ops.convert_to_numpy(first_x)
    return {
        "workers": workers,
        "startup_seconds": startup,
        "seconds": seconds,
        "images_per_second": sum(counts[1:]) / seconds,
        "batches": len(counts),
        "images_served": sum(counts),
        "each_image_once": bool(
            len(order) == sum(counts) and np.array_equal(np.sort(order), np.arange(len(x)))
        ),
        "labels_match": bool(np.array_equal(served, y[order])),
        "first_batch_matches": bool(np.array_equal(first, x[pipe.plan.indices(0, 0)])),
    }


def train_rate(model, x, y, steps: int) -> float:
    """Images/s of ``steps`` ``train_on_batch`` calls (each returns its loss: synchronised)."""
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * len(x) / (time.perf_counter() - start)


def measure_size(folder: Path, size, batch_size: int, train_steps: int, settings: dict) -> dict:
    """Streaming and training images/s at one image size, taking turns round by round."""
    import keras

    import kcnn

    data = kcnn.data.load_dataset(folder, validation_split=0, stream=True, image_size=size)
    x, y = data.x_train, data.y_train
    if len(x) < 2 * batch_size:
        raise SystemExit(
            f"{len(x)} training images at batch {batch_size}: need at least 2 batches (the "
            "first one is start-up); write more images."
        )
    picked = np.arange(batch_size) % len(x)
    sample, sample_labels = x[picked], y[picked]  # one batch in memory, float32
    keras.utils.set_random_seed(settings["seed"])
    model = kcnn.build_model(
        settings["model"], input_shape=data.input_shape, num_classes=data.num_classes
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    start = time.perf_counter()
    for _ in range(settings["warmup_steps"]):
        model.train_on_batch(sample, sample_labels)
    warmup = time.perf_counter() - start

    workers = settings["workers"]
    epochs: dict[int, list[dict]] = {w: [] for w in workers}
    trained = []
    for round_ in range(settings["rounds"]):
        turn = round_ % len(workers)
        for w in workers[turn:] + workers[:turn]:  # the order rotates round by round
            epochs[w].append(stream_epoch(data, batch_size, w, seed=settings["seed"] + round_))
        trained.append(train_rate(model, sample, sample_labels, train_steps))

    stream = {}
    for w, runs in epochs.items():
        rates = [r["images_per_second"] for r in runs]
        stream[str(w)] = {
            "images_per_second": statistics.median(rates),
            "samples": rates,
            "startup_seconds": statistics.median(r["startup_seconds"] for r in runs),
            "startup_samples": [r["startup_seconds"] for r in runs],
            "images_served": [r["images_served"] for r in runs],
            "each_image_once": all(r["each_image_once"] for r in runs),
            "labels_match": all(r["labels_match"] for r in runs),
            "first_batch_matches": all(r["first_batch_matches"] for r in runs),
            "ratio": statistics.median(r / t for r, t in zip(rates, trained)),
        }
    best = max(stream, key=lambda w: stream[w]["ratio"])
    return {
        "size": list(size),
        "images": len(x) + len(data.x_test) + len(data.x_val),
        "train_images": len(x),
        "batch_size": batch_size,
        "kb_per_file": folder_kb_per_file(folder),
        "stream": stream,
        "train": {
            "model": settings["model"],
            "images_per_second": statistics.median(trained),
            "samples": trained,
            "steps_per_round": train_steps,
            "warmup_seconds": warmup,
        },
        "best_workers": int(best),
        "best_ratio": stream[best]["ratio"],
        "goal_met": stream[best]["ratio"] >= 3.0,
    }


# -- peak memory (a fresh process per measurement) ------------------------------------------------


def _status_mb(key: str, pid: int | str = "self") -> float | None:
    """A ``/proc/<pid>/status`` field in MB (VmHWM: peak resident set, VmRSS: resident)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _peak_now_mb() -> float:
    found = _status_mb("VmHWM")
    if found is not None:
        return found
    import resource

    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _reset_peak() -> bool:
    """Reset this process's peak resident set to its resident set (Linux), so that a later
    peak measures only what came after; False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_mb("VmRSS") is not None
    except OSError:
        return False


def _descendants(pid: int) -> list[int]:
    """The processes started by ``pid``, and by those (Linux; else none)."""
    children: dict[int, list[int]] = {}
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return []
    for entry in entries:
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def memory_child(spec: dict) -> dict:
    """Runs in a fresh process: the peak resident set's growth over loading ``spec``'s folder
    and one epoch through the pipeline."""
    import grain  # noqa: F401  (imported before the baseline, like Keras)
    import keras

    import kcnn
    from kcnn.data import pipeline, stream  # noqa: F401

    size, batch = tuple(spec["size"]), spec["batch_size"]
    channels_first = keras.config.image_data_format() == "channels_first"
    shape = (batch, 3, *size) if channels_first else (batch, *size, 3)
    warm = keras.ops.convert_to_tensor(np.zeros(shape, "float32"))  # the backend's runtime
    del warm
    reset = _reset_peak()
    before = _status_mb("VmRSS") if reset else _peak_now_mb()
    data = kcnn.data.load_dataset(
        spec["folder"], validation_split=0, stream=spec["stream"], image_size=size
    )
    pipe = kcnn.data.make_pipeline(
        data.x_train, data.y_train, batch, dataset=data, workers=spec["workers"], path="device"
    )
    served = 0
    for index in range(len(pipe)):
        served += int(pipe[index][0].shape[0])
    peaks = [_status_mb("VmHWM", p) for p in _descendants(os.getpid())]
    peaks = [p for p in peaks if p is not None]
    pipe.close()
    return {
        "peak_growth_mb": _peak_now_mb() - before,
        "worker_peak_mb": max(peaks) if spec["stream"] and spec["workers"] and peaks else None,
        "baseline_mb": before,
        "peak_reset": reset,
        "images_served": served,
        "train_images": len(data.x_train),
    }


def measure_memory(folders: dict, settings: dict) -> list[dict]:
    """Each (folder, way of loading) in its own fresh process."""
    rows = []
    size = settings["memory_size"]
    modes = [(True, w) for w in settings["memory_workers"]] + [(False, 0)]
    for images, folder in folders.items():
        for streamed, workers in modes:
            spec = {"folder": str(folder), "size": size, "stream": streamed,
                    "workers": workers, "batch_size": settings["memory_batch_size"]}  # fmt: skip
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
            done = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--child-memory", json.dumps(spec)],
                capture_output=True, text=True, env=env, check=False, timeout=1200,
            )  # fmt: skip
            if done.returncode:
                raise SystemExit(f"memory measurement {spec} failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            mode = f"streamed, workers={workers}" if streamed else "in memory (stream=False)"
            rows.append({"images": images, "size": list(size), "mode": mode, "stream": streamed,
                         "workers": workers if streamed else None,
                         "pixels_mb": images * size[0] * size[1] * 3 / 2**20,
                         **result})  # fmt: skip
    return rows


# -- the report -----------------------------------------------------------------------------------


def _size(size) -> str:
    return f"{size[0]}x{size[1]}"


def format_report(report: dict) -> str:
    """The results as Markdown: a header line, the throughput and the memory tables."""
    machine = report["machine"]
    versions = machine.get("versions", {})
    settings = report["config"]
    lines = [
        f"Streamed JPEG folders, {report['backend']} backend; {machine['cpu']}, "
        f"{machine['cpus']} CPUs, Python {machine['python']}; keras {versions.get('keras', '?')}"
        f", grain {report.get('grain', '?')}; {report['seconds']:.0f} s in all.",
        "",
        f"**Throughput**: one epoch of the training split through `make_pipeline(..., "
        f"workers=w)` (no augmentation) against {settings['model']} `train_on_batch` on one "
        f"batch in memory; median over {settings['rounds']} rounds in which they take turns. "
        "Start-up (the first batch) is left out of images/s.",
        "",
        "| images | batch | epoch images | KB/file | workers | start-up s | stream images/s "
        "| train images/s | stream / train |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in report["throughput"]:
        train = entry["train"]["images_per_second"]
        for w, s in entry["stream"].items():
            lines.append(
                f"| {_size(entry['size'])} | {entry['batch_size']} | {entry['train_images']:,} "
                f"| {entry['kb_per_file']:.1f} | {w} | {s['startup_seconds']:.2f} "
                f"| {s['images_per_second']:,.0f} | {train:,.1f} | **{s['ratio']:.1f}x** |"
            )
    verdicts = [
        f"{_size(e['size'])}: {e['best_ratio']:.1f}x with {e['best_workers']} worker(s)"
        for e in report["throughput"]
    ]
    met = all(e["goal_met"] for e in report["throughput"])
    lines += [
        "",
        f"Goal stream / train >= 3x with the best workers: {'met' if met else 'NOT met'} "
        f"({'; '.join(verdicts)}).",
        "",
    ]
    memory = report["memory"]
    if memory:
        counts = sorted({row["images"] for row in memory})
        size = _size(memory[0]["size"])
        lines += [
            f"**Peak memory** of loading a {size} folder and one epoch through the pipeline "
            f"(batch {settings['memory_batch_size']}, device path), each in a fresh process: "
            "growth of the peak resident set (MB).",
            "",
            "| data | "
            + " | ".join(f"{n:,} images" for n in counts)
            + f" | added by {counts[-1] - counts[0]:,} more |",
            "|---|" + "---:|" * (len(counts) + 1),
        ]
        by = {(row["mode"], row["images"]): row for row in memory}
        modes = list(dict.fromkeys(row["mode"] for row in memory))

        def line(label, values):
            added = values[-1] - values[0] if None not in values else None
            cells = ["" if v is None else f"{round(v, 1) or 0.0:,.1f}" for v in [*values, added]]
            return f"| {label} | " + " | ".join(cells) + " |"

        lines.append(line("decoded pixels (uint8), for scale", [
            by[(modes[0], n)]["pixels_mb"] for n in counts]))  # fmt: skip
        for mode in modes:
            lines.append(line(mode, [by[(mode, n)]["peak_growth_mb"] for n in counts]))
            peaks = [by[(mode, n)]["worker_peak_mb"] for n in counts]
            if any(p is not None for p in peaks):
                lines.append(line(f"{mode}: decoding process's peak (absolute)", peaks))
    return "\n".join(lines)


def write_results(report: dict, folder) -> Path:
    """Save the Markdown report as ``<folder>/<date>-<machine>-stream-throughput.md``."""
    from kcnn.bench import result_path

    path = result_path(folder, "stream-throughput", report["date"]).with_suffix(".md")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_report(report) + "\n")
    return path


# -- the command ----------------------------------------------------------------------------------


def _sizes(text: str) -> list[list[int]]:
    """``"64,224"`` or ``"64x48,224"`` as ``[[64, 64], [224, 224]]``."""
    out = []
    for part in text.split(","):
        h, _, w = part.strip().partition("x")
        out.append([int(h), int(w or h)])
    return out


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",")]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, under a minute")
    parser.add_argument("--sizes", type=_sizes, help="image sizes, e.g. 64,224 or 64x48")
    parser.add_argument("--images", type=_ints, help="JPEG files per size, e.g. 3000,1000")
    parser.add_argument("--batch-sizes", type=_ints, help="batch per size, e.g. 128,32")
    parser.add_argument("--train-steps", type=_ints, help="timed steps per round, per size")
    parser.add_argument("--workers", type=_ints, help="decoding processes to try, e.g. 0,1,3")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--warmup-steps", type=int)
    parser.add_argument("--model")
    parser.add_argument("--memory-images", type=int, help="N: images in the smaller folder")
    parser.add_argument("--memory-factor", type=int, help="the larger folder's N multiple")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory table")
    parser.add_argument("--folder", help="write the images here and keep them (default: a "
                        "temporary folder, removed at the end)")  # fmt: skip
    parser.add_argument("--write", action="store_true", help="save the Markdown report")
    parser.add_argument("--out", default=str(RESULTS), help="where --write saves it")
    parser.add_argument("--child-memory", help=argparse.SUPPRESS)
    return parser


def settings_from(args: argparse.Namespace) -> dict:
    """The configuration: ``CONFIG`` (or ``QUICK``) with the flags given."""
    settings = dict(QUICK if args.quick else CONFIG)
    for key in ("sizes", "images", "batch_sizes", "train_steps", "workers", "rounds",
                "warmup_steps", "model", "memory_images", "memory_factor"):  # fmt: skip
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if settings["workers"] is None:
        settings["workers"] = sorted({0, 1, max(1, (os.cpu_count() or 2) - 1)})
    settings["workers"] = list(dict.fromkeys(settings["workers"]))  # deduplicated, in order
    count = len(settings["sizes"])
    for key in PER_SIZE:  # one value per size: cut, or the last one repeated
        values = list(settings[key])
        settings[key] = (values + values[-1:] * count)[:count]
    if min(settings["workers"]) < 0 or settings["rounds"] < 1 or settings["memory_factor"] < 2:
        raise SystemExit("workers must be >= 0, rounds >= 1 and memory_factor >= 2.")
    return settings


def main(argv=None) -> dict:
    args = build_parser().parse_args(argv)
    if args.child_memory:
        print(json.dumps(memory_child(json.loads(args.child_memory))))
        return {}
    settings = settings_from(args)
    start = time.perf_counter()
    root = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="kcnn-stream-"))
    written: dict[tuple, Path] = {}

    def folder(size, count) -> Path:
        key = (tuple(size), count)
        if key not in written:
            path = root / f"{_size(size)}-{count}"
            if not path.exists():
                write_folder(path, count, size, settings["classes"], settings["seed"])
            written[key] = path
        return written[key]

    try:
        throughput = []
        per_size = zip(*(settings[k] for k in ("sizes", *PER_SIZE)))
        for size, count, batch, steps in per_size:
            entry = measure_size(folder(size, count), size, batch, steps, settings)
            throughput.append(entry)
            rates = [
                f"workers={w} {s['images_per_second']:,.0f} images/s ({s['ratio']:.1f}x train)"
                for w, s in entry["stream"].items()
            ]
            train = entry["train"]["images_per_second"]
            print(f"{_size(size)}: {', '.join(rates)}; train {train:,.1f} images/s", flush=True)
        memory = []
        if not args.no_memory:
            n = settings["memory_images"]
            counts = (n, n * settings["memory_factor"])
            memory = measure_memory(
                {c: folder(settings["memory_size"], c) for c in counts}, settings
            )
    finally:
        if not args.folder:
            shutil.rmtree(root, ignore_errors=True)

    import importlib.metadata

    import keras

    from kcnn.bench import machine_info

    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "backend": keras.backend.backend(),
        "grain": importlib.metadata.version("grain"),
        "config": settings,
        "throughput": throughput,
        "memory": memory,
        "seconds": time.perf_counter() - start,
    }
    print(format_report(report))
    if args.write:
        print(f"wrote {write_results(report, args.out)}")
    return report


if __name__ == "__main__":
    main()
