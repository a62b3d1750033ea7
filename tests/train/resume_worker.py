"""A training run for the kill-and-resume tests, run as ``python -m tests.train.resume_worker``.

Arguments: ``ROOT OUT [--resume RUN] [--hang-at-batch EPOCH:BATCH] [--hang-in-save EPOCH]
[--options JSON] [--stream FOLDER]`` (``--options``: more `TrainConfig` settings, e.g.
``{"ema": 0.9}``; ``--stream``: train on a folder of images streamed by grain workers).
Trains SimpleCNN on the digits with crop augmentation and dropout (every source of
randomness kcnn has to replay), then saves the final weights to ``OUT`` (``.npz``). A
``--hang-*`` option prints ``HANG <run folder>`` and sleeps at that point, for the test to
SIGKILL the process there; ``--hang-in-save`` first leaves half a checkpoint file behind.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import keras
import numpy as np

import kcnn
from kcnn.train import checkpoint as kc  # RunCheckpoint saves through kc.save_atomic

CONFIG = dict(
    epochs=3, batch_size=64, optimizer="sgd", learning_rate=0.05, schedule="cosine",
    augment="crop", seed=3, verbose=0,
)  # fmt: skip


def hang(run: Path):
    print(f"HANG {run}", flush=True)
    time.sleep(600)
    sys.exit(3)  # the test should have killed us


class HangAtBatch(keras.callbacks.Callback):
    def __init__(self, epoch: int, batch: int, root: Path):
        super().__init__()
        self.at, self.root, self.epoch = (epoch, batch), root, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            hang(sorted(self.root.iterdir())[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("out")
    parser.add_argument("--resume")
    parser.add_argument("--hang-at-batch")
    parser.add_argument("--hang-in-save", type=int)
    parser.add_argument("--options", type=json.loads, default={})
    parser.add_argument("--stream")
    args = parser.parse_args()
    if args.stream:
        data = kcnn.data.load_dataset(args.stream, seed=0, stream=True)
    else:
        data = kcnn.data.load_dataset("digits", seed=0)
    keras.utils.set_random_seed(CONFIG["seed"])
    model = kcnn.build_model("simple_cnn", input_shape=data.input_shape)
    callbacks = []
    if args.hang_at_batch:
        epoch, batch = (int(v) for v in args.hang_at_batch.split(":"))
        callbacks.append(HangAtBatch(epoch, batch, args.root))
    if args.hang_in_save is not None:
        real_save = kc.save_atomic

        def save_then_hang(model, path, metadata=None):
            if Path(path).name == f"epoch-{args.hang_in_save:04d}.keras":
                tmp = Path(path).with_name(f".{Path(path).stem}.tmp.keras")
                model.save(tmp)
                tmp.write_bytes(tmp.read_bytes()[: tmp.stat().st_size // 2])  # mid-write
                hang(Path(path).parents[1])
            real_save(model, path, metadata)

        kc.save_atomic = save_then_hang
    config = kcnn.train.TrainConfig(**{**CONFIG, **args.options})
    history, run = kcnn.train.fit(
        model, data, config, run_dir=args.root, callbacks=callbacks, resume=args.resume
    )
    np.savez(args.out, *[np.asarray(v) for v in model.variables])
    print(f"DONE {run} {history.epoch}", flush=True)


if __name__ == "__main__":
    main()
