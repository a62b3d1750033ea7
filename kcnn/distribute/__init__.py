"""Training on several devices and processes, on Keras' own distribution engines.

`setup` returns a `Strategy` for the backend Keras runs on:

| backend | one machine, several devices | several processes or machines |
|---|---|---|
| JAX | ``keras.distribution.DataParallel`` | the same, joined by ``jax.distributed`` |
| TensorFlow | ``MirroredStrategy`` | ``MultiWorkerMirroredStrategy`` (``TF_CONFIG``) |
| PyTorch | not in Keras 3.15: `setup` raises and names the backends that have it | |

One device needs nothing: `fit` then uses `SingleDevice`, whose every step is a no-op.
For several, build the model inside ``strategy.scope()`` and pass the strategy to `kcnn.train.fit`:

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

from kcnn.distribute.setup import (
    DEVICE_TYPES,
    ENV_ADDRESSES,
    ENV_NUM_PROCESSES,
    ENV_PROCESS_ID,
    from_settings,
    parse_devices,
    setup,
    supported,
)
from kcnn.distribute.strategy import (
    SingleDevice,
    Strategy,
    batchnorm_layers,
    prepare_model,
    synchronized_batchnorm,
    unsynchronized_for_saving,
)

__all__ = [
    "DEVICE_TYPES",
    "ENV_ADDRESSES",
    "ENV_NUM_PROCESSES",
    "ENV_PROCESS_ID",
    "SingleDevice",
    "Strategy",
    "batchnorm_layers",
    "from_settings",
    "parse_devices",
    "prepare_model",
    "setup",
    "supported",
    "synchronized_batchnorm",
    "unsynchronized_for_saving",
]
