"""Reading the measurements: ratios between contenders, the text table, the machine a
result was measured on, and the result files' names."""

from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path

from kcnn._io import write_json


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


def result_path(
    folder: str | os.PathLike, kind: str | None = None, date: str | None = None
) -> Path:
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
    write_json(path, report)
