"""Every use of a Keras private name, in one place.

kcnn keeps to ``keras.*`` public APIs everywhere else. Where Keras has no public way yet,
the private name is used here, with the Keras versions it was checked against, so that a
Keras upgrade means reading one file. Nothing here runs on the ordinary one-device path
except `inbound_nodes` (graph walking for the inspection tools).
"""

from __future__ import annotations

import importlib.util

import keras

#: The Keras versions these private names were read from.
CHECKED_WITH = ("3.15",)


def keras_version() -> tuple[int, int]:
    """Keras' (major, minor) version."""
    major, minor = keras.version().split(".")[:2]
    return int(major), int(minor)


def inbound_nodes(layer) -> list:
    """The nodes where ``layer`` was called in functional graphs (``layer._inbound_nodes``;
    Keras has no public accessor)."""
    return list(getattr(layer, "_inbound_nodes", []))


def flatten_layers(model) -> list:
    """Every layer inside ``model``, nested models included, without ``model`` itself
    (``Layer._flatten_layers``)."""
    return list(model._flatten_layers(include_self=False, recursive=True))


def built_under_tf_strategy(model):
    """The ``tf.distribute`` strategy ``model``'s variables were made under, or None
    (``Model._distribute_strategy``, TensorFlow backend)."""
    return getattr(model, "_distribute_strategy", None)


def variable_device_mesh(variable):
    """The device mesh a JAX variable is laid out on, or None (``Variable._layout``)."""
    layout = getattr(variable, "_layout", None)
    return getattr(layout, "device_mesh", None) if layout is not None else None


def torch_distribution_available() -> bool:
    """Whether this Keras ships a ``keras.distribution`` library for PyTorch."""
    return importlib.util.find_spec("keras.src.backend.torch.distribution_lib") is not None


_PATCHED = []


def fix_multi_worker_log_reduction() -> None:
    """Make ``fit`` run under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585).

    Keras 3.15 averages a multi-worker run's logged metrics with
    ``strategy.reduce("MEAN", value, axis=0)``, which fails on the scalar each metric is.
    This averages them over the replicas instead (``axis=None``): every replica holds the
    same number of images, so that is the mean over the global batch. Applied once per
    process, only when a multi-worker strategy is set up.
    """
    from keras.src.backend.tensorflow import trainer

    if _PATCHED or not hasattr(trainer, "reduce_per_replica"):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            import tensorflow as tf

            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    trainer.reduce_per_replica = reduce_per_replica
    _PATCHED.append(original)


def build_before_fit(model, x, y) -> None:
    """Build a compiled model's optimizer and metrics from a local batch, and stop ``fit``
    from building them again (``Model._symbolic_build``, ``_maybe_symbolic_build``).

    Under ``MultiWorkerMirroredStrategy`` Keras 3.15's ``fit`` builds them from a batch it
    reduces across workers in a way that fails (keras-team/keras#20585). Call inside the
    strategy's scope.
    """
    model._symbolic_build(data_batch=(x, y, None))
    model._maybe_symbolic_build = _already_built


def _already_built(iterator=None, data_batch=None):
    return None


# --- kcnn.inspect._graph: the tensors of a layer's call in an outer functional graph ---------
#
# Used by the inspection tools (feature maps, Grad-CAM) to find a nested model's output in the
# model that calls it; `inbound_nodes` above gives the calls. Read from Keras 3.15 (see
# CHECKED_WITH), where ``Node.output_tensors`` is a tuple of the call's output tensors.


def call_output_tensors(layer) -> tuple:
    """The output tensors of ``layer``'s one call in a functional graph, or ``()`` when it
    was called never or several times (``layer._inbound_nodes[0].output_tensors``; Keras
    has no public accessor, and ``keras.src.ops.node.Node`` is not exported).

    A nested model's ``.output`` is the output of its *own* graph, which an outer model
    calling it never uses; this is the tensor of the outer graph.
    """
    nodes = inbound_nodes(layer)
    if len(nodes) != 1:
        return ()
    return tuple(getattr(nodes[0], "output_tensors", ()))
