"""A fix for the ONNX files jax2onnx writes, the route of Keras' ONNX export on JAX."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def fix_max_pools(path: Path) -> None:
    """Make jax2onnx's max pooling run in onnxruntime.

    jax2onnx (0.17) lowers ``lax.reduce_window_max`` by unsqueezing the operand to rank
    ``r + 2`` and pooling with an ``r``-dimensional kernel (``(1, 2, 2, 1)`` for Keras'
    NHWC max pooling), which onnxruntime refuses ("Unsupported pooling size": it pools over
    at most 3 axes). Each such MaxPool is rewritten with the same result: the two axes of
    window 1 are moved in front as batch and channel, and the pooling runs on the others.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(os.fspath(path))
    graph, nodes, changed = model.graph, [], False
    for node in graph.node:
        plan = _plan(node, helper) if node.op_type == "MaxPool" else None
        if plan is None:
            nodes.append(node)
            continue
        rank, units, pooled, attributes = plan
        perm = [0, 1] + [2 + a for a in units] + [2 + a for a in pooled]
        inverse = [int(a) for a in np.argsort(perm)]
        name = node.name or node.output[0]
        axes = f"{name}_kcnn_axes"
        graph.initializer.append(numpy_helper.from_array(np.array([0, 1], "int64"), axes))
        step = [f"{name}_kcnn_{i}" for i in range(4)]
        nodes += [
            # (1, 1, *operand) -> (1, 1, unit axes, pooled axes) -> (unit axes, pooled axes),
            # pooled, and back
            helper.make_node("Transpose", [node.input[0]], [step[0]], perm=perm),
            helper.make_node("Squeeze", [step[0], axes], [step[1]]),
            helper.make_node("MaxPool", [step[1]], [step[2]], **attributes),
            helper.make_node("Unsqueeze", [step[2], axes], [step[3]]),
            helper.make_node("Transpose", [step[3]], [node.output[0]], perm=inverse),
        ]
        changed = True
    if changed:
        del graph.node[:]
        graph.node.extend(nodes)
        onnx.save(model, os.fspath(path))


def _plan(node, helper):
    """(rank, unit axes, pooled axes, MaxPool attributes) for a MaxPool whose kernel has
    exactly two axes of window 1 and at most three others; else None."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    kernel = list(attrs.get("kernel_shape", ()))
    rank = len(kernel)
    if rank <= 3 or len(node.output) != 1:
        return None
    strides = list(attrs.get("strides", [1] * rank))
    dilations = list(attrs.get("dilations", [1] * rank))
    pads = list(attrs.get("pads", [0] * 2 * rank))
    units = [
        a
        for a in range(rank)
        if kernel[a] == strides[a] == dilations[a] == 1 and pads[a] == pads[a + rank] == 0
    ]
    if len(units) != 2 or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        return None
    pooled = [a for a in range(rank) if a not in units]
    attributes = {
        "kernel_shape": [kernel[a] for a in pooled],
        "strides": [strides[a] for a in pooled],
        "dilations": [dilations[a] for a in pooled],
        "pads": [pads[a] for a in pooled] + [pads[a + rank] for a in pooled],
        "ceil_mode": attrs.get("ceil_mode", 0),
    }
    return rank, units, pooled, attributes
