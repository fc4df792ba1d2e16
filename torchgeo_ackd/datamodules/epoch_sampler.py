"""A shuffling sampler whose order depends only on (seed, epoch)."""

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class EpochSeededSampler(Sampler[int]):
    """Random permutation per epoch, drawn from ``seed + epoch``.

    Lightning calls :meth:`set_epoch` before every training epoch, so the
    order of epoch *e* is the same in an uninterrupted run and in a run
    resumed from a checkpoint: resuming loses nothing and changes nothing.
    """

    def __init__(self, num_samples: int, seed: int = 0) -> None:
        """Initialize a new EpochSeededSampler instance.

        Args:
            num_samples: Dataset length.
            seed: Base seed.
        """
        self.num_samples = num_samples
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of an epoch.

        Args:
            epoch: Epoch index.
        """
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        """Yield the indices of the current epoch."""
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        yield from torch.randperm(self.num_samples, generator=g).tolist()

    def __len__(self) -> int:
        """Number of indices per epoch."""
        return self.num_samples
