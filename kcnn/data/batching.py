"""Which images make each batch: a pure function of (seed, epoch, batch index).

`BatchPlan` is the order of an input pipeline's epochs, without the images: the seeded
permutation of each epoch, the cut into batches, the last batch's size and each
process's share. It imports NumPy only, so the grain worker processes that decode streamed
images compute the same batches as the training process, from the plan alone.
"""

from __future__ import annotations

import numpy as np


class BatchPlan:
    """The images of batch ``index`` of ``epoch`` for ``count`` images.

    Args:
        count: images in the data set.
        batch_size: images per batch.
        shuffle: a new seeded permutation each epoch (else the stored order).
        seed: seed of the permutations.
        drop_remainder: leave out the last, smaller batch.
        shard: ``(index, count)``: this process's part of every batch.
        multiple_of: cut the last batch to a multiple of this (the replicas).
    """

    def __init__(self, count: int, batch_size: int, shuffle: bool, seed: int,
                 drop_remainder: bool = False, shard: tuple[int, int] = (0, 1),
                 multiple_of: int = 1):  # fmt: skip
        self.count, self.batch_size = int(count), int(batch_size)
        self.shuffle, self.seed = bool(shuffle), int(seed)
        self.drop_remainder = bool(drop_remainder)
        self.shard, self.multiple_of = tuple(shard), int(multiple_of)
        self._cached = (None, None)

    def _last_batch(self) -> int:
        """Images in the last, partial batch as served: cut to a multiple of
        ``multiple_of``, none with ``drop_remainder``."""
        rest = self.count % self.batch_size
        return 0 if self.drop_remainder else rest - rest % self.multiple_of

    def __len__(self) -> int:
        """Batches per epoch."""
        return self.count // self.batch_size + (1 if self._last_batch() else 0)

    @property
    def images_per_epoch(self) -> int:
        """Images in an epoch's batches, all processes together."""
        return self.count // self.batch_size * self.batch_size + self._last_batch()

    def order(self, epoch: int) -> np.ndarray:
        """The images of ``epoch`` in the order they are served."""
        if not self.shuffle:
            return np.arange(self.count)
        if self._cached[0] != epoch:
            order = np.random.default_rng([self.seed, epoch]).permutation(self.count)
            self._cached = (epoch, order)
        return self._cached[1]

    def indices(self, epoch: int, index: int) -> np.ndarray:
        """The indices of batch ``index`` of ``epoch``: this process's share, after the batch
        is cut to a multiple of ``multiple_of``."""
        chosen = self.order(epoch)[index * self.batch_size : (index + 1) * self.batch_size]
        chosen = chosen[: len(chosen) - len(chosen) % self.multiple_of]
        part, parts = self.shard
        size = len(chosen) // parts
        return chosen[part * size : (part + 1) * size]
