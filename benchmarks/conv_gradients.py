"""Where a CPU training step goes: forward, input-gradient and weight-gradient convolution.

SimpleCNN trains about three times slower on the JAX backend than on TensorFlow on a CPU.
This script times the three convolutions that one training step runs for SimpleCNN's second
layer (batch 128, 14x14x32 in, 3x3, 64 out) in each framework's own compiled form:

- JAX: ``jax.jit`` of ``lax.conv_general_dilated`` and of its two gradients (XLA:CPU);
- TensorFlow: ``tf.function`` of ``tf.nn.conv2d`` and its gradients (oneDNN);
- PyTorch: ``torch.nn.functional.conv2d`` and its autograd gradients, NCHW (oneDNN).

Each framework runs in its own process; within a process the three timings alternate,
``--repeats`` times, and the medians are reported with the CPU time over wall time (how
many cores the operation kept busy). The ratios within a framework (weight gradient over
forward) are the result: they do not depend on the machine's speed.

    python benchmarks/conv_gradients.py

Writes ``results/<date>-<machine>-conv-gradients.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SHAPE = {"batch": 128, "height": 14, "width": 14, "in": 32, "out": 64, "kernel": 3}
FRAMEWORKS = ("jax", "tensorflow", "torch")


def _ops(framework: str):
    """Three zero-argument functions that each run one convolution to completion."""
    b, h, w, c, o, k = (SHAPE[key] for key in ("batch", "height", "width", "in", "out", "kernel"))
    if framework == "jax":
        import jax

        dims = ("NHWC", "HWIO", "NHWC")
        x = jax.random.normal(jax.random.key(0), (b, h, w, c))
        kernel = jax.random.normal(jax.random.key(1), (k, k, c, o))

        def conv(x, kernel):
            return jax.lax.conv_general_dilated(x, kernel, (1, 1), "SAME", dimension_numbers=dims)

        forward = jax.jit(conv)
        grad_x = jax.jit(jax.grad(lambda x, kernel: conv(x, kernel).sum()))
        grad_w = jax.jit(jax.grad(lambda kernel, x: conv(x, kernel).sum()))
        return {
            "forward": lambda: forward(x, kernel).block_until_ready(),
            "input_gradient": lambda: grad_x(x, kernel).block_until_ready(),
            "weight_gradient": lambda: grad_w(kernel, x).block_until_ready(),
        }
    if framework == "tensorflow":
        import tensorflow as tf

        x = tf.random.normal((b, h, w, c))
        kernel = tf.random.normal((k, k, c, o))

        @tf.function
        def forward():
            return tf.nn.conv2d(x, kernel, 1, "SAME")

        @tf.function
        def gradients(wrt: str):
            with tf.GradientTape() as tape:
                target = x if wrt == "x" else kernel
                tape.watch(target)
                y = tf.reduce_sum(tf.nn.conv2d(x, kernel, 1, "SAME"))
            return tape.gradient(y, target)

        return {
            "forward": lambda: forward().numpy(),
            "input_gradient": lambda: gradients("x").numpy(),
            "weight_gradient": lambda: gradients("w").numpy(),
        }
    import torch

    x = torch.randn(b, c, h, w)
    kernel = torch.randn(o, c, k, k)
    grad_out = torch.ones(b, o, h, w)

    def input_gradient():
        return torch.nn.grad.conv2d_input(x.shape, kernel, grad_out, padding=1)

    def weight_gradient():
        return torch.nn.grad.conv2d_weight(x, kernel.shape, grad_out, padding=1)

    return {
        "forward": lambda: torch.nn.functional.conv2d(x, kernel, padding=1),
        "input_gradient": input_gradient,
        "weight_gradient": weight_gradient,
    }


def measure(framework: str, repeats: int, calls: int = 10) -> dict:
    ops = _ops(framework)
    for op in ops.values():  # compile and warm up
        op()
        op()
    wall = {name: [] for name in ops}
    cores = {name: [] for name in ops}
    for _ in range(repeats):
        for name, op in ops.items():
            start, cpu = time.perf_counter(), time.process_time()
            for _ in range(calls):
                op()
            seconds = time.perf_counter() - start
            wall[name].append(1000 * seconds / calls)
            cores[name].append((time.process_time() - cpu) / seconds)
    result = {
        name: {"ms": statistics.median(wall[name]), "cores_busy": statistics.median(cores[name])}
        for name in ops
    }
    result["weight_gradient_over_forward"] = (
        result["weight_gradient"]["ms"] / result["forward"]["ms"]
    )
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child, args.repeats)))
        return {}
    results = {}
    for framework in args.frameworks.split(","):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        done = subprocess.run(
            [sys.executable, __file__, "--child", framework, "--repeats", str(args.repeats)],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        if done.returncode:
            raise SystemExit(f"{framework} failed:\n{done.stderr[-3000:]}")
        results[framework] = json.loads(done.stdout.strip().splitlines()[-1])
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from kcnn.bench import machine_info, result_path, write_report

    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine_info(),
        "shape": SHAPE,
        "results": results,
    }
    print(f"{'framework':12}{'forward':>16}{'input grad':>16}{'weight grad':>16}{'wgrad/fwd':>11}")
    for framework, r in results.items():
        cells = "".join(
            f"{r[k]['ms']:8.1f} ms {r[k]['cores_busy']:3.1f}c"
            for k in ("forward", "input_gradient", "weight_gradient")
        )
        print(f"{framework:12}{cells}{r['weight_gradient_over_forward']:10.1f}x")
    path = result_path(args.out, "conv-gradients", report["date"])
    write_report(report, path)
    print(f"wrote {path}")
    return report


if __name__ == "__main__":
    main()
