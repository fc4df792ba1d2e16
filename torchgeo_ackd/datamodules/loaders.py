"""The loaders of the ACKD DataModules, shuffled by (seed, epoch) only."""

import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Dataset, Sampler


class EpochSeededSampler(Sampler[int]):
    """Random permutation per epoch, drawn from ``seed + epoch``.

    Lightning calls :meth:`set_epoch` before every training epoch, so a resumed
    run sees the same order as an uninterrupted one.
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


def drops_last_batch(
    num_samples: int, batch_size: int, world_size: int, owner: str
) -> bool:
    """Whether an epoch's last training batch would hold a single sample.

    A batch of one breaks BatchNorm in training, so it is dropped, with a
    warning; any other last batch is kept. Under DDP each rank loads
    ``ceil(num_samples / world_size)`` samples.

    Args:
        num_samples: Training samples.
        batch_size: Training batch size.
        world_size: Processes that share the samples.
        owner: Who asks (for the warning).

    Returns:
        True if the last batch is dropped.
    """
    per_rank = math.ceil(num_samples / world_size)
    if per_rank < 2 or per_rank % batch_size != 1:
        return False
    rank_zero_warn(
        f'{owner}: {num_samples} training samples in batches of '
        f'{batch_size} leave a last batch of one sample per epoch (per rank); '
        'it is skipped (BatchNorm needs two), a different sample each epoch. '
        'Choose another batch_size to train on every sample every epoch.'
    )
    return True


def seeded_loader(
    dataset: Dataset[Any],
    batch_size: int,
    shuffle: bool,
    seed: int,
    workers: int,
    collate_fn: Callable[[Any], Any],
    drop_last: bool = False,
) -> DataLoader[Any]:
    """A loader whose order and worker seeds depend only on *seed* (and the epoch).

    Args:
        dataset: The dataset.
        batch_size: Batch size.
        shuffle: Shuffle with an :class:`EpochSeededSampler`, else in order.
        seed: Seed of the order and of the workers.
        workers: Worker processes (persistent when any).
        collate_fn: Collate function.
        drop_last: Drop the last batch.

    Returns:
        The loader.
    """
    num_samples = len(dataset)  # type: ignore[arg-type]
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=EpochSeededSampler(num_samples, seed) if shuffle else None,
        # Worker seeds from a private generator leave the global RNG untouched,
        # so resumed runs draw the same augmentations as uninterrupted ones.
        generator=torch.Generator().manual_seed(seed),
        num_workers=workers,
        collate_fn=collate_fn,
        drop_last=drop_last,
        persistent_workers=workers > 0,
    )
