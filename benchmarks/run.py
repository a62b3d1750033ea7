"""Every benchmark of this machine from one command (``make bench``), then the report.

1. **throughput**: LeNet-5, SimpleCNN, ResNet-20 and ResNet-18 trained by kcnn on each
   backend (with the settings ``kcnn train`` picks), by plain Keras on each backend, and by
   the hand-written PyTorch loop (eager and ``torch.compile``), interleaved epoch by epoch
   (`kcnn.bench`). Also the ``flip_crop`` input pipeline against each kcnn contender.
2. **sweep**: kcnn's settings varied one at a time around batch 128, one step per call, the
   device data path: batch size, ``steps_per_execution``, ``jit_compile``, the data path
   and bfloat16 mixed precision, per backend, on SimpleCNN and ResNet-20. This is how the
   defaults were chosen.
3. **time to accuracy**: SimpleCNN to 91% test accuracy on Fashion-MNIST per backend and
   for the PyTorch loop (`time_to_accuracy.py`).
4. **data parallel**: SimpleCNN and ResNet-20 on 2 devices against 1, on the backends that
   have a data-parallel path (`data_parallel.py`).
5. **report**: ``RESULTS.md``, the plots, and the docs' Performance page (`report.py`).

    python benchmarks/run.py                      # all of it (about 40 minutes on 2 cores)
    python benchmarks/run.py --only throughput --models simple_cnn
    python benchmarks/run.py --quick              # tiny sizes: checks the harness end to end

Results go to ``benchmarks/results/<date>-<machine>[-<part>].json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BASELINES = HERE / "baselines"
PARTS = ("throughput", "sweep", "tta", "data-parallel", "report")


def sweep_contenders(backend: str, base: dict | None = None):
    """kcnn on ``backend`` with one setting changed at a time from ``base``."""
    from kcnn.bench import Contender

    base = base or {"batch_size": 128, "steps_per_execution": 1, "jit_compile": "auto"}
    variations = [("", {})]
    variations += [(f"bs={b}", {"batch_size": b}) for b in (64, 256, 512)]
    if backend != "torch":  # Keras' PyTorch trainer runs one step per call
        variations += [(f"spe={s}", {"steps_per_execution": s}) for s in (4, 16)]
    if backend == "tensorflow":  # XLA; JAX always compiles, PyTorch's is torch.compile
        variations += [("jit=True", {"jit_compile": True})]
    variations += [("data=tf.data", {"data_path": "tf.data"})]
    variations += [("mixed=bfloat16", {"options": {"mixed_precision": "mixed_bfloat16"}})]
    contenders = []
    for tag, change in variations:
        settings = {**base, **change}
        name = f"kcnn[{tag}]" if tag else "kcnn[base]"
        contenders.append(Contender(name, backend, "kcnn", **settings))
    return contenders


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS), help=f"some of {','.join(PARTS)}")
    parser.add_argument("--models", default="lenet5,simple_cnn,resnet20,resnet18")
    parser.add_argument("--sweep-models", default="simple_cnn,resnet20")
    parser.add_argument("--sweep-only", help="comma-separated settings, e.g. base,mixed=bfloat16")
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to test the harness")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    parts = args.only.split(",")
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"--only: unknown {sorted(unknown)}; expected some of {list(PARTS)}")
    backends = args.backends.split(",")
    out = Path(args.out)
    from kcnn import bench

    sizes = {"images": 64, "repeats": 1} if args.quick else {"repeats": args.repeats}

    written = {}
    if "throughput" in parts:
        from kcnn.train.fit import recommended_settings

        contenders = [  # kcnn as `kcnn train` runs it, at the baselines' batch size
            bench.Contender("kcnn", b, "kcnn", batch_size=128, **recommended_settings(b, "cpu"))
            for b in backends
        ]
        contenders += bench.baseline_contenders(
            BASELINES, backends, batch_size=128, torch_compile="torch" in backends
        )
        if "torch" not in backends:
            contenders = [c for c in contenders if c.backend in backends]
        report = bench.benchmark(args.models.split(","), contenders, **sizes)
        print(bench.format_report(report))
        written["throughput"] = bench.result_path(out)
        bench.write_report(report, written["throughput"])
    if "sweep" in parts:
        runs = []
        for model in args.sweep_models.split(","):
            for backend in backends:
                contenders = sweep_contenders(backend)
                if args.sweep_only:
                    keep = {f"kcnn[{tag}]" for tag in args.sweep_only.split(",")}
                    contenders = [c for c in contenders if c.name in keep]
                runs.append(bench.run_benchmark(model, contenders, **sizes))
        report = {"date": time.strftime("%Y-%m-%d"), "machine": bench.machine_info()}
        report["runs"] = runs
        print(bench.format_report(report))
        written["sweep"] = bench.result_path(out, "sweep")
        bench.write_report(report, written["sweep"])
    if "tta" in parts:
        sys.path.insert(0, str(HERE))
        import time_to_accuracy

        flags = ["--backends", ",".join(backends), "--out", str(out), "--torch-baseline"]
        if args.quick:
            flags += ["--train-images", "512", "--test-images", "256", "--max-epochs", "1"]
        time_to_accuracy.main(flags)
    if "data-parallel" in parts and set(backends) - {"torch"}:
        sys.path.insert(0, str(HERE))
        import data_parallel

        written["data-parallel"] = bench.result_path(out, "data-parallel")
        flags = ["--backends", ",".join(b for b in backends if b != "torch")]
        flags += ["--out", str(written["data-parallel"])]
        if args.quick:
            flags += ["--models", "lenet5", "--images", "64", "--repeats", "1"]
        else:
            flags += ["--repeats", str(max(args.repeats, 5))]
        data_parallel.main(flags)
    if "report" in parts:
        sys.path.insert(0, str(HERE))
        import report

        report.main(["--results", str(out)])
    for part, path in written.items():
        print(f"{part}: wrote {path}")
    return {part: str(path) for part, path in written.items()}


if __name__ == "__main__":
    main()
