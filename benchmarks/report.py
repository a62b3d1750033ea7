"""Turn the newest results in ``benchmarks/results/`` into tables and plots.

Writes ``benchmarks/RESULTS.md``, ``results/<stem>-throughput.png`` and redraws the time-to-
accuracy plot. The docs' Performance
page is filled from the same functions when the site is built (``docs/hooks.py``), so the page
and this file always show the same measurements.

    python benchmarks/report.py [--results benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
#: Result kinds, by the end of their file names. "epochs-study" (its own Markdown table) and
#: "gpu-bench" (benchmarks/gpu_check.sh, summarised by gpu_peak.py) are not drawn here.
KINDS = (
    "throughput", "sweep", "time-to-accuracy", "pipeline", "conv-gradients", "fit-overhead",
    "data-parallel", "epochs-study", "gpu-bench", "augment-in-step",
)  # fmt: skip
#: A CPU result's name says its cores (``-2cpu-``); a GPU result's names its GPU instead.
_ON_CPU = re.compile(r"-\d+cpu(-|$)")


def _kind(path: Path) -> str:
    for kind in KINDS[1:]:
        if path.stem.endswith(f"-{kind}"):
            return kind
    return "throughput"


def latest(results: Path) -> dict[str, Path]:
    """The newest result file of each kind (by name: the names start with the date); a
    GPU's results under ``"<kind> gpu"``."""
    found: dict[str, Path] = {}
    for path in sorted(Path(results).glob("*.json")):
        where = "" if _ON_CPU.search(path.stem) else " gpu"
        found[_kind(path) + where] = path  # sorted, so the last one of a kind is the newest
    return found


def _rate(entry: dict) -> float:
    return entry["images_per_second"]["median"]


def _machine_line(report: dict) -> str:
    machine = report["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in machine.get("versions", {}).items())
    return f"{machine['cpu']}, {machine['cpus']} CPUs, Python {machine['python']}; {versions}"


def plot_throughput(report: dict, path=None):
    """Images/s of every contender, one panel per model, with the min-max range of the timed
    epochs. Returns the matplotlib Figure; writes a PNG when given ``path``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    runs = report["runs"]
    figure = Figure(figsize=(6.5, 1.2 + 2.1 * len(runs)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(runs), 1, squeeze=False)[:, 0]
    colours = {"kcnn": "tab:blue", "keras": "tab:gray", "torch": "tab:orange"}
    for ax, run in zip(axes, runs):
        labels = list(run["results"])
        rates = [_rate(run["results"][label]) for label in labels]
        low = [
            r - run["results"][label]["images_per_second"]["min"] for r, label in zip(rates, labels)
        ]
        high = [
            run["results"][label]["images_per_second"]["max"] - r for r, label in zip(rates, labels)
        ]
        colour = [
            colours.get(label.split(" ")[0].split("[")[0].split(".")[0], "tab:green")
            for label in labels
        ]
        ax.barh(labels, rates, xerr=[low, high], color=colour, capsize=2)
        ax.invert_yaxis()
        ax.set_title(
            f"{run['model']} {'x'.join(map(str, run['input_shape']))}, batch "
            f"{next(iter(run['results'].values()))['batch_size']}",
            fontsize=10,
        )
        ax.set_xlabel("training images/s (median, min-max)")
        ax.tick_params(labelsize=8)
    figure.suptitle(f"Training throughput, {report['machine']['cpu']}", fontsize=10)
    if path is not None:
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.png")
        figure.savefig(tmp, dpi=110)
        os.replace(tmp, path)
    return figure


def throughput_markdown(report: dict, image: str | None = None) -> str:
    from kcnn.bench import ratios

    lines = [f"Measured {report['date']} on {_machine_line(report)}.", ""]
    if image:
        lines += [f"![Training throughput]({image})", ""]
    for run in report["runs"]:
        lines.append(
            f"**{run['model']}** ({'x'.join(map(str, run['input_shape']))}, "
            f"{run['images']:,} {run['data']} images per epoch, median of {run['repeats']} "
            f"interleaved epochs after {run['warmup']} warm-up)"
        )
        lines.append("")
        lines.append(
            "| contender | batch | images/s | min-max | step ms | compile s | peak MB | "
            "flip_crop pipeline images/s |"
        )
        lines.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for label, r in run["results"].items():
            ips = r["images_per_second"]
            pipe = r.get("pipeline", {}).get("images_per_second", {}).get("median")
            spe = (
                f", {r['steps_per_execution']} steps/call"
                if r.get("steps_per_execution", 1) > 1
                else ""
            )
            lines.append(
                f"| {label} | {r['batch_size']}{spe} | {ips['median']:,.0f} | "
                f"{ips['min']:,.0f}-{ips['max']:,.0f} | {r['step_ms']['median']:.1f} | "
                f"{r['compile_seconds']:.1f} | {r['peak_memory_mb']:,.0f} | "
                f"{'' if pipe is None else f'{pipe:,.0f}'} |"
            )
        found = ratios(run)
        lines.append("")
        parts = [
            f"{key} **{value:.2f}x**" for key, value in found.items() if not isinstance(value, str)
        ]
        if parts:
            lines.append(
                "Ratios (the median over rounds of each round's ratio): " + "; ".join(parts) + "."
            )
        lines.append("")
    return "\n".join(lines)


def sweep_markdown(report: dict) -> str:
    lines = [
        f"Measured {report['date']} on {_machine_line(report)}. One setting changed at a time "
        'from batch 128, one step per call, `jit_compile="auto"`, the device data path; '
        "each row's images/s over the base row's, in the same interleaved run.",
        "",
        "| model | backend | setting | images/s | x base |",
        "|---|---|---|---:|---:|",
    ]
    for run in report["runs"]:
        base = None
        for label, r in run["results"].items():
            if label.startswith("kcnn[base]"):
                base = _rate(r)
        for label, r in run["results"].items():
            setting = label.split("[", 1)[1].split("]", 1)[0]
            ratio = f"{_rate(r) / base:.2f}" if base else ""
            lines.append(
                f"| {run['model']} | {r['backend']} | {setting} | {_rate(r):,.0f} | {ratio} |"
            )
    return "\n".join(lines)


def tta_markdown(report: dict, image: str | None = None) -> str:
    lines = [f"Measured {report['date']} on {_machine_line(report)}.", ""]
    settings = report.get("settings", {})
    if settings:
        lines.append(
            "Settings: " + ", ".join(f"{k}={v}" for k, v in settings.items() if k != "out") + "."
        )
        lines.append("")
    if image:
        lines += [f"![Test accuracy against training time]({image})", ""]
    lines += [
        "| trainer | time to target (s) | epochs | compile s | final test accuracy |",
        "|---|---:|---:|---:|---:|",
    ]
    changed = {}
    for name, r in report["results"].items():
        reached = r.get("time_to_target")
        epochs = r.get("epochs_to_target")
        lines.append(
            f"| {name} | {'not reached' if reached is None else f'{reached:.0f}'} | "
            f"{'' if epochs is None else f'{epochs:.1f}'} | "
            f"{r.get('compile_seconds', 0):.1f} | {r.get('final_test_accuracy', 0):.4f} |"
        )
        own = r.get("settings") or {}
        keys = ("batch_size", "lr", "optimizer", "schedule", "max_epochs", "label_smoothing")
        if own.get("recipe", "none") != "none" and any(own.get(k) != settings.get(k) for k in keys):
            changed[name] = ", ".join(f"{k}={own.get(k)}" for k in keys)
    if changed:
        lines.append("")
        lines += [f"- {name}: {text}." for name, text in changed.items()]
    return "\n".join(lines)


def conv_markdown(report: dict) -> str:
    shape = report["shape"]
    lines = [
        f"Measured {report['date']} on {_machine_line(report)}. One convolution of a training "
        f"step: batch {shape['batch']}, {shape['height']}x{shape['width']}x{shape['in']} in, "
        f"{shape['kernel']}x{shape['kernel']}, {shape['out']} out (SimpleCNN's second layer); "
        "median ms, and how many cores the operation kept busy.",
        "",
        "| framework | forward | input gradient | weight gradient | weight gradient / forward |",
        "|---|---:|---:|---:|---:|",
    ]
    for framework, r in report["results"].items():
        cells = " | ".join(
            f"{r[k]['ms']:.1f} ms ({r[k]['cores_busy']:.1f} cores)"
            for k in ("forward", "input_gradient", "weight_gradient")
        )
        lines.append(f"| {framework} | {cells} | {r['weight_gradient_over_forward']:.1f}x |")
    return "\n".join(lines)


def overhead_markdown(report: dict) -> str:
    lines = [
        f"Measured {report['date']} on {_machine_line(report)}. In one process per backend, "
        f"{report['images']:,} images per epoch, batch 128, the four combinations taking turns "
        f"for {report['repeats']} rounds; per-round ratios, median. Keras' fit runs as many "
        "steps per call as kcnn's, so the ratio is kcnn's training path alone.",
        "",
        "| model (backend) | kcnn.fit / Keras fit, kcnn's model | same, plain Keras model | "
        "kcnn's model / plain model, Keras fit |",
        "|---|---:|---:|---:|",
    ]
    for label, r in report["results"].items():
        lines.append(
            f"| {label} | {r['kcnn.fit / keras fit (kcnn model)']:.2f} | "
            f"{r['kcnn.fit / keras fit (plain model)']:.2f} | "
            f"{r['kcnn model / plain model (keras fit)']:.2f} |"
        )
    return "\n".join(lines)


def data_parallel_markdown(report: dict) -> str:
    """The table of ``data_parallel.py``: images/s on 1 and N devices, and their ratio."""
    devices = report["devices"]
    lines = [
        f"Measured {report['date']} on {_machine_line(report)}. kcnn on 1 and on {devices} "
        "devices with the same global batch, each in its own process, interleaved; the ratio "
        "is the median of per-round ratios. Without accelerators the devices are the CPU "
        "split in parts that share its cores.",
        "",
        f"| model | backend | 1 device, images/s | {devices} devices, images/s | {devices} / 1 |",
        "|---|---|---:|---:|---:|",
    ]
    for run in report["runs"]:
        for backend, ratio in run["scaling"].items():
            one = _rate(run["results"][f"kcnn x1 ({backend})"])
            many = _rate(run["results"][f"kcnn x{devices} ({backend})"])
            lines.append(
                f"| {run['model']} | {backend} | {one:,.0f} | {many:,.0f} | {ratio:.2f}x |"
            )
    return "\n".join(lines)


def augment_markdown(report: dict) -> str:
    """The table of ``augment_in_step.py``: images/s per way of augmenting."""
    import sys

    sys.path.insert(0, str(HERE))
    from augment_in_step import format_table

    return f"Measured {report['date']}; " + format_table(report)


def markdown(results: Path = RESULTS, image_prefix: str = "results/") -> str:
    """Every section whose results exist, newest files, with image links under
    ``image_prefix``."""
    files = latest(results)
    sections = []
    if "throughput" in files:
        report = json.loads(files["throughput"].read_text())
        image = files["throughput"].with_name(files["throughput"].stem + "-throughput.png")
        link = image_prefix + image.name if image.exists() else None
        sections += ["## Training throughput", "", throughput_markdown(report, link)]
    if "sweep" in files:
        report = json.loads(files["sweep"].read_text())
        sections += ["## Settings sweep", "", sweep_markdown(report), ""]
    for key, title in (("time-to-accuracy", "Time to accuracy"),
                       ("time-to-accuracy gpu", "Time to accuracy on a GPU")):  # fmt: skip
        if key in files:
            path = files[key]
            image = path.with_suffix(".png")
            link = image_prefix + image.name if image.exists() else None
            report = json.loads(path.read_text())
            sections += [f"## {title}", "", tta_markdown(report, link), ""]
    peaks = sorted(Path(results).glob("*-gpu-peak.md"))
    if peaks:
        sections += ["## GPU throughput and the fraction of peak", "",
                     peaks[-1].read_text().strip(), ""]  # fmt: skip
    for key, where in (("augment-in-step", "a CPU"), ("augment-in-step gpu", "a GPU")):
        if key in files:
            report = json.loads(files[key].read_text())
            sections += [f"## Augmentation per batch or in the train step, on {where}", "",
                         augment_markdown(report), ""]  # fmt: skip
    if "fit-overhead" in files:
        report = json.loads(files["fit-overhead"].read_text())
        sections += ["## What kcnn's fit adds, in one process", "", overhead_markdown(report), ""]
    if "conv-gradients" in files:
        report = json.loads(files["conv-gradients"].read_text())
        sections += ["## Where the JAX backend loses time on a CPU", "", conv_markdown(report), ""]
    if "data-parallel" in files:
        report = json.loads(files["data-parallel"].read_text())
        sections += ["## Several devices", "", data_parallel_markdown(report), ""]
    return "\n".join(sections)


def main(argv=None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(RESULTS))
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args(argv)
    results = Path(args.results)
    files = latest(results)
    if "throughput" in files:
        report = json.loads(files["throughput"].read_text())
        plot_throughput(
            report, files["throughput"].with_name(files["throughput"].stem + "-throughput.png")
        )
    if "time-to-accuracy" in files or "time-to-accuracy gpu" in files:
        import sys

        sys.path.insert(0, str(HERE))
        from time_to_accuracy import plot_curves

        for key in ("time-to-accuracy", "time-to-accuracy gpu"):
            if key in files:
                path = files[key]
                plot_curves(json.loads(path.read_text()), path.with_suffix(".png"))
    out = Path(args.out)
    prefix = os.path.relpath(results, out.parent) + "/"
    text = (
        "# Benchmark results\n\n"
        f"<!-- generated by benchmarks/report.py from {os.path.relpath(results, HERE)}/; "
        "do not edit -->\n\n"
        "Each table's ratios come from one run in which the contenders took turns (see "
        "`README.md` for the method). Absolute images/s vary with the machine and its load; "
        "the ratios are the result.\n\n"
    )
    out.write_text(text + markdown(results, prefix).rstrip() + "\n")
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
